/**
 * Authenticated denial of existence: NSEC (RFC 4035 §5.4, RFC 6840 §4) and NSEC3
 * (RFC 5155 §8, RFC 9276). Pure: the NSEC/NSEC3 RRs given here have already been
 * validated (signed by the zone's keys); these functions only say what they prove.
 */
import { createHash } from 'node:crypto';
import { commonAncestor, compareNames, isSubdomain, lastLabels, nameLabelCount, nameWire, parentName, splitName, wildcardOf } from './canonical.js';
import { base32hexDecode, base32hexEncode, NSEC3_FLAG_OPT_OUT, T, typeName, type Nsec3Data, type NsecData } from './wire-dnssec.js';

export interface NsecRR {
  owner: string;
  data: NsecData;
}

export interface Nsec3RR {
  owner: string;
  data: Nsec3Data;
}

export interface DenialInput {
  /** Apex of the zone that signed the records. */
  zone: string;
  nsec: readonly NsecRR[];
  nsec3: readonly Nsec3RR[];
  /** NSEC3 iterations above this make the proof insecure (RFC 9276 §3.2). */
  nsec3IterationLimit: number;
  /** Most NSEC3 name hashes this proof may compute (default NSEC3_HASH_BUDGET); past it: bogus. */
  nsec3HashBudget?: number;
  /** Counts the NSEC3 name hashes computed (each iterations + 1 SHA-1), for tests and benchmarks. */
  stats?: { nsec3Hashes: number };
}

export type DenialVerdict =
  | {
      status: 'secure';
      /** Type bit map of the NSEC/NSEC3 matching the name, when one did (NODATA). */
      types?: Set<number>;
      /** One line: what proved it. */
      via: string;
    }
  | { status: 'insecure'; reason: string }
  | { status: 'bogus'; reason: string };

export const DEFAULT_NSEC3_ITERATION_LIMIT = 150;

/**
 * NSEC3 name hashes one proof may compute (CVE-2023-50868: hostile NSEC3 records can make a
 * validator hash the name once per parameter set and label). With one parameter set and
 * each name hashed once, the longest name (127 labels) needs 129: itself and each ancestor
 * down to the apex, and the wildcard. An honest zone never needs more, so a proof that would
 * is bogus, like any other proof that does not hold (deterministic for a given response).
 */
export const NSEC3_HASH_BUDGET = 150;

const show = (n: string) => n || '.';

// ---------------------------------------------------------------- NSEC

/** A delegation (NS without SOA) or DNAME at `owner` hides the names below it (RFC 6840 §4.1). */
function hidesBelow(types: Set<number>): boolean {
  return (types.has(T.NS) && !types.has(T.SOA)) || types.has(T.DNAME);
}

/** owner < name < next in canonical order (the last NSEC wraps around to the apex). */
export function nsecCovers(rr: NsecRR, name: string, zone: string): boolean {
  if (!isSubdomain(name, zone)) return false;
  if (name !== rr.owner && isSubdomain(name, rr.owner) && hidesBelow(rr.data.types)) return false;
  const afterOwner = compareNames(rr.owner, name) < 0;
  const wraps = compareNames(rr.data.next, rr.owner) <= 0;
  if (wraps) return afterOwner;
  return afterOwner && compareNames(name, rr.data.next) < 0;
}

function nsecMatch(input: DenialInput, name: string): NsecRR | undefined {
  return input.nsec.find((r) => r.owner === name);
}

function nsecCover(input: DenialInput, name: string): NsecRR | undefined {
  return input.nsec.find((r) => nsecCovers(r, name, input.zone));
}

function nsecDescribe(r: NsecRR): string {
  return `NSEC ${show(r.owner)} -> ${show(r.data.next)}`;
}

/** Closest encloser implied by an NSEC covering `qname` (RFC 4035 §5.4): the longer common ancestor with its owner or next name. */
function nsecClosestEncloser(qname: string, cover: NsecRR, zone: string): string {
  const a = commonAncestor(qname, cover.owner);
  const b = commonAncestor(qname, cover.data.next);
  const ce = nameLabelCount(a) >= nameLabelCount(b) ? a : b;
  return isSubdomain(ce, zone) ? ce : zone;
}

function typeAbsent(types: Set<number>, qtype: number, qname: string): string | undefined {
  if (types.has(qtype)) return `the type bit map has ${typeName(qtype)}`;
  if (types.has(T.CNAME)) return 'the type bit map has CNAME';
  if (qtype === T.DS) {
    if (types.has(T.SOA) && qname !== '') return 'it is the child zone\'s apex record, not the parent\'s (DS is proved absent by the parent)';
  } else if (types.has(T.NS) && !types.has(T.SOA)) {
    return 'it is the parent side of a delegation';
  }
  return undefined;
}

function nsecNxdomain(qname: string, input: DenialInput): DenialVerdict {
  const match = nsecMatch(input, qname);
  if (match) return { status: 'bogus', reason: `${nsecDescribe(match)} says ${show(qname)} exists` };
  const cover = nsecCover(input, qname);
  if (!cover) return { status: 'bogus', reason: `no NSEC proves that ${show(qname)} does not exist` };
  if (isSubdomain(cover.data.next, qname) && cover.data.next !== qname) {
    return { status: 'bogus', reason: `${nsecDescribe(cover)}: ${show(qname)} is an empty non-terminal, not NXDOMAIN` };
  }
  const ce = nsecClosestEncloser(qname, cover, input.zone);
  const wc = wildcardOf(ce);
  if (nsecMatch(input, wc)) return { status: 'bogus', reason: `the wildcard ${wc} exists, so ${show(qname)} cannot be NXDOMAIN` };
  const wcover = nsecCover(input, wc);
  if (!wcover) return { status: 'bogus', reason: `no NSEC proves that the wildcard ${wc} does not exist` };
  return { status: 'secure', via: `${nsecDescribe(cover)} and ${nsecDescribe(wcover)}` };
}

function nsecNodata(qname: string, qtype: number, input: DenialInput): DenialVerdict {
  const match = nsecMatch(input, qname);
  if (match) {
    const why = typeAbsent(match.data.types, qtype, qname);
    if (why) return { status: 'bogus', reason: `${nsecDescribe(match)} does not prove NODATA for ${typeName(qtype)}: ${why}` };
    return { status: 'secure', types: match.data.types, via: nsecDescribe(match) };
  }
  const cover = nsecCover(input, qname);
  if (!cover) return { status: 'bogus', reason: `no NSEC at or covering ${show(qname)} proves NODATA for ${typeName(qtype)}` };
  if (isSubdomain(cover.data.next, qname) && cover.data.next !== qname) {
    // An empty non-terminal (RFC 4035 §3.1.3.2).
    return { status: 'secure', types: new Set(), via: `${nsecDescribe(cover)} (empty non-terminal)` };
  }
  // Wildcard NODATA (RFC 4035 §3.1.3.4): qname does not exist, *.ce exists without qtype.
  const ce = nsecClosestEncloser(qname, cover, input.zone);
  const wc = wildcardOf(ce);
  const wmatch = nsecMatch(input, wc);
  if (!wmatch) return { status: 'bogus', reason: `${nsecDescribe(cover)} says ${show(qname)} does not exist, and no NSEC at ${wc} proves wildcard NODATA` };
  const why = typeAbsent(wmatch.data.types, qtype, wc);
  if (why) return { status: 'bogus', reason: `${nsecDescribe(wmatch)} does not prove wildcard NODATA: ${why}` };
  return { status: 'secure', via: `${nsecDescribe(cover)} and ${nsecDescribe(wmatch)} (wildcard NODATA)` };
}

// ---------------------------------------------------------------- NSEC3

/** NSEC3 hash (RFC 5155 §5): IH(salt, x, 0) = H(x || salt), IH(k) = H(IH(k-1) || salt). */
export function nsec3Hash(name: string, salt: Buffer, iterations: number): Buffer {
  let h = createHash('sha1').update(nameWire(name)).update(salt).digest();
  for (let i = 0; i < iterations; i++) h = createHash('sha1').update(h).update(salt).digest();
  return h;
}

/** The NSEC3 owner label of a name. */
export function nsec3OwnerLabel(name: string, salt: Buffer, iterations: number): string {
  return base32hexEncode(nsec3Hash(name, salt, iterations));
}

interface Usable3 {
  rr: Nsec3RR;
  ownerHash: Buffer;
}

/** The usable NSEC3 RRs of one parameter set; each name hashed once, within the budget. */
class Nsec3Set {
  private readonly hashes = new Map<string, Buffer>();
  private computed = 0;
  /** A hash was refused (budget spent): no verdict of this set holds. */
  exhausted = false;
  constructor(
    readonly zone: string,
    readonly records: Usable3[],
    private readonly params: { salt: Buffer; iterations: number },
    readonly budget: number,
    private readonly stats: { nsec3Hashes: number } | undefined,
  ) {}

  private hash(name: string): Buffer | undefined {
    let h = this.hashes.get(name);
    if (h) return h;
    if (this.computed >= this.budget) {
      this.exhausted = true;
      return undefined;
    }
    this.computed++;
    if (this.stats) this.stats.nsec3Hashes++;
    h = nsec3Hash(name, this.params.salt, this.params.iterations);
    this.hashes.set(name, h);
    return h;
  }

  match(name: string): Usable3 | undefined {
    const h = this.hash(name);
    return h && this.records.find((r) => r.ownerHash.equals(h));
  }

  cover(name: string): Usable3 | undefined {
    const h = this.hash(name);
    if (!h) return undefined;
    return this.records.find((r) => {
      const o = r.ownerHash;
      const n = r.rr.data.nextHashed;
      if (Buffer.compare(o, n) < 0) return Buffer.compare(o, h) < 0 && Buffer.compare(h, n) < 0;
      // The last NSEC3 of the chain wraps around.
      return Buffer.compare(o, h) < 0 || Buffer.compare(h, n) < 0;
    });
  }
}

function n3d(r: Usable3): string {
  return `NSEC3 ${r.rr.owner}`;
}

type Prep = { set: Nsec3Set } | { verdict: DenialVerdict };

function prepareNsec3(input: DenialInput): Prep {
  const inZone = input.nsec3.filter((r) => parentName(r.owner) === input.zone);
  // RFC 5155 §8.1-8.2: ignore unknown hash algorithms and unknown flags.
  const usable: Usable3[] = [];
  for (const rr of inZone) {
    if (rr.data.hashAlgorithm !== 1 || (rr.data.flags & ~NSEC3_FLAG_OPT_OUT) !== 0) continue;
    const ownerHash = base32hexDecode(splitName(rr.owner)[0] ?? '');
    if (!ownerHash || ownerHash.length !== rr.data.nextHashed.length) continue;
    usable.push({ rr, ownerHash });
  }
  // RFC 5155 §8.1: a response with only such NSEC3 RRs is bogus (a new hash algorithm would
  // come with a new DNSKEY algorithm, which the DS would already make insecure).
  const first = usable[0];
  if (!first) {
    return { verdict: { status: 'bogus', reason: `NSEC3 records of ${show(input.zone)} use only unknown hash algorithms or flags: no proof (RFC 5155 §8.1-8.2)` } };
  }
  // A zone's NSEC3 chain has one parameter set (RFC 5155 §4), and §8.2
  // lets a validator reject a response that mixes several: only the first usable record's
  // set is used, the others ignored, so each name is hashed once whatever the records say.
  const { hashAlgorithm, salt, iterations } = first.rr.data;
  const same = usable.filter((r) => r.rr.data.hashAlgorithm === hashAlgorithm && r.rr.data.iterations === iterations && r.rr.data.salt.equals(salt));
  if (iterations > input.nsec3IterationLimit) {
    return {
      verdict: {
        status: 'insecure',
        reason: `NSEC3 of ${show(input.zone)} uses ${iterations} iterations, above the limit of ${input.nsec3IterationLimit}: treated as insecure (RFC 9276 §3.2)`,
      },
    };
  }
  return { set: new Nsec3Set(input.zone, same, { salt, iterations }, input.nsec3HashBudget ?? NSEC3_HASH_BUDGET, input.stats) };
}

/** Runs an NSEC3 proof; bogus if it ran out of hash budget on the way. */
function withNsec3(input: DenialInput, qname: string, prove: (set: Nsec3Set) => DenialVerdict): DenialVerdict {
  const p = prepareNsec3(input);
  if ('verdict' in p) return p.verdict;
  const v = prove(p.set);
  if (p.set.exhausted) {
    return {
      status: 'bogus',
      reason: `the NSEC3 proof for ${show(qname)} needs more than ${p.set.budget} hash computations, the limit per proof (CVE-2023-50868)`,
    };
  }
  return v;
}

interface ClosestEncloser {
  ce: string;
  ceRecord: Usable3;
  nc: string;
  ncCover: Usable3;
}

/** Closest encloser proof (RFC 5155 §8.3). */
function closestEncloser(set: Nsec3Set, qname: string): ClosestEncloser | string {
  const zoneLabels = nameLabelCount(set.zone);
  const qLabels = nameLabelCount(qname);
  for (let n = qLabels - 1; n >= zoneLabels; n--) {
    const ce = lastLabels(qname, n);
    const m = set.match(ce);
    if (!m) continue;
    if (hidesBelow(m.rr.data.types)) return `${n3d(m)} at ${show(ce)} is a delegation or DNAME: it cannot prove names below it`;
    const nc = lastLabels(qname, n + 1);
    const cover = set.cover(nc);
    if (!cover) return `no NSEC3 covers the next closer name ${show(nc)} (closest encloser ${show(ce)})`;
    return { ce, ceRecord: m, nc, ncCover: cover };
  }
  return `no NSEC3 proves a closest encloser of ${show(qname)}`;
}

const optOut = (r: Usable3) => (r.rr.data.flags & NSEC3_FLAG_OPT_OUT) !== 0;

function nsec3Nxdomain(set: Nsec3Set, qname: string): DenialVerdict {
  const m = set.match(qname);
  if (m) return { status: 'bogus', reason: `${n3d(m)} says ${show(qname)} exists` };
  const ce = closestEncloser(set, qname);
  if (typeof ce === 'string') return { status: 'bogus', reason: ce };
  const wc = wildcardOf(ce.ce);
  const wm = set.match(wc);
  if (wm) return { status: 'bogus', reason: `the wildcard ${wc} exists (${n3d(wm)}), so ${show(qname)} cannot be NXDOMAIN` };
  const wcover = set.cover(wc);
  if (!wcover) return { status: 'bogus', reason: `no NSEC3 proves that the wildcard ${wc} does not exist` };
  if (optOut(ce.ncCover)) {
    // An opted-out unsigned delegation may exist at the next closer name.
    return { status: 'insecure', reason: `NXDOMAIN proved with an opt-out NSEC3 (${n3d(ce.ncCover)}) covering ${show(ce.nc)} (RFC 5155 §9.2)` };
  }
  return { status: 'secure', via: `closest encloser ${show(ce.ce)}, ${n3d(ce.ncCover)} covers ${show(ce.nc)}, ${n3d(wcover)} covers ${wc}` };
}

function nsec3Nodata(set: Nsec3Set, qname: string, qtype: number): DenialVerdict {
  const m = set.match(qname);
  if (m) {
    const why = typeAbsent(m.rr.data.types, qtype, qname);
    if (why) return { status: 'bogus', reason: `${n3d(m)} does not prove NODATA for ${typeName(qtype)} at ${show(qname)}: ${why}` };
    return { status: 'secure', types: m.rr.data.types, via: `${n3d(m)} matches ${show(qname)}` };
  }
  const ce = closestEncloser(set, qname);
  if (typeof ce === 'string') return { status: 'bogus', reason: `no NSEC3 matches ${show(qname)}, and ${ce}` };
  if (qtype === T.DS) {
    // RFC 5155 §8.6: no DS and no matching NSEC3 is only possible under opt-out.
    if (optOut(ce.ncCover)) {
      return { status: 'insecure', reason: `opt-out NSEC3 (${n3d(ce.ncCover)}) covers ${show(ce.nc)}: unsigned delegation (RFC 5155 §6)` };
    }
    return { status: 'bogus', reason: `no NSEC3 matches ${show(qname)} and the one covering ${show(ce.nc)} has no opt-out flag` };
  }
  // Wildcard NODATA (RFC 5155 §8.7).
  const wc = wildcardOf(ce.ce);
  const wm = set.match(wc);
  if (!wm) return { status: 'bogus', reason: `no NSEC3 matches ${show(qname)} or the wildcard ${wc}` };
  const why = typeAbsent(wm.rr.data.types, qtype, wc);
  if (why) return { status: 'bogus', reason: `${n3d(wm)} at ${wc} does not prove wildcard NODATA: ${why}` };
  return { status: 'secure', via: `closest encloser ${show(ce.ce)}, wildcard NODATA by ${n3d(wm)}` };
}

// ---------------------------------------------------------------- entry points

function nsecKind(input: DenialInput): 'nsec' | 'nsec3' | undefined {
  const nsec = input.nsec.some((r) => isSubdomain(r.owner, input.zone));
  const nsec3 = input.nsec3.some((r) => parentName(r.owner) === input.zone);
  return nsec3 ? 'nsec3' : nsec ? 'nsec' : undefined;
}

/** Proof that `qname` does not exist (NXDOMAIN). */
export function proveNxdomain(qname: string, input: DenialInput): DenialVerdict {
  if (!isSubdomain(qname, input.zone)) return { status: 'bogus', reason: `${show(qname)} is not in zone ${show(input.zone)}` };
  const kind = nsecKind(input);
  if (kind === 'nsec') return nsecNxdomain(qname, input);
  if (kind === 'nsec3') return withNsec3(input, qname, (set) => nsec3Nxdomain(set, qname));
  return { status: 'bogus', reason: `NXDOMAIN for ${show(qname)} without NSEC or NSEC3 proof from ${show(input.zone)}` };
}

/** Proof that `qname` has no `qtype` RRset (NODATA); `types` is the matched bit map, if any. */
export function proveNodata(qname: string, qtype: number, input: DenialInput): DenialVerdict {
  if (!isSubdomain(qname, input.zone)) return { status: 'bogus', reason: `${show(qname)} is not in zone ${show(input.zone)}` };
  const kind = nsecKind(input);
  if (kind === 'nsec') return nsecNodata(qname, qtype, input);
  if (kind === 'nsec3') return withNsec3(input, qname, (set) => nsec3Nodata(set, qname, qtype));
  return { status: 'bogus', reason: `NODATA for ${typeName(qtype)} ${show(qname)} without NSEC or NSEC3 proof from ${show(input.zone)}` };
}

/**
 * Proof that a wildcard expansion was legitimate (RFC 4035 §5.3.4, RFC 5155 §8.8): `qname`
 * itself does not exist, nor any name between it and the closest encloser `wildcardParent`.
 */
export function proveWildcardExpansion(qname: string, wildcardParent: string, input: DenialInput): DenialVerdict {
  const kind = nsecKind(input);
  if (kind === 'nsec') {
    const cover = nsecCover(input, qname);
    if (!cover) return { status: 'bogus', reason: `wildcard expansion of *.${show(wildcardParent)} for ${show(qname)} without an NSEC proving that ${show(qname)} does not exist` };
    if (isSubdomain(cover.data.next, qname)) return { status: 'bogus', reason: `${nsecDescribe(cover)}: ${show(qname)} exists, a wildcard cannot apply` };
    const ce = nsecClosestEncloser(qname, cover, input.zone);
    if (ce !== wildcardParent) {
      return { status: 'bogus', reason: `${nsecDescribe(cover)} puts the closest encloser of ${show(qname)} at ${show(ce)}, not ${show(wildcardParent)}` };
    }
    return { status: 'secure', via: nsecDescribe(cover) };
  }
  if (kind === 'nsec3') {
    return withNsec3(input, qname, (set) => {
      const nc = lastLabels(qname, nameLabelCount(wildcardParent) + 1);
      const cover = set.cover(nc);
      if (!cover) return { status: 'bogus', reason: `wildcard expansion for ${show(qname)} without an NSEC3 covering the next closer name ${show(nc)}` };
      // RFC 5155 §9.2: an opt-out span does not prove that no (unsigned) delegation exists at
      // the next closer name, whose answer would then come from that child zone.
      if (optOut(cover)) return { status: 'insecure', reason: `wildcard expansion for ${show(qname)} proved with an opt-out NSEC3 (${n3d(cover)}) covering ${show(nc)} (RFC 5155 §9.2)` };
      return { status: 'secure', via: `${n3d(cover)} covers ${show(nc)}` };
    });
  }
  return { status: 'bogus', reason: `wildcard expansion of *.${show(wildcardParent)} for ${show(qname)} without NSEC or NSEC3 proof that ${show(qname)} does not exist` };
}
