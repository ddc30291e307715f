import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  certSha256,
  certSha512,
  makeCert,
  makeChain,
  spkiSha256,
  spkiSha512,
  type KeyType,
} from '../../support/pki.js';

const DAY = 24 * 60 * 60 * 1000;

function sanList(x: X509Certificate): string | undefined {
  return x.subjectAltName;
}

describe('test PKI', () => {
  it('builds a verifiable root -> intermediate -> leaf chain', async () => {
    const chain = await makeChain({ leafCn: 'mx.example.test', leafSans: ['mx.example.test', 'mail.example.test'] });
    const root = new X509Certificate(chain.root.der);
    const inter = new X509Certificate(chain.intermediate.der);
    const leaf = new X509Certificate(chain.leaf.der);

    expect(root.checkIssued(root)).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(inter.checkIssued(root)).toBe(true);
    expect(inter.verify(root.publicKey)).toBe(true);
    expect(leaf.checkIssued(inter)).toBe(true);
    expect(leaf.verify(inter.publicKey)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(false);

    expect(root.ca).toBe(true);
    expect(inter.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.subject).toBe('CN=mx.example.test');
    expect(chain.leaf.subject).toBe('CN=mx.example.test');
    expect(leaf.issuer).toBe(inter.subject);
    expect(sanList(leaf)).toBe('DNS:mx.example.test, DNS:mail.example.test');
    expect(leaf.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth EKU

    // servedPem = leaf then intermediate
    const pems = chain.servedPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    expect(pems).toHaveLength(2);
    expect(new X509Certificate(pems![0]!).fingerprint256).toBe(leaf.fingerprint256);
    expect(new X509Certificate(pems![1]!).fingerprint256).toBe(inter.fingerprint256);

    // keyPem matches the certificate
    expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(chain.leaf.keyPem))).toBe(true);
    // random serials
    expect(root.serialNumber).not.toBe(inter.serialNumber);
  });

  it('honours past and future validity windows', async () => {
    const now = Date.now();
    const expired = await makeCert({
      cn: 'expired.example.test',
      notBefore: new Date(now - 30 * DAY),
      notAfter: new Date(now - 2 * DAY),
    });
    const x = new X509Certificate(expired.der);
    expect(new Date(x.validTo).getTime()).toBeLessThan(now);
    expect(Math.abs(new Date(x.validTo).getTime() - (now - 2 * DAY))).toBeLessThan(2000);
    expect(Math.abs(new Date(x.validFrom).getTime() - (now - 30 * DAY))).toBeLessThan(2000);

    const future = await makeCert({ notBefore: new Date(now + 10 * DAY), notAfter: new Date(now + 20 * DAY) });
    const f = new X509Certificate(future.der);
    expect(new Date(f.validFrom).getTime()).toBeGreaterThan(now);

    // dates beyond 2049 (GeneralizedTime)
    const far = await makeCert({ notAfter: new Date('2060-06-01T12:00:00Z') });
    expect(new Date(new X509Certificate(far.der).validTo).toISOString()).toBe('2060-06-01T12:00:00.000Z');

    const def = new X509Certificate((await makeCert({})).der);
    expect(new Date(def.validFrom).getTime()).toBeLessThan(now);
    expect(new Date(def.validTo).getTime()).toBeGreaterThan(now + 300 * DAY);

    const chain = await makeChain({ leafNotAfter: new Date(now - DAY), leafNotBefore: new Date(now - 10 * DAY) });
    expect(new Date(new X509Certificate(chain.leaf.der).validTo).getTime()).toBeLessThan(now);
    expect(new Date(new X509Certificate(chain.intermediate.der).validTo).getTime()).toBeGreaterThan(now);
  });

  it('omits the SAN extension when sans is not given', async () => {
    const cnOnly = await makeCert({ cn: 'cn-only.example.test' });
    const x = new X509Certificate(cnOnly.der);
    expect(x.subjectAltName).toBeUndefined();
    expect(x.subject).toBe('CN=cn-only.example.test');

    const chain = await makeChain({ leafCn: 'cn.example.test', leafSans: null });
    expect(new X509Certificate(chain.leaf.der).subjectAltName).toBeUndefined();

    const withSans = await makeCert({ cn: 'x', sans: ['a.example.test', '*.b.example.test'] });
    expect(new X509Certificate(withSans.der).subjectAltName).toBe('DNS:a.example.test, DNS:*.b.example.test');
  });

  it.each<[KeyType, string]>([
    ['rsa', 'rsa'],
    ['ecdsa', 'ec'],
    ['ed25519', 'ed25519'],
    ['rsa-pss', 'rsa-pss'],
    ['ed448', 'ed448'],
  ])('supports %s keys', async (key, asymmetricKeyType) => {
    const chain = await makeChain({ key });
    for (const c of [chain.root, chain.intermediate, chain.leaf]) {
      const x = new X509Certificate(c.der);
      expect(x.publicKey.asymmetricKeyType).toBe(asymmetricKeyType);
    }
    const leaf = new X509Certificate(chain.leaf.der);
    expect(leaf.verify(new X509Certificate(chain.intermediate.der).publicKey)).toBe(true);
    if (key === 'rsa') expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    if (key === 'ecdsa') expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('makes an empty subject DN when asked (no CN, no SAN)', async () => {
    const ca = await makeCert({ cn: 'Some CA', ca: true });
    const empty = await makeCert({ emptySubject: true, cn: 'ignored.example.test', issuer: ca });
    const x = new X509Certificate(empty.der);
    expect(x.subject ?? '').toBe('');
    expect(x.subjectAltName).toBeUndefined();
    expect(empty.subject).toBe('');
    expect(x.checkIssued(new X509Certificate(ca.der))).toBe(true);
  });

  it('sets the CA flag only when asked', async () => {
    const ca = await makeCert({ cn: 'Some CA', ca: true });
    const ee = await makeCert({ cn: 'ee.example.test', issuer: ca });
    expect(new X509Certificate(ca.der).ca).toBe(true);
    expect(new X509Certificate(ee.der).ca).toBe(false);
    expect(new X509Certificate(ee.der).checkIssued(new X509Certificate(ca.der))).toBe(true);
  });

  it('computes TLSA-style digests', async () => {
    const c = await makeCert({});
    const x = new X509Certificate(c.der);
    expect(c.der.equals(x.raw)).toBe(true);
    expect(c.spkiDer.equals(x.publicKey.export({ type: 'spki', format: 'der' }) as Buffer)).toBe(true);
    expect(certSha256(c.der)).toBe(x.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(certSha512(c.der)).toBe(createHash('sha512').update(c.der).digest('hex'));
    expect(spkiSha256(c.spkiDer)).toMatch(/^[0-9a-f]{64}$/);
    expect(spkiSha512(c.spkiDer)).toMatch(/^[0-9a-f]{128}$/);
  });
});
