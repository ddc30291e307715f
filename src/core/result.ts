/** The one result type shared by the library, `--json` and the human output. */
import type { AuthResult, RecordFailure } from './rfc7672/authenticate.js';
import type { CertInfo } from '../x509/certificate.js';
import type { DnsReport } from './dns-report.js';
import type { MayCause } from './rfc7672/host.js';
import type { RecipientResult, SmtpFailureCode } from '../smtp/types.js';
import type { Level, PolicySource } from '../policy/table.js';
import type { UnusableReason } from './rfc7672/tlsa.js';
import type { FindingCode, FindingSeverity } from './finding-codes.js';

import type { SessionVerdict } from './outcome.js';
export { VERDICTS, type SessionVerdict, type Verdict } from './outcome.js';

export interface TlsaReport {
  record: string;
  usable: boolean;
  /** Why the record is unusable (e.g. 'pkix-usage'), with a sentence in `detail`. */
  reason?: UnusableReason;
  detail?: string;
}

export interface AttemptReport {
  address: string;
  /** 'ok': session used; 'failed': this address could not be used; 'rejected': the server refused the transaction. */
  result: 'ok' | 'failed' | 'rejected';
  tls: boolean;
  /** True when STARTTLS failed on an opportunistic host and plaintext was used instead (Postfix 'may'). */
  plaintextRetry?: boolean;
  tlsVersion?: string;
  cipher?: string;
  /** The certificates the server sent, leaf first. */
  chain?: CertInfo[];
  /** For DANE hosts: which record matched which certificate, or why none did. */
  authentication?: AuthenticationReport;
  /** fingerprint / verify / secure levels: the result of the policy's own check. */
  policyCheck?: { ok: true; detail: string } | { ok: false; reason: string };
  error?: string;
  /** The error code of `error` (e.g. 'NO_STARTTLS', 'TLS_HANDSHAKE', 'SMTP_4XX'). */
  errorCode?: SmtpFailureCode;
}

export interface HostReport {
  name: string;
  preference: number;
  implicit: boolean;
  /** Every DNS answer used for this host with its DNSSEC status. */
  dns: DnsReport[];
  addresses: string[];
  /** The TLS level the rules gave this host (null when DNS failed). */
  level: 'dane' | 'encrypt' | 'may' | null;
  levelReason: string;
  /** Level `may`: why DANE does not apply (the sentence of `levelReason` after "opportunistic: "), and its cause. */
  levelWhy?: string;
  levelCause?: MayCause;
  tlsaBase?: string;
  tlsa?: TlsaReport[];
  attempts: AttemptReport[];
  /**
   * 'used': a session here settled the job (for send: delivered or bounced recipients; the
   * first server that deferred them all when nothing did better); 'probed': usable, probed
   * with --all after the job was settled; 'failed': tried and unusable; 'no-address'.
   * 'not-tried' is only the value while the host is being tried: it never appears in a result.
   */
  status: 'used' | 'failed' | 'no-address' | 'not-tried' | 'probed';
  failure?: string;
}

interface DomainResultCommon {
  domain: string;
  /** One sentence: why this verdict. */
  reason: string;
  mx: DnsReport | null;
  hosts: HostReport[];
  resolverValidates: boolean;
  /** The TLS policy level that applied (Postfix names) and where it came from: "FILE:LINE" or "default". */
  level: Level;
  policySource: PolicySource;
  /** Set when a fixed next hop replaced the MX lookup (policy table or --nexthop): "[host]:port". */
  nextHop?: string;
  /** send only */
  recipients?: DomainRecipient[];
  /** What the operator should fix, one entry per problem (src/core/findings.ts). */
  findings?: Finding[];
  /**
   * dane-smtp failed after servers had decided recipients (`delivery`), while diagnosing
   * (`diagnostics`) or in the caller's result handler (`reporting`). Recipients keep the
   * status their server gave: a delivered recipient is never deferred or sent again.
   */
  internalError?: InternalError;
}

export interface InternalError {
  stage: 'delivery' | 'diagnostics' | 'reporting';
  message: string;
}

/**
 * A session was used for the domain: `verdict` is its security, `host` (the MX host name as
 * written, or the domain for an implicit MX) and `address` where it went. For send, some
 * recipients may still be deferred or bounced: see `recipients`.
 */
export interface SessionDomainResult extends DomainResultCommon {
  verdict: SessionVerdict;
  host: string;
  address: string;
  tls: boolean;
  deferredEarly?: never;
}

/**
 * No session could be used: deferred (`tempfail`) or permanently failed (`undeliverable`).
 * One member per verdict, so that `verdict !== 'tempfail' && verdict !== 'undeliverable'`
 * narrows to a SessionDomainResult.
 */
export type FailedDomainResult = NoSession<'tempfail'> | NoSession<'undeliverable'>;

interface NoSession<V extends 'tempfail' | 'undeliverable'> extends DomainResultCommon {
  verdict: V;
  host: null;
  address: null;
  tls: false;
  /**
   * Set when the destination was deferred before any DNS answer about it: the resolver
   * was unreachable or failed the DNSSEC probe, the run was aborted, or dane-smtp failed.
   */
  deferredEarly?: 'resolver' | 'aborted' | 'internal-error';
}

/** One destination's result, tagged by `verdict` (the same object as a `--json` line). */
export type DomainResult = SessionDomainResult | FailedDomainResult;

/** A recipient's final status for the domain. */
export interface DomainRecipient extends RecipientResult {
  /**
   * The MX host whose server gave `reply`; absent when no server was reached. A recipient
   * one server deferred is tried at the next host, so one domain's recipients can differ.
   */
  host?: string;
}

export type { FindingSeverity } from './finding-codes.js';

/** One problem found by `check`, with a stable code (docs/findings.md). */
export interface Finding {
  code: FindingCode;
  severity: FindingSeverity;
  /** The MX host concerned, when the problem belongs to one. */
  host?: string;
  /** One sentence: what is wrong and what to do. */
  message: string;
}

/** Which record matched which certificate (DANE-TA: and where the anchor came from), or why none did. */
export type AuthenticationReport =
  | { ok: true; record: string; usage: 'DANE-EE' | 'DANE-TA'; depth: number; matchedName?: string; anchor?: 'served' | 'tlsa-record' }
  | { ok: false; reason: string; records: RecordFailure[] };

export function summarizeAuth(a: AuthResult): AuthenticationReport {
  if (a.ok) {
    const out: AuthenticationReport = { ok: true, record: a.record, usage: a.usage, depth: a.depth };
    if (a.matchedName) out.matchedName = a.matchedName;
    if (a.anchor) out.anchor = a.anchor;
    return out;
  }
  return { ok: false, reason: a.reason, records: a.records };
}
