/**
 * The package's version, read once from its package.json (the one place it is written).
 * Found by walking up from this module: src/version.ts in the repository (tests), and
 * dist/src/version.js in the build and the installed package, both reach the package root.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    let pkg: { name?: unknown; version?: unknown } | undefined;
    try {
      pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    } catch {
      /* none here (or unreadable): look further up */
    }
    if (pkg?.name === 'dane-smtp' && typeof pkg.version === 'string') return pkg.version;
    const up = dirname(dir);
    if (up === dir) throw new Error('dane-smtp: cannot find its own package.json');
    dir = up;
  }
}

/** The version of this dane-smtp, as in its package.json. */
export const VERSION: string = readVersion();
