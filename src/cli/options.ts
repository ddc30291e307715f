/**
 * Options shared by check, send and scan: parsing and checking them (every option is
 * checked before anything is sent), with the same one-line usage errors (exit 64).
 */
import { pemCertificates } from '../policy/ca-store.js';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DaneSmtpError } from '../errors.js';
import { isValidHeloName } from '../smtp/message.js';
import { parseResolverSpec, systemResolverSpec } from '../dns/resolv-conf.js';
import { PolicySyntaxError, emptyPolicyTable, parsePolicyTable, type Level, type PolicyTable } from '../policy/table.js';
import { IANA_ROOT_ANCHORS, parseTrustAnchors, type TrustAnchor } from '../dns/dnssec/index.js';
import { INTEGER_SETTINGS, levelOf, type IntegerSetting } from '../settings.js';
import type { CommonOptions } from './option-defs.js';
import { anchorsBelowRootWarning, type ResolverConfig, type ResolverTrust } from '../dns/resolver-trust.js';
import type { ValidationProbe } from '../dns/probe.js';

/** A usage error: `main` prints its message as one line and exits 64. */
export class UsageError extends DaneSmtpError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}


/** The loud stderr lines for a resolver that answers but does not validate DNSSEC (RFC 7672 §2.1). */
export function nonValidatingWarning(reason: string): string {
  return (
    `dane-smtp: WARNING: ${reason}.\n` +
    "dane-smtp: WARNING: DANE is OFF: without a validating resolver nothing is authenticated by DANE and at the dane levels no verdict is better than 'opportunistic' (encrypt, fingerprint, verify and secure policies still apply).\n"
  );
}

/**
 * The stderr lines for a resolver that answered the probe, by the trust it earned
 * (src/dns/resolver-trust.ts): '' when DANE can work as configured.
 */
export function trustWarning(trust: ResolverTrust, probe: Pick<ValidationProbe, 'validates' | 'reason'>): string {
  if (trust === 'untrusted') return nonValidatingWarning(probe.reason);
  if (trust === 'self-validating' && !probe.validates) return anchorsBelowRootWarning(probe).map((l) => `dane-smtp: WARNING: ${l}\n`).join('');
  return '';
}

/** `--timeout SECONDS` (0.001 to 3600, at most three decimals) in milliseconds. */
export function timeoutOption(value: string): number {
  const seconds = /^\d{1,4}(\.\d{1,3})?$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 0.001 && seconds <= 3600)) throw new UsageError(`--timeout must be a number of seconds from 0.001 to 3600, not '${value}'`);
  return Math.round(seconds * 1000);
}


export function intOption(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, not '${value}'`);
  return Number(value);
}

/** --resolver, else the first nameserver of /etc/resolv.conf (`resolvConf`: its contents, for tests). */
export function resolverSpec(opt: string | undefined, resolvConf?: () => string): { address: string; port: number } {
  if (opt !== undefined) {
    try {
      return parseResolverSpec(opt);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
  }
  const spec = resolvConf ? systemResolverSpec(resolvConf()) : systemResolverSpec();
  if (!spec) throw new UsageError('no nameserver in /etc/resolv.conf: give one with --resolver IP[:PORT]');
  return spec;
}

/** --trust-anchor FILE or --validate (the IANA root anchors): validate DNSSEC ourselves. */
export function trustAnchors(o: Pick<CommonOptions, 'trustAnchor' | 'validate'>): readonly TrustAnchor[] | undefined {
  if (o.trustAnchor !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.trustAnchor, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the trust anchor file ${o.trustAnchor}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      const anchors = parseTrustAnchors(text);
      if (anchors.length === 0) throw new Error('no DS or DNSKEY record');
      return anchors;
    } catch (e) {
      throw new UsageError(`bad trust anchor file ${o.trustAnchor}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return o.validate ? IANA_ROOT_ANCHORS : undefined;
}

/** The resolver configuration of check, send, scan and tlsa --verify: the resolver (resolverSpec), --timeout, --trust-anchor / --validate. */
export function resolverConfig(spec: { address: string; port: number }, timeoutMs: number, o: Pick<CommonOptions, 'trustAnchor' | 'validate'>): ResolverConfig {
  const anchors = trustAnchors(o);
  return { address: spec.address, port: spec.port, timeoutMs, ...(anchors ? { anchors } : {}) };
}

/** An integer option in the range src/settings.ts gives that setting. */
function settingOption(value: string, name: string, setting: IntegerSetting): number {
  const { min, max } = INTEGER_SETTINGS[setting];
  return intOption(value, name, min, max);
}

export function commonSettings(o: CommonOptions) {
  const port = settingOption(o.port, '--port', 'port');
  const timeoutMs = timeoutOption(o.timeout);
  const concurrency = settingOption(o.concurrency, '--concurrency', 'concurrency');
  const helo = o.helo ?? hostname();
  if (!isValidHeloName(helo)) throw new UsageError(`${o.helo === undefined ? 'this host name' : '--helo'} '${helo}' is not a valid EHLO name: give --helo NAME (a host name or address literal)`);
  const spec = resolverSpec(o.resolver);
  return { port, timeoutMs, concurrency, helo, spec };
}

export interface PolicySettings {
  table: PolicyTable;
  level: Level;
  caCertificates?: string[];
}

/** Policy table, default level and CA file are all checked before anything is sent. */
export function policySettings(o: CommonOptions): PolicySettings {
  const checked = levelOf(o.level);
  if (!checked.ok) {
    if (o.level.toLowerCase() === 'fingerprint') throw new UsageError("--level fingerprint needs fingerprints: give them per destination in a --policy table ('example.org fingerprint match=SHA256-HEX')");
    throw new UsageError(`--level ${checked.problem}, not '${o.level}'`);
  }
  const level = checked.level;
  let table = emptyPolicyTable();
  if (o.policy !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.policy, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the policy table ${o.policy}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      table = parsePolicyTable(text, o.policy);
    } catch (e) {
      if (e instanceof PolicySyntaxError) throw new UsageError(e.message);
      throw e;
    }
  }
  const out: PolicySettings = { table, level: level as Level };
  if (o.caFile !== undefined) {
    let pem: string;
    try {
      pem = readFileSync(o.caFile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the CA file ${o.caFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const certs = pemCertificates(pem);
    if (certs.length === 0) throw new UsageError(`no PEM certificate in the CA file ${o.caFile}`);
    out.caCertificates = certs;
  }
  return out;
}

