/**
 * What `dane-smtp tlsa` prints, in one place: each mode hands over a typed outcome, and
 * this module makes the one JSON object (--json) or the human report (warnings on standard
 * error) from it. The JSON shapes of the three modes (generate, verify, rollover) are here.
 */
import type { Connected } from '../../tools/tlsa/connect.js';
import { describeMaterial, type Material } from '../../tools/tlsa/material.js';
import { parseRecordText, zoneLine, type ComputedRecord } from '../../tools/tlsa/records.js';
import { renderGenerate, renderGenerateGroups, renderMultiRollover, renderRollover, renderServer, renderTlsaBase, renderTlsaHeader, type ServedSummary } from '../../tools/tlsa/render.js';
import type { MultiRollover, RolloverReport } from '../../tools/tlsa/rollover.js';
import type { OverallVerdict, VerifyReport } from '../../tools/tlsa/verify.js';
import type { ServerDns } from './dns.js';
import type { TlsaIo } from './io.js';
import type { LiveServer, Served } from './live.js';
import type { Target, TlsaSettings } from './settings.js';

/** A generated record, with the addresses whose chain it covers (--connect). */
export type GeneratedRecord = ComputedRecord & { addresses?: string[] };

/** What a mode found, for the report. */
export type TlsaOutcome =
  | {
      kind: 'verify';
      target: Target;
      dns: ServerDns;
      live: LiveServer;
      /** The RRset checked against no chain: its DNS facts, for the header. */
      rrset: VerifyReport;
      addresses: { connected: Connected; report: VerifyReport }[];
      verdict: OverallVerdict;
      suggested: string[];
      /** --next: the rollover check (null when no address served a chain). */
      rollover?: MultiRollover | null;
      ok: boolean;
    }
  | {
      kind: 'generate';
      target: Target;
      source: string;
      material: Material;
      records: GeneratedRecord[];
      /** Several distinct served chains: one block each in the human report. */
      blocks?: { addresses: string[]; what: string; records: ComputedRecord[] }[];
      served?: Served;
    }
  | { kind: 'nothing-served'; mode: 'generate' | 'rollover'; owner: string; live: LiveServer; error: string; failures: string[] }
  | { kind: 'rollover'; target: Target; source: string; from: string; report: RolloverReport }
  | { kind: 'rollover-served'; target: Target; source: string; from: string; served: Served; rollover: MultiRollover };

/** Prints the outcome: one JSON object with --json, else the warnings and the human report. */
export function printOutcome(s: TlsaSettings, io: TlsaIo, o: TlsaOutcome): void {
  if (s.json) {
    io.stdout(json(jsonOf(s, o)));
    return;
  }
  for (const w of s.warnings) io.stderr(`dane-smtp: warning: ${w}\n`);
  if (o.kind === 'nothing-served') {
    for (const f of o.failures.length ? o.failures : [o.error]) io.stderr(`dane-smtp: ${f}\n`);
    return;
  }
  io.stdout(humanOf(s, o));
}

function jsonOf(s: TlsaSettings, o: TlsaOutcome): Record<string, unknown> {
  switch (o.kind) {
    case 'verify': {
      const { owner, host } = o.target;
      return {
        mode: 'verify',
        owner,
        host,
        port: s.port,
        resolver: o.dns.resolver.probe ?? null,
        hostAddresses: hostAddressesJson(o.live),
        tlsaBase: o.dns.baseReport ?? null,
        dns: o.dns.noTlsa ? null : o.rrset.dns,
        addresses: o.addresses.map(({ connected: c, report }) => {
          const { warnings: _w, owner: _o, dns: _d, detail: _detail, ...rest } = report;
          return { address: c.address, port: s.connectPort, connect: summaryOf(c, s.connectPort), ...rest };
        }),
        authenticated: o.verdict.authenticated,
        summary: o.verdict.summary,
        suggested: o.suggested,
        ...(o.rollover !== undefined ? { rollover: o.rollover ? multiRolloverJson(owner, o.rollover) : null } : {}),
        ok: o.ok,
        warnings: s.warnings,
      };
    }
    case 'generate': {
      const { owner, host } = o.target;
      const partial = o.served !== undefined && o.served.failures.length > 0;
      return {
        mode: 'generate',
        owner,
        host,
        port: s.port,
        source: o.source,
        material: describeMaterial(o.material),
        ...(o.served ? { hostAddresses: hostAddressesJson(o.served.live), addresses: o.served.live.results.map((c) => summaryOf(c, s.connectPort)) } : {}),
        records: o.records.map((r) => ({
          usage: r.usage,
          selector: r.selector,
          matchingType: r.matchingType,
          data: r.data.toString('hex'),
          text: r.text,
          zone: zoneLine(owner, r),
          description: r.description,
          target: r.target,
          ...(r.addresses ? { servedBy: r.addresses } : {}),
        })),
        ...(partial ? { ok: false, error: o.served!.failures.join('; ') } : {}),
        warnings: s.warnings,
      };
    }
    case 'nothing-served':
      return { mode: o.mode, owner: o.owner, hostAddresses: hostAddressesJson(o.live), addresses: o.live.results.map((c) => summaryOf(c, s.connectPort)), ok: false, error: o.error, warnings: s.warnings };
    case 'rollover': {
      const { owner, host } = o.target;
      return { mode: 'rollover', owner, host, port: s.port, source: o.source, ...rolloverJson(owner, o.report), ok: o.report.status === 'ready', warnings: s.warnings };
    }
    case 'rollover-served': {
      const { owner, host } = o.target;
      return {
        mode: 'rollover',
        owner,
        host,
        port: s.port,
        source: o.source,
        hostAddresses: hostAddressesJson(o.served.live),
        addresses: o.served.live.results.map((c) => summaryOf(c, s.connectPort)),
        ...rolloverJson(owner, o.rollover.keys[0]!.report),
        ...multiRolloverJson(owner, o.rollover),
        ok: o.rollover.status === 'ready',
        warnings: s.warnings,
      };
    }
  }
}

function humanOf(s: TlsaSettings, o: Exclude<TlsaOutcome, { kind: 'nothing-served' }>): string {
  switch (o.kind) {
    case 'verify': {
      const { dns } = o;
      const header = dns.noTlsa ? 'TLSA: not looked up\n' : renderTlsaHeader(o.rrset, dns.resolver.text, dns.resolver.trust === 'self-validating');
      const parts = [addressLine(o.live) + (dns.baseReport ? renderTlsaBase(dns.baseReport) : '') + header];
      for (const { connected: c, report } of o.addresses) parts.push(renderServer(report, summaryOf(c, s.connectPort)));
      parts.push(`overall: ${o.verdict.authenticated ? 'AUTHENTICATED' : 'NOT AUTHENTICATED'}: ${o.verdict.detail}\n`);
      const rollover = o.rollover ? `\n${renderMultiRollover(o.target.owner, dns.noTlsa ? 'not looked up' : `from DNS, ${dns.answer!.proof}`, o.rollover)}` : '';
      return parts.join('\n') + rollover;
    }
    case 'generate':
      return o.blocks ? renderGenerateGroups(o.target.owner, o.source, o.blocks) : renderGenerate(o.target.owner, `${o.source}: ${describeMaterial(o.material)}`, o.records);
    case 'rollover':
      return renderRollover(o.target.owner, o.from, o.report);
    case 'rollover-served':
      return renderMultiRollover(o.target.owner, o.from, o.rollover);
  }
}

/** `hostAddresses` in the JSON reports. */
function hostAddressesJson(live: LiveServer): Record<string, unknown> {
  const h = live.addrs;
  return { source: h.source, addresses: h.addresses, ...(h.errors.length ? { errors: h.errors } : {}), ...(h.dns ? { dns: h.dns } : {}) };
}

function summaryOf(c: Connected, connectPort: number): ServedSummary | { error: string; address?: string; port?: number } {
  return c.ok ? { address: c.address, port: c.port, tls: c.tls, version: c.version, cipher: c.cipher } : { address: c.address!, port: connectPort, error: c.error };
}

/** "addresses of HOST (from …): …" above the --verify report ('' for an address literal). */
function addressLine(live: LiveServer): string {
  const { connect, addrs } = live;
  if (connect.isAddress) return '';
  const list = addrs.addresses.length ? addrs.addresses.join(', ') : 'none';
  return `addresses of ${connect.host} (from ${addrs.source}): ${list}${addrs.errors.length ? `; ${addrs.errors.join('; ')}` : ''}\n`;
}

/** One line of JSON; Buffers as hex. */
function json(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? Buffer.from((v as { data: number[] }).data).toString('hex') : v))}\n`;
}

function rolloverJson(owner: string, r: RolloverReport) {
  return { ...r, publishZone: r.publish.map((p) => zoneLine(owner, parseRecordText(p.record))) };
}

function multiRolloverJson(owner: string, m: MultiRollover) {
  return {
    status: m.status,
    keys: m.keys.map((k) => ({ addresses: k.addresses, ...rolloverJson(owner, k.report) })),
    publish: m.publish,
    added: m.added,
    publishZone: m.publish.map((p) => zoneLine(owner, parseRecordText(p.record))),
  };
}
