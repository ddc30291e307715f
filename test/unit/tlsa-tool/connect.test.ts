/**
 * `dane-smtp tlsa --connect`: SNI, STARTTLS or implicit TLS by port, a server without STARTTLS,
 * timeouts, the 2 x x record of the served chain.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runTlsaCli, useTempDir } from '../../support/tlsa-cli.js';
import { useTlsaServers } from '../../support/tlsa-servers.js';
import { certSha256, makeCert, makeChain, spkiSha256, type Chain, type Issued } from '../../support/pki.js';
import { privateLoopback, operatorKeyFiles } from '../../support/tlsa-material.js';

let chain: Chain;

let next: Issued;

const { path, file } = useTempDir('tlsa-review-');

const servers = useTlsaServers(() => ({ certPem: chain.servedPem, keyPem: chain.leaf.keyPem }));

beforeAll(async () => {
  operatorKeyFiles(path);
  chain = await makeChain({ leafCn: 'mx.example.test' });
  next = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
}, 120_000);

describe('tlsa --connect: SNI, STARTTLS or implicit TLS, failures', () => {
  const leaf = () => spkiSha256(chain.leaf.spkiDer);

  it('STARTTLS to an IP address with --host: the SNI is the --host name; the owner uses the --connect port', async () => {
    const srv = await servers.smtp();
    const r = await runTlsaCli(['--connect', `127.0.0.1:${srv.port}`, '--host', 'MX.Example.Test.', '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(srv.sni).toEqual(['mx.example.test']);
    expect(r.out).toContain(`_${srv.port}._tcp.mx.example.test. IN TLSA 3 1 1 ${leaf()}`);
    expect(srv.commands).toContain('STARTTLS');
  });

  it('port 465 means implicit TLS and port 587 STARTTLS, without --tls', async () => {
    const ip = privateLoopback();
    const implicit = await servers.implicit({ host: ip, port: 465 });
    const r465 = await runTlsaCli(['--connect', `${ip}:465`, '--host', 'mx.example.test', '--timeout', '5', '--json']);
    expect(r465.code).toBe(0);
    expect(JSON.parse(r465.out)).toMatchObject({ owner: '_465._tcp.mx.example.test.', addresses: [{ address: ip, tls: 'implicit', port: 465 }] });
    expect(implicit.sni).toEqual(['mx.example.test']);
    const submission = await servers.smtp({ host: ip, port: 587 });
    const r587 = await runTlsaCli(['--connect', `${ip}:587`, '--host', 'mx.example.test', '--timeout', '5', '--json']);
    expect(r587.code).toBe(0);
    expect(JSON.parse(r587.out)).toMatchObject({ owner: '_587._tcp.mx.example.test.', addresses: [{ address: ip, tls: 'starttls', port: 587 }] });
    expect(submission.sni).toEqual(['mx.example.test']);
  });

  it('a server without STARTTLS: exit 69, one line that says so', async () => {
    const srv = await servers.smtp({ starttls: false });
    const r = await runTlsaCli(['--connect', `mx.example.test:${srv.port}`, '--timeout', '5']);
    expect(r.code).toBe(69);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/STARTTLS not offered/);
  });

  it('a server that never greets: --timeout is honoured (exit 69, a timeout), STARTTLS and implicit TLS alike', async () => {
    const silent = await servers.smtp({ greet: false });
    for (const tlsMode of ['starttls', 'implicit']) {
      const r = await runTlsaCli(['--connect', `mx.example.test:${silent.port}`, '--tls', tlsMode, '--timeout', '0.5']);
      expect(r.code, tlsMode).toBe(69);
      expect(r.err, tlsMode).toMatch(/time|deadline/i);
      expect(r.ms, tlsMode).toBeLessThan(4000);
    }
  });

  it('implicit TLS to a plain SMTP port and STARTTLS to an implicit-TLS port fail with exit 69, not a hang', async () => {
    const plain = await servers.smtp();
    const a = await runTlsaCli(['--connect', `mx.example.test:${plain.port}`, '--tls', 'implicit', '--timeout', '2']);
    expect(a.code).toBe(69);
    expect(a.err.trim().split('\n')).toHaveLength(1);
    const implicit = await servers.implicit();
    const b = await runTlsaCli(['--connect', `mx.example.test:${implicit.port}`, '--tls', 'starttls', '--timeout', '1']);
    expect(b.code).toBe(69);
    expect(b.ms).toBeLessThan(5000);
  });

  it('2 x x: the top CA the server sends; from a file with a root the server does not send, the intermediate below it, with a note', async () => {
    const srv = await servers.smtp();
    const r = await runTlsaCli(['--connect', `mx.example.test:${srv.port}`, '--record', '2', '0', '1', '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/; 2 0 1: DANE-TA, SHA-256 of the certificate of CN=DANE Test Intermediate CA \(depth 1\)/);
    const root = await runTlsaCli([file('full.pem', chain.servedPem + chain.root.certPem), '--record', '2', '1', '1', '--connect', `mx.example.test:${srv.port}`, '--timeout', '5']);
    expect(root.code).toBe(0);
    expect(root.out).toMatch(/of CN=DANE Test Intermediate CA \(depth 1\)/);
    expect(root.out).toContain(`2 1 1 ${spkiSha256(chain.intermediate.spkiDer)}`);
    expect(root.err).toMatch(/warning: 2 x x records are for CN=DANE Test Intermediate CA, not for CN=DANE Test Root CA above it in the chain: .*CN=DANE Test Root CA is not in the chain the server sends/);
    expect(root.err).not.toMatch(/warning: the CA .* is not in the chain the server sends/);
    // Without --connect: the same record, and servers rarely send the root.
    const fileOnly = await runTlsaCli([file('full2.pem', chain.root.certPem + chain.intermediate.certPem + chain.leaf.certPem), '--record', '2', '0', '1', '--host', 'mx.example.test', '--json']);
    expect(fileOnly.code).toBe(0);
    const j = JSON.parse(fileOnly.out) as { records: { data: string; target: { depth: number } }[]; warnings: string[] };
    expect(j.records[0]).toMatchObject({ data: certSha256(chain.intermediate.der), target: { depth: 1 } });
    expect(j.warnings.join('\n')).toMatch(/servers rarely send the self-signed root CN=DANE Test Root CA/);
  });
});
