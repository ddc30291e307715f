/**
 * Hostile or broken SMTP peers through the WHOLE delivery path: runAll / processDestination with a
 * FixtureResolver (a secure MX, a secure A record for 127.0.0.1 and a DANE-EE 3 1 1 record
 * for the test leaf) and the real runSmtpSession against a scripted raw server. Each case
 * asserts the final verdict, the recipients' statuses and the exit code, that it ends within
 * its time limit, and that no socket is left behind (server side closed; every TCP/TLS socket
 * src/ created is destroyed when runAll settles: test/support/socket-tracker.ts).
 *
 * Already covered at session level in smtp-session.test.ts (endless multi-line replies, a
 * multi-megabyte line, trickling, closes, 4xx/5xx at MAIL/RCPT/DATA, handshake garbage) —
 * here they are run end to end so the verdict, not only the session outcome, is proven.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Job } from '../../src/smtp/types.js';
import type { DomainResult } from '../../src/core/result.js';
import { exitCodeOf } from '../../src/core/outcome.js';
import { runAll } from '../../src/engine/run.js';
import { FixtureResolver, mx } from '../support/fixture-resolver.js';
import { type Handler, type RawConn, type RawServer, sleep, startRawServer } from '../support/raw-smtp-server.js';
import { openSocketsSince, socketMark, socketsCreatedSince } from '../support/socket-tracker.js';
import { testPki } from '../support/test-certs.js';

vi.mock('node:net', async (orig) => (await import('../support/socket-tracker.js')).trackNet(await orig()));
vi.mock('node:tls', async (orig) => (await import('../support/socket-tracker.js')).trackTls(await orig()));

beforeAll(() => void testPki());

const servers: RawServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const DOMAIN = 'example.test';
const HOST = 'mx.example.test';

function resolverFor(port: number): FixtureResolver {
  const pki = testPki();
  const leafSpki = createHash('sha256')
    .update(new X509Certificate(pki.leaf.pem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
  return new FixtureResolver({
    [' SOA']: { proof: 'secure', records: [{ mname: 'a.root', rname: 'h.root', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 }] },
    [`${DOMAIN} MX`]: { proof: 'secure', records: [mx(10, HOST)] },
    [`${HOST} A`]: { proof: 'secure', records: ['127.0.0.1'] },
    [`${HOST} AAAA`]: { proof: 'secure', status: 'nodata' },
    [`_${port}._tcp.${HOST} TLSA`]: { proof: 'secure', records: [{ usage: 3, selector: 1, matchingType: 1, data: leafSpki }] },
  });
}

const tlsOpts = () => ({ cert: testPki().leaf.pem + testPki().intermediate.pem, key: testPki().leaf.key });

type Stage = 'greeting' | 'ehlo' | 'helo' | 'starttls' | 'ehloTls' | 'mail' | 'rcpt' | 'data' | 'dot';

/** A well-behaved ESMTP server with STARTTLS, except for the replies overridden per stage. */
function smtpServer(over: Partial<Record<Stage, string>> = {}, hooks: { afterData?: (c: RawConn) => Promise<'stop' | void> } = {}): Handler {
  return async (c) => {
    const say = (s: string) => c.write(`${s.replace(/\r?\n/g, '\r\n')}\r\n`);
    await say(over.greeting ?? '220 mx.example.test ESMTP');
    for (;;) {
      let line: string;
      try {
        line = await c.readLine(3000);
      } catch {
        return;
      }
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'EHLO') await say(c.tls ? (over.ehloTls ?? '250-mx.example.test\n250 8BITMIME') : (over.ehlo ?? '250-mx.example.test\n250 STARTTLS'));
      else if (verb === 'HELO') await say(over.helo ?? '250 mx.example.test');
      else if (verb === 'STARTTLS') {
        const r = over.starttls ?? '220 2.0.0 go ahead';
        await say(r);
        if (r.startsWith('220')) await c.startTls(tlsOpts());
      } else if (verb === 'MAIL') await say(over.mail ?? '250 2.1.0 ok');
      else if (verb === 'RCPT') await say(over.rcpt ?? '250 2.1.5 ok');
      else if (verb === 'DATA') {
        const r = over.data ?? '354 go ahead';
        await say(r);
        if (r.startsWith('354')) {
          if ((await hooks.afterData?.(c)) === 'stop') return;
          await c.readData(3000);
          await say(over.dot ?? '250 2.0.0 queued as X');
        }
      } else if (verb === 'QUIT') {
        await say('221 2.0.0 bye');
        c.end();
        return;
      } else if (verb === '.') await say('250 2.0.0 empty message');
      else await say('500 5.5.1 what?');
    }
  };
}

const sendJob = (body = 'Subject: t\r\n\r\nhello\r\n'): Job => ({
  kind: 'send',
  envelope: { from: 'sender@client.test', to: ['user@example.test'], message: Buffer.from(body) },
});

/** The whole path (runAll → processDestination → runSmtpSession) against the scripted server; asserts the time limit and that nothing leaks. */
async function deliver(handler: Handler, opts: { timeoutMs?: number; limitMs?: number; job?: Job } = {}): Promise<{ result: DomainResult; exit: number; ms: number; server: RawServer }> {
  const server = await startRawServer(handler);
  servers.push(server);
  const mark = socketMark();
  const timeoutMs = opts.timeoutMs ?? 1000;
  const t0 = Date.now();
  const job = opts.job ?? sendJob();
  // runAll: the validation probe, processDestination, then the recipients of a deferred destination.
  const [result] = await runAll([{ domain: DOMAIN, job }], { resolver: resolverFor(server.port), port: server.port, helo: 'client.test', timeoutMs });
  if (!result) throw new Error('no result');
  const ms = Date.now() - t0;
  expect(ms, 'ends within its time limit').toBeLessThan(opts.limitMs ?? 5 * timeoutMs);
  await server.allClosed(3000);
  // The client's sockets are gone too.
  expect(socketsCreatedSince(mark), 'the tracker sees the connection').toBeGreaterThan(0);
  expect(openSocketsSince(mark), 'no leaked socket').toEqual([]);
  return { result, exit: exitCodeOf([result], job.kind === 'send' ? 'send' : 'check'), ms, server };
}

function attemptError(r: DomainResult): { code?: string; error?: string } {
  const a = r.hosts[0]?.attempts[0];
  return { code: a?.errorCode, error: a?.error };
}

describe('hostile SMTP peers, end to end (verdict, exit code, no leak)', () => {
  it('control: the well-behaved server gets the message, DANE-authenticated', async () => {
    const { result, exit } = await deliver(smtpServer());
    expect(result).toMatchObject({ verdict: 'dane-authenticated', tls: true, recipients: [{ status: 'delivered' }] });
    expect(exit).toBe(0);
  });

  it('endless multi-line greeting → tempfail (REPLY_TOO_LONG), 75', async () => {
    const { result, exit } = await deliver(async (c) => {
      while (!c.isClosed) {
        await c.write('220-more and more\r\n'.repeat(50));
        await new Promise((r) => setImmediate(r));
      }
    });
    expect(result).toMatchObject({ verdict: 'tempfail', host: null, recipients: [{ status: 'deferred' }] });
    expect(attemptError(result).code).toBe('REPLY_TOO_LONG');
    expect(exit).toBe(75);
  });

  it('endless multi-line EHLO reply inside TLS → tempfail (REPLY_TOO_LONG)', async () => {
    const { result } = await deliver(async (c) => {
      await Promise.resolve(smtpServer({ ehloTls: '250-x' })(c)).catch(() => undefined);
    });
    // '250-x' alone never ends the reply: the reader waits for more, then the deadline.
    expect(result.verdict).toBe('tempfail');
    expect(['TIMEOUT', 'REPLY_TOO_LONG']).toContain(attemptError(result).code);
    const { result: r2 } = await deliver(async (c) => {
      await c.write('220 mx ESMTP\r\n');
      await c.expect(/^EHLO/);
      await c.write('250-mx\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS/);
      await c.write('220 go\r\n');
      await c.startTls(tlsOpts());
      await c.expect(/^EHLO/);
      while (!c.isClosed) {
        await c.write('250-more\r\n'.repeat(50));
        await new Promise((r) => setImmediate(r));
      }
    });
    expect(r2.verdict).toBe('tempfail');
    expect(attemptError(r2).code).toBe('REPLY_TOO_LONG');
  });

  it('a single 8 MB line → tempfail (REPLY_TOO_LONG) without buffering it', async () => {
    const { result } = await deliver(async (c) => {
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      await c.write('220');
      for (let i = 0; i < 128 && !c.isClosed; i++) {
        await c.write(chunk);
        await new Promise((r) => setImmediate(r));
      }
    });
    expect(result.verdict).toBe('tempfail');
    expect(attemptError(result)).toMatchObject({ code: 'REPLY_TOO_LONG', error: expect.stringMatching(/4096/) });
  });

  it('one byte per second → tempfail (TIMEOUT) at the reply deadline, not later', async () => {
    const { result, ms } = await deliver((c) => c.trickle('220 mx.example.test ESMTP slowly\r\n', 1000), { timeoutMs: 1500, limitMs: 4000 });
    expect(result.verdict).toBe('tempfail');
    expect(attemptError(result).code).toBe('TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(1400);
  });

  it('a TLS alert (handshake_failure) in answer to the ClientHello → tempfail (TLS_HANDSHAKE), no plaintext', async () => {
    const { result, server } = await deliver(async (c) => {
      await c.write('220 mx ESMTP\r\n');
      await c.expect(/^EHLO/);
      await c.write('250-mx\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS/);
      c.socket.removeAllListeners('data');
      await c.write('220 go\r\n');
      await new Promise<void>((resolve) => c.socket.once('data', () => resolve()));
      // TLS record: alert(21), TLS 1.2, length 2, fatal(2) handshake_failure(40)
      await c.write(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]));
      await sleep(200);
      c.end();
    });
    expect(result.verdict).toBe('tempfail');
    expect(attemptError(result)).toMatchObject({ code: 'TLS_HANDSHAKE', error: expect.stringMatching(/handshake/i) });
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.test', 'STARTTLS']);
  });

  it('close mid-DATA → the recipient is deferred (never delivered), 75', async () => {
    const big = `Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(400);
    const { result, exit } = await deliver(
      smtpServer({}, {
        afterData: async (c) => {
          await c.readLine();
          c.reset();
          return 'stop';
        },
      }),
      { job: sendJob(big) },
    );
    expect(result).toMatchObject({ verdict: 'dane-authenticated', recipients: [{ status: 'deferred' }] });
    expect(result.reason).toMatch(/transaction refused/);
    expect(exit).toBe(75);
  });
});

describe('4xx / 5xx at each stage, end to end', () => {
  // Before the transaction: the host fails, nothing is decided → tempfail (next MX, none left).
  const hostStages: [Stage, string, Partial<Record<Stage, string>>][] = [
    ['greeting', '421', { greeting: '421 4.3.2 busy' }],
    ['greeting', '554', { greeting: '554 5.7.1 go away' }],
    ['ehlo', '421', { ehlo: '421 4.3.2 busy' }],
    ['ehlo', '550 then HELO 550', { ehlo: '550 5.5.1 no', helo: '550 5.5.1 no' }],
    ['ehlo', '550 then HELO 250 (no STARTTLS possible)', { ehlo: '550 5.5.1 no' }],
    ['starttls', '454', { starttls: '454 4.7.0 TLS not available' }],
    ['starttls', '554', { starttls: '554 5.7.0 no TLS for you' }],
    ['ehloTls', '421', { ehloTls: '421 4.3.2 busy' }],
    ['ehloTls', '554 then HELO 554', { ehloTls: '554 5.5.1 no', helo: '554 5.5.1 no' }],
  ];
  it.each(hostStages)('%s %s → tempfail, deferred, 75', async (_stage, _what, over) => {
    const { result, exit, server } = await deliver(smtpServer(over));
    expect(result).toMatchObject({ verdict: 'tempfail', host: null, recipients: [{ status: 'deferred' }] });
    expect(exit).toBe(75);
    for (const c of server.connections) {
      expect([...c.plainLines, ...c.tlsLines].filter((l) => /^(MAIL|RCPT|DATA)/.test(l))).toEqual([]);
    }
    expect(attemptError(result).error).toBeTruthy();
  });

  // In the transaction: the server decided → 4xx defers (75), 5xx bounces (69).
  const txStages: [Stage, string, 'deferred' | 'bounced', number][] = [
    ['mail', '451 4.3.0 try later', 'deferred', 75],
    ['mail', '550 5.7.1 sender refused', 'bounced', 69],
    ['rcpt', '450 4.2.1 mailbox busy', 'deferred', 75],
    ['rcpt', '550 5.1.1 no such user', 'bounced', 69],
    ['data', '451 4.3.0 try later', 'deferred', 75],
    ['data', '554 5.5.1 no valid recipients', 'bounced', 69],
    ['dot', '452 4.3.1 out of space', 'deferred', 75],
    ['dot', '552 5.3.4 too big', 'bounced', 69],
  ];
  it.each(txStages)('%s %s → %s, %i', async (stage, reply, status, code) => {
    const { result, exit, server } = await deliver(smtpServer({ [stage]: reply }));
    expect(result).toMatchObject({ verdict: 'dane-authenticated', tls: true, recipients: [{ status, reply: expect.stringContaining(reply.slice(0, 3)) }] });
    expect(result.reason).toMatch(/transaction refused/);
    expect(exit).toBe(code);
    // Everything after STARTTLS happened inside TLS.
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.test', 'STARTTLS']);
  });
});
