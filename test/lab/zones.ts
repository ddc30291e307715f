/**
 * DNSSEC zone building with ldnsutils: keys (`ldns-keygen`), signatures (`ldns-signzone`,
 * NSEC or NSEC3 with 0 iterations and no salt), DS records (`ldns-key2ds`) and bogus data
 * made on purpose (an RRSIG replaced by an expired one from the same key, by one whose
 * signature bytes are flipped, or by one made with a key absent from the DNSKEY RRset; or a
 * denial-of-existence proof removed). Dates are relative to now: valid from now-1d to
 * now+30d (or now+`expiresInDays`).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from './install.js';

const execFileAsync = promisify(execFile);

export type DnssecAlgorithm = 'ECDSAP256SHA256' | 'RSASHA256';

export type Signing = 'unsigned' | { algorithm: DnssecAlgorithm; nsec3: boolean };

/**
 * - `expired`: the RRSIG over (owner, type) replaced by one from the same key that expired 10 days ago;
 * - `corrupt`: its signature bytes flipped;
 * - `unknown-key`: replaced by a valid RRSIG from another key whose DNSKEY is not in the zone;
 * - `no-denial`: (owner, type) does not exist, and the NSEC/NSEC3 record that proves it (the
 *   one matching `owner`, or its hash) is removed with its RRSIG: NODATA without proof.
 */
export type TamperHow = 'expired' | 'corrupt' | 'unknown-key' | 'no-denial';

export interface Tamper {
  /** Absolute owner name without trailing dot, e.g. `example.test`. */
  owner: string;
  /** Covered RR type, e.g. `MX`, `TLSA` (for `no-denial`: the type whose absence is unproven). */
  type: string;
  how: TamperHow;
}

export interface ZoneInput {
  /** Zone apex without trailing dot; '' or '.' for the root. */
  name: string;
  /** Master-file lines with absolute owner names (trailing dots). SOA is added here. */
  records: string[];
  signing: Signing;
  tamper?: Tamper[];
  /** Primary name server (absolute, trailing dot) for the SOA. */
  mname: string;
  /** Signatures expire this many days from now (default 30). */
  expiresInDays?: number;
}

export interface BuiltZone {
  name: string;
  /** File for nsd (signed when signed). */
  file: string;
  /** DS lines for the parent (empty when unsigned). */
  ds: string[];
  signed: boolean;
  /** Key tag and algorithm, for reports. */
  keyTag?: number;
  algorithm?: DnssecAlgorithm;
  nsec3?: boolean;
}

const DAY = 86_400;

export function fqdn(name: string): string {
  if (name === '' || name === '.') return '.';
  return name.endsWith('.') ? name.toLowerCase() : `${name.toLowerCase()}.`;
}

function fileStem(name: string): string {
  return name === '' || name === '.' ? 'root' : name.replace(/\.$/, '');
}

async function tool(name: string, args: string[], cwd: string): Promise<string> {
  const bin = findBinary(name) ?? name;
  try {
    const r = await execFileAsync(bin, args, { cwd, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    return r.stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Generates a key (a CSK: KSK flag, signs every RRset) in `dir`; returns its base name. */
async function keygen(dir: string, zone: string, algorithm: DnssecAlgorithm): Promise<string> {
  const args = ['-a', algorithm, ...(algorithm === 'RSASHA256' ? ['-b', '2048'] : []), '-k', zone];
  const out = await tool('ldns-keygen', args, dir);
  const base = out.trim().split('\n').pop()?.trim();
  if (!base) throw new Error(`ldns-keygen printed nothing for ${zone}`);
  return base;
}

async function sign(
  dir: string,
  input: string,
  output: string,
  key: string,
  nsec3: boolean,
  inception: number,
  expiration: number,
): Promise<string> {
  const args = [
    ...(nsec3 ? ['-n', '-t', '0'] : []),
    '-i', String(inception),
    '-e', String(expiration),
    '-f', output,
    input,
    key,
  ];
  await tool('ldns-signzone', args, dir);
  return readFile(join(dir, output), 'utf8');
}

interface RrsigLine {
  index: number;
  owner: string;
  covered: string;
}

function rrsigLines(lines: string[]): RrsigLine[] {
  const out: RrsigLine[] = [];
  lines.forEach((line, index) => {
    const f = line.split(/\s+/);
    if (f[3] === 'RRSIG' && f[0] && f[4]) out.push({ index, owner: f[0].toLowerCase(), covered: f[4].toUpperCase() });
  });
  return out;
}

/** Flips bits in the middle of the base64 signature (last field(s) of an RRSIG line). */
export function corruptRrsigLine(line: string): string {
  const f = line.split(/\s+/).filter(Boolean);
  // owner ttl class RRSIG covered alg labels origttl exp inc tag signer sig...
  const sigB64 = f.slice(12).join('');
  const sig = Buffer.from(sigB64, 'base64');
  const mid = Math.floor(sig.length / 2);
  sig[mid] = (sig[mid] ?? 0) ^ 0xff;
  sig[mid + 1] = (sig[mid + 1] ?? 0) ^ 0x55;
  return [...f.slice(0, 12), sig.toString('base64')].join('\t');
}

/** RFC 5155 hash with 0 iterations and no salt, base32hex lower case: the NSEC3 owner label. */
export function nsec3Label(name: string): string {
  const labels = fqdn(name) === '.' ? [] : fqdn(name).slice(0, -1).split('.');
  const wire = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  const h = createHash('sha1').update(wire).digest();
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of h) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** Builds one zone in `dir/<stem>/`: unsigned file, or keys + signed file + DS. */
export async function buildZone(workDir: string, zone: ZoneInput, now = Math.floor(Date.now() / 1000)): Promise<BuiltZone> {
  const origin = fqdn(zone.name);
  const stem = fileStem(zone.name);
  const dir = join(workDir, 'zones', stem);
  await mkdir(dir, { recursive: true });
  const rname = origin === '.' ? 'hostmaster.invalid.' : `hostmaster.${origin}`;
  const text =
    [
      `$TTL 60`,
      `${origin} 60 IN SOA ${zone.mname} ${rname} 1 3600 600 86400 60`,
      ...zone.records,
    ].join('\n') + '\n';
  const plain = join(dir, `${stem}.zone`);
  await writeFile(plain, text);
  if (zone.signing === 'unsigned') {
    if (zone.tamper?.length) throw new Error(`zone ${origin}: cannot tamper with an unsigned zone`);
    return { name: origin, file: plain, ds: [], signed: false };
  }
  const { algorithm, nsec3 } = zone.signing;
  const key = await keygen(dir, origin, algorithm);
  const signedName = `${stem}.zone.signed`;
  const expiration = now + (zone.expiresInDays ?? 30) * DAY;
  const signedText = await sign(dir, `${stem}.zone`, signedName, key, nsec3, now - DAY, expiration);
  let lines = signedText.split('\n');
  if (zone.tamper?.length) {
    const sigs = rrsigLines(lines);
    let oldLines: string[] | undefined;
    let strangerLines: string[] | undefined;
    const removed = new Set<number>();
    for (const t of zone.tamper) {
      const owner = fqdn(t.owner);
      if (t.how === 'no-denial') {
        const denialType = nsec3 ? 'NSEC3' : 'NSEC';
        const denialOwner = nsec3 ? `${nsec3Label(owner)}.${origin}` : owner;
        const proof = lines.map((l, i) => [l.split(/\s+/), i] as const).filter(
          ([f]) => f[0]?.toLowerCase() === denialOwner && (f[3] === denialType || (f[3] === 'RRSIG' && f[4] === denialType)),
        );
        if (proof.length !== 2) throw new Error(`zone ${origin}: no ${denialType} + RRSIG at ${denialOwner} (for ${owner})`);
        const types = proof.find(([f]) => f[3] === denialType)?.[0] ?? [];
        if (types.slice(nsec3 ? 9 : 5).map((x) => x.toUpperCase()).includes(t.type.toUpperCase()))
          throw new Error(`zone ${origin}: ${owner} has ${t.type}, nothing to deny`);
        for (const [, i] of proof) removed.add(i);
        continue;
      }
      const target = sigs.find((s) => s.owner === owner && s.covered === t.type.toUpperCase());
      if (!target) throw new Error(`zone ${origin}: no RRSIG ${t.type} at ${owner} to tamper with`);
      if (t.how === 'corrupt') {
        lines[target.index] = corruptRrsigLine(lines[target.index] ?? '');
        continue;
      }
      let source: string[];
      if (t.how === 'expired') {
        // Same key, a window that ended 10 days ago.
        oldLines ??= (await sign(dir, `${stem}.zone`, `${stem}.zone.expired`, key, nsec3, now - 40 * DAY, now - 10 * DAY)).split('\n');
        source = oldLines;
      } else {
        // Another key, a valid window; only its RRSIG is used, its DNSKEY stays out of the zone.
        if (!strangerLines) {
          const stranger = await keygen(dir, origin, algorithm);
          strangerLines = (await sign(dir, `${stem}.zone`, `${stem}.zone.stranger`, stranger, nsec3, now - DAY, expiration)).split('\n');
        }
        source = strangerLines;
      }
      const other = rrsigLines(source).find((s) => s.owner === owner && s.covered === t.type.toUpperCase());
      if (!other) throw new Error(`zone ${origin}: no ${t.how} RRSIG ${t.type} at ${owner}`);
      lines[target.index] = source[other.index] ?? '';
    }
    lines = lines.filter((_l, i) => !removed.has(i));
  }
  const file = join(dir, signedName);
  await writeFile(file, lines.join('\n'));
  const dsOut = await tool('ldns-key2ds', ['-n', '-2', `${key}.key`], dir);
  const ds = dsOut
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /\sDS\s/.test(l));
  const keyTag = Number(/\+(\d+)$/.exec(key)?.[1]);
  return { name: origin, file, ds, signed: true, keyTag, algorithm, nsec3 };
}
