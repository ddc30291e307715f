/**
 * RFC 7672 §2.2.1 with RFC 5321 §5.1 and RFC 7505: what the MX answer means for a
 * destination: the hosts in preference order, a deferral, or a permanent failure. Pure.
 */
import { normalizeName } from '../../dns/names.js';
import type { DnsAnswer, MxData, Proof } from '../../dns/types.js';
import { reportAnswer, type DnsReport } from '../dns-report.js';
import { answerFailed } from './answer.js';

export interface MxHost {
  /** The exchange as written in the MX record (the domain itself for an implicit MX). */
  name: string;
  preference: number;
  implicit: boolean;
  /**
   * An IP address literal from local configuration (a `[192.0.2.1]` next hop). Never set
   * for an MX exchange: one written as an address is looked up as a name (RFC 5321 §5.1).
   */
  addressLiteral?: true;
}

export type MxDecision =
  | {
      kind: 'hosts';
      hosts: MxHost[];
      mxProof: Proof;
      mx: DnsReport;
      /**
       * RFC 7672 §3.2.2: the next-hop domain as a reference identifier: the domain, and
       * its CNAME-expanded name when the MX lookup followed a CNAME (RFC 5321 §5.1).
       */
      nextHopNames: string[];
    }
  | { kind: 'tempfail'; reason: string; mx: DnsReport }
  | { kind: 'undeliverable'; reason: string; mx: DnsReport };

/** Fisher–Yates shuffle with an injected random source (tests pass a fixed one). */
function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Decide what the MX answer means for the destination. Pure. */
export function decideMx(domain: string, answer: DnsAnswer<MxData>, random: () => number = Math.random): MxDecision {
  const mx = reportAnswer(answer);
  if (answerFailed(answer)) {
    // RFC 7672 §2.2.1: a bogus or indeterminate MX RRset defers the mail.
    return { kind: 'tempfail', reason: `MX lookup for ${domain} failed (${answer.proof}${answer.reason ? `: ${answer.reason}` : ''}); mail is deferred (RFC 7672 §2.2.1)`, mx };
  }
  // RFC 5321 §5.1: a CNAME found for the domain is processed as if it were the initial name.
  const expanded = normalizeName(answer.canonicalName || domain);
  const nextHopNames = [...new Set([domain, expanded])];
  switch (answer.status) {
    case 'failed':
      // RFC 7672 §2.2.1: a bogus or indeterminate MX RRset defers the mail.
      return { kind: 'tempfail', reason: `MX lookup for ${domain} failed (${answer.proof}${answer.reason ? `: ${answer.reason}` : ''}); mail is deferred (RFC 7672 §2.2.1)`, mx };
    case 'nxdomain':
      return { kind: 'undeliverable', reason: `${domain} does not exist (NXDOMAIN)`, mx };
    case 'nodata':
      // RFC 5321 §5.1: no MX records, the domain is its own implicit MX.
      return { kind: 'hosts', hosts: [{ name: expanded, preference: 0, implicit: true }], mxProof: answer.proof, mx, nextHopNames };
    case 'data': {
      // RFC 7505 §3: a null MX ("0 .") says the domain accepts no mail; never fall back to its A record.
      if (answer.records.some((r) => r.exchange === '')) {
        return { kind: 'undeliverable', reason: `${domain} publishes a null MX (RFC 7505): it accepts no mail`, mx };
      }
      // RFC 5321 §5.1: ascending preference, equal preferences in random order.
      const byPref = new Map<number, string[]>();
      for (const r of answer.records) {
        const name = normalizeName(r.exchange);
        const list = byPref.get(r.preference) ?? [];
        if (!list.includes(name)) list.push(name);
        byPref.set(r.preference, list);
      }
      const seen = new Set<string>();
      const hosts: MxHost[] = [];
      for (const pref of [...byPref.keys()].sort((a, b) => a - b)) {
        for (const name of shuffle(byPref.get(pref)!, random)) {
          if (seen.has(name)) continue; // a host listed twice keeps its best preference
          seen.add(name);
          hosts.push({ name, preference: pref, implicit: false });
        }
      }
      return { kind: 'hosts', hosts, mxProof: answer.proof, mx, nextHopNames };
    }
  }
}
