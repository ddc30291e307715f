/**
 * Interop check, not a test: the ValidatingResolver against a real upstream. Starts the
 * lab world of test/lab (nsd for a private root, the TLD and scenario zones; unbound
 * validating from the lab root's DS), then asks every scenario's MX, A/AAAA and TLSA
 * twice: through unbound's AD bit (StubResolver) and through our own validation (DO+CD to
 * the same unbound, trust anchor = the lab root DS). Prints both verdicts and any
 * difference. Needs root (port 53 on 127/8) and nsd, unbound, ldnsutils.
 *
 *   npx tsc -p . && npx tsc --ignoreConfig --module nodenext --moduleResolution nodenext \
 *     --target es2022 --types node --skipLibCheck --strict --outDir dist --rootDir . \
 *     bench/dnssec-lab-compare.ts && node dist/bench/dnssec-lab-compare.js
 */
import { parseTrustAnchors } from '../src/dns/dnssec/trust-anchors.js';
import { ValidatingResolver } from '../src/dns/dnssec/validating-resolver.js';
import { StubResolver } from '../src/dns/stub.js';
import type { DnsAnswer, RecordType, Resolver } from '../src/dns/types.js';
import { startWorld } from '../test/lab/world.js';

async function main(): Promise<void> {
  const world = await startWorld({ install: false, log: (l) => console.error(l) });
  let differences = 0;
  let total = 0;
  try {
    const upstream = { server: world.resolverAddress, port: world.resolverPort };
    const stub: Resolver = new StubResolver({ ...upstream, timeoutMs: 5000 });
    const ours = new ValidatingResolver({ upstream, timeoutMs: 5000, trustAnchors: parseTrustAnchors(world.rootDs.join('\n')) });
    const show = (a: DnsAnswer<unknown>) => `${a.status}/${a.proof}`;
    const ask = async (name: string, type: RecordType) => {
      const [s, o] = await Promise.all([stub.lookup(name, type), ours.lookup(name, type)]);
      total++;
      // unbound answers SERVFAIL for bogus data: failed/bogus|indeterminate on its side.
      const same =
        s.status === o.status && (s.proof === o.proof || (s.status === 'failed' && o.status === 'failed'));
      if (!same) differences++;
      console.log(`${same ? '  ' : '≠ '}${`${name} ${type}`.padEnd(52)} unbound ${show(s).padEnd(24)} ours ${show(o).padEnd(24)}${!same || o.status === 'failed' ? ` ${o.reason ?? ''}` : ''}`);
      return o;
    };
    for (const sc of world.scenarios) {
      const mx = await ask(sc.domain, 'MX');
      const hosts = mx.status === 'data' ? (mx.records as Array<{ exchange: string }>).map((r) => r.exchange).filter(Boolean) : [sc.domain];
      for (const h of hosts) {
        await ask(h, 'A');
        await ask(h, 'AAAA');
        await ask(`_25._tcp.${h}`, 'TLSA');
      }
    }
    await ask('nothere.test', 'A');
    await ask('test', 'SOA');
    await ask('', 'SOA');
  } finally {
    await world.stop();
  }
  console.log(`\n${total} lookups, ${differences} difference(s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
