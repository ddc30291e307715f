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
