/**
 * `dane-smtp tlsa` generating records: from FILE (with --connect too: checked against what
 * each address serves), or from the chains the --connect host served; and the choice of
 * mode once the addresses were connected to. The records are tools/tlsa/records.ts.
 */
import { describeMaterial, type Material } from '../../tools/tlsa/material.js';
import { computeRecords, mergeRecordsByText } from '../../tools/tlsa/records.js';
import type { ServedGroup } from '../../tools/tlsa/connect.js';
import type { ServerDns } from './dns.js';
import { inputName } from './inputs.js';
import { TLSA_EXIT, type TlsaIo } from './io.js';
import { serverSource, servedBy, type LiveServer, type Served } from './live.js';
import { printOutcome, type TlsaOutcome } from './report.js';
import { rolloverFromServer } from './rollover.js';
import { pushOnce, type Target, type TlsaSettings } from './settings.js';

/** Records from FILE (with --connect too: checked against what each address serves). */
export function generateFromMaterial(s: TlsaSettings, target: Target, io: TlsaIo, served?: Served): number {
  const m = s.material!;
  const runs = served ? served.groups.map((g) => computeRecords(m, s.params, g.certs)) : [computeRecords(m, s.params)];
  for (const w of runs.flatMap((r) => r.warnings)) pushOnce(s.warnings, w);
  return printRecords(s, io, { kind: 'generate', target, source: inputName(s.file!), material: m, records: runs[0]!.records, ...(served ? { served } : {}) });
}

/**
 * Records (or, with --next and --rrset, a rollover check) from what the --connect host
 * served. What could not be reached is reported; nothing served at all is an error (69, or
 * 1 for a rollover check).
 */
export function fromLiveServer(s: TlsaSettings, dns: ServerDns, live: LiveServer, io: TlsaIo): number {
  const served = servedBy(live);
  if (!('groups' in served)) {
    const error = served.failures.join('; ') || 'the server sent no parsable certificate';
    printOutcome(s, io, { kind: 'nothing-served', mode: s.next ? 'rollover' : 'generate', owner: dns.owner, live, error, failures: served.failures });
    return s.next ? TLSA_EXIT.FAILED : TLSA_EXIT.UNAVAILABLE;
  }
  for (const f of served.failures) s.warnings.push(`${f}: not in the ${s.next ? 'rollover check' : 'records'} below`);
  const target = { host: dns.host, owner: dns.owner };
  if (s.next && s.rrset) return rolloverFromServer(s, target, served, io);
  return s.material ? generateFromMaterial(s, target, io, served) : generateFromServer(s, target, served, io);
}

function groupMaterial(g: ServedGroup): Material {
  return { kind: 'certs', certs: g.certs, warnings: [] };
}

/** Records from the served chains: one list when every address serves the same chain, else one block per chain. */
function generateFromServer(s: TlsaSettings, target: Target, served: Served, io: TlsaIo): number {
  const source = serverSource(s, served.groups);
  if (served.groups.length === 1) {
    const g = served.groups[0]!;
    const m = groupMaterial(g);
    const c = computeRecords(m, s.params, g.certs);
    for (const w of c.warnings) pushOnce(s.warnings, w);
    return printRecords(s, io, { kind: 'generate', target, source, material: m, records: c.records.map((r) => ({ ...r, addresses: g.addresses })), served });
  }
  const blocks = served.groups.map((g) => {
    const c = computeRecords(groupMaterial(g), s.params, g.certs);
    for (const w of c.warnings) pushOnce(s.warnings, `${g.addresses.join(', ')}: ${w}`);
    return { addresses: g.addresses, what: describeMaterial(groupMaterial(g)), records: c.records };
  });
  return printRecords(s, io, { kind: 'generate', target, source, material: groupMaterial(served.groups[0]!), records: mergeRecordsByText(blocks), blocks, served });
}

/** Prints generated records; 69 when an address of --connect could not be reached (its key is missing). */
function printRecords(s: TlsaSettings, io: TlsaIo, o: Extract<TlsaOutcome, { kind: 'generate' }>): number {
  printOutcome(s, io, o);
  return o.served !== undefined && o.served.failures.length > 0 ? TLSA_EXIT.UNAVAILABLE : TLSA_EXIT.OK;
}
