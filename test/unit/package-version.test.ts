/** The version is written once, in package.json: the library, the CLI and the transport say it. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/index.js';
import { buildProgram } from '../../src/cli/program.js';
import { daneTransport } from '../../src/nodemailer/transport.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('VERSION', () => {
  it("is package.json's version, and the CLI's --version and the transport's version are it", () => {
    expect(VERSION).toBe(pkg.version);
    expect(buildProgram(() => {}).version()).toBe(pkg.version);
    expect(daneTransport().version).toBe(pkg.version);
  });
});
