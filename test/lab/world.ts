/**
 * The lab world: a loopback Internet of real servers.
 *
 *   127.X.Y.1:53  nsd for the private root `.` (RSASHA256, NSEC)
 *   127.X.Y.2:53  nsd for the TLD `test` (ECDSAP256SHA256, NSEC3)
 *   127.X.Y.3:53  nsd for every scenario zone (mixed algorithms / NSEC / NSEC3 / unsigned)
 *   127.X.Y.4:53  unbound, validating from the lab root's DS (the only trust anchor)
 *   127.X.Y.5:53  nsd without zones (REFUSED), target of lame delegations
 *   127.X.Y.10+:25 smtp-server receivers (one per MX host), [::1]:25 for the IPv6 scenario
 *
 * X.Y is random per run; binds are checked and another block is tried when they fail.
 * `startWorld()` builds and starts everything; `world.stop()` kills every daemon, closes
 * the receivers and removes the work directory. It is idempotent and also runs on process
 * exit / SIGINT / SIGTERM; a detached watchdog kills the daemons if this process dies hard.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync, copyFileSync, chmodSync } from 'node:fs';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { associationData, makeCa, makeHostCerts, type Ca, type CaFamily, type HostCerts } from './certs.js';
import { ensureLabPackages, findBinary } from './install.js';
import { addressMissing, isLoopback, randomBlock, tcpBindError, unbindable, type BindNeed } from './net.js';
import { startReceiver, ReceiverLog, type RunningReceiver, type ReceiverConfig } from './receivers.js';
import { scenarios as allScenarios, type RecordSpec, type Scenario, type ZoneSigning } from './scenarios.js';
import { buildZone, fqdn, type BuiltZone, type Signing, type ZoneInput } from './zones.js';

const execFileAsync = promisify(execFile);

export type { Scenario, Verdict } from './scenarios.js';
export type { ReceivedMessage, ReceiverConnection } from './receivers.js';
export { ReceiverLog } from './receivers.js';

export interface ReceiverInfo {
  name: string;
  scenario: string;
  address: string;
  port: number;
  /** Offers STARTTLS. */
  starttls: boolean;
}

export interface DigResult {
  status: string;
  flags: string[];
  /** `ad` flag set. */
  ad: boolean;
  /** Answer section lines. */
  answer: string[];
  /** Extended DNS Error text, e.g. "7 (Signature Expired)". */
  ede?: string;
  raw: string;
}

export interface ResolverQuery {
  /** Client address. */
  client: string;
  /** Lower-case, no trailing dot. */
  name: string;
  type: string;
}

/** Parses unbound's `log-queries` lines: `... info: 127.1.2.3 _25._tcp.mx.x.test. TLSA IN`. */
export function parseQueryLog(text: string): ResolverQuery[] {
  const out: ResolverQuery[] = [];
  for (const line of text.split('\n')) {
    const m = /info: (\S+) (\S+) (\S+) IN$/.exec(line.trim());
    if (m && m[1] && m[2] && m[3]) out.push({ client: m[1], name: m[2].toLowerCase().replace(/\.$/, ''), type: m[3] });
  }
  return out;
}

/** A scenario left out of the world (the IPv6 one when [::1]:25 cannot be bound). */
export interface Skipped {
  domain: string;
  /** e.g. "[::1]:25 cannot be bound (EADDRINUSE)". */
  reason: string;
  /** The bind error code. */
  code: string;
  /** The machine has no such address (IPv6 disabled): not a fault of the test run. */
  unavailable: boolean;
}

export interface World {
  /** "IP:PORT" of the validating unbound. */
  resolver: string;
  resolverAddress: string;
  resolverPort: number;
  /** The 127.X.Y prefix of this run. */
  block: string;
  /** Scenarios available in this world (the IPv6 one is left out when ::1 is unusable). */
  scenarios: Scenario[];
  /** Scenarios left out, with the reason. */
  skipped: Skipped[];
  /** Every message / connection the receivers saw. */
  receivers: ReceiverLog;
  /** Every receiver of the world. */
  receiverList: ReceiverInfo[];
  nameservers: { root: string; tld: string; leaf: string };
  /** DS of the lab root (unbound's trust anchor). */
  rootDs: string[];
  workDir: string;
  /** `dig +dnssec @resolver name type`, parsed. */
  dig(name: string, type: string): Promise<DigResult>;
  /** Every query the lab unbound received so far (from its log-queries log), in order. */
  resolverQueries(): ResolverQuery[];
  /**
   * Starts another daemon of a lab package (`binary`: nsd, unbound) like the world's own:
   * detached in its own process group with its pgid in run/ (the watchdog kills it after a
   * SIGKILL of this process), SIGTERM then SIGKILL on stop() and on exit/SIGINT/SIGTERM.
   * Output goes to workDir/NAME.out; `log()` is its tail (and that of workDir/NAME/log).
   */
  startDaemon(name: string, binary: string, args: string[]): { pid: number | undefined; exited: Promise<void>; log(): string };
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Progress lines, e.g. console.log. */
  log?: (line: string) => void;
  /** Install missing packages with apt-get (default true). */
  install?: boolean;
  /** Subset of scenarios (default: all). */
  scenarios?: Scenario[];
  /** Keep the work directory on stop (debugging). */
  keepWorkDir?: boolean;
}

const TLD = 'test';

// ---------------------------------------------------------------------------------------
// Process bookkeeping: everything that must die with us.

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const liveWorlds = new Set<{ emergency(): void }>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const w of liveWorlds) w.emergency();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      for (const w of liveWorlds) w.emergency();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

// ---------------------------------------------------------------------------------------

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}

function signingOf(s: ZoneSigning): Signing {
  switch (s) {
    case 'unsigned':
      return 'unsigned';
    case 'ecdsa-nsec':
      return { algorithm: 'ECDSAP256SHA256', nsec3: false };
    case 'ecdsa-nsec3':
      return { algorithm: 'ECDSAP256SHA256', nsec3: true };
    case 'rsa-nsec':
      return { algorithm: 'RSASHA256', nsec3: false };
    case 'rsa-nsec3':
      return { algorithm: 'RSASHA256', nsec3: true };
  }
}

/** Parses `dig` output. */
export function parseDig(raw: string): DigResult {
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+);/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const ede = /; EDE: ([^\n]+)/.exec(raw)?.[1]?.trim();
  const answer: string[] = [];
  const lines = raw.split('\n');
  const start = lines.findIndex((l) => l.startsWith(';; ANSWER SECTION:'));
  if (start >= 0) {
    for (const l of lines.slice(start + 1)) {
      if (!l.trim()) break;
      answer.push(l);
    }
  }
  return { status, flags, ad: flags.includes('ad'), answer, ...(ede ? { ede } : {}), raw };
}

export async function dig(server: string, port: number, name: string, type: string, extra: string[] = []): Promise<DigResult> {
  if (!isLoopback(server)) throw new Error(`refusing to query ${server}: not loopback`);
  const bin = findBinary('dig') ?? 'dig';
  const { stdout } = await execFileAsync(
    bin,
    [`@${server}`, '-p', String(port), '+dnssec', '+time=2', '+tries=1', '+nomultiline', '+nosplit', ...extra, name, type],
    { timeout: 10_000 },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return parseDig(stdout);
}

// ---------------------------------------------------------------------------------------
// Binaries: when an AppArmor profile confines a daemon (e.g. Debian's usr.sbin.unbound),
// it could not read a private config under /tmp; run a copy the profile does not attach to.

function daemonBinary(name: string, workDir: string): string {
  const bin = findBinary(name);
  if (!bin) throw new Error(`${name} not installed`);
  let confined = false;
  try {
    const profiles = readFileSync('/sys/kernel/security/apparmor/profiles', 'utf8');
    confined = profiles.split('\n').some((l) => l.startsWith(bin) && l.includes('(enforce)'));
  } catch {
    /* no AppArmor */
  }
  if (!confined) return bin;
  const copy = join(workDir, 'bin', name);
  mkdirSync(join(workDir, 'bin'), { recursive: true });
  if (!existsSync(copy)) {
    copyFileSync(bin, copy);
    chmodSync(copy, 0o755);
  }
  return copy;
}

// ---------------------------------------------------------------------------------------

interface Plan {
  scenarios: Scenario[];
  skipped: Skipped[];
  receivers: (ReceiverConfig & { starttls: boolean })[];
  /** receiver name → address */
  addressOf: Map<string, string>;
}

function planAddresses(block: string, scenarios: Scenario[], ipv6Error: string | undefined): Plan {
  const skipped: Plan['skipped'] = [];
  const used: Scenario[] = [];
  for (const s of scenarios) {
    if (s.ipv6 && ipv6Error !== undefined) {
      skipped.push({ domain: s.domain, reason: `[::1]:25 cannot be bound (${ipv6Error})`, code: ipv6Error, unavailable: addressMissing(ipv6Error) });
    } else used.push(s);
  }
  const receivers: Plan['receivers'] = [];
  const addressOf = new Map<string, string>();
  let next = 10;
  let ipv6Taken = false;
  for (const s of used) {
    for (const h of s.hosts) {
      if (addressOf.has(h.name)) throw new Error(`receiver ${h.name} declared twice`);
      let address: string;
      if (h.ipv6) {
        if (ipv6Taken) throw new Error('only one IPv6 receiver ([::1]:25) is possible');
        ipv6Taken = true;
        address = '::1';
      } else {
        if (next > 254) throw new Error('too many receivers for one /24');
        address = `${block}.${next++}`;
      }
      addressOf.set(h.name, address);
      receivers.push({ name: h.name, scenario: s.domain, address, port: 25, tls: false, starttls: h.tls !== false });
    }
  }
  return { scenarios: used, skipped, receivers, addressOf };
}

function recordLines(records: RecordSpec[], addressOf: Map<string, string>, certs: Map<string, HostCerts>): string[] {
  return records.map((r) => {
    const owner = fqdn(r.owner);
    switch (r.type) {
      case 'MX':
        return `${owner} 60 IN MX ${r.preference} ${fqdn(r.exchange)}`;
      case 'A':
      case 'AAAA': {
        const address = addressOf.get(r.host);
        if (!address) throw new Error(`${owner} ${r.type}: no receiver ${r.host}`);
        const isV6 = address.includes(':');
        if ((r.type === 'AAAA') !== isV6) throw new Error(`${owner} ${r.type}: receiver ${r.host} is at ${address}`);
        return `${owner} 60 IN ${r.type} ${address}`;
      }
      case 'CNAME':
        return `${owner} 60 IN CNAME ${fqdn(r.target)}`;
      case 'TXT':
        return `${owner} 60 IN TXT "${r.text.replace(/"/g, '')}"`;
      case 'TLSA': {
        const hc = certs.get(r.from.host);
        if (!hc) throw new Error(`${owner} TLSA: no certificates for ${r.from.host}`);
        const which = r.from.cert ?? 'leaf';
        const cert = which === 'leaf' ? hc.leaf : which === 'unserved' ? hc.unserved : hc[which];
        if (!cert) throw new Error(`${owner} TLSA: ${r.from.host} has no ${which} certificate`);
        let data = associationData(cert, r.selector, r.matchingType);
        if (r.from.spoil === 'wrong') data = associationData({ ...cert, der: Buffer.from('wrong'), spkiDer: Buffer.from('wrong') }, r.selector, r.matchingType === 0 ? 1 : r.matchingType);
        if (r.from.spoil === 'truncate') data = data.subarray(0, data.length - 1);
        return `${owner} 60 IN TLSA ${r.usage} ${r.selector} ${r.matchingType} ${data.toString('hex')}`;
      }
    }
  });
}

export async function startWorld(options: StartOptions = {}): Promise<World> {
  const log = options.log ?? ((): void => {});
  const t0 = Date.now();
  const step = (msg: string): void => log(`[lab ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  if (options.install !== false) {
    const installed = await ensureLabPackages({ log: step });
    if (installed.length) step(`installed ${installed.join(', ')}`);
  }
  installExitHooks();

  const workDir = await mkdtemp(join(tmpdir(), 'dane-lab-'));
  const daemons: Daemon[] = [];
  const running: RunningReceiver[] = [];
  const receiverLog = new ReceiverLog();
  let watchdog: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;

  const emergency = (): void => {
    for (const d of daemons) killGroup(d.child.pid, 'SIGKILL');
    killGroup(watchdog?.pid, 'SIGKILL');
    if (!options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
  };
  const handle = { emergency };
  liveWorlds.add(handle);

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all(running.map((r) => r.close()));
      for (const d of daemons) killGroup(d.child.pid, 'SIGTERM');
      await Promise.race([
        Promise.all(daemons.map((d) => d.exited)),
        new Promise((r) => setTimeout(r, 3000).unref()),
      ]);
      for (const d of daemons) killGroup(d.child.pid, 'SIGKILL');
      // Nothing left bound when stop() resolves (bounded, in case a kill is stuck).
      await Promise.race([
        Promise.all(daemons.map((d) => d.exited)),
        new Promise((r) => setTimeout(r, 5000).unref()),
      ]);
      killGroup(watchdog?.pid, 'SIGKILL');
      if (!options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
      // Only now: a signal arriving while stopping still kills everything.
      liveWorlds.delete(handle);
    })());

  // Every daemon: its own process group (pgid in run/ for the watchdog), killed by stop(),
  // emergency() and the exit/signal hooks.
  const spawnDaemon = (name: string, bin: string, args: string[]): Daemon => {
    if (stopped) throw new Error(`world stopped: not starting ${name}`);
    if (daemons.some((d) => d.name === name)) throw new Error(`daemon ${name} already started`);
    const out = openSync(join(workDir, `${name}.out`), 'a');
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => {});
    if (child.pid) writeFileSync(join(workDir, 'run', `${name}.pgid`), String(child.pid));
    const d = { name, child, exited };
    daemons.push(d);
    return d;
  };

  try {
    // Watchdog: if this process dies without running its exit hooks (SIGKILL), kill the
    // daemons (process groups listed in run/*.pgid) and remove the work directory.
    mkdirSync(join(workDir, 'run'));
    watchdog = spawn(
      '/bin/sh',
      [
        '-c',
        `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
          `for f in "$1"/run/*.pgid; do [ -f "$f" ] && kill -9 -"$(cat "$f")" 2>/dev/null; done; ` +
          (options.keepWorkDir ? 'true' : `rm -rf -- "$1"`),
        'dane-lab-watchdog',
        workDir,
      ],
      { detached: true, stdio: 'ignore' },
    );
    watchdog.unref();

    const scenarioList = options.scenarios ?? allScenarios;
    checkScenarios(scenarioList);

    // Certificates first: TLSA data depends on them; they do not depend on addresses.
    step('generating certificate chains');
    const [ecdsaCa, rsaCa] = await Promise.all([makeCa('ecdsa'), makeCa('rsa')]);
    const cas: Record<CaFamily, Ca> = { ecdsa: ecdsaCa, rsa: rsaCa };
    const certs = new Map<string, HostCerts>();
    const hostsNeedingUnserved = new Set<string>();
    for (const s of scenarioList)
      for (const z of s.zones)
        for (const r of z.records) if (r.type === 'TLSA' && r.from.cert === 'unserved') hostsNeedingUnserved.add(r.from.host);
    const allHosts = scenarioList.flatMap((s) => s.hosts);
    await mapLimit(allHosts, 16, async (h) => {
      const profile = h.tls === false ? {} : (h.tls ?? {});
      certs.set(h.name, await makeHostCerts(h.name, profile, cas, hostsNeedingUnserved.has(h.name)));
    });
    step(`${certs.size} receiver certificates ready`);

    let lastError: unknown;
    for (let attempt = 1; attempt <= 5; attempt++) {
      // Checked per attempt: another world in another process may hold [::1]:25.
      const ipv6Error = scenarioList.some((s) => s.ipv6) ? await tcpBindError('::1', 25) : undefined;
      const block = randomBlock();
      const plan = planAddresses(block, scenarioList, ipv6Error);
      const ns = { root: `${block}.1`, tld: `${block}.2`, leaf: `${block}.3` };
      const resolverAddress = `${block}.4`;
      const needs: BindNeed[] = [
        ...[ns.root, ns.tld, ns.leaf, resolverAddress, `${block}.5`].map((address) => ({ address, port: 53, udp: true })),
        ...plan.receivers.map((r) => ({ address: r.address, port: r.port })),
      ];
      const busy = await unbindable(needs);
      if (busy.length) {
        step(`block ${block}.0/24 busy (${busy.map((b) => `${b.address}:${b.port}`).slice(0, 3).join(', ')}), trying another`);
        continue;
      }
      step(`using ${block}.0/24${plan.skipped.length ? ` (skipped: ${plan.skipped.map((s) => s.domain).join(', ')})` : ''}`);
      try {
        // Receivers (in-process; a failing bind shows at once).
        for (const r of plan.receivers) {
          const h = plan.scenarios.flatMap((s) => s.hosts).find((x) => x.name === r.name);
          const hc = certs.get(r.name);
          const tls =
            h?.tls === false || !hc
              ? false
              : {
                  key: hc.leaf.keyPem,
                  cert: hc.servedPem,
                  ...(h?.tls10Only ? { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1' as const, ciphers: 'DEFAULT@SECLEVEL=0' } : {}),
                };
          running.push(await startReceiver({ ...r, tls, ...(h?.smtp ? { smtp: h.smtp } : {}) }, receiverLog));
        }
        step(`${running.length} SMTP receivers listening`);

        // Zones: scenario zones, then the TLD with their DS, then the root.
        step('generating keys and signing zones');
        const leafZones = plan.scenarios.flatMap((s) => s.zones);
        const lame = new Set(leafZones.filter((z) => z.lame).map((z) => fqdn(z.name)));
        const built = await mapLimit(leafZones, 12, (z) =>
          buildZone(workDir, {
            name: z.name,
            mname: `ns-leaf.${TLD}.`,
            signing: signingOf(z.signing),
            records: [`${fqdn(z.name)} 60 IN NS ns-leaf.${TLD}.`, ...recordLines(z.records, plan.addressOf, certs)],
            ...(z.tamper ? { tamper: z.tamper } : {}),
            ...(z.expiresInDays !== undefined ? { expiresInDays: z.expiresInDays } : {}),
          } satisfies ZoneInput),
        );
        const dsOf = new Map(leafZones.map((z) => [fqdn(z.name), z.ds]));
        // One signed zone per TLD: `test` (the lab's own, with the name servers' addresses)
        // and any other TLD a zone is under (`org`, `com`, `net` for the documentation's
        // example names, doc-domains.ts), each delegated from the root and served by nsd-tld.
        const tldNames = [TLD, ...new Set(built.map((b) => tldOf(b.name)).filter((t) => t !== TLD))];
        const tlds = await Promise.all(
          tldNames.map((name) =>
            buildZone(workDir, {
              name,
              mname: `ns.${TLD}.`,
              signing: { algorithm: 'ECDSAP256SHA256', nsec3: true },
              records: [
                `${name}. 60 IN NS ns.${TLD}.`,
                ...(name === TLD
                  ? [
                      `ns.${TLD}. 60 IN A ${ns.tld}`,
                      `ns-leaf.${TLD}. 60 IN A ${ns.leaf}`,
                      // Lame delegations point at an nsd without zones (.5): it REFUSEs every query and
                      // the resolver gives up with SERVFAIL (no validation verdict).
                      `ns-lame.${TLD}. 60 IN A ${block}.5`,
                    ]
                  : []),
                ...built
                  .filter((b) => tldOf(b.name) === name)
                  .flatMap((b) => [`${b.name} 60 IN NS ${lame.has(b.name) ? 'ns-lame' : 'ns-leaf'}.${TLD}.`, ...spoilDs(b.ds, dsOf.get(b.name))]),
              ],
            }),
          ),
        );
        const root = await buildZone(workDir, {
          name: '.',
          mname: 'a.root-lab.',
          signing: { algorithm: 'RSASHA256', nsec3: false },
          records: [
            `. 60 IN NS a.root-lab.`,
            `a.root-lab. 60 IN A ${ns.root}`,
            `ns.${TLD}. 60 IN A ${ns.tld}`,
            ...tlds.flatMap((t) => [`${t.name} 60 IN NS ns.${TLD}.`, ...t.ds]),
          ],
        });
        step(`${built.length + tlds.length + 1} zones signed (${built.filter((b) => b.signed).length + tlds.length + 1} signed, ${built.filter((b) => !b.signed).length} unsigned)`);

        // nsd instances.
        const nsdBin = daemonBinary('nsd', workDir);
        const nsdInstances: [string, string, BuiltZone[]][] = [
          ['nsd-root', ns.root, [root]],
          ['nsd-tld', ns.tld, tlds],
          ['nsd-leaf', ns.leaf, built.filter((b) => !lame.has(b.name))],
          ...(lame.size ? [['nsd-lame', `${block}.5`, []] as [string, string, BuiltZone[]]] : []),
        ];
        const nsdDaemons = await Promise.all(
          nsdInstances.map(async ([name, address, zones]) => {
            const conf = await writeNsdConf(workDir, name, address, zones);
            return spawnDaemon(name, nsdBin, ['-d', '-c', conf]);
          }),
        );
        await Promise.all(
          nsdInstances.map(([name, address, zones], i) =>
            waitFor(`${name} on ${address}`, nsdDaemons[i] as Daemon, workDir, async () => {
              const r = await dig(address, 53, zones[0]?.name ?? '.', 'SOA', ['+norec']);
              return zones.length === 0 ? r.status === 'REFUSED' : r.status === 'NOERROR' && r.flags.includes('aa');
            }),
          ),
        );
        step('nsd root, TLD and leaf servers answering');

        const ubConf = await writeUnboundConf(workDir, resolverAddress, ns.root, root.ds);
        const ub = await spawnDaemon('unbound', daemonBinary('unbound', workDir), ['-d', '-c', ubConf]);
        await waitFor(`unbound on ${resolverAddress}`, ub, workDir, async () => {
          const r = await dig(resolverAddress, 53, `${TLD}.`, 'SOA');
          return r.status === 'NOERROR' && r.ad;
        });
        step(`unbound validating on ${resolverAddress}:53 (lab ready in ${((Date.now() - t0) / 1000).toFixed(1)}s)`);

        const world: World = {
          resolver: `${resolverAddress}:53`,
          resolverAddress,
          resolverPort: 53,
          block,
          scenarios: plan.scenarios,
          skipped: plan.skipped,
          receivers: receiverLog,
          receiverList: plan.receivers.map(({ name, scenario, address, port, starttls }) => ({ name, scenario, address, port, starttls })),
          nameservers: ns,
          rootDs: root.ds,
          workDir,
          dig: (name, type) => dig(resolverAddress, 53, name, type),
          startDaemon: (name, binary, args) => {
            const d = spawnDaemon(name, daemonBinary(binary, workDir), args);
            return { pid: d.child.pid, exited: d.exited, log: () => tailOf(workDir, name) };
          },
          resolverQueries: () => {
            try {
              return parseQueryLog(readFileSync(join(workDir, 'unbound', 'log'), 'utf8'));
            } catch {
              return [];
            }
          },
          stop,
        };
        return world;
      } catch (err) {
        lastError = err;
        // Only a lost race for an address is worth another block; anything else is a bug.
        if (!/EADDRINUSE|EACCES|address already in use|can't bind|could not bind|Address already/i.test(String((err as Error).message))) throw err;
        step(`block ${block}.0/24 failed: ${(err as Error).message.split('\n')[0]}`);
        // Tear down this attempt, keep the work dir for the next one.
        await Promise.all(running.splice(0).map((r) => r.close()));
        for (const d of daemons) killGroup(d.child.pid, 'SIGKILL');
        await Promise.all(daemons.splice(0).map((d) => d.exited));
        rmSync(join(workDir, 'zones'), { recursive: true, force: true });
        rmSync(join(workDir, 'run'), { recursive: true, force: true });
        mkdirSync(join(workDir, 'run'));
      }
    }
    const hint = typeof process.getuid === 'function' && process.getuid() !== 0 ? ' (ports 25 and 53 need root)' : '';
    throw new Error(`could not start the lab world${hint}: ${String((lastError as Error | undefined)?.message ?? 'no free 127.X.Y.0/24 block')}`);
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The DS lines the TLD publishes for a zone (`owner ttl IN DS tag alg digesttype digest`):
 * as made, with the digest's first byte flipped (`wrong-digest`), or with the digest type
 * replaced by 200, unassigned, and a random digest of SHA-256 length (`unsupported-digest`).
 */
export function spoilDs(ds: string[], how: 'wrong-digest' | 'unsupported-digest' | undefined): string[] {
  if (!how) return ds;
  return ds.map((line) => {
    const f = line.split(/\s+/);
    if (f[3] !== 'DS' || f.length < 8) throw new Error(`unexpected DS line: ${line}`);
    const digest = Buffer.from(f.slice(7).join(''), 'hex');
    if (how === 'wrong-digest') {
      digest[0] = (digest[0] ?? 0) ^ 0xff;
      return [...f.slice(0, 7), digest.toString('hex').toUpperCase()].join('\t');
    }
    return [...f.slice(0, 6), '200', randomBytes(32).toString('hex').toUpperCase()].join('\t');
  });
}

/** `example.org.` → `org`. */
function tldOf(zone: string): string {
  return fqdn(zone).slice(0, -1).split('.').pop() ?? '';
}

function checkScenarios(list: Scenario[]): void {
  const zones = new Set<string>();
  const domains = new Set<string>();
  for (const s of list) {
    if (domains.has(s.domain)) throw new Error(`scenario ${s.domain} declared twice`);
    domains.add(s.domain);
    for (const z of s.zones) {
      const labels = z.name.split('.');
      if (labels.length !== 2 || !labels[0] || !labels[1]) throw new Error(`zone ${z.name}: must be a direct child of a TLD (${TLD}, or org/com/net for examples)`);
      if (zones.has(z.name)) throw new Error(`zone ${z.name} declared twice`);
      zones.add(z.name);
    }
  }
}

async function waitFor(what: string, d: Daemon, workDir: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void d.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) break;
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} ${exited ? 'exited' : 'did not become ready'}:\n${tailOf(workDir, d.name)}`);
}

function tailOf(workDir: string, name: string): string {
  let tail = '';
  for (const f of [`${name}.out`, `${name}/log`]) {
    try {
      tail += readFileSync(join(workDir, f), 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      /* none */
    }
  }
  return tail;
}

export async function writeNsdConf(workDir: string, name: string, address: string, zones: BuiltZone[]): Promise<string> {
  const dir = join(workDir, name);
  await mkdir(dir, { recursive: true });
  const conf = [
    'server:',
    `  ip-address: ${address}`,
    '  port: 53',
    '  do-ip4: yes',
    '  do-ip6: no',
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${workDir}"`,
    '  database: ""',
    `  zonelistfile: "${dir}/zone.list"`,
    `  pidfile: "${dir}/nsd.pid"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  xfrdir: "${dir}"`,
    `  logfile: "${dir}/log"`,
    '  server-count: 1',
    '  verbosity: 1',
    '  hide-version: yes',
    '  reuseport: no',
    '  refuse-any: yes',
    'remote-control:',
    '  control-enable: no',
    ...zones.flatMap((z) => ['zone:', `  name: "${z.name}"`, `  zonefile: "${z.file}"`]),
    '',
  ].join('\n');
  const file = join(dir, 'nsd.conf');
  await writeFile(file, conf);
  return file;
}

/**
 * unbound's config. `scale: 'big'` (the benchmark's thousand-domain lab) trades the
 * short test TTLs and query logging for large caches.
 */
export async function writeUnboundConf(workDir: string, address: string, rootNs: string, rootDs: string[], scale: 'lab' | 'big' = 'lab'): Promise<string> {
  const dir = join(workDir, 'unbound');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'root.hints'), `. 3600000 IN NS a.root-lab.\na.root-lab. 3600000 IN A ${rootNs}\n`);
  await writeFile(join(dir, 'root.ds'), rootDs.join('\n') + '\n');
  const conf = [
    'server:',
    `  verbosity: ${scale === 'big' ? 0 : 1}`,
    `  interface: ${address}`,
    '  port: 53',
    `  outgoing-interface: ${address}`,
    '  do-ip4: yes',
    '  do-ip6: no',
    '  do-udp: yes',
    '  do-tcp: yes',
    '  access-control: 127.0.0.0/8 allow',
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${dir}/unbound.pid"`,
    `  logfile: "${dir}/log"`,
    '  use-syslog: no',
    ...(scale === 'big' ? [] : ['  log-servfail: yes']),
    ...(scale === 'big' ? [] : ['  log-queries: yes']),
    ...(scale === 'big' ? [] : ['  val-log-level: 2']),
    '  do-not-query-localhost: no',
    `  root-hints: "${dir}/root.hints"`,
    `  trust-anchor-file: "${dir}/root.ds"`,
    '  trust-anchor-signaling: no',
    '  root-key-sentinel: no',
    '  module-config: "validator iterator"',
    // `test.` is one of unbound's default (RFC 6761) local zones; the lab TLD must be resolved.
    `  local-zone: "${TLD}." nodefault`,
    '  ede: yes',
    ...(scale === 'big'
      ? ['  msg-cache-size: 64m', '  rrset-cache-size: 128m', '  key-cache-size: 32m']
      : [
          '  cache-min-ttl: 0',
          '  cache-max-ttl: 30',
          '  cache-max-negative-ttl: 5',
          '  val-bogus-ttl: 5',
          '  infra-host-ttl: 30',
          '  infra-keep-probing: yes',
        ]),
    '  prefetch: no',
    '  num-threads: 1',
    '  so-reuseport: no',
    '  target-fetch-policy: "0 0 0 0 0"',
    '  hide-identity: yes',
    '  hide-version: yes',
    'remote-control:',
    '  control-enable: no',
    '',
  ].join('\n');
  const file = join(dir, 'unbound.conf');
  await writeFile(file, conf);
  return file;
}
