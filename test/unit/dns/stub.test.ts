import dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DaneSmtpError } from '../../../src/errors.js';
import { probeValidation } from '../../../src/dns/probe.js';
import { StubResolver, isTransportFailure } from '../../../src/dns/stub.js';
import { ede, reply, ScriptedDnsServer, tcpFrame, type DnsHandler } from '../../support/dns-server.js';
import { expectNoLeakedSocketsAfterEach } from '../../support/socket-tracker.js';

// Every socket src/ opens during a test is closed by its end (test/support/socket-tracker.ts).
vi.mock('node:dgram', async (orig) => (await import('../../support/socket-tracker.js')).trackDgram(await orig()));
vi.mock('node:net', async (orig) => (await import('../../support/socket-tracker.js')).trackNet(await orig()));
expectNoLeakedSocketsAfterEach();

const servers: ScriptedDnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: DnsHandler): Promise<ScriptedDnsServer> {
  const s = await ScriptedDnsServer.start(handler);
  servers.push(s);
  return s;
}

function resolverFor(s: ScriptedDnsServer, timeoutMs = 1500): StubResolver {
  return new StubResolver({ server: s.address, port: s.port, timeoutMs });
}

const a = (name: string, data: string, ttl = 300): dnsPacket.Answer => ({ type: 'A', name, ttl, data });
const cname = (name: string, data: string, ttl = 300): dnsPacket.Answer => ({ type: 'CNAME', name, ttl, data });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StubResolver: proof from the AD bit (RFC 4035 §3.2.3, RFC 7672 §2.1)', () => {
  it('NOERROR with AD=1 is secure data, TTL is the smallest', async () => {
    const s = await serve((q) => reply(q, { ad: true, answers: [a('example.com', '192.0.2.1', 300), a('example.com', '192.0.2.2', 60)] }));
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toEqual({
      qname: 'example.com',
      qtype: 'A',
      status: 'data',
      proof: 'secure',
      records: ['192.0.2.1', '192.0.2.2'],
      ttl: 60,
      cnameChain: ['example.com'],
      canonicalName: 'example.com',
    });
  });

  it('NOERROR without AD is insecure', async () => {
    const s = await serve((q) => reply(q, { answers: [a('example.com', '192.0.2.1')] }));
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r.status).toBe('data');
    expect(r.proof).toBe('insecure');
  });

  it('NXDOMAIN keeps its proof', async () => {
    const s = await serve((q) => reply(q, { rcode: 'NXDOMAIN', ad: q.questions?.[0]?.name === 'signed.example' }));
    const res = resolverFor(s);
    expect(await res.lookup('signed.example', 'A')).toMatchObject({ status: 'nxdomain', proof: 'secure', records: [], ttl: 0 });
    expect(await res.lookup('unsigned.example', 'A')).toMatchObject({ status: 'nxdomain', proof: 'insecure' });
  });

  it('NOERROR without records of the type is nodata; records of other names are not taken', async () => {
    const s = await serve((q) => reply(q, { ad: true, answers: [a('other.example', '192.0.2.9')] }));
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'nodata', proof: 'secure', records: [], ttl: 0 });
  });

  it('names are lower-cased without the trailing dot; answers match case-insensitively (RFC 4343)', async () => {
    const s = await serve((q) => reply(q, { ad: true, answers: [a('EXAMPLE.com', '192.0.2.1')] }));
    const r = await resolverFor(s).lookup('Example.COM.', 'A');
    expect(r).toMatchObject({ qname: 'example.com', status: 'data', records: ['192.0.2.1'] });
  });
});

describe('StubResolver: CNAME chains (RFC 1034 §3.6.2)', () => {
  it('follows the chain in the answer section', async () => {
    const s = await serve((q) =>
      reply(q, {
        ad: true,
        answers: [
          cname('www.example.com', 'A.Example.NET', 100),
          cname('a.example.net', 'b.example.org', 50),
          a('b.example.org', '192.0.2.7', 200),
          a('www.example.com', '192.0.2.66'), // not the canonical name: ignored
        ],
      }),
    );
    const r = await resolverFor(s).lookup('www.example.com', 'A');
    expect(r).toMatchObject({
      status: 'data',
      proof: 'secure',
      records: ['192.0.2.7'],
      ttl: 200,
      cnameChain: ['www.example.com', 'a.example.net', 'b.example.org'],
      canonicalName: 'b.example.org',
    });
  });

  it('a chain ending in NXDOMAIN is nxdomain, with the chain', async () => {
    const s = await serve((q) => reply(q, { rcode: 'NXDOMAIN', answers: [cname('www.example.com', 'gone.example.net')] }));
    const r = await resolverFor(s).lookup('www.example.com', 'TLSA');
    expect(r).toMatchObject({ status: 'nxdomain', proof: 'insecure', cnameChain: ['www.example.com', 'gone.example.net'] });
  });

  it('a chain ending without data is nodata at the canonical name', async () => {
    const s = await serve((q) => reply(q, { ad: true, answers: [cname('www.example.com', 'x.example.net')] }));
    const r = await resolverFor(s).lookup('www.example.com', 'AAAA');
    expect(r).toMatchObject({ status: 'nodata', canonicalName: 'x.example.net' });
  });

  it('a loop is failed/indeterminate', async () => {
    const s = await serve((q) => reply(q, { answers: [cname('a.example', 'b.example'), cname('b.example', 'a.example')] }));
    const r = await resolverFor(s).lookup('a.example', 'A');
    expect(r).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(r.reason).toMatch(/loop/);
  });

  it('a chain longer than 16 links is failed/indeterminate', async () => {
    const answers = Array.from({ length: 20 }, (_, i) => cname(`n${i}.example`, `n${i + 1}.example`));
    const s = await serve((q) => reply(q, { answers: [...answers, a('n20.example', '192.0.2.1')] }));
    const r = await resolverFor(s).lookup('n0.example', 'A');
    expect(r).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(r.reason).toMatch(/CNAME chain/);
  });

  it('asking for CNAME returns the CNAME itself', async () => {
    const s = await serve((q) => reply(q, { ad: true, answers: [cname('www.example.com', 'target.example.net.', 30)] }));
    const r = await resolverFor(s).lookup('www.example.com', 'CNAME');
    expect(r).toMatchObject({ status: 'data', records: ['target.example.net'], cnameChain: ['www.example.com'], ttl: 30 });
  });
});

describe('StubResolver: failures', () => {
  it('SERVFAIL with EDE 6..12 is bogus, with the EDE in the reason (RFC 8914 §4.8)', async () => {
    const s = await serve((q) => reply(q, { rcode: 'SERVFAIL', ednsOptions: [ede(7, 'signature expired\n\u001b[31m')] }));
    const r = await resolverFor(s).lookup('_25._tcp.mx.example.com', 'TLSA');
    expect(r).toMatchObject({ status: 'failed', proof: 'bogus', records: [] });
    expect(r.reason).toMatch(/^SERVFAIL \(EDE 7: signature expired "signature expired\?\?\[31m"\)$/);
  });

  it('an EDE repeated, and a server named again and again in its text, come out once', async () => {
    const text = 'validation failure <mx.example.com. TLSA IN>: signature expired from 127.0.0.1 and 127.0.0.1 and 127.0.0.1 and 127.0.0.1 for key example.com. while building chain of trust';
    const s = await serve((q) => reply(q, { rcode: 'SERVFAIL', ednsOptions: [ede(7, text), ede(7, text)] }));
    const r = await resolverFor(s).lookup('_25._tcp.mx.example.com', 'TLSA');
    expect(r.reason).toBe('SERVFAIL (EDE 7: signature expired "validation failure <mx.example.com. TLSA IN>: signature expired from 127.0.0.1 for key example.com. while building chain of trust")');
  });

  it('SERVFAIL with another EDE or without EDE is indeterminate', async () => {
    const s = await serve((q) =>
      q.questions?.[0]?.name === 'a.example'
        ? reply(q, { rcode: 'SERVFAIL', ednsOptions: [ede(22)] })
        : reply(q, { rcode: 'SERVFAIL' }),
    );
    const res = resolverFor(s);
    const r1 = await res.lookup('a.example', 'A');
    expect(r1).toMatchObject({ status: 'failed', proof: 'indeterminate', reason: 'SERVFAIL (EDE 22: no reachable authority)' });
    const r2 = await res.lookup('b.example', 'A');
    expect(r2).toMatchObject({ status: 'failed', proof: 'indeterminate', reason: 'SERVFAIL' });
  });

  it('a short EDE option is skipped', async () => {
    const s = await serve((q) => reply(q, { rcode: 'SERVFAIL', ednsOptions: [{ code: 15, data: Buffer.from([6]) }] }));
    expect(await resolverFor(s).lookup('a.example', 'A')).toMatchObject({ proof: 'indeterminate', reason: 'SERVFAIL' });
  });

  it('REFUSED, FORMERR, NOTIMP and extended RCODEs are failed/indeterminate', async () => {
    const rcodes: Record<string, number> = { 'r.example': 5, 'f.example': 1, 'n.example': 4, 'v.example': 16 };
    const s = await serve((q) => reply(q, { rcode: rcodes[q.questions?.[0]?.name ?? ''] ?? 0, ad: true }));
    const res = resolverFor(s);
    expect(await res.lookup('r.example', 'A')).toMatchObject({ status: 'failed', proof: 'indeterminate', reason: 'REFUSED' });
    expect(await res.lookup('f.example', 'A')).toMatchObject({ status: 'failed', reason: 'FORMERR' });
    expect(await res.lookup('n.example', 'A')).toMatchObject({ status: 'failed', reason: 'NOTIMP' });
    // RFC 6891 §6.1.3: the OPT carries the upper 8 bits of the RCODE.
    expect(await res.lookup('v.example', 'A')).toMatchObject({ status: 'failed', reason: 'BADVERS' });
  });

  it('a silent server times out as failed/indeterminate within the deadline', async () => {
    const s = await serve(() => null);
    const started = Date.now();
    const r = await resolverFor(s, 200).lookup('example.com', 'A');
    expect(Date.now() - started).toBeLessThan(200 + 1000);
    expect(r).toMatchObject({ status: 'failed', proof: 'indeterminate', reason: 'timeout after 0.2s' });
    expect(isTransportFailure(r)).toBe(true);
  });

  it('an invalid name is failed without a query', async () => {
    const s = await serve((q) => reply(q));
    const res = resolverFor(s);
    for (const bad of ['a..b', 'x'.repeat(64) + '.example', 'bücher.example', 'a b.example', `${'abc.'.repeat(64)}example`]) {
      expect(await res.lookup(bad, 'A')).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    }
    expect(s.queries).toHaveLength(0);
  });

  it("the caller's abort rejects with ABORTED", async () => {
    const s = await serve(() => null);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const p = resolverFor(s, 5000).lookup('example.com', 'A', { signal: ac.signal });
    await expect(p).rejects.toBeInstanceOf(DaneSmtpError);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    const pre = AbortSignal.abort();
    await expect(resolverFor(s).lookup('example.com', 'A', { signal: pre })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('rejects bad options and types as USAGE', () => {
    expect(() => new StubResolver({ server: 'dns.google', timeoutMs: 100 })).toThrow(DaneSmtpError);
    expect(() => new StubResolver({ server: '127.0.0.1', port: 70000, timeoutMs: 100 })).toThrow(/port/);
    expect(() => new StubResolver({ server: '127.0.0.1', timeoutMs: 0 })).toThrow(/timeout/);
    expect(() => new StubResolver({ server: '::1', localAddress: '127.0.0.1', timeoutMs: 100 })).toThrow(/family/);
    const res = new StubResolver({ server: '127.0.0.1', timeoutMs: 100 });
    return expect(res.lookup('example.com', 'TXT' as 'A')).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('StubResolver: TCP retry on TC=1 (RFC 7766 §5)', () => {
  it('retries a truncated UDP answer over TCP', async () => {
    const s = await serve((q, transport) =>
      transport === 'udp' ? reply(q, { tc: true, ad: true }) : reply(q, { ad: true, answers: [a('example.com', '192.0.2.3')] }),
    );
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'data', proof: 'secure', records: ['192.0.2.3'] });
    expect(s.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
  });

  it('reassembles a TCP answer arriving in pieces', async () => {
    const s = await serve((q, transport) => {
      if (transport === 'udp') return reply(q, { tc: true });
      const frame = tcpFrame(reply(q, { answers: [a('example.com', '192.0.2.4')] }));
      return { tcpRaw: frame, splitAt: [1, 2, 7, frame.length - 1], delayMs: 5 };
    });
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'data', records: ['192.0.2.4'] });
  });

  it('a malformed TCP answer ends the lookup as failed/indeterminate', async () => {
    const s = await serve((q, transport) => {
      if (transport === 'udp') return reply(q, { tc: true });
      const good = dnsPacket.encode(reply(q, { answers: [a('example.com', '192.0.2.4')] }));
      return good.subarray(0, good.length - 3); // the A RDATA is cut short
    });
    const started = Date.now();
    const r = await resolverFor(s, 3000).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(r.reason).toMatch(/^malformed answer over TCP/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a mismatched TCP answer, a bad length or a closed connection are failures', async () => {
    const s = await serve((q, transport) => {
      if (transport === 'udp') return reply(q, { tc: true });
      const name = q.questions?.[0]?.name;
      if (name === 'id.example') return reply(q, { id: ((q.id ?? 0) + 1) & 0xffff });
      if (name === 'len.example') return { tcpRaw: Buffer.from([0, 3, 1, 2, 3]) };
      return [{ tcpRaw: tcpFrame(reply(q)).subarray(0, 10) }, { closeTcp: true }];
    });
    const res = resolverFor(s);
    expect((await res.lookup('id.example', 'A')).reason).toBe('mismatched answer over TCP: wrong ID');
    expect((await res.lookup('len.example', 'A')).reason).toBe('malformed answer over TCP: length 3');
    expect((await res.lookup('closed.example', 'A')).reason).toBe('TCP connection closed before a complete answer');
  });

  it('the deadline covers the TCP retry', async () => {
    const s = await serve((q, transport) => (transport === 'udp' ? reply(q, { tc: true }) : null));
    const started = Date.now();
    const r = await resolverFor(s, 250).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(r.reason).toMatch(/^timeout after 0\.25s over TCP/);
    expect(Date.now() - started).toBeLessThan(250 + 1000);
  });
});

describe('StubResolver: answers that do not match are ignored (RFC 5452 §9.1)', () => {
  it('wrong ID, wrong question and wrong flags sent first do not win', async () => {
    const s = await serve((q) => [
      reply(q, { id: ((q.id ?? 0) + 1) & 0xffff, ad: true, answers: [a('example.com', '203.0.113.66')] }),
      reply(q, { questions: [{ type: 'A', name: 'evil.example' }], ad: true, answers: [a('example.com', '203.0.113.66')] }),
      reply(q, { questions: [{ type: 'AAAA', name: 'example.com' }], ad: true }),
      { ...reply(q, { ad: true, answers: [a('example.com', '203.0.113.66')] }), type: 'query' },
      Buffer.from('not a dns message at all'),
      reply(q, { answers: [a('example.com', '192.0.2.1')] }),
    ]);
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'data', proof: 'insecure', records: ['192.0.2.1'] });
  });

  it('a spoofed answer from another port does not win', async () => {
    const s = await serve(async (q, _t, client) => {
      await s.spoofUdp(client, reply(q, { ad: true, answers: [a('example.com', '203.0.113.66')] }));
      await sleep(50);
      return reply(q, { answers: [a('example.com', '192.0.2.1')] });
    });
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toMatchObject({ proof: 'insecure', records: ['192.0.2.1'] });
  });

  it('only non-matching answers: timeout, with a note', async () => {
    const s = await serve((q) => [Buffer.from([1, 2, 3]), reply(q, { id: ((q.id ?? 0) + 1) & 0xffff })]);
    const r = await resolverFor(s, 200).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(r.reason).toMatch(/^timeout after 0\.2s \(ignored 2 UDP packet\(s\), last: wrong ID\)$/);
  });

  it('a malformed UDP packet (RDLENGTH lies) is ignored', async () => {
    const s = await serve((q) => {
      const bad = Buffer.from(dnsPacket.encode(reply(q, { noEdns: true, answers: [a('example.com', '203.0.113.66')] })));
      bad.writeUInt16BE(3, bad.length - 6); // A RDLENGTH 3
      return [bad, reply(q, { answers: [a('example.com', '192.0.2.1')] })];
    });
    const r = await resolverFor(s).lookup('example.com', 'A');
    expect(r).toMatchObject({ status: 'data', records: ['192.0.2.1'] });
  });
});

describe('StubResolver: record data', () => {
  it('TLSA keeps unknown usages and the association data', async () => {
    const cert = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const s = await serve((q) =>
      reply(q, {
        ad: true,
        answers: [
          { type: 'TLSA', name: '_25._tcp.mx.example.com', ttl: 3600, data: { usage: 4, selector: 1, matchingType: 1, certificate: cert } },
          { type: 'TLSA', name: '_25._tcp.mx.example.com', ttl: 3600, data: { usage: 3, selector: 1, matchingType: 255, certificate: Buffer.alloc(0) } },
        ],
      }),
    );
    const r = await resolverFor(s).lookup('_25._tcp.mx.example.com', 'TLSA');
    expect(r.status).toBe('data');
    expect(r.records).toEqual([
      { usage: 4, selector: 1, matchingType: 1, data: cert },
      { usage: 3, selector: 1, matchingType: 255, data: Buffer.alloc(0) },
    ]);
    expect(Buffer.isBuffer(r.records[0]!.data)).toBe(true);
  });

  it('MX: exchange lower-cased, null MX "0 ." gives exchange ""', async () => {
    const s = await serve((q) =>
      q.questions?.[0]?.name === 'null.example'
        ? reply(q, { ad: true, answers: [{ type: 'MX', name: 'null.example', ttl: 60, data: { preference: 0, exchange: '.' } }] })
        : reply(q, { answers: [{ type: 'MX', name: 'example.com', ttl: 60, data: { preference: 10, exchange: 'MX1.Example.COM' } }] }),
    );
    const res = resolverFor(s);
    expect((await res.lookup('null.example', 'MX')).records).toEqual([{ preference: 0, exchange: '' }]);
    expect((await res.lookup('example.com', 'MX')).records).toEqual([{ preference: 10, exchange: 'mx1.example.com' }]);
  });

  it('AAAA, NS and the root SOA', async () => {
    const s = await serve((q) => {
      const qq = q.questions![0]!;
      if (qq.type === 'AAAA') return reply(q, { answers: [{ type: 'AAAA', name: qq.name, ttl: 5, data: '2001:DB8:0:0:0:0:0:1' }] });
      if (qq.type === 'NS') return reply(q, { answers: [{ type: 'NS', name: qq.name, ttl: 5, data: 'NS1.example.' }] });
      return reply(q, {
        ad: true,
        answers: [{ type: 'SOA', name: '.', ttl: 86400, data: { mname: 'a.root-servers.net', rname: 'nstld.verisign-grs.com', serial: 2024010100, refresh: 1800, retry: 900, expire: 604800, minimum: 86400 } }],
      });
    });
    const res = resolverFor(s);
    expect((await res.lookup('example.com', 'AAAA')).records).toEqual(['2001:db8::1']);
    expect((await res.lookup('example.com', 'NS')).records).toEqual(['ns1.example']);
    const soa = await res.lookup('', 'SOA');
    expect(soa).toMatchObject({ qname: '', status: 'data', proof: 'secure', canonicalName: '' });
    expect(soa.records[0]).toMatchObject({ mname: 'a.root-servers.net', serial: 2024010100 });
    expect((await res.lookup('.', 'SOA')).qname).toBe('');
  });
});

describe('StubResolver: the query (RFC 6891 §6.1.2, RFC 4035 §3.2.1)', () => {
  it('has RD, EDNS0 with DO and a 1232 payload, and random IDs', async () => {
    const s = await serve((q) => reply(q, { ad: true }));
    const res = resolverFor(s);
    for (let i = 0; i < 8; i++) await res.lookup(`n${i}.Example.com`, 'TLSA');
    expect(s.queries).toHaveLength(8);
    for (const [i, { query, transport }] of s.queries.entries()) {
      expect(transport).toBe('udp');
      expect(query!.flag_rd).toBe(true);
      expect(query!.flag_qr).toBe(false);
      expect(query!.questions).toEqual([{ name: `n${i}.example.com`, type: 'TLSA', class: 'IN' }]);
      const opt = query!.additionals!.find((x) => x.type === 'OPT') as dnsPacket.OptAnswer;
      expect(opt).toBeDefined();
      expect(opt.flag_do).toBe(true);
      expect(opt.udpPayloadSize).toBe(1232);
      expect(opt.ednsVersion).toBe(0);
    }
    expect(new Set(s.queries.map((q) => q.query!.id)).size).toBeGreaterThan(1);
    expect(new Set(s.queries.map((q) => q.client.port)).size).toBeGreaterThan(1);
  });
});

describe('probeValidation', () => {
  it('validates iff the root SOA is secure data', async () => {
    const soa: dnsPacket.Answer = { type: 'SOA', name: '.', ttl: 1, data: { mname: 'a.root-servers.net', rname: 'x.example' } };
    const v = await serve((q) => reply(q, { ad: true, answers: [soa] }));
    expect(await probeValidation(resolverFor(v))).toMatchObject({ validates: true, reachable: true });
    const n = await serve((q) => reply(q, { answers: [soa] }));
    expect(await probeValidation(resolverFor(n))).toMatchObject({ validates: false, reachable: true });
    // A failed probe is indeterminate: fail closed (defer everything), never "insecure".
    const f = await serve((q) => reply(q, { rcode: 'SERVFAIL' }));
    expect(await probeValidation(resolverFor(f))).toMatchObject({ validates: false, reachable: false });
    const r = await serve((q) => reply(q, { rcode: 'REFUSED' }));
    expect(await probeValidation(resolverFor(r))).toMatchObject({ validates: false, reachable: false });
    expect(v.queries[0]!.query!.questions).toEqual([{ name: '.', type: 'SOA', class: 'IN' }]);
  });

  it('a silent or closed resolver is unreachable', async () => {
    const silent = await serve(() => null);
    const r1 = await probeValidation(resolverFor(silent, 150));
    expect(r1).toMatchObject({ validates: false, reachable: false });
    expect(r1.reason).toMatch(/timeout/);
    const closed = await serve(() => null);
    await closed.close();
    const r2 = await probeValidation(resolverFor(closed, 1000));
    expect(r2).toMatchObject({ validates: false, reachable: false });
  });
});
