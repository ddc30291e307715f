/** A DNS answer as results report it (JSON and human output), made from a DnsAnswer. Pure. */
import type { DnsAnswer, DnsFailure, MxData, Proof, RecordType, TlsaData } from '../dns/types.js';
import { tlsaToText } from './rfc7672/tlsa.js';

/** A DNS answer as reported (JSON and human output). */
export interface DnsReport {
  name: string;
  type: RecordType;
  status: DnsAnswer<unknown>['status'];
  proof: Proof;
  records: string[];
  cnameChain?: string[];
  reason?: string;
  /** Why it failed, as data (status `failed` only). */
  failure?: DnsFailure;
  /** ISO time of the earliest RRSIG expiration over the answer records, when known. */
  signatureExpires?: string;
}

export function reportAnswer(a: DnsAnswer<unknown>): DnsReport {
  const records = a.records.map((r) => recordText(a.qtype, r));
  const out: DnsReport = { name: a.qname, type: a.qtype, status: a.status, proof: a.proof, records };
  if (a.cnameChain.length > 1) out.cnameChain = a.cnameChain;
  if (a.reason) out.reason = a.reason;
  if (a.failure) out.failure = a.failure;
  if (a.signatureExpires) out.signatureExpires = a.signatureExpires;
  return out;
}

function recordText(type: RecordType, r: unknown): string {
  if (type === 'MX') {
    const mx = r as MxData;
    return `${mx.preference} ${mx.exchange || '.'}`;
  }
  if (type === 'TLSA') return tlsaToText(r as TlsaData);
  return typeof r === 'string' ? r : JSON.stringify(r);
}
