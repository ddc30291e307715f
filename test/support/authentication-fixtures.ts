/**
 * TLSA records computed from certificates, authenticate() over served certificates, and certificates forged with the openssl CLI (a forged signature under a real issuer name, an issuer that is not a CA, a client-only leaf) in a temporary directory: the DANE-TA / DANE-EE rule tests (test/unit/rfc7672/, rfc7671/).
 */
import { createHash } from 'node:crypto';
import { authenticate, type AuthResult } from '../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, usableRecords } from '../../src/core/rfc7672/tlsa.js';
import type { TlsaData } from '../../src/dns/types.js';

export const DAY = 86_400_000;

export const now = new Date();

export const names = ['mx.example.test', 'example.test'];

export interface Cert {
  der: Buffer;
  spkiDer: Buffer;
}

export function assoc(cert: Cert, selector: number, matchingType: number): Buffer {
  const selected = selector === 0 ? cert.der : cert.spkiDer;
  if (matchingType === 0) return Buffer.from(selected);
  return createHash(matchingType === 1 ? 'sha256' : 'sha512').update(selected).digest();
}

export const tlsa = (usage: number, selector: number, matchingType: number, cert: Cert): TlsaData => ({ usage, selector, matchingType, data: assoc(cert, selector, matchingType) });

export function run(records: TlsaData[], served: Cert[], referenceNames = names, at = new Date()): AuthResult {
  return authenticate({ records: usableRecords(classifyTlsa(records)), served: served.map((c) => c.der), referenceNames, now: at });
}

export function failureCodes(r: AuthResult): string[] {
  return r.ok ? [] : r.records.map((x) => x.code);
}

export const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];

export const leafExt = (name: string, eku = 'serverAuth') => ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${eku}`, `subjectAltName=DNS:${name}`];
