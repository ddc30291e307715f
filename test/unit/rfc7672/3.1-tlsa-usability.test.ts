import { describe, expect, it } from 'vitest';
import { classifyTlsa, recordUsability } from '../../../src/core/rfc7672/tlsa.js';
import { d32, d64, rec } from '../../support/tlsa-data.js';


describe('TLSA usability (RFC 7672 §3.1, RFC 6698 §2.1)', () => {
  const cases: [string, ReturnType<typeof rec>, string | true][] = [
    ['DANE-EE SPKI SHA-256', rec(3, 1, 1, d32), true],
    ['DANE-EE cert SHA-512', rec(3, 0, 2, d64), true],
    ['DANE-EE full SPKI', rec(3, 1, 0, Buffer.alloc(91, 3)), true],
    ['DANE-TA cert SHA-256', rec(2, 0, 1, d32), true],
    ['PKIX-TA is not for SMTP', rec(0, 0, 1, d32), 'pkix-usage'],
    ['PKIX-EE is not for SMTP', rec(1, 1, 1, d32), 'pkix-usage'],
    ['unknown usage 4 is kept and unusable', rec(4, 1, 1, d32), 'unknown-usage'],
    ['unknown usage 255', rec(255, 1, 1, d32), 'unknown-usage'],
    ['unknown selector 2', rec(3, 2, 1, d32), 'unknown-selector'],
    ['unknown matching type 3', rec(3, 1, 3, d32), 'unknown-matching-type'],
    ['SHA-256 digest of 31 bytes', rec(3, 1, 1, Buffer.alloc(31)), 'bad-digest-length'],
    ['SHA-256 matching type with a SHA-512 length', rec(3, 1, 1, d64), 'bad-digest-length'],
    ['SHA-512 digest of 32 bytes', rec(3, 1, 2, d32), 'bad-digest-length'],
    ['empty data', rec(3, 1, 0, Buffer.alloc(0)), 'empty-data'],
  ];
  for (const [name, r, want] of cases) {
    it(name, () => {
      const u = recordUsability(r);
      if (want === true) expect(u.usable).toBe(true);
      else expect(u).toMatchObject({ usable: false, reason: want });
    });
  }
  it('keeps unknown numbers as numbers', () => {
    const [c] = classifyTlsa([rec(4, 7, 9, d32)]);
    expect(c).toMatchObject({ usage: 4, selector: 7, matchingType: 9 });
  });
});
