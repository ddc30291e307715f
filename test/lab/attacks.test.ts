/**
 * Issue 7: the defenses against an on-path attacker, proven end to end through the CLI `send`.
 *
 * The attacker sits between the client and its validating resolver (a DNS proxy on .8 that
 * forwards to the lab unbound) and rewrites the A record of a DANE MX host to a MITM proxy
 * on .9, KEEPING AD=1: an IP-level redirect the AD-bit model cannot see. The MITM relays to
 * the real receiver and tampers with STARTTLS, the certificate or the plaintext stream.
 * Every test checks at the real receiver (and at the MITM) that nothing went out in
 * plaintext or to the attacker, and the verdict in the JSON.
 *
 * DNS spoofing (RFC 5452 §9.1): a UDP proxy on .6 in front of the lab unbound sends, before
 * each real answer, forged AD=1 answers pointing the MX and A records at an attacker's
 * receiver on .251 — with wrong IDs, for other questions, and with the right ID and question
 * from another port and from another address (.250). The mail must reach the real host over
 * TLS and nothing the attacker. A control shows the AD-bit stub would believe the forgery.
 * More spoofing (150 racing lookups, random IDs and ports) at unit level:
 * test/unit/dns-stub.test.ts and test/unit/hostile-dns.test.ts.
 *
 * A forged unsigned answer with AD=1 when the client validates itself (--trust-anchor)
 * is covered in validating.test.ts ("a forged unsigned answer with AD=1 …"), not repeated.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCert, makeChain, type Chain, type Issued } from '../support/pki.js';
import { startDnsRedirector, startDnsSpoofer, startMitm, type DnsRedirector, type DnsSpoofer, type Mitm, type MitmMode } from '../support/mitm.js';
import { EXIT, labMessage, runCli, type CliRun } from './cli.js';
import { ReceiverLog, startReceiver, type RunningReceiver } from './receivers.js';
import { scenarios } from './scenarios.js';
import { startWorld, type World } from './world.js';

const EE = 'ee-311.test';
const EE_HOST = 'mx.ee-311.test';
const TA = 'ta-211-intermediate.test';
const TA_HOST = 'mx.ta-211-intermediate.test';
const OTHER_HOST = 'mx.ee-301.test';
const ATTACKER_HOST = 'mx.attacker.test';

let world: World;
let dns: DnsRedirector;
let self: Issued;
let otherName: Chain;
let rogue: Chain;
let rogueTa: Chain;
let mitm: Mitm | undefined;
let spoofer: DnsSpoofer;
let attacker: RunningReceiver;
const attackerLog = new ReceiverLog();

function receiver(name: string): { address: string; port: number } {
  const r = world.receiverList.find((x) => x.name === name);
  if (!r) throw new Error(`no receiver ${name}`);
  return { address: r.address, port: r.port };
}

beforeAll(async () => {
  world = await startWorld({ scenarios: scenarios.filter((s) => [EE, TA, 'ee-301.test'].includes(s.domain)) });
  dns = await startDnsRedirector(`${world.block}.8`, { address: world.resolverAddress, port: world.resolverPort });
  // The attacker's receiver: plaintext only, whatever it is sent it keeps.
  attacker = await startReceiver({ name: ATTACKER_HOST, scenario: 'attacker', address: `${world.block}.251`, port: 25, tls: false }, attackerLog);
  spoofer = await startDnsSpoofer(`${world.block}.6`, `${world.block}.250`, { address: world.resolverAddress, port: world.resolverPort }, poison);
  [self, otherName, rogue, rogueTa] = await Promise.all([
    makeCert({ cn: EE_HOST, sans: [EE_HOST] }),
    makeChain({ leafCn: 'mx.elsewhere.test' }),
    makeChain({ leafCn: EE_HOST, rootCn: 'Rogue Root CA', intermediateCn: 'Rogue Intermediate CA' }),
    makeChain({ leafCn: TA_HOST, rootCn: 'Rogue Root CA', intermediateCn: 'Rogue Intermediate CA' }),
  ]);
}, 300_000);

afterEach(async () => {
  await mitm?.close();
  mitm = undefined;
  dns?.redirects.clear();
  world?.receivers.clear();
  attackerLog.clear();
  if (spoofer) {
    spoofer.queries.length = 0;
    for (const k of Object.keys(spoofer.forged) as (keyof DnsSpoofer['forged'])[]) spoofer.forged[k] = 0;
  }
});

afterAll(async () => {
  await dns?.close();
  await spoofer?.close();
  await attacker?.close();
  await world?.stop();
});

/**
 * The forgery: AD=1, every MX at the attacker's host, every A record at its receiver, no
 * AAAA and no TLSA (a "secure" denial: no DANE, so plaintext is allowed).
 */
function poison(q: dnsPacket.Question): Omit<dnsPacket.Packet, 'id' | 'questions' | 'type'> | null {
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA;
  const answer = (data: unknown): dnsPacket.Answer => ({ type: q.type, name: q.name, ttl: 60, data }) as dnsPacket.Answer;
  switch (q.type) {
    case 'MX':
      return { flags, answers: [answer({ preference: 10, exchange: ATTACKER_HOST })] };
    case 'A':
      return { flags, answers: [answer(attacker.config.address)] };
    case 'AAAA':
    case 'TLSA':
      return { flags, answers: [] };
    default:
      return null;
  }
}

/** Points `host` at a MITM on .9:25 relaying to the real receiver of `host`. */
async function attack(host: string, mode: MitmMode): Promise<Mitm> {
  mitm = await startMitm({ listen: { address: `${world.block}.9`, port: 25 }, upstream: receiver(host), mode });
  dns.redirects.set(host, mitm.address);
  return mitm;
}

async function send(domain: string, extra: string[] = []): Promise<{ run: CliRun; token: string }> {
  const token = randomBytes(8).toString('hex');
  const run = await runCli(
    ['send', '--resolver', dns.resolver, '--timeout', '5', '--from', 'sender@client.test', '--to', `user@${domain}`, '--json', '--helo', 'client.test', ...extra],
    { input: labMessage(domain, token) },
  );
  return { run, token };
}

const TRANSACTION = /^(MAIL|RCPT|DATA|BDAT)\b/i;

/** Deferred, nothing arrived anywhere, and the attacker saw no part of the transaction. */
function expectDefeated(run: CliRun, token: string, m: Mitm, host: string, reason: RegExp): void {
  expect(run.code, run.stderr).toBe(EXIT.TEMPFAIL);
  const j = run.json[0]!;
  expect(j).toMatchObject({ verdict: 'tempfail', host: null, tls: false });
  expect(j.recipients).toEqual([expect.objectContaining({ status: 'deferred' })]);
  const attempts = (j.hosts as { name: string; attempts: { address: string; error?: string }[] }[]).find((h) => h.name === host)!.attempts;
  expect(attempts.map((a) => a.address)).toEqual([m.address]);
  expect(attempts[0]!.error ?? '').toMatch(reason);
  expect(dns.rewritten, 'the DNS redirect was used').toBeGreaterThan(0);
  expect(m.connections.length, 'the client went to the attacker').toBeGreaterThan(0);
  expect(world.receivers.withToken(token), 'no message at the real receiver').toEqual([]);
  expect(world.receivers.messages, 'no message at all').toEqual([]);
  for (const c of m.connections) {
    expect(c.clientPlainLines.filter((l) => TRANSACTION.test(l)), 'no transaction in plaintext through the MITM').toEqual([]);
    expect(c.clientTlsLines, 'nothing said inside the attacker’s TLS').toEqual([]);
    expect(c.clientTlsBytes).toBe(0);
  }
}

describe('the lab plumbing works (controls)', () => {
  it('a transparent MITM on the redirected address: delivered, DANE-authenticated end to end', async () => {
    const m = await attack(EE_HOST, { kind: 'relay' });
    const { run, token } = await send(EE);
    expect(run.code, run.stderr).toBe(EXIT.OK);
    expect(run.json[0]).toMatchObject({ verdict: 'dane-authenticated', host: EE_HOST, address: m.address, tls: true });
    expect(world.receivers.withToken(token)).toMatchObject([{ receiver: EE_HOST, tls: true }]);
    expect(m.connections[0]!.rawToServer, 'TLS went through the relay').toBeGreaterThan(0);
  });
});

describe('STARTTLS downgrade (RFC 7672 §2.2: no plaintext fallback with usable TLSA)', () => {
  it('STARTTLS stripped from the EHLO reply → deferred (75), never sent in plaintext', async () => {
    const m = await attack(EE_HOST, { kind: 'strip-starttls' });
    const { run, token } = await send(EE);
    expectDefeated(run, token, m, EE_HOST, /STARTTLS not offered/);
    // The real server was reached (the relay worked) and saw no transaction.
    expect(world.receivers.connectionsTo(EE_HOST).length).toBeGreaterThan(0);
  });

  it('STARTTLS answered with 454 by the attacker → deferred (75), never sent in plaintext', async () => {
    const m = await attack(EE_HOST, { kind: 'refuse-starttls', reply: '454 4.7.0 TLS not available due to temporary reason' });
    const { run, token } = await send(EE);
    expectDefeated(run, token, m, EE_HOST, /STARTTLS refused: 454/);
  });
});

describe('TLS terminated by the attacker with its own certificate → deferred', () => {
  it('self-signed certificate naming the MX host (DANE-EE host)', async () => {
    const m = await attack(EE_HOST, { kind: 'terminate-tls', cert: self.certPem, key: self.keyPem });
    const { run, token } = await send(EE);
    expectDefeated(run, token, m, EE_HOST, /TLSA|match/i);
    // The client got the attacker's certificate in the handshake and refused it.
    const hosts = run.json[0]!.hosts as { attempts: { chain?: { spkiSha256: string }[] }[] }[];
    expect(hosts[0]!.attempts[0]!.chain?.[0]?.spkiSha256).toBe(createHash('sha256').update(self.spkiDer).digest('hex'));
  });

  it('a valid chain for another name (DANE-EE host)', async () => {
    const m = await attack(EE_HOST, { kind: 'terminate-tls', cert: otherName.servedPem, key: otherName.leaf.keyPem });
    const { run, token } = await send(EE);
    expectDefeated(run, token, m, EE_HOST, /TLSA|match/i);
  });

  it('a chain from another CA that passes PKIX for the MX host name: accepted by --level verify with that CA, deferred under DANE', async () => {
    const caFile = join(world.workDir, 'rogue-ca.pem');
    writeFileSync(caFile, rogue.root.certPem);
    const m = await attack(EE_HOST, { kind: 'terminate-tls', cert: rogue.servedPem + rogue.root.certPem, key: rogue.leaf.keyPem });
    // The chain really is PKIX-valid for the name: a client trusting that CA is fooled.
    const pkix = await runCli(['check', '--resolver', dns.resolver, '--timeout', '5', '--json', '--level', 'verify', '--ca-file', caFile, EE]);
    expect(pkix.json[0], pkix.stderr).toMatchObject({ verdict: 'pkix-authenticated', address: m.address });
    m.connections.length = 0;
    const { run, token } = await send(EE);
    expectDefeated(run, token, m, EE_HOST, /TLSA|match/i);
  });

  it('DANE-TA host: a chain for the right name from a CA other than the published trust anchor', async () => {
    const m = await attack(TA_HOST, { kind: 'terminate-tls', cert: rogueTa.servedPem + rogueTa.root.certPem, key: rogueTa.leaf.keyPem });
    const { run, token } = await send(TA);
    expectDefeated(run, token, m, TA_HOST, /TLSA|anchor|match/i);
  });

  it('redirected to another real receiver whose lab-CA chain is valid for another name (no MITM needed)', async () => {
    dns.redirects.set(EE_HOST, receiver(OTHER_HOST).address);
    const token = randomBytes(8).toString('hex');
    const run = await runCli(
      ['send', '--resolver', dns.resolver, '--timeout', '5', '--from', 'sender@client.test', '--to', `user@${EE}`, '--json', '--helo', 'client.test'],
      { input: labMessage(EE, token) },
    );
    expect(run.code, run.stderr).toBe(EXIT.TEMPFAIL);
    expect(run.json[0]).toMatchObject({ verdict: 'tempfail', host: null });
    expect(world.receivers.connectionsTo(OTHER_HOST).length, 'the redirect reached the other receiver').toBeGreaterThan(0);
    expect(world.receivers.messages).toEqual([]);
  });
});

describe('data injected before the TLS handshake (RFC 3207 §5, CVE-2011-0411) is not acted upon', () => {
  const injections: [string, string][] = [
    ['extra 250 replies', '250 2.0.0 injected-ehlo\r\n250 2.1.0 injected-mail\r\n250 2.1.5 injected-rcpt\r\n354 injected-data\r\n250 2.0.0 injected-queued\r\n'],
    ['a fake 220 and an EHLO reply without PIPELINING but with STARTTLS', '220 injected.attacker ESMTP\r\n250-injected.attacker\r\n250-STARTTLS\r\n250 SIZE 10\r\n'],
  ];
  it.each(injections)('%s', async (_name, inject) => {
    const m = await attack(EE_HOST, { kind: 'inject', inject });
    const { run, token } = await send(EE);
    expect(run.code, run.stderr).toBe(EXIT.OK);
    const j = run.json[0]!;
    expect(j).toMatchObject({ verdict: 'dane-authenticated', host: EE_HOST, address: m.address, tls: true });
    // The recipient's reply is the real server's reply to the end of data, from inside TLS.
    expect(j.recipients).toEqual([{ address: `user@${EE}`, status: 'delivered', reply: expect.stringMatching(/queued by mx\.ee-311\.test/), replyCode: 250, host: EE_HOST }]);
    expect(JSON.stringify(j)).not.toMatch(/injected/);
    const got = world.receivers.withToken(token);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ receiver: EE_HOST, tls: true, envelope: { from: 'sender@client.test', to: [`user@${EE}`] } });
    expect(m.connections[0]!.clientPlainLines.filter((l) => TRANSACTION.test(l))).toEqual([]);
  });
});

describe('DNS spoofing through the CLI (RFC 5452 §9.1: IDs, questions and source must match)', () => {
  it('control: the forged answers, when they look right, are believed by the AD-bit stub: the mail goes to the attacker', async () => {
    spoofer.believable = true;
    try {
      const token = randomBytes(8).toString('hex');
      const run = await runCli(
        ['send', '--resolver', spoofer.resolver, '--timeout', '5', '--from', 'sender@client.test', '--to', `user@${EE}`, '--json', '--helo', 'client.test'],
        { input: labMessage(EE, token) },
      );
      expect(run.code, run.stderr).toBe(EXIT.OK);
      expect(run.json[0]).toMatchObject({ host: ATTACKER_HOST, address: attacker.config.address });
      expect(attackerLog.withToken(token), 'delivered to the attacker').toHaveLength(1);
      expect(world.receivers.messages).toEqual([]);
    } finally {
      spoofer.believable = false;
    }
  });

  it('forged answers with wrong IDs, for other questions, from another port or another 127.x address, sent before each real answer: delivered at the real host over TLS, nothing at the attacker', async () => {
    const token = randomBytes(8).toString('hex');
    const run = await runCli(
      ['send', '--resolver', spoofer.resolver, '--timeout', '5', '--from', 'sender@client.test', '--to', `user@${EE}`, '--json', '--helo', 'client.test'],
      { input: labMessage(EE, token) },
    );
    expect(run.code, run.stderr).toBe(EXIT.OK);
    expect(run.json[0]).toMatchObject({ verdict: 'dane-authenticated', host: EE_HOST, address: receiver(EE_HOST).address, tls: true });
    expect(world.receivers.withToken(token)).toMatchObject([{ receiver: EE_HOST, tls: true }]);
    expect(attackerLog.connections, 'nothing reached the attacker').toEqual([]);
    expect(attackerLog.messages).toEqual([]);
    // Every lookup of the delivery was raced by every kind of forgery.
    expect(spoofer.queries).toEqual(expect.arrayContaining([`${EE} MX`, `${EE_HOST} A`, `_25._tcp.${EE_HOST} TLSA`]));
    const n = spoofer.queries.length;
    expect(spoofer.forged).toEqual({ 'wrong-id': 3 * n, 'wrong-question': 2 * n, 'other-port': n, 'other-address': n });
  });
});

describe('a resolver that does not recurse (an authoritative server given as --resolver)', () => {
  it('its referrals are failed lookups, never "no such record": deferred (75), nothing sent — not bounced (69)', async () => {
    // The lab's root nsd answers every question about ee-311.test with a referral (RA=0).
    const token = randomBytes(8).toString('hex');
    const run = await runCli(
      ['send', '--resolver', world.nameservers.root, '--timeout', '5', '--from', 'sender@client.test', '--to', `user@${EE}`, '--json', '--helo', 'client.test'],
      { input: labMessage(EE, token) },
    );
    expect(run.code, run.stderr).toBe(EXIT.TEMPFAIL);
    expect(run.json[0]).toMatchObject({ verdict: 'tempfail', recipients: [expect.objectContaining({ status: 'deferred' })] });
    expect(JSON.stringify(run.json[0])).toMatch(/RA=0|referral/);
    expect(world.receivers.messages).toEqual([]);
  });
});
