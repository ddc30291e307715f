/**
 * Reading TLSA records in zone-file presentation format (RFC 1035 §5.1, RFC 6698 §2.2,
 * RFC 3597 §5 generic form). Accepted, one record per line (or parenthesised over several):
 *
 *   _25._tcp.mx.example.com. 3600 IN TLSA 3 1 1 ( 0123… 4567… )
 *   _25._tcp.mx.example.com. IN TYPE52 \# 35 030101…
 *   3 1 1 0123…                         (bare, as `dig +short TLSA` prints it)
 *
 * `;` comments, `$ORIGIN` and `$TTL` are understood; records of other types are skipped
 * (counted). Pure; malformed TLSA lines are a usage error naming the line.
 */
import type { TlsaData } from '../../dns/types.js';
import { DaneSmtpError } from '../../errors.js';

export interface ZoneTlsa extends TlsaData {
  /** Owner name, lower case, absolute names with their trailing dot; undefined in the bare form. */
  owner?: string;
  ttl?: number;
  /** 1-based line number where the record starts. */
  line: number;
}

export interface ZoneParse {
  records: ZoneTlsa[];
  /** Records of other types that were skipped. */
  ignored: number;
}

export const MAX_ZONE_RECORDS = 1000;

const CLASS_RE = /^(IN|CH|HS|CS|CLASS\d+)$/i;
const TTL_RE = /^\d+$|^(\d+[smhdw])+$/i;
const TYPE_RE = /^(TLSA|TYPE52)$/i;
const OTHER_TYPE_RE = /^([A-Z][A-Z0-9-]*|TYPE\d+)$/i;

function ttlSeconds(t: string): number {
  if (/^\d+$/.test(t)) return Number(t);
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const m of t.toLowerCase().matchAll(/(\d+)([smhdw])/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

interface Logical {
  line: number;
  /** The physical line started with blank space (owner = previous owner). */
  indented: boolean;
  tokens: string[];
}

function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

/** Joins parenthesised continuations, drops comments and blank lines. */
function logicalLines(text: string, what: string): Logical[] {
  const out: Logical[] = [];
  let current: Logical | undefined;
  let depth = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const noComment = raw.replace(/;.*$/, '');
    if (current === undefined) {
      if (noComment.trim() === '') return;
      current = { line: i + 1, indented: /^[ \t]/.test(noComment), tokens: [] };
    }
    for (const tok of noComment.split(/([()])|[ \t]+/).filter((t) => t !== undefined && t !== '')) {
      if (tok === '(') depth++;
      else if (tok === ')') {
        depth--;
        if (depth < 0) throw usage(`${what} line ${i + 1}: ')' without '('`);
      } else current.tokens.push(tok);
    }
    if (depth === 0) {
      if (current.tokens.length > 0) out.push(current);
      current = undefined;
    }
  });
  if (depth !== 0 && current) throw usage(`${what} line ${current.line}: '(' is never closed`);
  return out;
}

function byte(tok: string | undefined, name: string, where: string): number {
  if (tok === undefined || !/^\d{1,3}$/.test(tok) || Number(tok) > 255) {
    throw usage(`${where}: ${name} must be a number from 0 to 255, not '${tok ?? ''}'`);
  }
  return Number(tok);
}

function hexData(tokens: string[], where: string): Buffer {
  const hex = tokens.join('');
  if (hex === '') throw usage(`${where}: missing certificate association data`);
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw usage(`${where}: certificate association data is not hexadecimal`);
  if (hex.length % 2 !== 0) throw usage(`${where}: certificate association data has an odd number of hex digits`);
  return Buffer.from(hex, 'hex');
}

function rdata(tokens: string[], where: string): TlsaData {
  if (tokens[0] === '\\#') {
    // RFC 3597 §5: \# LENGTH HEX
    const len = tokens[1];
    if (len === undefined || !/^\d{1,5}$/.test(len)) throw usage(`${where}: generic RDATA needs a length after \\#`);
    const bytes = Number(len) === 0 && tokens.length === 2 ? Buffer.alloc(0) : hexData(tokens.slice(2), where);
    if (bytes.length !== Number(len)) throw usage(`${where}: generic RDATA length ${len} but ${bytes.length} bytes of data`);
    if (bytes.length < 3) throw usage(`${where}: TLSA RDATA shorter than 3 bytes`);
    return { usage: bytes[0]!, selector: bytes[1]!, matchingType: bytes[2]!, data: Buffer.from(bytes.subarray(3)) };
  }
  return {
    usage: byte(tokens[0], 'certificate usage', where),
    selector: byte(tokens[1], 'selector', where),
    matchingType: byte(tokens[2], 'matching type', where),
    data: hexData(tokens.slice(3), where),
  };
}

function absolute(name: string, origin: string | undefined): string {
  const n = name.toLowerCase();
  if (n === '@') return origin ?? '@';
  if (n.endsWith('.')) return n;
  return origin ? `${n}.${origin === '.' ? '' : origin}` : n;
}

export function parseZoneTlsa(text: string, what = 'RRset'): ZoneParse {
  const records: ZoneTlsa[] = [];
  let ignored = 0;
  let origin: string | undefined;
  let lastOwner: string | undefined;
  for (const l of logicalLines(text, what)) {
    const where = `${what} line ${l.line}`;
    const t = l.tokens;
    const first = t[0]!;
    if (first.startsWith('$')) {
      const d = first.toUpperCase();
      if (d === '$ORIGIN') {
        if (!t[1]) throw usage(`${where}: $ORIGIN needs a name`);
        origin = absolute(t[1], origin);
        if (!origin.endsWith('.')) origin += '.';
      } else if (d === '$INCLUDE') {
        throw usage(`${where}: $INCLUDE is not supported; give the records in one file`);
      } else if (d !== '$TTL') {
        throw usage(`${where}: unknown directive ${first}`);
      }
      continue;
    }
    // `dig +short +dnssec`: "TLSA 13 5 300 20300101000000 20200101000000 …" is an RRSIG;
    // `dig +short` through a CNAME: the target name alone on a line.
    if (!l.indented && OTHER_TYPE_RE.test(first) && t.length >= 8 && /^\d{14}$/.test(t[4]!) && /^\d{14}$/.test(t[5]!)) {
      ignored++;
      continue;
    }
    if (!l.indented && t.length === 1 && first.endsWith('.') && first.length > 1) {
      ignored++;
      continue;
    }
    const typeAt = t.findIndex((x) => TYPE_RE.test(x));
    // Bare form: "3 1 1 hex" (dig +short).
    if (typeAt < 0 && !l.indented && /^\d+$/.test(first) && t.length >= 4 && /^\d+$/.test(t[1]!) && /^\d+$/.test(t[2]!)) {
      records.push({ ...rdata(t, where), line: l.line });
      continue;
    }
    // [owner] [ttl] [class] type rdata, TTL and class in either order.
    let i = 0;
    let owner = lastOwner;
    if (!l.indented && !TTL_RE.test(first) && !CLASS_RE.test(first) && !TYPE_RE.test(first)) {
      owner = absolute(first, origin);
      i = 1;
    }
    let ttl: number | undefined;
    for (let k = 0; k < 2 && i < t.length; k++) {
      if (ttl === undefined && TTL_RE.test(t[i]!)) ttl = ttlSeconds(t[i++]!);
      else if (CLASS_RE.test(t[i]!)) {
        if (!/^IN$/i.test(t[i]!)) throw usage(`${where}: class ${t[i]} is not IN`);
        i++;
      }
    }
    lastOwner = owner;
    const type = t[i];
    if (type === undefined) throw usage(`${where}: no record type`);
    if (!TYPE_RE.test(type)) {
      if (!OTHER_TYPE_RE.test(type)) throw usage(`${where}: cannot read '${t.join(' ').slice(0, 80)}' as a resource record`);
      ignored++;
      continue;
    }
    if (records.length >= MAX_ZONE_RECORDS) throw usage(`${what}: more than ${MAX_ZONE_RECORDS} TLSA records`);
    records.push({ ...rdata(t.slice(i + 1), where), line: l.line, ...(owner !== undefined ? { owner } : {}), ...(ttl !== undefined ? { ttl } : {}) });
  }
  return { records, ignored };
}
