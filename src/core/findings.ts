/**
 * `dane-smtp check` tells the operator what to fix: from a finished DomainResult (the JSON
 * contract), one Finding per problem, each with a stable code. Pure: the result and the
 * time in, findings out; no DNS, no sockets, no clock.
 */
import { associationMatchesInfo, type CertInfo } from './rfc7672/authenticate.js';
import { Usage, tlsaFromText } from './rfc7672/tlsa.js';
import { isAddressLiteral } from '../dns/names.js';
import type { DnsReport } from './dns-report.js';
import type { AttemptReport, DomainResult, Finding, FindingSeverity, HostReport, InternalError, TlsaReport } from './result.js';

export type { Finding, FindingSeverity } from './result.js';

import { CERT_EXPIRY_WARNING_DAYS, FINDING_CODES, RRSIG_EXPIRY_WARNING_DAYS, type FindingCode } from './finding-codes.js';

export { CERT_EXPIRY_WARNING_DAYS, FINDING_CODES, RRSIG_EXPIRY_WARNING_DAYS, type FindingCode } from './finding-codes.js';

const DAY = 86_400_000;
const SEVERITY_ORDER: Record<FindingSeverity, number> = { error: 0, warning: 1, advice: 2 };

function short(record: string, n = 24): string {
  return record.length > n ? `${record.slice(0, n - 1)}…` : record;
}

function inTime(ms: number): string {
  if (ms < 0) return 'already';
  if (ms < 2 * DAY) return `in ${Math.max(1, Math.round(ms / 3_600_000))} hours`;
  return `in ${Math.floor(ms / DAY)} days`;
}

/** The first Extended DNS Error (RFC 8914) the resolver gave with a failed answer. */
function edeCode(d: DnsReport): number | undefined {
  return d.failure?.kind === 'rcode' ? d.failure.ede[0]?.infoCode : undefined;
}

function bogusHint(d: DnsReport): string {
  switch (edeCode(d)) {
    case 7:
      return 'the signatures have expired: re-sign the zone (and check that automatic signing runs)';
    case 8:
    case 25:
      return "the signatures are not valid yet: check the signer's clock and the inception times";
    case 9:
      return 'no DNSKEY matches the DS at the parent: fix the DS record or publish the key';
    case 10:
      return 'RRSIGs are missing: sign the zone, or remove the DS at the parent';
    case 11:
      return 'the DNSKEY lacks the zone key bit: publish a proper zone key';
    case 12:
      return 'the NSEC/NSEC3 proof is missing: re-sign the zone';
    default:
      return 'the DNSSEC signatures do not validate: check the RRSIGs, the DNSKEY RRset and the DS at the parent';
  }
}

class Collector {
  readonly list: Finding[] = [];
  private readonly seen = new Set<string>();

  add(code: FindingCode, message: string, host?: string, severity: FindingSeverity = FINDING_CODES[code].severity): void {
    const key = `${code}\u0000${host ?? ''}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(host === undefined ? { code, severity, message } : { code, severity, host, message });
  }
}

/**
 * A failed answer: bogus (with the EDE text and a hint) or indeterminate. `alike`: other
 * answers for the same name that failed the same way (AAAA beside A): named in the same
 * finding, so that the resolver's text is said once.
 */
function dnsFailure(c: Collector, d: DnsReport, host: string | undefined, effect: string, alike: readonly DnsReport[] = []): void {
  if (d.status !== 'failed') return;
  const why = d.reason ? ` (${d.reason})` : '';
  const types = [d.type, ...alike.map((x) => x.type)].join(' and ');
  const several = alike.length > 0;
  if (d.proof === 'bogus') {
    const code: FindingCode = d.type === 'MX' ? 'mx-bogus' : d.type === 'TLSA' ? 'tlsa-bogus' : 'dns-bogus';
    c.add(code, `the ${types} ${several ? 'RRsets' : 'RRset'} of ${d.name} ${several ? 'are' : 'is'} bogus${why}: ${bogusHint(d)}; ${effect}`, host);
    return;
  }
  c.add('dns-indeterminate', `the ${types} ${several ? 'lookups' : 'lookup'} of ${d.name} failed without a DNSSEC verdict${why}: check that the zone's name servers answer (lame delegation, firewall) and that the resolver reaches them; ${effect}`, host);
}

/** The failed answers of a host, those that failed alike (same name, proof and reason, e.g. A and AAAA) together. */
function failedAlike(dns: readonly DnsReport[]): { d: DnsReport; alike: DnsReport[] }[] {
  const groups: { d: DnsReport; alike: DnsReport[] }[] = [];
  for (const d of dns) {
    if (d.status !== 'failed') continue;
    const same = d.type !== 'TLSA' && d.type !== 'MX' ? groups.find((g) => g.d.type !== 'TLSA' && g.d.type !== 'MX' && g.d.name === d.name && g.d.proof === d.proof && g.d.reason === d.reason) : undefined;
    if (same) same.alike.push(d);
    else groups.push({ d, alike: [] });
  }
  return groups;
}

function rrsigSoon(c: Collector, d: DnsReport, host: string | undefined, now: Date): void {
  if ((d.type !== 'MX' && d.type !== 'TLSA') || d.proof !== 'secure' || !d.signatureExpires) return;
  const at = Date.parse(d.signatureExpires);
  if (!Number.isFinite(at)) return;
  const left = at - now.getTime();
  if (left >= RRSIG_EXPIRY_WARNING_DAYS * DAY) return;
  const consequence = d.type === 'MX' ? 'the MX RRset turns bogus and all mail to the domain is deferred' : 'the TLSA RRset turns bogus and the host is skipped';
  c.add('rrsig-expires-soon', `the RRSIG over the ${d.type} RRset of ${d.name} expires ${d.signatureExpires} (${inTime(left)}): re-sign the zone before then, or ${consequence}`, host);
}

/** RFC 7672 §2.2.2: an address lookup whose CNAME chain ends in an insecure zone. */
function cnameInsecure(c: Collector, r: DomainResult, h: HostReport): void {
  if (r.mx?.proof !== 'secure' || (r.level !== 'dane' && r.level !== 'dane-only')) return;
  for (const d of h.dns) {
    if ((d.type !== 'A' && d.type !== 'AAAA') || d.status !== 'data' || !d.cnameChain || d.proof === 'secure') continue;
    const chain = d.cnameChain.join(' → ');
    if (h.level === 'dane' || h.level === 'encrypt') {
      c.add('cname-insecure', `the CNAME chain ${chain} leads into an insecure zone: DANE works only through TLSA records at the original name ${h.name} (RFC 7672 §2.2.2); sign the zone of ${d.cnameChain[d.cnameChain.length - 1]} to make it robust`, h.name, 'advice');
    } else {
      c.add('cname-insecure', `the CNAME chain ${chain} leaves ${h.name} insecure (${d.proof}): DANE does not apply to this host (RFC 7672 §2.2.2); sign the zone of ${d.cnameChain[d.cnameChain.length - 1]}, or publish TLSA records at ${h.name} behind a secure first CNAME`, h.name);
    }
  }
}

/** RFC 7672 §3.1.3, RFC 6698 §2.1, RFC 7671 §9: records that do not count. */
function unusableTlsa(c: Collector, h: HostReport): void {
  const tlsa = h.tlsa ?? [];
  const usable = tlsa.filter((t) => t.usable).length;
  const at = h.tlsaBase ?? h.name;
  const severity: FindingSeverity = usable > 0 ? 'warning' : 'error';
  const noneLeft = usable > 0 ? '' : '; no usable TLSA record is left, so TLS is mandatory but unauthenticated (RFC 7672 §2.2)';
  for (const t of tlsa) {
    if (t.usable) continue;
    const rec = `TLSA ${short(t.record)} at ${at}`;
    const detail = t.detail ?? t.reason ?? 'unusable';
    switch (t.reason as TlsaReport['reason']) {
      case 'pkix-usage':
        {
          // The same certificate association under the DANE usage: PKIX-TA(0) → DANE-TA(2), PKIX-EE(1) → DANE-EE(3).
          const [u, ...rest] = t.record.split(' ');
          const dane = `${u === '0' ? '2' : '3'} ${rest.join(' ')}`;
          const how = u === '0' ? 'DANE-TA: the server must then send that CA certificate in its chain' : 'DANE-EE';
          c.add('tlsa-pkix-usage', `${rec}: ${detail}; publish it with usage ${dane[0]} instead (${short(dane)}, ${how})${noneLeft}`, h.name, severity);
        }
        break;
      case 'bad-digest-length':
      case 'empty-data':
        c.add('tlsa-digest-length', `${rec}: ${detail}; recompute the digest (SHA2-256: 32 bytes, SHA2-512: 64 bytes), e.g. with \`dane-smtp tlsa\`${noneLeft}`, h.name, severity);
        break;
      case 'unknown-usage':
      case 'unknown-selector':
      case 'unknown-matching-type':
        c.add('tlsa-unknown-parameter', `${rec}: ${detail}; SMTP uses usage 2 or 3, selector 0 or 1, matching type 0, 1 or 2${noneLeft}`, h.name, severity);
        break;
      case 'weaker-digest':
        c.add('tlsa-weaker-digest', `${rec}: ${detail}; make sure the stronger record is right, then remove this one`, h.name);
        break;
      default:
        break;
    }
  }
}

/**
 * RFC 7671 §8.1: no room for a key rollover when no usable DANE-TA record is published and
 * every usable DANE-EE record matches the leaf served now (its key or certificate), e.g.
 * `3 1 1` and `3 0 1` of the same certificate, or `3 1 1` and `3 1 2` of the same key
 * (the leaf's SHA-512 digests). Only without them (a result from an older version) a
 * SHA2-512 record other than the one that authenticated counts as slack.
 */
function noRolloverSlack(c: Collector, h: HostReport, matched: string, leaf: CertInfo | undefined): void {
  const usable = (h.tlsa ?? []).filter((t) => t.usable).map((t) => t.record);
  const parsed = usable.map(tlsaFromText);
  if (usable.length === 0 || parsed.some((r) => r.usage !== Usage.DANE_EE)) return;
  const current = (t: string, i: number) => t === matched || (leaf !== undefined && associationMatchesInfo(parsed[i]!, leaf) === true);
  if (!usable.every(current)) return;
  // Behind a CNAME the records are published at the expanded name: say where.
  const at = h.tlsaBase && h.tlsaBase !== h.name ? `, published at ${h.tlsaBase}` : '';
  const which =
    usable.length === 1
      ? `the only usable TLSA record of ${h.name} (${short(matched)}${at}) matches the current key`
      : `all ${usable.length} usable TLSA records of ${h.name} (${usable.map((t) => short(t)).join(', ')}${at}) match the certificate it serves now (its key or the certificate itself)`;
  c.add('no-rollover-slack', `${which}: publish the next key's record beside ${usable.length === 1 ? 'it' : 'them'} before any key change (RFC 7671 §8.1), or add a DANE-TA(2) record for the issuing CA`, h.name);
}

/**
 * The zone-file line for the leaf's key, `_PORT._tcp.BASE. IN TLSA 3 1 1 <SPKI SHA-256>`, at
 * the owner of the host's TLSA RRset (`_25._tcp.` + the TLSA base when that answer is
 * missing). `3 1 2` when a usable `3 1 2` record is published (a `3 1 1` beside it would be
 * ignored, RFC 7671 §9) and the leaf's SHA-512 digest is known.
 */
function currentKeyRecord(h: HostReport, leaf: CertInfo): string {
  const base = (h.tlsaBase ?? h.name).replace(/\.$/, '');
  const answer = h.dns.find((d) => d.type === 'TLSA' && /^_\d+\._tcp\./.test(d.name) && d.name.replace(/\.$/, '').endsWith(`._tcp.${base}`));
  const owner = `${(answer?.name ?? `_25._tcp.${base}`).replace(/\.$/, '')}.`;
  const sha512 = leaf.spkiSha512 !== undefined && (h.tlsa ?? []).some((t) => t.usable && isRecord(tlsaFromText(t.record), Usage.DANE_EE, 1, 2));
  return `${owner} IN TLSA ${sha512 ? `3 1 2 ${leaf.spkiSha512}` : `3 1 1 ${leaf.spkiSha256}`}`;
}

/** Findings of one connection attempt; true when something explained a failed attempt. */
function attemptFindings(c: Collector, h: HostReport, a: AttemptReport, now: Date): boolean {
  let explained = false;
  const hasTlsa = (h.tlsa?.length ?? 0) > 0;
  if (hasTlsa && (a.errorCode === 'NO_STARTTLS' || a.errorCode === 'STARTTLS_REFUSED')) {
    const what = a.errorCode === 'NO_STARTTLS' ? 'does not offer STARTTLS' : 'refuses STARTTLS';
    c.add('starttls-missing', `${h.name} has TLSA records but ${what}: with DANE it is never used without TLS (RFC 7672 §2.2); enable STARTTLS on it, or withdraw its TLSA records first`, h.name);
    explained = true;
  }
  const auth = a.authentication;
  const leaf = a.chain?.find((x) => x.depth === 0);
  if (auth && !auth.ok) {
    const eeFailed: string[] = [];
    for (const r of auth.records) {
      const rec = `TLSA ${short(r.record)}`;
      switch (r.code) {
        case 'ta-not-served':
          c.add('ta-not-served', `${rec} (DANE-TA) matches no certificate ${h.name} sends: the server must send its trust anchor in the chain (RFC 7672 §3.1.2); add that CA certificate to the server's chain file, or fix the record`, h.name);
          break;
        case 'ta-off-path':
          c.add('ta-not-served', `${rec} (DANE-TA) matches a certificate ${h.name} sends, but not one that issued its leaf: serve the chain of the leaf (leaf, intermediates, anchor), or fix the record`, h.name);
          break;
        case 'ta-name-mismatch': {
          const names = r.referenceNames?.join(', ') ?? h.name;
          c.add('ta-name-mismatch', `under DANE-TA (${rec}) the leaf certificate of ${h.name}${leaf?.subject ? ` (${leaf.subject})` : ''} names none of ${names} (RFC 7672 §3.2.2); reissue it with ${h.name} as a subject alternative name`, h.name);
          break;
        }
        case 'ta-date':
          c.add('cert-expired', `under DANE-TA (${rec}), ${r.pathProblem ?? r.why}: renew the certificate`, h.name);
          break;
        case 'ta-not-ca':
        case 'ta-path-length':
        case 'ta-bad-extension':
        case 'ta-critical-extension':
        case 'ta-name-constraints':
        case 'ta-eku':
          c.add('ta-chain-invalid', `under DANE-TA (${rec}): ${r.why}`, h.name);
          break;
        default:
          eeFailed.push(r.record);
      }
      explained = true;
    }
    if (eeFailed.length > 0) {
      const key = leaf ? ` (leaf SPKI SHA2-256 ${leaf.spkiSha256})` : '';
      const list = eeFailed.map((x) => short(x)).join(', ');
      // RFC 7671 §9: a weaker digest that does match, hidden by a stronger one that does not.
      const hidden = leaf && (h.tlsa ?? []).find((t) => t.reason === 'weaker-digest' && (t.record === `3 1 1 ${leaf.spkiSha256}` || t.record === `3 0 1 ${leaf.certSha256}`));
      if (hidden) {
        c.add('tlsa-no-match', `the certificate ${h.name} serves${key} matches none of its usable DANE-EE ${eeFailed.length === 1 ? 'record' : 'records'} (${list}); the record that does match (${short(hidden.record)}) is ignored because a stronger digest is published (RFC 7671 §9): fix or remove ${list}`, h.name);
      } else {
        const line = leaf ? currentKeyRecord(h, leaf) : undefined;
        const suggest = line ? `publish "${line}" beside the old record (keep both until caches expire) or put the old key back` : 'publish a record for the current key';
        c.add('tlsa-no-match', `the certificate ${h.name} serves${key} ${eeFailed.length === 1 ? `does not match its DANE-EE record (${list})` : `matches none of its ${eeFailed.length} DANE-EE records (${list})`}: the key probably changed without a TLSA update (RFC 7671 §8.1); ${suggest}`, h.name);
      }
    }
  }
  if (auth?.ok && auth.usage === 'DANE-TA') {
    // Under DANE-TA dates count (RFC 7672 §3.1.2): leaf up to the anchor.
    for (const cert of a.chain ?? []) {
      if (cert.depth > auth.depth) continue;
      const left = Date.parse(cert.notAfter) - now.getTime();
      if (left >= 0 && left < CERT_EXPIRY_WARNING_DAYS * DAY) {
        c.add('cert-expires-soon', `the certificate at depth ${cert.depth} of ${h.name} (${cert.subject || 'empty subject'}) expires ${cert.notAfter} (${inTime(left)}): under DANE-TA an expired certificate fails authentication; renew it (and update TLSA records if the key changes)`, h.name);
      }
    }
  }
  if (auth?.ok && auth.usage === 'DANE-EE') noRolloverSlack(c, h, auth.record, leaf);
  // RFC 7672 §8.1: TLS 1.0 and up are accepted (as Postfix does), but RFC 8996 deprecates 1.0 and 1.1.
  if (a.tlsVersion !== undefined && /^TLSv1(\.[01])?$/.test(a.tlsVersion)) {
    c.add('tls-old-version', `${h.name} negotiated ${a.tlsVersion}: enable TLS 1.2 or 1.3 on the server; RFC 8996 deprecates 1.0/1.1`, h.name);
  }
  return explained;
}

const STAGE_TEXT: Record<InternalError['stage'], string> = {
  delivery: 'after servers had decided recipients',
  diagnostics: 'while diagnosing the result',
  reporting: 'while reporting the result',
};

/** dane-smtp failed after the servers' decisions: they stand (no deferral, no retry). */
export function internalErrorFinding(e: InternalError): Finding {
  return {
    code: 'internal-error',
    severity: 'error',
    message: `dane-smtp failed ${STAGE_TEXT[e.stage]} (${e.message}): recipients a server accepted are delivered and must not be sent again; please report this`,
  };
}

/** A record of these parameters (usage, selector, matching type). */
function isRecord(r: { usage: number; selector: number; matchingType: number }, usage: number, selector: number, matchingType: number): boolean {
  return r.usage === usage && r.selector === selector && r.matchingType === matchingType;
}

/** Every problem of one destination, errors first. */
export function diagnose(result: DomainResult, now: Date): Finding[] {
  const c = new Collector();
  // Deferred before any DNS answer (runAll): unreachable resolver, abort, internal error.
  if (result.deferredEarly === 'resolver') {
    c.add('resolver-unreachable', `the DNS resolver gave no usable answer (${result.reason}): mail is deferred; check --resolver (a running, recursive resolver) and, with --trust-anchor or --validate, the trust anchors`);
  } else if (!result.resolverValidates && !(result.nextHop && isAddressLiteral(result.domain))) {
    // (An address-literal next hop uses no DNS: whether the resolver validates does not matter.)
    c.add('resolver-not-validating', 'the resolver does not validate DNSSEC (no AD bit on the signed root): DANE is off and nothing is better than opportunistic TLS; use a validating resolver on loopback (e.g. unbound), or --validate');
  }
  if (result.deferredEarly === 'internal-error') {
    c.add('internal-error', `dane-smtp failed on this destination (${result.reason}): it is deferred; please report this`);
  }
  if (result.internalError) c.list.push(internalErrorFinding(result.internalError));
  if (result.mx) {
    dnsFailure(c, result.mx, undefined, 'mail is deferred (RFC 7672 §2.2.1)');
    rrsigSoon(c, result.mx, undefined, now);
  }
  for (const h of result.hosts) {
    for (const { d, alike } of failedAlike(h.dns)) {
      dnsFailure(c, d, h.name, d.type === 'TLSA' ? 'the host is skipped (RFC 7672 §2.2.3)' : 'the host is skipped', alike);
    }
    for (const d of h.dns) rrsigSoon(c, d, h.name, now);
    if (h.status === 'no-address') c.add('host-no-address', `the MX host ${h.name} has no A or AAAA record: publish its addresses, or remove it from the MX RRset`, h.name);
    cnameInsecure(c, result, h);
    unusableTlsa(c, h);
    for (const a of h.attempts) {
      const explained = attemptFindings(c, h, a, now);
      if (a.result === 'failed' && !explained) {
        c.add('host-failed', `${h.name} [${a.address}] could not be used: ${a.error ?? 'failed'}`, h.name);
      }
    }
  }
  // A deferral that nothing above explains is the local policy's doing (e.g. dane-only for
  // an insecure MX, encrypt for a host without STARTTLS that only the policy requires).
  if (result.verdict === 'tempfail' && !result.deferredEarly && !c.list.some((f) => f.severity === 'error')) {
    c.add('policy-not-met', `${result.domain} does not meet the local policy level ${result.level} (${result.policySource}): ${result.reason}; mail is deferred — ${result.level === 'dane-only' ? 'the receiving domain needs a DNSSEC-signed MX RRset and usable TLSA records for its MX hosts (RFC 7672 §2.2), or ' : ''}change the local policy for this destination if it is wrong`);
  }
  return c.list.map((f, i) => ({ f, i })).sort((x, y) => SEVERITY_ORDER[x.f.severity] - SEVERITY_ORDER[y.f.severity] || x.i - y.i).map((x) => x.f);
}
