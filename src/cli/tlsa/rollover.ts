/**
 * `dane-smtp tlsa --next` with --rrset: does the RRset file cover the current key (of FILE,
 * or of every address of --connect) and the next key (RFC 7671 §8.1)? The analysis is
 * tools/tlsa/rollover.ts.
 */
import { analyzeRollover, incompleteWhenUnchecked, rolloverAcross } from '../../tools/tlsa/rollover.js';
import { inputName } from './inputs.js';
import { TLSA_EXIT, type TlsaIo } from './io.js';
import { serverSource, type Served } from './live.js';
import { printOutcome } from './report.js';
import { pushOnce, type Target, type TlsaSettings } from './settings.js';

/** The key of FILE and the next key against the RRset file. */
export function rolloverFromMaterial(s: TlsaSettings, { host, owner }: Target, io: TlsaIo): number {
  const from = rrsetSource(s, owner);
  const r = analyzeRollover({ published: s.rrset!.records, current: s.material!, next: s.next!, host, now: io.now() });
  s.warnings.push(...r.warnings);
  printOutcome(s, io, { kind: 'rollover', target: { host, owner }, source: inputName(s.file!), from, report: r });
  return r.status === 'ready' ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
}

/** The key every address serves and the next key against the RRset file. */
export function rolloverFromServer(s: TlsaSettings, { host, owner }: Target, served: Served, io: TlsaIo): number {
  const from = rrsetSource(s, owner);
  const analysed = rolloverAcross(served.groups, s.rrset!.records, s.next!, host, io.now());
  for (const w of analysed.warnings) pushOnce(s.warnings, w);
  const rollover = incompleteWhenUnchecked(analysed, served.failures.length);
  printOutcome(s, io, { kind: 'rollover-served', target: { host, owner }, source: serverSource(s, served.groups), from, served, rollover });
  return rollover.status === 'ready' ? TLSA_EXIT.OK : TLSA_EXIT.FAILED;
}

/** Warnings about what the --rrset file holds; returns where its records came from, for humans. */
function rrsetSource(s: TlsaSettings, owner: string): string {
  const rrset = s.rrset!;
  const owners = [...new Set(rrset.records.flatMap((x) => (x.owner && x.owner !== owner ? [x.owner] : [])))];
  if (owners.length) s.warnings.push(`the RRset file has records for ${owners.join(', ')}, not only ${owner}: all of them are used`);
  if (rrset.ignored) s.warnings.push(`${rrset.ignored} record(s) of other types in the RRset file are ignored`);
  if (rrset.records.length === 0) s.warnings.push('the RRset file has no TLSA record');
  return `${rrset.records.length} record(s) from ${inputName(s.rrsetPath!)}`;
}
