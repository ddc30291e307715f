/**
 * A resolver that does not recurse (an authoritative-only server given as --resolver)
 * answers with referrals: NOERROR and no answer. Read as NODATA, that would make the
 * domain its own implicit MX, find "no address" and bounce the mail (exit 69). It must
 * be a failed lookup instead, so that the mail is deferred.
 */
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { answerFromMessage } from '../../../src/dns/stub.js';
import { parseMessage } from '../../../src/dns/wire.js';
import { ValidatingResolver } from '../../../src/dns/dnssec/validating-resolver.js';
import { IANA_ROOT_ANCHORS } from '../../../src/dns/dnssec/trust-anchors.js';
import { ScriptedDnsServer } from '../../support/dns-server.js';

const NS = (name: string, host: string): dnsPacket.Answer => ({ type: 'NS', name, ttl: 300, data: host });
const SOA: dnsPacket.Answer = {
  type: 'SOA', name: 'example.test', ttl: 300,
  data: { mname: 'ns.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 },
};

function response(flags: number, answers: dnsPacket.Answer[], authorities: dnsPacket.Answer[] = []) {
  const buf = dnsPacket.encode({ type: 'response', id: 7, flags, questions: [{ type: 'MX', name: 'example.test' }], answers, authorities });
  return answerFromMessage(parseMessage(Buffer.from(buf)), 'example.test', 'MX');
}
const MX: dnsPacket.Answer = { type: 'MX', name: 'example.test', ttl: 300, data: { preference: 10, exchange: 'mx.example.test' } };

describe('answers from a server that does not recurse', () => {
  it('RA=0: failed (indeterminate), even with an answer — the server is not a recursive resolver', () => {
    const a = response(dnsPacket.RECURSION_DESIRED, [MX]);
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(a.reason).toMatch(/RA=0/);
  });

  it('a referral (no answer, NS and no SOA in authority): failed, never NODATA', () => {
    const a = response(dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, [], [NS('test', 'ns.test')]);
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(a.reason).toMatch(/referral/);
  });

  it('controls: NODATA with the SOA, and a plain answer, from a recursive resolver', () => {
    const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHENTIC_DATA;
    expect(response(flags, [], [SOA])).toMatchObject({ status: 'nodata', proof: 'secure' });
    expect(response(flags, [], [SOA, NS('example.test', 'ns.example.test')])).toMatchObject({ status: 'nodata' });
    expect(response(flags, [MX])).toMatchObject({ status: 'data', proof: 'secure' });
  });
});

describe('the built-in validator over an upstream that does not recurse', () => {
  async function askThrough(flags: number, authorities: dnsPacket.Answer[]) {
    const server = await ScriptedDnsServer.start((q) => ({
      type: 'response', id: q.id, flags, questions: q.questions, answers: [], authorities,
    }));
    try {
      const v = new ValidatingResolver({ upstream: { server: server.address, port: server.port }, timeoutMs: 2000, trustAnchors: IANA_ROOT_ANCHORS });
      return await v.lookup('example.test', 'MX');
    } finally {
      await server.close();
    }
  }

  it('RA=0: failed, not a (bogus or insecure) NODATA', async () => {
    const a = await askThrough(dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED, [NS('test', 'ns.test')]);
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(a.reason).toMatch(/RA=0/);
  });

  it('a referral with RA=1: failed, with the reason', async () => {
    const a = await askThrough(dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.CHECKING_DISABLED, [NS('test', 'ns.test')]);
    expect(a).toMatchObject({ status: 'failed', proof: 'indeterminate' });
    expect(a.reason).toMatch(/referral/);
  });
});
