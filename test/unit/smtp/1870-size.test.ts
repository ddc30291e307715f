/**
 * RFC 1870 SIZE: the declared size, the limit, 552 to MAIL SIZE=n.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type RawConn, script } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail, commands } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 1870 SIZE', () => {
  it('the declared size is the CRLF-normalised size without dot-stuffing, also for bare LF, a leading dot and no final line end', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await upToMail(['SIZE 1000000'])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = 'Subject: x\n\n.dot\r.\nend';
    await run(server, {}, send(['a@example.test'], message));
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${'Subject: x\r\n\r\n.dot\r\n.\r\nend\r\n'.length}`);
  });

  it('a message exactly at the SIZE limit is sent; one octet more is bounced (5.3.4) before MAIL', async () => {
    const message = 'Subject: x\r\n\r\n12345\r\n';
    const handler = async (c: RawConn) => {
      await upToMail([`SIZE ${message.length}`])(c);
      const line = await c.readLine();
      if (line.startsWith('QUIT')) return void (await c.write('221 bye\r\n'));
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    };
    const at = await run(await serve(handler), {}, send(['a@example.test'], message));
    expect(at.outcome).toBe('ok');
    const over = await serve(handler);
    const result = await run(over, {}, send(['a@example.test'], message.replace('12345', '123456')));
    expect(result).toMatchObject({ outcome: 'rejected', recipients: [{ status: 'bounced', reply: expect.stringMatching(/^552 5\.3\.4 /) }] });
    expect(commands(over.connections[0]!)).toEqual(['EHLO client.example.test', 'QUIT']);
  });

  it('552 5.3.4 to MAIL SIZE=n → every recipient bounced, no RCPT, no data', async () => {
    const server = await serve(async (c) => {
      await upToMail(['SIZE'])(c); // no fixed limit announced
      await script([[/^MAIL FROM:<sender@example\.test> SIZE=\d+$/, '552 5.3.4 message size exceeds fixed limit'], [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'bounced']);
  });
});
