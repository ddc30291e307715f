/**
 * Issue 19 over real TLS: for every servable certificate of the odd catalogue
 * (test/support/odd-certs.ts), an ESMTP receiver with STARTTLS on 127.0.0.1 port 0 presents
 * it (with the CA behind it when it has one), a fixture resolver publishes a DNSSEC-secure
 * `3 1 1` (or `3 0 1`) record for it, and check, send (src/api.ts), scan (src/scan) and
 * `dane-smtp tlsa --verify` run against it: DANE-authenticated, delivered, no internal error.
 * DANE-TA records of its anchor give the catalogue's outcome, never an exception.
 */
import { createHash } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { check, deliver } from '../../../src/api.js';
import type { DomainResult } from '../../../src/core/result.js';
import { scanDomains } from '../../../src/scan/scan.js';
import { readCertificate } from '../../../src/x509/certificate.js';
import { reply, ROOT_SOA, tlsaRr } from '../../support/dns-server.js';
import { FixtureResolver, mx } from '../../support/fixture-resolver.js';
import { ODD_HOST, oddCa, oddCertificates, pem, type OddCert } from '../../support/odd-certs.js';
import { type Handler, type RawServer, startRawServer } from '../../support/raw-smtp-server.js';
import { runTlsaCli } from '../../support/tlsa-cli.js';
import { useTlsaServers } from '../../support/tlsa-servers.js';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const servable = oddCertificates().filter((c) => c.servable);
const hex = (alg: 'sha256', b: Buffer) => createHash(alg).update(b).digest();

const servers: RawServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
const tlsaServers = useTlsaServers(() => ({ certPem: '', keyPem: '' }));

/** A well-behaved ESMTP server with STARTTLS that presents `c`'s chain. */
function receiver(c: OddCert): Handler {
  const tls = { cert: c.chain.map((d) => pem(d)).join(''), key: c.keyPem! };
  return async (conn) => {
    const say = (s: string) => conn.write(`${s.replace(/\r?\n/g, '\r\n')}\r\n`);
    await say('220 mx.example.test ESMTP');
    for (;;) {
      let line: string;
      try {
        line = await conn.readLine(5000);
      } catch {
        return;
      }
      const verb = line.split(' ')[0]!.toUpperCase();
      if (verb === 'EHLO') await say(conn.tls ? '250-mx.example.test\n250 8BITMIME' : '250-mx.example.test\n250 STARTTLS');
      else if (verb === 'STARTTLS') {
        await say('220 2.0.0 go ahead');
        await conn.startTls(tls);
      } else if (verb === 'MAIL') await say('250 2.1.0 ok');
      else if (verb === 'RCPT') await say('250 2.1.5 ok');
      else if (verb === 'DATA') {
        await say('354 go ahead');
        await conn.readData(5000);
        await say('250 2.0.0 queued as X');
      } else if (verb === 'QUIT') {
        await say('221 2.0.0 bye');
        conn.end();
        return;
      } else if (verb === 'RSET' || verb === 'NOOP') await say('250 ok');
      else await say('500 5.5.1 what?');
    }
  };
}

type Rec = { usage: number; selector: number; matchingType: number; data: Buffer };

/** The DANE record of the leaf: 3 1 1 of its SPKI (as encoded), or 3 0 1 of the certificate. */
function eeRecord(c: OddCert, selector: 0 | 1): Rec {
  const spki = readCertificate(c.der).spki!;
  return { usage: 3, selector, matchingType: 1, data: hex('sha256', selector === 1 ? spki : c.der) };
}
const taRecord = (c: OddCert): Rec => ({ usage: 2, selector: 0, matchingType: 1, data: hex('sha256', c.issuedBy === 'ca' ? oddCa().der : c.der) });

/** example.test: a secure MX, mx.example.test at 127.0.0.1 (secure), `records` at its TLSA owner. */
function world(port: number, records: Rec[]): FixtureResolver {
  return new FixtureResolver({
    ' SOA': { proof: 'secure', records: [{ mname: 'a.root', rname: 'h.root', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 }] },
    'example.test MX': { proof: 'secure', records: [mx(10, ODD_HOST)] },
    [`${ODD_HOST} A`]: { proof: 'secure', records: ['127.0.0.1'] },
    [`${ODD_HOST} AAAA`]: { proof: 'secure', status: 'nodata' },
    [`_${port}._tcp.${ODD_HOST} TLSA`]: { proof: 'secure', records },
  });
}

async function serve(c: OddCert): Promise<RawServer> {
  const s = await startRawServer(receiver(c));
  servers.push(s);
  return s;
}

const options = (port: number, records: Rec[]) => ({ resolver: world(port, records), port, helo: 'client.example.test', timeoutMs: 5000 });

function expectClean(r: DomainResult): void {
  expect(r.deferredEarly).toBeUndefined();
  expect((r.findings ?? []).map((f) => f.code)).not.toContain('internal-error');
  expect(JSON.stringify(r)).not.toMatch(UNSAFE);
}

describe.each(servable.map((c) => [c.name, c] as const))('%s over TLS', (_name, c) => {
  // The odd ones are matched by their certificate (3 0 1) on every other entry, by key (3 1 1) otherwise.
  const selector = servable.indexOf(c) % 2 === 0 ? 1 : 0;

  it(`check and send with ${3} ${selector} 1: DANE-authenticated, delivered (${c.what})`, async () => {
    const s = await serve(c);
    const o = options(s.port, [eeRecord(c, selector)]);
    const checked = await check('example.test', o);
    expect(checked).toMatchObject({ verdict: 'dane-authenticated', host: ODD_HOST, tls: true });
    expectClean(checked);
    const attempt = checked.hosts[0]!.attempts[0]!;
    expect(attempt.authentication).toMatchObject({ ok: true, usage: 'DANE-EE', depth: 0 });
    expect(attempt.chain?.map((x) => x.certSha256)).toEqual(c.chain.map((d) => hex('sha256', d).toString('hex')));
    const [sent] = await deliver('Subject: odd\r\n\r\nhello\r\n', { ...options(s.port, [eeRecord(c, selector)]), from: 'a@client.example.test', to: ['user@example.test'] });
    expect(sent).toMatchObject({ verdict: 'dane-authenticated', recipients: [{ address: 'user@example.test', status: 'delivered' }] });
    expectClean(sent!);
  });

  it(`check with 2 0 1 of its anchor: ${c.daneTa === 'ok' ? 'DANE-authenticated' : `not authenticated (${c.daneTa})`}, no internal error`, async () => {
    const s = await serve(c);
    const r = await check('example.test', options(s.port, [taRecord(c)]));
    expectClean(r);
    if (c.daneTa === 'ok') expect(r).toMatchObject({ verdict: 'dane-authenticated', hosts: [{ attempts: [{ authentication: { ok: true, usage: 'DANE-TA' } }] }] });
    else {
      expect(r.verdict).toBe('tempfail');
      expect(r.hosts[0]!.attempts[0]!.authentication).toMatchObject({ ok: false, records: [{ code: c.daneTa }] });
    }
  });

  it('scan: one stored DANE-authenticated result', async () => {
    const s = await serve(c);
    const results: DomainResult[] = [];
    const o = options(s.port, [eeRecord(c, selector)]);
    await scanDomains([{ domain: 'example.test', job: { kind: 'probe' } }], { ...o, concurrency: 1, onResult: (r) => void results.push(r) });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ verdict: 'dane-authenticated' });
    expectClean(results[0]!);
  });

  it('dane-smtp tlsa --verify and --connect: authenticated, exit 0, one safe line per certificate', async () => {
    const srv = await tlsaServers.smtp({ certPem: c.chain.map((d) => pem(d)).join(''), keyPem: c.keyPem! });
    const record = eeRecord(c, selector);
    const dns = await tlsaServers.dns((q: dnsPacket.DecodedPacket) => {
      const question = q.questions?.[0];
      if (!question) return null;
      if (question.name === ODD_HOST && question.type === 'A') return reply(q, { ad: true, answers: [{ type: 'A', name: ODD_HOST, ttl: 300, data: '127.0.0.1' }] });
      if (question.name === ODD_HOST && question.type === 'AAAA') return reply(q, { ad: true, answers: [] });
      if (question.type === 'SOA') return reply(q, { ad: true, answers: [ROOT_SOA] });
      if (question.type === 'TLSA') return reply(q, { ad: true, answers: [tlsaRr(question.name, record.usage, record.selector, record.matchingType, record.data.toString('hex'))] });
      return reply(q, { rcode: 'NXDOMAIN' });
    });
    const args = ['--verify', '--connect', `${ODD_HOST}:${srv.port}`, '--tls', 'starttls', '--port', '25', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5'];
    const human = await runTlsaCli(args);
    expect(human.err).toBe('');
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/result: AUTHENTICATED/);
    expect(human.out.replace(/\n/g, ' ')).not.toMatch(UNSAFE);
    const json = await runTlsaCli([...args, '--json']);
    expect(json.code).toBe(0);
    expect(json.out.trimEnd()).not.toMatch(UNSAFE);
    expect(JSON.parse(json.out)).toMatchObject({ mode: 'verify', authenticated: true });
    // Generating records from what the server sends: the 3 1 1 record of its key.
    const gen = await runTlsaCli(['--connect', `${ODD_HOST}:${srv.port}`, '--tls', 'starttls', '--port', '25', '--record', '3 1 1', '--timeout', '5']);
    expect(gen.code).toBe(0);
    expect(gen.out).toContain(`_25._tcp.${ODD_HOST}. IN TLSA 3 1 1 ${eeRecord(c, 1).data.toString('hex')}`);
    expect(gen.out.replace(/\n/g, ' ')).not.toMatch(UNSAFE);
  });
});

describe('DSA: not servable to the DANE client', () => {
  // OpenSSL serves a DSA certificate only with DHE-DSS suites (TLS 1.2, no TLS 1.3 scheme);
  // the client's 'DEFAULT:@SECLEVEL=0' offers none, so the handshake fails (alert 40). The
  // result says so: a TLS failure, deferred, no internal error, no exception.
  for (const c of oddCertificates().filter((x) => x.name === 'dsa' || x.name === 'kitchen-sink')) {
    it(`${c.name}: the handshake fails, the result is a TLS failure`, async () => {
      const tls = { cert: c.chain.map((d) => pem(d)).join(''), key: c.keyPem!, maxVersion: 'TLSv1.2' as const, ciphers: 'ALL:@SECLEVEL=0' };
      const s = await startRawServer(async (conn) => {
        await conn.write('220 mx.example.test ESMTP\r\n');
        for (;;) {
          const line = await conn.readLine(5000).catch(() => undefined);
          if (line === undefined) return;
          if (/^EHLO/i.test(line)) await conn.write('250-mx.example.test\r\n250 STARTTLS\r\n');
          else if (/^STARTTLS/i.test(line)) {
            await conn.write('220 go ahead\r\n');
            await conn.startTls(tls).catch(() => undefined);
            return;
          } else await conn.write('221 bye\r\n');
        }
      });
      servers.push(s);
      const r = await check('example.test', options(s.port, [eeRecord(c, 1)]));
      expect(r.verdict).toBe('tempfail');
      expectClean(r);
      expect(r.hosts[0]!.attempts[0]).toMatchObject({ result: 'failed', tls: false });
      expect(r.hosts[0]!.attempts[0]!.error).toMatch(/handshake|alert/i);
    });
  }
});
