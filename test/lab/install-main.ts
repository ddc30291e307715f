/**
 * `node dist/test/lab/install-main.js`: install the Debian packages the tests need (the
 * lab's daemons, and ldnsutils and openssl, which unit tests also use) when missing.
 * Run by `npm test` before any test, so a fresh Debian machine needs nothing else.
 */
import { ensureLabPackages } from './install.js';

ensureLabPackages({ log: (line) => console.log(`[install] ${line}`) }).then(
  (installed) => {
    if (installed.length > 0) console.log(`[install] installed ${installed.join(' ')}`);
  },
  (err: unknown) => {
    console.error(`dane-smtp tests: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
