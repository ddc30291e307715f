import { domainToASCII } from 'node:url';
/**
 * Pure message and address helpers for the SMTP client.
 * - line ends normalised to CRLF (RFC 5321 §2.3.8: no bare CR or LF on the wire),
 * - lines longer than 998 octets broken with CRLF SPACE, as Postfix does (smtp_line_length_limit),
 * - dot-stuffing (RFC 5321 §4.5.2) and the CRLF.CRLF terminator,
 * - 8-bit (RFC 6152 8BITMIME) and UTF-8 (RFC 6531/6532 SMTPUTF8) detection,
 * - Mailbox syntax (RFC 5321 §4.1.2, extended by RFC 6531 §3.3).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { downgradeMime, type MimeDowngrade } from './mime-downgrade.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/**
 * CRLF everywhere: bare LF and bare CR become CRLF, CRLF stays.
 * Together with dot-stuffing this closes the SMTP-smuggling class ("\n.\n", "\r.\r" end-of-data).
 */
export function normalizeLineEnds(msg: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < msg.length; i++) {
    const b = msg[i];
    if (b === LF && (i === 0 || msg[i - 1] !== CR)) extra++;
    else if (b === CR && msg[i + 1] !== LF) extra++;
  }
  if (extra === 0) return msg;
  const out = Buffer.allocUnsafe(msg.length + extra);
  let o = 0;
  for (let i = 0; i < msg.length; i++) {
    const b = msg[i]!;
    if (b === LF && (i === 0 || msg[i - 1] !== CR)) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR && msg[i + 1] !== LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else {
      out[o++] = b;
    }
  }
  return out;
}

/** Add a leading '.' to every line that starts with '.' (RFC 5321 §4.5.2). Input must have CRLF line ends. */
export function dotStuff(msg: Buffer): Buffer {
  const starts: number[] = [];
  if (msg.length > 0 && msg[0] === DOT) starts.push(0);
  for (let i = msg.indexOf(LF); i >= 0; i = msg.indexOf(LF, i + 1)) {
    if (msg[i + 1] === DOT) starts.push(i + 1);
  }
  if (starts.length === 0) return msg;
  const out = Buffer.allocUnsafe(msg.length + starts.length);
  let from = 0;
  let o = 0;
  for (const s of starts) {
    o += msg.copy(out, o, from, s);
    out[o++] = DOT;
    from = s;
  }
  msg.copy(out, o, from);
  return out;
}

/** RFC 5322 §2.1.1, RFC 5321 §4.5.3.1.6: a text line is at most 998 octets before its CRLF. */
export const MAX_LINE_OCTETS = 998;

const CRLF = Buffer.from('\r\n');
const CRLF_SPACE = Buffer.from('\r\n ');

/**
 * Where a piece of at most `max` octets starting at `start` ends. When the cut would fall inside
 * a UTF-8 sequence (the byte at the cut is a continuation byte of a sequence whose lead byte is
 * before it), the cut moves back to just before that lead byte. Anything that is not UTF-8
 * (Latin-1, binary) is cut at `max` octets.
 */
function pieceEnd(msg: Buffer, start: number, max: number): number {
  const cut = start + max;
  if ((msg[cut]! & 0xc0) !== 0x80) return cut;
  for (let back = 1; back <= 3 && cut - back > start; back++) {
    const b = msg[cut - back]!;
    if (b < 0x80 || b >= 0xf8) return cut; // not UTF-8 here
    if (b >= 0xc0) {
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return length > back ? cut - back : cut;
    }
  }
  return cut;
}

/**
 * Break every line longer than `max` octets (998: RFC 5322 §2.1.1, RFC 5321 §4.5.3.1.6) as
 * Postfix does with smtp_line_length_limit: CRLF SPACE is inserted, so each continuation starts
 * with one space (a header fold, RFC 5322 §2.2.3) and counts it within its `max` octets; a cut
 * never falls inside a UTF-8 character. Pieces are never empty, so no empty line (the end of
 * the header section) and no line starting with '.' is created. Input must have CRLF line ends.
 */
export function splitLongLines(msg: Buffer, max = MAX_LINE_OCTETS): Buffer {
  return breakLines(msg, max).data;
}

function breakLines(msg: Buffer, max: number): { data: Buffer; broken: number } {
  if (!(max >= 5)) throw new RangeError(`bad line limit ${max}`);
  // Each line as [its end (before the CRLF), the next line's start].
  const line = (start: number): [number, number] => {
    const lf = msg.indexOf(LF, start);
    if (lf < 0) return [msg.length, msg.length];
    return [lf > start && msg[lf - 1] === CR ? lf - 1 : lf, lf + 1];
  };
  let long = false;
  for (let start = 0; start < msg.length && !long; ) {
    const [end, next] = line(start);
    long = end - start > max;
    start = next;
  }
  if (!long) return { data: msg, broken: 0 };
  let broken = 0;
  const parts: Buffer[] = [];
  for (let start = 0; start < msg.length; ) {
    const [end, next] = line(start);
    let pos = start;
    if (end - pos > max) {
      broken++;
      const cut = pieceEnd(msg, pos, max);
      parts.push(msg.subarray(pos, cut));
      pos = cut;
      while (end - pos > max - 1) {
        const cont = pieceEnd(msg, pos, max - 1);
        parts.push(CRLF_SPACE, msg.subarray(pos, cont));
        pos = cont;
      }
      parts.push(CRLF_SPACE);
    }
    parts.push(msg.subarray(pos, next));
    start = next;
  }
  return { data: Buffer.concat(parts), broken };
}

/**
 * The message as it is sent and counted for SIZE (RFC 1870 §3: CRLF line ends, no stuffing, no
 * terminator): line ends normalised, a final CRLF, lines over 998 octets broken. SIZE is thus
 * the exact size of what follows the 354, less the stuffed dots and the final ".".
 * `brokenLines`: how many lines of the input were longer than 998 octets (after the downgrade).
 * `downgrade` (for a server without 8BITMIME, RFC 6152 §3): 8-bit MIME parts are converted to
 * quoted-printable (mime-downgrade.ts) after the line ends are normalised and before long lines
 * are broken, as Postfix does; `mime` then says what was converted and what was not.
 */
export function prepareMessage(msg: Buffer, options: { downgrade?: boolean } = {}): { data: Buffer; brokenLines: number; mime?: Omit<MimeDowngrade, 'body'> } {
  let norm = normalizeLineEnds(msg);
  if (norm.length > 0 && !(norm.length >= 2 && norm[norm.length - 2] === CR && norm[norm.length - 1] === LF)) {
    norm = Buffer.concat([norm, CRLF]);
  }
  let mime: Omit<MimeDowngrade, 'body'> | undefined;
  if (options.downgrade) {
    const { body: converted, ...rest } = downgradeMime(norm);
    norm = converted;
    mime = rest;
  }
  const { data, broken } = breakLines(norm, MAX_LINE_OCTETS);
  return { data, brokenLines: broken, ...(mime ? { mime } : {}) };
}

/** The message as it is sent and counted for SIZE: see prepareMessage. */
export function canonicalMessage(msg: Buffer): Buffer {
  return prepareMessage(msg).data;
}

/** What follows the 354: normalised, long lines broken, dot-stuffed, ending with CRLF "." CRLF (RFC 5321 §4.1.1.4). */
export function dataPayload(msg: Buffer): Buffer {
  return Buffer.concat([dotStuff(canonicalMessage(msg)), Buffer.from('.\r\n')]);
}

/** True when the message has a byte ≥ 0x80 (needs BODY=8BITMIME, RFC 6152). */
export function needs8bit(msg: Buffer): boolean {
  for (let i = 0; i < msg.length; i++) if (msg[i]! >= 0x80) return true;
  return false;
}

/** The header section: everything before the first empty line (the whole message when there is none). */
export function headerSection(msg: Buffer): Buffer {
  const norm = normalizeLineEnds(msg);
  if (norm.length >= 2 && norm[0] === CR && norm[1] === LF) return norm.subarray(0, 0);
  const end = norm.indexOf('\r\n\r\n');
  return end < 0 ? norm : norm.subarray(0, end + 2);
}

export function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(s);
}

/**
 * True when the transaction needs SMTPUTF8 (RFC 6531 §3.2): a non-ASCII envelope address
 * or raw UTF-8 in the header section (RFC 6532). 8-bit bytes in the body only need 8BITMIME.
 */
export function needsSmtputf8(envelope: { from: string; to: readonly string[]; message: Buffer }): boolean {
  if (!isAscii(envelope.from) || envelope.to.some((a) => !isAscii(a))) return true;
  return needs8bit(headerSection(envelope.message));
}

// RFC 5322 atext; RFC 6531 §3.3 adds UTF8-non-ascii.
const ATEXT_ASCII = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~";
// Refused anywhere: controls (C0, DEL, C1), lone surrogates, any space or line separator except
// U+0020 (which the grammar allows only inside a quoted local part).
const BAD_CHARS = /[\p{Cc}\p{Cs}]|(?! )\p{Z}/u;
const DOT_STRING = new RegExp(`^[${ATEXT_ASCII}\\u0080-\\u{10ffff}]+(?:\\.[${ATEXT_ASCII}\\u0080-\\u{10ffff}]+)*$`, 'u');
// Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, qtextSMTP = %d32-33 / %d35-91 / %d93-126
const QUOTED_STRING = /^"(?:[\u0020\u0021\u0023-\u005b\u005d-\u007e\u0080-\u{10ffff}]|\\[\u0020-\u007e])*"$/u;
const LDH_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// U-label (loosely; IDNA2008 validity is the DNS layer's business): letters, marks, digits, hyphen.
const U_LABEL = /^[\p{L}\p{M}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function isValidDomain(domain: string): boolean {
  if (domain.startsWith('[') && domain.endsWith(']')) {
    // address-literal (RFC 5321 §4.1.3); General-address-literal is not accepted
    const inner = domain.slice(1, -1);
    if (/^IPv6:/i.test(inner)) return isIPv6(inner.slice(5));
    return isIPv4(inner);
  }
  if (domain === '' || utf8Length(domain) > 255) return false;
  return domain.split('.').every((label) => {
    if (isAscii(label)) return LDH_LABEL.test(label);
    return utf8Length(label) <= 63 && U_LABEL.test(label);
  });
}

/**
 * Mailbox = Local-part "@" ( Domain / address-literal )   (RFC 5321 §4.1.2, RFC 6531 §3.3).
 * Local part ≤ 64 octets, domain ≤ 255 octets, the whole path ≤ 256 octets with its <> (§4.5.3.1).
 * Never true for anything containing CR, LF, NUL or other controls, so a valid mailbox can be
 * written into a command line safely.
 */
export function isValidMailbox(addr: string): boolean {
  if (typeof addr !== 'string' || addr.length === 0) return false;
  if (BAD_CHARS.test(addr)) return false;
  if (utf8Length(addr) > 254) return false;
  const at = addr.lastIndexOf('@');
  if (at <= 0) return false;
  const local = addr.slice(0, at);
  const domain = addr.slice(at + 1);
  if (utf8Length(local) > 64) return false;
  if (!DOT_STRING.test(local) && !QUOTED_STRING.test(local)) return false;
  return isValidDomain(domain);
}

/** The domain of a mailbox, lower-cased (address literals as written, e.g. "[192.0.2.1]"); undefined without '@'. */
export function domainOf(addr: string): string | undefined {
  const at = addr.lastIndexOf('@');
  if (at < 0 || at === addr.length - 1) return undefined;
  const domain = addr.slice(at + 1);
  return domain.startsWith('[') ? domain : domain.toLowerCase();
}

/**
 * An EHLO/HELO argument (RFC 5321 §4.1.1.1): a host name or an address literal like
 * `[192.0.2.1]` / `[IPv6:2001:db8::1]`. Nothing that could break the command line.
 */
export function isValidHeloName(name: string): boolean {
  if (typeof name !== 'string') return false;
  return /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(name) || /^\[(?:IPv6:)?[0-9A-Fa-f:.]{2,45}\]$/.test(name);
}

/** `local@bücher.example` → `local@xn--bcher-kva.example` when the local part is ASCII; else unchanged. */
export function asciiDomainAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!isAscii(local) || isAscii(domain) || domain.startsWith('[')) return address;
  const ascii = domainToASCII(domain);
  return ascii ? `${local}@${ascii}` : address;
}
