/**
 * RFC 5321 §6.1 across several transactions on one connection: a recipient the server took the data
 * for is delivered, and stays delivered whatever happens afterwards; every recipient has one status,
 * never two copies (a property over generated servers).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSmtpSession } from '../../../src/smtp/session.js';
import { type RawConn, script } from '../../support/raw-smtp-server.js';
import { sessionOptions, useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { send, params, scenarioArb, addresses, STEP_MS, checkSession, runAgainst } from '../../support/recipient-ledger-server.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 5321 §6.1 multi-transaction session: an abort after a delivered transaction', () => {
  it('keeps the recipients already delivered (a "host-failed" outcome would drop them and the caller would send them again)', async () => {
    const ac = new AbortController();
    const server = await serve(async (c: RawConn) => {
      await script(['220 mx.example.test ESMTP', [/^EHLO/, '250 mx.example.test'], [/^MAIL/, '250 ok'], [/^RCPT TO:<a@/, '250 ok'], [/^RCPT TO:<b@/, '452 4.5.3 Too many recipients'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await c.write('250 2.0.0 queued as T1\r\n');
      await c.expect(/^MAIL/);
      ac.abort(); // the caller gives up while the second transaction waits for its MAIL reply
      await c.closed.then(
        () => undefined,
        () => undefined,
      );
    });
    const result = await runSmtpSession(sessionOptions(server, { signal: ac.signal, timeoutMs: 10_000 }), send(['a@example.test', 'b@example.test']));
    await server.allClosed();
    expect(result.outcome).not.toBe('host-failed');
    expect(result.error?.code).toBe('ABORTED');
    expect(result.recipients?.map((r) => [r.address, r.status])).toEqual([
      ['a@example.test', 'delivered'],
      ['b@example.test', 'deferred'],
    ]);
  });
});

describe('RFC 5321 §6.1 property: recipient bookkeeping across transactions on one connection (runSmtpSession)', () => {
  it('every recipient one status; delivered iff the server took the data with a 2xx; never twice; no deferral for the next host after data the server may have kept', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.integer({ min: 1, max: 6 }), async (sc, n) => {
        const to = addresses(n);
        const { txs, result, ms, server } = await runAgainst(sc, to);
        expect(server.errors).toEqual([]);
        // (5) resolves (never rejects) within a bound: one final-reply timeout at most, no step timeout
        expect(ms).toBeLessThan(STEP_MS);
        checkSession(sc, to, txs, result);
      }),
      params(0x7672, 150),
    );
  });
});
