/**
 * RFC 3207 STARTTLS (with RFC 7672 §2.2): the extensions are re-read inside TLS, a refused STARTTLS
 * sends no mail in plaintext, an odd reply to STARTTLS with TLS required fails the host.
 * (The session-level STARTTLS cases: 5321-session.test.ts.)
 */
import { beforeAll, describe, expect, it, afterEach } from 'vitest';
import { script, type RawServer, startRawServer } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, GREETING, ehloReply, expectNoMoreCommands, tlsOptions } from '../../support/smtp-scripts.js';
import { runSmtpSession } from '../../../src/smtp/session.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 3207 STARTTLS', () => {
  it('the extensions are re-read inside TLS: the pre-TLS SIZE limit and the absence of PIPELINING no longer apply', async () => {
    let group = 0;
    let mail = '';
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250-SIZE 10\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      await c.startTls(tlsOptions());
      await c.expect(/^EHLO /);
      await c.write(`${ehloReply(['PIPELINING', 'SIZE 1000000'])}\r\n`);
      // the whole group arrives before any reply: PIPELINING, learnt inside TLS, is used
      mail = await c.expect(/^MAIL/, 1000);
      await c.expect(/^RCPT/, 1000);
      await c.expect(/^DATA$/, 1000);
      group = 3;
      await c.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = `Subject: x\r\n\r\n${'y'.repeat(100)}\r\n`;
    const result = await run(server, { tls: 'may' }, send(['a@example.test'], message));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', tls: true, extensions: { PIPELINING: '', SIZE: '1000000' } });
    expect(group).toBe(3);
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${message.length}`);
  });

  it.each(['may', 'required'] as const)('454 to STARTTLS (tls %s) → host-failed STARTTLS_REFUSED; this session sends no mail in plaintext', async (tls) => {
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await script([[/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, '454 4.7.0 TLS not available due to temporary reason']])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, { tls }, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'STARTTLS_REFUSED', reply: { code: 454 } } });
    expect(result.recipients).toBeUndefined();
  });
});

describe('DANE requires STARTTLS: no plaintext after an odd STARTTLS reply (RFC 7672 §2.2, RFC 3207 §4)', () => {
  const servers: RawServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  it.each(['250 2.0.0 ok, go on', '221 2.0.0 bye', '354 what'])('STARTTLS answered "%s" with TLS required → host-failed, nothing more sent in plaintext', async (answer) => {
    const server = await startRawServer(async (c) => {
      await script(['220 mx.example.test ESMTP', [/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, answer]])(c);
      // a plaintext transaction would go on here
      await Promise.resolve(script([[/^(MAIL|EHLO|QUIT)/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA/, '354 go']])(c)).catch(() => undefined);
      await c.closed;
    });
    servers.push(server);
    const result = await runSmtpSession(
      { address: '127.0.0.1', port: server.port, helo: 'client.example.test', timeoutMs: 2000, tls: 'required', servername: 'mx.example.test' },
      { kind: 'send', envelope: { from: 'sender@example.test', to: ['a@example.test'], message: Buffer.from('Subject: t\r\n\r\nhello\r\n') } },
    );
    await server.allClosed();
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'PROTOCOL' } });
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test', 'STARTTLS']);
  });
});
