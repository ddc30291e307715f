/**
 * The library with built-in DNSSEC validation (issue 6 through issue 5's API): a
 * ValidatingResolver passed as `resolver`, or `validate` with `resolverAddress`, is trusted
 * for its own proofs even when its anchor is below the root (the root probe then fails):
 * DANE stays on. A signed zone on DnssecUpstream (127.0.0.1), whose MX host is 127.0.0.1 on
 * a closed port: the verdict is tempfail, but the host's level shows what DNS decided.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check } from '../../../src/api.js';
import { CachingResolver } from '../../../src/dns/cache.js';
import { parseTrustAnchors, type TrustAnchor } from '../../../src/dns/dnssec/trust-anchors.js';
import { ValidatingResolver } from '../../../src/dns/dnssec/validating-resolver.js';
import { DnssecUpstream } from '../../support/dnssec-upstream.js';
import { buildZone, cleanupZones } from '../../support/dnssec-zones.js';

let upstream: DnssecUpstream;
let address: { server: string; port: number };
let anchors: TrustAnchor[];
let closedPort: number;

beforeAll(async () => {
  // A port that was just free: nothing listens on it, so the connection is refused.
  const probe = createServer().listen({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => probe.once('listening', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const zone = await buildZone({
    name: 'lo.test',
    algorithm: 'ECDSAP256SHA256',
    records: ['lo.test. 300 IN MX 10 mx.lo.test.', 'mx.lo.test. 300 IN A 127.0.0.1', `_${closedPort}._tcp.mx.lo.test. 300 IN TLSA 3 1 1 ${'ab'.repeat(32)}`],
  });
  // root → test → lo.test, as on the Internet; the anchor is lo.test's DS, below the root.
  const tld = await buildZone({ name: 'test', algorithm: 'ECDSAP256SHA256', records: ['lo.test. 300 IN NS ns.lo.test.', 'ns.lo.test. 300 IN A 127.0.0.1', ...zone.ds] });
  const root = await buildZone({ name: '', algorithm: 'ECDSAP256SHA256', records: ['test. 300 IN NS ns.test.', 'ns.test. 300 IN A 127.0.0.1', ...tld.ds] });
  upstream = new DnssecUpstream([root, tld, zone]);
  address = await upstream.start();
  anchors = parseTrustAnchors(zone.ds.join('\n'));
}, 60_000);

afterAll(async () => {
  await upstream?.close();
  await cleanupZones();
});

const base = () => ({ port: closedPort, helo: 'client.test', timeoutMs: 3000 });

describe('library: a resolver that validates itself keeps DANE on below its own anchor', () => {
  it('a ValidatingResolver passed as resolver (and one inside a CachingResolver)', async () => {
    for (const resolver of [
      new ValidatingResolver({ upstream: address, timeoutMs: 3000, trustAnchors: anchors }),
      new CachingResolver(new ValidatingResolver({ upstream: address, timeoutMs: 3000, trustAnchors: anchors })),
    ]) {
      const r = await check('lo.test', { ...base(), resolver, onEvent: () => {} });
      expect(r.mx?.proof).toBe('secure');
      expect(r.hosts[0]).toMatchObject({ name: 'mx.lo.test', level: 'dane' });
      expect(r.verdict).toBe('tempfail'); // nothing listens: DANE mail is deferred, never sent in plaintext
      // DomainResult is tagged by verdict: a failed one has no host (checked by tsc).
      if (r.verdict === 'tempfail' || r.verdict === 'undeliverable') {
        const none: null = r.host;
        expect(none).toBeNull();
      } else {
        const used: string = r.host;
        expect(used).toBeTypeOf('string');
      }
    }
  });

  it('validate: anchors with resolverAddress builds the validating resolver', async () => {
    const r = await check('lo.test', { ...base(), resolverAddress: `${address.server}:${address.port}`, validate: anchors });
    expect(r.mx?.proof).toBe('secure');
    expect(r.hosts[0]).toMatchObject({ level: 'dane' });
  });

  it('validate with a resolver of your own, or an empty anchor list, is a usage error', async () => {
    await expect(check('lo.test', { ...base(), resolver: new ValidatingResolver({ upstream: address, timeoutMs: 3000, trustAnchors: anchors }), validate: true })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(check('lo.test', { ...base(), resolverAddress: '127.0.0.1', validate: [] })).rejects.toMatchObject({ code: 'USAGE' });
  });
});
