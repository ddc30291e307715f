/**
 * Review of 2026-11-25 (the next-hop literal, multi-host deferral, long lines, MIME downgrade,
 * too-many-recipients, name-constraint and tlsa-tool changes): regression tests for the bugs found.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSmtpSession } from '../../src/smtp/session.js';
import { type RawConn, script } from '../support/raw-smtp-server.js';
import { sessionOptions, useRawServers } from '../support/session-harness.js';
import { testPki } from '../support/test-certs.js';

beforeAll(() => void testPki());

const serve = useRawServers();

const send = (to: string[]) => ({ kind: 'send', envelope: { from: 'sender@example.test', to, message: Buffer.from('Subject: t\r\n\r\nhello\r\n') } }) as const;

describe('multi-transaction session: an abort after a delivered transaction', () => {
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
