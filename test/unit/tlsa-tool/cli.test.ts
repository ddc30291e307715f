/**
 * `dane-smtp tlsa` end to end (in process): STARTTLS and implicit-TLS test servers on
 * 127.0.0.1 port 0, a scripted DNS server for --verify, files in a temp directory.
 */
import dnsPacket from 'dns-packet';
import { beforeAll, describe, expect, it } from 'vitest';
import { reply, ROOT_SOA, tlsaRr } from '../../support/dns-server.js';
import { runTlsaCli, useTempDir, type TlsaRun } from '../../support/tlsa-cli.js';
import { useTlsaServers, type TlsaTestServer } from '../../support/tlsa-servers.js';
import { certSha256, makeCert, makeChain, spkiSha256, type Chain, type Issued } from '../../support/pki.js';

let chain: Chain;
let next: Issued;
const { file } = useTempDir('tlsa-cli-');
const servers = useTlsaServers(() => ({ certPem: chain.servedPem, keyPem: chain.leaf.keyPem }));

beforeAll(async () => {
  chain = await makeChain({ leafCn: 'mx.example.test' });
  next = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
}, 60_000);

interface Tlsa {
  usage: number;
  selector: number;
  matchingType: number;
  hex: string;
}

/** `mx.example.test` A 127.0.0.1 (no AAAA), with the AD bit; null for other questions. */
function addressReply(q: dnsPacket.DecodedPacket): dnsPacket.Packet | null {
  const question = q.questions?.[0];
  if (question?.name !== 'mx.example.test' || (question.type !== 'A' && question.type !== 'AAAA')) return null;
  return reply(q, { ad: true, answers: question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 300, data: '127.0.0.1' }] : [] });
}

/**
 * A validating resolver's answers: AD on the root SOA, `records` at any TLSA name, and the
 * address of mx.example.test (--verify resolves the --connect host with the resolver).
 */
async function startDns(records: Tlsa[], ad = true) {
  return servers.dns((q) => {
    const question = q.questions?.[0];
    if (!question) return null;
    const address = addressReply(q);
    if (address) return address;
    if (question.type === 'SOA') return reply(q, { ad: true, answers: [ROOT_SOA] });
    if (question.type === 'TLSA') return reply(q, { ad, answers: records.map((r) => tlsaRr(question.name, r.usage, r.selector, r.matchingType, r.hex)) });
    return reply(q, { rcode: 'NXDOMAIN' });
  });
}

const leafSpki = () => spkiSha256(chain.leaf.spkiDer);
const rec = (usage: number, selector: number, matchingType: number, hex: string): Tlsa => ({ usage, selector, matchingType, hex });

describe('dane-smtp tlsa: generate', () => {
  it('from a file: 3 1 1 zone line, exit 0', async () => {
    const r = await runTlsaCli([file('leaf.pem', chain.leaf.certPem), '--host', 'mx.example.test']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain(`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${leafSpki()}\n`);
    expect(r.out.split('\n').filter((l) => l && !l.startsWith(';'))).toHaveLength(1);
  });

  it('--record 2 0 1 with a chain file, --port 587, --json', async () => {
    const r = await runTlsaCli([`--record`, '2', '0', '1', file('chain.pem', chain.servedPem), '--host', 'mx.example.test', '--port', '587', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ mode: 'generate', owner: '_587._tcp.mx.example.test.', warnings: [] });
    expect(j.records[0]).toMatchObject({ usage: 2, selector: 0, matchingType: 1, data: certSha256(chain.intermediate.der) });
    expect(j.records[0].zone).toBe(`_587._tcp.mx.example.test. IN TLSA 2 0 1 ${certSha256(chain.intermediate.der)}`);
  });

  it('--connect with STARTTLS: the served chain, host and port from --connect, SNI = host', async () => {
    const srv = await servers.smtp();
    const r = await runTlsaCli(['--connect', `mx.example.test:${srv.port}`, '--tls', 'starttls', '--record', '3 1 1', '--record', '2 1 1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`_${srv.port}._tcp.mx.example.test. IN TLSA 3 1 1 ${leafSpki()}`);
    expect(r.out).toContain(`_${srv.port}._tcp.mx.example.test. IN TLSA 2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`);
    expect(srv.sni).toEqual(['mx.example.test']);
    expect(srv.commands).toContain('STARTTLS');
    expect(srv.commands[srv.commands.length - 1]).toBe('QUIT');
  });

  it('--connect IP:PORT needs --host; 2 x x warns when the server sends no CA', async () => {
    const srv = await servers.smtp({ certPem: chain.leaf.certPem });
    const noHost = await runTlsaCli(['--connect', `127.0.0.1:${srv.port}`]);
    expect(noHost.code).toBe(64);
    expect(noHost.err).toMatch(/^dane-smtp: --connect gives an IP address: give the TLSA base domain with --host NAME/);
    const r = await runTlsaCli(['--connect', `127.0.0.1:${srv.port}`, '--tls', 'starttls', '--host', 'mx.example.test', '--port', '25', '--usage', '2', '--selector', '0']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: the issuing CA of CN=mx.example.test .* is not in the served chain/);
    expect(r.out).toContain('_25._tcp.mx.example.test. IN TLSA 2 0 1');
  });

  it('a chain file and --connect: warns when the file\'s CA is not in the served chain', async () => {
    const srv = await servers.smtp({ certPem: chain.leaf.certPem });
    const r = await runTlsaCli([file('chain2.pem', chain.servedPem), '--connect', `mx.example.test:${srv.port}`, '--tls', 'starttls', '--record', '2', '1', '1']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: the CA CN=DANE Test Intermediate CA is not in the chain the server sends/);
    expect(r.out).toContain(`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`);
  });

  it('--connect with implicit TLS (port 465 style) and --sni', async () => {
    const srv = await servers.implicit();
    const r = await runTlsaCli(['--connect', `127.0.0.1:${srv.port}`, '--tls', 'implicit', '--sni', 'mx.example.test', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.owner).toBe(`_${srv.port}._tcp.mx.example.test.`);
    expect(j.addresses).toMatchObject([{ address: '127.0.0.1', port: srv.port, tls: 'implicit' }]);
    expect(j.records[0].data).toBe(leafSpki());
    expect(srv.sni).toEqual(['mx.example.test']);
  });

  it('a server that drops the connection: exit 69, one line', async () => {
    const { port } = await servers.rude();
    const r = await runTlsaCli(['--connect', `127.0.0.1:${port}`, '--host', 'mx.example.test', '--timeout', '5']);
    expect(r.code).toBe(69);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});

describe('dane-smtp tlsa --verify', () => {
  async function verify(records: Tlsa[], extra: string[] = [], ad = true, certPem = chain.servedPem): Promise<TlsaRun & { srv: TlsaTestServer }> {
    const dns = await startDns(records, ad);
    const srv = await servers.smtp({ certPem });
    const r = await runTlsaCli(['--verify', '--connect', `mx.example.test:${srv.port}`, '--tls', 'starttls', '--port', '25', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', ...extra]);
    return { ...r, srv };
  }

  it('authenticated: exit 0, which record matches which certificate', async () => {
    const r = await verify([rec(3, 1, 1, leafSpki()), rec(2, 1, 1, spkiSha256(chain.intermediate.spkiDer))]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/TLSA _25\._tcp\.mx\.example\.test: 2 record\(s\), TTL 300, DNSSEC secure/);
    expect(r.out).toMatch(/depth 0: CN=mx.example.test/);
    expect(r.out).toMatch(/usable; matches depth 0 \(CN=mx.example.test\)/);
    expect(r.out).toMatch(/usable; matches depth 1 \(CN=DANE Test Intermediate CA\)/);
    expect(r.out).toMatch(/result: AUTHENTICATED/);
  });

  it('not authenticated: exit 1, unusable records and why', async () => {
    const r = await verify([rec(3, 1, 1, 'aa'.repeat(32)), rec(1, 1, 1, leafSpki()), rec(3, 1, 1, 'bb'.repeat(20))]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/unusable: usage 1 \(PKIX-EE\) is not used by SMTP .*; matches depth 0/);
    expect(r.out).toMatch(/unusable: matching type 1 needs a 32-byte digest/);
    expect(r.out).toMatch(/usable; matches no served certificate/);
    expect(r.out).toMatch(/result: NOT AUTHENTICATED/);
  });

  it('an insecure RRset: exit 1; --json', async () => {
    const r = await verify([rec(3, 1, 1, leafSpki())], ['--json'], false);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ mode: 'verify', authenticated: false, ok: false, dns: { status: 'data', proof: 'insecure' }, resolver: { validates: true } });
    expect(j.addresses[0].records[0]).toMatchObject({ usable: true, matches: [{ depth: 0, subject: 'CN=mx.example.test' }] });
    expect(j.summary).toMatch(/insecure/);
  });

  it('--verify --next: current only → exit 1 and the RRset to publish; current + next → exit 0', async () => {
    const nextFile = file('next.pem', next.certPem);
    const notReady = await verify([rec(3, 1, 1, leafSpki())], ['--next', nextFile]);
    expect(notReady.code).toBe(1);
    expect(notReady.out).toMatch(/result: AUTHENTICATED/);
    expect(notReady.out).toMatch(/status: current-only — not ready: /);
    expect(notReady.out).toContain(`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${leafSpki()}`);
    expect(notReady.out).toContain(`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${spkiSha256(next.spkiDer)}`);

    const ready = await verify([rec(3, 1, 1, leafSpki()), rec(3, 1, 1, spkiSha256(next.spkiDer))], ['--next', nextFile, '--json']);
    expect(ready.code).toBe(0);
    const j = JSON.parse(ready.out);
    expect(j.rollover).toMatchObject({ status: 'ready', added: [] });
    expect(j.rollover.publishZone).toHaveLength(2);
  });
});

describe('dane-smtp tlsa --verify: failures are exit 1', () => {
  it('the server drops the connection', async () => {
    const dns = await startDns([rec(3, 1, 1, leafSpki())]);
    const { port } = await servers.rude();
    const r = await runTlsaCli(['--verify', '--connect', `127.0.0.1:${port}`, '--host', 'mx.example.test', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ authenticated: false, ok: false, dns: { status: 'data', proof: 'secure' } });
    expect(j.addresses[0].connect.error).toBeTruthy();
    expect(j.summary).toMatch(/^NOT authenticated: /);
  });

  it('a resolver that does not validate: its AD bit is not trusted', async () => {
    const dns = await servers.dns((q) => {
      const question = q.questions?.[0];
      const address = addressReply(q);
      if (address) return address;
      if (question?.type !== 'TLSA') return reply(q, {}); // root SOA without AD
      return reply(q, { ad: true, answers: [tlsaRr(question.name, 3, 1, 1, leafSpki())] });
    });
    const srv = await servers.smtp();
    const r = await runTlsaCli(['--verify', '--connect', `mx.example.test:${srv.port}`, '--tls', 'starttls', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/warning: .*does not validate DNSSEC.*AD bit is not trusted/);
    // Every answer counts as insecure, the address records too: as for a sending MTA,
    // DANE does not apply and no TLSA lookup is made (RFC 7672 §2.2.2).
    expect(r.out).toMatch(/TLSA: not looked up/);
    expect(r.out).toMatch(/result: NOT AUTHENTICATED: DANE does not apply: the address records of mx\.example\.test are insecure/);
  });
});

describe('dane-smtp tlsa --next --rrset', () => {
  it('neither → exit 1 with WRONG; ready → exit 0', async () => {
    const current = file('cur.pem', chain.servedPem);
    const nextKey = file('next.key', next.keyPem);
    const wrong = await runTlsaCli([current, '--next', nextKey, '--rrset', file('wrong.zone', `_25._tcp.mx.example.test. IN TLSA 3 1 1 ${'aa'.repeat(32)}\n`)]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/status: neither — WRONG/);
    const zone = `$ORIGIN example.test.\n_25._tcp.mx 300 IN TLSA 3 1 1 ${leafSpki()}\n_25._tcp.mx 300 IN TLSA 3 1 1 ( ${spkiSha256(next.spkiDer)} )\n`;
    const ok = await runTlsaCli([current, '--next', nextKey, '--rrset', file('ok.zone', zone), '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ mode: 'rollover', status: 'ready', ok: true, owner: '_25._tcp.mx.example.test.' });
  });

  it('a malformed RRset file is a usage error naming the line', async () => {
    const r = await runTlsaCli([file('c.pem', chain.servedPem), '--next', file('n.key', next.keyPem), '--rrset', file('bad.zone', '; x\nfoo. IN TLSA 3 1 1 abc\n')]);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/^dane-smtp: .*bad\.zone line 2: certificate association data has an odd number of hex digits\n$/);
  });
});

describe('dane-smtp tlsa: usage errors are one line, exit 64', () => {
  const cases: [string[], RegExp][] = [
    [[], /give a certificate, chain or key FILE/],
    [['--verify', 'x.pem'], /--verify checks a live server/],
    [['--connect', 'mx.example.test:99999'], /--connect port must be a port from 1 to 65535/],
    [['--connect', 'bad..host'], /--connect host is not a valid host name/],
    [['/nonexistent/cert.pem', '--host', 'mx.example.test'], /cannot read certificate or key \/nonexistent\/cert.pem: ENOENT/],
    [['--rrset', 'x.zone', 'x.pem'], /--rrset is for rollover checks/],
    [['--next', 'n.pem', 'x.pem'], /--next needs the published RRset/],
    [['--record', '3', '1', 'x.pem'], /--record needs usage, selector and matching type/],
    [['--usage', '3', '--record', '3', '1', '1', 'x.pem'], /either --record U S M or --usage/],
    [['--tls', 'smtps', '--connect', 'mx.example.test'], /--tls must be starttls or implicit/],
    [['--verify', '--connect', 'mx.example.test'], /no nameserver in \/etc\/resolv.conf/],
  ];
  for (const [args, re] of cases) {
    it(args.join(' ') || '(no arguments)', async () => {
      const r = await runTlsaCli(args);
      expect(r.code).toBe(64);
      expect(r.err).toMatch(re);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
    });
  }

  it('a file that is not a certificate or key', async () => {
    const r = await runTlsaCli([file('junk.pem', 'just text\n'), '--host', 'mx.example.test']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/junk\.pem: neither PEM .* nor DER/);
  });
});
