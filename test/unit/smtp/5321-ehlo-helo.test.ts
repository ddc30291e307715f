/**
 * RFC 5321 §3.2, §4.1.4: EHLO, and the HELO fallback to a plain RFC 821 transaction.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { script, sleep } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, GREETING, expectNoMoreCommands } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 5321 §3.2, §4.1.4: EHLO and the HELO fallback', () => {
  it.each(['500 5.5.1 command unrecognized', '502 5.5.2 not implemented'])('EHLO %s → HELO, then a plain RFC 821 transaction (no ESMTP parameters, one command at a time)', async (reply) => {
    let waited = false;
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await script([[/^EHLO client\.example\.test$/, reply], [/^HELO client\.example\.test$/, '250 mx.example.test']])(c);
      await c.expect(/^MAIL FROM:<sender@example\.test>$/); // no SIZE=, no BODY=
      await sleep(100);
      waited = c.queuedLines === 0; // not pipelined
      await script(['250 ok', [/^RCPT TO:<a@example\.test>$/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: x\r\n\r\ncafé\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', extensions: {}, recipients: [{ status: 'delivered' }] });
    expect(waited).toBe(true);
  });

  it.each([
    ['421 4.3.2 shutting down', 'SMTP_4XX'],
    ['554 5.7.1 no SMTP service for you', 'SMTP_5XX'],
  ])('EHLO %s → no HELO: the host fails (RFC 5321 §3.8, §4.3.2)', async (reply, code) => {
    const server = await serve(async (c) => {
      await script([GREETING, [/^EHLO /, reply]])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code, reply: { code: Number(reply.slice(0, 3)) } } });
    expect(result.recipients).toBeUndefined();
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test']);
  });
});
