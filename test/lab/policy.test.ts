/**
 * Issue 5 in the lab: each policy level does what it promises, on destinations with and
 * without DANE, through the CLI, confirmed at the receivers.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, labMessage, runCli } from './cli.js';
import { scenarios } from './scenarios.js';
import { startWorld, type World } from './world.js';

const execFileAsync = promisify(execFile);
const USED = ['insecure-mx-dane-host.test', 'ee-311.test', 'mx-insecure.test', 'no-tlsa.test', 'no-tlsa-no-starttls.test', 'wrong-digest.test', 'ta-201-root.test', 'ta-wrong-name.test'];
let world: World;
const dir = mkdtempSync(join(tmpdir(), 'dane-policy-'));

beforeAll(async () => {
  world = await startWorld({ scenarios: scenarios.filter((s) => USED.includes(s.domain)) });
}, 300_000);
afterAll(async () => {
  await world?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function policyFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function check(args: string[]) {
  const run = await runCli(['check', '--resolver', world.resolver, '--timeout', '5', '--json', ...args]);
  return { run, line: run.json[0] };
}

async function send(domain: string, args: string[]) {
  const token = randomBytes(8).toString('hex');
  const run = await runCli(['send', '--resolver', world.resolver, '--timeout', '5', '--json', '--helo', 'client.test', '--from', 'sender@client.test', '--to', `user@${domain}`, ...args], {
    input: labMessage(domain, token),
  });
  return { run, line: run.json[0], got: world.receivers.withToken(token) };
}

describe('policy levels (Postfix smtp_tls_policy_maps)', () => {
  it('default level dane, and the JSON says where the policy came from', async () => {
    const { line } = await check(['ee-311.test']);
    expect(line).toMatchObject({ verdict: 'dane-authenticated', level: 'dane', policySource: 'default' });
  });

  it('dane-only defers a domain with an insecure MX, and nothing is sent', async () => {
    const p = policyFile('dane-only', 'mx-insecure.test dane-only\n');
    const { run, line, got } = await send('mx-insecure.test', ['--policy', p]);
    expect(run.code).toBe(EXIT.TEMPFAIL);
    expect(line).toMatchObject({ verdict: 'tempfail', level: 'dane-only', policySource: `${p}:1` });
    expect(got).toEqual([]);
  });

  it('dane-only as the default level authenticates a DANE domain', async () => {
    const { line } = await check(['--level', 'dane-only', 'ee-311.test']);
    expect(line).toMatchObject({ verdict: 'dane-authenticated', level: 'dane-only', policySource: 'default' });
  });

  it('dane-only defers a signed domain without TLSA records', async () => {
    const { line } = await check(['--level', 'dane-only', 'no-tlsa.test']);
    expect(line?.verdict).toBe('tempfail');
  });

  it('none sends plaintext to a DANE domain when the operator says so', async () => {
    const p = policyFile('none', '# plaintext by agreement\nee-311.test none\n');
    const { run, line, got } = await send('ee-311.test', ['--policy', p]);
    expect(run.code).toBe(EXIT.OK);
    expect(line).toMatchObject({ verdict: 'opportunistic', tls: false, level: 'none', policySource: `${p}:2` });
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ receiver: 'mx.ee-311.test', tls: false });
  });

  it('may (DANE off globally) delivers over TLS to a host whose TLSA records do not match', async () => {
    const { run, line, got } = await send('wrong-digest.test', ['--level', 'may']);
    expect(run.code).toBe(EXIT.OK);
    expect(line).toMatchObject({ verdict: 'opportunistic', tls: true, level: 'may' });
    expect(got[0]).toMatchObject({ receiver: 'mx.wrong-digest.test', tls: true });
  });

  it('encrypt: TLS without authentication; defers when the host has no STARTTLS', async () => {
    const p = policyFile('encrypt', 'no-tlsa.test encrypt\nno-tlsa-no-starttls.test encrypt\n');
    const ok = await send('no-tlsa.test', ['--policy', p]);
    expect(ok.line).toMatchObject({ verdict: 'encrypt-unauthenticated', tls: true, level: 'encrypt' });
    expect(ok.got[0]).toMatchObject({ tls: true });
    const bad = await send('no-tlsa-no-starttls.test', ['--policy', p]);
    expect(bad.run.code).toBe(EXIT.TEMPFAIL);
    expect(bad.line?.verdict).toBe('tempfail');
    expect(bad.got).toEqual([]);
  });

  it('fingerprint: the certificate or public-key digest must match', async () => {
    const first = await check(['--all', 'no-tlsa.test']);
    const hosts = first.line?.hosts as { attempts: { chain: { certSha256: string; spkiSha256: string }[] }[] }[];
    const leaf = hosts[0]!.attempts[0]!.chain[0]!;
    const good = policyFile('fp-good', `no-tlsa.test fingerprint match=${leaf.spkiSha256.replace(/(..)(?!$)/g, '$1:')}\n`);
    expect((await check(['--policy', good, 'no-tlsa.test'])).line).toMatchObject({ verdict: 'fingerprint-authenticated', level: 'fingerprint' });
    const certFp = policyFile('fp-cert', `no-tlsa.test fingerprint match=${leaf.certSha256}\n`);
    expect((await check(['--policy', certFp, 'no-tlsa.test'])).line?.verdict).toBe('fingerprint-authenticated');
    const wrong = policyFile('fp-wrong', `no-tlsa.test fingerprint match=${'00'.repeat(32)}\n`);
    const { run, line } = await check(['--policy', wrong, 'no-tlsa.test']);
    expect(run.code).toBe(EXIT.TEMPFAIL);
    expect(line?.verdict).toBe('tempfail');
  });

  it('verify and secure: PKIX with the given CA file and host-name matching', async () => {
    // The lab's RSA root, as the ta-201-root receiver serves it (leaf, intermediate, root).
    const rx = world.receiverList.find((r) => r.name === 'mx.ta-201-root.test')!;
    // stdin closed at once: s_client prints the chain, sees EOF and quits (no wait for the timeout).
    const sclient = execFileAsync('openssl', ['s_client', '-starttls', 'smtp', '-connect', `${rx.address}:25`, '-showcerts'], { timeout: 15_000 });
    sclient.child.stdin?.end();
    const { stdout } = await sclient.catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    const pems = stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(pems.length).toBe(3);
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, `${pems[2]}\n`);
    const p = policyFile('pkix', 'ta-201-root.test verify\nta-wrong-name.test secure match=nexthop:dot-nexthop\n');
    const ok = await check(['--policy', p, '--ca-file', ca, 'ta-201-root.test']);
    expect(ok.line, ok.run.stderr + ok.run.stdout).toMatchObject({ verdict: 'pkix-authenticated', level: 'verify' });
    const noCa = await check(['--policy', p, 'ta-201-root.test']);
    expect(noCa.line?.verdict, 'not trusted by the bundled roots').toBe('tempfail');
    const wrongName = await check(['--policy', p, '--ca-file', ca, 'ta-wrong-name.test']);
    expect(wrongName.line?.verdict).toBe('tempfail');
  });

  it('[host] and [host]:port next hops skip the MX lookup', async () => {
    const p = policyFile('nexthop', '[mx.ee-311.test]:25 dane-only\n');
    const { line } = await check(['--policy', p, '[mx.ee-311.test]:25']);
    expect(line).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.ee-311.test', level: 'dane-only', policySource: `${p}:1` });
    const viaRelay = await send('elsewhere.test', ['--nexthop', '[mx.no-tlsa.test]']);
    expect(viaRelay.run.code).toBe(EXIT.OK);
    expect(viaRelay.got[0]).toMatchObject({ receiver: 'mx.no-tlsa.test', tls: true });
  });

  it('[IP address]:port next hops: no DNS at all; dane is opportunistic, dane-only defers, encrypt and fingerprint work', async () => {
    const rx = world.receiverList.find((r) => r.name === 'mx.ee-311.test')!;
    const hop = `[${rx.address}]:${rx.port}`;
    // Level dane (the default): DANE cannot apply to an address, TLS is opportunistic.
    const viaDefault = await send('elsewhere.test', ['--nexthop', hop]);
    expect(viaDefault.run.code, viaDefault.run.stderr).toBe(EXIT.OK);
    expect(viaDefault.line).toMatchObject({ verdict: 'opportunistic', host: rx.address, address: rx.address, tls: true, nextHop: hop });
    expect(viaDefault.got).toHaveLength(1);
    expect(viaDefault.got[0]).toMatchObject({ receiver: 'mx.ee-311.test', tls: true, servername: null });
    // dane-only: deferred, nothing connected.
    const only = policyFile('ip-dane-only', `${hop} dane-only\n`);
    const before = world.receivers.connectionsTo('mx.ee-311.test').length;
    const deferred = await send('elsewhere.test', ['--nexthop', hop, '--policy', only]);
    expect(deferred.run.code).toBe(EXIT.TEMPFAIL);
    expect(deferred.line).toMatchObject({ verdict: 'tempfail', level: 'dane-only', policySource: `${only}:1` });
    expect(deferred.got).toEqual([]);
    expect(world.receivers.connectionsTo('mx.ee-311.test').length).toBe(before);
    // encrypt and fingerprint from a Postfix table with address-literal keys.
    const first = await check([hop]);
    const leaf = (first.line?.hosts as { attempts: { chain: { spkiSha256: string }[] }[] }[])[0]!.attempts[0]!.chain[0]!;
    const p = policyFile('ip-levels', `[${rx.address}] encrypt\n${hop} fingerprint match=${leaf.spkiSha256}\n`);
    expect((await check(['--policy', p, `[${rx.address}]`])).line).toMatchObject({ verdict: 'encrypt-unauthenticated', level: 'encrypt', policySource: `${p}:1` });
    expect((await check(['--policy', p, hop])).line).toMatchObject({ verdict: 'fingerprint-authenticated', policySource: `${p}:2` });
  });

  it('--dane-insecure-mx: DANE for a secure host behind an insecure MX RRset (RFC 7672 §2.2.1)', async () => {
    expect((await check(['insecure-mx-dane-host.test'])).line).toMatchObject({ verdict: 'opportunistic', host: 'mx.ee-311.test', tls: true });
    const { line } = await check(['--dane-insecure-mx', 'insecure-mx-dane-host.test']);
    expect(line).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.ee-311.test' });
    // The MX RRset is not trusted: only the TLSA base domain is a reference identifier.
    expect((line?.hosts as { level: string }[])[0]?.level).toBe('dane');
  });

  it('a malformed table is refused with file and line, before anything is sent', async () => {
    const p = policyFile('bad', 'ee-311.test dane\nee-311.test sometimes\n');
    const before = world.receivers.connections.length;
    const { run, got } = await send('ee-311.test', ['--policy', p]);
    expect(run.code).toBe(64);
    expect(run.stderr).toContain(`${p}:2: unknown TLS level 'sometimes'`);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(got).toEqual([]);
    expect(world.receivers.connections.length).toBe(before);
  });
});
