/**
 * The `dane-smtp` command line: check, send, tlsa, scan and report, declared here (options
 * in option-defs.ts); each command's code is loaded when it runs (deliver-command.ts,
 * cli/tlsa/run.ts, scan-actions.ts), so `--help` loads only commander. main.ts is the
 * executable. Usage errors exit 64 with one line, never a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../core/outcome.js';
import { DaneSmtpError } from '../errors.js';
import { VERSION } from '../version.js';
import type { CliDeps } from './deps.js';
import { oneLine } from './one-line.js';
import { withCommon, type CommonOptions } from './option-defs.js';
import { registerReportCommand, registerScanCommand } from './scan-command.js';
import { registerTlsaCommand } from './tlsa-command.js';


export function buildProgram(setExit: (code: number) => void, deps: CliDeps = {}): Command {
  const program = new Command('dane-smtp')
    .description('SMTP with DANE (RFC 7672): authenticate mail servers with DNSSEC-signed TLSA records')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(`dane-smtp: ${oneLine(s.replace(/^error: /, '').replace(/\n+\(Did you mean/, ' (did you mean'))}\n`) })
    .showSuggestionAfterError(true);

  withCommon(
    program
      .command('check')
      .description('check each domain as delivery would (MX, TLSA, STARTTLS, authentication), then QUIT without sending')
      .argument('<destination...>', 'mail domains, or fixed next hops [host] / [host]:port')
      .option('--all', 'probe every MX host and address (diagnosis)'),
  ).action(async (domains: string[], o: CommonOptions & { all?: boolean }) => {
    // Loaded when the command runs: `--help` and the other commands do not pay for it.
    setExit(await (await import('./deliver-command.js')).runCheck(domains, o, deps));
  });

  withCommon(
    program
      .command('send')
      .description('deliver an RFC 5322 message from standard input to the recipients\' domains')
      .addOption(new Option('--from <address>', 'envelope sender (use "" for the null sender)').makeOptionMandatory())
      .addOption(new Option('--to <address>', 'envelope recipient (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]).makeOptionMandatory())
      .option('--nexthop <[host]:port>', 'send every recipient to this fixed next hop instead of MX hosts'),
  ).action(async (o: CommonOptions & { from: string; to: string[]; nexthop?: string }) => {
    setExit(await (await import('./deliver-command.js')).runSend(o, deps));
  });
  registerTlsaCommand(program, setExit);
  registerScanCommand(program, setExit);
  registerReportCommand(program, setExit);
  return program;
}


let stdoutGuarded = false;
/**
 * A closed or full standard output (`| head`, /dev/full) must not crash the process in the
 * middle of deliveries: the error is said once on stderr, the rest of the output is dropped,
 * the work goes on and the exit status still tells what happened to the mail.
 */
export function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  let said = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (said) return;
    said = true;
    process.stderr.write(`dane-smtp: standard output failed (${e.code ?? e.message}): the remaining output is dropped; the exit status still counts every destination\n`);
  });
}

export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  let code: number = EXIT.OK;
  guardStdout();
  if (argv.length <= 2) {
    process.stderr.write('dane-smtp: no command given (check, send, tlsa, scan, report): see dane-smtp --help\n');
    return EXIT.USAGE;
  }
  const program = buildProgram((c) => (code = c), deps);
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
      // Help shown because no command was given is a usage error; `dane-smtp help` is not.
      if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return EXIT.USAGE; // commander already printed its one line
    }
    // A UsageError (cli/options.ts) is a DaneSmtpError USAGE.
    if (e instanceof DaneSmtpError && e.code === 'USAGE') {
      process.stderr.write(`dane-smtp: ${oneLine(e.message)}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`dane-smtp: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    return EXIT.TEMPFAIL;
  }
}
