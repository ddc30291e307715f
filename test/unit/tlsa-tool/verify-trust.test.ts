/**
 * `dane-smtp tlsa --verify` with the resolver trust of check and send (src/dns/resolver-trust.ts):
 * --trust-anchor FILE and --validate validate DNSSEC in process, so a recursive resolver that
 * only passes DNSSEC records through (DnssecUpstream, which never sets AD) is enough. A signed
 * hierarchy root → test → lo.test on loopback; mx.lo.test is a STARTTLS server on a loopback
 * address with a 3 1 1 record for its key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnssecUpstream } from '../../support/dnssec-upstream.js';
import { buildZone, cleanupZones, type BuiltZone } from '../../support/dnssec-zones.js';
import { makeCert, spkiSha256, type Issued } from '../../support/pki.js';
import { runTlsaCli, useTempDir } from '../../support/tlsa-cli.js';
import { loopbackNet, useTlsaServers } from '../../support/tlsa-servers.js';

const HOST = 'mx.lo.test';
const ip = loopbackNet();
let leaf: Issued;
let upstream: DnssecUpstream;
let resolver: string;
let root: BuiltZone;
let zone: BuiltZone;
const tmp = useTempDir('tlsa-trust-');
const servers = useTlsaServers(() => ({ certPem: leaf.certPem, keyPem: leaf.keyPem }));

beforeAll(async () => {
  leaf = await makeCert({ cn: HOST, sans: [HOST] });
  zone = await buildZone({
    name: 'lo.test',
    algorithm: 'ECDSAP256SHA256',
    records: [`${HOST}. 300 IN A ${ip(1)}`, `_25._tcp.${HOST}. 300 IN TLSA 3 1 1 ${spkiSha256(leaf.spkiDer)}`],
  });
  const tld = await buildZone({ name: 'test', algorithm: 'ECDSAP256SHA256', records: ['lo.test. 300 IN NS ns.lo.test.', 'ns.lo.test. 300 IN A 127.0.0.1', ...zone.ds] });
  root = await buildZone({ name: '', algorithm: 'ECDSAP256SHA256', records: ['test. 300 IN NS ns.test.', 'ns.test. 300 IN A 127.0.0.1', ...tld.ds] });
  upstream = new DnssecUpstream([root, tld, zone]);
  const a = await upstream.start();
  resolver = `${a.server}:${a.port}`;
}, 120_000);

afterAll(async () => {
  await upstream?.close();
  await cleanupZones();
});

async function verify(extra: string[]) {
  upstream.faults = {};
  const srv = await servers.smtp({ host: ip(1) });
  return runTlsaCli(['--verify', '--connect', `${HOST}:${srv.port}`, '--port', '25', '--resolver', resolver, '--timeout', '5', ...extra]);
}

describe('tlsa --verify --trust-anchor / --validate: DNSSEC validated here, as check and send do', () => {
  it('--trust-anchor with the root DS: the records validate here and the server is authenticated', async () => {
    const anchor = tmp.file('root.ds', `${root.ds.join('\n')}\n`);
    const r = await verify(['--trust-anchor', anchor, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ mode: 'verify', authenticated: true, ok: true, dns: { status: 'data', proof: 'secure' }, resolver: { validates: true, trust: 'self-validating' } });
    expect(j.hostAddresses.addresses).toEqual([ip(1)]);
    expect(j.warnings).toEqual([]);
  });

  it('the human report says where the proof comes from', async () => {
    const anchor = tmp.file('root-h.ds', `${root.ds.join('\n')}\n`);
    const r = await verify(['--trust-anchor', anchor]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/TLSA _25\._tcp\.mx\.lo\.test: 1 record\(s\), TTL \d+, DNSSEC secure \(validated here\)/);
    expect(r.out).toMatch(/overall: AUTHENTICATED/);
  });

  it('an anchor below the root (lo.test DS): the root is not secure, but names under the anchor are (warned, still authenticated)', async () => {
    const anchor = tmp.file('lo.ds', `${zone.ds.join('\n')}\n`);
    const r = await verify(['--trust-anchor', anchor, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ authenticated: true, resolver: { validates: false, trust: 'self-validating' }, dns: { proof: 'secure' } });
    expect(j.warnings.join('\n')).toMatch(/the root zone is not secure from the given trust anchor\(s\)/);
  });

  it('without them the same resolver is not trusted (it sets no AD bit): the addresses are insecure, DANE does not apply, exit 1', async () => {
    const r = await verify(['--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ authenticated: false, resolver: { validates: false, trust: 'untrusted' }, dns: null, tlsaBase: { daneApplies: false } });
    expect(j.warnings.join('\n')).toMatch(/its AD bit is not trusted/);
  });

  it('a forged (unsigned) TLSA answer is bogus under the anchor: not authenticated, exit 1', async () => {
    const anchor = tmp.file('root-f.ds', `${root.ds.join('\n')}\n`);
    const srv = await servers.smtp({ host: ip(1) });
    upstream.faults = { unsignedAnswer: (qname, qtype) => qtype === 52 && qname.startsWith('_25._tcp.') };
    try {
      const r = await runTlsaCli(['--verify', '--connect', `${HOST}:${srv.port}`, '--port', '25', '--resolver', resolver, '--timeout', '5', '--trust-anchor', anchor, '--json']);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.out);
      expect(j).toMatchObject({ authenticated: false, ok: false, dns: { status: 'failed' } });
      expect(j.dns.proof).not.toBe('secure');
    } finally {
      upstream.faults = {};
    }
  });

  it('--validate (the IANA root anchors) against a root they do not sign: fail closed, no TLSA lookup, exit 1', async () => {
    const r = await verify(['--validate', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ authenticated: false, ok: false, resolver: { validates: false, trust: 'self-validating' } });
    const warnings = j.warnings.join('\n');
    expect(warnings).toMatch(/no TLSA lookup/);
    expect(warnings).toMatch(/with --validate or --trust-anchor the root zone must validate from the given anchors/);
  });

  it('--trust-anchor and --validate are for --verify; a bad anchor file is a usage error (64, one line)', async () => {
    const cert = tmp.file('leaf.pem', leaf.certPem);
    const anchor = tmp.file('root-u.ds', `${root.ds.join('\n')}\n`);
    for (const extra of [['--trust-anchor', anchor], ['--validate']]) {
      const r = await runTlsaCli([cert, '--host', HOST, ...extra]);
      expect(r.code).toBe(64);
      expect(r.err).toMatch(/^dane-smtp: --trust-anchor and --validate are used with --verify\n$/);
    }
    const bad = tmp.file('bad.ds', 'not a record\n');
    const r = await runTlsaCli(['--verify', '--connect', `${HOST}:25`, '--resolver', resolver, '--trust-anchor', bad]);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/^dane-smtp: bad trust anchor file .*bad\.ds: .*\n$/);
    const missing = await runTlsaCli(['--verify', '--connect', `${HOST}:25`, '--resolver', resolver, '--trust-anchor', tmp.path('none.ds')]);
    expect(missing.code).toBe(64);
    expect(missing.err).toMatch(/^dane-smtp: cannot read the trust anchor file .*none\.ds: ENOENT\n$/);
  });
});
