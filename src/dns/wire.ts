/**
 * DNS wire format (RFC 1035 §4) for the stub resolver: a query encoder and a strict,
 * bounded response parser. Pure functions, no I/O.
 *
 * Why not dns-packet's decoder: it ignores RDLENGTH (a short A record shifts the rest of
 * the message), decodes labels as UTF-8 without escaping (two different names can decode
 * to the same string, a label may contain '.'), and drops the OPT extended RCODE. Here
 * every RR must fit its RDLENGTH exactly, and names come back in one canonical
 * presentation form (lower-case ASCII, `\.` `\\` `\DDD` escapes, no trailing dot, root '').
 */
import type { MxData, RecordType, TlsaData } from './types.js';

export class WireFormatError extends Error {
  override name = 'WireFormatError';
}

/** RR TYPE values (RFC 1035 §3.2.2, RFC 3596, RFC 6891, RFC 6698). */
export const TYPE_CODES: Readonly<Record<RecordType, number>> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  AAAA: 28,
  TLSA: 52,
};
export const TYPE_OPT = 41;
export const CLASS_IN = 1;
/** EDNS option code of Extended DNS Errors (RFC 8914 §2). */
export const OPTION_EDE = 15;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED',
  6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 16: 'BADVERS',
};
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
}

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** Decoded RDATA: names/addresses as strings, MX/TLSA/SOA as objects, other types raw. */
export type WireRData = string | MxData | TlsaData | SoaData | Buffer;

export interface WireQuestion {
  name: string;
  type: number;
  class: number;
}

export interface WireRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: WireRData;
}

export interface EdnsOption {
  code: number;
  data: Buffer;
}

/** The OPT pseudo-RR (RFC 6891 §6.1.2-6.1.3). */
export interface Edns {
  udpPayloadSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  options: EdnsOption[];
}

export interface WireMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** RFC 4035 §3.2.3 / RFC 6840 §5.8. */
  ad: boolean;
  cd: boolean;
  /** Full RCODE: the OPT upper 8 bits joined to the header's 4 bits (RFC 6891 §6.1.3). */
  rcode: number;
  questions: WireQuestion[];
  answers: WireRecord[];
  authorities: WireRecord[];
  /** Additional section without the OPT RR (that one is in `edns`). */
  additionals: WireRecord[];
  edns?: Edns;
}

const MAX_MESSAGE = 65535;
const MAX_NAME_WIRE = 255; // RFC 1035 §2.3.4
const MAX_LABEL = 63;
const MAX_POINTER_HOPS = 127;

// ---------------------------------------------------------------- names

/** One label in canonical presentation form: ASCII lower-cased (RFC 4343), escapes as in RFC 1035 §5.1. */
export function labelToText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b >= 0x41 && b <= 0x5a) s += String.fromCharCode(b + 0x20);
    else if (b === 0x2e || b === 0x5c) s += '\\' + String.fromCharCode(b);
    else if (b < 0x21 || b > 0x7e) s += '\\' + String(b).padStart(3, '0');
    else s += String.fromCharCode(b);
  }
  return s;
}

/**
 * Parses a presentation-format domain name into wire labels.
 * Accepts `\.`, `\\` and `\DDD` escapes, one optional trailing dot; '' and '.' are the root.
 * Returns the canonical text and the wire encoding, or an error string.
 */
export function nameToWire(input: string): { name: string; wire: Buffer } | { error: string } {
  if (typeof input !== 'string') return { error: 'domain name is not a string' };
  if (input.length > 4 * MAX_NAME_WIRE) return { error: 'domain name too long' };
  const labels: number[][] = [];
  let cur: number[] = [];
  let i = 0;
  const text = input === '.' ? '' : input;
  if (text.length > 0) {
    for (;;) {
      if (i >= text.length) {
        labels.push(cur);
        break;
      }
      const c = text.charCodeAt(i);
      if (c === 0x2e) {
        // Label separator; a single trailing dot means "absolute" (RFC 1034 §3.1).
        labels.push(cur);
        cur = [];
        i++;
        if (i === text.length) break;
        continue;
      }
      if (c === 0x5c) {
        const d = /^\d{3}/.exec(text.slice(i + 1, i + 4));
        if (d) {
          const v = Number(d[0]);
          if (v > 255) return { error: `bad escape \\${d[0]} in domain name` };
          cur.push(v);
          i += 4;
          continue;
        }
        const n = text.charCodeAt(i + 1);
        if (!(n >= 0x21 && n <= 0x7e)) return { error: 'bad escape in domain name' };
        cur.push(n);
        i += 2;
        continue;
      }
      if (c > 0x7f) return { error: 'non-ASCII domain name (use the A-label form, RFC 5890)' };
      if (c < 0x21 || c === 0x7f) return { error: 'control character or space in domain name' };
      cur.push(c);
      i++;
    }
  }
  let wireLen = 1;
  for (const l of labels) {
    if (l.length === 0) return { error: 'empty label in domain name' };
    if (l.length > MAX_LABEL) return { error: 'label longer than 63 octets (RFC 1035 §2.3.4)' };
    wireLen += 1 + l.length;
  }
  if (wireLen > MAX_NAME_WIRE) return { error: 'domain name longer than 255 octets (RFC 1035 §2.3.4)' };
  const wire = Buffer.alloc(wireLen);
  let o = 0;
  for (const l of labels) {
    wire[o++] = l.length;
    for (const b of l) wire[o++] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b; // sent lower-case
  }
  wire[o] = 0;
  return { name: labels.map((l) => labelToText(Uint8Array.from(l))).join('.'), wire };
}

/** Reads a possibly compressed name (RFC 1035 §4.1.4). Pointers must go strictly backwards. */
function readName(buf: Buffer, offset: number, limit: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let segmentStart = offset;
  let next = -1;
  let wireLen = 1;
  let hops = 0;
  for (;;) {
    // The uncompressed part of the name must stay inside `limit` (its RDATA or the message).
    if (pos >= (next < 0 ? limit : buf.length)) throw new WireFormatError('name runs past its bounds');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= (next < 0 ? limit : buf.length)) throw new WireFormatError('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (target >= segmentStart) throw new WireFormatError('compression pointer does not point backwards');
      if (++hops > MAX_POINTER_HOPS) throw new WireFormatError('too many compression pointers');
      pos = segmentStart = target;
      continue;
    }
    if (kind !== 0) throw new WireFormatError('unsupported label type'); // RFC 6891 §5
    const end = pos + 1 + len;
    if (end > (next < 0 ? limit : buf.length)) throw new WireFormatError('label runs past its bounds');
    wireLen += 1 + len;
    if (wireLen > MAX_NAME_WIRE) throw new WireFormatError('name longer than 255 octets');
    labels.push(labelToText(buf.subarray(pos + 1, end)));
    pos = end;
  }
  return { name: labels.join('.'), next };
}

// ---------------------------------------------------------------- query

export interface QueryOptions {
  id: number;
  /** Wire form of the name, from nameToWire(). */
  nameWire: Buffer;
  type: number;
  /** EDNS UDP payload size advertised (RFC 6891 §6.2.5). */
  udpPayloadSize: number;
  /** DO bit (RFC 3225, RFC 4035 §3.2.1). */
  dnssecOk: boolean;
}

/** Encodes a QUERY with RD=1 (RFC 1035 §4.1.1), one question and an OPT RR (RFC 6891 §6.1.2). */
export function encodeQuery(q: QueryOptions): Buffer {
  const buf = Buffer.alloc(12 + q.nameWire.length + 4 + 11);
  buf.writeUInt16BE(q.id & 0xffff, 0);
  buf.writeUInt16BE(0x0100, 2); // QR=0 OPCODE=QUERY RD=1
  buf.writeUInt16BE(1, 4); // QDCOUNT
  buf.writeUInt16BE(1, 10); // ARCOUNT: the OPT RR
  let o = 12;
  q.nameWire.copy(buf, o);
  o += q.nameWire.length;
  buf.writeUInt16BE(q.type, o);
  buf.writeUInt16BE(CLASS_IN, o + 2);
  o += 4;
  buf[o] = 0; // OPT owner: root
  buf.writeUInt16BE(TYPE_OPT, o + 1);
  buf.writeUInt16BE(q.udpPayloadSize, o + 3); // CLASS = UDP payload size
  // TTL = extended RCODE 0, VERSION 0, flags (DO is the top bit); RDLENGTH 0.
  buf.writeUInt32BE(q.dnssecOk ? 0x8000 : 0, o + 5);
  buf.writeUInt16BE(0, o + 9);
  return buf;
}

// ---------------------------------------------------------------- response

function ipv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text form: lower-case hex, longest run (>= 2) of zero groups as '::'. */
export function ipv6ToText(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number[]) => x.map((v) => v.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

function readRData(buf: Buffer, type: number, start: number, end: number): WireRData {
  const len = end - start;
  const exactName = (at: number): { name: string; next: number } => {
    const r = readName(buf, at, end);
    if (r.next !== end) throw new WireFormatError(`RDATA of type ${type} has trailing bytes`);
    return r;
  };
  switch (type) {
    case 1: // A (RFC 1035 §3.4.1)
      if (len !== 4) throw new WireFormatError('A RDATA is not 4 octets');
      return ipv4(buf.subarray(start, end));
    case 28: // AAAA (RFC 3596 §2.2)
      if (len !== 16) throw new WireFormatError('AAAA RDATA is not 16 octets');
      return ipv6ToText(buf.subarray(start, end));
    case 2: // NS
    case 5: // CNAME
    case 12: // PTR
    case 39: // DNAME
      return exactName(start).name;
    case 15: {
      // MX (RFC 1035 §3.3.9)
      if (len < 3) throw new WireFormatError('MX RDATA too short');
      return { preference: buf.readUInt16BE(start), exchange: exactName(start + 2).name };
    }
    case 52: {
      // TLSA (RFC 6698 §2.1): numbers kept as they are, unknown values included.
      if (len < 3) throw new WireFormatError('TLSA RDATA too short');
      return {
        usage: buf[start]!,
        selector: buf[start + 1]!,
        matchingType: buf[start + 2]!,
        data: Buffer.from(buf.subarray(start + 3, end)),
      };
    }
    case 6: {
      // SOA (RFC 1035 §3.3.13)
      const m = readName(buf, start, end);
      const r = readName(buf, m.next, end);
      if (end - r.next !== 20) throw new WireFormatError('SOA RDATA has a bad length');
      return {
        mname: m.name,
        rname: r.name,
        serial: buf.readUInt32BE(r.next),
        refresh: buf.readUInt32BE(r.next + 4),
        retry: buf.readUInt32BE(r.next + 8),
        expire: buf.readUInt32BE(r.next + 12),
        minimum: buf.readUInt32BE(r.next + 16),
      };
    }
    default:
      return Buffer.from(buf.subarray(start, end));
  }
}

function readOptions(buf: Buffer, start: number, end: number): EdnsOption[] {
  const options: EdnsOption[] = [];
  let p = start;
  while (p < end) {
    if (p + 4 > end) throw new WireFormatError('truncated EDNS option');
    const code = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (p + 4 + len > end) throw new WireFormatError('EDNS option runs past the OPT RDATA');
    options.push({ code, data: Buffer.from(buf.subarray(p + 4, p + 4 + len)) });
    p += 4 + len;
  }
  return options;
}

/**
 * Parses a DNS message. Throws WireFormatError on anything malformed: truncated fields,
 * RDATA not matching RDLENGTH, bad compression pointers, an OPT RR out of place or twice.
 * Bytes after the last RR are ignored.
 */
export function parseMessage(buf: Buffer): WireMessage {
  if (buf.length < 12) throw new WireFormatError('message shorter than its 12-octet header');
  if (buf.length > MAX_MESSAGE) throw new WireFormatError('message longer than 65535 octets');
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  let p = 12;
  const questions: WireQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const n = readName(buf, p, buf.length);
    if (n.next + 4 > buf.length) throw new WireFormatError('truncated question');
    questions.push({ name: n.name, type: buf.readUInt16BE(n.next), class: buf.readUInt16BE(n.next + 2) });
    p = n.next + 4;
  }
  const sections: WireRecord[][] = [[], [], []];
  let edns: Edns | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const n = readName(buf, p, buf.length);
      if (n.next + 10 > buf.length) throw new WireFormatError('truncated resource record');
      const type = buf.readUInt16BE(n.next);
      const klass = buf.readUInt16BE(n.next + 2);
      const ttl = buf.readUInt32BE(n.next + 4);
      const rdlen = buf.readUInt16BE(n.next + 8);
      const start = n.next + 10;
      const end = start + rdlen;
      if (end > buf.length) throw new WireFormatError('RDATA runs past the end of the message');
      if (type === TYPE_OPT) {
        // RFC 6891 §6.1.1: at most one OPT, in the additional section, owned by the root.
        if (s !== 2) throw new WireFormatError('OPT RR outside the additional section');
        if (edns) throw new WireFormatError('more than one OPT RR');
        if (n.name !== '') throw new WireFormatError('OPT RR not owned by the root');
        edns = {
          udpPayloadSize: klass,
          extendedRcode: ttl >>> 24,
          version: (ttl >>> 16) & 0xff,
          dnssecOk: (ttl & 0x8000) !== 0,
          options: readOptions(buf, start, end),
        };
      } else {
        sections[s]!.push({ name: n.name, type, class: klass, ttl, data: readRData(buf, type, start, end) });
      }
      p = end;
    }
  }
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: ((edns?.extendedRcode ?? 0) << 4) | (flags & 0xf),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    ...(edns ? { edns } : {}),
  };
}

// ---------------------------------------------------------------- EDE

/** INFO-CODE names (RFC 8914 §4 and the IANA registry). */
const EDE_NAMES: Readonly<Record<number, string>> = {
  0: 'other error', 1: 'unsupported DNSKEY algorithm', 2: 'unsupported DS digest type',
  3: 'stale answer', 4: 'forged answer', 5: 'DNSSEC indeterminate', 6: 'DNSSEC bogus',
  7: 'signature expired', 8: 'signature not yet valid', 9: 'DNSKEY missing', 10: 'RRSIGs missing',
  11: 'no zone key bit set', 12: 'NSEC missing', 13: 'cached error', 14: 'not ready',
  15: 'blocked', 16: 'censored', 17: 'filtered', 18: 'prohibited', 19: 'stale NXDOMAIN answer',
  20: 'not authoritative', 21: 'not supported', 22: 'no reachable authority', 23: 'network error',
  24: 'invalid data', 25: 'signature expired before valid', 26: 'too early',
  27: 'unsupported NSEC3 iterations value', 28: 'unable to conform to policy', 29: 'synthesized',
  30: 'invalid query type',
};

export interface ExtendedError {
  infoCode: number;
  extraText: string;
}

const MAX_EXTRA_TEXT = 160;

/** Makes network text safe for a one-line human message: no control characters, bounded. */
export function sanitizeText(s: string, max = MAX_EXTRA_TEXT): string {
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

// One origin in a resolver's "from 192.0.2.1 and 192.0.2.1 port 53 and cache" list (Unbound's errinf_origin).
const ORIGIN = String.raw`(?:cache|(?:[0-9A-Fa-f]*[.:])+[0-9A-Fa-f]+(?:%[\w.-]+)?(?: port \d+)?)`;
const ORIGIN_LIST = new RegExp(String.raw`\bfrom (${ORIGIN}(?: and ${ORIGIN})+)(?=$|[\s,;.)\]"])`, 'g');

/**
 * Says each origin of a "from A and A and B" list once ("from A and B"): Unbound names the
 * server of every failed attempt, so one server it asked three times comes out three times.
 */
export function collapseOrigins(text: string): string {
  return text.replace(ORIGIN_LIST, (_all, list: string) => `from ${[...new Set(list.split(' and '))].join(' and ')}`);
}

/** EDE options of a message (RFC 8914 §2: 2-octet INFO-CODE, then UTF-8 EXTRA-TEXT). Short ones are skipped. */
export function extendedErrors(msg: WireMessage): ExtendedError[] {
  const out: ExtendedError[] = [];
  for (const o of msg.edns?.options ?? []) {
    if (o.code !== OPTION_EDE || o.data.length < 2) continue;
    // Collapsed before the text is bounded, so that repeats do not push the rest out.
    out.push({ infoCode: o.data.readUInt16BE(0), extraText: sanitizeText(collapseOrigins(o.data.subarray(2).toString('utf8'))) });
  }
  return out;
}

export function describeExtendedError(e: ExtendedError): string {
  const name = EDE_NAMES[e.infoCode] ?? 'unknown';
  return `EDE ${e.infoCode}: ${name}${e.extraText ? ` "${e.extraText}"` : ''}`;
}

/**
 * The EDEs of a message for a reason: " (EDE 7: …; EDE 22: …)", each distinct one once (a
 * resolver may repeat an option), at most three; '' without any.
 */
export function describeExtendedErrors(edes: readonly ExtendedError[]): string {
  const distinct = [...new Set(edes.map(describeExtendedError))];
  return distinct.length ? ` (${distinct.slice(0, 3).join('; ')})` : '';
}
