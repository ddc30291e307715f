/**
 * Authenticate a served certificate chain with usable TLSA records (RFC 7672 §3.1,
 * RFC 7671 §5). Pure: TLSA records, the chain the server sent, reference names and the
 * time in; a Match or a Failure out. No sockets, no clock, no local trust store.
 */
import { createHash, createPublicKey, type X509Certificate } from 'node:crypto';
import type { TlsaData } from '../../dns/types.js';
import { Matching, Selector, Usage, tlsaToText, type ClassifiedTlsa } from './tlsa.js';
import { checkPath, findIssuer, issuerPath, selfSigned, type PathProblemKind } from '../../x509/path.js';
import { leafMatchesName, serverAuthAllowed } from '../../x509/identity.js';
import { dateProblem, describeCertificate, readCertificate, type CertInfo, type Certificate } from '../../x509/certificate.js';

export { certIssuedBy } from '../../x509/path.js';
export type { CertInfo } from '../../x509/certificate.js';

export interface AuthMatch {
  ok: true;
  /** The record that authenticated the server, as presentation text "3 1 1 ab…". */
  record: string;
  usage: 'DANE-EE' | 'DANE-TA';
  /** Depth of the matched certificate in the served chain (0 = leaf). */
  depth: number;
  /** DANE-TA only: the reference identifier the leaf certificate matched. */
  matchedName?: string;
  /**
   * DANE-TA only: where the trust anchor came from: a certificate the server sent, or the
   * TLSA record itself ("2 0 0" certificate or "2 1 0" key, RFC 7671 §5.2.2, §5.2.3)
   * when the server left it out. `depth` is then the anchor's depth above the served path.
   */
  anchor?: 'served' | 'tlsa-record';
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
  /** ta-name-mismatch: the reference identifiers the leaf names none of. */
  referenceNames?: string[];
  /** DANE-TA with the anchor found: what is wrong with the path below it (`why` without "trust anchor at depth N, but"). */
  pathProblem?: string;
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
  /** The same certificates already read (ServedTls.read): not read again. */
  read?: readonly Certificate[];
  /** RFC 7672 §3.2.2 reference identifiers: TLSA base domain, MX host, next-hop domain. */
  referenceNames: string[];
  now: Date;
}

const MAX_DEPTH = 10;

/** A served certificate that OpenSSL parses, for path building and checks. */
type ParsedCert = Certificate & { x509: X509Certificate };

const hasX509 = (c: Certificate): c is ParsedCert => c.x509 !== undefined;

function sha(alg: 'sha256' | 'sha512', data: Buffer): Buffer {
  return createHash(alg).update(data).digest();
}

/**
 * RFC 6698 §2.1.2–2.1.3: the selected content, then the matching type. A certificate whose
 * subjectPublicKeyInfo cannot be read never matches a selector SPKI(1) record.
 */
export function associationMatches(record: TlsaData, cert: { der: Buffer; spki: Buffer | undefined }): boolean {
  const selected = record.selector === Selector.CERT ? cert.der : cert.spki;
  if (!selected) return false;
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
  const hex256 = record.selector === Selector.CERT ? cert.certSha256 : cert.spkiSha256;
  if (hex256 === '') return false; // an unreadable SPKI
  const digest = Buffer.from(hex256, 'hex');
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
function checkTaPath(path: ParsedCert[], anchorDepth: number, referenceNames: string[], now: Date): { ok: true; name: string } | { ok: false; code: RecordFailureCode; why: string; referenceNames?: string[] } {
  for (let d = 0; d <= anchorDepth; d++) {
    const c = path[d]!;
    const problem = dateProblem(c, now);
    if (problem) return { ok: false, code: 'ta-date', why: `certificate at depth ${d} (${c.subject || 'empty subject'}) ${problem}` };
  }
  const structural = checkPath(path.slice(0, anchorDepth + 1));
  if (structural) return { ok: false, code: PATH_PROBLEM_CODE[structural.kind], why: structural.why };
  const leaf = path[0]!.x509;
  if (!serverAuthAllowed(leaf)) return { ok: false, code: 'ta-eku', why: 'leaf certificate is not for TLS server authentication (extended key usage)' };
  const name = referenceNames.find((n) => leafMatchesName(leaf, n));
  if (!name) return { ok: false, code: 'ta-name-mismatch', why: `leaf certificate names none of ${referenceNames.join(', ')}`, referenceNames };
  return { ok: true, name };
}

/**
 * RFC 7671 §5.2.3: a "2 1 0" record is a bare trust-anchor public key. When the server did
 * not send a certificate with that key, the top of the served path must be signed by it
 * (as OpenSSL's DANE and so Postfix do); the path below is then checked as usual.
 */
function signedByKey(top: ParsedCert, spki: Buffer): boolean {
  try {
    return top.x509.verify(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

/** RFC 7671 §5.2.2: a "2 0 0" record is the anchor certificate itself; it may issue the top of the served path. */
function issuedByRecordCert(top: ParsedCert, data: Buffer): ParsedCert | undefined {
  const anchor = readCertificate(data);
  if (!hasX509(anchor)) return undefined;
  return findIssuer(top, [anchor]);
}

type TaOutcome = { ok: true; depth: number; name: string; anchor: 'served' | 'tlsa-record' } | { ok: false; code: RecordFailureCode; why: string; referenceNames?: string[]; pathProblem?: string };

/**
 * DANE-TA(2), RFC 7672 §3.1.2: the anchor is a certificate the server sent, on the issuer
 * path of the leaf. Only a record that carries the whole anchor (Full(0): "2 0 0", "2 1 0")
 * can stand for an anchor the server left out (RFC 7671 §5.2.2, §5.2.3): digests cannot.
 */
function authenticateTa(record: ClassifiedTlsa, path: ParsedCert[], certs: Certificate[], input: AuthInput): TaOutcome {
  const depth = path.findIndex((c) => associationMatches(record, c));
  if (depth >= 0) {
    const check = checkTaPath(path, depth, input.referenceNames, input.now);
    return check.ok ? { ok: true, depth, name: check.name, anchor: 'served' } : { ...check, why: `trust anchor at depth ${depth}, but ${check.why}`, pathProblem: check.why };
  }
  const top = path[path.length - 1];
  if (record.matchingType === Matching.FULL && top && !certs.some((c) => associationMatches(record, c))) {
    if (record.selector === Selector.CERT) {
      const anchor = issuedByRecordCert(top, record.data);
      if (anchor) {
        const full = [...path, anchor];
        const check = checkTaPath(full, path.length, input.referenceNames, input.now);
        return check.ok ? { ok: true, depth: path.length, name: check.name, anchor: 'tlsa-record' } : { ...check, why: `trust anchor from the TLSA record, but ${check.why}`, pathProblem: check.why };
      }
    } else if (!selfSigned(top.x509) && signedByKey(top, record.data)) {
      const check = checkTaPath(path, path.length - 1, input.referenceNames, input.now);
      return check.ok ? { ok: true, depth: path.length, name: check.name, anchor: 'tlsa-record' } : { ...check, why: `trust anchor key from the TLSA record, but ${check.why}`, pathProblem: check.why };
    }
  }
  const offPath = certs.some((c) => associationMatches(record, c));
  return {
    ok: false,
    code: offPath ? 'ta-off-path' : 'ta-not-served',
    why: offPath ? 'matches a served certificate that is not on the issuer path of the leaf' : 'matches no certificate the server sent (the trust anchor must be in the served chain)',
  };
}

/** Never throws: any bytes as `served`, any records; a Match or a Failure with reasons. */
export function authenticate(input: AuthInput): AuthResult {
  const certs = input.read && input.read.length === input.served.length ? [...input.read] : input.served.map(readCertificate);
  const chain = certs.map((c, depth) => describeCertificate(c, depth));
  const leaf = certs[0];
  if (!leaf) {
    return { ok: false, reason: 'the server sent no certificate', records: [], chain };
  }
  const path = hasX509(leaf) ? issuerPath(certs.filter(hasX509), [], MAX_DEPTH) : [];
  const tried: RecordFailure[] = [];

  for (const record of input.records) {
    const text = tlsaToText(record);
    if (record.usage === Usage.DANE_EE) {
      // RFC 7672 §3.1.1: DANE-EE matches the leaf only, its key or its bytes; no name,
      // date or extension checks, so any certificate a handshake accepted can match.
      if (associationMatches(record, leaf)) {
        return { ok: true, record: text, usage: 'DANE-EE', depth: 0, chain };
      }
      tried.push({ record: text, code: 'ee-no-match', why: 'does not match the leaf certificate' });
      continue;
    }
    if (record.usage === Usage.DANE_TA) {
      if (!hasX509(leaf)) {
        tried.push({ record: text, code: 'ta-bad-extension', why: 'the leaf certificate cannot be parsed for path validation' });
        continue;
      }
      const ta = authenticateTa(record, path, certs, input);
      if (ta.ok) return { ok: true, record: text, usage: 'DANE-TA', depth: ta.depth, matchedName: ta.name, anchor: ta.anchor, chain };
      const failure: RecordFailure = { record: text, code: ta.code, why: ta.why };
      if (ta.referenceNames) failure.referenceNames = ta.referenceNames;
      if (ta.pathProblem) failure.pathProblem = ta.pathProblem;
      tried.push(failure);
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
