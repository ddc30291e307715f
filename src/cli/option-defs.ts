/**
 * The options check, send and scan share, as commander declares them: flags, help and
 * defaults (from src/settings.ts). Only declarations: parsing and checking is options.ts,
 * loaded when a command runs, so that `--help` loads nothing else.
 */
import type { Command } from 'commander';
import { LEVELS } from '../policy/table.js';
import { DEFAULT_LEVEL, INTEGER_SETTINGS } from '../settings.js';

export interface CommonOptions {
  trustAnchor?: string;
  validate?: boolean;
  policy?: string;
  level: string;
  caFile?: string;
  resolver?: string;
  port: string;
  helo?: string;
  timeout: string;
  json?: boolean;
  concurrency: string;
  daneInsecureMx?: boolean;
}

/** The --timeout help text, the same for every command. */
export const TIMEOUT_HELP = 'deadline of each step: DNS answer, connect, TLS handshake, one whole SMTP reply';

/** The options of check, send and scan: [flags, description, default]. */
export const COMMON_OPTIONS: readonly (readonly [flags: string, description: string, defaultValue?: string])[] = [
  ['--resolver <ip[:port]>', 'validating DNS resolver (default: first nameserver in /etc/resolv.conf)'],
  ['--port <n>', 'SMTP port; TLSA records are looked up at _<n>._tcp', String(INTEGER_SETTINGS.port.default)],
  ['--helo <name>', 'EHLO name (default: this host name)'],
  ['--timeout <seconds>', TIMEOUT_HELP, String(INTEGER_SETTINGS.timeoutMs.default / 1000)],
  ['--concurrency <n>', 'destinations handled at once', String(INTEGER_SETTINGS.concurrency.default)],
  ['--dane-insecure-mx', 'use DANE for hosts with secure records even when the MX RRset is insecure (RFC 7672 §2.2.1)'],
  ['--policy <file>', 'TLS policy table (Postfix smtp_tls_policy_maps syntax)'],
  ['--level <level>', `TLS level for destinations not in the table: ${LEVELS.join(', ')}`, DEFAULT_LEVEL],
  ['--ca-file <file>', 'trusted CAs (PEM) for the verify and secure levels (default: the system store, SSL_CERT_FILE or /etc/ssl/certs/ca-certificates.crt)'],
  ['--trust-anchor <file>', 'validate DNSSEC here from these DS or DNSKEY records (zone-file syntax); the resolver only has to pass DNSSEC records through'],
  ['--validate', 'validate DNSSEC here from the IANA root trust anchors shipped with dane-smtp'],
  ['--json', 'one JSON object per domain per line'],
];

/** Adds the common options, except those named in `except` (e.g. a command with its own --concurrency). */
export function withCommon(cmd: Command, except: readonly string[] = []): Command {
  for (const [flags, description, defaultValue] of COMMON_OPTIONS) {
    const long = flags.split(' ')[0]!;
    if (except.includes(long)) continue;
    if (defaultValue === undefined) cmd.option(flags, description);
    else cmd.option(flags, description, defaultValue);
  }
  return cmd;
}
