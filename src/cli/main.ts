#!/usr/bin/env node
/** The `dane-smtp` executable: runs the command line of program.ts and sets the exit status. */
import { EXIT } from '../core/outcome.js';
import { main } from './program.js';
import { oneLine } from './one-line.js';

// The last resort: a bug must still end in one line and a temporary failure (75), so that
// an MTA calling us retries instead of bouncing, and never in a stack trace.
process.on('uncaughtException', (e) => {
  process.stderr.write(`dane-smtp: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
  process.exit(EXIT.TEMPFAIL);
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = EXIT.TEMPFAIL;
  },
);
