/**
 * A small, strict DER reader for what path validation needs and Node's X509Certificate does
 * not expose: basicConstraints with its pathLenConstraint (RFC 5280 §4.2.1.9), the keyUsage
 * bits (§4.2.1.3), subjectAltName (§4.2.1.6) and nameConstraints (§4.2.1.10) as general
 * names, every extension's OID and criticality (§4.2: unrecognized critical extensions),
 * and the issuer and subject Names (as DER, for "self-issued" (§6.1), and the subject's
 * attributes, for name constraints).
 *
 * Pure and total: bytes in, a value or a reason out; it never throws and never reads
 * outside the buffer. Lengths are bounds-checked, indefinite lengths and multi-byte tags
 * are refused, every constructed value must be consumed exactly, and an extension that
 * appears twice makes the certificate malformed (§4.2: "MUST NOT include more than one
 * instance of a particular extension").
 */

import { DerError, TAG, expect, oidText, readTlv, type Tlv } from './der.js';

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

/** One attribute of a Name: its type OID, the value's tag and content bytes. */
export interface NameAttribute {
  type: string;
  tag: number;
  value: Buffer;
}

/** A RelativeDistinguishedName: the attributes of one SET (never empty). */
export type Rdn = NameAttribute[];

/** RFC 5280 §4.2.1.6 GeneralName, by form. Text forms are IA5String content as latin1. */
export type GeneralName =
  | { form: 'dNSName' | 'rfc822Name' | 'uniformResourceIdentifier'; text: string }
  | { form: 'iPAddress'; bytes: Buffer }
  | { form: 'directoryName'; rdns: Rdn[] }
  | { form: 'otherName'; typeId: string }
  | { form: 'x400Address' | 'ediPartyName' | 'registeredID' };

export type GeneralNameForm = GeneralName['form'];

export interface SubjectAltName {
  names: GeneralName[];
  critical: boolean;
}

/**
 * RFC 5280 §4.2.1.10: the bases of the permitted and excluded subtrees (minimum and
 * maximum are refused unless absent/0 and absent, as the RFC requires of them).
 */
export interface NameConstraints {
  permitted: GeneralName[];
  excluded: GeneralName[];
  critical: boolean;
}

export interface ExtensionEntry {
  /** extnID, dotted. */
  id: string;
  critical: boolean;
}

export interface CertExtensions {
  /** undefined: the certificate has no basicConstraints extension. */
  basicConstraints?: BasicConstraints;
  /** undefined: the certificate has no keyUsage extension (every usage allowed). */
  keyUsage?: KeyUsage;
  /** undefined: the certificate has no subjectAltName extension. */
  subjectAltName?: SubjectAltName;
  /** undefined: the certificate has no nameConstraints extension. */
  nameConstraints?: NameConstraints;
  /** Every extension, in certificate order. */
  extensions: ExtensionEntry[];
  /** DER of the issuer and subject Names (whole TLVs). */
  issuerName: Buffer;
  subjectName: Buffer;
  /** The subject Name's RDNs, in order (empty SETs left out). */
  subject: Rdn[];
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

export const OID_BASIC_CONSTRAINTS = '2.5.29.19';
export const OID_KEY_USAGE = '2.5.29.15';
export const OID_SUBJECT_ALT_NAME = '2.5.29.17';
export const OID_NAME_CONSTRAINTS = '2.5.29.30';


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

/** Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET OF AttributeTypeAndValue. */
function nameRdns(buf: Uint8Array, name: Tlv, what: string): Rdn[] {
  const rdns: Rdn[] = [];
  let off = name.body;
  while (off < name.end) {
    const set = expect(buf, off, name.end, TAG.SET, `${what} RDN`);
    off = set.end;
    const rdn: Rdn = [];
    let a = set.body;
    while (a < set.end) {
      // AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }
      const atv = expect(buf, a, set.end, TAG.SEQUENCE, `${what} attribute`);
      a = atv.end;
      const type = expect(buf, atv.body, atv.end, TAG.OID, `${what} attribute type`);
      const value = readTlv(buf, type.end, atv.end, `${what} attribute value`);
      if (value.end !== atv.end) throw new DerError(`${what}: bytes after an attribute value`);
      rdn.push({ type: oidText(buf, type), tag: value.tag, value: Buffer.from(buf.subarray(value.body, value.end)) });
    }
    if (rdn.length > 0) rdns.push(rdn);
  }
  return rdns;
}

const latin1 = (buf: Uint8Array, t: Tlv) => Buffer.from(buf.subarray(t.body, t.end)).toString('latin1');

/** GeneralName ::= CHOICE { otherName [0], rfc822Name [1], dNSName [2], x400Address [3], directoryName [4], ediPartyName [5], URI [6], iPAddress [7], registeredID [8] } */
function generalName(buf: Uint8Array, off: number, limit: number, what: string): { name: GeneralName; end: number } {
  const t = readTlv(buf, off, limit, what);
  switch (t.tag) {
    case 0xa0: {
      // AnotherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
      const id = expect(buf, t.body, t.end, TAG.OID, `${what} otherName type-id`);
      const value = expect(buf, id.end, t.end, 0xa0, `${what} otherName value`);
      if (value.end !== t.end) throw new DerError(`${what}: bytes after an otherName value`);
      return { name: { form: 'otherName', typeId: oidText(buf, id) }, end: t.end };
    }
    case 0x81:
      return { name: { form: 'rfc822Name', text: latin1(buf, t) }, end: t.end };
    case 0x82:
      return { name: { form: 'dNSName', text: latin1(buf, t) }, end: t.end };
    case 0xa3:
      return { name: { form: 'x400Address' }, end: t.end };
    case 0xa4: {
      const n = expect(buf, t.body, t.end, TAG.SEQUENCE, `${what} directoryName`);
      if (n.end !== t.end) throw new DerError(`${what}: bytes after a directoryName`);
      return { name: { form: 'directoryName', rdns: nameRdns(buf, n, `${what} directoryName`) }, end: t.end };
    }
    case 0xa5:
      return { name: { form: 'ediPartyName' }, end: t.end };
    case 0x86:
      return { name: { form: 'uniformResourceIdentifier', text: latin1(buf, t) }, end: t.end };
    case 0x87:
      return { name: { form: 'iPAddress', bytes: Buffer.from(buf.subarray(t.body, t.end)) }, end: t.end };
    case 0x88:
      oidText(buf, t);
      return { name: { form: 'registeredID' }, end: t.end };
    default:
      throw new DerError(`${what}: unknown GeneralName tag 0x${t.tag.toString(16)}`);
  }
}

/** SubjectAltName ::= GeneralNames ::= SEQUENCE OF GeneralName (an empty one is accepted, as OpenSSL does). */
function subjectAltName(buf: Uint8Array, value: Tlv, critical: boolean): SubjectAltName {
  const what = 'subjectAltName';
  const seq = expect(buf, value.body, value.end, TAG.SEQUENCE, what);
  if (seq.end !== value.end) throw new DerError(`${what}: bytes after the SEQUENCE`);
  const names: GeneralName[] = [];
  for (let off = seq.body; off < seq.end; ) {
    const g = generalName(buf, off, seq.end, what);
    names.push(g.name);
    off = g.end;
  }
  return { names, critical };
}

/**
 * NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] GeneralSubtrees OPTIONAL }
 * GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree
 * GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] BaseDistance DEFAULT 0, maximum [1] BaseDistance OPTIONAL }
 * RFC 5280 §4.2.1.10: not an empty sequence, minimum MUST be zero, maximum MUST be absent.
 */
function nameConstraints(buf: Uint8Array, value: Tlv, critical: boolean): NameConstraints {
  const what = 'nameConstraints';
  const seq = expect(buf, value.body, value.end, TAG.SEQUENCE, what);
  if (seq.end !== value.end) throw new DerError(`${what}: bytes after the SEQUENCE`);
  if (seq.body === seq.end) throw new DerError(`${what}: neither permitted nor excluded subtrees (an empty sequence)`);
  const subtrees = (t: Tlv, which: string): GeneralName[] => {
    if (t.body === t.end) throw new DerError(`${what}: empty ${which} subtrees`);
    const bases: GeneralName[] = [];
    for (let off = t.body; off < t.end; ) {
      const sub = expect(buf, off, t.end, TAG.SEQUENCE, `${what} ${which} subtree`);
      off = sub.end;
      const g = generalName(buf, sub.body, sub.end, `${what} ${which} subtree`);
      let p = g.end;
      if (p < sub.end && buf[p] === 0x80) {
        const min = readTlv(buf, p, sub.end, `${what} minimum`);
        if (nonNegativeInteger(buf, min, `${what} minimum`) !== 0) throw new DerError(`${what}: a ${which} subtree with a minimum other than 0`);
        p = min.end;
      }
      if (p < sub.end && buf[p] === 0x81) throw new DerError(`${what}: a ${which} subtree with a maximum`);
      if (p !== sub.end) throw new DerError(`${what}: unexpected content in a ${which} subtree`);
      bases.push(g.name);
    }
    return bases;
  };
  let off = seq.body;
  let permitted: GeneralName[] = [];
  let excluded: GeneralName[] = [];
  if (off < seq.end && buf[off] === 0xa0) {
    const t = readTlv(buf, off, seq.end, `${what} permittedSubtrees`);
    permitted = subtrees(t, 'permitted');
    off = t.end;
  }
  if (off < seq.end && buf[off] === 0xa1) {
    const t = readTlv(buf, off, seq.end, `${what} excludedSubtrees`);
    excluded = subtrees(t, 'excluded');
    off = t.end;
  }
  if (off !== seq.end) throw new DerError(`${what}: unexpected content after the known fields`);
  return { permitted, excluded, critical };
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
    extensions: [],
    issuerName: Buffer.from(der.subarray(issuer.start, issuer.end)),
    subjectName: Buffer.from(der.subarray(subject.start, subject.end)),
    subject: nameRdns(der, subject, 'subject'),
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
      out.extensions.push({ id, critical });
      if (id === OID_BASIC_CONSTRAINTS) out.basicConstraints = basicConstraints(der, value, critical);
      else if (id === OID_KEY_USAGE) out.keyUsage = keyUsage(der, value, critical);
      else if (id === OID_SUBJECT_ALT_NAME) out.subjectAltName = subjectAltName(der, value, critical);
      else if (id === OID_NAME_CONSTRAINTS) out.nameConstraints = nameConstraints(der, value, critical);
    }
  }
  if (off !== tbs.end) throw new DerError('TBSCertificate: unexpected content after the extensions');
  return out;
}

/** basicConstraints, keyUsage, subjectAltName, nameConstraints, the extension list and the Names of a DER certificate; never throws. */
export function readCertExtensions(der: Uint8Array): ExtensionsResult {
  try {
    return { ok: true, value: parse(der) };
  } catch (err) {
    if (err instanceof DerError) return { ok: false, why: err.message };
    return { ok: false, why: `unreadable certificate (${err instanceof Error ? err.message : String(err)})` };
  }
}
