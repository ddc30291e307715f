/**
 * RFC 2920 PIPELINING: the message waits for the 354, replies of a pipelined group are read in order.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { script, sleep } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail, commands } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 2920 PIPELINING', () => {
  it('the message data waits for the 354 even though MAIL/RCPT/DATA were sent in one group', async () => {
    let earlyData = -1;
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^DATA$/]])(c);
      await sleep(150);
      earlyData = c.queuedLines;
      await c.write('250 ok\r\n250 ok\r\n354 go\r\n');
      expect(await c.readData()).toEqual(['Subject: t', '', 'hello']);
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('ok');
    expect(earlyData).toBe(0);
  });

  it('MAIL refused with RCPTs and DATA pipelined: the RCPT 250s do not count, a 354 gets only "."', async () => {
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^DATA$/, '550 5.7.1 sender refused\r\n250 ok\r\n354 go']])(c);
      expect(await c.readData()).toEqual([]);
      await script(['554 5.5.1 no valid transaction', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: secret\r\n\r\nbody\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_5XX' } });
    expect(result.recipients).toEqual([{ address: 'a@example.test', status: 'bounced', reply: '550 5.7.1 sender refused', replyCode: 550 }]);
    expect(server.connections[0]!.plainLines.join('\n')).not.toMatch(/secret|body/);
  });

  it('all RCPTs refused and DATA properly refused → no "." and no message; QUIT ends the session', async () => {
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^RCPT/], [/^DATA$/, '250 ok\r\n550 5.1.1 unknown\r\n450 4.2.1 busy\r\n554 5.5.1 no valid recipients'], [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test'], 'Subject: secret\r\n\r\nbody\r\n'));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'deferred']);
    expect(commands(server.connections[0]!)).toEqual(['EHLO client.example.test', 'MAIL FROM:<sender@example.test>', 'RCPT TO:<a@example.test>', 'RCPT TO:<b@example.test>', 'DATA', 'QUIT']);
    expect(server.connections[0]!.plainLines).not.toContain('.');
  });

  it('the null reverse path with SIZE in a pipelined group: MAIL FROM:<> SIZE=n', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING', 'SIZE 1000'])(c);
      mail = await c.expect(/^MAIL/);
      await script([[/^RCPT/], [/^DATA$/, '250 ok\r\n250 ok\r\n354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: bounce\r\n\r\nx\r\n', ''));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe(`MAIL FROM:<> SIZE=${'Subject: bounce\r\n\r\nx\r\n'.length}`);
  });
});
