/**
 * Rollover readiness ("current + next", RFC 7671 §8.1, RFC 7672 §3.1): does the published
 * TLSA RRset already match both the key or certificate in use and the next one, and which
 * RRset should be published before the switch. Pure.
 */
import type { TlsaData } from '../../dns/types.js';
import { Matching, Selector, Usage, classifyTlsa, tlsaFromText, tlsaToText, type ClassifiedTlsa } from '../../core/rfc7672/tlsa.js';
import { associationMatches, authenticate } from '../../core/rfc7672/authenticate.js';
import { issuerPath, sha256Hex, type CertEntry, type Material } from './material.js';
import { associationData, shortText } from './records.js';
import { parseRecordText } from './records.js';

export type RolloverStatus = 'ready' | 'current-only' | 'next-only' | 'neither';

export type Match = 'yes' | 'no' | 'unknown';

export interface SideReport {
  /** "certificate CN=…" or "public key (EC prime256v1)". */
  what: string;
  spkiSha256: string;
  /** Some usable published record would authenticate it. */
  covered: boolean;
  /** Why not (or how), one line. */
  detail: string;
}

export interface RolloverRecord {
  record: string;
  short: string;
  usable: boolean;
  detail?: string;
  current: Match;
  next: Match;
}

export interface RolloverReport {
  status: RolloverStatus;
  current: SideReport;
  next: SideReport;
  sameKey: boolean;
  published: RolloverRecord[];
  /** The RRset to publish before the switch: usable published records + current and next. */
  publish: RolloverRecord[];
  /** Records of `publish` added by this analysis. */
  added: string[];
  /** Published records left out of `publish` (unusable), with why. */
  dropped: { record: string; why: string }[];
  /** Records of `publish` that only match the current key: remove them after the switch. */
  retireAfterSwitch: string[];
  advice: string;
  warnings: string[];
}

/** What a record is matched against: a leaf (certificate or bare key) and its CAs. */
interface Side {
  spki: Buffer;
  leaf?: CertEntry;
  /** Issuer path beyond the leaf (depth 1…). */
  cas: CertEntry[];
  /** DER chain for authenticate(), leaf first (certificates only). */
  chain?: Buffer[];
  what: string;
}

function sideOf(m: Material, extraCas: CertEntry[], label: string): { side: Side; warnings: string[] } {
  const warnings: string[] = [];
  if (m.kind === 'key') {
    return { side: { spki: m.spki, cas: [], what: `${m.fromPrivate ? 'public key of a private key' : 'public key'} (${m.keyType})` }, warnings };
  }
  const path = issuerPath(m.certs, extraCas);
  const leaf = path[0]!;
  const borrowed = path.slice(1).filter((c) => !m.certs.includes(c));
  if (borrowed.length) {
    warnings.push(`the ${label} certificate's issuer ${borrowed[0]!.subject} is taken from the current chain (assuming the server will send it after the switch)`);
  }
  return { side: { spki: leaf.spki, leaf, cas: path.slice(1), chain: path.map((c) => c.der), what: `certificate ${leaf.subject}` }, warnings };
}

function matchOne(r: ClassifiedTlsa, s: Side): Match {
  if (r.usage === Usage.DANE_EE || r.usage === Usage.PKIX_EE) {
    if (r.selector === Selector.CERT && !s.leaf) return 'unknown';
    return associationMatches(r, { der: s.leaf?.der ?? Buffer.alloc(0), spki: s.spki }) ? 'yes' : 'no';
  }
  if (r.usage === Usage.DANE_TA || r.usage === Usage.PKIX_TA) {
    if (!s.leaf) return 'unknown';
    return [s.leaf, ...s.cas].some((c) => associationMatches(r, c)) ? 'yes' : 'no';
  }
  return 'no';
}

/** Would the usable records authenticate this side (authenticate() when there is a certificate)? */
function coverage(usable: ClassifiedTlsa[], s: Side, host: string, now: Date): { covered: boolean; detail: string } {
  if (s.leaf && s.chain) {
    // A next certificate may not be valid yet: judge it at the time it can be used.
    const notBefore = new Date(s.leaf.notBefore);
    const at = notBefore > now ? new Date(notBefore.getTime() + 1000) : now;
    const a = authenticate({ records: usable, served: s.chain, referenceNames: [host], now: at });
    if (a.ok) return { covered: true, detail: `matched by ${shortText(tlsaFromText(a.record))} (${a.usage}, depth ${a.depth})` };
    return { covered: false, detail: a.reason };
  }
  const hit = usable.find((r) => (r.usage === Usage.DANE_EE) && matchOne(r, s) === 'yes');
  if (hit) return { covered: true, detail: `matched by ${shortText(hit)} (DANE-EE)` };
  const unknown = usable.some((r) => matchOne(r, s) === 'unknown');
  return {
    covered: false,
    detail: unknown
      ? 'no DANE-EE public-key record matches; records with selector 0 or usage 2 cannot be checked against a bare key (give the certificate)'
      : 'no usable record matches this key',
  };
}


export interface RolloverInput {
  published: TlsaData[];
  current: Material;
  next: Material;
  /** TLSA base domain (reference name for DANE-TA). */
  host: string;
  now: Date;
  /** TTL of the published RRset, when known (for the advice). */
  ttl?: number;
}

export function analyzeRollover(input: RolloverInput): RolloverReport {
  const cur = sideOf(input.current, [], 'current');
  const curCas = input.current.kind === 'certs' ? input.current.certs : [];
  const nxt = sideOf(input.next, curCas, 'next');
  const warnings = [...cur.warnings, ...nxt.warnings];
  const classified = classifyTlsa(input.published);
  const usable = classified.filter((r) => r.usability.usable);

  const row = (r: ClassifiedTlsa): RolloverRecord => ({
    record: tlsaToText(r),
    short: shortText(r),
    usable: r.usability.usable,
    ...(r.usability.usable ? {} : { detail: r.usability.detail }),
    current: matchOne(r, cur.side),
    next: matchOne(r, nxt.side),
  });
  const published = classified.map(row);

  const c = coverage(usable, cur.side, input.host, input.now);
  const n = coverage(usable, nxt.side, input.host, input.now);
  const sameKey = cur.side.spki.equals(nxt.side.spki);
  if (sameKey) warnings.push('the next key is the same as the current one: public-key (selector 1) records need no change');
  const status: RolloverStatus = c.covered && n.covered ? 'ready' : c.covered ? 'current-only' : n.covered ? 'next-only' : 'neither';

  // The RRset to publish: the usable records, plus DANE-EE SPKI records for current and next.
  // Digest agility (RFC 7671 §9): if SHA-512 3 1 x records are kept, a SHA-256 one would be
  // ignored by clients, so the added records use the strongest digest already there.
  const seen = new Set<string>();
  const keep: ClassifiedTlsa[] = [];
  const dropped: { record: string; why: string }[] = [];
  for (const r of classified) {
    const t = tlsaToText(r);
    if (!r.usability.usable) {
      dropped.push({ record: t, why: r.usability.detail });
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    keep.push(r);
  }
  const mtype = keep.some((r) => r.usage === Usage.DANE_EE && r.selector === Selector.SPKI && r.matchingType === Matching.SHA512)
    ? Matching.SHA512
    : Matching.SHA256;
  const params = { usage: Usage.DANE_EE, selector: Selector.SPKI, matchingType: mtype };
  const added: string[] = [];
  const proposed: TlsaData[] = [...keep];
  // Only for a side that the published records do not cover already (a DANE-TA record may).
  const needed = sameKey ? (c.covered && n.covered ? [] : [cur.side.spki]) : [...(c.covered ? [] : [cur.side.spki]), ...(n.covered ? [] : [nxt.side.spki])];
  for (const spki of needed) {
    const rec: TlsaData = { ...params, data: associationData(params, { spki }) };
    const t = tlsaToText(rec);
    if (seen.has(t)) continue;
    seen.add(t);
    added.push(t);
    proposed.push(rec);
  }
  const publishClassified = classifyTlsa(proposed);
  for (const r of publishClassified) {
    if (!r.usability.usable) warnings.push(`BUG: proposed record ${shortText(r)} would be unusable: ${r.usability.detail}`);
  }
  const publish = publishClassified.map(row);
  const retireAfterSwitch = publish.filter((r) => r.current === 'yes' && r.next !== 'yes').map((r) => r.record);
  for (const r of publish) {
    if (r.current === 'no' && r.next === 'no') {
      warnings.push(`${r.short} matches neither the current nor the next one; it is kept in case another server behind this name uses it`);
    }
  }
  if (mtype === Matching.SHA512) warnings.push('SHA-512 (3 1 2) records are published, so the added records use SHA-512 too (RFC 7671 §9 digest agility)');

  const wait = input.ttl !== undefined ? `at least 2 × TTL (${2 * input.ttl} s)` : 'at least twice the TTL of the RRset';
  const advice: Record<RolloverStatus, string> = {
    ready: 'ready: the published RRset matches the current and the next key ("current + next"); you can switch now, and remove the old records afterwards',
    'current-only': `not ready: the published RRset matches the current key only; publish the RRset below, wait ${wait} (RFC 7671 §8.1), then switch`,
    'next-only': 'WRONG: the published RRset matches the next key but not the one in use: the server does not authenticate now; publish the RRset below at once',
    neither: 'WRONG: the published RRset matches neither the current nor the next key: the server does not authenticate now; publish the RRset below at once',
  };
  return {
    status,
    current: { what: cur.side.what, spkiSha256: sha256Hex(cur.side.spki), covered: c.covered, detail: c.detail },
    next: { what: nxt.side.what, spkiSha256: sha256Hex(nxt.side.spki), covered: n.covered, detail: n.detail },
    sameKey,
    published,
    publish,
    added,
    dropped,
    retireAfterSwitch,
    advice: advice[status],
    warnings,
  };
}

/** Addresses that serve the same chain, and its certificates. */
export interface ServedKeys {
  addresses: string[];
  certs: CertEntry[];
}

/** Rollover readiness over the addresses of a host: one analysis per served chain. */
export interface MultiRollover {
  /** 'ready' only when every served chain's key and the next key are covered and every address was checked. */
  status: RolloverReport['status'] | 'incomplete';
  keys: { addresses: string[]; report: RolloverReport }[];
  /** The RRset to publish: covers the current key of every address and the next key. */
  publish: { record: string; who: string }[];
  added: string[];
  warnings: string[];
}

/**
 * Rollover readiness of every served chain (addresses serving the same chain together): one
 * analysis per chain against the published RRset, and the one RRset to publish that covers
 * the current key of every address and the next key.
 */
export function rolloverAcross(groups: ServedKeys[], published: TlsaData[], next: Material, host: string, now: Date, ttl?: number): MultiRollover {
  const input = (g: ServedKeys, records: TlsaData[]) => ({
    published: records,
    current: { kind: 'certs', certs: g.certs, warnings: [] } as Material,
    next,
    host,
    now,
    ...(ttl !== undefined ? { ttl } : {}),
  });
  const keys = groups.map((g) => ({ addresses: g.addresses, report: analyzeRollover(input(g, published)) }));
  // The RRset to publish: each key's analysis adds to what the previous one proposed.
  let set = published;
  for (const g of groups) set = analyzeRollover(input(g, set)).publish.map((p) => parseRecordText(p.record));
  const finals = groups.map((g) => analyzeRollover(input(g, set)));
  const before = new Set(published.map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`));
  const rows = finals[0]?.published ?? [];
  const publish = rows.map((row, i) => {
    const cur = groups.filter((_g, k) => finals[k]!.published[i]!.current === 'yes').map((g) => g.addresses.join(', '));
    const who = [cur.length ? `current key of ${cur.join(' and ')}` : '', row.next === 'yes' ? 'next' : ''].filter(Boolean).join(' + ') || 'neither';
    return { record: row.record, who: `${who}${before.has(row.record) ? '' : ' (new)'}` };
  });
  const notReady = keys.find((k) => k.report.status !== 'ready');
  const warnings: string[] = [];
  for (const k of keys) for (const w of k.report.warnings) if (!warnings.includes(w)) warnings.push(w);
  return {
    status: notReady ? notReady.report.status : 'ready',
    keys,
    publish,
    added: publish.filter((p) => !before.has(p.record)).map((p) => p.record),
    warnings,
  };
}

/**
 * A rollover check over some addresses only: `unchecked` addresses (not reached, no chain)
 * make a ready analysis 'incomplete', since their keys are not known to be covered.
 */
export function incompleteWhenUnchecked(m: MultiRollover, unchecked: number): MultiRollover {
  return unchecked > 0 && m.status === 'ready' ? { ...m, status: 'incomplete' } : m;
}
