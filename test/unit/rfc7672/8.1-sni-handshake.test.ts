/**
 * RFC 7672 §8.1 on a real TLS handshake: the servername a server sees is the TLSA base domain (also for
 * a CNAME-expanded MX host), sent without the trailing dot (RFC 6066 §3).
 */
import { servedTls } from '../../../src/smtp/served-chain.js';
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processDestination, type DestinationOptions } from '../../../src/engine/destination.js';
import { runSmtpSession } from '../../../src/smtp/session.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../../src/smtp/types.js';
import { FixtureResolver, mx } from '../../support/fixture-resolver.js';
import { makeChain, type Chain } from '../../support/pki.js';
import { type RawServer, script, startRawServer } from '../../support/raw-smtp-server.js';
import { testPki } from '../../support/test-certs.js';

let good: Chain;

beforeAll(async () => {
  good = await makeChain({ leafCn: 'mx.example.test' });
});

describe('SNI is the TLSA base domain (RFC 7672 §8.1), also for a CNAME-expanded MX host (RFC 7672 §2.2.2)', () => {
  const spki311 = (c: Chain) => ({ usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(c.leaf.spkiDer).digest() });
  const chain = ['mx.example.test', 'mx.hosting.test'];
  const resolver = (tlsaRecords: unknown[]) =>
    new FixtureResolver({
      'example.test MX': { proof: 'secure', records: [mx(10, 'mx.example.test')] },
      'mx.example.test A': { proof: 'secure', records: ['192.0.2.1'], cnameChain: chain },
      'mx.example.test AAAA': { proof: 'secure', status: 'nodata', cnameChain: chain },
      '_25._tcp.mx.hosting.test TLSA': { proof: 'secure', records: tlsaRecords },
    });
  async function servernameFor(tlsaRecords: unknown[]): Promise<{ servername: string | undefined; tls: string; result: Awaited<ReturnType<typeof processDestination>> }> {
    const seen: SmtpSessionOptions[] = [];
    const session = async (o: SmtpSessionOptions): Promise<SmtpSessionResult> => {
      seen.push(o);
      const served = servedTls('TLSv1.3', 'TLS_AES_128_GCM_SHA256', [good.leaf.der, good.intermediate.der]);
      const check = o.checkTls ? o.checkTls(served) : { ok: true as const };
      if (!check.ok) return { outcome: 'host-failed', tls: false, extensions: {}, served, error: { code: 'AUTHENTICATION', message: check.reason } };
      return { outcome: 'ok', tls: true, extensions: {}, served };
    };
    const result = await processDestination('example.test', { kind: 'probe' }, {
      resolver: resolver(tlsaRecords), resolverValidates: true, port: 25, helo: 'client.test', timeoutMs: 1000,
      session: session as DestinationOptions['session'],
    });
    expect(seen).toHaveLength(1);
    return { servername: seen[0]!.servername, tls: seen[0]!.tls, result };
  }

  it('DANE level: SNI is the expanded name the TLSA records were found under, not the MX host name', async () => {
    const { servername, tls, result } = await servernameFor([spki311(good)]);
    expect(result).toMatchObject({ verdict: 'dane-authenticated', host: 'mx.example.test' });
    expect(result.hosts[0]?.tlsaBase).toBe('mx.hosting.test');
    expect(tls).toBe('required');
    expect(servername).toBe('mx.hosting.test');
  });

  it('encrypt level (a secure TLSA RRset with no usable record): SNI is the TLSA base domain too', async () => {
    const { servername, tls, result } = await servernameFor([{ ...spki311(good), usage: 1 }]);
    expect(result).toMatchObject({ verdict: 'encrypt-unauthenticated', host: 'mx.example.test' });
    expect(tls).toBe('required');
    expect(servername).toBe('mx.hosting.test');
  });
});

describe('SNI on the wire (RFC 6066 §3: a host name without the trailing dot)', () => {
  const servers: RawServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  it('a servername given as an absolute name "mx.example.test." is sent as "mx.example.test"', async () => {
    const pki = testPki();
    const server = await startRawServer(async (c) => {
      await script(['220 mx.example.test ESMTP', [/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, '220 go']])(c);
      await c.startTls({ cert: pki.leaf.pem + pki.intermediate.pem, key: pki.leaf.key });
      await script([[/^EHLO /, '250 mx.example.test'], [/^QUIT$/, '221 bye']])(c);
    });
    servers.push(server);
    const result = await runSmtpSession(
      { address: '127.0.0.1', port: server.port, helo: 'client.example.test', timeoutMs: 5000, tls: 'required', servername: 'mx.example.test.' },
      { kind: 'probe' },
    );
    await server.allClosed();
    expect(result).toMatchObject({ outcome: 'ok', tls: true });
    expect(server.connections[0]!.tlsInfo?.servername).toBe('mx.example.test');
  });
});
