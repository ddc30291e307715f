/**
 * The DER primitives the certificate readers share: one TLV, a tagged TLV, an OID.
 * Strict and bounds-checked: lengths checked against their container, indefinite lengths
 * and multi-byte tags refused. Errors are DerError, which the readers turn into results.
 */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  VERSION: 0xa0, // [0] EXPLICIT
  ISSUER_UID: 0x81, // [1] IMPLICIT
  SUBJECT_UID: 0x82, // [2] IMPLICIT
  EXTENSIONS: 0xa3, // [3] EXPLICIT
} as const;

export class DerError extends Error {}

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Content [body, end). */
  body: number;
  end: number;
}

/** One TLV at `off`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, off: number, limit: number, what: string): Tlv {
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

export function expect(buf: Uint8Array, off: number, limit: number, tag: number, what: string): Tlv {
  const t = readTlv(buf, off, limit, what);
  if (t.tag !== tag) throw new DerError(`${what}: tag 0x${t.tag.toString(16)} where 0x${tag.toString(16)} was expected`);
  return t;
}

export function oidText(buf: Uint8Array, t: Tlv): string {
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
