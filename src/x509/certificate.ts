/**
 * One certificate, read once from its DER, for everything that looks at a served chain:
 * DANE matching (the exact bytes and the subjectPublicKeyInfo as encoded, RFC 6698 §2.1.2),
 * DANE-TA and PKIX path checks (Node's X509Certificate), and the description a result
 * carries (CertInfo). Total: any certificate a TLS handshake accepted, and any byte string
 * at all, gives a value and never an exception. An empty subject or issuer DN, a v1
 * certificate, an unknown key type, dates before 1970 or in the year 9999 are all legal.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { DerError, TAG, expect, readTlv, type Tlv } from './der.js';

export interface Certificate {
  der: Buffer;
  /** The subjectPublicKeyInfo exactly as the certificate encodes it; undefined when unreadable. */
  spki: Buffer | undefined;
  /** Node's (OpenSSL's) view, for signatures and path checks; undefined when OpenSSL refuses it. */
  x509: X509Certificate | undefined;
  /** One line, RDNs in certificate order, control and bidi characters escaped; '' for an empty DN. */
  subject: string;
  issuer: string;
  /** The validity period; undefined when it cannot be read. */
  notBefore: Date | undefined;
  notAfter: Date | undefined;
}

/** A certificate of a served chain as results carry it (JSON `chain[]`). */
export interface CertInfo {
  depth: number;
  /** '' for an empty subject DN (legal, common for DANE-EE leaves). */
  subject: string;
  issuer: string;
  /** '' when the certificate's subjectPublicKeyInfo cannot be read. */
  spkiSha256: string;
  certSha256: string;
  /** SHA-512 of the SPKI and of the certificate (to tell SHA2-512 records, matching type 2); absent in results from older versions. */
  spkiSha512?: string;
  certSha512?: string;
  /** ISO 8601; '' when the validity cannot be read. Years before 1970 and up to 9999 as they are. */
  notBefore: string;
  notAfter: string;
}

/** C0 and C1 controls, line and paragraph separators, bidi embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A certificate name safe to print on one line: every unsafe character as \uXXXX. */
export function safeName(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function nameText(read: () => string | undefined): string {
  try {
    const text = read();
    // Node gives undefined for an empty DN, and one RDN per line otherwise.
    return typeof text === 'string' ? safeName(text.split('\n').filter((l) => l !== '').join(', ')) : '';
  } catch {
    return '';
  }
}

/** UTCTime (RFC 5280 §4.1.2.5.1: YY < 50 is 20YY) or GeneralizedTime (§4.1.2.5.2), Zulu, seconds. */
function timeOf(der: Uint8Array, t: Tlv): Date | undefined {
  const text = Buffer.from(der.subarray(t.body, t.end)).toString('latin1');
  const m = t.tag === 0x17 ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text) : t.tag === 0x18 ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const year = t.tag === 0x17 ? (y < 50 ? 2000 + y : 1900 + y) : y;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d); // setUTCFullYear: years 0–99 stay as they are
  date.setUTCHours(h, mi, s, 0);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

interface TbsParts {
  spki: Buffer;
  notBefore: Date | undefined;
  notAfter: Date | undefined;
}

/** The subjectPublicKeyInfo and validity of a DER certificate (RFC 5280 §4.1). */
function readTbs(der: Uint8Array): TbsParts {
  const cert = expect(der, 0, der.length, TAG.SEQUENCE, 'Certificate');
  const tbs = expect(der, cert.body, cert.end, TAG.SEQUENCE, 'TBSCertificate');
  let off = tbs.body;
  const next = (what: string): Tlv => {
    const t = readTlv(der, off, tbs.end, what);
    off = t.end;
    return t;
  };
  if (off < tbs.end && der[off] === TAG.VERSION) next('version');
  next('serialNumber'); // any INTEGER: negative and 20+ byte serials are seen in the wild
  next('signature');
  next('issuer');
  const validity = next('validity');
  if (validity.tag !== TAG.SEQUENCE) throw new DerError('validity is not a SEQUENCE');
  next('subject');
  const spki = next('subjectPublicKeyInfo');
  if (spki.tag !== TAG.SEQUENCE) throw new DerError('subjectPublicKeyInfo is not a SEQUENCE');
  const from = readTlv(der, validity.body, validity.end, 'notBefore');
  const to = readTlv(der, from.end, validity.end, 'notAfter');
  return { spki: Buffer.from(der.subarray(spki.start, spki.end)), notBefore: timeOf(der, from), notAfter: timeOf(der, to) };
}

/** Read a certificate once; never throws, whatever the bytes. */
export function readCertificate(der: Buffer): Certificate {
  let x509: X509Certificate | undefined;
  try {
    x509 = new X509Certificate(der);
  } catch {
    x509 = undefined;
  }
  let parts: Partial<TbsParts> = {};
  try {
    parts = readTbs(der);
  } catch {
    // Not DER we can read: the digests of the whole certificate still describe it.
  }
  let spki = parts.spki;
  if (!spki && x509) {
    try {
      spki = x509.publicKey.export({ type: 'spki', format: 'der' });
    } catch {
      spki = undefined; // a key type Node cannot export
    }
  }
  return {
    der,
    spki,
    x509,
    subject: x509 ? nameText(() => x509.subject) : '',
    issuer: x509 ? nameText(() => x509.issuer) : '',
    notBefore: parts.notBefore,
    notAfter: parts.notAfter,
  };
}

function hex(alg: 'sha256' | 'sha512', data: Buffer): string {
  return createHash(alg).update(data).digest('hex');
}

/** The description a result carries, from the certificate itself. */
export function describeCertificate(c: Certificate, depth: number): CertInfo {
  return {
    depth,
    subject: c.subject,
    issuer: c.issuer,
    spkiSha256: c.spki ? hex('sha256', c.spki) : '',
    certSha256: hex('sha256', c.der),
    spkiSha512: c.spki ? hex('sha512', c.spki) : '',
    certSha512: hex('sha512', c.der),
    notBefore: c.notBefore?.toISOString() ?? '',
    notAfter: c.notAfter?.toISOString() ?? '',
  };
}

/** The chain the server sent, described once, leaf first (depth = position in `served`). */
export function describeChain(served: readonly Buffer[]): CertInfo[] {
  return served.map((der, depth) => describeCertificate(readCertificate(der), depth));
}

/** 'not valid before …' / 'expired …' / 'has no readable validity period', or undefined when `now` is inside it. */
export function dateProblem(c: Certificate, now: Date): string | undefined {
  if (!c.notBefore || !c.notAfter) return 'has no readable validity period';
  if (now < c.notBefore) return `not valid before ${c.notBefore.toISOString()}`;
  if (now > c.notAfter) return `expired ${c.notAfter.toISOString()}`;
  return undefined;
}
