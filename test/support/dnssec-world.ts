/**
 * A signed test hierarchy for the validating resolver: root → test → children, each
 * child exercising one DNSSEC case, served by DnssecUpstream. Built once per test file.
 */
import { randomBytes } from 'node:crypto';
import { buildZone, corruptDs, dsWithDigestType, type BuiltZone } from './dnssec-zones.js';
import { DnssecUpstream } from './dnssec-upstream.js';

export interface World {
  zones: Map<string, BuiltZone>;
  upstream: DnssecUpstream;
  address: { server: string; port: number };
  /** Root trust anchor (DS of the root KSK). */
  anchorDs: string;
  /** Root trust anchor as a DNSKEY line. */
  anchorDnskey: string;
  now: number;
}

const DAY = 86_400;
const tlsaHex = randomBytes(32).toString('hex');

export async function buildWorld(now = Math.floor(Date.now() / 1000)): Promise<World> {
  const leaf = await Promise.all([
    buildZone({ name: 'plain.secure.test', records: ['www.plain.secure.test. 300 IN A 192.0.2.77'] }),
    buildZone({ name: 'unsigned.optout.test', records: ['www.unsigned.optout.test. 300 IN A 192.0.2.78'] }),
    buildZone({ name: 'insecure.test', records: ['www.insecure.test. 300 IN A 192.0.2.79', 'insecure.test. 300 IN MX 10 www.insecure.test.'] }),
    buildZone({
      name: 'nsec3.test',
      algorithm: 'RSASHA256',
      zsk: true,
      nsec3: { iterations: 2, salt: 'aabbccdd' },
      records: [
        'www.nsec3.test. 300 IN A 192.0.2.30',
        '*.w.nsec3.test. 300 IN A 192.0.2.31',
        'deep.er.nsec3.test. 300 IN A 192.0.2.32',
        // A DANE mail domain in an RSA/NSEC3 zone (bench/dnssec-bench.ts: a whole check).
        'nsec3.test. 300 IN MX 10 www.nsec3.test.',
        `_25._tcp.www.nsec3.test. 300 IN TLSA 3 1 1 ${tlsaHex}`,
      ],
    }),
    buildZone({ name: 'expired.test', algorithm: 'ECDSAP256SHA256', inception: now - 40 * DAY, expiration: now - 10 * DAY, records: ['www.expired.test. 300 IN A 192.0.2.40'] }),
    buildZone({
      name: 'soon.test',
      algorithm: 'ECDSAP256SHA256',
      expiration: now + 120,
      records: [
        'www.soon.test. 300 IN A 192.0.2.45',
        'alias.soon.test. 300 IN CNAME www.secure.test.',
        'soon.test. 300 IN MX 10 mx.soon.test.',
        'mx.soon.test. 300 IN A 192.0.2.46',
        `_25._tcp.mx.soon.test. 300 IN TLSA 3 1 1 ${tlsaHex}`,
      ],
    }),
    buildZone({ name: 'baddigest.test', algorithm: 'ECDSAP256SHA256', records: ['www.baddigest.test. 300 IN A 192.0.2.41'] }),
    buildZone({ name: 'unsupported.test', algorithm: 'ECDSAP256SHA256', records: ['www.unsupported.test. 300 IN A 192.0.2.42'] }),
    buildZone({ name: 'iter.test', algorithm: 'ECDSAP256SHA256', nsec3: { iterations: 200 }, records: ['www.iter.test. 300 IN A 192.0.2.43'] }),
    buildZone({
      name: 'unknownkey.test',
      algorithm: 'ECDSAP256SHA256',
      records: ['www.unknownkey.test. 300 IN A 192.0.2.44'],
      foreignSignatures: [{ owner: 'www.unknownkey.test', type: 'A' }],
    }),
  ]);
  const byName = new Map(leaf.map((z) => [z.name, z]));
  const ds = (name: string) => byName.get(name)!.ds;
  const [secure, optout] = await Promise.all([
    buildZone({
      name: 'secure.test',
      algorithm: 'ECDSAP256SHA256',
      records: [
        'www.secure.test. 300 IN A 192.0.2.10',
        'secure.test. 300 IN MX 10 mx.secure.test.',
        'mx.secure.test. 300 IN A 192.0.2.25',
        `_25._tcp.mx.secure.test. 300 IN TLSA 3 1 1 ${tlsaHex}`,
        '*.wild.secure.test. 300 IN A 192.0.2.99',
        // Real data under the wildcard's parent: the replayed *.wild NSEC must not deny it.
        `_25._tcp.mx.wild.secure.test. 300 IN TLSA 3 1 1 ${tlsaHex}`,
        'alias.secure.test. 300 IN CNAME www.nsec3.test.',
        'chain.secure.test. 300 IN CNAME alias.secure.test.',
        'dangling.secure.test. 300 IN CNAME nothere.nsec3.test.',
        'toinsecure.secure.test. 300 IN CNAME www.insecure.test.',
        'tosoon.secure.test. 300 IN CNAME www.soon.test.',
        'dn.secure.test. 300 IN DNAME nsec3.test.',
        'plain.secure.test. 300 IN NS ns.plain.secure.test.',
        'ns.plain.secure.test. 300 IN A 192.0.2.53',
      ],
    }),
    buildZone({
      name: 'optout.test',
      algorithm: 'ECDSAP256SHA256',
      nsec3: { iterations: 0, optOut: true },
      records: ['www.optout.test. 300 IN A 192.0.2.20', 'unsigned.optout.test. 300 IN NS ns.unsigned.optout.test.', 'ns.unsigned.optout.test. 300 IN A 192.0.2.53'],
    }),
  ]);
  const delegate = (name: string, dsLines: string[]) => [`${name}. 300 IN NS ns.${name}.`, `ns.${name}. 300 IN A 192.0.2.53`, ...dsLines];
  const tld = await buildZone({
    name: 'test',
    algorithm: 'ED25519',
    nsec3: { iterations: 0 },
    records: [
      ...delegate('secure.test', secure.ds),
      ...delegate('optout.test', optout.ds),
      ...delegate('nsec3.test', ds('nsec3.test')),
      ...delegate('insecure.test', []),
      ...delegate('expired.test', ds('expired.test')),
      ...delegate('soon.test', ds('soon.test')),
      ...delegate('baddigest.test', ds('baddigest.test').map(corruptDs)),
      ...delegate('unsupported.test', ds('unsupported.test').map((l) => dsWithDigestType(l, 3))),
      ...delegate('iter.test', ds('iter.test')),
      ...delegate('unknownkey.test', ds('unknownkey.test')),
    ],
  });
  const root = await buildZone({ name: '', algorithm: 'ECDSAP256SHA256', records: ['test. 300 IN NS ns.test.', 'ns.test. 300 IN A 192.0.2.53', ...tld.ds] });
  const all = [root, tld, secure, optout, ...leaf];
  const upstream = new DnssecUpstream(all);
  const address = await upstream.start();
  return {
    zones: new Map(all.map((z) => [z.name, z])),
    upstream,
    address,
    anchorDs: root.ds.join('\n'),
    anchorDnskey: root.dnskey!,
    now,
  };
}

export { tlsaHex };
