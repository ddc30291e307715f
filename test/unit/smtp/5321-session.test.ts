import { beforeAll, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { runSmtpSession } from '../../../src/smtp/session.js';
import type { ServedTls, SmtpEvent, SmtpSessionOptions, SmtpSessionResult } from '../../../src/smtp/types.js';
import { type Handler, type RawConn, type RawServer, type ServerTlsOptions, script, sleep } from '../../support/raw-smtp-server.js';
import { sessionOptions, useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';

// openssl runs synchronously: never while a session is running in this process (it would
// freeze the event loop and fire the session's deadlines).
beforeAll(() => void testPki());

const serve = useRawServers();
const opts = sessionOptions;

/** Run a session and check the server sees the client's socket closed (no leaked sockets). */
async function run(
  server: RawServer,
  extra: Partial<SmtpSessionOptions>,
  job: Parameters<typeof runSmtpSession>[1],
): Promise<{ result: SmtpSessionResult; events: SmtpEvent[] }> {
  const events: SmtpEvent[] = [];
  const result = await runSmtpSession(opts(server, { onEvent: (e) => events.push(e), ...extra }), job);
  await server.allClosed();
  return { result, events };
}

const send = (to: string[], message = 'Subject: t\r\n\r\nhello\r\n', from = 'sender@example.test') =>
  ({ kind: 'send', envelope: { from, to, message: Buffer.from(message) } }) as const;
const probe = { kind: 'probe' } as const;

const GREETING = '220 mx.example.test ESMTP';
const EHLO_BASIC = '250-mx.example.test\r\n250-SIZE 1000000\r\n250 8BITMIME';

function tlsOptions(which: 'leaf' | 'self' = 'leaf'): ServerTlsOptions {
  const pki = testPki();
  return which === 'leaf'
    ? { cert: pki.leaf.pem + pki.intermediate.pem, key: pki.leaf.key }
    : { cert: pki.self.pem, key: pki.self.key };
}

/** Greeting, EHLO offering STARTTLS, STARTTLS 220, handshake, EHLO inside TLS. */
async function upToTls(c: RawConn, ehloInTls = '250-mx.example.test\r\n250-X-INSIDE-TLS\r\n250 8BITMIME\r\n', tlsOpts = tlsOptions()) {
  await c.write(`${GREETING}\r\n`);
  await c.expect(/^EHLO client\.example\.test$/);
  await c.write('250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
  await c.expect(/^STARTTLS$/);
  await c.write('220 2.0.0 go ahead\r\n');
  await c.startTls(tlsOpts);
  await c.expect(/^EHLO client\.example\.test$/);
  await c.write(ehloInTls);
}

/** Plain session up to the transaction: greeting and EHLO with the given extensions. */
function plainUpToMail(extensions: string[]): Step0 {
  const lines = ['mx.example.test', ...extensions];
  const ehlo = lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
  return async (c) => {
    await c.write(`${GREETING}\r\n`);
    await c.expect(/^EHLO /);
    await c.write(`${ehlo}\r\n`);
  };
}
type Step0 = (c: RawConn) => Promise<void>;

describe('runSmtpSession: greeting, EHLO, replies', () => {
  it('probes: multi-line greeting and EHLO (250- continuations), QUIT, events', async () => {
    const server = await serve(
      script([
        '220-mx.example.test ESMTP\r\n220-second line\r\n220 last',
        [/^EHLO client\.example\.test$/, '250-mx.example.test greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8'],
        [/^QUIT$/, '221 2.0.0 bye'],
      ]),
    );
    const { result, events } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'ok', tls: false });
    expect(result.extensions).toEqual({ PIPELINING: '', SIZE: '35882577', '8BITMIME': '', ENHANCEDSTATUSCODES: '', SMTPUTF8: '' });
    expect(result.error).toBeUndefined();
    expect(events[0]).toEqual({ type: 'connect', address: '127.0.0.1', port: server.port });
    expect(events[1]).toEqual({ type: 'reply', reply: { code: 220, lines: ['mx.example.test ESMTP', 'second line', 'last'] } });
    expect(events.filter((e) => e.type === 'send')).toEqual([
      { type: 'send', line: 'EHLO client.example.test' },
      { type: 'send', line: 'QUIT' },
    ]);
    expect(events.at(-1)).toEqual({ type: 'close' });
    expect(events.filter((e) => e.type === 'close')).toHaveLength(1);
    expect(server.errors).toEqual([]);
  });

  it('accepts bare LF line ends from the server', async () => {
    const server = await serve(script(['220 hi\n', [/^EHLO/, '250-mx\n250 PIPELINING\n'], [/^QUIT/, '221 bye\n']]));
    const { result } = await run(server, {}, probe);
    expect(result.outcome).toBe('ok');
    expect(result.extensions).toEqual({ PIPELINING: '' });
  });

  it('falls back to HELO when EHLO gets a 5xx (no extensions)', async () => {
    const server = await serve(script([GREETING, [/^EHLO /, '502 5.5.2 what?'], [/^HELO client\.example\.test$/, '250 mx'], [/^QUIT/, '221 bye']]));
    const { result } = await run(server, {}, probe);
    expect(result.outcome).toBe('ok');
    expect(result.extensions).toEqual({});
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test', 'HELO client.example.test', 'QUIT']);
  });

  it('HELO fallback with tls required: host-failed NO_STARTTLS, no MAIL', async () => {
    const server = await serve(script([GREETING, [/^EHLO /, '500 no'], [/^HELO /, '250 mx']]));
    const { result } = await run(server, { tls: 'required' }, send(['a@example.test']));
    expect(result.outcome).toBe('host-failed');
    expect(result.error?.code).toBe('NO_STARTTLS');
    expect(server.connections[0]!.plainLines.some((l) => /^MAIL/i.test(l))).toBe(false);
  });

  it('EHLO 4xx is a host failure (no HELO)', async () => {
    const server = await serve(script([GREETING, [/^EHLO /, '421 4.3.2 busy']]));
    const { result } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'SMTP_4XX', reply: { code: 421 } } });
  });

  it.each([
    ['421 4.3.2 try later', 'SMTP_4XX'],
    ['554 5.3.2 no service', 'SMTP_5XX'],
    ['250 not a greeting', 'PROTOCOL'],
  ])('greeting %s → host-failed %s with the reply', async (greeting, code) => {
    const server = await serve(script([greeting, async (c) => void (await c.closed)]));
    const { result } = await run(server, {}, send(['a@example.test']));
    expect(result.outcome).toBe('host-failed');
    expect(result.error?.code).toBe(code);
    expect(result.error?.reply?.code).toBe(Number(greeting.slice(0, 3)));
    expect(result.recipients).toBeUndefined();
    expect(server.connections[0]!.plainLines).toEqual([]);
  });

  it.each([
    ['non-numeric code', 'HTTP/1.1 400 Bad Request\r\n', 'PROTOCOL'],
    ['bad separator', '220+hi\r\n', 'PROTOCOL'],
    ['inconsistent codes across lines', '250-hi\r\n220 there\r\n', 'PROTOCOL'],
    ['NUL bytes and binary', Buffer.from([0, 1, 2, 0xff, 13, 10]), 'PROTOCOL'],
  ])('garbage (%s) → host-failed %s', async (_name, data, code) => {
    const server = await serve(async (c) => {
      await c.write(data);
      await c.closed;
    });
    const { result } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code } });
  });

  it('an endless multi-line reply ends as REPLY_TOO_LONG after 100 lines', async () => {
    const server = await serve(async (c) => {
      await c.write('220-hello\r\n');
      // endless: only the client going away stops it (the cap is a safety net for the test)
      for (let i = 0; !c.isClosed && i < 10_000_000; i++) await c.write('220-more and more\r\n');
    });
    const { result } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'REPLY_TOO_LONG' } });
    expect(result.error?.message).toMatch(/100 lines/);
  });

  it('a multi-line reply over 64 KiB ends as REPLY_TOO_LONG', async () => {
    const server = await serve(async (c) => {
      for (let i = 0; i < 40 && !c.isClosed; i++) await c.write(`220-${'x'.repeat(4000)}\r\n`);
      await c.closed;
    });
    const { result } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'REPLY_TOO_LONG' } });
    expect(result.error?.message).toMatch(/65536 bytes/);
  });

  it('a single multi-megabyte line ends as REPLY_TOO_LONG', async () => {
    const server = await serve(async (c) => {
      await c.write(`220 ${'a'.repeat(4 * 1024 * 1024)}`);
      await c.closed;
    });
    const { result } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'REPLY_TOO_LONG' } });
  });

  it('a line of exactly 4096 bytes with CRLF is accepted, 4097 is not', async () => {
    const ok = await serve(script([`220 ${'a'.repeat(4096 - 6)}`, [/^EHLO/, '250 mx'], [/^QUIT/, '221 bye']]));
    expect((await run(ok, {}, probe)).result.outcome).toBe('ok');
    const tooLong = await serve(script([`220 ${'a'.repeat(4097 - 6)}`, async (c) => void (await c.closed)]));
    expect((await run(tooLong, {}, probe)).result.error?.code).toBe('REPLY_TOO_LONG');
  });

  it('a server trickling one byte every 50 ms cannot extend the 500 ms reply deadline', async () => {
    const server = await serve(async (c) => {
      await c.trickle(`220 ${'slow '.repeat(200)}\r\n`, 50);
    });
    const started = Date.now();
    const { result } = await run(server, { timeoutMs: 500 }, probe);
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'TIMEOUT' } });
    expect(result.error?.message).toMatch(/greeting/);
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(2000);
  });

  it('a line without terminator (under the bound) and then silence → TIMEOUT, no hang', async () => {
    const server = await serve(async (c) => {
      await c.write('220 waiting forever');
      await c.closed;
    });
    const started = Date.now();
    const { result } = await run(server, { timeoutMs: 300 }, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'TIMEOUT' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a reset in the middle of a reply → host-failed CLOSED', async () => {
    const server = await serve(async (c) => {
      await c.write('220-partial\r\n220-more');
      await sleep(50);
      c.reset();
    });
    const { result } = await run(server, {}, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'CLOSED' } });
  });

  it('connection refused → host-failed CONNECT', async () => {
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const port = (tmp.address() as net.AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const result = await runSmtpSession(
      { address: '127.0.0.1', port, helo: 'c.example.test', timeoutMs: 2000, tls: 'none' },
      probe,
    );
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'CONNECT' } });
  });

  it('binds localAddress', async () => {
    const server = await serve(script([GREETING, [/^EHLO/, '250 mx'], [/^QUIT/, '221 bye']]));
    const { result } = await run(server, { localAddress: '127.0.0.2' }, probe);
    expect(result.outcome).toBe('ok');
    expect(server.connections[0]!.remoteAddress).toBe('127.0.0.2');
  });

  it('abort: destroys the socket, host-failed ABORTED; an aborted signal never connects', async () => {
    const server = await serve(async (c) => {
      await c.write('220 hi\r\n');
      await c.closed;
    });
    const ac = new AbortController();
    const p = run(server, { signal: ac.signal, timeoutMs: 10_000 }, probe);
    await sleep(100);
    const started = Date.now();
    ac.abort();
    const { result } = await p;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'ABORTED' } });

    const before = server.connections.length;
    const again = await runSmtpSession(opts(server, { signal: ac.signal }), probe);
    expect(again.error?.code).toBe('ABORTED');
    await sleep(50);
    expect(server.connections.length).toBe(before);
  });

  it('rejects bad arguments with DaneSmtpError USAGE (and never writes them)', async () => {
    const base = { address: '127.0.0.1', port: 25, helo: 'c.example.test', timeoutMs: 1000, tls: 'none' } as const;
    await expect(runSmtpSession({ ...base, address: 'mx.example.test' }, probe)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runSmtpSession({ ...base, helo: 'a\r\nMAIL FROM:<x>' }, probe)).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runSmtpSession(base, send(['a@example.test>\r\nRCPT TO:<b@example.test']))).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runSmtpSession(base, send(['a@example.test'], 'x', 'evil\n@example.test'))).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runSmtpSession(base, send([]))).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('runSmtpSession: STARTTLS (RFC 3207, RFC 7672 §2.2)', () => {
  it('tls required and STARTTLS not offered → host-failed NO_STARTTLS, the server receives no MAIL', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['PIPELINING', '8BITMIME'])(c);
      await c.closed;
    });
    const { result } = await run(server, { tls: 'required' }, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'NO_STARTTLS' } });
    const lines = server.connections[0]!.plainLines;
    expect(lines).toEqual(['EHLO client.example.test']);
  });

  it('tls may and STARTTLS not offered → plaintext delivery', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['8BITMIME'])(c);
      await script([[/^MAIL FROM:<sender@example\.test>$/, '250 ok'], [/^RCPT TO:<a@example\.test>$/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 2.0.0 queued', [/^QUIT/, '221 bye']])(c);
    });
    const { result } = await run(server, { tls: 'may' }, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'ok', tls: false, recipients: [{ address: 'a@example.test', status: 'delivered', reply: '250 2.0.0 queued', replyCode: 250 }] });
  });

  it.each(['required', 'may'] as const)('tls %s: STARTTLS 454 → host-failed STARTTLS_REFUSED, nothing more sent', async (mode) => {
    const server = await serve(async (c) => {
      await plainUpToMail(['STARTTLS'])(c);
      await c.expect(/^STARTTLS$/);
      await c.write('454 4.7.0 TLS not available\r\n');
      await c.closed;
    });
    const { result } = await run(server, { tls: mode }, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'STARTTLS_REFUSED', reply: { code: 454 } } });
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test', 'STARTTLS']);
  });

  it('tls none never sends STARTTLS', async () => {
    const server = await serve(script([GREETING, [/^EHLO/, '250-mx\r\n250 STARTTLS'], [/^QUIT/, '221 bye']]));
    const { result } = await run(server, { tls: 'none' }, probe);
    expect(result).toMatchObject({ outcome: 'ok', tls: false });
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test', 'QUIT']);
  });

  it('handshake failure: the server answers the ClientHello with garbage → TLS_HANDSHAKE', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['STARTTLS'])(c);
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      await sleep(100);
      await c.write('HTTP/1.1 400 Bad Request\r\n\r\n');
      await c.closed;
    });
    const { result } = await run(server, { tls: 'required' }, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'TLS_HANDSHAKE' } });
  });

  it('handshake failure: the server closes after the 220 → TLS_HANDSHAKE (no plaintext fallback)', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['STARTTLS'])(c);
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      await sleep(50);
      c.destroy();
    });
    const { result } = await run(server, { tls: 'required' }, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'TLS_HANDSHAKE' } });
    expect(server.connections).toHaveLength(1);
  });

  it('handshake that never completes → TIMEOUT within the deadline', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['STARTTLS'])(c);
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      c.socket.removeAllListeners('data');
      await c.closed;
    });
    const started = Date.now();
    const { result } = await run(server, { tls: 'required', timeoutMs: 400 }, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'TIMEOUT' } });
    expect(result.error?.message).toMatch(/handshake/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('discards bytes injected after the 220 (CVE-2011-0411) and uses the EHLO reply from inside TLS', async () => {
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS$/);
      // one write: the 220 and an injected reply the client must never act on
      await c.write('220 2.0.0 go ahead\r\n250 fake\r\n');
      await c.startTls(tlsOptions());
      await c.expect(/^EHLO client\.example\.test$/);
      await sleep(100); // the client must wait for this answer, not use the injected one
      await c.write('250-mx.example.test\r\n250-X-INSIDE-TLS\r\n250 SIZE 5000\r\n');
      await c.expect(/^QUIT$/);
      await c.write('221 bye\r\n');
    });
    const { result, events } = await run(server, { tls: 'required', servername: 'mx.example.test' }, probe);
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', tls: true });
    expect(result.extensions).toEqual({ 'X-INSIDE-TLS': '', SIZE: '5000' });
    expect(events).toContainEqual({ type: 'discarded', bytes: '250 fake\r\n'.length });
    const replies = events.flatMap((e) => (e.type === 'reply' ? [e.reply] : []));
    expect(replies.some((r) => r.lines.includes('fake'))).toBe(false);
    const conn = server.connections[0]!;
    expect(conn.tlsLines).toEqual(['EHLO client.example.test', 'QUIT']);
    expect(conn.bytesBeforeHandshake).toBe(0);
  });

  it('injected pipelined replies after the 220 cannot make a message go out in plaintext or early', async () => {
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n250-fake\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n');
      await c.startTls(tlsOptions());
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250 PIPELINING\r\n');
      await c.expect(/^MAIL FROM:<sender@example\.test>$/);
      await c.expect(/^RCPT TO:<a@example\.test>$/);
      await c.expect(/^DATA$/);
      await c.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await c.readData();
      await c.write('250 2.0.0 really queued\r\n');
      await c.expect(/^QUIT$/);
      await c.write('221 bye\r\n');
    });
    const { result, events } = await run(server, { tls: 'required' }, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', tls: true, recipients: [{ status: 'delivered', reply: '250 2.0.0 really queued' }] });
    expect(events.find((e) => e.type === 'discarded')).toBeDefined();
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test', 'STARTTLS']);
  });

  it('checkTls not ok → AUTHENTICATION, and the server receives zero bytes inside TLS', async () => {
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      // the client may close before the server has seen its Finished: both are fine
      await c.startTls(tlsOptions('self')).catch(() => undefined);
      await c.closed;
    });
    const seen: ServedTls[] = [];
    const { result, events } = await run(
      server,
      {
        tls: 'required',
        checkTls: (served) => {
          seen.push(served);
          return { ok: false, reason: 'no TLSA record matches' };
        },
      },
      send(['a@example.test']),
    );
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'AUTHENTICATION', message: 'no TLSA record matches' } });
    expect(seen).toHaveLength(1);
    expect(result.served?.chain).toEqual([testPki().self.der]);
    expect(events.filter((e) => e.type === 'tls')).toHaveLength(1);
    const conn = server.connections[0]!;
    expect(conn.tlsBytes).toBe(0);
    expect(conn.tlsLines).toEqual([]);
    expect(conn.plainLines).toEqual(['EHLO client.example.test', 'STARTTLS']);
  });

  it('a throwing checkTls counts as not ok', async () => {
    const server = await serve(async (c) => {
      await script([GREETING, [/^EHLO /, '250-mx\r\n250 STARTTLS'], [/^STARTTLS$/, '220 go']])(c);
      await c.startTls(tlsOptions()).catch(() => undefined);
      await c.closed;
    });
    const { result } = await run(server, { tls: 'may', checkTls: () => { throw new Error('boom'); } }, probe);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'AUTHENTICATION' } });
    expect(server.connections[0]!.tlsBytes).toBe(0);
  });

  it('served chain: exactly the certificates sent (leaf + intermediate), version, cipher; EHLO again inside TLS', async () => {
    const server = await serve(async (c) => {
      await upToTls(c);
      await script([[/^QUIT$/, '221 bye']])(c);
    });
    let checked: ServedTls | undefined;
    const { result, events } = await run(server, { tls: 'required', servername: 'mx.example.test', checkTls: (s) => ((checked = s), { ok: true }) }, probe);
    const pki = testPki();
    expect(result).toMatchObject({ outcome: 'ok', tls: true });
    expect(result.served?.chain).toEqual([pki.leaf.der, pki.intermediate.der]);
    expect(result.served?.version).toBe('TLSv1.3');
    expect(result.served?.cipher).toMatch(/^TLS_/);
    expect(checked).toEqual(result.served);
    // the pre-TLS extension list (PIPELINING, STARTTLS) is forgotten
    expect(result.extensions).toEqual({ 'X-INSIDE-TLS': '', '8BITMIME': '' });
    expect(server.connections[0]!.tlsLines).toEqual(['EHLO client.example.test', 'QUIT']);
    const order = events.map((e) => e.type);
    expect(order.indexOf('tls')).toBeLessThan(order.lastIndexOf('send'));
  });

  it('accepts a TLS 1.0-only server (like Postfix)', async () => {
    const server = await serve(async (c) => {
      await upToTls(c, '250 mx.example.test\r\n', { ...tlsOptions(), minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
      await script([[/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, { tls: 'required' }, probe);
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', tls: true, served: { version: 'TLSv1' } });
    expect(server.connections[0]!.tlsInfo?.protocol).toBe('TLSv1');
  });

  it('sends SNI = servername; omits it for an IP address', async () => {
    const handler: Handler = async (c) => {
      await upToTls(c);
      await script([[/^QUIT$/, '221 bye']])(c);
    };
    const server = await serve(handler);
    await run(server, { tls: 'required', servername: 'mx.example.test' }, probe);
    expect(server.connections[0]!.tlsInfo?.servername).toBe('mx.example.test');
    const server2 = await serve(handler);
    await run(server2, { tls: 'required', servername: '127.0.0.1' }, probe);
    expect(server2.connections[0]!.tlsInfo?.servername).toBeFalsy();
    const server3 = await serve(handler);
    await run(server3, { tls: 'required' }, probe);
    expect(server3.connections[0]!.tlsInfo?.servername).toBeFalsy();
  });

  it('EHLO 5xx inside TLS → HELO: the extensions from before TLS are forgotten (no PIPELINING)', async () => {
    let pipelined = true;
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      await c.startTls(tlsOptions());
      await script([[/^EHLO /, '502 5.5.1 no EHLO here'], [/^HELO /, '250 mx.example.test']])(c);
      await c.expect(/^MAIL FROM:<sender@example\.test>$/);
      await sleep(100);
      pipelined = c.queuedLines > 0;
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, { tls: 'required' }, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', tls: true });
    expect(result.extensions).toEqual({});
    expect(pipelined).toBe(false);
  });

  it('delivers inside TLS', async () => {
    const server = await serve(async (c) => {
      await upToTls(c);
      await script([[/^MAIL FROM:<sender@example\.test>$/, '250 ok'], [/^RCPT TO:<a@example\.test>$/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 2.0.0 Ok: queued as ABC', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, { tls: 'required', checkTls: () => ({ ok: true }) }, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'ok', tls: true, recipients: [{ address: 'a@example.test', status: 'delivered', reply: '250 2.0.0 Ok: queued as ABC', replyCode: 250 }] });
    expect(server.connections[0]!.plainLines.some((l) => /^(MAIL|RCPT|DATA)/.test(l))).toBe(false);
  });
});

describe('runSmtpSession: message transaction', () => {
  it('mixed recipients without PIPELINING: one command at a time, statuses per RCPT reply', async () => {
    let waitedForMailReply = false;
    const server = await serve(async (c) => {
      await plainUpToMail(['8BITMIME'])(c);
      await c.expect(/^MAIL FROM:<sender@example\.test>$/);
      await sleep(100);
      waitedForMailReply = c.queuedLines === 0;
      await c.write('250 2.1.0 ok\r\n');
      await script([
        [/^RCPT TO:<ok@example\.test>$/, '250 2.1.5 ok'],
        [/^RCPT TO:<later@example\.test>$/, '450 4.2.0 mailbox busy'],
        [/^RCPT TO:<nope@example\.test>$/, '550-5.1.1 no such user\r\n550 5.1.1 really'],
        [/^DATA$/, '354 go'],
      ])(c);
      await c.readData();
      await script(['250 2.0.0 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['ok@example.test', 'later@example.test', 'nope@example.test']));
    expect(waitedForMailReply).toBe(true);
    expect(result.outcome).toBe('ok');
    expect(result.recipients).toEqual([
      { address: 'ok@example.test', status: 'delivered', reply: '250 2.0.0 queued', replyCode: 250 },
      { address: 'later@example.test', status: 'deferred', reply: '450 4.2.0 mailbox busy', replyCode: 450 },
      { address: 'nope@example.test', status: 'bounced', reply: '550 5.1.1 no such user 5.1.1 really', replyCode: 550 },
    ]);
  });

  it('PIPELINING: MAIL, RCPTs and DATA arrive before any reply (RFC 2920)', async () => {
    let chunks = 0;
    let chunksForGroup = 0;
    const server = await serve(async (c) => {
      await plainUpToMail(['PIPELINING'])(c);
      c.socket.on('data', () => chunks++);
      // all four lines must arrive without the server answering anything
      await c.expect(/^MAIL FROM:<sender@example\.test>$/, 1000);
      await c.expect(/^RCPT TO:<a@example\.test>$/, 1000);
      await c.expect(/^RCPT TO:<b@example\.test>$/, 1000);
      await c.expect(/^DATA$/, 1000);
      chunksForGroup = chunks;
      await c.write('250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(chunksForGroup).toBe(1); // one write for the whole group
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'delivered']);
  });

  it('PIPELINING: all RCPTs refused but DATA 354 → only "." is sent, outcome rejected', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^DATA$/, '250 ok\r\n550 5.1.1 unknown\r\n354 go']])(c);
      expect(await c.readData()).toEqual([]);
      await script(['554 5.5.1 no valid recipients', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test'], 'Subject: secret\r\n\r\nbody\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_5XX' } });
    expect(result.recipients).toEqual([{ address: 'a@example.test', status: 'bounced', reply: '550 5.1.1 unknown', replyCode: 550 }]);
    expect(server.connections[0]!.plainLines.join('\n')).not.toMatch(/secret|body/);
  });

  it.each([
    ['451 4.3.0 try again', 'deferred', 'SMTP_4XX'],
    ['553 5.7.1 sender refused', 'bounced', 'SMTP_5XX'],
  ])('MAIL %s → rejected, all recipients %s, no RCPT/DATA', async (reply, status, code) => {
    const server = await serve(async (c) => {
      await plainUpToMail(['8BITMIME'])(c);
      await script([[/^MAIL/, reply], [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(result).toMatchObject({ outcome: 'rejected', error: { code } });
    expect(result.recipients).toEqual([
      { address: 'a@example.test', status, reply, replyCode: Number(reply.slice(0, 3)) },
      { address: 'b@example.test', status, reply, replyCode: Number(reply.slice(0, 3)) },
    ]);
    expect(server.connections[0]!.plainLines.slice(1)).toEqual(['MAIL FROM:<sender@example.test>', 'QUIT']);
  });

  it('PIPELINING: MAIL refused, then the connection drops → the MAIL reply decides', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^DATA$/, '550 5.7.1 go away\r\n503 5.5.1']])(c);
      c.destroy();
    });
    const { result } = await run(server, {}, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_5XX' } });
    expect(result.recipients).toEqual([{ address: 'a@example.test', status: 'bounced', reply: '550 5.7.1 go away', replyCode: 550 }]);
  });

  it('no recipient accepted → no DATA, QUIT, rejected', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '450 4.1.1 later'], [/^RCPT/, '550 5.1.1 never'], [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients?.map((r) => r.status)).toEqual(['deferred', 'bounced']);
    expect(server.connections[0]!.plainLines).not.toContain('DATA');
  });

  it.each([
    ['451 4.3.0 later', 'deferred'],
    ['554 5.6.0 no thanks', 'bounced'],
  ])('DATA %s → accepted recipients %s, message not sent', async (reply, status) => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^RCPT/, '550 5.1.1 unknown'], [/^DATA$/, reply], [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients).toEqual([
      { address: 'a@example.test', status, reply, replyCode: Number(reply.slice(0, 3)) },
      { address: 'b@example.test', status: 'bounced', reply: '550 5.1.1 unknown', replyCode: 550 },
    ]);
  });

  it.each([
    ['451 4.3.0 queue full', 'deferred', 'SMTP_4XX'],
    ['554 5.7.1 spam', 'bounced', 'SMTP_5XX'],
  ])('after the dot %s → %s', async (reply, status, code) => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script([reply, [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'rejected', error: { code }, recipients: [{ status, reply }] });
  });

  it('normalises line ends and dot-stuffs the message (RFC 5321 §4.5.2), no smuggled end of data', async () => {
    let data: string[] = [];
    let raw = '';
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      c.socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
      data = await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = 'Subject: dots\n\n.leading dot\n..two dots\nmiddle . dot\n.\nsmuggle\r.\rMAIL FROM:<x@y>\n.\r\nend';
    const { result, events } = await run(server, {}, send(['a@example.test'], message));
    expect(result.outcome).toBe('ok');
    expect(data).toEqual(['Subject: dots', '', '..leading dot', '...two dots', 'middle . dot', '..', 'smuggle', '..', 'MAIL FROM:<x@y>', '..', 'end']);
    expect(raw).toBe(
      'Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nmiddle . dot\r\n..\r\nsmuggle\r\n..\r\nMAIL FROM:<x@y>\r\n..\r\nend\r\n.\r\nQUIT\r\n',
    );
    // message lines are never logged as sent lines
    expect(events.filter((e) => e.type === 'send').map((e) => (e as { line: string }).line)).toEqual([
      'EHLO client.example.test',
      'MAIL FROM:<sender@example.test>',
      'RCPT TO:<a@example.test>',
      'DATA',
      'QUIT',
    ]);
  });

  it.each([
    ['CRLF', '\r\n'],
    ['bare LF', '\n'],
  ])('lines over 998 octets are broken with CRLF SPACE on the wire, like Postfix (%s input); SIZE counts them', async (_name, eol) => {
    const x = (n: number) => 'x'.repeat(n);
    let mail = '';
    let raw = Buffer.alloc(0);
    const server = await serve(async (c) => {
      await plainUpToMail(['SIZE 1000000', '8BITMIME'])(c);
      mail = await c.expect(/^MAIL/);
      await c.write('250 ok\r\n');
      await script([[/^RCPT/, '250 ok'], [/^DATA$/]])(c);
      c.socket.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
      await c.write('354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = [
      `Subject: ${x(2491)}`, // a 2,500-octet header line
      '',
      x(2500),
      `.${x(1500)}`,
      x(998),
      x(999),
      `${x(997)}é${x(10)}`, // é is octets 998 and 999
      `${x(995)}😀 end`, // 😀 is octets 996 to 999
    ].join(eol);
    const { result, events } = await run(server, {}, send(['a@example.test'], message));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('ok');
    expect(events.filter((e) => e.type === 'long-lines')).toEqual([{ type: 'long-lines', lines: 6 }]);
    const sent = [
      `Subject: ${x(989)}\r\n ${x(997)}\r\n ${x(505)}\r\n`,
      '\r\n',
      `${x(998)}\r\n ${x(997)}\r\n ${x(505)}\r\n`,
      `..${x(997)}\r\n ${x(503)}\r\n`,
      `${x(998)}\r\n`,
      `${x(998)}\r\n ${x(1)}\r\n`,
      `${x(997)}\r\n é${x(10)}\r\n`,
      `${x(995)}\r\n 😀 end\r\n`,
    ].join('');
    expect(raw.toString('utf8')).toBe(`${sent}.\r\nQUIT\r\n`);
    // RFC 1870: SIZE is what is sent, less the stuffed dot and the terminator
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${Buffer.byteLength(sent) - 1} BODY=8BITMIME`);
  });

  it('SIZE=n with the CRLF size (RFC 1870), BODY=8BITMIME for 8-bit bodies (RFC 6152)', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await plainUpToMail(['SIZE 1000000', '8BITMIME'])(c);
      mail = await c.expect(/^MAIL/);
      await c.write('250 ok\r\n');
      await script([[/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = 'Subject: x\n\ncafé\n';
    const { result } = await run(server, {}, send(['a@example.test'], message));
    expect(result.outcome).toBe('ok');
    const size = Buffer.byteLength('Subject: x\r\n\r\ncafé\r\n');
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${size} BODY=8BITMIME`);
  });

  it('no SIZE/8BITMIME offered → no parameters; 7-bit message → no BODY', async () => {
    const mails: string[] = [];
    const handler = (exts: string[]) => async (c: RawConn) => {
      await plainUpToMail(exts)(c);
      mails.push(await c.expect(/^MAIL/));
      await c.write('250 ok\r\n');
      await script([[/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    };
    await run(await serve(handler([])), {}, send(['a@example.test'], 'Subject: x\r\n\r\ncafé\r\n'));
    await run(await serve(handler(['8BITMIME'])), {}, send(['a@example.test'], 'Subject: x\r\n\r\nplain\r\n'));
    expect(mails).toEqual(['MAIL FROM:<sender@example.test>', 'MAIL FROM:<sender@example.test>']);
  });

  it('8-bit MIME: converted to quoted-printable for a server without 8BITMIME (RFC 6152 §3, like Postfix); sent as is with BODY=8BITMIME otherwise', async () => {
    const message = 'MIME-Version: 1.0\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncafé\r\n.fin\r\n';
    const seen: { mail: string; data: Buffer }[] = [];
    const handler = (exts: string[]) => async (c: RawConn) => {
      await plainUpToMail(exts)(c);
      const mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/]])(c);
      let raw = Buffer.alloc(0);
      c.socket.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
      await c.write('354 go\r\n');
      await c.readData();
      seen.push({ mail, data: raw });
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    };
    const without = await run(await serve(handler(['SIZE 1000000'])), {}, send(['a@example.test'], message));
    const withIt = await run(await serve(handler(['SIZE 1000000', '8BITMIME'])), {}, send(['a@example.test'], message));
    expect([without.result.outcome, withIt.result.outcome]).toEqual(['ok', 'ok']);
    const converted = 'MIME-Version: 1.0\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n.fin\r\n';
    expect(seen[0]!.mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${converted.length}`);
    expect(seen[0]!.data.toString('latin1')).toBe(`${converted.replace('\n.fin', '\n..fin')}.\r\n`);
    expect(without.events.filter((e) => e.type === 'mime-downgrade')).toEqual([{ type: 'mime-downgrade', parts: 1 }]);
    expect(seen[1]!.mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${Buffer.byteLength(message)} BODY=8BITMIME`);
    expect(seen[1]!.data.toString('utf8')).toBe(`${message.replace('\n.fin', '\n..fin')}.\r\n`);
    expect(withIt.events.filter((e) => e.type === 'mime-downgrade')).toEqual([]);
  });

  it('8-bit data that cannot be converted (a non-MIME message) is still sent, without BODY=, and reported', async () => {
    let mail = '';
    let data: string[] = [];
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      data = await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result, events } = await run(server, {}, send(['a@example.test'], 'Subject: x\r\n\r\ncafé\r\n'));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe('MAIL FROM:<sender@example.test>');
    expect(data).toEqual(['Subject: x', '', 'café']);
    expect(events.filter((e) => e.type === 'mime-downgrade')).toEqual([{ type: 'mime-downgrade', parts: 0, unconverted: 'not a MIME message (no MIME-Version header)' }]);
  });

  it('message larger than the advertised SIZE → bounced locally, no MAIL', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail(['SIZE 100'])(c);
      await script([[/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test', 'b@example.test'], `Subject: big\r\n\r\n${'x'.repeat(200)}\r\n`));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_5XX' } });
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'bounced']);
    expect(result.recipients?.[0]?.reply).toMatch(/^552 5\.3\.4 .*SIZE limit 100/);
  });

  it('SMTPUTF8 parameter when an address needs it and it is offered (RFC 6531)', async () => {
    let mail = '';
    let rcpt = '';
    const server = await serve(async (c) => {
      await plainUpToMail(['SMTPUTF8', '8BITMIME'])(c);
      mail = await c.expect(/^MAIL/);
      await c.write('250 ok\r\n');
      rcpt = await c.expect(/^RCPT/);
      await script(['250 ok', [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['usér@exämple.test'], 'Subject: x\r\n\r\nhi\r\n'));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe('MAIL FROM:<sender@example.test> SMTPUTF8');
    expect(rcpt).toBe('RCPT TO:<usér@exämple.test>');
  });

  it.each([
    ['a non-ASCII address', ['usér@example.test'], 'Subject: x\r\n\r\nhi\r\n', /^553 5\.6\.7 /],
    ['a UTF-8 header', ['a@example.test'], 'Subject: café\r\n\r\nhi\r\n', /^554 5\.6\.9 /],
  ])('SMTPUTF8 needed for %s but not offered → bounced, no MAIL (RFC 6531 §3.5)', async (_n, to, message, reply) => {
    const server = await serve(async (c) => {
      await plainUpToMail(['8BITMIME'])(c);
      await script([[/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(to, message));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients?.[0]?.status).toBe('bounced');
    expect(result.recipients?.[0]?.reply).toMatch(reply);
  });

  it('an ASCII local part at an IDN domain goes out as the A-label without SMTPUTF8 (RFC 5890)', async () => {
    let rcpt = '';
    let mail = '';
    const server = await serve(async (c) => {
      await plainUpToMail(['8BITMIME'])(c);
      mail = await c.expect(/^MAIL/);
      await c.write('250 ok\r\n');
      rcpt = await c.expect(/^RCPT/);
      await script(['250 ok', [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['bob@bücher.example'], 'Subject: x\r\n\r\nhi\r\n'));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe('MAIL FROM:<sender@example.test>');
    expect(rcpt).toBe('RCPT TO:<bob@xn--bcher-kva.example>');
    expect(result.recipients).toMatchObject([{ address: 'bob@bücher.example', status: 'delivered' }]);
  });

  it('the reply to the final dot may take longer than the step deadline (RFC 5321 §4.5.3.2.6)', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await new Promise((r) => setTimeout(r, 600)); // a slow content filter
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, { timeoutMs: 300 }, send(['a@example.test'], 'Subject: x\r\n\r\nhi\r\n'));
    expect(result.recipients).toMatchObject([{ status: 'delivered' }]);
  });

  it('a UTF-8 body only needs 8BITMIME, not SMTPUTF8', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await plainUpToMail(['8BITMIME'])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test'], 'Subject: x\r\n\r\ncafé\r\n'));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe('MAIL FROM:<sender@example.test> BODY=8BITMIME');
  });

  it('null reverse-path MAIL FROM:<>', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    await run(server, {}, send(['a@example.test'], 'Subject: bounce\r\n\r\nx\r\n', ''));
    expect(mail).toBe('MAIL FROM:<>');
  });

  it('connection closed mid-DATA → rejected, accepted recipients deferred (never delivered)', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^RCPT/, '550 5.1.1 unknown'], [/^DATA$/, '354 go']])(c);
      await c.readLine();
      c.destroy();
    });
    const big = `Subject: big\r\n\r\n${'line of text\r\n'.repeat(200_000)}`;
    const { result } = await run(server, {}, send(['a@example.test', 'b@example.test'], big));
    expect(result.outcome).toBe('rejected');
    expect(result.error?.code).toMatch(/^(CLOSED|TIMEOUT)$/);
    expect(result.recipients?.map((r) => r.status)).toEqual(['deferred', 'bounced']);
  });

  it('closed right after the dot (no final reply) → deferred', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      c.destroy();
    });
    const { result } = await run(server, {}, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'CLOSED' }, recipients: [{ status: 'deferred' }] });
  });

  it('no final reply within the deadline → rejected, deferred, TIMEOUT', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await c.write('250 almost');
      await c.closed;
    });
    const { result } = await run(server, { timeoutMs: 300, finalReplyTimeoutMs: 500 }, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'TIMEOUT' }, recipients: [{ status: 'deferred' }] });
  });

  it('a server that stops reading the message data cannot hang the client', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      c.socket.pause();
      c.socket.removeAllListeners('data');
      await c.closed;
    });
    const big = `${'x'.repeat(998)}\r\n`.repeat(32 * 1024);
    const started = Date.now();
    const result = await runSmtpSession(opts(server, { timeoutMs: 500 }), send(['a@example.test'], big));
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'TIMEOUT' }, recipients: [{ status: 'deferred' }] });
    expect(Date.now() - started).toBeLessThan(10_000);
    // a paused server cannot notice the close: let it read again, then check nothing leaked
    server.connections[0]!.socket.resume();
    await server.allClosed(5000);
  });

  it('connection lost before the MAIL reply → host-failed (nothing decided)', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await c.expect(/^MAIL/);
      c.destroy();
    });
    const { result } = await run(server, {}, send(['a@example.test']));
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code: 'CLOSED' } });
    expect(result.recipients).toBeUndefined();
  });

  it('an unexpected reply code (e.g. 250 to DATA) never leads to sending the message', async () => {
    const server = await serve(async (c) => {
      await plainUpToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '250 what'], [/^QUIT$/, '221 bye']])(c);
    });
    const { result } = await run(server, {}, send(['a@example.test'], 'Subject: secret\r\n\r\nx\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'PROTOCOL' }, recipients: [{ status: 'deferred' }] });
    expect(server.connections[0]!.plainLines.join('\n')).not.toMatch(/secret/);
  });
});
