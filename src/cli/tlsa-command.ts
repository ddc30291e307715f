/**
 * `dane-smtp tlsa`: generate TLSA records from a certificate, chain or key (or a live
 * server), check the published RRset against a live server (--verify), and check rollover
 * readiness (--next). The checks are in src/tools/tlsa/ (pure, but connect.ts); the steps
 * in src/cli/tlsa/: options.ts (the options checked), inputs.ts (the files read),
 * settings.ts (both together), dns.ts (the resolver, set up as for check and send by
 * src/dns/resolver-trust.ts; the addresses; the TLSA base and RRset), live.ts (every
 * address connected to), the modes generate.ts, verify.ts and rollover.ts, and report.ts
 * (the JSON and human reports, from typed outcomes), run.ts (runTlsa). This file only
 * declares the command; the rest is loaded when it runs.
 *
 * runTlsa: tlsaSettings (options → TlsaSettings), then without --connect
 * generateFromMaterial or rolloverFromMaterial; with --connect lookUpServer (DNS) and
 * connectServer (every address), then verifyServer, or fromLiveServer → generateFromServer,
 * generateFromMaterial or rolloverFromServer. Warnings are collected and printed at the end.
 *
 * `--connect HOST` checks every address of HOST (A, then AAAA), a few at a time: with
 * --verify they are looked up with the resolver that the TLSA RRset comes from (--resolver,
 * else the first nameserver of resolv.conf), so the tool sees what a sending MTA sees;
 * generating records uses --resolver when given, else the system resolver. An address
 * literal (`--connect 192.0.2.1:25`, `[2001:db8::1]:25`) is the one address used.
 *
 * `--verify --connect HOST` without --host looks TLSA up where a sending MTA would (RFC 7672
 * §2.2.2, plan.ts findTlsaBase, shared with check/send): at the CNAME-expanded name of HOST
 * first, then at HOST, when its address records are secure; at HOST only when the chain is
 * insecure but its first CNAME is secure; nowhere when the address records are insecure
 * (DANE does not apply: that is the verdict). The base found is the owner, the default SNI
 * and the DANE-TA reference identifier. --host (or --sni with an address) gives it instead.
 *
 * Exit codes: 0 records printed / authenticated / ready; 1 not authenticated or not ready
 * (with --verify: any address not authenticated, an address that cannot be connected to,
 * a failed address lookup, or DANE not applying to the host (insecure address records)
 * counts; --next: ready only when the RRset covers the key of every address and the next
 * key); 64 usage or input error (DaneSmtpError USAGE, printed
 * as one line by main.ts); 69 --connect failed while generating records (for any address:
 * the records of the other addresses are still printed).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { COMMON_OPTIONS, TIMEOUT_HELP } from './option-defs.js';
import type { TlsaIo } from './tlsa/io.js';
import type { TlsaOptions } from './tlsa/options.js';

/** The flags and help of a check/send option that --verify shares (options.ts COMMON_OPTIONS). */
function commonOption(long: string): [string, string] {
  const o = COMMON_OPTIONS.find(([flags]) => flags.split(' ')[0] === long)!;
  return [o[0], `with --verify: ${o[1]}`];
}

export function registerTlsaCommand(program: Command, setExit: (code: number) => void, io: Partial<TlsaIo> = {}): void {
  program
    .command('tlsa')
    .description('generate TLSA records from a certificate, chain, key or live server; check the published records (--verify) and rollover readiness (--next)')
    .argument('[file]', 'certificate, chain, public or private key (PEM or DER, auto-detected); - reads standard input')
    .option('--connect <host[:port]>', 'take the chain from a live server, every address of the host (STARTTLS; implicit TLS on port 465); default port 25')
    .option('--sni <name>', 'SNI name sent with --connect (default: the TLSA base domain)')
    .addOption(new Option('--tls <mode>', 'with --connect: starttls or implicit (default: implicit on port 465, STARTTLS otherwise)'))
    .option('--host <name>', 'TLSA base domain for the owner _PORT._tcp.NAME (default: the --connect host name; with --verify, the one a sending MTA uses, RFC 7672 §2.2.2)')
    .option('--port <n>', 'port in the owner name (default: the --connect port, else 25)')
    .option('--usage <u>', 'certificate usage: 3 (dane-ee, default), 2 (dane-ta), 1, 0')
    .option('--selector <s>', 'selector: 1 (spki, default) or 0 (cert)')
    .option('--mtype <m>', 'matching type: 1 (sha256, default), 2 (sha512) or 0 (full)')
    .option('--record <u s m...>', 'record parameters as three numbers, e.g. --record 2 0 1 (repeatable)')
    .option('--verify', 'look up the published TLSA RRset and check it against the live server (needs --connect); exit 0 only when authenticated')
    .option('--resolver <ip[:port]>', 'validating DNS resolver for --verify, also for the --connect host\'s addresses (default: first nameserver in /etc/resolv.conf; the system resolver when generating)')
    .option(...commonOption('--trust-anchor'))
    .option(...commonOption('--validate'))
    .option('--next <file>', 'rollover check: the next key or certificate; exit 0 only when the published RRset matches current and next')
    .option('--rrset <file>', 'published RRset as zone-file TLSA lines (instead of --verify) for --next')
    .option('--helo <name>', 'EHLO name for --connect (default: this host name)')
    .option('--timeout <seconds>', TIMEOUT_HELP, '30')
    .option('--json', 'one JSON object instead of the human report')
    .action(async (file: string | undefined, o: TlsaOptions) => {
      // Loaded when the command runs: `--help` and the other commands do not pay for it.
      const [{ runTlsa }, { defaultIo }] = await Promise.all([import('./tlsa/run.js'), import('./tlsa/io.js')]);
      setExit(await runTlsa(file, o, { ...defaultIo, ...io }));
    });
}
