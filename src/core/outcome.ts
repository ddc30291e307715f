/**
 * The outcome vocabulary, one list each, for the CLI, JSON, the library and logs: the
 * verdicts of a destination and the exit statuses (sysexits(3)) they map to.
 */

/** Every verdict a destination can get (README "Verdicts"). */
export const VERDICTS = ['dane-authenticated', 'fingerprint-authenticated', 'pkix-authenticated', 'encrypt-unauthenticated', 'opportunistic', 'tempfail', 'undeliverable'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The verdicts of a session that was used: TLS (or plaintext) with a host. */
export type SessionVerdict = Exclude<Verdict, 'tempfail' | 'undeliverable'>;

/** Exit statuses of every command (sysexits(3)). */
export const EXIT = {
  OK: 0,
  /** `tlsa`: the records and the certificates do not match (a check that found a problem). */
  CHECK_FAILED: 1,
  /** A bad option, domain, address or file: nothing was sent. */
  USAGE: 64,
  /** Undeliverable or bounced (EX_UNAVAILABLE), nothing deferred. */
  UNAVAILABLE: 69,
  /** Something deferred: retry later (EX_TEMPFAIL). */
  TEMPFAIL: 75,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A run's exit status: 75 when anything is deferred, 69 when something bounced, else 0. */
export function exitCodeOf(results: readonly { verdict: Verdict; recipients?: readonly { status: 'delivered' | 'deferred' | 'bounced' }[] }[], mode: 'check' | 'send'): ExitCode {
  if (mode === 'send') {
    const statuses = results.flatMap((r) => (r.recipients ?? []).map((x) => x.status));
    if (statuses.includes('deferred')) return EXIT.TEMPFAIL;
    if (statuses.includes('bounced')) return EXIT.UNAVAILABLE;
    return EXIT.OK;
  }
  if (results.some((r) => r.verdict === 'tempfail')) return EXIT.TEMPFAIL;
  if (results.some((r) => r.verdict === 'undeliverable')) return EXIT.UNAVAILABLE;
  return EXIT.OK;
}
