/**
 * `dane-smtp tlsa` against the lab world (real nsd + unbound + smtp-server receivers): the
 * built CLI, as an operator runs it, with --resolver pointing at the lab's validating unbound.
 * --verify on each kind of outcome (README "dane-smtp tlsa"), records generated with
 * --connect equal to what the zone publishes, and a --next rollover from "current only" to
 * "ready". Needs the built CLI (`npx tsc -p .`) and root.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBuilt, runCli, type CliRun } from './cli.js';
import { scenarios } from './scenarios.js';
import { startWorld, type World } from './world.js';

/** The scenarios used (scenarios.ts), each for one outcome of --verify. */
const EE = 'ee-311.test'; // DANE-EE 3 1 1 matching the leaf
const ROLLOVER_ERROR = 'key-rollover-error.test'; // 3 1 1 of a key the server does not use
const TA_NOT_SERVED = 'ta-not-sent.test'; // 2 0 1 of a root the server does not send
const PKIX_ONLY = 'pkix-only.test'; // only usage 0 and 1 records (unusable in SMTP)
const CNAME_INSECURE = 'cname-to-insecure.test'; // secure first CNAME into an unsigned zone
const TA_ROOT = 'ta-201-root.test'; // 2 0 1 of the root, which the server sends
const USED = [EE, ROLLOVER_ERROR, TA_NOT_SERVED, PKIX_ONLY, CNAME_INSECURE, TA_ROOT];

let world: World | undefined;
let dir = '';

beforeAll(async () => {
  if (!cliBuilt()) throw new Error('build first: npx tsc -p .');
  world = await startWorld({ log: (line) => console.log(line), scenarios: scenarios.filter((s) => USED.includes(s.domain)) });
  dir = mkdtempSync(join(tmpdir(), 'dane-lab-tlsa-'));
}, 300_000);

afterAll(async () => {
  await world?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function w(): World {
  if (!world) throw new Error('lab world not started');
  return world;
}

/** `dane-smtp tlsa ARGS --resolver <lab unbound> --helo client.test --timeout 5`. */
function tlsa(args: string[]): Promise<CliRun> {
  return runCli(['tlsa', ...args, '--resolver', w().resolver, '--helo', 'client.test', '--timeout', '5']);
}

interface RecordJson {
  record: string;
  usable: boolean;
  unusableReason?: string;
  matches: { depth: number; subject: string }[];
}

interface VerifyJson {
  mode: string;
  owner: string;
  host: string;
  tlsaBase: { base: string | null; owner: string | null; selection: string; daneApplies: boolean | null; queried: { owner: string; proof: string; records: number }[]; firstCname?: { proof: string; target?: string }; reason: string };
  resolver: { validates: boolean };
  hostAddresses: { addresses: string[] };
  addresses: { address: string; records: RecordJson[]; authenticated: boolean; summary: string; auth: { ok: boolean; record?: string; records?: { record: string; code: string }[] } }[];
  authenticated: boolean;
  summary: string;
  ok: boolean;
  rollover?: { status: string; added: string[]; publish: { record: string }[]; publishZone: string[] };
  warnings: string[];
}

/** The one JSON object of a --json run. */
function jsonOf<T>(run: CliRun): T {
  expect(run.json, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toHaveLength(1);
  return run.json[0] as unknown as T;
}

async function verify(domain: string, extra: string[] = []): Promise<{ run: CliRun; j: VerifyJson }> {
  const run = await tlsa(['--verify', '--connect', `mx.${domain}`, '--json', ...extra]);
  return { run, j: jsonOf<VerifyJson>(run) };
}

/** The receiver address of an MX host in this world. */
function addressOf(host: string): string {
  const r = w().receiverList.find((x) => x.name === host);
  if (!r) throw new Error(`no receiver ${host}`);
  return r.address;
}

/** The TLSA RRset the zone publishes (dig through the lab unbound), as "U S M hex" lines. */
async function published(owner: string): Promise<string[]> {
  const d = await w().dig(owner, 'TLSA');
  expect(d.ad).toBe(true);
  return d.answer
    .map((l) => l.trim().split(/\s+/))
    .filter((t) => t[3] === 'TLSA')
    .map((t) => `${t[4]} ${t[5]} ${t[6]} ${t.slice(7).join('').toLowerCase()}`)
    .sort();
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('tlsa --verify --connect against lab servers', () => {
  it(`DANE-EE match (${EE}): exit 0, the 3 1 1 matches depth 0, base chosen as an MTA does`, async () => {
    const { run, j } = await verify(EE);
    expect(run.code).toBe(0);
    expect(j).toMatchObject({ mode: 'verify', owner: `_25._tcp.mx.${EE}.`, authenticated: true, ok: true, resolver: { validates: true } });
    expect(j.tlsaBase).toMatchObject({ base: `mx.${EE}`, owner: `_25._tcp.mx.${EE}.`, selection: 'rfc7672', daneApplies: true });
    expect(j.tlsaBase.queried).toEqual([{ owner: `_25._tcp.mx.${EE}.`, status: 'data', proof: 'secure', records: 1 }]);
    expect(j.hostAddresses.addresses).toEqual([addressOf(`mx.${EE}`)]);
    const [a] = j.addresses;
    expect(a!.authenticated).toBe(true);
    expect(a!.records).toHaveLength(1);
    expect(a!.records[0]).toMatchObject({ usable: true, matches: [{ depth: 0, subject: `CN=mx.${EE}` }] });
    expect(a!.auth).toMatchObject({ ok: true, record: a!.records[0]!.record });
    expect(j.summary).toMatch(/^authenticated: .* matches$/);
  });

  it(`DANE-EE match, human report: one "overall: AUTHENTICATED" line`, async () => {
    const run = await tlsa(['--verify', '--connect', `mx.${EE}`]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter((l) => l.startsWith('overall:'))).toEqual([`overall: AUTHENTICATED: ${addressOf(`mx.${EE}`)} matches`]);
  });

  it(`key rollover error (${ROLLOVER_ERROR}): exit 1, the usable 3 1 1 matches no served certificate`, async () => {
    const { run, j } = await verify(ROLLOVER_ERROR);
    expect(run.code).toBe(1);
    expect(j.authenticated).toBe(false);
    expect(j.ok).toBe(false);
    expect(j.tlsaBase).toMatchObject({ base: `mx.${ROLLOVER_ERROR}`, selection: 'rfc7672', daneApplies: true });
    const [a] = j.addresses;
    expect(a!.records).toEqual([expect.objectContaining({ usable: true, matches: [] })]);
    expect(a!.auth.ok).toBe(false);
    expect(a!.auth.records).toEqual([expect.objectContaining({ record: a!.records[0]!.record, code: 'ee-no-match' })]);
    expect(j.summary).toMatch(/^NOT authenticated: .*does NOT match/);
  });

  it(`DANE-TA anchor not served (${TA_NOT_SERVED}): exit 1, the 2 0 1 matches nothing the server sends`, async () => {
    const { run, j } = await verify(TA_NOT_SERVED);
    expect(run.code).toBe(1);
    expect(j.authenticated).toBe(false);
    const [a] = j.addresses;
    expect(a!.records).toEqual([expect.objectContaining({ usable: true, matches: [] })]);
    expect(a!.records[0]!.record).toMatch(/^2 0 1 /);
    expect(a!.auth.records).toEqual([expect.objectContaining({ code: 'ta-not-served' })]);
    expect(j.tlsaBase.base).toBe(`mx.${TA_NOT_SERVED}`);
  });

  it(`usage 0/1 only (${PKIX_ONLY}): exit 1, both records unusable (pkix-usage) though they match`, async () => {
    const { run, j } = await verify(PKIX_ONLY);
    expect(run.code).toBe(1);
    expect(j.authenticated).toBe(false);
    const [a] = j.addresses;
    const byUsage = Object.fromEntries(a!.records.map((r) => [r.record.slice(0, 5), r]));
    expect(byUsage['0 0 1']).toMatchObject({ usable: false, unusableReason: 'pkix-usage', matches: [{ depth: 2 }] }); // the served root
    expect(byUsage['1 1 1']).toMatchObject({ usable: false, unusableReason: 'pkix-usage', matches: [{ depth: 0 }] });
    expect(a!.summary).toMatch(/no usable TLSA record/);
  });

  it(`CNAMEd MX host into an insecure zone (${CNAME_INSECURE}): TLSA at the original name only, authenticated (RFC 7672 §2.2.2)`, async () => {
    const { run, j } = await verify(CNAME_INSECURE);
    expect(run.code).toBe(0);
    expect(j.authenticated).toBe(true);
    expect(j.owner).toBe(`_25._tcp.mx.${CNAME_INSECURE}.`);
    expect(j.tlsaBase).toMatchObject({
      base: `mx.${CNAME_INSECURE}`,
      owner: `_25._tcp.mx.${CNAME_INSECURE}.`,
      selection: 'rfc7672',
      daneApplies: true,
      firstCname: { proof: 'secure', target: 'srv.cname-to-insecure-target.test' },
    });
    // The wrong record at the insecure target is never looked up.
    expect(j.tlsaBase.queried.map((q) => q.owner)).toEqual([`_25._tcp.mx.${CNAME_INSECURE}.`]);
    expect(j.tlsaBase.reason).toMatch(/first CNAME is secure, so TLSA is looked up at the original name/);
    expect(j.addresses[0]!.records).toEqual([expect.objectContaining({ usable: true, matches: [{ depth: 0, subject: `CN=mx.${CNAME_INSECURE}` }] })]);
  });
});

describe('tlsa --connect generates the records the zone publishes', () => {
  it.each([
    [EE, ['--record', '3', '1', '1']],
    [TA_ROOT, ['--record', '2', '0', '1']], // the server sends its root: the record is for it
  ])('%s %j', async (domain, record) => {
    const host = `mx.${domain}`;
    const run = await tlsa(['--connect', host, ...record, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const j = jsonOf<{ owner: string; records: { text: string; zone: string; servedBy: string[] }[]; warnings: string[] }>(run);
    expect(j.owner).toBe(`_25._tcp.${host}.`);
    expect(j.records.map((r) => r.text)).toEqual(await published(`_25._tcp.${host}.`));
    expect(j.records[0]!.zone).toBe(`_25._tcp.${host}. IN TLSA ${j.records[0]!.text}`);
    expect(j.records[0]!.servedBy).toEqual([addressOf(host)]);
    expect(j.warnings).toEqual([]);
  });
});

describe(`tlsa --next: a key rollover on ${EE} (RFC 7671 §8.1)`, () => {
  it('current only → the RRset to publish → ready with it', async () => {
    const next = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const nextFile = join(dir, 'next.pem');
    writeFileSync(nextFile, next.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const nextRecord = `3 1 1 ${sha256(next.publicKey.export({ type: 'spki', format: 'der' }))}`;
    const [current] = await published(`_25._tcp.mx.${EE}.`);

    // Published: the current key only.
    const { run, j } = await verify(EE, ['--next', nextFile]);
    expect(run.code).toBe(1);
    expect(j.authenticated).toBe(true);
    expect(j.ok).toBe(false);
    expect(j.rollover).toMatchObject({ status: 'current-only', added: [nextRecord] });
    expect(j.rollover!.publish.map((p) => p.record)).toEqual([current, nextRecord]);

    // The RRset it says to publish covers current and next.
    const rrset = join(dir, 'publish.zone');
    writeFileSync(rrset, `${j.rollover!.publishZone.join('\n')}\n`);
    const ready = await tlsa(['--connect', `mx.${EE}`, '--next', nextFile, '--rrset', rrset, '--json']);
    expect(ready.code, ready.stderr).toBe(0);
    expect(jsonOf<{ ok: boolean; status: string; added: string[] }>(ready)).toMatchObject({ ok: true, status: 'ready', added: [] });
  });
});
