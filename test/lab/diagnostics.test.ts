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
  'ta-expired-leaf.test': ['cert-expired'],
  'ta-leaf-expires-soon.test': ['cert-expires-soon'],
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
  'dnskey-unknown.test': ['mx-bogus'],
  'ds-wrong-digest.test': ['mx-bogus'],
  'nsec3-missing.test': ['mx-bogus'],
  'tlsa-denial-missing.test': ['tlsa-bogus'],
  'sig-expiring.test': ['rrsig-expires-soon', 'rrsig-expires-soon', 'no-rollover-slack'],
  'unsupported-ds.test': [],
  'ta-nc-outside.test': ['ta-chain-invalid'],
  'ta-nc-excluded-below.test': ['ta-chain-invalid'],
  'ta-critical-ext-fallback.test': ['ta-chain-invalid'],
  'ta-nc-inside.test': [],
  'ee-ignores-constraints.test': ['no-rollover-slack'],
  // Unusual leaves (issue 19): only the advice every single 3 1 1 gets; the empty subject is no finding.
  'ee-empty-subject.test': ['no-rollover-slack'],
  'ee-rsa-pss.test': ['no-rollover-slack'],
  'ee-ed448.test': ['no-rollover-slack'],
  // 2 0 0 supplies the anchor the server leaves out (RFC 7671 §5.2.2): no ta-not-served.
  'ta-full-anchor-not-served.test': [],
  // TLS 1.0 is accepted (RFC 7672 §8.1, like Postfix) but gets advice (RFC 8996); the single 3 1 1 leaves no slack.
  'tls10-only.test': ['no-rollover-slack', 'tls-old-version'],
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
    expect(k!.message).toMatch(/publish "_25\._tcp\.mx\.key-rollover-error\.test\. IN TLSA 3 1 1 [0-9a-f]{64}"/);
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

  it('signatures expiring in 3 days (sig-expiring.test): rrsig-expires-soon for the MX and the TLSA RRset, still authenticated', () => {
    const r = byDomain.get('sig-expiring.test')!;
    expect(r.verdict).toBe('dane-authenticated');
    const soon = findingsOf('sig-expiring.test').filter((f) => f.code === 'rrsig-expires-soon');
    expect(soon.map((f) => f.severity)).toEqual(['warning', 'warning']);
    expect(soon[0]!.host).toBeUndefined();
    expect(soon[0]!.message).toMatch(/RRSIG over the MX RRset of sig-expiring\.test expires .*re-sign the zone/);
    expect(soon[1]).toMatchObject({ host: 'mx.sig-expiring.test' });
    expect(soon[1]!.message).toContain('TLSA RRset of _25._tcp.mx.sig-expiring.test');
    const left = Date.parse((r.mx as { signatureExpires: string }).signatureExpires) - Date.now();
    expect(Math.round(left / 86_400_000)).toBe(3);
  });

  it('DANE-TA certificate dates: cert-expired for an expired leaf (tempfail), cert-expires-soon for one valid 10 more days (authenticated)', () => {
    expect(byDomain.get('ta-expired-leaf.test')!.verdict).toBe('tempfail');
    const [expired] = findingsOf('ta-expired-leaf.test');
    expect(expired).toMatchObject({ severity: 'error', host: 'mx.ta-expired-leaf.test' });
    expect(expired!.message).toMatch(/^under DANE-TA \(TLSA 2 1 1 .*\), .*expired .*: renew the certificate$/);
    const r = byDomain.get('ta-leaf-expires-soon.test')!;
    expect(r.verdict).toBe('dane-authenticated');
    const [soon] = findingsOf('ta-leaf-expires-soon.test');
    expect(soon).toMatchObject({ severity: 'warning', host: 'mx.ta-leaf-expires-soon.test' });
    const leaf = (r.hosts as { attempts: { chain?: { depth: number; notAfter: string }[] }[] }[])[0]!.attempts[0]!.chain!.find((c) => c.depth === 0)!;
    expect(Math.round((Date.parse(leaf.notAfter) - Date.now()) / 86_400_000)).toBe(10);
    expect(soon!.message).toContain(`the certificate at depth 0 of mx.ta-leaf-expires-soon.test (CN=mx.ta-leaf-expires-soon.test) expires ${leaf.notAfter}`);
  });

  it('the new bogus variants say why in mx-bogus (unbound EDE: DNSKEY Missing, RRSIGs/NSEC Missing)', () => {
    expect(findingsOf('dnskey-unknown.test')[0]!.message).toMatch(/EDE 9\b/);
    expect(findingsOf('ds-wrong-digest.test')[0]!.message).toMatch(/EDE 9\b/);
    expect(findingsOf('nsec3-missing.test')[0]!.message).toMatch(/EDE 1[02]\b/);
  });

  it('ta-chain-invalid says which RFC 5280 rule the DANE-TA chain breaks (name constraints, critical extension)', () => {
    for (const d of ['ta-nc-outside.test', 'ta-nc-excluded-below.test']) {
      const [f] = findingsOf(d);
      expect(f).toMatchObject({ severity: 'error', host: `mx.${d}` });
      expect(f!.message).toMatch(/nameConstraints.*RFC 5280 §4\.2\.1\.10/);
    }
    const [c] = findingsOf('ta-critical-ext-fallback.test');
    expect(c).toMatchObject({ severity: 'error', host: 'mx1.ta-critical-ext-fallback.test' });
    expect(c!.message).toMatch(/critical extension.*1\.3\.6\.1\.4\.1\.32473\.1\.1.*RFC 5280 §4\.2/);
  });

  it('the human output has a "fix:" line per finding', async () => {
    const run = await runCli(checkArgs(world!.resolver, ['ta-not-sent.test'], false));
    const fixes = run.stdout.split('\n').filter((l) => l.trimStart().startsWith('fix:'));
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toContain('ta-not-served');
  });
});
