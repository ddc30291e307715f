/**
 * DNSSEC canonical forms (RFC 4034 §6, RFC 6840 §5.1): names, name order, RR order, the
 * data an RRSIG signs, key tags (RFC 4034 App. B) and DS digests (RFC 4034 §5.1.4,
 * RFC 4509, RFC 6605). Pure functions, no I/O.
 *
 * Names are strings in the canonical presentation form of ../wire.ts: lower-case ASCII,
 * `\.` `\\` `\DDD` escapes, no trailing dot, the root is ''.
 */
import { createHash } from 'node:crypto';
import { nameToWire } from '../wire.js';

/** Wire form of a name (lower-case, uncompressed). Throws on a malformed name. */
export function nameWire(name: string): Buffer {
  const r = nameToWire(name);
  if ('error' in r) throw new Error(`bad domain name ${JSON.stringify(name.slice(0, 80))}: ${r.error}`);
  return r.wire;
}

/** The canonical text of a presentation name (lower-case, no trailing dot), or undefined. */
export function canonicalName(name: string): string | undefined {
  const r = nameToWire(name);
  return 'error' in r ? undefined : r.name;
}

/** Labels of a name as text (escapes kept), left to right; [] for the root. */
export function splitName(name: string): string[] {
  if (name === '') return [];
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '\\') {
      const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      const n = d ? 3 : 1;
      cur += name.slice(i, i + 1 + n);
      i += n;
    } else if (c === '.') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Wire labels (bytes, lower-case), left to right. */
export function labelBytes(name: string): Buffer[] {
  const wire = nameWire(name);
  const out: Buffer[] = [];
  for (let p = 0; wire[p]! !== 0; p += 1 + wire[p]!) out.push(wire.subarray(p + 1, p + 1 + wire[p]!));
  return out;
}

/** Number of labels, root excluded. */
export function nameLabelCount(name: string): number {
  return splitName(name).length;
}

/** The RRSIG Labels value of an owner name (RFC 4034 §3.1.3): no root, no leading `*`. */
export function rrsigLabelCount(name: string): number {
  const l = splitName(name);
  return l[0] === '*' ? l.length - 1 : l.length;
}

/** The rightmost `n` labels of a name. */
export function lastLabels(name: string, n: number): string {
  const l = splitName(name);
  return n <= 0 ? '' : l.slice(Math.max(0, l.length - n)).join('.');
}

export function parentName(name: string): string {
  const l = splitName(name);
  return l.slice(1).join('.');
}

/** `*.name` */
export function wildcardOf(name: string): string {
  return name === '' ? '*' : `*.${name}`;
}

/** True when `name` is `ancestor` or below it. */
export function isSubdomain(name: string, ancestor: string): boolean {
  if (ancestor === '') return true;
  if (name === ancestor) return true;
  if (!name.endsWith(`.${ancestor}`)) return false;
  // The dot before `ancestor` must not be escaped (`a\.b` is one label).
  const head = name.slice(0, name.length - ancestor.length - 1);
  let backslashes = 0;
  for (let i = head.length - 1; i >= 0 && head[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0 && head.length > 0;
}

/** Longest common ancestor of two names. */
export function commonAncestor(a: string, b: string): string {
  const la = splitName(a);
  const lb = splitName(b);
  let n = 0;
  while (n < la.length && n < lb.length && la[la.length - 1 - n] === lb[lb.length - 1 - n]) n++;
  return la.slice(la.length - n).join('.');
}

/**
 * Canonical DNS name order (RFC 4034 §6.1): compare labels right to left, each as a
 * lower-cased octet string; a name sorts before its descendants.
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const la = labelBytes(a);
  const lb = labelBytes(b);
  for (let i = 1; i <= Math.min(la.length, lb.length); i++) {
    const c = Buffer.compare(la[la.length - i]!, lb[lb.length - i]!);
    if (c !== 0) return c;
  }
  return la.length - lb.length;
}

/** RDATA sorted in canonical order (RFC 4034 §6.3), duplicates removed. */
export function canonicalRdataOrder(rdatas: readonly Buffer[]): Buffer[] {
  const sorted = [...rdatas].sort(Buffer.compare);
  return sorted.filter((r, i) => i === 0 || !r.equals(sorted[i - 1]!));
}

export interface SignedRRset {
  /** Owner as it appears (for a wildcard expansion, the expanded name). */
  owner: string;
  type: number;
  class: number;
  /** Canonical RDATA (names lower-cased for the RFC 4034 §6.2 types). */
  rdatas: readonly Buffer[];
}

/**
 * The data an RRSIG signs (RFC 4034 §3.1.8.1, §6.2): the RRSIG RDATA without its
 * signature, then each RR in canonical form and order, with the original TTL and, for a
 * wildcard expansion (Labels smaller than the owner's label count), the owner `*.<closest>`.
 */
export function signedData(rrsigRdataNoSignature: Buffer, rrsigLabels: number, originalTtl: number, rrset: SignedRRset): Buffer {
  const ownerLabels = rrsigLabelCount(rrset.owner);
  const owner = rrsigLabels < ownerLabels ? wildcardOf(lastLabels(rrset.owner, rrsigLabels)) : rrset.owner;
  const ownerWire = nameWire(owner);
  const parts: Buffer[] = [rrsigRdataNoSignature];
  for (const rd of canonicalRdataOrder(rrset.rdatas)) {
    const head = Buffer.alloc(10);
    head.writeUInt16BE(rrset.type, 0);
    head.writeUInt16BE(rrset.class, 2);
    head.writeUInt32BE(originalTtl >>> 0, 4);
    head.writeUInt16BE(rd.length, 8);
    parts.push(ownerWire, head, rd);
  }
  return Buffer.concat(parts);
}

/** Key tag of a DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1 is not supported anyway). */
export function keyTag(dnskeyRdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < dnskeyRdata.length; i++) ac += i & 1 ? dnskeyRdata[i]! : dnskeyRdata[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** DS digest types we compute (RFC 4034 §5.1.4 SHA-1, RFC 4509 SHA-256, RFC 6605 SHA-384). */
export const DS_DIGESTS: Readonly<Record<number, string>> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** digest = H(owner name | DNSKEY RDATA), or undefined for a digest type we do not support. */
export function dsDigest(owner: string, dnskeyRdata: Buffer, digestType: number): Buffer | undefined {
  const alg = DS_DIGESTS[digestType];
  if (!alg) return undefined;
  return createHash(alg).update(nameWire(owner)).update(dnskeyRdata).digest();
}
