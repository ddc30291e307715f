/**
 * Authenticate a served certificate chain with usable TLSA records (RFC 7672 §3.1,
 * RFC 7671 §5). Pure: TLSA records, the chain the server sent, reference names and the
 * time in; a Match or a Failure out. No sockets, no clock, no local trust store.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { TlsaData } from '../dns/types.js';
import { Matching, Selector, Usage, tlsaToText, type ClassifiedTlsa } from './tlsa.js';
import { checkPath, findIssuer, selfSigned, type PathProblemKind } from '../x509/path.js';

export { certIssuedBy } from '../x509/path.js';

export interface CertInfo {
  depth: number;
  subject: string;
  issuer: string;
  spkiSha256: string;
  certSha256: string;
  /** SHA-512 of the SPKI and of the certificate (to tell SHA2-512 records, matching type 2); absent in results from older versions. */
  spkiSha512?: string;
  certSha512?: string;
  notBefore: string;
  notAfter: string;
}

export interface AuthMatch {
  ok: true;
  /** The record that authenticated the server, as presentation text "3 1 1 ab…". */
  record: string;
  usage: 'DANE-EE' | 'DANE-TA';
  /** Depth of the matched certificate in the served chain (0 = leaf). */
  depth: number;
  /** DANE-TA only: the reference identifier the leaf certificate matched. */
  matchedName?: string;
  chain: CertInfo[];
}

/** Why one usable record did not authenticate the server. */
export type RecordFailureCode =
  | 'ee-no-match' // DANE-EE: the leaf does not match
  | 'ta-not-served' // DANE-TA: no served certificate matches
  | 'ta-off-path' // DANE-TA: a served certificate matches, but it did not issue the leaf
  | 'ta-date' // DANE-TA: a certificate of the path is expired or not yet valid
  | 'ta-not-ca' // DANE-TA: an issuer on the path is not a CA (basicConstraints), or its keyUsage lacks keyCertSign
  | 'ta-path-length' // DANE-TA: a CA's pathLenConstraint is exceeded (RFC 5280 §4.2.1.9)
  | 'ta-bad-extension' // DANE-TA: a certificate of the path has unparsable extensions, or OpenSSL refuses a link
  | 'ta-critical-extension' // DANE-TA: a certificate of the path has a critical extension that is not recognized (RFC 5280 §4.2)
  | 'ta-name-constraints' // DANE-TA: a name violates a CA's nameConstraints (RFC 5280 §4.2.1.10)
  | 'ta-eku' // DANE-TA: the leaf is not for TLS server authentication
  | 'ta-name-mismatch' // DANE-TA: the leaf names none of the reference identifiers
  | 'unusable';

export interface RecordFailure {
  record: string;
  code: RecordFailureCode;
  why: string;
}

export interface AuthFailure {
  ok: false;
  /** One sentence for the operator. */
  reason: string;
  /** Per usable record, why it did not authenticate. */
  records: RecordFailure[];
  chain: CertInfo[];
}

export type AuthResult = AuthMatch | AuthFailure;

export interface AuthInput {
  /** Usable records only (see classifyTlsa); unusable ones never take part. */
  records: ClassifiedTlsa[];
  /**
   * DER certificates the server sent, leaf first, and nothing else. (Node hands them over
   * as the issuer path it found among them, so the order here is not the wire order.)
   */
  served: Buffer[];
  /** RFC 7672 §3.2.2 reference identifiers: TLSA base domain, MX host, next-hop domain. */
  referenceNames: string[];
  now: Date;
}

const MAX_DEPTH = 10;
const SERVER_AUTH_EKU = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

interface ParsedCert {
  der: Buffer;
  x509: X509Certificate;
  spki: Buffer;
}

function parse(der: Buffer): ParsedCert | undefined {
  try {
    const x509 = new X509Certificate(der);
    const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
    return { der, x509, spki };
  } catch {
    return undefined;
  }
}

function sha(alg: 'sha256' | 'sha512', data: Buffer): Buffer {
  return createHash(alg).update(data).digest();
}

/** RFC 6698 §2.1.2–2.1.3: the selected content, then the matching type. */
export function associationMatches(record: ClassifiedTlsa, cert: { der: Buffer; spki: Buffer }): boolean {
  const selected = record.selector === Selector.CERT ? cert.der : cert.spki;
  switch (record.matchingType) {
    case Matching.FULL:
      return selected.equals(record.data);
    case Matching.SHA256:
      return sha('sha256', selected).equals(record.data);
    case Matching.SHA512:
      return sha('sha512', selected).equals(record.data);
    default:
      return false;
  }
}

/**
 * associationMatches for a certificate known only by its digests (a CertInfo of a result):
 * Full(0) data is hashed and compared, SHA2-256(1) and SHA2-512(2) compared as they are;
 * SHA2-512 without the SHA-512 digests (a result from an older version): undefined.
 */
export function associationMatchesInfo(record: TlsaData, cert: Pick<CertInfo, 'spkiSha256' | 'certSha256' | 'spkiSha512' | 'certSha512'>): boolean | undefined {
  const digest = Buffer.from(record.selector === Selector.CERT ? cert.certSha256 : cert.spkiSha256, 'hex');
  switch (record.matchingType) {
    case Matching.FULL:
      return sha('sha256', record.data).equals(digest);
    case Matching.SHA256:
      return record.data.equals(digest);
    case Matching.SHA512: {
      const d512 = record.selector === Selector.CERT ? cert.certSha512 : cert.spkiSha512;
      return d512 === undefined ? undefined : record.data.equals(Buffer.from(d512, 'hex'));
    }
    default:
      return false;
  }
}

function certInfo(c: ParsedCert, depth: number): CertInfo {
  return {
    depth,
    subject: c.x509.subject.replace(/\n/g, ', '),
    issuer: c.x509.issuer.replace(/\n/g, ', '),
    spkiSha256: sha('sha256', c.spki).toString('hex'),
    certSha256: sha('sha256', c.der).toString('hex'),
    spkiSha512: sha('sha512', c.spki).toString('hex'),
    certSha512: sha('sha512', c.der).toString('hex'),
    notBefore: new Date(c.x509.validFrom).toISOString(),
    notAfter: new Date(c.x509.validTo).toISOString(),
  };
}

function dateProblem(c: ParsedCert, now: Date): string | undefined {
  if (now < new Date(c.x509.validFrom)) return `not valid before ${new Date(c.x509.validFrom).toISOString()}`;
  if (now > new Date(c.x509.validTo)) return `expired ${new Date(c.x509.validTo).toISOString()}`;
  return undefined;
}

/**
 * The issuer path from the leaf through the served certificates only (RFC 7672 §3.1.2:
 * the trust anchor must be in the chain the server sent). Order of the served list does
 * not matter; a certificate is used at most once. A parent that only signed its child
 * (OpenSSL would refuse it: no keyCertSign, a malformed extension) still extends the path,
 * so that checkTaPath can say what is wrong with it instead of "not on the issuer path".
 */
function issuerPath(certs: ParsedCert[]): ParsedCert[] {
  const leaf = certs[0];
  if (!leaf) return [];
  const path = [leaf];
  const used = new Set<ParsedCert>([leaf]);
  while (path.length < MAX_DEPTH) {
    const child = path[path.length - 1]!;
    if (selfSigned(child.x509)) break; // top reached
    const parent = findIssuer(child, certs.filter((c) => !used.has(c)));
    if (!parent) break;
    path.push(parent);
    used.add(parent);
  }
  return path;
}

/**
 * RFC 7672 §3.2.2 / RFC 6125: SAN dNSNames, the CN only when there are no DNS SANs, a
 * wildcard only as the whole leftmost label. OpenSSL's X509_check_host does exactly this
 * with these flags.
 */
export function leafMatchesName(leaf: X509Certificate, name: string): boolean {
  if (!name) return false;
  try {
    return (
      leaf.checkHost(name, {
        subject: 'default',
        wildcards: true,
        partialWildcards: false,
        multiLabelWildcards: false,
        singleLabelSubdomains: false,
      }) !== undefined
    );
  } catch {
    return false;
  }
}

/** No extended key usage, or one that allows TLS server authentication. */
export function serverAuthAllowed(leaf: X509Certificate): boolean {
  const eku = leaf.keyUsage; // Node: extended key usage OIDs, undefined when absent
  return !eku || eku.includes(SERVER_AUTH_EKU) || eku.includes(ANY_EKU);
}

const PATH_PROBLEM_CODE: Record<PathProblemKind, RecordFailureCode> = {
  malformed: 'ta-bad-extension',
  'not-ca': 'ta-not-ca',
  'path-length': 'ta-path-length',
  'not-issuer': 'ta-bad-extension',
  'unhandled-critical': 'ta-critical-extension',
  'name-constraints': 'ta-name-constraints',
};

/**
 * DANE-TA(2): anchor at `anchorDepth` of `path`; validate leaf..anchor (RFC 7671 §5.2.2:
 * "the usual checks"). The anchor is the top: certificates above it do not count, its own
 * basicConstraints, keyUsage and nameConstraints bind the certificates below it (RFC 5280
 * §6.1.4 (g), (k)–(n)); no certificate of leaf..anchor may carry an unrecognized critical
 * extension (§4.2), as OpenSSL checks the whole chain, the DANE-TA certificate included.
 */
function checkTaPath(path: ParsedCert[], anchorDepth: number, referenceNames: string[], now: Date): { ok: true; name: string } | { ok: false; code: RecordFailureCode; why: string } {
  for (let d = 0; d <= anchorDepth; d++) {
    const c = path[d]!;
    const problem = dateProblem(c, now);
    if (problem) return { ok: false, code: 'ta-date', why: `certificate at depth ${d} (${certInfo(c, d).subject}) ${problem}` };
  }
  const structural = checkPath(path.slice(0, anchorDepth + 1));
  if (structural) return { ok: false, code: PATH_PROBLEM_CODE[structural.kind], why: structural.why };
  const leaf = path[0]!.x509;
  if (!serverAuthAllowed(leaf)) return { ok: false, code: 'ta-eku', why: 'leaf certificate is not for TLS server authentication (extended key usage)' };
  const name = referenceNames.find((n) => leafMatchesName(leaf, n));
  if (!name) return { ok: false, code: 'ta-name-mismatch', why: `leaf certificate names none of ${referenceNames.join(', ')}` };
  return { ok: true, name };
}

export function authenticate(input: AuthInput): AuthResult {
  const parsed = input.served.map(parse);
  const certs = parsed.filter((c): c is ParsedCert => c !== undefined);
  const chain = certs.map((c, i) => certInfo(c, i));
  const leaf = parsed[0];
  if (!leaf) {
    return { ok: false, reason: 'the server sent no parsable certificate', records: [], chain };
  }
  const path = issuerPath(certs);
  const tried: RecordFailure[] = [];

  for (const record of input.records) {
    const text = tlsaToText(record);
    if (record.usage === Usage.DANE_EE) {
      // RFC 7672 §3.1.1: DANE-EE matches the leaf only; no name or date checks.
      if (associationMatches(record, leaf)) {
        return { ok: true, record: text, usage: 'DANE-EE', depth: 0, chain };
      }
      tried.push({ record: text, code: 'ee-no-match', why: 'does not match the leaf certificate' });
      continue;
    }
    if (record.usage === Usage.DANE_TA) {
      // RFC 7672 §3.1.2: the anchor must be one of the certificates the server sent,
      // on the issuer path of the leaf; the path from it is validated with dates.
      const depth = path.findIndex((c) => associationMatches(record, c));
      if (depth < 0) {
        const offPath = certs.some((c) => associationMatches(record, c));
        tried.push({
          record: text,
          code: offPath ? 'ta-off-path' : 'ta-not-served',
          why: offPath
            ? 'matches a served certificate that is not on the issuer path of the leaf'
            : 'matches no certificate the server sent (the trust anchor must be in the served chain)',
        });
        continue;
      }
      const check = checkTaPath(path, depth, input.referenceNames, input.now);
      if (check.ok) {
        return { ok: true, record: text, usage: 'DANE-TA', depth, matchedName: check.name, chain };
      }
      tried.push({ record: text, code: check.code, why: `trust anchor at depth ${depth}, but ${check.why}` });
      continue;
    }
    tried.push({ record: text, code: 'unusable', why: 'not a usable usage' });
  }
  const reason =
    tried.length === 0
      ? 'no usable TLSA record to authenticate with'
      : `no usable TLSA record matched: ${tried.map((t) => `${t.record.slice(0, 20)}… ${t.why}`).join('; ')}`;
  return { ok: false, reason, records: tried, chain };
}
