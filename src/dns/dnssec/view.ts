/**
 * One upstream response as the validator reads it (RFC 4035 §5): its RRsets with their
 * RRSIGs by section (View), and the NSEC/NSEC3 proofs it holds, verified against a zone's
 * keys (denialOf). Pure: no I/O, no cache.
 */
import { describeExtendedErrors, extendedErrors, type WireRData } from '../wire.js';
import { isSubdomain, type SignedRRset } from './canonical.js';
import type { DenialInput, Nsec3RR, NsecRR } from './nsec.js';
import { verifyRRset, type ZoneKey } from './verify.js';
import { parseNsec, parseNsec3, parseRrsig, T, typeName, type RawMessage, type RawRecord, type RrsigData } from './wire-dnssec.js';

export const STRIPPED = 'the resolver strips DNSSEC records';

/** NSEC/NSEC3 RRsets of one response that are checked at most. */
const MAX_DENIAL_RRSETS = 16;

export interface RRset extends SignedRRset {
  ttl: number;
  /** Decoded RDATA (../wire.ts), answer section only. */
  decoded: WireRData[];
}

/** A name for humans: the root is '.'. */
export const show = (n: string) => n || '.';

export const minDefined = (...xs: (number | undefined)[]): number | undefined => {
  const ds = xs.filter((x): x is number => x !== undefined);
  return ds.length ? Math.min(...ds) : undefined;
};

/** The records of one response, grouped into RRsets with their RRSIGs. */
export class View {
  readonly sets = new Map<string, RRset>();
  readonly sigs = new Map<string, RrsigData[]>();
  readonly anyRrsig: boolean;
  constructor(readonly raw: RawMessage) {
    const add = (section: string, recs: RawRecord[], decoded?: WireRData[]) => {
      recs.forEach((r, i) => {
        if (r.class !== 1) return;
        if (r.type === T.RRSIG) {
          let s: RrsigData;
          try {
            s = parseRrsig(r.rdata);
          } catch {
            return;
          }
          const k = `${section}|${r.name}|${s.typeCovered}`;
          const list = this.sigs.get(k) ?? [];
          list.push(s);
          this.sigs.set(k, list);
          return;
        }
        const k = `${section}|${r.name}|${r.type}`;
        let set = this.sets.get(k);
        if (!set) {
          set = { owner: r.name, type: r.type, class: 1, rdatas: [], ttl: r.ttl, decoded: [] };
          this.sets.set(k, set);
        }
        (set.rdatas as Buffer[]).push(r.rdata);
        set.ttl = Math.min(set.ttl, r.ttl > 0x7fffffff ? 0 : r.ttl);
        if (decoded) set.decoded.push(decoded[i]!);
      });
    };
    add('an', raw.answers, raw.msg.answers.map((r) => r.data));
    add('au', raw.authorities);
    this.anyRrsig = [...raw.answers, ...raw.authorities, ...raw.additionals].some((r) => r.type === T.RRSIG);
  }
  set(section: 'an' | 'au', name: string, type: number): RRset | undefined {
    return this.sets.get(`${section}|${name}|${type}`);
  }
  sigsOf(section: 'an' | 'au', name: string, type: number): RrsigData[] {
    return this.sigs.get(`${section}|${name}|${type}`) ?? [];
  }
  setsIn(section: 'an' | 'au'): RRset[] {
    return [...this.sets.entries()].filter(([k]) => k.startsWith(`${section}|`)).map(([, v]) => v);
  }
  authoritySigners(): string[] {
    const out = new Set<string>();
    for (const [k, list] of this.sigs) if (k.startsWith('au|')) for (const s of list) out.add(s.signer);
    return [...out];
  }
  edeText(): string {
    return describeExtendedErrors(extendedErrors(this.raw.msg));
  }
}

/** What denialOf needs besides the view: the clock, the NSEC3 limit, the hash counter. */
export interface DenialContext {
  nowSec: number;
  nsec3IterationLimit: number;
  stats: { nsec3Hashes: number };
}

/** The verified NSEC/NSEC3 records of a view, ready for nsec.ts; `notes`: what was ignored and why. */
export interface Denial {
  input: DenialInput;
  ttl: number;
  expires: number | undefined;
  notes: string;
}

/**
 * NSEC/NSEC3 RRs of the authority section signed by `zone` with valid signatures; `expires`:
 * the earliest expiration of the RRSIGs that validated them.
 */
export function denialOf(view: View, zone: string, keys: ZoneKey[], ctx: DenialContext): Denial {
  const nsec: NsecRR[] = [];
  const nsec3: Nsec3RR[] = [];
  const notes: string[] = [];
  let ttl = 0x7fffffff;
  let expires: number | undefined;
  let checked = 0;
  for (const set of view.setsIn('au')) {
    if (set.type !== T.NSEC && set.type !== T.NSEC3) continue;
    if (!isSubdomain(set.owner, zone)) continue;
    // A proof needs at most a few; a flood of them only costs signature checks.
    if (++checked > MAX_DENIAL_RRSETS) {
      notes.push(`more than ${MAX_DENIAL_RRSETS} NSEC/NSEC3 RRsets, the rest ignored`);
      break;
    }
    const sigs = view.sigsOf('au', set.owner, set.type).filter((s) => s.signer === zone);
    if (sigs.length === 0) {
      notes.push(`${typeName(set.type)} ${show(set.owner)} has no RRSIG by ${show(zone)}`);
      continue;
    }
    const v = verifyRRset(set, sigs, keys, { nowSec: ctx.nowSec, ttl: set.ttl });
    if (!v.ok) {
      notes.push(v.reason);
      continue;
    }
    // RFC 4592 §4.7, RFC 4035 §5.3.4: NSEC/NSEC3 RRs are never synthesized from a wildcard
    // for a negative answer; one that verifies only as an expansion (RRSIG Labels below the
    // owner's) is a replayed *.<parent> record, e.g. renamed to deny a TLSA RRset.
    if (v.wildcardParent !== undefined) {
      notes.push(`${typeName(set.type)} ${show(set.owner)} verifies only as an expansion of *.${show(v.wildcardParent)}: no denial proof (RFC 4592 §4.7)`);
      continue;
    }
    ttl = Math.min(ttl, v.ttl);
    expires = minDefined(expires, v.expires);
    for (const rd of set.rdatas) {
      try {
        if (set.type === T.NSEC) nsec.push({ owner: set.owner, data: parseNsec(rd) });
        else nsec3.push({ owner: set.owner, data: parseNsec3(rd) });
      } catch (err) {
        notes.push(`malformed ${typeName(set.type)} at ${show(set.owner)}: ${(err as Error).message}`);
      }
    }
  }
  return {
    input: { zone, nsec, nsec3, nsec3IterationLimit: ctx.nsec3IterationLimit, stats: ctx.stats },
    ttl,
    expires,
    notes: notes.length ? ` [ignored: ${notes.slice(0, 2).join('; ')}]` : '',
  };
}

/** Why an unsigned answer in a signed zone is bogus (a possibly forged answer). */
export function unsignedReason(view: View, what: string, zone: string): string {
  // The chain of trust to `zone` was validated from signed DNSKEY and DS answers of the same
  // upstream, so it does pass RRSIGs: this answer alone is unsigned.
  return `${what} has no RRSIG although ${show(zone)} is a signed zone: an unsigned, possibly forged answer${
    view.anyRrsig ? '' : ' (no RRSIG at all in it, while the keys of the zone came signed)'
  }`;
}
