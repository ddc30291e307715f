/**
 * `dane-smtp check --json` findings against the lab world (real nsd + unbound + SMTP
 * receivers): each broken lab domain gets the finding code that tells its operator what
 * to fix, a healthy one only advice. Needs the built CLI (`npx tsc -p .`) and root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkArgs, cliBuilt, runCli, type CliResult } from './cli.js';
import { startWorld, type World } from './world.js';

interface Finding {
  code: string;
  severity: 'error' | 'warning' | 'advice';
  host?: string;
  message: string;
}

/** Lab domain → the finding codes `check` must report, in its order (errors, warnings, advice). */
const EXPECTED: Record<string, string[]> = {
  'pkix-only.test': ['tlsa-pkix-usage', 'tlsa-pkix-usage'],
  'ta-not-sent.test': ['ta-not-served'],
  'ta-wrong-name.test': ['ta-name-mismatch'],
  'key-rollover-error.test': ['tlsa-no-match'],
  'starttls-missing.test': ['starttls-missing'],
  'mx-expired-sig.test': ['mx-bogus'],
  'unusable-length.test': ['tlsa-digest-length'],
  'ee-311.test': ['no-rollover-slack'],
  'unusable-usage.test': ['tlsa-unknown-parameter'],
  'digest-agility.test': ['tlsa-no-match', 'tlsa-weaker-digest'],
  'tlsa-bogus.test': ['tlsa-bogus'],
  'mx-lame.test': ['dns-indeterminate'],
  'host-addr-bogus.test': ['dns-bogus'],
  'cname-to-insecure.test': ['cname-insecure', 'no-rollover-slack'],
  'ta-211-intermediate.test': [],
};

let world: World | undefined;
const byDomain = new Map<string, CliResult>();

beforeAll(async () => {
  if (!cliBuilt()) throw new Error('build first: npx tsc -p .');
  world = await startWorld({ log: (line) => console.log(line) });
  const domains = Object.keys(EXPECTED).filter((d) => world!.scenarios.some((s) => s.domain === d));
  const run = await runCli(checkArgs(world.resolver, domains), { timeoutMs: 120_000 });
  for (const r of run.json) byDomain.set(r.domain, r);
}, 300_000);

afterAll(async () => {
  await world?.stop();
});

function findingsOf(domain: string): Finding[] {
  const r = byDomain.get(domain);
  if (!r) throw new Error(`no --json result for ${domain}`);
  expect(Array.isArray(r.findings)).toBe(true);
  return r.findings as Finding[];
}

describe('check --json findings on lab domains', () => {
  it.each(Object.entries(EXPECTED))('%s → %j', (domain, codes) => {
    expect(findingsOf(domain).map((f) => f.code)).toEqual(codes);
  });

  it('findings name the host and carry a message', () => {
    const [f] = findingsOf('starttls-missing.test');
    expect(f).toMatchObject({ severity: 'error', host: 'mx.starttls-missing.test' });
    expect(f!.message).toContain('does not offer STARTTLS');
    const [k] = findingsOf('key-rollover-error.test');
    expect(k!.message).toMatch(/publish "3 1 1 [0-9a-f]{64}"/);
    expect(findingsOf('ee-311.test')[0]!.severity).toBe('advice');
    expect(findingsOf('pkix-only.test').every((x) => x.severity === 'error')).toBe(true);
    // digest-agility: the matching 3 1 1 is hidden by the wrong 3 1 2 (RFC 7671 §9).
    expect(findingsOf('digest-agility.test')[0]!.message).toContain('ignored because a stronger digest is published');
  });

  it('mx-bogus says why, from the resolver’s Extended DNS Error', () => {
    const [f] = findingsOf('mx-expired-sig.test');
    expect(f!.host).toBeUndefined();
    expect(f!.message).toMatch(/EDE \d+/);
  });

  it('secure MX and TLSA answers carry the RRSIG expiration (lab signatures last 30 days: no rrsig-expires-soon)', () => {
    const r = byDomain.get('ee-311.test')!;
    const mx = r.mx as { signatureExpires?: string };
    expect(mx.signatureExpires).toBeDefined();
    const left = Date.parse(mx.signatureExpires!) - Date.now();
    expect(left).toBeGreaterThan(7 * 86_400_000);
    expect(left).toBeLessThan(32 * 86_400_000);
    const tlsa = (r.hosts as { dns: { type: string; signatureExpires?: string }[] }[])[0]!.dns.find((d) => d.type === 'TLSA');
    expect(tlsa?.signatureExpires).toBeDefined();
  });

  it('the human output has a "fix:" line per finding', async () => {
    const run = await runCli(checkArgs(world!.resolver, ['ta-not-sent.test'], false));
    const fixes = run.stdout.split('\n').filter((l) => l.trimStart().startsWith('fix:'));
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toContain('ta-not-served');
  });
});
