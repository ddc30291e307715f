/**
 * `dane-smtp tlsa --verify` (which record matches which certificate, digest agility RFC 7671 §9),
 * `--next` rollover (RFC 7671 §8.1) and `--rrset` as pasted from dig.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMaterial } from '../../../src/tools/tlsa/material.js';
import { analyzeRollover } from '../../../src/tools/tlsa/rollover.js';
import { verifyServed } from '../../../src/tools/tlsa/verify.js';
import { parseZoneTlsa } from '../../../src/tools/tlsa/zone.js';
import type { DnsAnswer, TlsaData } from '../../../src/dns/types.js';
import { useTempDir } from '../../support/tlsa-cli.js';
import { makeCert, makeChain, spkiSha256, spkiSha512, type Chain, type Issued } from '../../support/pki.js';
import { dgst, hexOf, tlsa, operatorKeyFiles } from '../../support/tlsa-material.js';

let chain: Chain;

let next: Issued;

const { path } = useTempDir('tlsa-review-');

beforeAll(async () => {
  operatorKeyFiles(path);
  chain = await makeChain({ leafCn: 'mx.example.test' });
  next = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
}, 120_000);

describe('tlsa --verify: which record matches which certificate', () => {
  const answer = (records: TlsaData[]): DnsAnswer<TlsaData> => ({
    qname: '_25._tcp.mx.example.test',
    qtype: 'TLSA',
    status: 'data',
    proof: 'secure',
    records,
    ttl: 300,
    cnameChain: ['_25._tcp.mx.example.test'],
    canonicalName: '_25._tcp.mx.example.test',
  });
  const verify = (records: TlsaData[]) =>
    verifyServed({ owner: '_25._tcp.mx.example.test', answer: answer(records), served: [chain.leaf.der, chain.intermediate.der], referenceNames: ['mx.example.test'], now: new Date() });

  it('a 3 1 1 of the intermediate matches depth 1 only and is said not to work', () => {
    const r = verify([tlsa(3, 1, 1, spkiSha256(chain.intermediate.spkiDer))]);
    expect(r.authenticated).toBe(false);
    expect(r.records[0]!.verdict).toMatch(/matches depth 1 .*but DANE-EE only matches the leaf/);
  });

  it('digest agility: a 3 1 1 next to a 3 1 2 is unusable (RFC 7671 §9), even when it is the one that matches', () => {
    const r = verify([tlsa(3, 1, 1, spkiSha256(chain.leaf.spkiDer)), tlsa(3, 1, 2, spkiSha512(next.spkiDer))]);
    expect(r.authenticated).toBe(false);
    expect(r.records[0]).toMatchObject({ usable: false, unusableReason: 'weaker-digest' });
    expect(r.records[0]!.verdict).toMatch(/unusable: a stronger digest is published .*; matches depth 0/);
    expect(r.records[1]!.verdict).toBe('usable; matches no served certificate');
  });
});

describe('tlsa --next: rollover (RFC 7671 §8.1)', () => {
  const base = { host: 'mx.example.test', now: new Date() };
  const cur = () => parseMaterial(Buffer.from(chain.servedPem));

  it('ready through a DANE-TA record: nothing to add, the RRset to publish is the published one', () => {
    const published = [tlsa(2, 1, 1, spkiSha256(chain.intermediate.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: parseMaterial(Buffer.from(next.certPem)) });
    expect(r.status).toBe('ready');
    expect(r.added).toEqual([]);
    expect(r.publish.map((p) => p.record)).toEqual([`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`]);
  });

  it('current covered by DANE-TA, next from another CA: only the next 3 1 1 is added', () => {
    const published = [tlsa(2, 1, 1, spkiSha256(chain.intermediate.spkiDer))];
    const stranger = parseMaterial(readFileSync(path('ec.crt')));
    const r = analyzeRollover({ ...base, published, current: cur(), next: stranger });
    expect(r.status).toBe('current-only');
    expect(r.added).toEqual([`3 1 1 ${hexOf(stranger)}`]);
    expect(r.retireAfterSwitch).toEqual([`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`]);
  });

  it('digest agility: a next 3 1 1 published beside a current 3 1 2 does not count; the RRset adds a 3 1 2 and drops the 3 1 1', () => {
    const published = [tlsa(3, 1, 2, spkiSha512(chain.leaf.spkiDer)), tlsa(3, 1, 1, spkiSha256(next.spkiDer))];
    const r = analyzeRollover({ ...base, published, current: cur(), next: parseMaterial(Buffer.from(next.keyPem)) });
    expect(r.status).toBe('current-only');
    expect(r.next.covered).toBe(false);
    expect(r.published[1]).toMatchObject({ usable: false, next: 'yes' });
    expect(r.added).toEqual([`3 1 2 ${spkiSha512(next.spkiDer)}`]);
    expect(r.dropped.map((d) => d.record)).toEqual([`3 1 1 ${spkiSha256(next.spkiDer)}`]);
    expect(r.publish.map((p) => p.record)).toEqual([`3 1 2 ${spkiSha512(chain.leaf.spkiDer)}`, `3 1 2 ${spkiSha512(next.spkiDer)}`]);
    expect(r.warnings.join()).toMatch(/SHA-512 \(3 1 2\) records are published/);
  });

  it('a next key equal to the current one with a certificate record (3 0 1): not ready, a 3 1 1 is added, the sameness said', () => {
    const certHex = dgst('sha256', chain.leaf.der);
    const renewed = parseMaterial(Buffer.from(chain.leaf.keyPem)); // same key
    const r = analyzeRollover({ ...base, published: [tlsa(3, 0, 1, certHex)], current: cur(), next: renewed });
    expect(r.sameKey).toBe(true);
    expect(r.warnings.join()).toMatch(/next key is the same as the current one/);
    expect(r.added).toEqual([`3 1 1 ${spkiSha256(chain.leaf.spkiDer)}`]);
  });
});

describe('tlsa --rrset as pasted from dig', () => {
  it('dig +dnssec output with RRSIG lines (full and +short): the RRSIGs are skipped', () => {
    const d = spkiSha256(chain.leaf.spkiDer).toUpperCase();
    const full = [
      ';; ANSWER SECTION:',
      `_25._tcp.mx.example.test. 300 IN TLSA 3 1 1 ${d.slice(0, 56)} ${d.slice(56)}`,
      '_25._tcp.mx.example.test. 300 IN RRSIG TLSA 13 5 300 20300101000000 20200101000000 12345 example.test. AAAA',
    ].join('\n');
    expect(parseZoneTlsa(full).records.map((r) => r.data.toString('hex').toUpperCase())).toEqual([d]);
    const short = [`3 1 1 ${d.slice(0, 56)} ${d.slice(56)}`, 'TLSA 13 5 300 20300101000000 20200101000000 12345 example.test. AAAA'].join('\n');
    expect(parseZoneTlsa(short)).toMatchObject({ records: [{ usage: 3, selector: 1, matchingType: 1 }], ignored: 1 });
    // through a CNAME, dig +short prints the target name first
    expect(parseZoneTlsa(`_25._tcp.mx.provider.example.\n3 1 1 ${d}\n`)).toMatchObject({ records: [{ usage: 3 }], ignored: 1 });
  });
});
