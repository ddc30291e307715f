/**
 * Issue 6 in the lab: built-in DNSSEC validation (--trust-anchor) gives every scenario
 * the same verdict as the AD-bit mode, also through a recursive resolver that does not
 * validate at all; and it catches a forged unsigned answer that the AD-bit mode trusts.
 */
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply, startDnsServer, type ScriptedDnsServer } from '../support/dns-server.js';
import { runCli, type CliResult } from './cli.js';
import { startWorld, type World } from './world.js';

let world: World;
let plainResolver = '';
let anchorFile = '';
let forger: ScriptedDnsServer | undefined;
let plainGone: Promise<boolean> | undefined;

/**
 * A second unbound on the lab's block that only iterates: no validation, no AD bits. A daemon
 * of the world (world.startDaemon): stopped with it, and by its exit hooks and watchdog.
 */
async function startPlainUnbound(w: World): Promise<string> {
  const address = `${w.block}.7`;
  const dir = join(w.workDir, 'unbound-plain');
  mkdirSync(dir, { recursive: true });
  const conf = readFileSync(join(w.workDir, 'unbound', 'unbound.conf'), 'utf8')
    .split('\n')
    .filter((l) => !/trust-anchor-file|module-config/.test(l))
    .map((l) =>
      l
        .replace(/interface: .*/, `interface: ${address}`)
        .replace(/outgoing-interface: .*/, `outgoing-interface: ${address}`)
        .replace(/pidfile: .*/, `pidfile: "${dir}/unbound.pid"`)
        .replace(/logfile: .*/, `logfile: "${dir}/log"`),
    )
    .join('\n')
    .replace('server:\n', 'server:\n  module-config: "iterator"\n');
  const file = join(dir, 'unbound.conf');
  writeFileSync(file, conf);
  const d = w.startDaemon('unbound-plain', 'unbound', ['-d', '-c', file]);
  let exited = false;
  plainGone = d.exited.then(() => (exited = true));
  for (let i = 0; i < 100 && !exited; i++) {
    const r = await w.dig('test.', 'SOA').catch(() => undefined); // warm the validating one too
    const p = await runCli(['check', '--resolver', `${address}:53`, '--timeout', '2', '--json', 'ee-311.test']);
    if (r && p.json[0] && p.json[0].verdict !== 'tempfail') return `${address}:53`;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`plain unbound ${exited ? 'exited' : 'did not start'}:\n${d.log()}`);
}

/** Forwards to the lab's unbound, but forges an unsigned MX answer with AD=1 for ee-311.test. */
async function startForger(w: World): Promise<ScriptedDnsServer> {
  return startDnsServer(
    async (query, _transport, client) => {
      const q = query.questions?.[0];
      if (q && q.name.toLowerCase() === 'ee-311.test' && q.type === 'MX') {
        return reply(query, { ad: true, answers: [{ type: 'MX', name: 'ee-311.test', ttl: 60, data: { preference: 10, exchange: 'mx.no-tlsa.test' } }] });
      }
      return forward(client.raw, w.resolverAddress, w.resolverPort);
    },
    { address: `${w.block}.8` },
  );
}

function forward(raw: Buffer, address: string, port: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, 3000);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(msg);
    });
    s.bind({ address: '127.0.0.1', port: 0 }, () => s.send(raw, port, address));
  });
}

beforeAll(async () => {
  world = await startWorld();
  anchorFile = join(world.workDir, 'lab-root.ds');
  writeFileSync(anchorFile, world.rootDs.join('\n') + '\n');
  plainResolver = await startPlainUnbound(world);
  forger = await startForger(world);
}, 300_000);

afterAll(async () => {
  await forger?.close();
  await world?.stop(); // also the plain unbound: SIGTERM, awaited, then SIGKILL
  if (plainGone) expect(await Promise.race([plainGone, false]), 'the plain unbound exited with the world').toBe(true);
});

async function verdicts(args: string[]): Promise<Map<string, CliResult>> {
  const domains = world.scenarios.map((s) => s.domain);
  const run = await runCli(['check', '--timeout', '5', '--json', ...args, ...domains], { timeoutMs: 300_000 });
  return new Map(run.json.map((j) => [j.domain, j]));
}

describe('validating mode (--trust-anchor)', () => {
  it('every scenario: the same verdict as with a validating resolver', async () => {
    const got = await verdicts(['--resolver', world.resolver, '--trust-anchor', anchorFile]);
    for (const s of world.scenarios) {
      expect(got.get(s.domain)?.verdict, `${s.domain}: ${got.get(s.domain)?.reason}`).toBe(s.expect.verdict);
    }
  });

  it('every scenario: the same verdict through a resolver that does not validate at all', async () => {
    const got = await verdicts(['--resolver', plainResolver, '--trust-anchor', anchorFile]);
    for (const s of world.scenarios) {
      const r = got.get(s.domain);
      expect(r?.verdict, `${s.domain}: ${r?.reason}`).toBe(s.expect.verdict);
      if (s.expect.hosts.length) expect(s.expect.hosts, s.domain).toContain(r?.host);
    }
  });

  it('AD-bit mode through that resolver: the probe says it does not validate, and DANE is off', async () => {
    const run = await runCli(['check', '--resolver', plainResolver, '--timeout', '5', '--json', 'ee-311.test']);
    expect(run.stderr).toMatch(/DANE is OFF/);
    expect(run.json[0]).toMatchObject({ resolverValidates: false, verdict: 'opportunistic' });
  });

  it('a forged unsigned answer with AD=1: trusted in AD-bit mode, bogus when validating', async () => {
    const resolver = `${forger!.address}:${forger!.port}`;
    const ad = await runCli(['check', '--resolver', resolver, '--timeout', '5', '--json', 'ee-311.test']);
    expect(ad.json[0]?.host, 'the AD bit alone is forgeable').toBe('mx.no-tlsa.test');
    const validated = await runCli(['check', '--resolver', resolver, '--trust-anchor', anchorFile, '--timeout', '5', '--json', 'ee-311.test']);
    expect(validated.json[0]).toMatchObject({ verdict: 'tempfail', host: null });
    expect(String(validated.json[0]?.reason)).toMatch(/bogus/);
  });

  it('a trust anchor that does not match the root: everything signed is bogus, said plainly', async () => {
    const wrong = join(world.workDir, 'wrong.ds');
    writeFileSync(wrong, world.rootDs.map((l) => l.replace(/[0-9a-fA-F]{64}\s*$/, '00'.repeat(32))).join('\n') + '\n');
    const run = await runCli(['check', '--resolver', world.resolver, '--trust-anchor', wrong, '--timeout', '5', '--json', 'ee-311.test']);
    // The root SOA probe itself is bogus: a failed probe names the anchor mismatch and
    // everything is deferred (fail closed).
    expect(run.stderr).toMatch(/failed the DNSSEC probe .*no DNSKEY of \. matches its DS/);
    expect(run.stderr).toMatch(/deferred/);
    expect(run.json[0]?.verdict).toBe('tempfail');
  });

  it('a malformed trust anchor file is a usage error', async () => {
    const bad = join(world.workDir, 'bad.ds');
    writeFileSync(bad, 'this is not a DS record\n');
    const run = await runCli(['check', '--resolver', world.resolver, '--trust-anchor', bad, 'ee-311.test']);
    expect(run.code).toBe(64);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
