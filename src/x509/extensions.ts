/**
 * A small, strict DER reader for the two certificate extensions that path validation needs
 * and Node's X509Certificate does not expose: basicConstraints with its pathLenConstraint
 * (RFC 5280 §4.2.1.9) and the keyUsage bits (§4.2.1.3). Also the issuer and subject Names
 * as DER, for "self-issued" (§6.1).
 *
 * Pure and total: bytes in, a value or a reason out; it never throws and never reads
 * outside the buffer. Lengths are bounds-checked, indefinite lengths and multi-byte tags
 * are refused, every constructed value must be consumed exactly, and an extension that
 * appears twice makes the certificate malformed (§4.2: "MUST NOT include more than one
 * instance of a particular extension").
 */

export interface BasicConstraints {
  cA: boolean;
  /** pathLenConstraint; undefined when absent. A value too large to matter is MAX_SAFE_INTEGER. */
  pathLen?: number;
  critical: boolean;
}

export interface KeyUsage {
  /** The named bits that are set, in RFC 5280 order (digitalSignature = 0 … decipherOnly = 8). */
  bits: number[];
  keyCertSign: boolean;
  critical: boolean;
}

export interface CertExtensions {
  /** undefined: the certificate has no basicConstraints extension. */
  basicConstraints?: BasicConstraints;
  /** undefined: the certificate has no keyUsage extension (every usage allowed). */
  keyUsage?: KeyUsage;
  /** DER of the issuer and subject Names (whole TLVs). */
  issuerName: Buffer;
  subjectName: Buffer;
}

export type ExtensionsResult = { ok: true; value: CertExtensions } | { ok: false; why: string };

export const KEY_USAGE_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
const KEY_CERT_SIGN = 5;

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';

const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  VERSION: 0xa0, // [0] EXPLICIT
  ISSUER_UID: 0x81, // [1] IMPLICIT
  SUBJECT_UID: 0x82, // [2] IMPLICIT
  EXTENSIONS: 0xa3, // [3] EXPLICIT
} as const;

class DerError extends Error {}

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Content [body, end). */
  body: number;
  end: number;
}

/** One TLV at `off`, which must end at or before `limit`. */
function readTlv(buf: Uint8Array, off: number, limit: number, what: string): Tlv {
  if (off + 2 > limit) throw new DerError(`${what}: truncated at byte ${off}`);
  const tag = buf[off]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: multi-byte tag at byte ${off}`);
  const first = buf[off + 1]!;
  let len: number;
  let body: number;
  if (first < 0x80) {
    len = first;
    body = off + 2;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError(`${what}: indefinite length at byte ${off}`);
    if (n > 4) throw new DerError(`${what}: length of ${n} bytes at byte ${off}`);
    if (off + 2 + n > limit) throw new DerError(`${what}: truncated length at byte ${off}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i]!;
    body = off + 2 + n;
  }
  const end = body + len;
  if (end > limit) throw new DerError(`${what}: ${end - limit} bytes past its end at byte ${off}`);
  return { tag, start: off, body, end };
}

function expect(buf: Uint8Array, off: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, off, limit, what);
  if (t.tag !== tag) throw new DerError(`${what}: tag 0x${t.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
  return t;
}

function oidText(buf: Uint8Array, t: Tlv): string {
  if (t.end === t.body) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let v = 0;
  let started = false;
  for (let i = t.body; i < t.end; i++) {
    const b = buf[i]!;
    if (!started && b === 0x80) throw new DerError('OBJECT IDENTIFIER arc with a leading 0x80');
    started = true;
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER) throw new DerError('OBJECT IDENTIFIER arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0;
      started = false;
    }
  }
  if (started) throw new DerError('truncated OBJECT IDENTIFIER');
  const head = arcs[0]!;
  const x = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [x, head - 40 * x, ...arcs.slice(1)].join('.');
}

function boolean(buf: Uint8Array, t: Tlv, what: string): boolean {
  if (t.end - t.body !== 1) throw new DerError(`${what}: BOOLEAN of ${t.end - t.body} bytes`);
  const b = buf[t.body]!;
  if (b !== 0x00 && b !== 0xff) throw new DerError(`${what}: BOOLEAN 0x${b.toString(16)} is not DER`);
  return b === 0xff;
}

/** A non-negative INTEGER; values beyond 2^53 are capped (no path is that long). */
function nonNegativeInteger(buf: Uint8Array, t: Tlv, what: string): number {
  const n = t.end - t.body;
  if (n === 0) throw new DerError(`${what}: empty INTEGER`);
  if (buf[t.body]! & 0x80) throw new DerError(`${what}: negative`);
  if (n > 1 && buf[t.body] === 0 && (buf[t.body + 1]! & 0x80) === 0) throw new DerError(`${what}: INTEGER not minimally encoded`);
  let v = 0;
  for (let i = t.body; i < t.end; i++) {
    v = v * 256 + buf[i]!;
    if (v > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  }
  return v;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function basicConstraints(buf: Uint8Array, value: Tlv, critical: boolean): BasicConstraints {
  const what = 'basicConstraints';
  const seq = expect(buf, value.body, value.end, TAG.SEQUENCE, what);
  if (seq.end !== value.end) throw new DerError(`${what}: bytes after the SEQUENCE`);
  let off = seq.body;
  let cA = false;
  let pathLen: number | undefined;
  if (off < seq.end && buf[off] === TAG.BOOLEAN) {
    const t = readTlv(buf, off, seq.end, what);
    // An explicit FALSE is not DER (DEFAULT), but common enough and harmless: accepted.
    cA = boolean(buf, t, `${what} cA`);
    off = t.end;
  }
  if (off < seq.end) {
    const t = expect(buf, off, seq.end, TAG.INTEGER, `${what} pathLenConstraint`);
    pathLen = nonNegativeInteger(buf, t, `${what} pathLenConstraint`);
    off = t.end;
  }
  if (off !== seq.end) throw new DerError(`${what}: unexpected content after the known fields`);
  return { cA, pathLen, critical };
}

/** KeyUsage ::= BIT STRING */
function keyUsage(buf: Uint8Array, value: Tlv, critical: boolean): KeyUsage {
  const what = 'keyUsage';
  const t = expect(buf, value.body, value.end, TAG.BIT_STRING, what);
  if (t.end !== value.end) throw new DerError(`${what}: bytes after the BIT STRING`);
  const n = t.end - t.body;
  if (n === 0) throw new DerError(`${what}: empty BIT STRING`);
  const unused = buf[t.body]!;
  if (unused > 7 || (n === 1 && unused !== 0)) throw new DerError(`${what}: ${unused} unused bits in ${n - 1} bytes`);
  const bits: number[] = [];
  for (let i = 0; i < (n - 1) * 8 - unused; i++) {
    if (buf[t.body + 1 + (i >> 3)]! & (0x80 >> (i & 7))) bits.push(i);
  }
  return { bits: bits.filter((b) => b < KEY_USAGE_NAMES.length), keyCertSign: bits.includes(KEY_CERT_SIGN), critical };
}

function parse(der: Uint8Array): CertExtensions {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  const cert = expect(der, 0, der.length, TAG.SEQUENCE, 'Certificate');
  if (cert.end !== der.length) throw new DerError(`Certificate: ${der.length - cert.end} bytes after it`);
  const tbs = expect(der, cert.body, cert.end, TAG.SEQUENCE, 'TBSCertificate');
  let off = tbs.body;
  const next = (tag: number, what: string): Tlv => {
    const t = expect(der, off, tbs.end, tag, what);
    off = t.end;
    return t;
  };
  if (off < tbs.end && der[off] === TAG.VERSION) next(TAG.VERSION, 'version');
  next(TAG.INTEGER, 'serialNumber');
  next(TAG.SEQUENCE, 'signature');
  const issuer = next(TAG.SEQUENCE, 'issuer');
  next(TAG.SEQUENCE, 'validity');
  const subject = next(TAG.SEQUENCE, 'subject');
  next(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  if (off < tbs.end && der[off] === TAG.ISSUER_UID) next(TAG.ISSUER_UID, 'issuerUniqueID');
  if (off < tbs.end && der[off] === TAG.SUBJECT_UID) next(TAG.SUBJECT_UID, 'subjectUniqueID');
  const out: CertExtensions = {
    issuerName: Buffer.from(der.subarray(issuer.start, issuer.end)),
    subjectName: Buffer.from(der.subarray(subject.start, subject.end)),
  };
  if (off < tbs.end) {
    const wrap = next(TAG.EXTENSIONS, 'extensions');
    // Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
    const list = expect(der, wrap.body, wrap.end, TAG.SEQUENCE, 'extensions');
    if (list.end !== wrap.end) throw new DerError('extensions: bytes after the SEQUENCE');
    if (list.body === list.end) throw new DerError('extensions: empty SEQUENCE');
    const seen = new Set<string>();
    let e = list.body;
    while (e < list.end) {
      // Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      const ext = expect(der, e, list.end, TAG.SEQUENCE, 'extension');
      e = ext.end;
      const idTlv = expect(der, ext.body, ext.end, TAG.OID, 'extension extnID');
      const id = oidText(der, idTlv);
      if (seen.has(id)) throw new DerError(`extension ${id} appears twice`);
      seen.add(id);
      let p = idTlv.end;
      let critical = false;
      if (p < ext.end && der[p] === TAG.BOOLEAN) {
        const c = readTlv(der, p, ext.end, `extension ${id} critical`);
        critical = boolean(der, c, `extension ${id} critical`);
        p = c.end;
      }
      const value = expect(der, p, ext.end, TAG.OCTET_STRING, `extension ${id} extnValue`);
      if (value.end !== ext.end) throw new DerError(`extension ${id}: bytes after extnValue`);
      if (id === OID_BASIC_CONSTRAINTS) out.basicConstraints = basicConstraints(der, value, critical);
      else if (id === OID_KEY_USAGE) out.keyUsage = keyUsage(der, value, critical);
    }
  }
  if (off !== tbs.end) throw new DerError('TBSCertificate: unexpected content after the extensions');
  return out;
}

/** basicConstraints, keyUsage and the Names of a DER certificate; never throws. */
export function readCertExtensions(der: Uint8Array): ExtensionsResult {
  try {
    return { ok: true, value: parse(der) };
  } catch (err) {
    if (err instanceof DerError) return { ok: false, why: err.message };
    return { ok: false, why: `unreadable certificate (${err instanceof Error ? err.message : String(err)})` };
  }
}
