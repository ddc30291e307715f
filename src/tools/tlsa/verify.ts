/**
 * Checking a published TLSA RRset against the chain a live server sends. Pure: the DNS
 * answer, the served DER chain, the host and the time in; a report out. Usability comes
 * from classifyTlsa (RFC 7672 §3.1, RFC 7671 §9), the verdict from authenticate().
 */
import type { DnsAnswer, TlsaData } from '../../dns/types.js';
import { classifyTlsa, tlsaToText, type UnusableReason } from '../../dane/tlsa.js';
import { associationMatches, authenticate, type AuthResult } from '../../dane/authenticate.js';
import { issuerPath, servedEntries, sha256Hex } from './material.js';
import { shortText } from './records.js';

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
  warnings: string[];
}

export interface VerifyInput {
  owner: string;
  answer: DnsAnswer<TlsaData>;
  served: Buffer[];
  /** Reference identifier(s) for DANE-TA: the TLSA base domain (the host). */
  referenceNames: string[];
  now: Date;
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
  let summary: string;
  if (certs.length === 0) summary = 'NOT authenticated: the server sent no parsable certificate';
  else if (a.status === 'failed') summary = `NOT authenticated: the TLSA lookup failed (${a.proof}${a.reason ? `: ${a.reason}` : ''})`;
  else if (a.status !== 'data') summary = `NOT authenticated: no TLSA records at ${input.owner} (${a.status}, ${a.proof})`;
  else if (!secure) summary = `NOT authenticated: the TLSA RRset is ${a.proof}, DANE needs a DNSSEC-secure RRset (RFC 7672 §2.2)${auth.ok ? '; the records would match' : ''}`;
  else if (usable.length === 0) summary = 'NOT authenticated: no usable TLSA record (RFC 7672 §2.2: the server is then not DANE-authenticated)';
  else if (auth.ok) summary = `authenticated by ${shortText({ ...parseText(auth.record) })} (${auth.usage}, depth ${auth.depth}${auth.matchedName ? `, name ${auth.matchedName}` : ''})`;
  else summary = `NOT authenticated: ${auth.reason}`;
  const authenticated = certs.length > 0 && secure && a.status === 'data' && auth.ok;
  return {
    owner: input.owner,
    dns: { status: a.status, proof: a.proof, ttl: a.ttl, cnameChain: a.cnameChain, ...(a.reason ? { reason: a.reason } : {}) },
    served,
    records,
    auth,
    authenticated,
    summary,
    warnings,
  };
}

function parseText(text: string): TlsaData {
  const [u, s, m, hex] = text.split(' ');
  return { usage: Number(u), selector: Number(s), matchingType: Number(m), data: Buffer.from(hex ?? '', 'hex') };
}
