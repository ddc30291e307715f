/**
 * Helpers of the `dane-smtp tlsa` tests (test/unit/tlsa-tool/): openssl as a subprocess, records of parsed material, TLSA data from hex, a private loopback address.
 */
import { execFileSync } from 'node:child_process';
import type { Material } from '../../src/tools/tlsa/material.js';
import { computeRecords, DEFAULT_PARAMS } from '../../src/tools/tlsa/records.js';
import type { TlsaData } from '../../src/dns/types.js';
import { loopbackNet } from './tlsa-servers.js';

export function openssl(args: string[], input?: Buffer | string): Buffer {
  return execFileSync('openssl', args, { ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'ignore'] });
}

export const dgst = (alg: 'sha256' | 'sha512', data: Buffer) => openssl(['dgst', `-${alg}`, '-r'], data).toString().split(' ')[0]!;

export const hexOf = (m: Material, p = DEFAULT_PARAMS) => computeRecords(m, [p]).records[0]!.data.toString('hex');

export const certs = (m: Material) => (m.kind === 'certs' ? m.certs : []);

// ---------------------------------------------------------------- the CLI, live servers
/** A loopback address of its own (127.x.y.z), so that ports 465 and 587 are free. */
export const privateLoopback = () => loopbackNet()(2 + Math.floor(Math.random() * 250));

// ---------------------------------------------------------------- verify and rollover (pure)
export const tlsa = (usage: number, selector: number, matchingType: number, hex: string): TlsaData => ({ usage, selector, matchingType, data: Buffer.from(hex, 'hex') });

/** Keys and self-signed certificates in every format an operator makes with openssl (rsa, ec, ed: PEM, DER, PKCS#1, SEC1, encrypted), in `path(...)`. */
export function operatorKeyFiles(path: (name: string) => string): void {
  const newkey: Record<string, string[]> = { rsa: ['rsa:2048'], ec: ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], ed: ['ed25519'] };
  for (const [k, spec] of Object.entries(newkey)) {
    openssl(['req', '-x509', '-newkey', ...spec, '-nodes', '-keyout', path(`${k}.key`), '-out', path(`${k}.crt`), '-subj', `/CN=mx.${k}.test`, '-days', '30']);
    openssl(['x509', '-in', path(`${k}.crt`), '-outform', 'DER', '-out', path(`${k}.der`)]);
    openssl(['pkey', '-in', path(`${k}.key`), '-outform', 'DER', '-out', path(`${k}.key.der`)]);
    openssl(['pkey', '-in', path(`${k}.key`), '-pubout', '-out', path(`${k}.pub`)]);
    openssl(['pkey', '-in', path(`${k}.key`), '-aes256', '-passout', 'pass:x', '-out', path(`${k}.enc.key`)]);
  }
  openssl(['rsa', '-in', path('rsa.key'), '-traditional', '-out', path('rsa.pkcs1.key')]);
  openssl(['rsa', '-in', path('rsa.key'), '-traditional', '-aes256', '-passout', 'pass:x', '-out', path('rsa.pkcs1.enc.key')]);
  openssl(['rsa', '-in', path('rsa.key'), '-RSAPublicKey_out', '-out', path('rsa.pkcs1.pub')]);
  openssl(['ec', '-in', path('ec.key'), '-out', path('ec.sec1.key')]);
  openssl(['ec', '-in', path('ec.key'), '-aes256', '-passout', 'pass:x', '-out', path('ec.sec1.enc.key')]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-out', path('ecparam.key')]); // EC PARAMETERS + EC PRIVATE KEY
}
