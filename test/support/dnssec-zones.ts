/**
 * Signed test zones made at test time with ldnsutils: `ldns-keygen`, `ldns-signzone`
 * (NSEC, or NSEC3 with iterations, salt, opt-out) and `ldns-key2ds`. Each zone is parsed
 * back into RRs (RDATA in canonical wire form) for the in-memory upstream of
 * dnssec-upstream.ts. Bogus data on purpose: a signature by a key that is not published,
 * a validity window in the past.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseZoneText } from '../../src/dns/dnssec/zone-text.js';
import { parseRrsig, T, type RawRecord } from '../../src/dns/dnssec/wire-dnssec.js';

const run = promisify(execFile);

export type Algorithm =
  | 'RSASHA1'
  | 'RSASHA1-NSEC3-SHA1'
  | 'RSASHA256'
  | 'RSASHA512'
  | 'ECDSAP256SHA256'
  | 'ECDSAP384SHA384'
  | 'ED25519'
  | 'ED448';

export interface ZoneSpec {
  /** Apex without trailing dot; '' for the root. */
  name: string;
  /** Master-file lines, absolute names. SOA and apex NS are added. */
  records?: string[];
  /** Omitted: unsigned. */
  algorithm?: Algorithm;
  /** A separate ZSK (same algorithm) besides the KSK. */
  zsk?: boolean;
  nsec3?: { iterations?: number; salt?: string; optOut?: boolean };
  /** Unix seconds; default now-1d .. now+30d. */
  inception?: number;
  expiration?: number;
  /** Replace these RRSIGs by ones made with a key that is not in the zone's DNSKEY set. */
  foreignSignatures?: Array<{ owner: string; type: string }>;
}

export interface BuiltZone {
  name: string;
  records: RawRecord[];
  /** Signed zone text (or the unsigned text). */
  text: string;
  /** DS lines for the parent (SHA-256), `owner. IN DS ...`; [] when unsigned. */
  ds: string[];
  /** The KSK's DNSKEY line, when signed. */
  dnskey?: string;
  kskTag?: number;
  /** Path of the KSK's `.key` file, when signed. */
  kskFile?: string;
  signed: boolean;
}

const DAY = 86_400;

export function fqdn(name: string): string {
  return name === '' ? '.' : `${name}.`;
}

async function tool(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const r = await run(cmd, args, { cwd, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** True when ldns-keygen and ldns-signzone are on the PATH. */
export async function haveLdns(): Promise<boolean> {
  try {
    await run('ldns-keygen', ['-a', 'list']);
    return true;
  } catch {
    return false;
  }
}

async function keygen(dir: string, zone: string, alg: Algorithm, ksk: boolean): Promise<string> {
  const bits = alg.startsWith('RSA') ? ['-b', '2048'] : [];
  const out = await tool('ldns-keygen', ['-a', alg, ...bits, ...(ksk ? ['-k'] : []), fqdn(zone)], dir);
  const base = out.trim().split('\n').pop()?.trim();
  if (!base) throw new Error(`ldns-keygen printed nothing for ${fqdn(zone)}`);
  return base;
}

let workDir: Promise<string> | undefined;
function baseDir(): Promise<string> {
  // One directory for all zones of this process, also under concurrent buildZone calls.
  workDir ??= mkdtemp(join(tmpdir(), 'dnssec-zones-'));
  return workDir;
}

/** Removes the key and zone files made so far. */
export async function cleanupZones(): Promise<void> {
  if (workDir) await rm(await workDir, { recursive: true, force: true });
  workDir = undefined;
}

let counter = 0;

/** Runs an ldns tool (for tests that need more than buildZone). */
export { tool as ldnsTool };

export async function buildZone(spec: ZoneSpec, now = Math.floor(Date.now() / 1000)): Promise<BuiltZone> {
  const origin = fqdn(spec.name);
  const dir = join(await baseDir(), `${counter++}-${spec.name || 'root'}`);
  await mkdir(dir, { recursive: true });
  const ns = spec.name === '' ? 'a.root-servers.invalid.' : `ns.${origin}`;
  const lines = [
    '$TTL 300',
    `${origin} 300 IN SOA ${ns} hostmaster.${spec.name === '' ? 'invalid.' : origin} 1 3600 600 86400 60`,
    `${origin} 300 IN NS ${ns}`,
    ...(spec.name === '' ? [] : [`${ns} 300 IN A 192.0.2.53`]),
    ...(spec.records ?? []),
  ];
  const plain = `${lines.join('\n')}\n`;
  await writeFile(join(dir, 'zone'), plain);
  if (!spec.algorithm) {
    return { name: spec.name, records: parseZoneText(plain), text: plain, ds: [], signed: false };
  }
  const ksk = await keygen(dir, spec.name, spec.algorithm, true);
  const keys = [ksk];
  if (spec.zsk) keys.push(await keygen(dir, spec.name, spec.algorithm, false));
  const inception = spec.inception ?? now - DAY;
  const expiration = spec.expiration ?? now + 30 * DAY;
  const n3 = spec.nsec3
    ? ['-n', '-t', String(spec.nsec3.iterations ?? 0), ...(spec.nsec3.salt ? ['-s', spec.nsec3.salt] : []), ...(spec.nsec3.optOut ? ['-p'] : [])]
    : [];
  const sign = async (out: string, withKeys: string[], extra: string[] = []) => {
    await tool('ldns-signzone', [...n3, ...extra, '-i', String(inception), '-e', String(expiration), '-f', out, 'zone', ...withKeys], dir);
    return readFile(join(dir, out), 'utf8');
  };
  const text = await sign('zone.signed', keys);
  let records = parseZoneText(text);
  if (spec.foreignSignatures?.length) {
    const other = await keygen(dir, spec.name, spec.algorithm, false);
    // -d: the foreign key is not added to the zone; only its signatures are taken.
    const foreign = parseZoneText(await sign('zone.foreign', [other], ['-d']));
    for (const f of spec.foreignSignatures) {
      const owner = f.owner.replace(/\.$/, '');
      const covered = T[f.type as keyof typeof T];
      const isTarget = (r: RawRecord) => r.type === T.RRSIG && r.name === owner && parseRrsig(r.rdata).typeCovered === covered;
      const replacement = foreign.filter(isTarget);
      if (replacement.length === 0) throw new Error(`no foreign RRSIG ${f.type} at ${owner}`);
      records = [...records.filter((r) => !isTarget(r)), ...replacement];
    }
  }
  const dsOut = await tool('ldns-key2ds', ['-n', '-2', `${ksk}.key`], dir);
  const ds = dsOut.split('\n').map((l) => l.trim()).filter((l) => /\sDS\s/.test(l));
  const dnskey = (await readFile(join(dir, `${ksk}.key`), 'utf8')).split('\n').find((l) => /\sDNSKEY\s/.test(l))?.replace(/;.*$/, '').trim();
  const kskTag = Number(/\+(\d+)$/.exec(ksk)?.[1]);
  return { name: spec.name, records, text, ds, signed: true, kskTag, kskFile: join(dir, `${ksk}.key`), ...(dnskey ? { dnskey } : {}) };
}

/** A DS line with its digest altered (a wrong DS at the parent). */
export function corruptDs(line: string): string {
  const f = line.split(/\s+/);
  const digest = f[f.length - 1]!;
  const flipped = (parseInt(digest[0]!, 16) ^ 0xf).toString(16) + digest.slice(1);
  return [...f.slice(0, -1), flipped].join(' ');
}

/** A DS line with another digest type (and a digest of that type's length, made up). */
export function dsWithDigestType(line: string, digestType: number): string {
  const f = line.split(/\s+/);
  // owner [ttl] [class] DS tag alg type digest
  const i = f.indexOf('DS');
  return [...f.slice(0, i + 3), String(digestType), 'ab'.repeat(32)].join(' ');
}
