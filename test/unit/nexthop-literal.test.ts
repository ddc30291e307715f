/**
 * A fixed next hop given as an IP address literal (`[192.0.2.1]:25` in a Postfix policy
 * table or on the command line): no MX, address or TLSA lookup; DANE cannot apply, so level
 * dane is opportunistic and dane-only defers (Postfix smtp_tls_policy.c: "no TLSA records").
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import dnsPacket from 'dns-packet';
import { processDestination } from '../../src/engine/destination.js';
import { type Job } from '../../src/smtp/types.js';
import { main } from '../../src/cli/program.js';
import { check, deliver } from '../../src/api.js';
import { daneTransport } from '../../src/nodemailer/transport.js';
import nodemailer from 'nodemailer';
import type { DomainResult } from '../../src/core/result.js';
import type { Resolver } from '../../src/dns/types.js';
import { lookupPolicy, parseDestination, parsePolicyTable, type Level } from '../../src/policy/table.js';
import { captureStderr, captureStdout } from '../support/capture.js';
import { reply, ScriptedDnsServer } from '../support/dns-server.js';
import { script, startRawServer } from '../support/raw-smtp-server.js';
import { scriptedSession, type Call } from '../support/scripted-session.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('address literals as next hops in the policy table', () => {
  const cases: [string, ReturnType<typeof parseDestination>][] = [
    ['[192.0.2.1]', { kind: 'nexthop', host: '192.0.2.1' }],
    ['[192.0.2.1]:587', { kind: 'nexthop', host: '192.0.2.1', port: 587 }],
    ['[2001:DB8:0::25]:25', { kind: 'nexthop', host: '2001:db8::25', port: 25 }],
    ['[IPv6:2001:db8::25]', { kind: 'nexthop', host: '2001:db8::25' }],
    ['[::ffff:192.0.2.1]', { kind: 'nexthop', host: '::ffff:c000:201' }],
    ['[999.0.2.1]', undefined],
    ['[192.0.2]', undefined],
    ['[IPv6:192.0.2.1]', undefined],
    ['[fe80::1%eth0]', undefined],
    ['[2001:db8::zz]', undefined],
  ];
  for (const [text, want] of cases) {
    it(`${text} → ${want ? `[${want.kind === 'nexthop' ? want.host : ''}]` : 'refused'}`, () => {
      expect(parseDestination(text)).toEqual(want);
    });
  }

  it('a Postfix table with address literals loads; IPv6 keys compare in canonical form; a port is part of the key', () => {
    const table = parsePolicyTable(['[192.0.2.1]:25 encrypt', '[2001:db8::1] may', '[2001:db8::1:25] none', 'example.test dane-only'].join('\n'), 'policy');
    const at = (t: string, fallback: Level = 'dane') => lookupPolicy(table, parseDestination(t)!, fallback);
    expect(at('[192.0.2.1]:25')).toMatchObject({ level: 'encrypt', source: 'policy:1' });
    expect(at('[192.0.2.1]')).toMatchObject({ level: 'dane', source: 'default' });
    expect(at('[2001:0db8:0:0::1]')).toMatchObject({ level: 'may', source: 'policy:2' });
    // "[2001:db8::1]:25" is not "[2001:db8::1:25]"
    expect(at('[2001:db8::1]:25')).toMatchObject({ source: 'default' });
    expect(at('[2001:db8::1:25]')).toMatchObject({ level: 'none', source: 'policy:3' });
  });

  it('the same address twice, once written differently, is a duplicate key', () => {
    expect(() => parsePolicyTable('[2001:db8::1] may\n[2001:DB8::0:1] none', 'policy')).toThrow(/policy:2: .* listed twice/);
  });
});

describe('delivery to an address literal', () => {
  const noDns: Resolver & { asked: string[] } = {
    asked: [],
    lookup(name, type) {
      this.asked.push(`${name} ${type}`);
      throw new Error(`no DNS lookup expected (${name} ${type})`);
    },
  } as Resolver & { asked: string[] };
  const send: Job = { kind: 'send', envelope: { from: 'a@client.test', to: ['x@example.test'], message: Buffer.from('Subject: t\r\n\r\nhi\r\n') } };

  async function deliverTo(address: string, level: Level) {
    const calls: Call[] = [];
    noDns.asked = [];
    const result = await processDestination(address, send, {
      resolver: noDns, resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000,
      nexthop: { host: address, port: 2525 },
      policy: { level, match: [], fingerprints: [], source: 'policy:1' },
      session: scriptedSession({ [address]: { kind: 'no-starttls' } }, calls),
    });
    return { result, calls };
  }

  it('level dane: no DNS lookup at all, opportunistic TLS to that address and port', async () => {
    const { result, calls } = await deliverTo('192.0.2.7', 'dane');
    expect(noDns.asked).toEqual([]);
    expect(calls).toMatchObject([{ address: '192.0.2.7', tls: 'may' }]);
    expect(result).toMatchObject({ verdict: 'opportunistic', host: '192.0.2.7', address: '192.0.2.7', nextHop: '[192.0.2.7]:2525', recipients: [{ status: 'delivered' }] });
    expect(result.hosts[0]!.levelReason).toMatch(/IP address literal: no TLSA records can apply/);
  });

  it('level dane-only: deferred before any connection, with the reason', async () => {
    const { result, calls } = await deliverTo('2001:db8::25', 'dane-only');
    expect(calls).toEqual([]);
    expect(result.verdict).toBe('tempfail');
    expect(result.reason).toMatch(/dane-only policy: 2001:db8::25 has no usable TLSA records .*IP address literal/);
  });

  it('level encrypt: TLS required, so a server without STARTTLS defers', async () => {
    const { result, calls } = await deliverTo('192.0.2.7', 'encrypt');
    expect(calls).toMatchObject([{ tls: 'required' }]);
    expect(result.verdict).toBe('tempfail');
  });
});

describe('the CLI with an address literal', () => {
  it('check [127.0.0.1]:PORT asks the resolver nothing, not even the validation probe, and talks to that address', async () => {
    const asked: string[] = [];
    const dns = await ScriptedDnsServer.start((q) => {
      const question = q.questions![0]!;
      asked.push(`${question.name} ${question.type}`);
      if (question.type === 'SOA' && (question.name === '.' || question.name === '')) {
        return reply(q, { ad: true, answers: [{ type: 'SOA', name: '.', ttl: 86400, data: { mname: 'a.root-servers.net', rname: 'x.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } } as dnsPacket.Answer] });
      }
      return reply(q, { ad: true, rcode: 'SERVFAIL' });
    });
    const smtp = await startRawServer(script(['220 mx.example.test ESMTP', [/^EHLO client\.test$/, '250 mx.example.test'], [/^QUIT/, '221 bye']]));
    try {
      const out = captureStdout();
      const err = captureStderr();
      const code = await main(['node', 'dane-smtp', 'check', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', '--helo', 'client.test', '--json', `[127.0.0.1]:${smtp.port}`]);
      vi.restoreAllMocks();
      expect(err.text()).toBe('');
      expect(code).toBe(0);
      const r = JSON.parse(out.text()) as DomainResult;
      expect(r).toMatchObject({ domain: '127.0.0.1', verdict: 'opportunistic', host: '127.0.0.1', address: '127.0.0.1', tls: false, nextHop: `[127.0.0.1]:${smtp.port}` });
      expect(asked).toEqual([]);
      expect(r.findings ?? [], 'no resolver finding: no DNS is used').toEqual([]);
      expect(smtp.errors).toEqual([]);

      const out2 = captureStdout();
      captureStderr();
      expect(await main(['node', 'dane-smtp', 'check', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', '--helo', 'client.test', '--level', 'dane-only', '--json', `[127.0.0.1]:${smtp.port}`])).toBe(75);
      vi.restoreAllMocks();
      expect(JSON.parse(out2.text())).toMatchObject({ verdict: 'tempfail' });
      expect(smtp.connections).toHaveLength(1);
    } finally {
      await smtp.close();
      await dns.close();
    }
  });
});

describe('an unreachable resolver does not hold up an address literal', () => {
  it('check with a dead resolver: the domain is deferred, the address literal is checked', async () => {
    // A DNS server that never answers: the probe times out.
    const silent = await ScriptedDnsServer.start(() => null);
    const smtp = await startRawServer(script(['220 relay.test ESMTP', [/^EHLO /, '250 relay.test'], [/^QUIT/, '221 bye']]));
    try {
      const out = captureStdout();
      const err = captureStderr();
      const code = await main(['node', 'dane-smtp', 'check', '--resolver', `${silent.address}:${silent.port}`, '--timeout', '0.3', '--helo', 'client.test', '--json', 'example.test', `[127.0.0.1]:${smtp.port}`]);
      vi.restoreAllMocks();
      expect(code).toBe(75);
      const lines = out.text().trim().split('\n').map((l) => JSON.parse(l) as DomainResult);
      const byDomain = Object.fromEntries(lines.map((l) => [l.domain, l]));
      expect(byDomain['example.test']).toMatchObject({ verdict: 'tempfail', deferredEarly: 'resolver' });
      expect(byDomain['127.0.0.1']).toMatchObject({ verdict: 'opportunistic', address: '127.0.0.1' });
      expect(err.text()).toMatch(/every destination is deferred|resolver/);
      expect(smtp.connections).toHaveLength(1);
    } finally {
      await smtp.close();
      await silent.close();
    }
  });
});

describe('the library with a fixed next hop', () => {
  /** A resolver that answers only the validation probe (a secure root SOA). */
  const probeOnly = (): Resolver & { asked: string[] } => {
    const asked: string[] = [];
    return {
      asked,
      async lookup(name, type) {
        asked.push(`${name} ${type}`);
        if (name === '' && type === 'SOA') return { qname: '', qtype: 'SOA', status: 'data', proof: 'secure', records: [], cnameChain: [], canonicalName: '' } as never;
        throw new Error(`no DNS lookup expected (${name} ${type})`);
      },
    } as Resolver & { asked: string[] };
  };
  const receiver = () =>
    startRawServer(
      script([
        '220 relay.test ESMTP',
        [/^EHLO client\.test$/, '250 relay.test'],
        [/^MAIL FROM:<a@client\.test>/, '250 ok'],
        [/^RCPT TO:<x@one\.test>/, '250 ok'],
        [/^RCPT TO:<y@two\.test>/, '250 ok'],
        [/^DATA/, '354 go'],
        async (c) => {
          await c.readData();
          await c.write('250 queued\r\n');
        },
        [/^QUIT/, '221 bye'],
      ]),
    );

  it('check() takes [address]:port as the CLI does, and refuses a malformed one as a usage error', async () => {
    const smtp = await startRawServer(script(['220 relay.test ESMTP', [/^EHLO /, '250 relay.test'], [/^QUIT/, '221 bye']]));
    try {
      const resolver = probeOnly();
      const r = await check(`[127.0.0.1]:${smtp.port}`, { resolver, helo: 'client.test', timeoutMs: 5000 });
      expect(r).toMatchObject({ domain: '127.0.0.1', verdict: 'opportunistic', nextHop: `[127.0.0.1]:${smtp.port}` });
      expect(resolver.asked).toEqual([]);
      await expect(check('[127.0.0]:25', { resolver, helo: 'client.test' })).rejects.toMatchObject({ code: 'USAGE' });
    } finally {
      await smtp.close();
    }
  });

  it('deliver() with nexthop sends every recipient, of every domain, in one transaction to the relay', async () => {
    const smtp = await receiver();
    try {
      const results = await deliver('Subject: t\r\n\r\nhi\r\n', { resolver: probeOnly(), helo: 'client.test', timeoutMs: 5000, from: 'a@client.test', to: ['x@one.test', 'y@two.test'], nexthop: `[127.0.0.1]:${smtp.port}`, level: 'may' });
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ verdict: 'opportunistic', recipients: [{ address: 'x@one.test', status: 'delivered' }, { address: 'y@two.test', status: 'delivered' }] });
      expect(smtp.errors).toEqual([]);
    } finally {
      await smtp.close();
    }
  });

  it('the nodemailer transport passes nexthop on', async () => {
    const smtp = await receiver();
    try {
      const transport = nodemailer.createTransport(daneTransport({ resolver: probeOnly(), helo: 'client.test', timeoutMs: 5000, nexthop: `[127.0.0.1]:${smtp.port}`, level: 'may' }));
      const info = await transport.sendMail({ from: 'a@client.test', to: ['x@one.test', 'y@two.test'], subject: 't', text: 'hi' });
      expect(info.accepted).toEqual(['x@one.test', 'y@two.test']);
      expect(smtp.errors).toEqual([]);
    } finally {
      await smtp.close();
    }
  });
});
