/**
 * The options checked and the input files read: TlsaSettings, what every mode of
 * `dane-smtp tlsa` starts from (with the TLSA base domain and port of the owner name).
 */
import type { TrustAnchor } from '../../dns/dnssec/index.js';
import type { Material } from '../../tools/tlsa/material.js';
import { hostNameFromCertificate, parseHostName, type TlsaParams } from '../../tools/tlsa/records.js';
import type { ZoneParse } from '../../tools/tlsa/zone.js';
import type { TlsMode } from '../../tools/tlsa/connect.js';
import { readInputs } from './inputs.js';
import { checkOptions, portOption, usage, type ConnectSpec, type TlsaOptions } from './options.js';

export interface TlsaSettings {
  json: boolean;
  verify: boolean;
  params: TlsaParams[];
  /** FILE ('-': standard input) and what it holds. */
  file: string | undefined;
  material: Material | undefined;
  /** --next: the next key or certificate. */
  next: Material | undefined;
  /** --rrset: the published RRset, and the path it was read from. */
  rrset: ZoneParse | undefined;
  rrsetPath: string | undefined;
  /** --resolver as given. */
  resolver: string | undefined;
  /** --trust-anchor FILE or --validate: DNSSEC validated here (src/dns/resolver-trust.ts). */
  anchors: readonly TrustAnchor[] | undefined;
  connect: ConnectSpec | undefined;
  /** --connect as given, for humans. */
  connectText: string | undefined;
  connectPort: number;
  tlsMode: TlsMode | undefined;
  helo: string;
  timeoutMs: number;
  /** The TLSA base domain from the options (or the certificate); --verify may choose another (RFC 7672 §2.2.2). */
  host: string;
  /** --host was given: no RFC 7672 §2.2.2 selection. */
  hostGiven: boolean;
  /** The port in the owner name _PORT._tcp.HOST. */
  port: number;
  /** --sni as given. */
  sni: string | undefined;
  /** Warnings so far: each step adds its own; printed (or put in the JSON) at the end. */
  warnings: string[];
}

/** The TLSA base domain and owner name a mode reports on. */
export interface Target {
  host: string;
  owner: string;
}

/** Checks the options (each mistake is a USAGE error) and reads FILE, --next, --rrset and the trust anchors. */
export function tlsaSettings(positional: string | undefined, o: TlsaOptions): TlsaSettings {
  const { params, file, timeoutMs, connect, tlsMode, helo } = checkOptions(positional, o);
  const { material, next, rrset, anchors } = readInputs(file, o);

  const warnings: string[] = [...(material?.warnings ?? []), ...(next?.warnings ?? [])];
  let host = o.host !== undefined ? parseHostName(o.host) : undefined;
  if (!host && connect && !connect.isAddress) host = connect.host;
  if (!host && o.sni !== undefined) host = parseHostName(o.sni, '--sni');
  if (!host && material && !connect) {
    host = hostNameFromCertificate(material);
    if (host) warnings.push(`no --host: the owner name is taken from the certificate (${host})`);
  }
  if (!host) {
    throw usage(connect ? '--connect gives an IP address: give the TLSA base domain with --host NAME (or --sni NAME)' : 'give the TLSA base domain with --host NAME (the MX host name)');
  }
  const connectPort = connect?.port ?? 25;
  const port = o.port !== undefined ? portOption(o.port, '--port') : connect ? connectPort : 25;
  const sni = o.sni !== undefined ? parseHostName(o.sni, '--sni') : undefined;
  return {
    json: o.json === true,
    verify: o.verify === true,
    params,
    file,
    material,
    next,
    rrset,
    rrsetPath: o.rrset,
    resolver: o.resolver,
    anchors,
    connect,
    connectText: o.connect,
    connectPort,
    tlsMode,
    helo,
    timeoutMs,
    host,
    hostGiven: o.host !== undefined,
    port,
    sni,
    warnings,
  };
}

/** Adds a warning unless it is already there. */
export function pushOnce(list: string[], w: string): void {
  if (!list.includes(w)) list.push(w);
}
