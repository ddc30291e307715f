/**
 * `dane-smtp tlsa --verify` (and --next): the published RRset against what every address
 * of the --connect host serves. The checks are tools/tlsa/verify.ts (verifyServed,
 * overallVerdict) and tools/tlsa/rollover.ts; this module runs them per address.
 */
import { incompleteWhenUnchecked, rolloverAcross, type MultiRollover } from '../../tools/tlsa/rollover.js';
import { notAuthenticatedSummary, overallVerdict, verifyServed } from '../../tools/tlsa/verify.js';
import type { ServerDns } from './dns.js';
import { TLSA_EXIT, type TlsaIo } from './io.js';
import type { LiveServer } from './live.js';
import { printOutcome } from './report.js';
import { pushOnce, type TlsaSettings } from './settings.js';

export function verifyServer(s: TlsaSettings, dns: ServerDns, live: LiveServer, io: TlsaIo): number {
  const { host, owner, noTlsa } = dns;
  const { results, groups } = live;
  const answer = dns.answer!;
  const qname = owner.slice(0, -1);
  const next = s.next;
  const warnings = s.warnings;
  const several = results.length > 1;
  const now = io.now();
  const verifyOne = (served: Buffer[]) => verifyServed({ owner: qname, answer, served, referenceNames: [host], now, ...(noTlsa ? { noTlsa } : {}) });
  const perAddress = results.map((c) => {
    const report = verifyOne(c.ok ? c.chain : []);
    if (!c.ok) {
      report.detail = c.error;
      report.summary = notAuthenticatedSummary(c.error);
    }
    for (const w of report.warnings) pushOnce(warnings, several ? `${c.address}: ${w}` : w);
    return { connected: c, report };
  });
  const rrset = verifyOne([]);
  // DANE does not apply (or cannot be told): that is the verdict, said once.
  const verdict = overallVerdict(
    perAddress.map((p) => ({ address: p.connected.address, reached: p.connected.ok, report: p.report })),
    live.addrs.errors,
    noTlsa,
  );

  let rollover: MultiRollover | undefined;
  if (next) {
    const unserved = results.filter((c) => !c.ok || groups.every((g) => !g.addresses.includes(c.address!) || g.certs.length === 0));
    for (const c of unserved) warnings.push(`no served chain from ${c.address}: the rollover check needs the current certificate from every address`);
    const usable = groups.filter((g) => g.certs.length > 0);
    if (usable.length === 0) {
      warnings.push('no served chain: the rollover check needs the current certificate from the server');
    } else {
      rollover = rolloverAcross(usable, answer.status === 'data' ? answer.records : [], next, host, now, answer.status === 'data' ? answer.ttl : undefined);
      for (const w of rollover.warnings) pushOnce(warnings, w);
      rollover = incompleteWhenUnchecked(rollover, unserved.length);
    }
  }
  const ok = verdict.authenticated && (!next || rollover?.status === 'ready');
  // The zone-file lines to publish for the served key(s) where no usable record matches (each once).
  const suggested = [...new Set(perAddress.flatMap((p) => (p.connected.ok ? (p.report.suggested ?? []) : [])))];
  printOutcome(s, io, { kind: 'verify', target: { host, owner }, dns, live, rrset, addresses: perAddress, verdict, suggested, ...(next ? { rollover: rollover ?? null } : {}), ok });
  return ok ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
}
