/**
 * RFC 5321 §3.8, §4.2.2: a 421 at any stage of the transaction defers everything and closes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { script } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail, expectNoMoreCommands, commands } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 5321 §3.8, §4.2.2: 421 at any stage of the transaction defers everything and closes', () => {
  it('421 to MAIL → every recipient deferred with the 421, nothing more is sent', async () => {
    const server = await serve(async (c) => {
      await upToMail(['SIZE 1000000'])(c);
      await script([[/^MAIL/, '421 4.3.2 shutting down']])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_4XX', reply: { code: 421 } } });
    expect(result.recipients).toEqual([
      { address: 'a@example.test', status: 'deferred', reply: '421 4.3.2 shutting down', replyCode: 421 },
      { address: 'b@example.test', status: 'deferred', reply: '421 4.3.2 shutting down', replyCode: 421 },
    ]);
  });

  it('421 to a RCPT (the server keeps the line open) → no further RCPT, no DATA; accepted and untried recipients deferred, refused ones keep their bounce', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([
        [/^MAIL/, '250 ok'],
        [/^RCPT TO:<a@/, '250 ok'],
        [/^RCPT TO:<b@/, '550 5.1.1 unknown'],
        [/^RCPT TO:<c@/, '421 4.4.5 too busy, closing'],
      ])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_4XX' } });
    expect(result.recipients).toEqual([
      { address: 'a@example.test', status: 'deferred', reply: '421 4.4.5 too busy, closing', replyCode: 421 },
      { address: 'b@example.test', status: 'bounced', reply: '550 5.1.1 unknown', replyCode: 550 },
      { address: 'c@example.test', status: 'deferred', reply: '421 4.4.5 too busy, closing', replyCode: 421 },
      { address: 'd@example.test', status: 'deferred', reply: '421 4.4.5 too busy, closing', replyCode: 421 },
    ]);
    expect(commands(server.connections[0]!).slice(-1)).toEqual(['RCPT TO:<c@example.test>']);
  });

  it('PIPELINING: 421 in the middle of the replies, then close → all deferred with the 421 text', async () => {
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^RCPT/], [/^DATA$/, '250 ok\r\n421 4.3.2 closing now']])(c);
      c.end();
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['deferred', '421 4.3.2 closing now'],
      ['deferred', '421 4.3.2 closing now'],
    ]);
  });

  it('421 to DATA → deferred, the message is not sent, nothing more is sent', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '421 4.3.2 bye']])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: secret\r\n\r\nx\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', recipients: [{ status: 'deferred', reply: '421 4.3.2 bye' }] });
    expect(server.connections[0]!.plainLines.join('\n')).not.toMatch(/secret/);
  });

  it('421 after the final dot → deferred (never delivered), no QUIT', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await c.write('421 4.3.0 queue write failed\r\n');
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', recipients: [{ status: 'deferred', reply: '421 4.3.0 queue write failed' }] });
  });
});
