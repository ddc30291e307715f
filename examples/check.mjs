// Check a domain from Node: the same result object as `dane-smtp check --json`.
// Usage: DANE_RESOLVER=127.0.0.1:53 node examples/check.mjs example.org
import { check } from 'dane-smtp';

const domain = process.argv[2] ?? 'example.org';
const result = await check(domain, {
  resolverAddress: process.env.DANE_RESOLVER, // default: /etc/resolv.conf
  timeoutMs: 10_000,
  signal: AbortSignal.timeout(60_000),
  onEvent: (e) => {
    if (e.type === 'smtp' && e.event.type === 'tls') console.error(`TLS ${e.event.served.version} with ${e.host}`);
  },
});
console.log(`${result.domain}: ${result.verdict} (${result.reason})`);
