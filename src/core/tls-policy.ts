/**
 * What a session to one host must achieve, as Postfix's smtp_tls_policy.c decides it: the
 * local policy level first, then, for the dane levels, the host's RFC 7672 level. The
 * verdict the session earns, the TLS mode, the SNI and the check of the served chain that
 * runs before anything is sent inside TLS. Pure: the clock and the CA store are given.
 */
import { authenticate, type AuthResult } from './rfc7672/authenticate.js';
import { levelSummary, type HostPlan } from './rfc7672/host.js';
import type { SessionVerdict } from './result.js';
import { DaneSmtpError } from '../errors.js';
import type { PolicyEntry } from '../policy/table.js';
import { checkFingerprints, checkPkix, type PolicyAuth } from '../policy/verify.js';
import type { ServedTls, TlsCheck, TlsMode } from '../smtp/types.js';

export interface SecurityContext {
  now: () => Date;
  /** Trust anchors (PEM) for the verify and secure levels, read only when one applies. */
  caCertificates: () => readonly string[];
}

/** What a session to one host must achieve, from the policy level and the host plan. */
export interface HostSecurity {
  verdict: SessionVerdict;
  tls: TlsMode;
  servername: string;
  /** Checks the served chain before anything is sent inside TLS. */
  check?: (served: ServedTls) => { tls: TlsCheck; dane?: AuthResult; policy?: PolicyAuth };
}

export function hostSecurity(plan: Extract<HostPlan, { kind: 'usable' }>, domain: string, policy: PolicyEntry, o: SecurityContext): HostSecurity | { fail: string } {
  const level = plan.level;
  const now = o.now;
  const host = plan.host.name;
  switch (policy.level) {
    case 'none':
      return { verdict: 'opportunistic', tls: 'none', servername: host };
    case 'may':
      return { verdict: 'opportunistic', tls: 'may', servername: host };
    case 'encrypt':
      return { verdict: 'encrypt-unauthenticated', tls: 'required', servername: host };
    case 'fingerprint':
      return {
        verdict: 'fingerprint-authenticated',
        tls: 'required',
        servername: host,
        check: (served) => {
          const r = checkFingerprints(served.chain, policy.fingerprints);
          return { tls: r.ok ? { ok: true } : { ok: false, reason: r.reason }, policy: r };
        },
      };
    case 'verify':
    case 'secure':
      return {
        verdict: 'pkix-authenticated',
        tls: 'required',
        servername: host,
        check: (served) => {
          const r = checkPkix(served.chain, o.caCertificates(), policy.match, { host, nexthop: domain, now: now() });
          return { tls: r.ok ? { ok: true } : { ok: false, reason: r.reason }, policy: r };
        },
      };
    case 'dane':
    case 'dane-only':
      break;
    default:
      // Fail closed: an unknown level must never silently turn DANE off.
      throw new DaneSmtpError('USAGE', `unknown TLS policy level ${JSON.stringify(policy.level)}`);
  }
  if (level.kind === 'dane') {
    return {
      verdict: 'dane-authenticated',
      // RFC 7672 §2.2: with usable TLSA records TLS is mandatory, never a plaintext fallback.
      tls: 'required',
      // RFC 7672 §8.1: SNI is the TLSA base domain.
      servername: level.tlsaBase,
      check: (served) => {
        // RFC 7672 §3.1: authenticate before a single command is sent inside TLS.
        const a = authenticate({ records: level.usable, served: served.chain, ...(served.read ? { read: served.read } : {}), referenceNames: level.referenceNames, now: now() });
        return { tls: a.ok ? { ok: true } : { ok: false, reason: a.reason }, dane: a };
      },
    };
  }
  if (policy.level === 'dane-only') return { fail: `dane-only policy: ${host} has no usable TLSA records (${levelSummary(level)})` };
  if (level.kind === 'encrypt') {
    // RFC 7672 §2.2: a secure TLSA RRset with no usable record: TLS mandatory, unauthenticated.
    return { verdict: 'encrypt-unauthenticated', tls: 'required', servername: level.tlsaBase };
  }
  return { verdict: 'opportunistic', tls: 'may', servername: host };
}
