/**
 * RFC 6152 8BITMIME and RFC 6531 SMTPUTF8 on the wire. (MIME downgrading: 6152-mime-downgrade.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { script } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail, commands } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 6152 8BITMIME and RFC 6531 SMTPUTF8', () => {
  it('an 8-bit body to a server without 8BITMIME is sent as is, without BODY= (like Postfix without MIME downgrading), bytes unchanged', async () => {
    let mail = '';
    let raw = Buffer.alloc(0);
    const server = await serve(async (c) => {
      await upToMail(['SIZE 1000000'])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/]])(c);
      c.socket.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
      await c.write('354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.from([0xe9, 0xff, 0x80]), Buffer.from('\r\n')]);
    const result = await run(server, {}, send(['a@example.test'], message));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${message.length}`);
    expect(raw.subarray(0, message.length).equals(message)).toBe(true);
  });

  it('a non-ASCII sender to a server without SMTPUTF8 → bounced 553 5.6.7 before MAIL', async () => {
    const server = await serve(async (c) => {
      await upToMail(['8BITMIME'])(c);
      await script([[/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test'], 'Subject: x\r\n\r\nhi\r\n', 'sénder@example.test'));
    expect(server.errors).toEqual([]);
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'bounced']);
    expect(result.recipients?.[0]?.reply).toMatch(/^553 5\.6\.7 /);
    expect(commands(server.connections[0]!)).toEqual(['EHLO client.example.test', 'QUIT']);
  });
});
