/**
 * Key material for TLSA records: certificates, chains, public and private keys, in PEM or
 * DER, auto-detected. Pure: bytes in, DER certificates / SubjectPublicKeyInfo out. A private
 * key is only used to derive its public key. Malformed input is a DaneSmtpError('USAGE')
 * with one clear line (never a stack trace at the CLI).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { DaneSmtpError } from '../../errors.js';
import { readCertificate } from '../../x509/certificate.js';
import { certIssuedBy, issuerPath as buildIssuerPath } from '../../x509/path.js';

/** Longest chain we follow / accept from one file. */
export const MAX_CERTS = 16;
/** Largest input accepted (a chain of 16 certificates is far below this). */
export const MAX_INPUT_BYTES = 1024 * 1024;

export interface CertEntry {
  /** Certificate DER. */
  der: Buffer;
  /** SubjectPublicKeyInfo DER, exactly as the certificate encodes it (any key type). */
  spki: Buffer;
  x509: X509Certificate;
  /** "CN=mx.example.com, O=…" (one line, control and bidi characters escaped); '' for an empty DN. */
  subject: string;
  issuer: string;
  /** basicConstraints CA:TRUE. */
  ca: boolean;
  selfIssued: boolean;
  /** ISO 8601; '' when the validity cannot be read. */
  notBefore: string;
  notAfter: string;
}

export type Material =
  /** One or more certificates, in file / served order (the first is taken as the leaf). */
  | { kind: 'certs'; certs: CertEntry[]; warnings: string[] }
  /** A bare public key (or the public half of a private key). */
  | { kind: 'key'; spki: Buffer; fromPrivate: boolean; keyType: string; warnings: string[] };

function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

/**
 * A certificate as the tool uses it (readCertificate: names escaped, '' for an empty DN, the
 * SPKI as encoded, so an unknown key type too). Throws only when OpenSSL cannot parse it.
 */
export function certEntry(der: Buffer): CertEntry {
  const c = readCertificate(Buffer.from(der));
  if (!c.x509 || !c.spki) throw new Error('not a certificate OpenSSL can parse');
  const x509 = c.x509;
  let selfIssued = false;
  try {
    selfIssued = x509.checkIssued(x509);
  } catch {
    /* not self-issued as far as OpenSSL can tell */
  }
  return {
    der: Buffer.from(x509.raw),
    spki: c.spki,
    x509,
    subject: c.subject,
    issuer: c.issuer,
    ca: x509.ca === true,
    selfIssued,
    notBefore: c.notBefore?.toISOString() ?? '',
    notAfter: c.notAfter?.toISOString() ?? '',
  };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

interface PemBlock {
  label: string;
  der: Buffer;
  index: number;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

function pemBlocks(text: string, what: string): PemBlock[] {
  const out: PemBlock[] = [];
  let m: RegExpExecArray | null;
  let index = 0;
  PEM_RE.lastIndex = 0;
  while ((m = PEM_RE.exec(text)) !== null) {
    index++;
    const [, begin, body, end] = m;
    if (begin !== end) throw usage(`${what}: PEM block ${index} begins with "${begin}" but ends with "${end}"`);
    // RFC 7468: base64 with optional headers (Proc-Type etc.) before an empty line.
    let b = body!;
    if (/^\s*[A-Za-z-]+:/.test(b)) {
      if (/Proc-Type:\s*4,ENCRYPTED/i.test(b)) {
        throw usage(`${what}: the private key is encrypted; give the certificate or the public key instead (openssl pkey -pubout)`);
      }
      const blank = b.search(/\r?\n\s*\r?\n/);
      b = blank >= 0 ? b.slice(blank) : '';
    }
    const compact = b.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0 || compact.length === 0) {
      throw usage(`${what}: PEM block ${index} ("${begin}") is not valid base64`);
    }
    out.push({ label: begin!, der: Buffer.from(compact, 'base64'), index });
  }
  return out;
}

/** Splits concatenated DER objects (each an ASN.1 SEQUENCE) by their outer lengths. */
export function splitDer(buf: Buffer, what: string): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (out.length > 0 && buf[off] !== 0x30) {
      // `openssl x509 -outform DER` and editors may leave a newline (or NULs) after the DER.
      const rest = buf.subarray(off);
      if (/^[\s\0]*$/.test(rest.toString('latin1'))) break;
      throw usage(`${what}: ${rest.length} byte(s) of trailing data after the DER object(s), at byte ${off}`);
    }
    if (out.length >= MAX_CERTS) throw usage(`${what}: more than ${MAX_CERTS} DER objects`);
    if (buf[off] !== 0x30) throw usage(`${what}: neither PEM nor DER (no ASN.1 SEQUENCE at byte ${off})`);
    const first = buf[off + 1];
    if (first === undefined) throw usage(`${what}: truncated DER at byte ${off}`);
    let len: number;
    let header: number;
    if (first < 0x80) {
      len = first;
      header = 2;
    } else {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || off + 2 + n > buf.length) throw usage(`${what}: malformed DER length at byte ${off}`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i]!;
      header = 2 + n;
    }
    const end = off + header + len;
    if (end > buf.length) throw usage(`${what}: truncated DER (object at byte ${off} needs ${end - buf.length} more bytes)`);
    out.push(buf.subarray(off, end));
    off = end;
  }
  if (out.length === 0) throw usage(`${what}: empty input`);
  return out;
}

function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function keyTypeOf(key: KeyObject): string {
  const t = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails;
  if (t === 'rsa' && d?.modulusLength) return `RSA ${d.modulusLength}`;
  if (t === 'ec' && d?.namedCurve) return `EC ${d.namedCurve}`;
  return t.toUpperCase();
}

type Parsed = { cert: CertEntry } | { key: KeyObject; fromPrivate: boolean };

/** One DER object: certificate, SPKI, PKCS#8 / PKCS#1 / SEC1 private key, PKCS#1 public key. */
function parseDerObject(der: Buffer): Parsed | undefined {
  try {
    return { cert: certEntry(der) };
  } catch {
    /* not a certificate */
  }
  try {
    return { key: createPublicKey({ key: der, format: 'der', type: 'spki' }), fromPrivate: false };
  } catch {
    /* not an SPKI */
  }
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return { key: createPublicKey(createPrivateKey({ key: der, format: 'der', type })), fromPrivate: true };
    } catch {
      /* next */
    }
  }
  try {
    return { key: createPublicKey({ key: der, format: 'der', type: 'pkcs1' }), fromPrivate: false };
  } catch {
    return undefined;
  }
}

function parsePemBlock(block: PemBlock, what: string): Parsed | undefined {
  const bad = (kind: string) => usage(`${what}: PEM block ${block.index} is labelled "${block.label}" but is not a valid ${kind}`);
  switch (block.label) {
    case 'CERTIFICATE':
    case 'X509 CERTIFICATE':
    case 'TRUSTED CERTIFICATE': {
      try {
        // A TRUSTED CERTIFICATE is the certificate followed by OpenSSL's trust settings.
        const der = block.label === 'TRUSTED CERTIFICATE' ? splitDer(block.der, what)[0]! : block.der;
        return { cert: certEntry(der) };
      } catch (e) {
        if (e instanceof DaneSmtpError) throw e;
        throw bad('certificate');
      }
    }
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY':
      try {
        return {
          key: createPublicKey({ key: block.der, format: 'der', type: block.label === 'PUBLIC KEY' ? 'spki' : 'pkcs1' }),
          fromPrivate: false,
        };
      } catch {
        throw bad('public key');
      }
    case 'PRIVATE KEY':
    case 'RSA PRIVATE KEY':
    case 'EC PRIVATE KEY': {
      const type = block.label === 'PRIVATE KEY' ? 'pkcs8' : block.label === 'RSA PRIVATE KEY' ? 'pkcs1' : 'sec1';
      try {
        return { key: createPublicKey(createPrivateKey({ key: block.der, format: 'der', type })), fromPrivate: true };
      } catch {
        throw bad('private key');
      }
    }
    case 'ENCRYPTED PRIVATE KEY':
      throw usage(`${what}: the private key is encrypted; give the certificate or the public key instead (openssl pkey -pubout)`);
    case 'EC PARAMETERS':
    case 'DH PARAMETERS':
    case 'X509 CRL':
    case 'CERTIFICATE REQUEST':
    case 'NEW CERTIFICATE REQUEST':
      return undefined; // ignored
    default:
      throw usage(`${what}: unsupported PEM block "${block.label}" (expected CERTIFICATE, PUBLIC KEY or PRIVATE KEY)`);
  }
}

/**
 * Parses a file's bytes. PEM when it contains a "-----BEGIN" line, DER otherwise (several
 * DER certificates may be concatenated). Certificates win over keys in a file that has
 * both (a combined key + chain PEM); the key must then be that of the first certificate.
 */
export function parseMaterial(input: Buffer, what = 'input'): Material {
  if (input.length === 0) throw usage(`${what}: empty input`);
  if (input.length > MAX_INPUT_BYTES) throw usage(`${what}: larger than ${MAX_INPUT_BYTES} bytes`);
  const text = input.toString('latin1');
  let parsed: Parsed[];
  if (text.includes('-----BEGIN ')) {
    const blocks = pemBlocks(text, what);
    if (blocks.length === 0) throw usage(`${what}: a "-----BEGIN" line without a complete PEM block`);
    parsed = blocks.map((b) => parsePemBlock(b, what)).filter((p): p is Parsed => p !== undefined);
    if (parsed.length === 0) throw usage(`${what}: no certificate or key in the PEM blocks`);
  } else {
    if (/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text)) {
      throw usage(`${what}: neither PEM (no "-----BEGIN" line) nor DER (text, not binary)`);
    }
    parsed = splitDer(input, what).map((der, i) => {
      const p = parseDerObject(der);
      if (!p) throw usage(`${what}: DER object ${i + 1} is neither a certificate nor a public or private key`);
      return p;
    });
  }
  const certs = parsed.flatMap((p) => ('cert' in p ? [p.cert] : []));
  const keys = parsed.flatMap((p) => ('key' in p ? [p] : []));
  if (certs.length > MAX_CERTS) throw usage(`${what}: more than ${MAX_CERTS} certificates`);
  const warnings: string[] = [];
  // The leaf is the first certificate, unless the file says otherwise: the certificate of
  // the private or public key in the file, or, in a file that starts with a CA (a bundle
  // in reverse order), the one certificate that issued none of the others.
  if (certs.length > 1) {
    const keySpkis = keys.map((k) => spkiOf(k.key));
    let leafAt = certs.findIndex((c) => keySpkis.some((s) => s.equals(c.spki)));
    const issuesAnother = (c: CertEntry) => certs.some((o) => o !== c && certIssuedBy(o.x509, c.x509));
    if (leafAt < 0 && issuesAnother(certs[0]!)) {
      const bottoms = certs.flatMap((c, i) => (issuesAnother(c) ? [] : [i]));
      if (bottoms.length === 1) leafAt = bottoms[0]!;
    }
    if (leafAt > 0) {
      const [leaf] = certs.splice(leafAt, 1);
      certs.unshift(leaf!);
      warnings.push(`${what}: the leaf ${leaf!.subject} is not the first certificate of the file (certificate ${leafAt + 1}); it is taken as the leaf`);
    }
  }
  if (certs.length > 0) {
    const leafSpki = certs[0]!.spki;
    for (const k of keys) {
      if (!spkiOf(k.key).equals(leafSpki)) {
        warnings.push(`${what}: the ${k.fromPrivate ? 'private' : 'public'} key in the file is not the key of the first certificate (${certs[0]!.subject}); the certificate is used`);
      }
    }
    return { kind: 'certs', certs, warnings };
  }
  const first = keys[0]!;
  const spki = spkiOf(first.key);
  if (keys.some((k) => !spkiOf(k.key).equals(spki))) throw usage(`${what}: several different keys in one file; give one`);
  return { kind: 'key', spki, fromPrivate: first.fromPrivate, keyType: keyTypeOf(first.key), warnings };
}

/** Certificates from DER buffers (a served chain); unparsable ones are reported, not thrown. */
export function servedEntries(chain: Buffer[]): { certs: CertEntry[]; warnings: string[] } {
  const certs: CertEntry[] = [];
  const warnings: string[] = [];
  chain.slice(0, MAX_CERTS).forEach((der, i) => {
    try {
      certs.push(certEntry(der));
    } catch {
      warnings.push(`served certificate at position ${i} cannot be parsed and is ignored`);
    }
  });
  return { certs, warnings };
}

/** The issuer path from certs[0], built exactly as DANE-TA authentication builds it (x509/path.ts). */
export function issuerPath(certs: CertEntry[], extra: CertEntry[] = []): CertEntry[] {
  return buildIssuerPath(certs, extra, MAX_CERTS);
}

/** One-line description of material for reports. */
export function describeMaterial(m: Material): string {
  if (m.kind === 'key') return `${m.fromPrivate ? 'public key of a private key' : 'public key'} (${m.keyType})`;
  const leaf = m.certs[0]!;
  const subject = leaf.subject || '(empty subject DN)';
  return m.certs.length === 1 ? `certificate ${subject}` : `chain of ${m.certs.length} certificates, leaf ${subject}`;
}
