/**
 * Checking a published TLSA RRset against the chain a live server sends. Pure: the DNS
 * answer, the served DER chain, the host and the time in; a report out. Usability comes
 * from classifyTlsa (RFC 7672 §3.1, RFC 7671 §9), the verdict from authenticate().
 */
import type { DnsAnswer, TlsaData } from '../../dns/types.js';
import type { TlsaBaseLookup } from '../../engine/host-plan.js';
import { Matching, Selector, Usage, classifyTlsa, tlsaFromText, tlsaToText, type ClassifiedTlsa, type UnusableReason } from '../../core/rfc7672/tlsa.js';
import { associationMatches, authenticate, type AuthResult } from '../../core/rfc7672/authenticate.js';
import { answerFailed, failedWhy } from '../../core/rfc7672/answer.js';
import { issuerPath, servedEntries, sha256Hex, type CertEntry } from './material.js';
import { DEFAULT_PARAMS, computeRecords, ownerName, shortText, zoneLine } from './records.js';

export interface ServedCertReport {
  depth: number;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  spkiSha256: string;
  certSha256: string;
  /** On the issuer path of the leaf through the served certificates. */
  onIssuerPath: boolean;
}

export interface RecordReport {
  record: string;
  short: string;
  usable: boolean;
  unusableReason?: UnusableReason;
  detail?: string;
  /** Served certificates this record's association data matches (whether usable or not). */
  matches: { depth: number; subject: string }[];
  /** One line for humans. */
  verdict: string;
}

export interface VerifyReport {
  owner: string;
  dns: {
    status: DnsAnswer<TlsaData>['status'];
    proof: DnsAnswer<TlsaData>['proof'];
    ttl: number;
    cnameChain: string[];
    reason?: string;
  };
  served: ServedCertReport[];
  records: RecordReport[];
  auth: AuthResult;
  /** RFC 7672 §2.2: DANE applies only to a secure, non-empty, usable RRset. */
  authenticated: boolean;
  /** One sentence. */
  summary: string;
  /** The summary without its "authenticated" / "NOT authenticated:": by which record, or why not. */
  detail: string;
  /**
   * When TLSA records are published but no usable one matches a served certificate (e.g. a
   * renewal changed the key): the zone-file line(s) to publish for the served leaf,
   * `_PORT._tcp.BASE. IN TLSA 3 1 1 <SHA-256 of its SPKI>` (`3 1 2` when a `3 1 2` record is
   * published, which would hide a `3 1 1` one, RFC 7671 §9). Absent otherwise.
   */
  suggested?: string[];
  warnings: string[];
}

export interface VerifyInput {
  owner: string;
  answer: DnsAnswer<TlsaData>;
  served: Buffer[];
  /** Reference identifier(s) for DANE-TA: the TLSA base domain (the host). */
  referenceNames: string[];
  now: Date;
  /**
   * Set when no TLSA RRset applies (DANE does not apply to the host, or whether it does
   * could not be told): the verdict, one sentence; `answer` is then a placeholder.
   */
  noTlsa?: string;
}

export function verifyServed(input: VerifyInput): VerifyReport {
  const { certs, warnings } = servedEntries(input.served);
  const path = issuerPath(certs);
  const served: ServedCertReport[] = certs.map((c, depth) => ({
    depth,
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    spkiSha256: sha256Hex(c.spki),
    certSha256: sha256Hex(c.der),
    onIssuerPath: path.includes(c),
  }));
  if (certs.length > 1 && path.length < certs.length) {
    warnings.push(`${certs.length - path.length} served certificate(s) are not on the issuer path of the leaf`);
  }
  const a = input.answer;
  const classified = classifyTlsa(a.status === 'data' ? a.records : []);
  const records: RecordReport[] = classified.map((r) => {
    const matches = certs.flatMap((c, depth) => (associationMatches(r, c) ? [{ depth, subject: c.subject }] : []));
    const where = matches.length ? `matches ${matches.map((m) => `depth ${m.depth} (${m.subject})`).join(', ')}` : 'matches no served certificate';
    const rep: RecordReport = { record: tlsaToText(r), short: shortText(r), usable: r.usability.usable, matches, verdict: '' };
    if (!r.usability.usable) {
      rep.unusableReason = r.usability.reason;
      rep.detail = r.usability.detail;
      rep.verdict = `unusable: ${r.usability.detail}; ${where}`;
    } else if (r.usage === 3 && matches.length && !matches.some((m) => m.depth === 0)) {
      rep.verdict = `usable; ${where}, but DANE-EE only matches the leaf (depth 0)`;
    } else if (r.usage === 2 && matches.length && !matches.some((m) => path.includes(certs[m.depth]!))) {
      rep.verdict = `usable; ${where}, but not on the leaf's issuer path`;
    } else {
      rep.verdict = `usable; ${where}`;
    }
    return rep;
  });

  const usable = classified.filter((r) => r.usability.usable);
  const auth = authenticate({ records: usable, served: input.served, referenceNames: input.referenceNames, now: input.now });
  const secure = a.proof === 'secure';
  let why: string | undefined;
  if (input.noTlsa !== undefined) why = input.noTlsa;
  else if (certs.length === 0) why = 'the server sent no parsable certificate';
  else if (a.status === 'failed') why = `the TLSA lookup failed (${a.proof}${a.reason ? `: ${a.reason}` : ''})`;
  else if (a.status !== 'data') why = `no TLSA records at ${input.owner} (${a.status}, ${a.proof})`;
  else if (!secure) why = `the TLSA RRset is ${a.proof}, DANE needs a DNSSEC-secure RRset (RFC 7672 §2.2)${auth.ok ? '; the records would match' : ''}`;
  else if (usable.length === 0) why = 'no usable TLSA record (RFC 7672 §2.2: the server is then not DANE-authenticated)';
  else if (!auth.ok) why = auth.reason;
  const detail = why ?? (auth.ok ? `by ${shortText(tlsaFromText(auth.record))} (${auth.usage}, depth ${auth.depth}${auth.matchedName ? `, name ${auth.matchedName}` : ''})` : '');
  const summary = why !== undefined ? notAuthenticatedSummary(why) : `authenticated ${detail}`;
  const authenticated = input.noTlsa === undefined && certs.length > 0 && secure && a.status === 'data' && auth.ok;
  const suggested = input.noTlsa === undefined && a.status === 'data' && certs.length > 0 && !records.some((r) => r.usable && r.matches.length > 0) ? suggestFor(input.owner, certs, classified) : undefined;
  return {
    owner: input.owner,
    dns: { status: a.status, proof: a.proof, ttl: a.ttl, cnameChain: a.cnameChain, ...(a.reason ? { reason: a.reason } : {}) },
    served,
    records,
    auth,
    authenticated,
    summary,
    detail,
    ...(suggested ? { suggested } : {}),
    warnings,
  };
}

/**
 * The record to publish for the served leaf when no usable record matches: DANE-EE SPKI with
 * the strongest digest published for `3 1` (a SHA2-256 record beside a usable SHA2-512 one
 * would be ignored, RFC 7671 §9), SHA2-256 otherwise; as a zone-file line at `owner`.
 */
function suggestFor(owner: string, certs: CertEntry[], classified: ClassifiedTlsa[]): string[] {
  const sha512 = classified.some((r) => r.usage === Usage.DANE_EE && r.selector === Selector.SPKI && r.matchingType === Matching.SHA512 && r.usability.usable);
  const params = sha512 ? { ...DEFAULT_PARAMS, matchingType: Matching.SHA512 } : DEFAULT_PARAMS;
  const { records } = computeRecords({ kind: 'certs', certs, warnings: [] }, [params]);
  return records.map((r) => zoneLine(`${owner.replace(/\.$/, '')}.`, r));
}

/** Which TLSA base domain --verify uses, and why (JSON `tlsaBase`; human "TLSA base domain:" lines). */
export interface TlsaBaseReport {
  /** The TLSA base domain used (also the default SNI and DANE-TA reference identifier); null when none applies. */
  base: string | null;
  /** `_PORT._tcp.BASE.`, or null. */
  owner: string | null;
  /** How it was chosen: as a sending MTA does (RFC 7672 §2.2.2), or given (--host, --sni, the host itself). */
  selection: 'rfc7672' | 'given';
  /**
   * False when DANE does not apply to the host (insecure address records): no TLSA lookup;
   * null when the base was given rather than chosen.
   */
  daneApplies: boolean | null;
  /** The TLSA owner names looked up, in order. */
  queried: { owner: string; status: DnsAnswer<TlsaData>['status']; proof: DnsAnswer<TlsaData>['proof']; records: number }[];
  /** The first CNAME of the host, when it was looked up (insecure chain, RFC 7672 §2.2.2). */
  firstCname?: { status: string; proof: string; target?: string };
  /** One sentence. */
  reason: string;
}

const fqdn = (owner: string) => `${owner}.`;

/**
 * The report of findTlsaBase (RFC 7672 §2.2.2, the rules of a sending MTA) for `host`, with
 * the TLSA answer --verify checks (absent when none applies) and, then, the verdict. Pure.
 */
export function describeTlsaBase(host: string, port: number, lookup: TlsaBaseLookup): { report: TlsaBaseReport; answer?: DnsAnswer<TlsaData>; noTlsa?: string } {
  const owner = (base: string) => `_${port}._tcp.${base}`;
  const queried = lookup.queried.map((q) => ({ owner: fqdn(q.answer.qname), status: q.answer.status, proof: q.answer.proof, records: q.answer.records.length }));
  const fc = lookup.firstCname;
  const firstCname = fc ? { status: fc.status, proof: fc.proof, ...(fc.records[0] ? { target: fc.records[0] } : {}) } : undefined;
  const c = lookup.candidates;
  const r = lookup.result;
  const common = { selection: 'rfc7672' as const, queried, ...(firstCname ? { firstCname } : {}) };
  if (r.kind === 'none') {
    const cname = c.expanded !== host ? ` and its first CNAME is not secure (${fc ? `${fc.status}, ${fc.proof}` : 'not looked up'})` : '';
    const reason = `DANE does not apply: the address records of ${host} are ${r.addrProof}${cname}, so a sending MTA looks up no TLSA records and uses opportunistic TLS (RFC 7672 §2.2.2)`;
    return { report: { base: null, owner: null, daneApplies: false, ...common, reason }, noTlsa: reason };
  }
  if (r.kind === 'cname-failed') {
    const reason = `the CNAME lookup ${r.answer.qname} failed (${r.answer.proof}${r.answer.reason ? `: ${r.answer.reason}` : ''}): whether TLSA is due at ${host} cannot be told, a sending MTA skips this host (RFC 7672 §2.1.1, §2.2.2)`;
    return { report: { base: null, owner: null, daneApplies: true, ...common, reason }, noTlsa: reason };
  }
  let rule: string;
  if (c.kind === 'bases' && c.rule === 'secure-cname') rule = `${host} is a CNAME for ${c.expanded} and the chain and its address records are secure, so TLSA is looked up at the expanded name ${c.expanded} first, then at ${host}`;
  else if (c.kind === 'bases' && c.rule === 'first-cname-secure') rule = `the CNAME chain from ${host} to ${c.expanded} is ${c.addrProof} but its first CNAME is secure, so TLSA is looked up at the original name ${host} only`;
  else rule = `the address records of ${host} are secure and ${host} is not a CNAME, so TLSA is looked up at ${host}`;
  const skipped = (base: string) => lookup.queried.filter((q) => q.base !== base).map((q) => `${owner(q.base)} has no secure TLSA RRset (${q.answer.status}, ${q.answer.proof})`);
  let outcome: string;
  let base: string;
  let answer: DnsAnswer<TlsaData>;
  if (r.kind === 'found' || r.kind === 'tlsa-failed') {
    base = r.base;
    answer = r.answer;
    const before = skipped(base);
    const used = r.kind === 'found' ? `${base} is used: it has a secure TLSA RRset` : `the lookup at ${owner(base)} failed, so a sending MTA skips this host (RFC 7672 §2.2.3)`;
    outcome = before.length ? `${before.join(', ')}, so ${used}` : used;
  } else {
    const last = lookup.queried[lookup.queried.length - 1]!;
    base = last.base;
    answer = last.answer;
    outcome = `no secure TLSA RRset at ${lookup.queried.map((q) => `${owner(q.base)} (${q.answer.status}, ${q.answer.proof})`).join(' or ')}, so a sending MTA does no DANE for this host${lookup.queried.length > 1 ? `; ${base} is reported` : ''}`;
  }
  const reason = `${rule}; ${outcome} (RFC 7672 §2.2.2)`;
  return { report: { base, owner: fqdn(owner(base)), daneApplies: true, ...common, reason }, answer };
}


/**
 * The A and AAAA answers the TLSA base domain is chosen from (RFC 7672 §2.2.2): those that
 * did not fail; and, when one failed while another answered, the warning that a sending MTA
 * skips this host altogether (RFC 7672 §2.1.1) though --verify checks the others anyway.
 */
export function addressAnswersForBase(host: string, answers: readonly DnsAnswer<unknown>[]): { answered: DnsAnswer<unknown>[]; warning?: string } {
  const answered = answers.filter((x) => !answerFailed(x));
  const failed = answers.find(answerFailed);
  if (!failed || answered.length === 0) return { answered };
  return {
    answered,
    warning: `the ${failed.qtype} lookup of ${host} failed (${failedWhy(failed)}): a sending MTA skips this host altogether (RFC 7672 §2.1.1); the other addresses are checked anyway`,
  };
}

/** Why --verify uses a TLSA base domain it did not choose as a sending MTA would. */
export type GivenBase = 'addresses-unknown' | 'host-option' | 'address-connect';

/** The report of a TLSA base domain used as given (--host, --sni with an address, or the host itself). */
export function givenTlsaBase(host: string, port: number, why: GivenBase, answer: DnsAnswer<TlsaData> | undefined): TlsaBaseReport {
  const reason =
    why === 'addresses-unknown'
      ? `the addresses of ${host} could not be looked up, so the TLSA base domain cannot be chosen as a sending MTA does (RFC 7672 §2.2.2): TLSA is looked up at ${host} itself`
      : why === 'host-option'
        ? `the TLSA base domain ${host} is given with --host: no RFC 7672 §2.2.2 selection`
        : `--connect gives an address: the TLSA base domain ${host} is taken from --sni, with no RFC 7672 §2.2.2 selection`;
  return {
    base: host,
    owner: ownerName(host, port),
    selection: 'given',
    daneApplies: null,
    queried: answer ? [{ owner: fqdn(answer.qname), status: answer.status, proof: answer.proof, records: answer.records.length }] : [],
    reason,
  };
}

/**
 * The stand-in for a TLSA RRset that was not looked up: none is due (DANE does not apply,
 * NODATA), or the resolver could not be used (`failed`, with why).
 */
export function tlsaNotLookedUp(qname: string, why: { daneDoesNotApply: true } | { failed: string }): DnsAnswer<TlsaData> {
  const none = 'daneDoesNotApply' in why;
  return { qname, qtype: 'TLSA', status: none ? 'nodata' : 'failed', proof: 'indeterminate', records: [], ttl: 0, cnameChain: [qname], canonicalName: qname, reason: none ? 'not looked up' : why.failed };
}

/** The verdict over every address: the sentence, and its part after "authenticated:" / "NOT authenticated:". */
export interface OverallVerdict {
  authenticated: boolean;
  summary: string;
  detail: string;
}

/** The one-sentence summary of a check that did not authenticate. */
export function notAuthenticatedSummary(why: string): string {
  return `NOT authenticated: ${why}`;
}

/** One address --verify checked: whether it served a chain, and its report. */
export interface AddressCheck {
  address: string | undefined;
  reached: boolean;
  report: VerifyReport;
}

/**
 * The verdict over every address: authenticated only when the addresses could be looked
 * up and every one of them is authenticated. An address that cannot be reached fails; so
 * does a host DANE does not apply to (`noTlsa`, the verdict then, said once).
 */
export function overallVerdict(perAddress: AddressCheck[], lookupErrors: string[], noTlsa?: string): OverallVerdict {
  const notAuthenticated = (detail: string): OverallVerdict => ({ authenticated: false, summary: notAuthenticatedSummary(detail), detail });
  if (noTlsa !== undefined) return notAuthenticated([...lookupErrors, noTlsa].join('; '));
  const n = perAddress.length;
  const failing = perAddress.filter((p) => !p.report.authenticated);
  if (n > 0 && failing.length === 0 && lookupErrors.length === 0) {
    const detail = n === 1 ? `${perAddress[0]!.address} matches` : `all ${n} addresses match`;
    return { authenticated: true, summary: `authenticated: ${detail}`, detail };
  }
  const why = (p: { report: VerifyReport }) => p.report.detail;
  const parts = [...lookupErrors];
  const reached = failing.filter((p) => p.reached);
  const sameReason = n > 1 && reached.length === n && new Set(reached.map(why)).size === 1;
  if (sameReason) parts.push(`none of the ${n} addresses is authenticated: ${why(reached[0]!)}`);
  else {
    for (const p of failing) {
      const r = p.report;
      const verb = !p.reached ? 'cannot be checked' : r.dns.status === 'data' && r.dns.proof === 'secure' && r.records.some((x) => x.usable) ? 'does NOT match' : 'is NOT authenticated';
      parts.push(`${p.address} ${verb}: ${why(p)}`);
    }
  }
  if (n > 0 && failing.length < n) parts.push(`${n - failing.length} of ${n} addresses match`);
  return notAuthenticated(parts.join('; '));
}
