/**
 * 8-bit MIME to 7-bit MIME for a server that does not offer 8BITMIME (RFC 6152 §3: convert the
 * content or return the message), as Postfix does by default (`disable_mime_output_conversion
 * = no`, MIME_OPT_DOWNGRADE in src/global/mime_state.c): the body of a leaf part with 8-bit
 * octets is re-encoded as quoted-printable (RFC 2045 §6.7) and its Content-Transfer-Encoding
 * set accordingly; everything else is left byte for byte.
 *
 * What is converted:
 * - only a MIME message (a `MIME-Version` header in the top-level header section); a non-MIME
 *   8-bit message is left as it is (Postfix, which has no MIME type to go by, sends it as is);
 * - multipart/* (RFC 2046 §5.1, boundaries from Content-Type, nested, preamble and epilogue
 *   kept) and message/rfc822 (the enclosed message, whose headers are MIME headers again) are
 *   walked; a composite labelled `8bit` becomes `7bit` once nothing 8-bit is left inside;
 * - a leaf part whose body has an octet ≥ 0x80 and whose Content-Transfer-Encoding is `8bit`,
 *   `7bit` (mislabelled) or absent: CRLF stays a hard line break (8bit data is lines, RFC 2045
 *   §2.8), lines are at most 76 characters with soft line breaks, the header is replaced in
 *   place or added at the end of the part's header section.
 *
 * What is left (and reported in `unconverted`): 8-bit header bytes (Postfix does not convert
 * them either), `binary` parts, 8-bit octets in parts already labelled quoted-printable,
 * base64 or something unknown, in message/partial or message/external-body (RFC 2046 §5.2:
 * 7bit only), in a preamble or epilogue, and in anything not clearly structured (a multipart
 * without boundary, a header section not ended by an empty line, nesting deeper than
 * MAX_MIME_DEPTH, more than MAX_CONVERTED_PARTS parts to convert). Never throws.
 *
 * Input: the message with CRLF line ends (a bare CR or LF is just another octet). One pass
 * over the lines (delimiter lines found with indexOf, looked up in a map), one over each
 * converted body: linear in the size of the message.
 */

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const EQ = 0x3d;

/** Entities open at once (the top-level message counts); deeper structure is left as it is (Postfix: mime_nesting_limit 100). */
export const MAX_MIME_DEPTH = 100;
/** Parts converted at most; the rest is left as it is. */
export const MAX_CONVERTED_PARTS = 100_000;
/** RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters. */
export const QP_LINE_LIMIT = 76;

export interface MimeDowngrade {
  /** The message: identical to the input (same object) when nothing was converted. */
  body: Buffer;
  /** Leaf parts re-encoded as quoted-printable. */
  converted: number;
  /** Why 8-bit octets are still in `body` (reasons separated by "; "); absent when none are. */
  unconverted?: string;
}

interface Header {
  /** Lower-cased field name. */
  name: string;
  /** First octet of the field and the end of its last line (before CRLF). */
  start: number;
  end: number;
}

type Kind = 'leaf' | 'multipart' | 'message' | 'opaque';

interface Entity {
  start: number;
  parent: Entity | undefined;
  /** A part of multipart/digest: message/rfc822 by default (RFC 2046 §5.1.5). */
  digestPart: boolean;
  headers: Header[];
  /** Still reading the header section. */
  inHeader: boolean;
  /** Start of the empty line that ends the header section; -1 when it did not end with one. */
  headEnd: number;
  bodyStart: number;
  kind: Kind;
  /** Why an opaque entity is left as it is. */
  why: string;
  /** The top-level entity has no MIME-Version: the message is not MIME at all, nothing to convert. */
  notMime?: true;
  /** Lower-cased Content-Transfer-Encoding token; undefined when there is no such header. */
  cte: string | undefined;
  cteHeader: Header | undefined;
  /** multipart: the boundary, while its close delimiter has not been seen. */
  boundary: string | undefined;
  boundaryOpen: boolean;
  /** multipart/digest: its parts are message/rfc822 by default. */
  digest: boolean;
  /** multipart: start of the first delimiter line, and the end of the close delimiter line. */
  firstDelimiter: number;
  afterClose: number;
  /** In the subtree: leaf parts converted, 8-bit octets left. */
  converted: number;
  residual: boolean;
}

interface Edit {
  at: number;
  end: number;
  data: Buffer[];
}

function has8bit(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! >= 0x80) return true;
  return false;
}

/** Length of the field name and colon when the line at `p` starts a header field ("name:" or obsolete "name :"), else 0. */
function headerNameEnd(buf: Buffer, p: number, end: number): number {
  let i = p;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x3a || c <= SP || c >= 0x7f) break;
    i++;
  }
  if (i === p) return 0;
  let j = i;
  while (j < end && (buf[j] === SP || buf[j] === HT)) j++;
  return j < end && buf[j] === 0x3a ? j : 0;
}

// ---------------------------------------------------------------- header values (RFC 2045 §5.1, §6.1)

const TSPECIALS = new Set('()<>@,;:\\"/[]?='.split(''));

/** Tokens of a structured header value: comments and white space dropped (RFC 5322 §3.2.2). */
function lexer(value: string) {
  let i = 0;
  const skip = () => {
    for (;;) {
      while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === '\r' || value[i] === '\n')) i++;
      if (value[i] !== '(') return;
      let depth = 0;
      for (; i < value.length; i++) {
        const c = value[i];
        if (c === '\\') i++;
        else if (c === '(') depth++;
        else if (c === ')' && --depth === 0) {
          i++;
          break;
        }
      }
    }
  };
  return {
    /** Next special character, consumed when it is `c`. */
    special(c: string): boolean {
      skip();
      if (value[i] !== c) return false;
      i++;
      return true;
    },
    token(): string | undefined {
      skip();
      const start = i;
      while (i < value.length && value.charCodeAt(i) > 0x20 && value.charCodeAt(i) !== 0x7f && !TSPECIALS.has(value[i]!)) i++;
      return i > start ? value.slice(start, i) : undefined;
    },
    /** A parameter value: a quoted-string, or (leniently) anything up to ';', white space or a comment. */
    paramValue(): string | undefined {
      skip();
      if (value[i] === '"') {
        let out = '';
        for (i++; i < value.length; i++) {
          const c = value[i]!;
          if (c === '"') {
            i++;
            return out;
          }
          if (c === '\\' && i + 1 < value.length) i++;
          if (c !== '\r' && c !== '\n') out += value[i];
        }
        return undefined; // unterminated
      }
      const start = i;
      while (i < value.length && !/[;\s(]/.test(value[i]!)) i++;
      return i > start ? value.slice(start, i) : undefined;
    },
    /** Skip to after the next ';' outside quotes; false at the end. */
    nextParam(): boolean {
      for (; i < value.length; i++) {
        if (value[i] === '"') {
          for (i++; i < value.length && value[i] !== '"'; i++) if (value[i] === '\\') i++;
        } else if (value[i] === ';') {
          i++;
          return true;
        }
      }
      return false;
    },
  };
}

interface ContentType {
  type: string;
  subtype: string;
  /** Every boundary parameter value. */
  boundaries: string[];
}

function parseContentType(value: string): ContentType | undefined {
  const lex = lexer(value);
  const type = lex.token()?.toLowerCase();
  if (type === undefined) return undefined;
  const subtype = lex.special('/') ? (lex.token()?.toLowerCase() ?? '') : '';
  const boundaries: string[] = [];
  while (lex.nextParam()) {
    const attr = lex.token()?.toLowerCase();
    if (attr !== 'boundary' || !lex.special('=')) continue;
    const v = lex.paramValue();
    if (v !== undefined) boundaries.push(v);
  }
  return { type, subtype, boundaries };
}

function parseEncoding(value: string): string {
  return lexer(value).token()?.toLowerCase() ?? '';
}

// ---------------------------------------------------------------- quoted-printable (RFC 2045 §6.7)

const HEX = Buffer.from('0123456789ABCDEF');

/**
 * `buf[from, to)` as quoted-printable, in chunks: CRLF is a hard line break, a bare CR or LF is
 * encoded; `=`, controls (but TAB) and octets ≥ 0x80 are `=XX`; a SPACE or TAB at the end of a
 * line is encoded; soft line breaks keep every line within 76 characters; an "F" starting
 * "From " at the start of a line is encoded too (=46), so no mbox delivery adds a ">".
 */
export function encodeQuotedPrintable(buf: Buffer, from = 0, to = buf.length): Buffer[] {
  const n = to - from;
  // Worst case: 3 characters per octet and a soft line break ("=" CRLF) per 73 characters.
  const size = Math.min(1 << 20, Math.ceil(n * 3.2) + 16);
  const chunks: Buffer[] = [];
  let out = Buffer.allocUnsafe(size);
  let limit = out.length - 6; // room for a soft line break and an =XX
  let o = 0;
  let col = 0;
  for (let i = from; i < to; i++) {
    if (o > limit) {
      chunks.push(out.subarray(0, o));
      out = Buffer.allocUnsafe(size);
      limit = out.length - 6;
      o = 0;
    }
    const c = buf[i]!;
    if (c === CR && i + 1 < to && buf[i + 1] === LF) {
      out[o++] = CR;
      out[o++] = LF;
      col = 0;
      i++;
      continue;
    }
    const eol = i + 1 === to || (buf[i + 1] === CR && i + 2 < to && buf[i + 2] === LF);
    let literal = c >= 0x21 ? c <= 0x7e && c !== EQ : (c === SP || c === HT) && !eol;
    if (col + (literal ? 1 : 3) > (eol ? QP_LINE_LIMIT : QP_LINE_LIMIT - 1)) {
      out[o++] = EQ;
      out[o++] = CR;
      out[o++] = LF;
      col = 0;
    }
    if (col === 0 && c === 0x46 && i + 4 < to && buf[i + 1] === 0x72 && buf[i + 2] === 0x6f && buf[i + 3] === 0x6d && buf[i + 4] === SP) literal = false;
    if (literal) {
      out[o++] = c;
      col++;
    } else {
      out[o++] = EQ;
      out[o++] = HEX[c >> 4]!;
      out[o++] = HEX[c & 15]!;
      col += 3;
    }
  }
  if (o > 0 || chunks.length === 0) chunks.push(out.subarray(0, o));
  return chunks;
}

// ---------------------------------------------------------------- the walk

const LF_DASH_DASH = Buffer.from('\n--');
const QP_HEADER = Buffer.from('Content-Transfer-Encoding: quoted-printable');
const QP_HEADER_LINE = Buffer.from('Content-Transfer-Encoding: quoted-printable\r\n');
const SEVEN_BIT_HEADER = Buffer.from('Content-Transfer-Encoding: 7bit');

function newEntity(start: number, parent: Entity | undefined, digestPart: boolean): Entity {
  return {
    start,
    parent,
    digestPart,
    headers: [],
    inHeader: true,
    headEnd: -1,
    bodyStart: start,
    kind: 'opaque',
    why: '',
    cte: undefined,
    cteHeader: undefined,
    boundary: undefined,
    boundaryOpen: false,
    digest: false,
    firstDelimiter: -1,
    afterClose: -1,
    converted: 0,
    residual: false,
  };
}

/** Convert the 8-bit MIME parts of `msg` (CRLF line ends) to quoted-printable; see the module comment. */
export function downgradeMime(msg: Buffer): MimeDowngrade {
  const n = msg.length;
  const reasons = new Set<string>();
  const edits: Edit[] = [];
  let convertedTotal = 0;
  const leave = (e: Entity, why: string) => {
    e.residual = true;
    reasons.add(why);
  };
  const headerValue = (h: Header) => {
    const colon = msg.indexOf(0x3a, h.start);
    return msg.toString('latin1', colon + 1, h.end);
  };

  // Active boundaries (of multiparts on the path whose close delimiter is not seen yet).
  const active = new Map<string, number>();
  let longestBoundary = 0;
  const path: Entity[] = [newEntity(0, undefined, false)];

  /** The header section of `e` ends: `headEnd` is the empty line (-1: none), the body starts at `bodyStart`. */
  const endHeaders = (e: Entity, headEnd: number, bodyStart: number): void => {
    e.inHeader = false;
    e.headEnd = headEnd;
    e.bodyStart = bodyStart;
    if (has8bit(msg, e.start, Math.min(bodyStart, headEnd < 0 ? bodyStart : headEnd))) leave(e, '8-bit header');
    const named = (name: string) => e.headers.filter((h) => h.name === name);
    if (e.parent === undefined && named('mime-version').length === 0) {
      e.why = 'not a MIME message (no MIME-Version header)';
      e.notMime = true;
      return;
    }
    if (headEnd < 0) {
      e.why = 'malformed MIME (a header section not ended by an empty line)';
      return;
    }
    const cts = named('content-type');
    const ctes = named('content-transfer-encoding');
    if (cts.length > 1 || ctes.length > 1) {
      e.why = 'malformed MIME (more than one Content-Type or Content-Transfer-Encoding header)';
      return;
    }
    e.cteHeader = ctes[0];
    e.cte = e.cteHeader ? parseEncoding(headerValue(e.cteHeader)) : undefined;
    const ct = cts[0] ? parseContentType(headerValue(cts[0])) : e.digestPart ? { type: 'message', subtype: 'rfc822', boundaries: [] } : { type: 'text', subtype: 'plain', boundaries: [] };
    if (ct === undefined) {
      e.why = 'malformed MIME (an unreadable Content-Type)';
      return;
    }
    const identity = e.cte === undefined || e.cte === '7bit' || e.cte === '8bit' || e.cte === 'binary';
    if (ct.type === 'multipart' || (ct.type === 'message' && ct.subtype === 'rfc822')) {
      if (!identity) {
        e.why = `malformed MIME (${ct.type}/${ct.subtype} with Content-Transfer-Encoding ${e.cte})`; // RFC 2045 §6.4
        return;
      }
      if (path.length >= MAX_MIME_DEPTH) {
        e.why = 'MIME nesting too deep';
        return;
      }
    }
    if (ct.type === 'multipart') {
      const boundary = ct.boundaries[0];
      if (boundary === undefined || boundary === '' || ct.boundaries.some((b) => b !== boundary) || /[\r\n]/.test(boundary)) {
        e.why = 'malformed MIME (a multipart without one clear boundary)';
        return;
      }
      e.kind = 'multipart';
      e.boundary = boundary;
      e.boundaryOpen = true;
      e.digest = ct.subtype === 'digest';
      active.set(boundary, (active.get(boundary) ?? 0) + 1);
      longestBoundary = Math.max(longestBoundary, boundary.length);
      return;
    }
    if (ct.type === 'message' && ct.subtype === 'rfc822') {
      e.kind = 'message';
      path.push(newEntity(bodyStart, e, false));
      return;
    }
    if (ct.type === 'message' && ct.subtype !== 'global') {
      // RFC 2045 §6.4, RFC 2046 §5.2: no encoding other than 7bit, 8bit or binary (RFC 6532 §3.5 allows it for message/global)
      e.why = `8-bit data in message/${ct.subtype}`;
      return;
    }
    e.kind = 'leaf';
  };

  const closeBoundary = (e: Entity) => {
    if (!e.boundaryOpen) return;
    e.boundaryOpen = false;
    const left = (active.get(e.boundary!) ?? 1) - 1;
    if (left > 0) active.set(e.boundary!, left);
    else active.delete(e.boundary!);
  };

  /** `e` ends at `end` (exclusive): decide its edits, hand its counts to its parent. */
  const finish = (e: Entity, end: number): void => {
    if (e.inHeader) endHeaders(e, -1, end);
    closeBoundary(e);
    const bodyEnd = Math.max(e.bodyStart, end);
    switch (e.kind) {
      case 'leaf': {
        if (!has8bit(msg, e.bodyStart, bodyEnd)) break;
        if (e.cte === 'binary') leave(e, 'binary Content-Transfer-Encoding');
        else if (e.cte !== undefined && e.cte !== '7bit' && e.cte !== '8bit') leave(e, `8-bit data in a part labelled ${e.cte || 'with an unreadable Content-Transfer-Encoding'}`);
        else if (convertedTotal >= MAX_CONVERTED_PARTS) leave(e, 'too many MIME parts to convert');
        else {
          if (e.cteHeader) edits.push({ at: e.cteHeader.start, end: e.cteHeader.end, data: [QP_HEADER] });
          else edits.push({ at: e.headEnd, end: e.headEnd, data: [QP_HEADER_LINE] });
          edits.push({ at: e.bodyStart, end: bodyEnd, data: encodeQuotedPrintable(msg, e.bodyStart, bodyEnd) });
          e.converted++;
          convertedTotal++;
        }
        break;
      }
      case 'multipart': {
        if (e.firstDelimiter < 0) {
          if (has8bit(msg, e.bodyStart, bodyEnd)) leave(e, 'malformed MIME (a multipart without its boundary lines)');
          break;
        }
        if (has8bit(msg, e.bodyStart, e.firstDelimiter) || (e.afterClose >= 0 && has8bit(msg, e.afterClose, bodyEnd))) leave(e, '8-bit data in a multipart preamble or epilogue');
        break;
      }
      case 'message':
        break;
      case 'opaque':
        if (has8bit(msg, e.bodyStart, bodyEnd)) leave(e, e.why);
        break;
    }
    // A composite labelled 8bit with nothing 8-bit left inside is 7bit now (RFC 2045 §6.4).
    if ((e.kind === 'multipart' || e.kind === 'message') && e.converted > 0 && !e.residual && e.cte === '8bit' && e.cteHeader) {
      edits.push({ at: e.cteHeader.start, end: e.cteHeader.end, data: [SEVEN_BIT_HEADER] });
    }
    if (e.parent) {
      e.parent.converted += e.converted;
      e.parent.residual ||= e.residual;
    }
  };

  /** The multipart on the path that the line [p, lineEnd) is a delimiter of: [its index, close?]; undefined when none. */
  const delimiterOf = (p: number, lineEnd: number): [number, boolean] | undefined => {
    if (active.size === 0 || lineEnd - p < 3 || msg[p] !== 0x2d || msg[p + 1] !== 0x2d) return undefined;
    let e = lineEnd;
    while (e > p + 2 && (msg[e - 1] === SP || msg[e - 1] === HT)) e--; // transport padding (RFC 2046 §5.1.1)
    if (e - p - 2 > longestBoundary + 2) return undefined;
    const text = msg.toString('latin1', p + 2, e);
    const find = (boundary: string, close: boolean): [number, boolean] | undefined => {
      if (!active.has(boundary)) return undefined;
      for (let k = path.length - 1; k >= 0; k--) if (path[k]!.boundaryOpen && path[k]!.boundary === boundary) return [k, close];
      return undefined;
    };
    return find(text, false) ?? (text.endsWith('--') ? find(text.slice(0, -2), true) : undefined);
  };

  let pos = 0;
  while (pos < n) {
    const cur = path[path.length - 1]!;
    const lf = msg.indexOf(LF, pos);
    const next = lf < 0 ? n : lf + 1;
    const lineEnd = lf < 0 ? n : lf > pos && msg[lf - 1] === CR ? lf - 1 : lf;
    if (cur.inHeader) {
      if (lineEnd === pos && lf >= 0) {
        endHeaders(cur, pos, next);
        pos = next;
        if (cur.parent === undefined && cur.notMime) break;
        continue;
      }
      const last = cur.headers[cur.headers.length - 1];
      if (last && (msg[pos] === SP || msg[pos] === HT)) {
        last.end = lineEnd;
        pos = next;
        continue;
      }
      const nameEnd = headerNameEnd(msg, pos, lineEnd);
      if (nameEnd > 0) {
        cur.headers.push({ name: msg.toString('latin1', pos, nameEnd).trimEnd().toLowerCase(), start: pos, end: lineEnd });
        pos = next;
        continue;
      }
      // Not a header: the header section ends here without an empty line; the line is body text.
      endHeaders(cur, -1, pos);
      if (cur.parent === undefined && cur.notMime) break;
      continue;
    }
    const delimiter = delimiterOf(pos, lineEnd);
    if (delimiter === undefined) {
      if (active.size === 0) break; // nothing can end before the end of the message
      // Only a line starting with "--" can be a delimiter.
      const at = msg.indexOf(LF_DASH_DASH, Math.max(pos, next - 1));
      pos = at < 0 ? n : at + 1;
      continue;
    }
    const [k, close] = delimiter;
    const mp = path[k]!;
    // The CRLF before a delimiter belongs to it (RFC 2046 §5.1.1).
    const contentEnd = pos >= 2 && msg[pos - 2] === CR && msg[pos - 1] === LF ? pos - 2 : pos - 1;
    while (path.length > k + 1) finish(path.pop()!, contentEnd);
    if (mp.firstDelimiter < 0) mp.firstDelimiter = Math.max(mp.bodyStart, contentEnd);
    if (close) {
      closeBoundary(mp);
      mp.afterClose = next;
    } else {
      path.push(newEntity(next, mp, mp.digest));
    }
    pos = next;
  }
  while (path.length > 0) finish(path.pop()!, n);

  if (edits.length === 0) return { body: msg, converted: 0, ...(reasons.size ? { unconverted: [...reasons].join('; ') } : {}) };
  edits.sort((a, b) => a.at - b.at);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const e of edits) {
    pieces.push(msg.subarray(from, e.at), ...e.data);
    from = e.end;
  }
  pieces.push(msg.subarray(from));
  return { body: Buffer.concat(pieces), converted: convertedTotal, ...(reasons.size ? { unconverted: [...reasons].join('; ') } : {}) };
}
