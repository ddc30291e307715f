/**
 * One list of settings (src/settings.ts): the command line and the library take the same
 * defaults and refuse the same values, each in its own words, before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { check } from '../../../src/api.js';
import { commonSettings, policySettings } from '../../../src/cli/options.js';
import { COMMON_OPTIONS, type CommonOptions } from '../../../src/cli/option-defs.js';
import { DEFAULT_LEVEL, INTEGER_SETTINGS, integerProblem } from '../../../src/settings.js';
import { FixtureResolver } from '../../support/fixture-resolver.js';

const cli = (over: Partial<CommonOptions>): CommonOptions => ({ level: 'dane', port: '25', timeout: '30', concurrency: '8', helo: 'client.test', resolver: '127.0.0.1', ...over });
const library = (over: Record<string, unknown>) => check('example.test', { resolver: new FixtureResolver({}), helo: 'client.test', ...over });

describe('settings shared by the CLI and the library', () => {
  it('the CLI defaults are the settings defaults', () => {
    const defaults = new Map(COMMON_OPTIONS.map(([flags, , d]) => [flags.split(' ')[0], d]));
    expect(defaults.get('--port')).toBe(String(INTEGER_SETTINGS.port.default));
    expect(defaults.get('--concurrency')).toBe(String(INTEGER_SETTINGS.concurrency.default));
    expect(Number(defaults.get('--timeout')) * 1000).toBe(INTEGER_SETTINGS.timeoutMs.default);
    expect(defaults.get('--level')).toBe(DEFAULT_LEVEL);
  });

  it.each([
    ['port', 0, { port: '0' }],
    ['port', 65536, { port: '65536' }],
    ['concurrency', 1001, { concurrency: '1001' }],
    ['timeoutMs', 3_600_001, { timeout: '3600.001' }],
  ] as const)('%s %d is refused by both', async (setting, value, cliOver) => {
    expect(integerProblem(setting, value)).toBeDefined();
    expect(() => commonSettings(cli(cliOver))).toThrow(/must be/);
    await expect(library({ [setting]: value })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining(`${setting} must be an integer from`) });
  });

  it('the bounds themselves are accepted by both', () => {
    for (const setting of ['port', 'concurrency', 'timeoutMs'] as const) {
      const { min, max } = INTEGER_SETTINGS[setting];
      expect([integerProblem(setting, min), integerProblem(setting, max)]).toEqual([undefined, undefined]);
    }
    expect(commonSettings(cli({ port: '65535', concurrency: '1000', timeout: '3600' }))).toMatchObject({ port: 65535, concurrency: 1000, timeoutMs: 3_600_000 });
  });

  it('level fingerprint without fingerprints and an unknown level: refused by both', async () => {
    expect(() => policySettings(cli({ level: 'fingerprint' }))).toThrow(/needs fingerprints/);
    expect(() => policySettings(cli({ level: 'halfdane' }))).toThrow(/--level must be one of/);
    await expect(library({ level: 'fingerprint' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(library({ level: 'halfdane' })).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('a bad EHLO name: refused by both', async () => {
    expect(() => commonSettings(cli({ helo: 'bad name' }))).toThrow(/not a valid EHLO name/);
    await expect(library({ helo: 'bad name' })).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('not a valid EHLO name') });
  });
});
