/**
 * A larger lab for the scanner benchmark (`npm run bench`): many signed domains whose MX
 * hosts are shared, as mail hosting providers share them, on loopback.
 *
 *   127.X.Y.1:53  nsd, the private root `.` (RSASHA256, NSEC)
 *   127.X.Y.2:53  nsd, the TLD `test` (ECDSAP256SHA256, NSEC3) delegating every zone below
 *   127.X.Y.3:53  nsd, every provider and customer zone (one zone per domain)
 *   127.X.Y.4:53  unbound, validating from the lab root's DS
 *   127.X.Y.10+:25 one smtp-server receiver per provider MX host
 *
 * Providers `prov-K.test` have `hostsPerProvider` MX hosts `mxJ.prov-K.test`, one key and
 * certificate per provider (a DANE-EE 3 1 1 record per host). Provider 0 publishes only a
 * PKIX-EE (usage 1) record, which SMTP ignores (encrypt-unauthenticated); provider 1's
 * zone is unsigned (opportunistic); the others are proper DANE. Customer domains
 * `cNNNN.test` are each their own signed zone with two MX records at one provider; every
 * 50th has a null MX (undeliverable).
 *
 * Reuses the lab's building blocks (zones.ts, certs.ts, receivers.ts, net.ts, install.ts);
 * the nsd/unbound configuration follows world.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { associationData, makeCa, makeHostCerts, type HostCerts } from './certs.js';
import { findBinary } from './install.js';
import { randomBlock, unbindable, type BindNeed } from './net.js';
import { ReceiverLog, startReceiver, type RunningReceiver } from './receivers.js';
import { dig, killGroup, writeNsdConf, writeUnboundConf } from './world.js';
import { buildZone, type BuiltZone } from './zones.js';

export type BigVerdict = 'dane-authenticated' | 'encrypt-unauthenticated' | 'opportunistic' | 'undeliverable';

export interface BigLabOptions {
  /** Customer domains (default 1000). */
  domains?: number;
  /** Hosting providers (default 20, at least 3). */
  providers?: number;
  /** MX hosts per provider (default 10). providers × hostsPerProvider ≤ 240. */
  hostsPerProvider?: number;
  log?: (line: string) => void;
  /** Zones signed at once (default 8). */
  parallel?: number;
}

export interface BigLab {
  resolver: string;
  resolverAddress: string;
  block: string;
  /** Customer domains with the verdict a correct client reaches. */
  domains: { domain: string; expect: BigVerdict }[];
  receivers: number;
  zones: number;
  /** Seconds to build and start everything. */
  buildSeconds: number;
  stop(): Promise<void>;
}

const TLD = 'test';

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}


async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

export async function startBigLab(options: BigLabOptions = {}): Promise<BigLab> {
  const t0 = Date.now();
  const log = options.log ?? ((): void => {});
  const step = (m: string): void => log(`[big-lab ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const nDomains = options.domains ?? 1000;
  const nProviders = Math.max(3, options.providers ?? 20);
  const perProvider = options.hostsPerProvider ?? 10;
  if (nProviders * perProvider > 240) throw new Error('providers × hostsPerProvider must be at most 240 (one /24)');
  for (const bin of ['nsd', 'unbound', 'ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'openssl', 'dig']) {
    if (!findBinary(bin)) throw new Error(`${bin} is not installed (npm run lab installs the lab packages)`);
  }

  const workDir = await mkdtemp(join(tmpdir(), 'dane-big-lab-'));
  const daemons: Daemon[] = [];
  const receivers: RunningReceiver[] = [];
  let stopped: Promise<void> | undefined;
  const emergency = (): void => {
    for (const d of daemons) killGroup(d.child.pid, 'SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', emergency);
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all(receivers.map((r) => r.close()));
      for (const d of daemons) killGroup(d.child.pid, 'SIGTERM');
      await Promise.race([Promise.all(daemons.map((d) => d.exited)), new Promise((r) => setTimeout(r, 3000).unref())]);
      emergency();
      process.off('exit', emergency);
    })());

  try {
    mkdirSync(join(workDir, 'run'));
    let block = '';
    for (let attempt = 0; attempt < 8; attempt++) {
      const candidate = randomBlock();
      const needs: BindNeed[] = [
        ...[1, 2, 3, 4].map((i) => ({ address: `${candidate}.${i}`, port: 53, udp: true })),
        ...Array.from({ length: nProviders * perProvider }, (_, i) => ({ address: `${candidate}.${10 + i}`, port: 25 })),
      ];
      if ((await unbindable(needs)).length === 0) {
        block = candidate;
        break;
      }
    }
    if (!block) throw new Error('no free 127.X.Y.0/24 block');
    step(`using ${block}.0/24`);

    // Certificates: one key per provider, shared by its hosts (a DANE-EE record per host).
    const [ecdsa, rsa] = await Promise.all([makeCa('ecdsa'), makeCa('rsa')]);
    const providerCerts: HostCerts[] = await mapLimit(Array.from({ length: nProviders }, (_, k) => k), 8, (k) =>
      makeHostCerts(`mx0.prov-${k}.${TLD}`, { names: Array.from({ length: perProvider }, (_, j) => `mx${j}.prov-${k}.${TLD}`) }, { ecdsa, rsa }, false),
    );
    step(`${nProviders} provider certificates`);

    // Receivers.
    const receiverLog = new ReceiverLog();
    const hostAddress = (k: number, j: number): string => `${block}.${10 + k * perProvider + j}`;
    for (let k = 0; k < nProviders; k++) {
      const c = providerCerts[k]!;
      for (let j = 0; j < perProvider; j++) {
        receivers.push(
          await startReceiver(
            { name: `mx${j}.prov-${k}.${TLD}`, scenario: `prov-${k}.${TLD}`, address: hostAddress(k, j), port: 25, tls: { key: c.leaf.keyPem, cert: c.servedPem } },
            receiverLog,
          ),
        );
      }
    }
    step(`${receivers.length} SMTP receivers listening`);

    // Zones.
    const parallel = options.parallel ?? 8;
    const providerZones = await mapLimit(Array.from({ length: nProviders }, (_, k) => k), parallel, (k) => {
      const name = `prov-${k}.${TLD}`;
      const c = providerCerts[k]!;
      const records = [`${name}. 60 IN NS ns-leaf.${TLD}.`];
      for (let j = 0; j < perProvider; j++) {
        records.push(`mx${j}.${name}. 60 IN A ${hostAddress(k, j)}`);
        const usage = k === 0 ? 1 : 3;
        records.push(`_25._tcp.mx${j}.${name}. 60 IN TLSA ${usage} 1 1 ${associationData(c.leaf, 1, 1).toString('hex')}`);
      }
      return buildZone(workDir, {
        name,
        mname: `ns-leaf.${TLD}.`,
        signing: k === 1 ? 'unsigned' : { algorithm: 'ECDSAP256SHA256', nsec3: k % 2 === 0 },
        records,
      });
    });
    const domains: BigLab['domains'] = [];
    let done = 0;
    const customerZones = await mapLimit(Array.from({ length: nDomains }, (_, i) => i), parallel, async (i) => {
      const name = `c${String(i).padStart(4, '0')}.${TLD}`;
      const k = i % nProviders;
      const nullMx = i % 50 === 49;
      const records = [`${name}. 60 IN NS ns-leaf.${TLD}.`];
      if (nullMx) records.push(`${name}. 60 IN MX 0 .`);
      else {
        // Every host of the provider is some domains' first MX.
        const j = Math.floor(i / nProviders) % perProvider;
        records.push(`${name}. 60 IN MX 10 mx${j}.prov-${k}.${TLD}.`);
        records.push(`${name}. 60 IN MX 20 mx${(j + 1) % perProvider}.prov-${k}.${TLD}.`);
      }
      domains[i] = { domain: name, expect: nullMx ? 'undeliverable' : k === 0 ? 'encrypt-unauthenticated' : k === 1 ? 'opportunistic' : 'dane-authenticated' };
      const z = await buildZone(workDir, {
        name,
        mname: `ns-leaf.${TLD}.`,
        signing: { algorithm: i % 7 === 3 ? 'RSASHA256' : 'ECDSAP256SHA256', nsec3: i % 3 === 0 },
        records,
      });
      if (++done % 250 === 0) step(`${done}/${nDomains} customer zones signed`);
      return z;
    });
    const leafZones = [...providerZones, ...customerZones];
    const ns = { root: `${block}.1`, tld: `${block}.2`, leaf: `${block}.3` };
    const tld = await buildZone(workDir, {
      name: TLD,
      mname: `ns.${TLD}.`,
      signing: { algorithm: 'ECDSAP256SHA256', nsec3: true },
      records: [
        `${TLD}. 60 IN NS ns.${TLD}.`,
        `ns.${TLD}. 60 IN A ${ns.tld}`,
        `ns-leaf.${TLD}. 60 IN A ${ns.leaf}`,
        ...leafZones.flatMap((b) => [`${b.name} 60 IN NS ns-leaf.${TLD}.`, ...b.ds]),
      ],
    });
    const root = await buildZone(workDir, {
      name: '.',
      mname: 'a.root-lab.',
      signing: { algorithm: 'RSASHA256', nsec3: false },
      records: [`. 60 IN NS a.root-lab.`, `a.root-lab. 60 IN A ${ns.root}`, `${TLD}. 60 IN NS ns.${TLD}.`, `ns.${TLD}. 60 IN A ${ns.tld}`, ...tld.ds],
    });
    step(`${leafZones.length + 2} zones signed`);

    const spawnDaemon = (name: string, bin: string, args: string[]): Daemon => {
      const out = openSync(join(workDir, `${name}.out`), 'a');
      const child = spawn(bin, args, { detached: true, stdio: ['ignore', out, out] });
      closeSync(out);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.once('error', () => {});
      const d = { name, child, exited };
      daemons.push(d);
      return d;
    };
    const waitFor = async (what: string, d: Daemon, probe: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + 60_000;
      let exited = false;
      void d.exited.then(() => (exited = true));
      while (Date.now() < deadline && !exited) {
        if (await probe().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      let tail = '';
      try {
        tail = readFileSync(join(workDir, `${d.name}.out`), 'utf8').split('\n').slice(-10).join('\n');
      } catch {
        /* none */
      }
      throw new Error(`${what} ${exited ? 'exited' : 'did not become ready'}\n${tail}`);
    };
    const nsdBin = findBinary('nsd')!;
    const instances: [string, string, BuiltZone[]][] = [
      ['nsd-root', ns.root, [root]],
      ['nsd-tld', ns.tld, [tld]],
      ['nsd-leaf', ns.leaf, leafZones],
    ];
    for (const [name, address, zones] of instances) {
      const d = spawnDaemon(name, nsdBin, ['-d', '-c', await writeNsdConf(workDir, name, address, zones)]);
      writeFileSync(join(workDir, 'run', `${name}.pgid`), String(d.child.pid));
      const apex = zones[zones.length - 1]!.name;
      await waitFor(`${name} on ${address}`, d, async () => {
        const r = await dig(address, 53, apex, 'SOA', ['+norec']);
        return r.status === 'NOERROR' && r.flags.includes('aa');
      });
    }
    const resolverAddress = `${block}.4`;
    const ub = spawnDaemon('unbound', findBinary('unbound')!, ['-d', '-c', await writeUnboundConf(workDir, resolverAddress, ns.root, root.ds, 'big')]);
    await waitFor(`unbound on ${resolverAddress}`, ub, async () => {
      const r = await dig(resolverAddress, 53, `${TLD}.`, 'SOA');
      return r.status === 'NOERROR' && r.ad;
    });
    const buildSeconds = (Date.now() - t0) / 1000;
    step(`ready: ${nDomains} customer domains, ${receivers.length} receivers, resolver ${resolverAddress}:53`);
    return {
      resolver: `${resolverAddress}:53`,
      resolverAddress,
      block,
      domains,
      receivers: receivers.length,
      zones: leafZones.length + 2,
      buildSeconds,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
