/**
 * The library's edges: a throwing onEvent hook must not change what happens to the mail,
 * and the nodemailer transport can be stopped (close() or a signal) without losing track
 * of recipients. Scripted SMTP servers on 127.0.0.1, DNS from declarative fixtures.
 */
import { afterEach, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { deliver } from '../../src/api.js';
import { DaneDeliveryError, daneTransport } from '../../src/nodemailer/transport.js';
import { DaneSmtpError } from '../../src/errors.js';
import { type FixtureAnswer, FixtureResolver, mx } from '../support/fixture-resolver.js';
import { type RawServer, script, startRawServer } from '../support/raw-smtp-server.js';

const MESSAGE = 'From: a@client.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n';

/** example.test: an insecure MX (no DANE) whose one host is the scripted server on 127.0.0.1. */
function insecureWorld(): FixtureResolver {
  return new FixtureResolver({
    ' SOA': { proof: 'secure', records: [{}] },
    'example.test MX': { proof: 'insecure', records: [mx(10, 'mx.example.test')] },
    'mx.example.test A': { proof: 'insecure', records: ['127.0.0.1'] },
    'mx.example.test AAAA': { proof: 'insecure', status: 'nodata' },
  });
}

const acceptAll = script([
  '220 mx.example.test ESMTP',
  [/^EHLO /, '250 mx.example.test'],
  [/^MAIL FROM:/, '250 ok'],
  [/^RCPT TO:/, '250 ok'],
  [/^DATA/, '354 go'],
  async (conn) => {
    await conn.readData();
    await conn.write('250 queued as 1\r\n');
  },
  [/^QUIT/, '221 bye'],
]);

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('onEvent hook', () => {
  it('an exception thrown by the hook is ignored (one warning): the delivered message stays delivered, no resend', async () => {
    server = await startRawServer(acceptAll);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const [result] = await deliver(MESSAGE, {
        from: 'a@client.test', to: ['b@example.test'], resolver: insecureWorld(), port: server.port, helo: 'client.test', timeoutMs: 5000,
        onEvent: () => {
          throw new Error('logger exploded');
        },
      });
      expect(result).toMatchObject({ verdict: 'opportunistic', recipients: [{ address: 'b@example.test', status: 'delivered' }] });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.includes('logger exploded'))).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
    }
    expect(server.connections).toHaveLength(1);
  });
});

describe('nodemailer transport', () => {
  // A server that greets and then never answers EHLO: the delivery hangs until stopped.
  const stall = script(['220 mx.example.test ESMTP', [/^EHLO /], async () => new Promise((r) => setTimeout(r, 10_000))]);

  it('close() aborts a delivery in progress: rejected at once, the recipient reported deferred', async () => {
    server = await startRawServer(stall);
    const options = { resolver: insecureWorld(), port: server.port, helo: 'client.test', timeoutMs: 30_000 };
    const transport = nodemailer.createTransport(daneTransport(options));
    const sending = transport.sendMail({ from: 'a@client.test', to: 'b@example.test', subject: 'hi', text: 'hello' });
    while (server.connections.length === 0) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    transport.close();
    const err = await sending.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaneDeliveryError);
    expect((err as DaneDeliveryError).deferred.map((d) => d.address)).toEqual(['b@example.test']);
    expect((err as DaneDeliveryError).temporary).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000); // not the 30 s step deadline
    // Once closed, the transport sends nothing more.
    await expect(transport.sendMail({ from: 'a@client.test', to: 'b@example.test', text: 'x' })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(server.connections).toHaveLength(1);
  });

  it("the caller's signal stops the transport's deliveries the same way", async () => {
    server = await startRawServer(stall);
    const controller = new AbortController();
    const transport = nodemailer.createTransport(daneTransport({ resolver: insecureWorld(), port: server.port, helo: 'client.test', timeoutMs: 30_000, signal: controller.signal }));
    const sending = transport.sendMail({ from: 'a@client.test', to: 'b@example.test', text: 'hello' });
    while (server.connections.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const err = await sending.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DaneDeliveryError);
    expect((err as DaneDeliveryError).info.results[0]).toMatchObject({ verdict: 'tempfail' });
  });
});

describe('an abort during the resolver probe', () => {
  it('defers every destination as aborted, without blaming the resolver', async () => {
    const { check } = await import('../../src/api.js');
    const { DaneSmtpError } = await import('../../src/errors.js');
    const controller = new AbortController();
    // A resolver that answers nothing until the caller gives up.
    const stuck = {
      lookup: (_name: string, _type: string, o?: { signal?: AbortSignal }) =>
        new Promise<never>((_resolve, reject) => o?.signal?.addEventListener('abort', () => reject(new DaneSmtpError('ABORTED')))),
    };
    setTimeout(() => controller.abort(), 50);
    const result = await check('example.test', { resolver: stuck as never, helo: 'client.test', signal: controller.signal });
    expect(result).toMatchObject({ verdict: 'tempfail', deferredEarly: 'aborted' });
    expect(result.findings?.map((f) => f.code)).not.toContain('resolver-unreachable');
  });
});

describe('opportunistic TLS (Postfix "may") after a handshake that never completes', () => {
  it('is retried in plaintext once the handshake deadline passes, and the message is delivered', async () => {
    let n = 0;
    server = await startRawServer(async (conn) => {
      if (n++ === 0) {
        // 220 to STARTTLS, then silence: no ServerHello ever comes.
        await script(['220 mx.example.test ESMTP', [/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS/, '220 go ahead']])(conn);
        await new Promise((r) => setTimeout(r, 3000));
        conn.destroy();
        return;
      }
      await acceptAll(conn);
    });
    const [result] = await deliver(MESSAGE, { from: 'a@client.test', to: ['b@example.test'], resolver: insecureWorld(), port: server.port, helo: 'client.test', timeoutMs: 500 });
    expect(result).toMatchObject({ verdict: 'opportunistic', tls: false, recipients: [{ status: 'delivered' }] });
    expect(result!.hosts[0]!.attempts[0]).toMatchObject({ plaintextRetry: true, tls: false });
    expect(server.connections).toHaveLength(2);
  });
});

describe('transporter.verify(): the resolver the transport uses, probed for DNSSEC validation', () => {
  const world = (root: FixtureAnswer, selfValidating = false): FixtureResolver => {
    const r = new FixtureResolver({ ' SOA': root });
    if (selfValidating) Object.defineProperty(r, 'validatesItself', { value: true });
    return r;
  };
  const verifyWith = (resolver: FixtureResolver) => nodemailer.createTransport(daneTransport({ resolver, helo: 'client.test' })).verify();

  it('a validating resolver (AD on the signed root SOA): true, asked through the transport’s resolver', async () => {
    const resolver = world({ proof: 'secure', records: [{}] });
    await expect(verifyWith(resolver)).resolves.toBe(true);
    expect(resolver.asked).toEqual([' SOA']);
  });

  it('the callback form, and the probe seen by onEvent', async () => {
    const events: string[] = [];
    const transport = nodemailer.createTransport(daneTransport({ resolver: world({ proof: 'secure', records: [{}] }), helo: 'client.test', onEvent: (e) => events.push(e.type) }));
    const answer = await new Promise<[Error | null, boolean | undefined]>((done) => transport.verify((err, ok) => done([err, ok])));
    expect(answer).toEqual([null, true]);
    expect(events).toEqual(['dns', 'probe']);
  });

  it('a resolver that does not validate (no AD): DNS_NOT_VALIDATING, saying so', async () => {
    const err = await verifyWith(world({ proof: 'insecure', records: [{}] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaneSmtpError);
    expect(err).toMatchObject({ code: 'DNS_NOT_VALIDATING', message: expect.stringMatching(/does not validate DNSSEC.*DANE would be off/) });
  });

  it('an unreachable resolver: DNS_UNREACHABLE, saying so', async () => {
    const err = await verifyWith(world({ proof: 'indeterminate', status: 'failed', reason: 'timeout after 5000 ms', failure: { kind: 'unreachable', cause: 'timeout' } })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DNS_UNREACHABLE', message: expect.stringMatching(/^resolver unreachable: timeout .*every delivery would be deferred/) });
  });

  it('a resolver that fails the probe (SERVFAIL): DNS_UNREACHABLE, naming the failure', async () => {
    const err = await verifyWith(world({ proof: 'indeterminate', status: 'failed', reason: 'SERVFAIL', failure: { kind: 'rcode', rcode: 'SERVFAIL', ede: [] } })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DNS_UNREACHABLE', message: expect.stringMatching(/failed the DNSSEC probe \(root SOA: SERVFAIL\)/) });
  });

  it('a resolver that validates itself: true when it answers (the root may be outside its trust anchors); a bogus root is DNS_NOT_VALIDATING', async () => {
    await expect(verifyWith(world({ proof: 'secure', records: [{}] }, true))).resolves.toBe(true);
    await expect(verifyWith(world({ proof: 'insecure', records: [{}] }, true))).resolves.toBe(true);
    const err = await verifyWith(world({ proof: 'bogus', status: 'failed', reason: 'DNSKEY .: not signed by a trust anchor key', failure: { kind: 'validation' } }, true)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DNS_NOT_VALIDATING', message: expect.stringMatching(/does not validate from the trust anchors/) });
  });

  it('after close(): ABORTED, nothing asked', async () => {
    const resolver = world({ proof: 'secure', records: [{}] });
    const transport = nodemailer.createTransport(daneTransport({ resolver, helo: 'client.test' }));
    transport.close();
    await expect(transport.verify()).rejects.toMatchObject({ code: 'ABORTED' });
    expect(resolver.asked).toEqual([]);
  });

  it('bad options: USAGE', async () => {
    await expect(nodemailer.createTransport(daneTransport({ resolver: world({ proof: 'secure' }), helo: 'client.test', port: 0 })).verify()).rejects.toMatchObject({ code: 'USAGE' });
  });
});
