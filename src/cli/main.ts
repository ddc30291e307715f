#!/usr/bin/env node
/** The `dane-smtp` executable: runs the command line of program.ts and sets the exit status. */
import { EX_TEMPFAIL, main } from './program.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = EX_TEMPFAIL;
  },
);
