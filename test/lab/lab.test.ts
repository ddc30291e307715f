/**
 * End-to-end tests against the lab world: real nsd + unbound + smtp-server receivers on
 * loopback, and the built CLI (`dist/src/cli/main.js`, made by `npx tsc -p .`).
 * Installs the lab packages with apt-get when missing (root only).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { checkArgs, cliBuilt, EXIT, labMessage, runCli, sendArgs, type CliResult } from './cli.js';
import { scenarios, type Scenario } from './scenarios.js';
import { startWorld, type World } from './world.js';
import type { TamperHow } from './zones.js';

let world: World | undefined;

beforeAll(async () => {
  world = await startWorld({ log: (line) => console.log(line) });
}, 300_000);

afterAll(async () => {
  await world?.stop();
  await world?.stop(); // idempotent
});

function w(): World {
  if (!world) throw new Error('lab world not started');
  return world;
}

/**
 * A scenario the world left out (IPv6, when [::1]:25 cannot be bound) is a visible skip, with
 * the reason. In CI (CI=true) it is a failure unless the machine has no ::1 at all (IPv6
 * disabled): [::1]:25 held by another process must not pass as "skipped".
 */
function requireInWorld(s: Scenario, ctx: TestContext): void {
  if (w().scenarios.some((x) => x.domain === s.domain)) return;
  const why = w().skipped.find((x) => x.domain === s.domain);
  const reason = why?.reason ?? 'not in the world';
  if (process.env.CI === 'true' && !why?.unavailable) throw new Error(`${s.domain} left out of the lab world in CI: ${reason}`);
  ctx.skip(`${s.domain}: ${reason}`);
}

/** unbound's Extended DNS Error (RFC 8914) for each way a zone is made bogus. */
const EDE_BY_HOW: Record<TamperHow | 'wrong-digest', RegExp> = {
  expired: /^7\b/, // Signature Expired
  corrupt: /^6\b/, // DNSSEC Bogus
  'unknown-key': /^9\b/, // DNSKEY Missing ("signatures from unknown keys")
  // unbound 1.17: NODATA whose NSEC3 is gone (nsd sends SOA only) → 10 (RRSIGs Missing, "no
  // signatures"); whose NSEC is gone → 6 ("nodata proof failed"); 12 (NSEC Missing) would fit best.
  'no-denial': /^(6|10|12)\b/,
  'wrong-digest': /^9\b/, // DNSKEY Missing ("DS hash mismatches key")
};

const zoneCases = scenarios.flatMap((s) => s.zones.map((z) => ({ scenario: s, zone: z })));

describe('lab DNS (dig through the lab unbound)', () => {
  it('validates: the TLD SOA carries the ad flag', async () => {
    const r = await w().dig('test.', 'SOA');
    expect(r.status).toBe('NOERROR');
    expect(r.ad).toBe(true);
  });

  it('answers a secure NXDOMAIN for a domain that does not exist', async () => {
    const r = await w().dig('no-such-domain.test.', 'MX');
    expect(r.status).toBe('NXDOMAIN');
    expect(r.ad).toBe(true);
  });

  it('logs the queries it receives', async () => {
    await w().dig('ns.test.', 'A');
    await new Promise((r) => setTimeout(r, 200));
    expect(w().resolverQueries().some((q) => q.name === 'ns.test' && q.type === 'A')).toBe(true);
  });

  it('knows nothing outside the lab root (no traffic leaves loopback)', async () => {
    const r = await w().dig('example.com.', 'A');
    expect(r.status).toBe('NXDOMAIN');
    expect(r.ad).toBe(true);
  });

  it.for(zoneCases.map((c) => [c.zone.name, c.zone.signing, c] as const))(
    'zone %s (%s) has the designed security',
    async ([, , { scenario, zone }], test) => {
      requireInWorld(scenario, test);
      const soa = await w().dig(`${zone.name}.`, 'SOA');
      if (zone.lame) {
        expect(soa.status).toBe('SERVFAIL');
        return;
      }
      if (zone.ds === 'wrong-digest') {
        // No DNSKEY matches the DS: everything in the zone is bogus.
        expect(soa.status).toBe('SERVFAIL');
        expect(soa.ede ?? '', 'EDE present').toMatch(EDE_BY_HOW['wrong-digest']);
        return;
      }
      expect(soa.status).toBe('NOERROR');
      // An unusable DS (unsupported digest type) makes the zone insecure, not bogus.
      expect(soa.ad).toBe(zone.signing !== 'unsigned' && zone.ds !== 'unsupported-digest');
      if (zone.expiresInDays !== undefined) {
        const sig = soa.raw.split('\n').find((l) => /\sRRSIG\s+SOA\s/.test(l));
        const exp = sig?.split(/\s+/)[8] ?? '';
        const at = Date.UTC(+exp.slice(0, 4), +exp.slice(4, 6) - 1, +exp.slice(6, 8), +exp.slice(8, 10), +exp.slice(10, 12));
        expect(Math.round((at - Date.now()) / 86_400_000), `SOA RRSIG expires ${exp}`).toBe(zone.expiresInDays);
      }
      for (const t of zone.tamper ?? []) {
        const r = await w().dig(`${t.owner}.`, t.type);
        expect(r.status, `${t.owner} ${t.type} must be bogus`).toBe('SERVFAIL');
        expect(r.ede ?? '', 'EDE present').toMatch(EDE_BY_HOW[t.how]);
      }
    },
  );
});

/** `openssl s_client -starttls smtp`: the certificates a receiver really serves, and its TLS version. */
async function probeReceiver(address: string, servername: string, tls10: boolean): Promise<{ certs: number; protocol: string }> {
  const target = address.includes(':') ? `[${address}]:25` : `${address}:25`;
  const args = ['s_client', '-starttls', 'smtp', '-connect', target, '-servername', servername, '-showcerts'];
  if (tls10) args.push('-tls1', '-cipher', 'DEFAULT@SECLEVEL=0');
  // stdin is /dev/null: s_client ends right after the handshake.
  const stdout = await new Promise<string>((resolve) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.on('error', () => resolve(out));
  });
  const certs = stdout.split('-----BEGIN CERTIFICATE-----').length - 1;
  const protocol = /Protocol *: *(\S+)/.exec(stdout)?.[1] ?? /New, (TLSv[\d.]+)/.exec(stdout)?.[1] ?? '';
  return { certs, protocol };
}

describe('lab receivers (openssl s_client)', () => {
  const withTls = scenarios.flatMap((s) => s.hosts.filter((h) => h.tls !== false).map((h) => ({ s, h })));
  it.for(withTls.map(({ s, h }) => [h.name, s, h] as const))('%s serves the designed chain and logs the SNI', async ([, s, h], test) => {
    requireInWorld(s, test);
    const rx = w().receiverList.find((r) => r.name === h.name);
    expect(rx?.starttls).toBe(true);
    const before = w().receivers.connections.length;
    const got = await probeReceiver(rx?.address ?? '', h.name, h.tls10Only === true);
    const profile = h.tls === false ? {} : (h.tls ?? {});
    const expected = profile.selfSigned ? 1 : profile.served === 'leaf' ? 1 : profile.served === 'leaf+intermediate' ? 2 : 3;
    expect(got.certs).toBe(expected);
    if (h.tls10Only) expect(got.protocol).toBe('TLSv1');
    const conn = w().receivers.connections.slice(before).find((c) => c.receiver === h.name);
    expect(conn?.servername).toBe(h.name);
  });
});

describe.skipIf(!cliBuilt())('dane-smtp check against the lab', () => {
  it('reports that the lab resolver validates (resolverValidates: true)', async () => {
    const run = await runCli(checkArgs(w().resolver, ['ee-311.test']));
    expect(run.json.length, run.stderr || run.stdout).toBeGreaterThan(0);
    expect(run.json[0]?.resolverValidates).toBe(true);
  });

  it.for(scenarios.map((s) => [s.domain, s.expect.verdict, s] as const))(
    'check %s → %s',
    async ([, , s], test) => {
      requireInWorld(s, test);
      const run = await runCli(checkArgs(w().resolver, [s.domain]));
      const line: CliResult | undefined = run.json.find((j) => j.domain === s.domain) ?? run.json[0];
      const ctx = `${s.description}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
      expect(line, ctx).toBeDefined();
      expect(line?.verdict, ctx).toBe(s.expect.verdict);
      if (s.expect.hosts.length === 0) expect(line?.host ?? null, ctx).toBeNull();
      else expect(s.expect.hosts, ctx).toContain(line?.host);
      if (s.expect.verdict === 'dane-authenticated' || s.expect.verdict === 'encrypt-unauthenticated') {
        expect(line?.tls, ctx).toBe(true);
      }
      expect(line?.resolverValidates, ctx).toBe(true);
      for (const q of s.expect.noQueries ?? []) {
        const asked = w().resolverQueries().map((x) => `${x.name} ${x.type}`);
        expect(asked, `${ctx}\nthe client must not ask ${q}`).not.toContain(q);
      }
    },
  );
});

describe.skipIf(!cliBuilt())('dane-smtp send against the lab', () => {
  it.for(scenarios.map((s) => [s.domain, s.expect.verdict, s] as const))(
    'send to user@%s → %s',
    async ([, , s], test) => {
      requireInWorld(s, test);
      const world = w();
      const token = randomBytes(8).toString('hex');
      const connectionsBefore = world.receivers.connections.length;
      const run = await runCli(sendArgs(world.resolver, s.domain), { input: labMessage(s.domain, token) });
      const ctx = `${s.description}\nexit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
      const expectedCode =
        s.expect.verdict === 'tempfail' ? EXIT.TEMPFAIL : s.expect.verdict === 'undeliverable' ? EXIT.UNDELIVERABLE : EXIT.OK;
      expect(run.code, ctx).toBe(expectedCode);
      const line = run.json.find((j) => j.domain === s.domain);
      expect(line, `${ctx}\none --json line for the domain`).toBeDefined();
      expect(line?.verdict, ctx).toBe(s.expect.verdict);

      const got = world.receivers.withToken(token);
      if (s.expect.hosts.length === 0) {
        expect(got, `${ctx}\nno receiver may take the message`).toEqual([]);
      } else {
        expect(got.length, `${ctx}\nexactly one receiver takes the message`).toBe(1);
        const m = got[0];
        expect(s.expect.hosts, ctx).toContain(m?.receiver);
        const rx = world.receiverList.find((r) => r.name === m?.receiver);
        // TLS whenever the receiver offers STARTTLS; never plaintext to a DANE host.
        expect(m?.tls, ctx).toBe(rx?.starttls ?? true);
        if (s.expect.verdict === 'dane-authenticated' || s.expect.verdict === 'encrypt-unauthenticated') expect(m?.tls, ctx).toBe(true);
        if (m?.tls) {
          if (s.expect.tlsVersion) expect(m.tlsVersion, ctx).toBe(s.expect.tlsVersion);
          else expect(m.tlsVersion ?? '', ctx).toMatch(/^TLSv1\.[23]$/);
        }
        // RFC 7672 §8.1: SNI is the TLSA base domain of the host that took the message.
        if (s.expect.verdict === 'dane-authenticated') expect(s.expect.sni, `${s.domain}: a DANE scenario names its SNI`).toBeDefined();
        if (s.expect.sni) {
          const sni = typeof s.expect.sni === 'string' ? s.expect.sni : s.expect.sni[m?.receiver ?? ''];
          expect(sni, `${ctx}\nan SNI expectation for ${m?.receiver}`).toBeDefined();
          expect(m?.servername, `${ctx}\nSNI = TLSA base domain`).toBe(sni);
        }
        expect(m?.envelope.from, ctx).toBe('sender@client.test');
        expect(m?.envelope.to, ctx).toEqual([`user@${s.domain}`]);
      }
      if (s.domain === 'null-mx.test') {
        const touched = world.receivers.connections.slice(connectionsBefore).filter((c) => c.scenario === s.domain);
        expect(touched, `${ctx}\nno connection to the null-MX domain's A record`).toEqual([]);
      }
    },
  );
});

describe.skipIf(!cliBuilt())('send: recipients the primary defers go on to the next MX host (Postfix)', () => {
  it('pref-order.test: mx1 takes one recipient and defers the other; mx2 (DANE) takes that one alone, over TLS', async (test) => {
    const world = w();
    const s = scenarios.find((x) => x.domain === 'pref-order.test')!;
    requireInWorld(s, test);
    const token = randomBytes(8).toString('hex');
    const args = sendArgs(world.resolver, s.domain);
    args.splice(args.indexOf('--to') + 2, 0, '--to', `defer-at-mx1@${s.domain}`);
    const run = await runCli(args, { input: labMessage(s.domain, token) });
    const ctx = `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
    expect(run.code, ctx).toBe(EXIT.OK);
    const line = run.json.find((j) => j.domain === s.domain) as unknown as { verdict: string; host: string; reason: string; recipients: { address: string; status: string; host: string }[] };
    expect(line.verdict, ctx).toBe('opportunistic');
    expect(line.host, ctx).toBe('mx1.pref-order.test');
    expect(line.recipients.map((r) => [r.address, r.status, r.host]), ctx).toEqual([
      [`user@${s.domain}`, 'delivered', 'mx1.pref-order.test'],
      [`defer-at-mx1@${s.domain}`, 'delivered', 'mx2.pref-order.test'],
    ]);
    expect(line.reason, ctx).toMatch(/went on to mx2\.pref-order\.test \(dane-authenticated\)/);
    // Confirmed at the receivers: each took the message once, for its own recipient only.
    const got = world.receivers.withToken(token).map((m) => ({ receiver: m.receiver, to: m.envelope.to, tls: m.tls, sni: m.servername }));
    expect(got, ctx).toEqual([
      { receiver: 'mx1.pref-order.test', to: [`user@${s.domain}`], tls: true, sni: 'mx1.pref-order.test' },
      { receiver: 'mx2.pref-order.test', to: [`defer-at-mx1@${s.domain}`], tls: true, sni: 'mx2.pref-order.test' },
    ]);
  });
});
