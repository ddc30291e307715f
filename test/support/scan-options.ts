/** ScanOptions for scheduler tests: a fixture resolver, a scripted session, results collected in `results`. */
import type { DomainResult } from '../../src/core/result.js';
import type { ScanOptions } from '../../src/scan/scan.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import type { FixtureResolver } from './fixture-resolver.js';

export function scanOptions(resolver: FixtureResolver, session: (o: SmtpSessionOptions) => Promise<SmtpSessionResult>, results: DomainResult[], extra: Partial<ScanOptions> = {}): ScanOptions {
  return {
    resolver,
    concurrency: 10,
    port: 25,
    helo: 'client.example',
    timeoutMs: 5000,
    session: session as ScanOptions['session'],
    onResult: (r) => results.push(r),
    ...extra,
  };
}
