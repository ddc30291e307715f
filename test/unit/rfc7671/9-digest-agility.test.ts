/**
 * RFC 7671 §9: digest algorithm agility: only the strongest digest per usage and selector counts.
 * (tlsa --verify and --next under digest agility: tlsa-tool/verify-and-rollover.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { classifyTlsa } from '../../../src/core/rfc7672/tlsa.js';
import { d32, d64, rec } from '../../support/tlsa-data.js';

describe('digest agility (RFC 7671 §9)', () => {
  it('only the strongest digest per usage and selector counts', () => {
    const out = classifyTlsa([rec(3, 1, 1, d32), rec(3, 1, 2, d64), rec(3, 0, 1, d32), rec(2, 1, 1, d32)]);
    expect(out.map((r) => r.usability.usable)).toEqual([false, true, true, true]);
    expect(out[0]!.usability).toMatchObject({ reason: 'weaker-digest' });
  });
  it('a malformed stronger digest does not disable the weaker one', () => {
    const out = classifyTlsa([rec(3, 1, 1, d32), rec(3, 1, 2, d32)]);
    expect(out.map((r) => r.usability.usable)).toEqual([true, false]);
  });
  it('full-data records always count', () => {
    const out = classifyTlsa([rec(3, 1, 0, Buffer.alloc(91, 3)), rec(3, 1, 2, d64)]);
    expect(out.map((r) => r.usability.usable)).toEqual([true, true]);
  });
});
