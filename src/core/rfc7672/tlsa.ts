/**
 * TLSA records and their usability (RFC 6698 §2.1, RFC 7672 §3.1, RFC 7671 §9).
 * Unusable records are kept with a reason, never thrown (the Postfix tls_dane.c model).
 */
import type { TlsaData } from '../../dns/types.js';

export const Usage = { PKIX_TA: 0, PKIX_EE: 1, DANE_TA: 2, DANE_EE: 3 } as const;
export const Selector = { CERT: 0, SPKI: 1 } as const;
export const Matching = { FULL: 0, SHA256: 1, SHA512: 2 } as const;

/** Digest lengths of the matching types we implement (RFC 6698 §2.1.3). */
const DIGEST_LENGTH: Record<number, number> = { [Matching.SHA256]: 32, [Matching.SHA512]: 64 };

export type UnusableReason =
  | 'pkix-usage'          // usages 0 and 1 (RFC 7672 §3.1.3)
  | 'unknown-usage'
  | 'unknown-selector'
  | 'unknown-matching-type'
  | 'bad-digest-length'
  | 'empty-data'
  | 'weaker-digest';      // digest agility (RFC 7671 §9)

export type TlsaUsability = { usable: true } | { usable: false; reason: UnusableReason; detail: string };

export interface ClassifiedTlsa extends TlsaData {
  usability: TlsaUsability;
}

export function tlsaToText(r: TlsaData): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

/** tlsaToText back to TLSA data ("U S M HEX", as results and reports carry records). */
export function tlsaFromText(text: string): TlsaData {
  const [u, s, m, hex] = text.split(' ');
  return { usage: Number(u), selector: Number(s), matchingType: Number(m), data: Buffer.from(hex ?? '', 'hex') };
}

/** Usability of one record on its own, before digest agility. */
export function recordUsability(r: TlsaData): TlsaUsability {
  // RFC 7672 §3.1.3: SMTP clients do not support PKIX-TA(0) and PKIX-EE(1).
  if (r.usage === Usage.PKIX_TA || r.usage === Usage.PKIX_EE) {
    return { usable: false, reason: 'pkix-usage', detail: `usage ${r.usage} (PKIX-${r.usage === 0 ? 'TA' : 'EE'}) is not used by SMTP (RFC 7672 §3.1.3)` };
  }
  if (r.usage !== Usage.DANE_TA && r.usage !== Usage.DANE_EE) {
    return { usable: false, reason: 'unknown-usage', detail: `unknown certificate usage ${r.usage} (RFC 6698 §4.1)` };
  }
  if (r.selector !== Selector.CERT && r.selector !== Selector.SPKI) {
    return { usable: false, reason: 'unknown-selector', detail: `unknown selector ${r.selector} (RFC 6698 §4.1)` };
  }
  if (r.matchingType !== Matching.FULL && r.matchingType !== Matching.SHA256 && r.matchingType !== Matching.SHA512) {
    return { usable: false, reason: 'unknown-matching-type', detail: `unknown matching type ${r.matchingType} (RFC 6698 §4.1)` };
  }
  if (r.data.length === 0) {
    return { usable: false, reason: 'empty-data', detail: 'empty certificate association data' };
  }
  const want = DIGEST_LENGTH[r.matchingType];
  if (want !== undefined && r.data.length !== want) {
    return {
      usable: false,
      reason: 'bad-digest-length',
      detail: `matching type ${r.matchingType} needs a ${want}-byte digest, this one has ${r.data.length} bytes (RFC 7671 §5.1)`,
    };
  }
  return { usable: true };
}

/** Strength order for digest agility: SHA-512 > SHA-256 > full data (RFC 7671 §9). */
const STRENGTH: Record<number, number> = { [Matching.SHA512]: 3, [Matching.SHA256]: 2, [Matching.FULL]: 1 };

/**
 * Classify an RRset. RFC 7671 §9 (digest algorithm agility): for each usage and selector,
 * only records with the strongest matching type present are used; the others are
 * unusable ('weaker-digest'). Full-data records (matching type 0) are not digests and
 * always count.
 */
export function classifyTlsa(records: TlsaData[]): ClassifiedTlsa[] {
  const first = records.map((r) => ({ ...r, usability: recordUsability(r) }));
  const strongest = new Map<string, number>();
  for (const r of first) {
    if (!r.usability.usable || r.matchingType === Matching.FULL) continue;
    const key = `${r.usage}/${r.selector}`;
    strongest.set(key, Math.max(strongest.get(key) ?? 0, STRENGTH[r.matchingType] ?? 0));
  }
  return first.map((r) => {
    if (!r.usability.usable || r.matchingType === Matching.FULL) return r;
    const best = strongest.get(`${r.usage}/${r.selector}`) ?? 0;
    if ((STRENGTH[r.matchingType] ?? 0) < best) {
      return {
        ...r,
        usability: {
          usable: false,
          reason: 'weaker-digest',
          detail: `a stronger digest is published for usage ${r.usage} selector ${r.selector}; only it counts (RFC 7671 §9)`,
        },
      };
    }
    return r;
  });
}

export function usableRecords(records: ClassifiedTlsa[]): ClassifiedTlsa[] {
  return records.filter((r) => r.usability.usable);
}
