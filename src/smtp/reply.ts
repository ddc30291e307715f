/**
 * Pure SMTP reply parsing (RFC 5321 §4.2, §4.5.3.1.5), size-bounded for hostile peers.
 *
 * Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
 * Bare LF line ends are accepted leniently; every other deviation is a protocol error.
 */
import type { SmtpReply } from './types.js';

/** Longest reply line, terminator included (RFC 5321 §4.5.3.1.5 says 512; we allow 4096). */
export const MAX_LINE_BYTES = 4096;
/** Most lines in one multi-line reply. */
export const MAX_REPLY_LINES = 100;
/** Most bytes in one multi-line reply, terminators included. */
export const MAX_REPLY_BYTES = 64 * 1024;
/** Most bytes received but not yet consumed (complete replies waiting + partial reply + partial line). */
export const MAX_UNREAD_BYTES = 1024 * 1024;

export interface ReplyLine {
  code: number;
  /** True for the last line of a reply ("250 " or a bare "250"), false for a continuation ("250-"). */
  last: boolean;
  text: string;
}

export interface ReplyParseError {
  code: 'PROTOCOL' | 'REPLY_TOO_LONG';
  message: string;
}

const LF = 0x0a;
const CR = 0x0d;

/** Make server text safe for logs: control characters (C0, DEL, C1) become '?'. */
export function sanitizeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '?');
}

/**
 * Parse one reply line (terminator already removed).
 * Reply-code = %x32-35 %x30-39 %x30-39 (RFC 5321 §4.2; the second digit is accepted 0-9 leniently).
 */
export function parseReplyLine(line: Buffer | string): ReplyLine | ReplyParseError {
  const buf = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  const shown = () => JSON.stringify(sanitizeText(buf.subarray(0, 40).toString('utf8')));
  if (buf.length < 3) return { code: 'PROTOCOL', message: `malformed reply line ${shown()}` };
  const d0 = buf[0]!;
  const d1 = buf[1]!;
  const d2 = buf[2]!;
  if (d0 < 0x32 || d0 > 0x35 || d1 < 0x30 || d1 > 0x39 || d2 < 0x30 || d2 > 0x39) {
    return { code: 'PROTOCOL', message: `malformed reply code in ${shown()}` };
  }
  const code = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
  if (buf.length === 3) return { code, last: true, text: '' };
  const sep = buf[3];
  if (sep !== 0x20 && sep !== 0x2d) {
    return { code: 'PROTOCOL', message: `malformed reply separator in ${shown()}` };
  }
  return { code, last: sep === 0x20, text: sanitizeText(buf.subarray(4).toString('utf8')) };
}

/**
 * Incremental, bounded reply reader: push() raw bytes as they arrive, shift() complete replies.
 * The first error is sticky; after it nothing more is parsed.
 */
export class ReplyReader {
  private buf: Buffer = Buffer.alloc(0);
  private lines: ReplyLine[] = [];
  private lineBytes = 0;
  private readonly queue: { reply: SmtpReply; bytes: number }[] = [];
  private queuedBytes = 0;
  error: ReplyParseError | undefined;

  /** Bytes received and not consumed by shift(): queued replies, a partial reply, a partial line. */
  get pendingBytes(): number {
    return this.queuedBytes + this.lineBytes + this.buf.length;
  }

  /** True while part of a reply (a line or continuation lines) has been received. */
  get midReply(): boolean {
    return this.lines.length > 0 || this.buf.length > 0;
  }

  push(chunk: Buffer): void {
    if (this.error || chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const lf = this.buf.indexOf(LF);
      if (lf < 0) {
        // A line still missing its LF can only grow: fail as soon as it cannot fit.
        if (this.buf.length >= MAX_LINE_BYTES) {
          this.fail('REPLY_TOO_LONG', `reply line exceeds ${MAX_LINE_BYTES} bytes`);
        }
        break;
      }
      const size = lf + 1;
      if (size > MAX_LINE_BYTES) {
        this.fail('REPLY_TOO_LONG', `reply line exceeds ${MAX_LINE_BYTES} bytes`);
        break;
      }
      const end = lf > 0 && this.buf[lf - 1] === CR ? lf - 1 : lf; // CRLF, or bare LF leniently
      const line = parseReplyLine(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(size);
      if ('message' in line) {
        this.fail(line.code, line.message);
        break;
      }
      const first = this.lines[0];
      if (first && first.code !== line.code) {
        this.fail('PROTOCOL', `inconsistent codes in a multi-line reply (${first.code} then ${line.code})`);
        break;
      }
      this.lines.push(line);
      this.lineBytes += size;
      if (this.lines.length > MAX_REPLY_LINES) {
        this.fail('REPLY_TOO_LONG', `multi-line reply exceeds ${MAX_REPLY_LINES} lines`);
        break;
      }
      if (this.lineBytes > MAX_REPLY_BYTES) {
        this.fail('REPLY_TOO_LONG', `multi-line reply exceeds ${MAX_REPLY_BYTES} bytes`);
        break;
      }
      if (line.last) {
        this.queue.push({ reply: { code: line.code, lines: this.lines.map((l) => l.text) }, bytes: this.lineBytes });
        this.queuedBytes += this.lineBytes;
        this.lines = [];
        this.lineBytes = 0;
      }
    }
    if (!this.error && this.pendingBytes > MAX_UNREAD_BYTES) {
      this.fail('REPLY_TOO_LONG', `more than ${MAX_UNREAD_BYTES} bytes of unread replies`);
    }
  }

  /** The next complete reply, if any. */
  shift(): SmtpReply | undefined {
    const item = this.queue.shift();
    if (!item) return undefined;
    this.queuedBytes -= item.bytes;
    return item.reply;
  }

  /** Drop everything received and not consumed (RFC 3207 §5 discard rule); returns the byte count. */
  discard(): number {
    const bytes = this.pendingBytes;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.lines = [];
    this.lineBytes = 0;
    this.buf = Buffer.alloc(0);
    return bytes;
  }

  private fail(code: ReplyParseError['code'], message: string): void {
    this.error = { code, message };
    this.buf = Buffer.alloc(0);
    this.lines = [];
    this.lineBytes = 0;
  }
}

/** Parse all replies in a complete byte string (tests, fixtures). */
export function parseReplies(data: Buffer | string): { replies: SmtpReply[]; error?: ReplyParseError; rest: number } {
  const reader = new ReplyReader();
  reader.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  const replies: SmtpReply[] = [];
  for (let r = reader.shift(); r; r = reader.shift()) replies.push(r);
  return reader.error ? { replies, error: reader.error, rest: 0 } : { replies, rest: reader.pendingBytes };
}

/** One-line rendering for logs and RecipientResult.reply, e.g. "250 2.0.0 Ok: queued as X". */
export function formatReply(reply: SmtpReply): string {
  const text = reply.lines.map((l) => l.trim()).filter((l) => l !== '').join(' ');
  return text === '' ? String(reply.code) : `${reply.code} ${text}`;
}

/** 2, 3, 4 or 5 (RFC 5321 §4.2.1). */
export function replyClass(reply: SmtpReply | number): number {
  return Math.floor((typeof reply === 'number' ? reply : reply.code) / 100);
}

/**
 * EHLO extensions (RFC 5321 §4.1.1.1): the lines after the first one,
 * ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), upper-cased → parameters (may be '').
 * Lines that are not a valid keyword are ignored. Later duplicates do not override earlier ones.
 */
export function parseEhloExtensions(reply: SmtpReply): Record<string, string> {
  const ext: Record<string, string> = {};
  for (const raw of reply.lines.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ \t]+(.*))?$/.exec(raw.trim());
    if (!m) continue;
    const key = m[1]!.toUpperCase();
    if (Object.prototype.hasOwnProperty.call(ext, key)) continue;
    ext[key] = (m[2] ?? '').trim().replace(/\s+/g, ' ');
  }
  return ext;
}

/**
 * SIZE limit from the SIZE extension parameter (RFC 1870 §4): a positive integer, or
 * undefined when absent, 0 or not a number (no fixed limit announced).
 */
export function sizeLimit(param: string | undefined): number | undefined {
  if (param === undefined || !/^\d{1,15}$/.test(param)) return undefined;
  const n = Number(param);
  return n > 0 ? n : undefined;
}

/**
 * Enhanced status code (RFC 3463 §2, RFC 2034 §4) at the start of a reply's first line, e.g.
 * { class: 4, subject: 5, detail: 3 } for "452 4.5.3 Too many recipients"; undefined when none.
 */
export function enhancedStatus(reply: SmtpReply): { class: number; subject: number; detail: number } | undefined {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)/.exec(reply.lines[0] ?? '');
  return m ? { class: Number(m[1]), subject: Number(m[2]), detail: Number(m[3]) } : undefined;
}

/**
 * A RCPT refusal that means "too many recipients in this transaction", so the recipient goes in
 * another transaction (RFC 5321 §4.5.3.1.8 "100-recipient chunks", §4.5.3.1.10): reply code 452
 * (or 552, RFC 821's code for it, which clients "SHOULD treat ... as temporary"), and an
 * enhanced status code, when there is one, of X.5.3 "Too many recipients" (RFC 3463 §3.6).
 * Not 452 4.2.2 (mailbox full) nor 452 4.3.1 (system storage): per recipient or per server, a
 * new transaction would fare no better. Not another 5yz either: §4.5.3.1.10 lets a server with a
 * site-policy limit answer 5yz, a permanent refusal.
 */
export function isTooManyRecipients(reply: SmtpReply): boolean {
  if (reply.code !== 452 && reply.code !== 552) return false;
  const esc = enhancedStatus(reply);
  return esc === undefined || (esc.subject === 5 && esc.detail === 3);
}

/**
 * RCPTMAX from the LIMITS extension parameter (RFC 9422 §4, §5.2): the most RCPT commands the
 * server takes in one transaction. limits-param = limit-name-value *(SP limit-name-value),
 * limit-name-value = limit-name ["=" limit-value], names case-insensitive; RCPTMAX's value is
 * 1*6DIGIT. Undefined when absent, malformed (not 1 to 6 digits, 0), or given twice with
 * different values; other limits and malformed tokens are ignored.
 */
export function rcptMax(param: string | undefined): number | undefined {
  if (param === undefined) return undefined;
  let found: number | undefined;
  for (const token of param.split(' ')) {
    const m = /^([A-Za-z0-9_-]+)(?:=([\x21-\x3a\x3c-\x7e]+))?$/.exec(token);
    if (!m || m[1]!.toUpperCase() !== 'RCPTMAX') continue;
    if (m[2] === undefined || !/^\d{1,6}$/.test(m[2])) return undefined;
    const n = Number(m[2]);
    if (n === 0 || (found !== undefined && found !== n)) return undefined;
    found = n;
  }
  return found;
}
