/**
 * `dane-smtp tlsa` key material as found on real servers (openssl output: PKCS#1, PKCS#8, SEC1,
 * encrypted keys, Ed25519, bundles, CRLF, a BOM, trailing bytes); the bytes hashed are exactly the
 * SPKI / the certificate DER (digests cross-checked with openssl for RSA, ECDSA and Ed25519).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMaterial } from '../../../src/tools/tlsa/material.js';
import { computeRecords, DEFAULT_PARAMS } from '../../../src/tools/tlsa/records.js';
import { expectUsageError, useTempDir } from '../../support/tlsa-cli.js';
import { makeCert, makeChain, spkiSha256, type Chain, type Issued } from '../../support/pki.js';
import { openssl, dgst, hexOf, certs, operatorKeyFiles } from '../../support/tlsa-material.js';

let chain: Chain;

let next: Issued;

const { path } = useTempDir('tlsa-review-');

const read = (name: string) => readFileSync(path(name));

beforeAll(async () => {
  operatorKeyFiles(path);
  chain = await makeChain({ leafCn: 'mx.example.test' });
  next = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: chain.intermediate });
}, 120_000);

describe('the bytes hashed are exactly the SPKI / the certificate DER (openssl cross-check)', () => {
  for (const k of ['rsa', 'ec', 'ed']) {
    it(`${k}: 3 1 1, 3 1 2, 3 0 1, 3 1 0 and 3 0 0 from the certificate equal openssl's`, () => {
      const pub = openssl(['x509', '-in', path(`${k}.crt`), '-pubkey', '-noout']);
      const spki = openssl(['pkey', '-pubin', '-outform', 'DER'], pub);
      const der = read(`${k}.der`);
      const m = parseMaterial(read(`${k}.crt`), `${k}.crt`);
      expect(hexOf(m)).toBe(dgst('sha256', spki));
      expect(hexOf(m, { usage: 3, selector: 1, matchingType: 2 })).toBe(dgst('sha512', spki));
      expect(hexOf(m, { usage: 3, selector: 0, matchingType: 1 })).toBe(dgst('sha256', der));
      expect(hexOf(m, { usage: 3, selector: 0, matchingType: 2 })).toBe(dgst('sha512', der));
      expect(hexOf(m, { usage: 3, selector: 1, matchingType: 0 })).toBe(spki.toString('hex'));
      expect(hexOf(m, { usage: 3, selector: 0, matchingType: 0 })).toBe(der.toString('hex'));
    });

    it(`${k}: the certificate PEM and DER, the private key (PEM, DER) and the public key give one 3 1 1`, () => {
      const want = hexOf(parseMaterial(read(`${k}.crt`)));
      for (const f of [`${k}.der`, `${k}.key`, `${k}.key.der`, `${k}.pub`]) {
        const m = parseMaterial(read(f), f);
        expect(hexOf(m), f).toBe(want);
        expect(m.warnings, f).toEqual([]);
      }
    });
  }

  it('PKCS#1 RSA (BEGIN RSA PRIVATE KEY / RSA PUBLIC KEY), SEC1 EC (BEGIN EC PRIVATE KEY) and ecparam -genkey output', () => {
    expect(parseMaterial(read('rsa.pkcs1.key'))).toMatchObject({ kind: 'key', fromPrivate: true, keyType: 'RSA 2048' });
    expect(hexOf(parseMaterial(read('rsa.pkcs1.key')))).toBe(hexOf(parseMaterial(read('rsa.crt'))));
    expect(hexOf(parseMaterial(read('rsa.pkcs1.pub')))).toBe(hexOf(parseMaterial(read('rsa.crt'))));
    expect(read('ec.sec1.key').toString()).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(parseMaterial(read('ec.sec1.key'))).toMatchObject({ kind: 'key', keyType: 'EC prime256v1' });
    expect(hexOf(parseMaterial(read('ec.sec1.key')))).toBe(hexOf(parseMaterial(read('ec.crt'))));
    // "openssl ecparam -genkey": an EC PARAMETERS block, then the key
    const ecparam = read('ecparam.key');
    expect(ecparam.toString()).toMatch(/BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/);
    const pub = openssl(['pkey', '-in', path('ecparam.key'), '-pubout', '-outform', 'DER']);
    expect(hexOf(parseMaterial(ecparam))).toBe(dgst('sha256', pub));
    expect(parseMaterial(read('ed.key'))).toMatchObject({ kind: 'key', keyType: 'ED25519' });
  });
});

describe('tlsa key material: key files as found on servers', () => {
  it('encrypted keys (PKCS#8, legacy PKCS#1 and SEC1 with Proc-Type, CRLF too) are one clear usage error', () => {
    for (const f of ['rsa.enc.key', 'ec.enc.key', 'ed.enc.key', 'rsa.pkcs1.enc.key', 'ec.sec1.enc.key']) {
      expectUsageError(() => parseMaterial(read(f), f), /the private key is encrypted; give the certificate or the public key/);
      expectUsageError(() => parseMaterial(Buffer.from(read(f).toString().replace(/\n/g, '\r\n')), f), /encrypted/);
    }
  });

  it('CRLF line endings, a UTF-8 BOM, text before and after the PEM blocks (openssl x509 -text) are fine', () => {
    const want = hexOf(parseMaterial(read('ec.crt')));
    const crt = read('ec.crt').toString();
    const variants = [
      crt.replace(/\n/g, '\r\n'),
      `\uFEFF${crt}`,
      `\uFEFF${read('ec.key').toString().replace(/\n/g, '\r\n')}`,
      `${crt}trailing garbage\n\x00\x01`,
      `${openssl(['x509', '-in', path('ec.crt'), '-text', '-noout']).toString()}${crt}`,
      `subject=CN = mx.ec.test\nissuer=CN = mx.ec.test\n${crt}`,
    ];
    for (const v of variants) expect(hexOf(parseMaterial(Buffer.from(v)))).toBe(want);
  });

  it('a bundle of key + certificate + chain, in any order of key and certificates, uses the leaf; another key is a warning', () => {
    const leaf = spkiSha256(chain.leaf.spkiDer);
    for (const bundle of [chain.leaf.keyPem + chain.servedPem, chain.servedPem + chain.leaf.keyPem, chain.leaf.certPem + chain.leaf.keyPem + chain.intermediate.certPem]) {
      const m = parseMaterial(Buffer.from(bundle));
      expect(m.warnings).toEqual([]);
      expect(hexOf(m)).toBe(leaf);
      expect(computeRecords(m, [{ usage: 2, selector: 1, matchingType: 1 }]).records[0]!.target).toMatchObject({ depth: 1, subject: 'CN=DANE Test Intermediate CA' });
    }
    const wrongKey = parseMaterial(Buffer.from(chain.servedPem + next.keyPem));
    expect(wrongKey.warnings.join()).toMatch(/private key in the file is not the key of the first certificate/);
  });

  it('a chain file in reverse order (CA first, as some CA bundles are) still gives the leaf\'s 3 1 1 and the CA\'s 2 x x', () => {
    const leaf = spkiSha256(chain.leaf.spkiDer);
    for (const bundle of [chain.intermediate.certPem + chain.leaf.certPem, chain.root.certPem + chain.intermediate.certPem + chain.leaf.certPem]) {
      const m = parseMaterial(Buffer.from(bundle));
      expect(certs(m)[0]!.subject).toBe('CN=mx.example.test');
      expect(m.warnings.join()).toMatch(/not the first certificate/);
      const r = computeRecords(m, [DEFAULT_PARAMS, { usage: 2, selector: 0, matchingType: 1 }]);
      expect(r.records[0]!.data.toString('hex')).toBe(leaf);
      expect(r.records[0]!.target).toMatchObject({ role: 'leaf', depth: 0, subject: 'CN=mx.example.test' });
      expect(r.records[1]!.target.role).toBe('ca');
      expect(r.records[1]!.target.depth).toBeGreaterThan(0);
    }
    // with the key in the file, the certificate of that key is the leaf
    const withKey = parseMaterial(Buffer.from(chain.intermediate.certPem + chain.leaf.certPem + chain.leaf.keyPem));
    expect(withKey.warnings.join()).not.toMatch(/not the key of/);
    expect(hexOf(withKey)).toBe(leaf);
  });

  it('DER with trailing bytes: a newline after the certificate is fine; other trailing data is named as such', () => {
    const der = read('ec.der');
    expect(hexOf(parseMaterial(Buffer.concat([der, Buffer.from('\n')])))).toBe(hexOf(parseMaterial(der)));
    expect(hexOf(parseMaterial(Buffer.concat([der, Buffer.from('\r\n\0')])))).toBe(hexOf(parseMaterial(der)));
    expectUsageError(() => parseMaterial(Buffer.concat([der, Buffer.from('junk')]), 'x.der'), /x\.der: 4 byte\(s\) of trailing data after the DER object\(s\), at byte \d+/);
  });

  it('a PKCS#7 bundle (.p7b) or an OpenSSH key is refused with what is expected', () => {
    expectUsageError(() => parseMaterial(Buffer.from('-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n')), /unsupported PEM block "PKCS7" \(expected CERTIFICATE, PUBLIC KEY or PRIVATE KEY\)/);
  });
});
