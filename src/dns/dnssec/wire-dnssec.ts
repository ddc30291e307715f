/**
 * DNSSEC additions to the wire format of ../wire.ts (which is left as it is): a query with
 * DO and CD (RFC 4035 §3.2.1-3.2.2), a second pass over a response that keeps each RR's
 * RDATA in canonical form (names decompressed, lower-cased for the types of RFC 4034 §6.2
 * as amended by RFC 6840 §5.1), and the RDATA of RRSIG, DNSKEY, DS, NSEC, NSEC3.
 * Pure functions, no I/O. The message is first checked by ../wire.ts parseMessage (strict:
 * RDLENGTH, pointers, OPT placement), so this pass only re-reads what that one accepted.
 */
import { encodeQuery, labelToText, parseMessage, TYPE_CODES, TYPE_OPT, WireFormatError, type WireMessage } from '../wire.js';

export const T = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39,
  DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, NSEC3PARAM: 51, TLSA: 52, CDS: 59, CDNSKEY: 60,
} as const;

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB',
  28: 'AAAA', 33: 'SRV', 35: 'NAPTR', 36: 'KX', 39: 'DNAME', 43: 'DS', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY',
  50: 'NSEC3', 51: 'NSEC3PARAM', 52: 'TLSA', 59: 'CDS', 60: 'CDNSKEY', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF',
  257: 'CAA', 63: 'ZONEMD',
};
const TYPE_BY_NAME: Record<string, number> = Object.fromEntries(Object.entries(TYPE_NAMES).map(([k, v]) => [v, Number(k)]));

/** Mnemonic of a type code (RFC 3597 `TYPEnnn` when unknown). */
export function typeName(code: number): string {
  return TYPE_NAMES[code] ?? `TYPE${code}`;
}

/** Type code of a mnemonic or `TYPEnnn`, or undefined. */
export function typeCode(name: string): number | undefined {
  const u = name.toUpperCase();
  if (Object.hasOwn(TYPE_BY_NAME, u)) return TYPE_BY_NAME[u];
  const m = /^TYPE(\d{1,5})$/.exec(u);
  return m && Number(m[1]) <= 65535 ? Number(m[1]) : undefined;
}

/** Type code of a RecordType of ../types.ts. */
export function recordTypeCode(t: keyof typeof TYPE_CODES): number {
  return TYPE_CODES[t];
}

export interface QueryParams {
  id: number;
  nameWire: Buffer;
  type: number;
  udpPayloadSize: number;
}

/** A query with RD, EDNS0 with DO, and CD (we validate ourselves, RFC 4035 §3.2.2). */
export function encodeDnssecQuery(q: QueryParams): Buffer {
  const buf = encodeQuery({ ...q, dnssecOk: true });
  buf[3] = buf[3]! | 0x10; // CD
  return buf;
}

/** One RR with its RDATA in canonical wire form. */
export interface RawRecord {
  /** Canonical text (lower-case, no trailing dot). */
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

export interface RawMessage {
  /** The strict parse of ../wire.ts (flags, RCODE, EDNS, decoded records). */
  msg: WireMessage;
  answers: RawRecord[];
  authorities: RawRecord[];
  /** Without the OPT RR. */
  additionals: RawRecord[];
}

// ---------------------------------------------------------------- names


/** Text of an uncompressed wire name. */
export function wireToName(wire: Uint8Array): string {
  const labels: string[] = [];
  for (let p = 0; p < wire.length && wire[p] !== 0; p += 1 + wire[p]!) labels.push(labelToText(wire.subarray(p + 1, p + 1 + wire[p]!)));
  return labels.join('.');
}

function lower(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i] = out[i]! + 0x20;
  return out;
}

/** A (possibly compressed) name read into its uncompressed wire form, case kept. */
function readNameWire(buf: Buffer, offset: number): { wire: Buffer; next: number } {
  const parts: Buffer[] = [];
  let pos = offset;
  let next = -1;
  let hops = 0;
  for (;;) {
    if (pos >= buf.length) throw new WireFormatError('name runs past the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = pos + 2;
      if (++hops > 127) throw new WireFormatError('too many compression pointers');
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      continue;
    }
    parts.push(buf.subarray(pos, pos + 1 + len));
    pos += 1 + len;
  }
  parts.push(Buffer.from([0]));
  return { wire: Buffer.concat(parts), next };
}

/** Readers of an uncompressed name inside RDATA bytes. */
export function readRdataName(rdata: Buffer, offset: number): { wire: Buffer; name: string; next: number } {
  let p = offset;
  for (;;) {
    if (p >= rdata.length) throw new WireFormatError('name runs past its RDATA');
    const len = rdata[p]!;
    if (len === 0) break;
    if (len > 63) throw new WireFormatError('compressed or bad label in RDATA name');
    p += 1 + len;
  }
  const wire = Buffer.from(rdata.subarray(offset, p + 1));
  if (wire.length > 255) throw new WireFormatError('name longer than 255 octets');
  return { wire, name: wireToName(wire), next: p + 1 };
}

/**
 * Layout of names in RDATA: [prefix bytes before the first name, number of names], for
 * the types whose names are decompressed (RFC 3597 §4) and lower-cased (RFC 4034 §6.2,
 * RFC 6840 §5.1: not NSEC's next name). RRSIG's signer is handled by parseRrsig.
 */
const NAME_LAYOUT: Readonly<Record<number, readonly [number, number]>> = {
  2: [0, 1], 3: [0, 1], 4: [0, 1], 5: [0, 1], 7: [0, 1], 8: [0, 1], 9: [0, 1], 12: [0, 1], 39: [0, 1],
  6: [0, 2], 14: [0, 2], 17: [0, 2], 15: [2, 1], 18: [2, 1], 21: [2, 1], 36: [2, 1], 26: [2, 2], 33: [6, 1],
};

function canonicalRdata(buf: Buffer, type: number, start: number, end: number): Buffer {
  const layout = NAME_LAYOUT[type];
  if (!layout) return Buffer.from(buf.subarray(start, end));
  const [prefix, count] = layout;
  const parts: Buffer[] = [Buffer.from(buf.subarray(start, start + prefix))];
  let p = start + prefix;
  for (let i = 0; i < count; i++) {
    const n = readNameWire(buf, p);
    parts.push(lower(n.wire));
    p = n.next;
  }
  parts.push(Buffer.from(buf.subarray(p, end)));
  return Buffer.concat(parts);
}

/**
 * Parses a response: the strict parse of ../wire.ts, plus every RR with canonical RDATA.
 * Throws WireFormatError when malformed.
 */
export function parseRawMessage(buf: Buffer): RawMessage {
  const msg = parseMessage(buf);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  let p = 12;
  for (let i = 0; i < counts[0]; i++) p = readNameWire(buf, p).next + 4;
  const sections: RawRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const n = readNameWire(buf, p);
      const type = buf.readUInt16BE(n.next);
      const klass = buf.readUInt16BE(n.next + 2);
      const ttl = buf.readUInt32BE(n.next + 4);
      const rdlen = buf.readUInt16BE(n.next + 8);
      const start = n.next + 10;
      const end = start + rdlen;
      if (type !== TYPE_OPT) {
        sections[s]!.push({ name: wireToName(n.wire), type, class: klass, ttl, rdata: canonicalRdata(buf, type, start, end) });
      }
      p = end;
    }
  }
  return { msg, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! };
}

// ---------------------------------------------------------------- DNSSEC RDATA

export interface RrsigData {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: string;
  signature: Buffer;
  /** RDATA up to the signature, signer lower-cased: the start of the signed data. */
  signedPrefix: Buffer;
}

export function parseRrsig(rdata: Buffer): RrsigData {
  if (rdata.length < 19) throw new WireFormatError('RRSIG RDATA too short');
  const signer = readRdataName(rdata, 18);
  return {
    typeCovered: rdata.readUInt16BE(0),
    algorithm: rdata[2]!,
    labels: rdata[3]!,
    originalTtl: rdata.readUInt32BE(4),
    expiration: rdata.readUInt32BE(8),
    inception: rdata.readUInt32BE(12),
    keyTag: rdata.readUInt16BE(16),
    signer: signer.name,
    signature: Buffer.from(rdata.subarray(signer.next)),
    signedPrefix: Buffer.concat([rdata.subarray(0, 18), lower(signer.wire)]),
  };
}

export interface DnskeyData {
  flags: number;
  protocol: number;
  algorithm: number;
  publicKey: Buffer;
  rdata: Buffer;
}

export const DNSKEY_FLAG_ZONE = 0x0100;
export const DNSKEY_FLAG_REVOKE = 0x0080;
export const DNSKEY_FLAG_SEP = 0x0001;

export function parseDnskey(rdata: Buffer): DnskeyData {
  if (rdata.length < 5) throw new WireFormatError('DNSKEY RDATA too short');
  return { flags: rdata.readUInt16BE(0), protocol: rdata[2]!, algorithm: rdata[3]!, publicKey: Buffer.from(rdata.subarray(4)), rdata };
}

export interface DsData {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Buffer;
}

export function parseDs(rdata: Buffer): DsData {
  if (rdata.length < 5) throw new WireFormatError('DS RDATA too short');
  return { keyTag: rdata.readUInt16BE(0), algorithm: rdata[2]!, digestType: rdata[3]!, digest: Buffer.from(rdata.subarray(4)) };
}

/** Type bit maps (RFC 4034 §4.1.2). */
export function parseTypeBitmap(b: Buffer, start = 0): Set<number> {
  const types = new Set<number>();
  let p = start;
  let lastWindow = -1;
  while (p < b.length) {
    if (p + 2 > b.length) throw new WireFormatError('truncated type bit map');
    const win = b[p]!;
    const len = b[p + 1]!;
    if (win <= lastWindow || len < 1 || len > 32 || p + 2 + len > b.length) throw new WireFormatError('bad type bit map');
    lastWindow = win;
    for (let i = 0; i < len; i++) {
      const byte = b[p + 2 + i]!;
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.add(win * 256 + i * 8 + bit);
    }
    p += 2 + len;
  }
  return types;
}

export function encodeTypeBitmap(types: Iterable<number>): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  for (let i = 0; i < sorted.length; ) {
    const win = sorted[i]! >> 8;
    const bits = Buffer.alloc(32);
    let maxByte = 0;
    while (i < sorted.length && sorted[i]! >> 8 === win) {
      const low = sorted[i]! & 0xff;
      bits[low >> 3] = bits[low >> 3]! | (0x80 >> (low & 7));
      maxByte = Math.max(maxByte, low >> 3);
      i++;
    }
    parts.push(Buffer.from([win, maxByte + 1]), bits.subarray(0, maxByte + 1));
  }
  return Buffer.concat(parts);
}

export interface NsecData {
  /** Next owner name, canonical text (RFC 6840 §5.1: the wire case does not matter here). */
  next: string;
  types: Set<number>;
}

export function parseNsec(rdata: Buffer): NsecData {
  const n = readRdataName(rdata, 0);
  return { next: n.name, types: parseTypeBitmap(rdata, n.next) };
}

export interface Nsec3Data {
  hashAlgorithm: number;
  flags: number;
  iterations: number;
  salt: Buffer;
  nextHashed: Buffer;
  types: Set<number>;
}

export const NSEC3_FLAG_OPT_OUT = 0x01;

export function parseNsec3(rdata: Buffer): Nsec3Data {
  if (rdata.length < 6) throw new WireFormatError('NSEC3 RDATA too short');
  const saltLen = rdata[4]!;
  const hp = 5 + saltLen;
  if (hp >= rdata.length) throw new WireFormatError('NSEC3 salt runs past its RDATA');
  const hashLen = rdata[hp]!;
  if (hashLen < 1 || hp + 1 + hashLen > rdata.length) throw new WireFormatError('NSEC3 hash runs past its RDATA');
  return {
    hashAlgorithm: rdata[0]!,
    flags: rdata[1]!,
    iterations: rdata.readUInt16BE(2),
    salt: Buffer.from(rdata.subarray(5, hp)),
    nextHashed: Buffer.from(rdata.subarray(hp + 1, hp + 1 + hashLen)),
    types: parseTypeBitmap(rdata, hp + 1 + hashLen),
  };
}

// ---------------------------------------------------------------- base32hex (RFC 4648 §7)

const B32 = '0123456789abcdefghijklmnopqrstuv';

export function base32hexEncode(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes unpadded base32hex, case-insensitive; undefined when not valid. */
export function base32hexDecode(s: string): Buffer | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of s.toLowerCase()) {
    const v = B32.indexOf(ch);
    if (v < 0) return undefined;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}
