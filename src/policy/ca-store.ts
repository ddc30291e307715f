/**
 * The system's CA store for the `verify` and `secure` levels (Postfix uses OpenSSL's, i.e.
 * the system's): the bundle named by SSL_CERT_FILE, else the distribution's bundle, plus
 * NODE_EXTRA_CA_CERTS; Node's bundled Mozilla roots only when the system has none. An
 * SSL_CERT_FILE without certificates trusts nothing (fail closed), not another store. A
 * private CA added with update-ca-certificates is therefore trusted, as by other MTAs.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Where distributions keep their PEM bundle (Debian/Ubuntu, Fedora/RHEL, Alpine/BSD). */
export const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'] as const;

export interface CaStore {
  certificates: readonly string[];
  /** Where they came from, for the human output and logs. */
  source: string;
}

export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Pure apart from `read`: the store for this environment. */
export function findCaStore(env: NodeJS.ProcessEnv, read: (path: string) => string | undefined): CaStore {
  let certificates: string[] = [];
  let source = "Node's bundled Mozilla roots";
  const candidates = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : SYSTEM_BUNDLES;
  for (const path of candidates) {
    const certs = pemCertificates(read(path) ?? '');
    if (certs.length > 0) {
      certificates = certs;
      source = path;
      break;
    }
  }
  if (certificates.length === 0 && env.SSL_CERT_FILE) {
    // Named on purpose: never widen trust to another store behind the operator's back.
    source = `${env.SSL_CERT_FILE} (SSL_CERT_FILE: unreadable or no certificate, so no CA is trusted)`;
  } else if (certificates.length === 0) certificates = [...rootCertificates];
  const extra = env.NODE_EXTRA_CA_CERTS ? pemCertificates(read(env.NODE_EXTRA_CA_CERTS) ?? '') : [];
  if (extra.length > 0) {
    certificates = [...certificates, ...extra];
    source += ` + ${env.NODE_EXTRA_CA_CERTS}`;
  }
  return { certificates, source };
}

let cached: CaStore | undefined;
/** The process's store, read once. */
export function systemCaStore(): CaStore {
  cached ??= findCaStore(process.env, (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  });
  return cached;
}
