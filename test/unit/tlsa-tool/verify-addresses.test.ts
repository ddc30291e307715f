/**
 * `dane-smtp tlsa --connect HOST`: every address of the host is checked. The addresses come
 * from the --resolver (a scripted DNS server on loopback) with --verify, or from the system
 * resolver (injected) when generating records. SMTP servers listen on one port on several
 * explicit loopback addresses (127.X.Y.1, 127.X.Y.2, ::1), the port chosen by the OS.
 */
import * as net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { reply, ROOT_SOA, tlsaRr } from '../../support/dns-server.js';
import { runTlsaCli, useTempDir } from '../../support/tlsa-cli.js';
import { loopbackNet, useTlsaServers, type TlsaTestServer } from '../../support/tlsa-servers.js';
import { makeCert, makeChain, spkiSha256, type Chain, type Issued } from '../../support/pki.js';

let chain: Chain;
/** Another key for the same name (a renewal that reached one node only). */
let other: Issued;
let next: Issued;
const { file } = useTempDir('tlsa-addr-');
const servers = useTlsaServers(() => ({ certPem: chain.servedPem, keyPem: chain.leaf.keyPem }));

beforeAll(async () => {
  chain = await makeChain({ leafCn: 'mx.example.test' });
  other = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
  next = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
}, 60_000);

const leafSpki = () => spkiSha256(chain.leaf.spkiDer);
const otherSpki = () => spkiSha256(other.spkiDer);
const otherPem = () => `${other.certPem}${chain.intermediate.certPem}`;

interface Node {
  address: string;
  /** The PEM chain served (leaf first), or null: nothing listens there (connection refused). */
  certPem: string | null;
  keyPem?: string;
}

interface Cluster {
  port: number;
  /** STARTTLS handshakes per address (addresses with none left out). */
  readonly handshakes: Map<string, number>;
}

/** STARTTLS SMTP servers on one port on each address that has a certificate. */
async function startCluster(nodes: Node[]): Promise<Cluster> {
  for (let attempt = 0; ; attempt++) {
    const started: [string, TlsaTestServer][] = [];
    let port = 0;
    try {
      for (const n of nodes) {
        if (n.certPem === null) continue;
        const srv = await servers.smtp({ host: n.address, port, certPem: n.certPem, keyPem: n.keyPem ?? chain.leaf.keyPem });
        started.push([n.address, srv]);
        port = srv.port;
      }
    } catch (e) {
      await Promise.all(started.map(([, srv]) => srv.close()));
      if (attempt < 10 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
      throw e;
    }
    if (port === 0) {
      // Nothing listens anywhere: a free port, closed again.
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, nodes[0]!.address, resolve));
      port = (probe.address() as net.AddressInfo).port;
      await new Promise((r) => probe.close(r));
    }
    return {
      port,
      get handshakes() {
        return new Map(started.filter(([, srv]) => srv.handshakes > 0).map(([address, srv]) => [address, srv.handshakes]));
      },
    };
  }
}

interface Zone {
  a?: string[];
  aaaa?: string[];
  /** The AAAA lookup gets SERVFAIL. */
  aaaaFails?: boolean;
  tlsa: string[];
}

/** A validating resolver on loopback: the root SOA with AD, mx.example.test A/AAAA and TLSA (hex of 3 1 1). */
async function startDns(zone: Zone, bind: string) {
  return servers.dns(
    (q) => {
      const question = q.questions?.[0];
      if (!question) return null;
      if (question.type === 'SOA' && question.name === '.') return reply(q, { ad: true, answers: [ROOT_SOA] });
      if (question.name === 'mx.example.test' && question.type === 'A') {
        return reply(q, { ad: true, answers: (zone.a ?? []).map((data) => ({ type: 'A', name: question.name, ttl: 300, data })) });
      }
      if (question.name === 'mx.example.test' && question.type === 'AAAA') {
        if (zone.aaaaFails) return reply(q, { rcode: 'SERVFAIL' });
        return reply(q, { ad: true, answers: (zone.aaaa ?? []).map((data) => ({ type: 'AAAA', name: question.name, ttl: 300, data })) });
      }
      if (question.type === 'TLSA') return reply(q, { ad: true, answers: zone.tlsa.map((hex) => tlsaRr(question.name, 3, 1, 1, hex)) });
      return reply(q, { ad: true, rcode: 'NXDOMAIN' });
    },
    { address: bind },
  );
}

async function verify(nodes: Node[], zone: Omit<Zone, 'a' | 'aaaa'> & { extra?: string[] }, ip: (i: number) => string) {
  const cluster = await startCluster(nodes);
  const a = nodes.filter((n) => !n.address.includes(':')).map((n) => n.address);
  const aaaa = nodes.filter((n) => n.address.includes(':')).map((n) => n.address);
  const dns = await startDns({ ...zone, a, aaaa }, ip(53));
  const r = await runTlsaCli(['--verify', '--connect', `mx.example.test:${cluster.port}`, '--port', '25', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', ...(zone.extra ?? [])]);
  return { ...r, cluster, dns };
}

describe('tlsa --verify --connect HOST: every address', () => {
  it('three addresses (two A, one AAAA ::1) from the --resolver, all matching: exit 0, a section per address', async () => {
    const ip = loopbackNet();
    const nodes = [
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: chain.servedPem },
      { address: '::1', certPem: chain.servedPem },
    ];
    const r = await verify(nodes, { tlsa: [leafSpki()] }, ip);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    // The addresses come from the resolver given with --resolver, not the system resolver.
    const asked = r.dns.queries.map((q) => `${q.query?.questions?.[0]?.name} ${q.query?.questions?.[0]?.type}`);
    expect(asked).toEqual(expect.arrayContaining(['mx.example.test A', 'mx.example.test AAAA']));
    expect(r.out).toContain(`addresses of mx.example.test (from ${r.dns.address}:${r.dns.port}): ${ip(1)}, ${ip(2)}, ::1`);
    for (const where of [`${ip(1)}:${r.cluster.port}`, `${ip(2)}:${r.cluster.port}`, `[::1]:${r.cluster.port}`]) {
      expect(r.out).toContain(`server ${where} (STARTTLS, `);
    }
    expect(r.out.match(/result: AUTHENTICATED/g)).toHaveLength(3);
    expect(r.out).toMatch(/overall: AUTHENTICATED: all 3 addresses match\n/);
    expect([...r.cluster.handshakes.values()]).toEqual([1, 1, 1]);
  });

  it('the second address serves another key: exit 1, the address named, --json per address', async () => {
    const ip = loopbackNet();
    const nodes = [
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ];
    const r = await verify(nodes, { tlsa: [leafSpki()] }, ip);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`warning: the addresses of mx.example.test serve 2 different keys: ${ip(1).replace(/\./g, '\\.')}: CN=mx.example.test, SPKI SHA-256 ${leafSpki().slice(0, 16)}…; ${ip(2).replace(/\./g, '\\.')}: CN=mx.example.test, SPKI SHA-256 ${otherSpki().slice(0, 16)}…`));
    expect(r.out).toMatch(/result: AUTHENTICATED/);
    expect(r.out).toMatch(/result: NOT AUTHENTICATED/);
    expect(r.out).toContain(`overall: NOT AUTHENTICATED: ${ip(2)} does NOT match: `);
    expect(r.out).toContain('1 of 2 addresses match');
    expect(r.out).toContain(`SPKI SHA-256 ${otherSpki()}`);
    // The record to publish for the key the second address serves, as a zone-file line; once.
    expect(r.out).toContain(`no usable record matches the served certificate; publish for its key (beside the old record until caches expire, or put the old key back):\n  _25._tcp.mx.example.test. IN TLSA 3 1 1 ${otherSpki()}\n`);
    expect(r.out.match(/IN TLSA 3 1 1/g)).toHaveLength(1);
  });

  it('--json carries the per-address results', async () => {
    const ip = loopbackNet();
    const nodes = [
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ];
    const r = await verify(nodes, { tlsa: [leafSpki()], extra: ['--json'] }, ip);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      mode: 'verify',
      ok: false,
      authenticated: false,
      dns: { status: 'data', proof: 'secure' },
      hostAddresses: { addresses: [ip(1), ip(2)], source: `${ip(53)}:${r.dns.port}` },
      addresses: [
        { address: ip(1), port: r.cluster.port, authenticated: true, connect: { address: ip(1), tls: 'starttls' }, records: [{ matches: [{ depth: 0 }] }] },
        { address: ip(2), port: r.cluster.port, authenticated: false, records: [{ matches: [] }] },
      ],
    });
    expect(j.addresses[1].served[0].spkiSha256).toBe(otherSpki());
    // suggested: the zone-file line(s) for keys that no usable record matches, per address and over all.
    expect(j.addresses[0].suggested).toBeUndefined();
    expect(j.addresses[1].suggested).toEqual([`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${otherSpki()}`]);
    expect(j.suggested).toEqual([`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${otherSpki()}`]);
    expect(j.summary).toMatch(new RegExp(`^NOT authenticated: ${ip(2).replace(/\./g, '\\.')} does NOT match: `));
  });

  it('an address that refuses connections is reported and fails the check', async () => {
    const ip = loopbackNet();
    const nodes = [
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: null },
    ];
    const r = await verify(nodes, { tlsa: [leafSpki()] }, ip);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`server ${ip(2)}:${r.cluster.port}: `);
    expect(r.out).toMatch(/ECONNREFUSED|refused/);
    expect(r.out).not.toContain('matches no served certificate');
    expect(r.out).toContain(`overall: NOT AUTHENTICATED: ${ip(2)} cannot be checked: `);
    expect(r.out).toMatch(/result: AUTHENTICATED/);
  });

  it('a failed AAAA lookup is a failure, named, even when the A addresses match', async () => {
    const ip = loopbackNet();
    const r = await verify([{ address: ip(1), certPem: chain.servedPem }], { tlsa: [leafSpki()], aaaaFails: true }, ip);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/overall: NOT AUTHENTICATED: address lookup mx\.example\.test AAAA failed/);
    expect(r.err).toMatch(/the AAAA lookup of mx\.example\.test failed .*a sending MTA skips this host altogether/);
  });

  it('--next: ready only when the RRset covers the key of every address and the next key', async () => {
    const ip = loopbackNet();
    const nextFile = file('next.pem', next.certPem);
    const nodes = [
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ];
    // The RRset covers both current keys but not the next one.
    const notReady = await verify(nodes, { tlsa: [leafSpki(), otherSpki()], extra: ['--next', nextFile, '--json'] }, ip);
    expect(notReady.code).toBe(1);
    const j = JSON.parse(notReady.out);
    expect(j.authenticated).toBe(true);
    expect(j.rollover.status).toBe('current-only');
    expect(j.rollover.keys.map((k: { addresses: string[] }) => k.addresses)).toEqual([[ip(1)], [ip(2)]]);
    const zone = j.rollover.publishZone.join('\n');
    for (const h of [leafSpki(), otherSpki(), spkiSha256(next.spkiDer)]) expect(zone).toContain(`3 1 1 ${h}`);
  });

  it('--next: all addresses covered with the next key: exit 0', async () => {
    const ip = loopbackNet();
    const nextFile = file('next2.pem', next.certPem);
    const nodes = [
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ];
    const ready = await verify(nodes, { tlsa: [leafSpki(), otherSpki(), spkiSha256(next.spkiDer)], extra: ['--next', nextFile] }, ip);
    expect(ready.code).toBe(0);
    expect(ready.out).toMatch(/status over every address: ready/);
    // One address not covered: not ready.
    const ip2 = loopbackNet();
    const half = await verify(
      [
        { address: ip2(1), certPem: chain.servedPem },
        { address: ip2(2), certPem: otherPem(), keyPem: other.keyPem },
      ],
      { tlsa: [leafSpki(), spkiSha256(next.spkiDer)], extra: ['--next', nextFile] },
      ip2,
    );
    expect(half.code).toBe(1);
    expect(half.out).toMatch(/status over every address: next-only — not ready/);
    expect(half.out).toMatch(/; current key of 127\.\d+\.\d+\.2 \(new\)\n/);
  });
});

describe('tlsa --connect HOST (generating records): every address', () => {
  it('two addresses with different keys: a warning naming them, records for each key', async () => {
    const ip = loopbackNet();
    const cluster = await startCluster([
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ]);
    // No --resolver: the system resolver (injected here) gives both addresses.
    const r = await runTlsaCli(['--connect', `mx.example.test:${cluster.port}`, '--timeout', '5'], { resolveHost: async () => [ip(1), ip(2)] });
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`warning: the addresses of mx.example.test serve 2 different keys: ${ip(1).replace(/\./g, '\\.')}: .*; ${ip(2).replace(/\./g, '\\.')}: `));
    expect(r.out).toContain(`; served by ${ip(1)}: chain of 2 certificates`);
    expect(r.out).toContain(`; served by ${ip(2)}: chain of 2 certificates`);
    expect(r.out).toContain(`_${cluster.port}._tcp.mx.example.test. IN TLSA 3 1 1 ${leafSpki()}`);
    expect(r.out).toContain(`_${cluster.port}._tcp.mx.example.test. IN TLSA 3 1 1 ${otherSpki()}`);
  });

  it('--resolver gives the addresses; --json says which address served which record', async () => {
    const ip = loopbackNet();
    const cluster = await startCluster([
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ]);
    const dns = await startDns({ a: [ip(1), ip(2)], tlsa: [] }, ip(53));
    const r = await runTlsaCli(['--connect', `mx.example.test:${cluster.port}`, '--resolver', `${dns.address}:${dns.port}`, '--record', '3 1 1', '--record', '2 1 1', '--json', '--timeout', '5']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.addresses.map((a: { address: string }) => a.address)).toEqual([ip(1), ip(2)]);
    const by = Object.fromEntries(j.records.map((x: { data: string; servedBy: string[] }) => [x.data, x.servedBy]));
    expect(by[leafSpki()]).toEqual([ip(1)]);
    expect(by[otherSpki()]).toEqual([ip(2)]);
    expect(by[spkiSha256(chain.intermediate.spkiDer)]).toEqual([ip(1), ip(2)]);
    expect(j.warnings.join('\n')).toMatch(/serve 2 different keys/);
  });

  it('one address unreachable: the records of the others, a warning naming it, exit 69', async () => {
    const ip = loopbackNet();
    const cluster = await startCluster([
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: null },
    ]);
    const r = await runTlsaCli(['--connect', `mx.example.test:${cluster.port}`, '--timeout', '5'], { resolveHost: async () => [ip(1), ip(2)] });
    expect(r.code).toBe(69);
    expect(r.out).toContain(`IN TLSA 3 1 1 ${leafSpki()}`);
    expect(r.err).toContain(ip(2));
    expect(r.err).toMatch(/not in the records below/);
  });

  it('an explicit address connects to that address only', async () => {
    const ip = loopbackNet();
    const cluster = await startCluster([
      { address: ip(1), certPem: chain.servedPem },
      { address: ip(2), certPem: otherPem(), keyPem: other.keyPem },
    ]);
    const r = await runTlsaCli(['--connect', `${ip(2)}:${cluster.port}`, '--host', 'mx.example.test', '--json', '--timeout', '5'], {
      resolveHost: async () => [ip(1), ip(2)],
    });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.addresses).toMatchObject([{ address: ip(2) }]);
    expect(j.records[0].data).toBe(otherSpki());
    expect([...cluster.handshakes.keys()]).toEqual([ip(2)]);
  });
});
