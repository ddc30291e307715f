/**
 * Validation cost per lookup and per domain of the ValidatingResolver, against the signed
 * test hierarchy of test/support (zones made with ldnsutils, served on an ephemeral
 * 127.0.0.1 port). Prints numbers; it asserts nothing. The test upstream runs in this
 * process, so the CPU column includes the cost of answering (small next to validation, but
 * not zero); `cold` rows fetch and validate the whole chain root → TLD → zone with a new
 * resolver each time. `check` rows do a domain's lookups as `dane-smtp check` does them
 * (MX; the first MX host's A and AAAA together; its TLSA when those are secure).
 *
 *   npm run bench:dnssec [-- iterations]
 */
import { performance } from 'node:perf_hooks';
import { cpuUsage } from 'node:process';
import { parseTrustAnchors } from '../src/dns/dnssec/trust-anchors.js';
import { ValidatingResolver } from '../src/dns/dnssec/validating-resolver.js';
import { verifyRRset, zoneKeyOf } from '../src/dns/dnssec/verify.js';
import { parseDnskey, parseRrsig, T } from '../src/dns/dnssec/wire-dnssec.js';
import { findTlsaBase } from '../src/engine/host-plan.js';
import type { RecordType } from '../src/dns/types.js';
import { buildWorld } from '../test/support/dnssec-world.js';
import { cleanupZones } from '../test/support/dnssec-zones.js';

const N = Number(process.argv[2] ?? 200);

interface Row {
  what: string;
  n: number;
  wallMs: number;
  cpuMs: number;
  queries: number;
}

function fmt(r: Row): string {
  return `${r.what.padEnd(58)} ${String(r.n).padStart(5)}  ${(r.wallMs / r.n).toFixed(3).padStart(8)} ms  ${(r.cpuMs / r.n).toFixed(3).padStart(8)} ms CPU  ${(r.queries / r.n).toFixed(1).padStart(5)} queries`;
}

async function measure(what: string, n: number, body: (i: number) => Promise<number>): Promise<Row> {
  const c0 = cpuUsage();
  const t0 = performance.now();
  let queries = 0;
  for (let i = 0; i < n; i++) queries += await body(i);
  const wallMs = performance.now() - t0;
  const c = cpuUsage(c0);
  return { what, n, wallMs, cpuMs: (c.user + c.system) / 1000, queries };
}

async function main(): Promise<void> {
  const t = performance.now();
  const world = await buildWorld();
  console.log(`zones built and served in ${(performance.now() - t).toFixed(0)} ms (not counted below); ${N} iterations`);
  const anchors = parseTrustAnchors(world.anchorDs);
  const make = () => new ValidatingResolver({ upstream: world.address, timeoutMs: 2000, trustAnchors: anchors });
  const rows: Row[] = [];
  const lookup = async (r: ValidatingResolver, name: string, type: RecordType) => {
    const before = r.stats.queries;
    const a = await r.lookup(name, type);
    if (a.status === 'failed') throw new Error(`${name} ${type}: ${a.reason}`);
    return r.stats.queries - before;
  };

  // Warm-up (JIT, key objects), not counted: else the first rows pay for it.
  for (let i = 0; i < 20; i++) await lookup(make(), 'www.secure.test', 'A');

  // Cold: a new resolver each time, the whole chain root → test → zone is fetched and validated.
  rows.push(await measure('cold: www.secure.test A (ECDSA/Ed25519/ECDSA chain, NSEC)', N, (_) => lookup(make(), 'www.secure.test', 'A')));
  rows.push(await measure('cold: www.nsec3.test A (RSA-2048 KSK+ZSK leaf)', N, (_) => lookup(make(), 'www.nsec3.test', 'A')));
  rows.push(await measure('cold: chain.secure.test A (CNAME chain across zones)', N, (_) => lookup(make(), 'chain.secure.test', 'A')));
  rows.push(await measure('cold: www.insecure.test A (NSEC3 no-DS proof)', N, (_) => lookup(make(), 'www.insecure.test', 'A')));

  // Warm keys: one resolver, each name new (answer validated, DNSKEY/DS from the cache).
  const warm = make();
  await lookup(warm, 'www.secure.test', 'A');
  await lookup(warm, 'www.nsec3.test', 'A');
  rows.push(await measure('warm keys: n<i>.secure.test A, NXDOMAIN by NSEC', N, (i) => lookup(warm, `n${i}.secure.test`, 'A')));
  rows.push(await measure('warm keys: n<i>.nsec3.test A, NXDOMAIN by NSEC3 (2 iterations)', N, (i) => lookup(warm, `n${i}.nsec3.test`, 'A')));
  rows.push(await measure('warm keys: w<i>.wild.secure.test A, wildcard + NSEC', N, (i) => lookup(warm, `w${i}.wild.secure.test`, 'A')));
  rows.push(await measure('cached answer: www.secure.test A', N * 10, () => lookup(warm, 'www.secure.test', 'A')));

  console.log(`${'lookup'.padEnd(58)} ${'n'.padStart(5)}  ${'wall/lookup'.padStart(11)}  ${'CPU/lookup'.padStart(12)}`);
  for (const r of rows) console.log(fmt(r));

  // A whole check of one domain: its lookups in the order `check` makes them (src/core/rfc7672/host.ts).
  const check = async (r: ValidatingResolver, domain: string, expectTlsa: boolean) => {
    const before = r.stats.queries;
    const mx = await r.lookup(domain, 'MX');
    if (mx.status !== 'data') throw new Error(`${domain} MX: ${mx.reason ?? mx.status}`);
    const host = [...mx.records].sort((a, b) => a.preference - b.preference)[0]!.exchange;
    const [a, aaaa] = await Promise.all([r.lookup(host, 'A'), r.lookup(host, 'AAAA')]);
    if (a.status === 'failed' || aaaa.status === 'failed') throw new Error(`${host}: ${a.reason ?? aaaa.reason}`);
    const t = await findTlsaBase(r, host, [a, aaaa], 25);
    if ((t.result.kind === 'found') !== expectTlsa) throw new Error(`${host} TLSA: ${t.result.kind}`);
    return r.stats.queries - before;
  };
  const checks: Row[] = [];
  const domains = [
    ['secure.test', 'ECDSA, NSEC; AAAA NODATA; TLSA', true],
    ['nsec3.test', 'RSA-2048, NSEC3; AAAA NODATA; TLSA', true],
    ['insecure.test', 'insecure delegation, no TLSA', false],
  ] as const;
  for (const [d, what, tlsa] of domains) checks.push(await measure(`check cold: ${d} (${what})`, N, () => check(make(), d, tlsa)));
  for (const [d, , tlsa] of domains) {
    const r = make();
    await check(r, d, tlsa);
    checks.push(await measure(`check warm: ${d} (every answer cached)`, N * 10, () => check(r, d, tlsa)));
  }
  console.log(`\n${'check (MX, A + AAAA, TLSA)'.padEnd(58)} ${'n'.padStart(5)}  ${'wall/check'.padStart(11)}  ${'CPU/check'.padStart(12)}`);
  for (const r of checks) console.log(fmt(r));

  // Pure signature verification of DNSKEY RRsets, per algorithm.
  console.log('\nverifyRRset (DNSKEY RRset, key objects cached):');
  const now = Math.floor(Date.now() / 1000);
  for (const [zone, label] of [['', 'ECDSAP256SHA256 (root)'], ['test', 'ED25519 (test)'], ['nsec3.test', 'RSASHA256 2048 (nsec3.test)']] as const) {
    const recs = world.zones.get(zone)!.records;
    const keys = recs.filter((r) => r.type === T.DNSKEY && r.name === zone);
    const set = { owner: zone, type: T.DNSKEY, class: 1, rdatas: keys.map((r) => r.rdata), ttl: 300 };
    const zk = keys.map((r) => zoneKeyOf(zone, parseDnskey(r.rdata)));
    const sigs = recs.filter((r) => r.type === T.RRSIG && r.name === zone).map((r) => parseRrsig(r.rdata)).filter((s) => s.typeCovered === T.DNSKEY);
    const n = N * 10;
    const c0 = cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if (!verifyRRset(set, sigs, zk, { nowSec: now, ttl: 300 }).ok) throw new Error(`verify ${label}`);
    const c = cpuUsage(c0);
    console.log(`  ${label.padEnd(32)} ${((performance.now() - t0) / n * 1000).toFixed(1).padStart(8)} µs  ${(((c.user + c.system) / n)).toFixed(1).padStart(8)} µs CPU`);
  }
  await world.upstream.close();
  await cleanupZones();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
