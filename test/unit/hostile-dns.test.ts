/**
 * DNS spoofing and hostile DNS servers against the stub resolver (src/dns/stub.ts).
 *
 * Spoofing (RFC 5452): a spoofer racing the real answer with random IDs across many queries
 * never wins; one that knows the ID and question but sends from another port or address
 * never wins; answers for another question are ignored; IDs and source ports are random.
 * Already in dns-stub.test.ts: one wrong-ID / wrong-question / wrong-flags answer sent first,
 * one spoof from another port, a malformed UDP packet, TCP failures. An unsigned answer
 * with AD=1 while validating ourselves (--trust-anchor) is bogus: test/lab/validating.test.ts.
 *
 * Hostile servers, through the whole path (runAll with a StubResolver: the validation
 * probe, MX, A, TLSA): truncated packets, compression loops, wrong lengths, oversized
 * answers, silence. Each ends with a clear verdict within its time limit, and leaves no
 * UDP or TCP socket behind (every socket src/ created is closed when runAll settles:
 * test/support/socket-tracker.ts).
 */
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exitCodeOf } from '../../src/core/outcome.js';
import { runAll } from '../../src/engine/run.js';
import { StubResolver } from '../../src/dns/stub.js';
import { reply, ScriptedDnsServer, type DnsHandler, type DnsHandlerResult } from '../support/dns-server.js';
import { openSocketsSince, socketMark, socketsCreatedSince } from '../support/socket-tracker.js';

vi.mock('node:dgram', async (orig) => (await import('../support/socket-tracker.js')).trackDgram(await orig()));
vi.mock('node:net', async (orig) => (await import('../support/socket-tracker.js')).trackNet(await orig()));

const servers: ScriptedDnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: DnsHandler, address?: string): Promise<ScriptedDnsServer> {
  const s = await ScriptedDnsServer.start(handler, address ? { address } : {});
  servers.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REAL = '192.0.2.1';
const FORGED = '203.0.113.66';
const aRecord = (name: string, data: string): dnsPacket.Answer => ({ type: 'A', name, ttl: 60, data });

function randomOtherId(id: number): number {
  const x = Math.floor(Math.random() * 65535);
  return x >= id ? x + 1 : x;
}

describe('spoofing (RFC 5452): the real answer always wins', () => {
  it('a spoofer racing every answer with 40 random wrong IDs from the server address and port: 150 lookups, never wins', async () => {
    const s = await serve((q) => {
      const name = q.questions![0]!.name;
      const forged = Array.from({ length: 40 }, () => reply(q, { ad: true, id: randomOtherId(q.id!), answers: [aRecord(name, FORGED)] }));
      return [...forged, reply(q, { ad: true, answers: [aRecord(name, REAL)] })];
    });
    const res = new StubResolver({ server: s.address, port: s.port, timeoutMs: 2000 });
    for (let i = 0; i < 150; i++) {
      const a = await res.lookup(`h${i}.example.test`, 'A');
      expect(a, `lookup ${i}`).toMatchObject({ status: 'data', proof: 'secure', records: [REAL] });
    }
  });

  it('answers for another question (name, type, class, two questions, QR=0, opcode) sent first never win', async () => {
    const s = await serve((q) => {
      const qq = q.questions![0]!;
      const forge = (o: Parameters<typeof reply>[1]) => reply(q, { ad: true, answers: [aRecord(qq.name, FORGED)], ...o });
      const raw = (mut: (b: Buffer) => void) => {
        const b = Buffer.from(dnsPacket.encode(forge({})));
        mut(b);
        return b;
      };
      return [
        forge({ questions: [{ ...qq, name: `x${qq.name}` }] }),
        forge({ questions: [{ ...qq, type: 'AAAA' }] }),
        forge({ questions: [{ ...qq, class: 'CH' }] }),
        forge({ questions: [qq, qq] }),
        forge({ questions: [] }),
        raw((b) => (b[2] = b[2]! & 0x7f)), // QR=0
        raw((b) => (b[2] = (b[2]! & 0x87) | (2 << 3))), // opcode STATUS
        reply(q, { ad: true, answers: [aRecord(qq.name, REAL)] }),
      ];
    });
    const res = new StubResolver({ server: s.address, port: s.port, timeoutMs: 2000 });
    for (let i = 0; i < 30; i++) {
      expect(await res.lookup(`q${i}.example.test`, 'A')).toMatchObject({ status: 'data', records: [REAL] });
    }
  });

  it('a spoofer that sniffed the ID and question but sends from another port, or from another address, never wins', async () => {
    let spoofer: ScriptedDnsServer | undefined;
    const s = await serve(async (q, _t, client) => {
      const forged = reply(q, { ad: true, answers: [aRecord(q.questions![0]!.name, FORGED)] });
      await s.spoofUdp(client, forged); // same address, another port
      await spoofer!.spoofUdp(client, forged); // another address (127.0.0.2)
      await sleep(5);
      return reply(q, { ad: true, answers: [aRecord(q.questions![0]!.name, REAL)] });
    });
    spoofer = await serve(() => null, '127.0.0.2');
    const res = new StubResolver({ server: s.address, port: s.port, timeoutMs: 2000 });
    for (let i = 0; i < 40; i++) {
      expect(await res.lookup(`p${i}.example.test`, 'A')).toMatchObject({ status: 'data', records: [REAL] });
    }
  });

  it('IDs and source ports are random: 200 queries, nearly all distinct, no arithmetic pattern', async () => {
    const s = await serve((q) => reply(q, { ad: true }));
    const res = new StubResolver({ server: s.address, port: s.port, timeoutMs: 2000 });
    for (let i = 0; i < 200; i++) await res.lookup(`r${i}.example.test`, 'A');
    const ids = s.queries.map((q) => q.query!.id!);
    const ports = s.queries.map((q) => q.client.port);
    expect(new Set(ids).size).toBeGreaterThanOrEqual(190);
    expect(new Set(ports).size).toBeGreaterThanOrEqual(150);
    const deltas = new Set(ids.slice(1).map((id, i) => (id - ids[i]! + 65536) % 65536));
    expect(deltas.size, 'not a counter').toBeGreaterThan(150);
    // Spread over the whole 16-bit space, not a small window.
    expect(Math.max(...ids) - Math.min(...ids)).toBeGreaterThan(50_000);
  });
});

// ---------------------------------------------------------------- hostile servers, end to end

const DOMAIN = 'example.test';
const SOA = { type: 'SOA', name: '.', ttl: 60, data: { mname: 'a.root', rname: 'h.root', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } } as dnsPacket.Answer;

function header(q: dnsPacket.DecodedPacket, counts: [number, number, number, number], flags = 0x81a0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id!, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return h;
}
function question(q: dnsPacket.DecodedPacket): Buffer {
  const qq = q.questions![0]!;
  const labels = qq.name.split('.').filter(Boolean);
  const name = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(dnsPacket.encode({ type: 'query', questions: [qq] }).readUInt16BE(12 + name.length), 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([name, tail]);
}
function rr(owner: Buffer, type: number, rdlen: number, rdata: Buffer): Buffer {
  const f = Buffer.alloc(10);
  f.writeUInt16BE(type, 0);
  f.writeUInt16BE(1, 2);
  f.writeUInt32BE(60, 4);
  f.writeUInt16BE(rdlen, 8);
  return Buffer.concat([owner, f, rdata]);
}

/**
 * runAll(send) against a scripted resolver: the root SOA is secure (the probe passes),
 * `hostile` answers one question (undefined → the default: MX → mx.example.test, A → 127.0.0.1
 * where nothing listens on port 9, no TLSA).
 */
async function deliverVia(hostile: (q: dnsPacket.DecodedPacket, transport: string) => DnsHandlerResult | 'default', timeoutMs = 500) {
  const s = await serve((q, transport) => {
    const qq = q.questions![0]!;
    if (qq.type === 'SOA' && (qq.name === '' || qq.name === '.')) return reply(q, { ad: true, answers: [SOA] });
    const h = hostile(q, transport);
    if (h !== 'default') return h;
    if (qq.type === 'MX') return reply(q, { ad: true, answers: [{ type: 'MX', name: qq.name, ttl: 60, data: { preference: 10, exchange: 'mx.example.test' } }] });
    if (qq.type === 'A') return reply(q, { ad: true, answers: [aRecord(qq.name, '127.0.0.1')] });
    return reply(q, { ad: true });
  });
  const mark = socketMark();
  const t0 = Date.now();
  const job = { kind: 'send' as const, envelope: { from: 's@client.test', to: [`u@${DOMAIN}`], message: Buffer.from('Subject: x\r\n\r\nx\r\n') } };
  const [result] = await runAll([{ domain: DOMAIN, job }], {
    resolver: new StubResolver({ server: s.address, port: s.port, timeoutMs }),
    port: 9,
    helo: 'client.test',
    timeoutMs,
  });
  const ms = Date.now() - t0;
  expect(socketsCreatedSince(mark), 'the tracker sees the lookups').toBeGreaterThan(0);
  expect(openSocketsSince(mark), 'no leaked UDP/TCP socket').toEqual([]);
  return { result: result!, ms, exit: exitCodeOf([result!], 'send'), server: s };
}

describe('hostile DNS servers, end to end: a verdict within the deadline, no leak', () => {
  it('control: a sane resolver, nothing listening → tempfail on CONNECT (the DNS part works)', async () => {
    const { result } = await deliverVia(() => 'default');
    expect(result.verdict).toBe('tempfail');
    expect(result.mx).toMatchObject({ status: 'data', proof: 'secure' });
    expect(result.hosts[0]?.attempts[0]?.errorCode).toBe('CONNECT');
  });

  const mxCases: [string, (q: dnsPacket.DecodedPacket) => DnsHandlerResult, RegExp][] = [
    ['a truncated packet (cut inside the answer, TC=0)', (q) => dnsPacket.encode(reply(q, { ad: true, answers: [aRecord(q.questions![0]!.name, REAL)] })).subarray(0, 30), /timeout.*malformed/],
    ['only a header', (q) => header(q, [1, 1, 0, 0]), /timeout.*malformed/],
    ['a compression loop (answer owner points at itself)', (q) => {
      const hq = Buffer.concat([header(q, [1, 1, 0, 0]), question(q)]);
      return Buffer.concat([hq, rr(Buffer.from([0xc0, hq.length]), 15, 4, Buffer.from([0, 10, 0xc0, 12]))]);
    }, /timeout.*malformed/],
    ['an MX exchange pointing forwards into itself', (q) => {
      const hq = Buffer.concat([header(q, [1, 1, 0, 0]), question(q)]);
      return Buffer.concat([hq, rr(Buffer.from([0xc0, 12]), 15, 4, Buffer.from([0, 10, 0xc0, hq.length + 14]))]);
    }, /timeout.*malformed/],
    ['an MX record whose RDLENGTH is longer than its data', (q) => {
      const hq = Buffer.concat([header(q, [1, 1, 0, 0]), question(q)]);
      return Buffer.concat([hq, rr(Buffer.from([0xc0, 12]), 15, 40, Buffer.from([0, 10, 0xc0, 12]))]);
    }, /timeout.*malformed/],
    ['an MX record whose RDLENGTH is shorter than its name', (q) => {
      const hq = Buffer.concat([header(q, [1, 1, 0, 0]), question(q)]);
      return Buffer.concat([hq, rr(Buffer.from([0xc0, 12]), 15, 3, Buffer.from([0, 10, 0xc0, 12]))]);
    }, /timeout.*malformed/],
    ['a 65 KB datagram of garbage', (q) => Buffer.concat([header(q, [1, 65535, 65535, 65535]), Buffer.alloc(65000, 0xc0)]), /timeout.*malformed/],
    ['nothing at all', () => null, /timeout/],
    ['TC=1, then a TCP frame announcing 65535 bytes and stalling', (q) => [reply(q, { tc: true }), { tcpRaw: Buffer.from([0xff, 0xff, 0x12, 0x34]) }], /timeout.*TCP/],
    ['TC=1, then the TCP connection closes mid-answer', (q) => [reply(q, { tc: true }), { tcpRaw: dnsPacket.encode(reply(q, { ad: true })).subarray(0, 8) }, { closeTcp: true }], /TCP connection closed|over TCP/],
  ];
  it.each(mxCases)('MX answer: %s → tempfail, 75', async (_name, hostile, reason) => {
    const { result, ms, exit } = await deliverVia((q, transport) => {
      if (q.questions![0]!.type !== 'MX') return 'default';
      const r = hostile(q);
      // On TCP the array form above is for UDP; answer TCP with the last (hostile) parts only.
      if (transport === 'tcp' && Array.isArray(r)) return r.slice(1);
      return r;
    });
    expect(result).toMatchObject({ verdict: 'tempfail', host: null, hosts: [], recipients: [{ status: 'deferred' }] });
    expect(result.mx).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(result.mx?.reason).toMatch(reason);
    expect(exit).toBe(75);
    expect(ms).toBeLessThan(2500);
  });

  it('a hostile TLSA answer (compression loop) fails that host: tempfail, nothing connected', async () => {
    const { result, exit } = await deliverVia((q) => {
      if (q.questions![0]!.type !== 'TLSA') return 'default';
      const hq = Buffer.concat([header(q, [1, 1, 0, 0]), question(q)]);
      return Buffer.concat([hq, rr(Buffer.from([0xc0, hq.length]), 52, 3, Buffer.from([3, 1, 1]))]);
    });
    expect(result.verdict).toBe('tempfail');
    expect(result.hosts[0]).toMatchObject({ status: 'failed', attempts: [] });
    expect(exit).toBe(75);
  });

  it('an oversized but valid answer (800 TLSA records, 56 KB over TCP) is handled in bounded time', async () => {
    const { result, ms } = await deliverVia((q, transport) => {
      const qq = q.questions![0]!;
      if (qq.type !== 'TLSA') return 'default';
      if (transport === 'udp') return reply(q, { tc: true, ad: true });
      const answers = Array.from({ length: 800 }, (_, i) => {
        const data = Buffer.alloc(32, i & 0xff);
        data.writeUInt16BE(i, 0);
        return { type: 'TLSA', name: qq.name, ttl: 60, data: { usage: 3, selector: 1, matchingType: 1, certificate: data } } as unknown as dnsPacket.Answer;
      });
      return reply(q, { ad: true, answers });
    }, 3000);
    // 800 usable records, nothing listens: the verdict comes from the connection.
    expect(result.verdict).toBe('tempfail');
    expect(result.hosts[0]?.tlsa).toHaveLength(800);
    expect(result.hosts[0]?.attempts[0]?.errorCode).toBe('CONNECT');
    expect(ms).toBeLessThan(5000);
  });

  it('a resolver that answers nothing at all: resolver unreachable, everything deferred, nothing connected', async () => {
    const { result, exit, ms } = await deliverVia(() => null);
    void result;
    expect(exit).toBe(75);
    expect(ms).toBeLessThan(2500);
    const silent = await serve(() => null);
    const job = { kind: 'send' as const, envelope: { from: 's@client.test', to: [`u@${DOMAIN}`], message: Buffer.from('x\r\n') } };
    const [r] = await runAll([{ domain: DOMAIN, job }], { resolver: new StubResolver({ server: silent.address, port: silent.port, timeoutMs: 300 }), port: 9, helo: 'client.test', timeoutMs: 300 });
    expect(r).toMatchObject({ verdict: 'tempfail', resolverValidates: false, hosts: [], recipients: [{ status: 'deferred' }] });
    expect(silent.queries.map((q) => q.query?.questions?.[0]?.type)).toEqual(['SOA']);
  });
});
