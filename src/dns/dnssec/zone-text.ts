/**
 * Master-file text (RFC 1035 §5.1) to RRs in canonical wire form, for trust anchors and
 * test zones: $ORIGIN, $TTL, `;` comments, parentheses, quoted strings, relative names,
 * `@`, and the RDATA of the types DNSSEC and DANE need (others in RFC 3597 `\# n hex`).
 * Pure, no I/O.
 */
import { nameWire, canonicalName } from './canonical.js';
import { base32hexDecode, encodeTypeBitmap, typeCode, type RawRecord } from './wire-dnssec.js';

export class ZoneTextError extends Error {
  override name = 'ZoneTextError';
}

interface Token {
  text: string;
  quoted: boolean;
}

/** Splits into logical lines of tokens (parentheses join lines). Each line keeps whether it began with blank. */
function tokenize(text: string): Array<{ tokens: Token[]; leadingBlank: boolean; line: number }> {
  const out: Array<{ tokens: Token[]; leadingBlank: boolean; line: number }> = [];
  let tokens: Token[] = [];
  let depth = 0;
  let leadingBlank = false;
  let startLine = 1;
  let lineNo = 1;
  let atLineStart = true;
  let i = 0;
  const flush = () => {
    if (tokens.length) out.push({ tokens, leadingBlank, line: startLine });
    tokens = [];
  };
  while (i < text.length) {
    const c = text[i]!;
    if (atLineStart && depth === 0) {
      leadingBlank = c === ' ' || c === '\t';
      startLine = lineNo;
      atLineStart = false;
    }
    if (c === '\n') {
      lineNo++;
      if (depth === 0) {
        flush();
        atLineStart = true;
      }
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) throw new ZoneTextError(`line ${lineNo}: unbalanced ')'`);
      depth--;
      i++;
      continue;
    }
    if (c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          s += text.slice(i, i + 2);
          i += 2;
        } else {
          if (text[i] === '\n') lineNo++;
          s += text[i++];
        }
      }
      if (i >= text.length) throw new ZoneTextError(`line ${lineNo}: unterminated string`);
      i++;
      tokens.push({ text: s, quoted: true });
      continue;
    }
    let s = '';
    while (i < text.length && !' \t\r\n;()"'.includes(text[i]!)) {
      if (text[i] === '\\' && i + 1 < text.length) {
        s += text.slice(i, i + 2);
        i += 2;
      } else s += text[i++];
    }
    tokens.push({ text: s, quoted: false });
  }
  if (depth !== 0) throw new ZoneTextError('unbalanced parentheses at end of input');
  flush();
  return out;
}

function absolute(name: string, origin: string): string {
  if (name === '@') return origin;
  if (name === '.') return '';
  if (name.endsWith('.') && !name.endsWith('\\.')) {
    const c = canonicalName(name);
    if (c === undefined) throw new ZoneTextError(`bad name ${name}`);
    return c;
  }
  const c = canonicalName(origin === '' ? name : `${name}.${origin}`);
  if (c === undefined) throw new ZoneTextError(`bad name ${name}`);
  return c;
}

function u(text: string | undefined, max: number, what: string): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > max) throw new ZoneTextError(`bad ${what}: ${text ?? '(missing)'}`);
  return Number(text);
}

function b16(b: number, v: number): Buffer {
  const x = Buffer.alloc(b);
  if (b === 1) x.writeUInt8(v);
  else if (b === 2) x.writeUInt16BE(v);
  else x.writeUInt32BE(v >>> 0);
  return x;
}

function hex(s: string, what: string): Buffer {
  if (s === '-' ) return Buffer.alloc(0);
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new ZoneTextError(`bad hex in ${what}`);
  return Buffer.from(s, 'hex');
}

function b64(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new ZoneTextError(`bad base64 in ${what}`);
  return Buffer.from(s, 'base64');
}

/** YYYYMMDDHHmmSS or a plain number of seconds (RFC 4034 §3.2). */
function rrsigTimeText(s: string | undefined): number {
  if (s && /^\d{14}$/.test(s)) {
    const t = Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14));
    return Math.floor(t / 1000) >>> 0;
  }
  return u(s, 0xffffffff, 'RRSIG time');
}

function characterString(t: Token): Buffer {
  const bytes: number[] = [];
  const s = t.text;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      const d = /^\d{3}/.exec(s.slice(i + 1, i + 4));
      if (d) {
        bytes.push(Number(d[0]) & 0xff);
        i += 3;
      } else {
        bytes.push(s.charCodeAt(i + 1));
        i += 1;
      }
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  if (bytes.length > 255) throw new ZoneTextError('character-string longer than 255 octets');
  return Buffer.from([bytes.length, ...bytes]);
}

function ipv6(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const parse = (x: string | undefined) => (x ? x.split(':') : []);
  let v4: number[] = [];
  const last = parse(tail !== undefined ? tail : head).at(-1);
  if (last && last.includes('.')) v4 = last.split('.').map((p) => u(p, 255, 'IPv4 part'));
  const h = parse(head).filter((g) => !g.includes('.'));
  const t = tail !== undefined ? parse(tail).filter((g) => !g.includes('.')) : [];
  const total = 8 - (v4.length ? 2 : 0);
  const fill = tail !== undefined ? total - h.length - t.length : 0;
  if (fill < 0 || (tail === undefined && h.length !== total)) throw new ZoneTextError(`bad IPv6 address ${s}`);
  const all = [...h, ...Array<string>(fill).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new ZoneTextError(`bad IPv6 address ${s}`);
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  });
  if (v4.length) Buffer.from(v4).copy(out, 12);
  return out;
}

function rdataFor(type: number, f: Token[], origin: string): Buffer {
  const t = f.map((x) => x.text);
  const name = (s: string | undefined) => nameWire(absolute(s ?? '', origin));
  if (t[0] === '\\#') {
    const len = u(t[1], 65535, 'RDATA length');
    const data = hex(t.slice(2).join(''), 'generic RDATA');
    if (data.length !== len) throw new ZoneTextError('generic RDATA length mismatch');
    return data;
  }
  switch (type) {
    case 1: {
      const p = (t[0] ?? '').split('.');
      if (p.length !== 4) throw new ZoneTextError(`bad IPv4 address ${t[0]}`);
      return Buffer.from(p.map((x) => u(x, 255, 'IPv4 address')));
    }
    case 28:
      return ipv6(t[0] ?? '');
    case 2: case 5: case 12: case 39:
      return name(t[0]);
    case 15:
      return Buffer.concat([b16(2, u(t[0], 65535, 'MX preference')), name(t[1])]);
    case 33:
      return Buffer.concat([b16(2, u(t[0], 65535, 'SRV priority')), b16(2, u(t[1], 65535, 'SRV weight')), b16(2, u(t[2], 65535, 'SRV port')), name(t[3])]);
    case 6:
      return Buffer.concat([name(t[0]), name(t[1]), ...[2, 3, 4, 5, 6].map((i) => b16(4, u(t[i], 0xffffffff, 'SOA field')))]);
    case 16: case 99:
      return Buffer.concat(f.map(characterString));
    case 52:
      return Buffer.concat([b16(1, u(t[0], 255, 'TLSA usage')), b16(1, u(t[1], 255, 'TLSA selector')), b16(1, u(t[2], 255, 'TLSA matching type')), hex(t.slice(3).join(''), 'TLSA')]);
    case 43: case 59:
      return Buffer.concat([b16(2, u(t[0], 65535, 'DS key tag')), b16(1, u(t[1], 255, 'DS algorithm')), b16(1, u(t[2], 255, 'DS digest type')), hex(t.slice(3).join(''), 'DS digest')]);
    case 48: case 60:
      return Buffer.concat([b16(2, u(t[0], 65535, 'DNSKEY flags')), b16(1, u(t[1], 255, 'DNSKEY protocol')), b16(1, u(t[2], 255, 'DNSKEY algorithm')), b64(t.slice(3).join(''), 'DNSKEY')]);
    case 46: {
      const covered = typeCode(t[0] ?? '');
      if (covered === undefined) throw new ZoneTextError(`bad RRSIG type covered ${t[0]}`);
      return Buffer.concat([
        b16(2, covered), b16(1, u(t[1], 255, 'RRSIG algorithm')), b16(1, u(t[2], 255, 'RRSIG labels')),
        b16(4, u(t[3], 0xffffffff, 'RRSIG original TTL')), b16(4, rrsigTimeText(t[4])), b16(4, rrsigTimeText(t[5])),
        b16(2, u(t[6], 65535, 'RRSIG key tag')), name(t[7]), b64(t.slice(8).join(''), 'RRSIG'),
      ]);
    }
    case 47: {
      const types = t.slice(1).map((x) => {
        const c = typeCode(x);
        if (c === undefined) throw new ZoneTextError(`bad type ${x} in NSEC`);
        return c;
      });
      return Buffer.concat([name(t[0]), encodeTypeBitmap(types)]);
    }
    case 50: case 51: {
      const salt = hex(t[3] ?? '', 'NSEC3 salt');
      const head = Buffer.concat([b16(1, u(t[0], 255, 'NSEC3 hash algorithm')), b16(1, u(t[1], 255, 'NSEC3 flags')), b16(2, u(t[2], 65535, 'NSEC3 iterations')), b16(1, salt.length), salt]);
      if (type === 51) return head;
      const next = base32hexDecode(t[4] ?? '');
      if (!next || next.length === 0) throw new ZoneTextError('bad NSEC3 next hashed owner');
      const types = t.slice(5).map((x) => {
        const c = typeCode(x);
        if (c === undefined) throw new ZoneTextError(`bad type ${x} in NSEC3`);
        return c;
      });
      return Buffer.concat([head, b16(1, next.length), next, encodeTypeBitmap(types)]);
    }
    default:
      throw new ZoneTextError(`no presentation parser for type ${type}; use \\# (RFC 3597)`);
  }
}

const CLASSES: Record<string, number> = { IN: 1, CH: 3, HS: 4 };

export interface ZoneTextOptions {
  origin?: string;
  defaultTtl?: number;
}

/** Parses master-file text into RRs (RDATA in canonical wire form). Throws ZoneTextError. */
export function parseZoneText(text: string, options: ZoneTextOptions = {}): RawRecord[] {
  let origin = options.origin === undefined ? '' : absolute(options.origin.endsWith('.') ? options.origin : `${options.origin}.`, '');
  let defaultTtl = options.defaultTtl ?? 3600;
  let lastOwner: string | undefined;
  let lastTtl: number | undefined;
  const out: RawRecord[] = [];
  for (const { tokens, leadingBlank, line } of tokenize(text)) {
    try {
      const first = tokens[0]!;
      if (!first.quoted && first.text.startsWith('$')) {
        const d = first.text.toUpperCase();
        if (d === '$ORIGIN') origin = absolute(tokens[1]?.text ?? '', origin);
        else if (d === '$TTL') defaultTtl = u(tokens[1]?.text, 0x7fffffff, '$TTL');
        else throw new ZoneTextError(`unsupported directive ${first.text}`);
        continue;
      }
      let i = 0;
      let owner: string;
      if (leadingBlank) {
        if (lastOwner === undefined) throw new ZoneTextError('no previous owner name');
        owner = lastOwner;
      } else {
        owner = absolute(first.text, origin);
        i = 1;
      }
      let ttl: number | undefined;
      let klass = 1;
      for (let k = 0; k < 2; k++) {
        const x = tokens[i]?.text ?? '';
        if (/^\d+$/.test(x) && ttl === undefined) {
          ttl = u(x, 0x7fffffff, 'TTL');
          i++;
        } else if (Object.hasOwn(CLASSES, x.toUpperCase())) {
          klass = CLASSES[x.toUpperCase()]!;
          i++;
        }
      }
      const type = typeCode(tokens[i]?.text ?? '');
      if (type === undefined) throw new ZoneTextError(`unknown type ${tokens[i]?.text ?? '(missing)'}`);
      const rdata = rdataFor(type, tokens.slice(i + 1), origin);
      const recTtl = ttl ?? lastTtl ?? defaultTtl;
      out.push({ name: owner, type, class: klass, ttl: recTtl, rdata });
      lastOwner = owner;
      lastTtl = ttl ?? lastTtl;
    } catch (err) {
      if (err instanceof ZoneTextError) throw new ZoneTextError(`line ${line}: ${err.message}`);
      throw new ZoneTextError(`line ${line}: ${(err as Error).message}`);
    }
  }
  return out;
}
