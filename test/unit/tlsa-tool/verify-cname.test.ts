/**
 * `dane-smtp tlsa --verify --connect HOST` looks TLSA up where a sending MTA would (RFC 7672
 * §2.2.2, plan.ts findTlsaBase): HOST mx.example.test is a CNAME for mx.target.test. The
 * scripted resolver on loopback answers with the AD bit per RRset as a validating resolver
 * would; one STARTTLS SMTP server on a loopback address records the SNI it is sent.
 */
import dnsPacket from 'dns-packet';
import { beforeAll, describe, expect, it } from 'vitest';
import { reply, ROOT_SOA, tlsaRr } from '../../support/dns-server.js';
import { runTlsaCli, useTempDir } from '../../support/tlsa-cli.js';
import { loopbackNet, useTlsaServers } from '../../support/tlsa-servers.js';
import { makeCert, makeChain, spkiSha256, type Chain, type Issued } from '../../support/pki.js';

const HOST = 'mx.example.test';
const TARGET = 'mx.target.test';

/** The leaf names only the CNAME target: DANE-TA authenticates it only with TARGET as reference identifier. */
let chain: Chain;
let next: Issued;
const { file } = useTempDir('tlsa-cname-');
const servers = useTlsaServers(() => ({ certPem: chain.servedPem, keyPem: chain.leaf.keyPem }));

beforeAll(async () => {
  chain = await makeChain({ leafCn: TARGET });
  next = await makeCert({ cn: TARGET, sans: [TARGET], issuer: chain.intermediate });
}, 60_000);

const leafSpki = () => spkiSha256(chain.leaf.spkiDer);
const caSpki = () => spkiSha256(chain.intermediate.spkiDer);
const WRONG = 'ab'.repeat(32);

interface Zone {
  /** AD on the A/AAAA answers (the whole CNAME chain and the address records). */
  chainSecure: boolean;
  /** AD on the answer to a CNAME query at HOST (its first CNAME). */
  firstCnameSecure: boolean;
  /** HOST is a CNAME for TARGET (else HOST has the address itself). */
  cname?: boolean;
  /** TLSA records (usage selector mtype hex) at _25._tcp.NAME; absent: NODATA. */
  tlsa: Record<string, [number, number, number, string][]>;
}

async function startDns(zone: Zone, address: string, bind: string) {
  const cname = zone.cname ?? true;
  return servers.dns(
    (q) => {
      const question = q.questions?.[0];
      if (!question) return null;
      const { name, type } = question;
      if (type === 'SOA' && name === '.') return reply(q, { ad: true, answers: [ROOT_SOA] });
      const chainRr: dnsPacket.Answer[] = cname ? [{ type: 'CNAME', name: HOST, ttl: 300, data: TARGET }] : [];
      const owner = cname ? TARGET : HOST;
      if (name === HOST && type === 'CNAME') {
        return reply(q, cname ? { ad: zone.firstCnameSecure, answers: chainRr } : { ad: zone.chainSecure });
      }
      if ((name === HOST || name === TARGET) && (type === 'A' || type === 'AAAA')) {
        const answers = [...(name === HOST ? chainRr : []), ...(type === 'A' ? [{ type: 'A', name: owner, ttl: 300, data: address } as dnsPacket.Answer] : [])];
        return reply(q, { ad: zone.chainSecure, answers });
      }
      if (type === 'TLSA') {
        const base = name.replace(/^_25\._tcp\./, '');
        return reply(q, { ad: true, answers: (zone.tlsa[base] ?? []).map(([usage, selector, matchingType, hex]) => tlsaRr(name, usage, selector, matchingType, hex)) });
      }
      return reply(q, { ad: true, rcode: 'NXDOMAIN' });
    },
    { address: bind },
  );
}

async function verify(zone: Zone, extra: string[] = []) {
  const ip = loopbackNet();
  const srv = await servers.smtp({ host: ip(1) });
  const dns = await startDns(zone, ip(1), ip(53));
  const r = await runTlsaCli(['--verify', '--connect', `${HOST}:${srv.port}`, '--port', '25', '--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', ...extra]);
  const asked = dns.queries.map((x) => `${x.query?.questions?.[0]?.name} ${x.query?.questions?.[0]?.type}`).filter((x) => !x.startsWith('. '));
  const tlsaAsked = asked.filter((x) => x.endsWith(' TLSA')).map((x) => x.replace(/ TLSA$/, ''));
  return { ...r, srv, asked, tlsaAsked };
}

describe('tlsa --verify --connect HOST: the TLSA base domain of RFC 7672 §2.2.2', () => {
  it('secure CNAME chain, TLSA only at the target: matched at the target; SNI and DANE-TA name are the target', async () => {
    const r = await verify({ chainSecure: true, firstCnameSecure: true, tlsa: { [TARGET]: [[2, 1, 1, caSpki()]] } });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.tlsaAsked).toEqual([`_25._tcp.${TARGET}`]);
    expect(r.srv.sni).toEqual([TARGET]);
    expect(r.out).toContain(`TLSA base domain: ${TARGET}: ${HOST} is a CNAME for ${TARGET} and the chain and its address records are secure, so TLSA is looked up at the expanded name ${TARGET} first`);
    expect(r.out).toContain(`TLSA owner names queried: _25._tcp.${TARGET}. (data, secure)`);
    expect(r.out).toMatch(new RegExp(`TLSA _25\\._tcp\\.${TARGET.replace(/\./g, '\\.')}: 1 record\\(s\\)`));
    expect(r.out).toMatch(/result: AUTHENTICATED: .*name mx\.target\.test/);
    expect(r.out).toMatch(/overall: AUTHENTICATED/);
  });

  it('TLSA at both names: the target wins, the original name is not even queried (--json)', async () => {
    const r = await verify({ chainSecure: true, firstCnameSecure: true, tlsa: { [TARGET]: [[3, 1, 1, leafSpki()]], [HOST]: [[3, 1, 1, WRONG]] } }, ['--json']);
    expect(r.code).toBe(0);
    expect(r.tlsaAsked).toEqual([`_25._tcp.${TARGET}`]);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      authenticated: true,
      owner: `_25._tcp.${TARGET}.`,
      tlsaBase: { base: TARGET, owner: `_25._tcp.${TARGET}.`, selection: 'rfc7672', daneApplies: true, queried: [{ owner: `_25._tcp.${TARGET}.`, status: 'data', proof: 'secure', records: 1 }] },
      dns: { status: 'data', proof: 'secure' },
    });
    expect(j.tlsaBase.reason).toMatch(/RFC 7672 §2\.2\.2/);
    expect(r.srv.sni).toEqual([TARGET]);
  });

  it('secure CNAME chain, TLSA only at the original name: the target is queried first, then the original name is used', async () => {
    const r = await verify({ chainSecure: true, firstCnameSecure: true, tlsa: { [HOST]: [[3, 1, 1, leafSpki()]] } }, ['--json']);
    expect(r.code).toBe(0);
    expect(r.tlsaAsked).toEqual([`_25._tcp.${TARGET}`, `_25._tcp.${HOST}`]);
    const j = JSON.parse(r.out);
    expect(j.tlsaBase).toMatchObject({
      base: HOST,
      owner: `_25._tcp.${HOST}.`,
      queried: [
        { owner: `_25._tcp.${TARGET}.`, status: 'nodata', proof: 'secure' },
        { owner: `_25._tcp.${HOST}.`, status: 'data', proof: 'secure' },
      ],
    });
    expect(j.tlsaBase.reason).toContain(`_25._tcp.${TARGET} has no secure TLSA RRset (nodata, secure), so ${HOST} is used`);
    expect(j.authenticated).toBe(true);
    expect(r.srv.sni).toEqual([HOST]);
  });

  it('insecure chain whose first CNAME is secure: TLSA at the original name only', async () => {
    const r = await verify({ chainSecure: false, firstCnameSecure: true, tlsa: { [TARGET]: [[3, 1, 1, WRONG]], [HOST]: [[3, 1, 1, leafSpki()]] } });
    expect(r.code).toBe(0);
    expect(r.asked).toContain(`${HOST} CNAME`);
    expect(r.tlsaAsked).toEqual([`_25._tcp.${HOST}`]);
    expect(r.out).toContain(`TLSA base domain: ${HOST}: the CNAME chain from ${HOST} to ${TARGET} is insecure but its first CNAME is secure, so TLSA is looked up at the original name ${HOST} only`);
    expect(r.out).toMatch(/overall: AUTHENTICATED/);
    expect(r.srv.sni).toEqual([HOST]);
  });

  it('insecure address records: DANE does not apply, no TLSA lookup, exit 1 (--json too)', async () => {
    const zone: Zone = { chainSecure: false, firstCnameSecure: false, cname: false, tlsa: { [HOST]: [[3, 1, 1, leafSpki()]] } };
    const r = await verify(zone);
    expect(r.code).toBe(1);
    expect(r.tlsaAsked).toEqual([]);
    expect(r.out).toContain('TLSA base domain: none: DANE does not apply: the address records of mx.example.test are insecure');
    expect(r.out).toContain('TLSA: not looked up');
    expect(r.out).toMatch(/overall: NOT AUTHENTICATED: DANE does not apply: the address records of mx\.example\.test are insecure, so a sending MTA looks up no TLSA records and uses opportunistic TLS \(RFC 7672 §2\.2\.2\)\n/);
    const j = JSON.parse((await verify(zone, ['--json'])).out);
    expect(j).toMatchObject({ ok: false, authenticated: false, dns: null, tlsaBase: { base: null, daneApplies: false, queried: [] } });
    expect(j.summary).toMatch(/^NOT authenticated: DANE does not apply: /);
  });

  it('insecure chain, first CNAME insecure too: DANE does not apply', async () => {
    const r = await verify({ chainSecure: false, firstCnameSecure: false, tlsa: { [TARGET]: [[3, 1, 1, leafSpki()]], [HOST]: [[3, 1, 1, leafSpki()]] } });
    expect(r.code).toBe(1);
    expect(r.tlsaAsked).toEqual([]);
    expect(r.out).toMatch(/overall: NOT AUTHENTICATED: DANE does not apply: the address records of mx\.example\.test are insecure and its first CNAME is not secure \(data, insecure\)/);
  });

  it('--sni overrides the SNI, not the TLSA base domain', async () => {
    const r = await verify({ chainSecure: true, firstCnameSecure: true, tlsa: { [TARGET]: [[3, 1, 1, leafSpki()]] } }, ['--sni', 'other.example.test']);
    expect(r.code).toBe(0);
    expect(r.tlsaAsked).toEqual([`_25._tcp.${TARGET}`]);
    expect(r.srv.sni).toEqual(['other.example.test']);
  });

  it('--host gives the TLSA base domain: no selection, said so', async () => {
    const r = await verify({ chainSecure: true, firstCnameSecure: true, tlsa: { [TARGET]: [[3, 1, 1, leafSpki()]], [HOST]: [[3, 1, 1, leafSpki()]] } }, ['--host', HOST]);
    expect(r.code).toBe(0);
    expect(r.tlsaAsked).toEqual([`_25._tcp.${HOST}`]);
    expect(r.out).toContain(`TLSA base domain: ${HOST}: the TLSA base domain ${HOST} is given with --host: no RFC 7672 §2.2.2 selection`);
  });

  it('--next shares the lookup: the RRset at the target is checked and the RRset to publish is for the target', async () => {
    const nextFile = file('next.pem', next.certPem);
    const r = await verify({ chainSecure: true, firstCnameSecure: true, tlsa: { [TARGET]: [[3, 1, 1, leafSpki()], [3, 1, 1, spkiSha256(next.spkiDer)]], [HOST]: [[3, 1, 1, WRONG]] } }, ['--next', nextFile, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.rollover.status).toBe('ready');
    for (const z of j.rollover.publishZone) expect(z).toMatch(new RegExp(`^_25\\._tcp\\.mx\\.target\\.test\\. `));
    expect(r.tlsaAsked).toEqual([`_25._tcp.${TARGET}`]);
  });
});
