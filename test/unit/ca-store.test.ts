/** The default CA store of the verify and secure levels: the system's, as OpenSSL finds it. */
import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { SYSTEM_BUNDLES, findCaStore } from '../../src/policy/ca-store.js';

const pem = (n: number) => `-----BEGIN CERTIFICATE-----\nMII${n}\n-----END CERTIFICATE-----`;
const files = (table: Record<string, string>) => (path: string) => table[path];

describe('findCaStore', () => {
  it("takes the distribution's bundle, so a CA added with update-ca-certificates is trusted", () => {
    const s = findCaStore({}, files({ '/etc/ssl/certs/ca-certificates.crt': `${pem(1)}\n${pem(2)}\n` }));
    expect(s).toEqual({ certificates: [pem(1), pem(2)], source: '/etc/ssl/certs/ca-certificates.crt' });
  });

  it('SSL_CERT_FILE wins over the bundles; NODE_EXTRA_CA_CERTS is added', () => {
    const s = findCaStore({ SSL_CERT_FILE: '/x/cas.pem', NODE_EXTRA_CA_CERTS: '/x/extra.pem' }, files({ '/x/cas.pem': pem(3), [SYSTEM_BUNDLES[0]]: pem(1), '/x/extra.pem': pem(4) }));
    expect(s).toEqual({ certificates: [pem(3), pem(4)], source: '/x/cas.pem + /x/extra.pem' });
  });

  it('the next bundle when the first is missing or has no certificate', () => {
    expect(findCaStore({}, files({ [SYSTEM_BUNDLES[0]]: 'junk', [SYSTEM_BUNDLES[1]]: pem(5) })).source).toBe(SYSTEM_BUNDLES[1]);
  });

  it("Node's bundled roots only when the system has no store", () => {
    const s = findCaStore({}, files({}));
    expect(s.certificates).toEqual([...rootCertificates]);
    expect(s.source).toMatch(/bundled Mozilla roots/);
  });
});
