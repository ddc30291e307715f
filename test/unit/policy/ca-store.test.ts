/** The default CA store of the verify and secure levels: the system's, as OpenSSL finds it. */
import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { SYSTEM_BUNDLES, findCaStore } from '../../../src/policy/ca-store.js';

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

  it('an SSL_CERT_FILE that cannot be read trusts nothing: never a wider store behind the operator\'s back', () => {
    const s = findCaStore({ SSL_CERT_FILE: '/x/missing.pem' }, files({ [SYSTEM_BUNDLES[0]]: pem(1) }));
    expect(s.certificates).toEqual([]);
    expect(s.source).toMatch(/SSL_CERT_FILE: unreadable or no certificate, so no CA is trusted/);
  });

  it("Node's bundled roots only when the system has no store", () => {
    const s = findCaStore({}, files({}));
    expect(s.certificates).toEqual([...rootCertificates]);
    expect(s.source).toMatch(/bundled Mozilla roots/);
  });
});
