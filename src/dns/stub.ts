/**
 * A DNS stub resolver that trusts the AD bit of a validating recursive resolver
 * (Postfix's model: RFC 4035 §3.2, RFC 6840 §5.8, RFC 7672 §2.1). UDP first with EDNS0
 * and DO, TCP when the answer is truncated. Network problems are answers with
 * status 'failed', never exceptions; only a caller's abort throws (DaneSmtpError ABORTED).
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { DaneSmtpError } from '../errors.js';
import { errorCode, exchange, type Accept } from './transport.js';
import type { DnsAnswer, DnsFailure, LookupOptions, Proof, RDataOf, RecordType, Resolver } from './types.js';
import {
  CLASS_IN,
  RCODE,
  TYPE_CODES,
  describeExtendedErrors,
  encodeQuery,
  extendedErrors,
  nameToWire,
  parseMessage,
  rcodeName,
  type WireMessage,
  type WireRecord,
} from './wire.js';

export interface StubResolverOptions {
  /** IPv4 or IPv6 address of a validating recursive resolver. */
  server: string;
  /** Default 53. */
  port?: number;
  /** One deadline per lookup, covering UDP and the TCP retry. */
  timeoutMs: number;
  /** Source address; default 127.0.0.1 for a 127/8 server, else the any address. */
  localAddress?: string;
  /** EDNS UDP payload size advertised (RFC 6891 §6.2.5); default 1232 (DNS flag day 2020). */
  maxUdpSize?: number;
}

/** Longest CNAME chain followed inside one answer. */
export const MAX_CNAME_CHAIN = 16;

/** True when a failed answer means "no answer from the resolver" (timeout, socket error). */
export function isTransportFailure(answer: Pick<DnsAnswer<unknown>, 'status' | 'failure'>): boolean {
  return answer.status === 'failed' && answer.failure?.kind === 'unreachable';
}

interface Question {
  id: number;
  name: string;
  type: number;
}

/** Why `msg` is not the answer to `q` (RFC 5452 §4.1-4.3), or undefined if it is. */
export function mismatch(msg: WireMessage, q: Question): string | undefined {
  if (msg.id !== q.id) return 'wrong ID';
  if (!msg.qr) return 'QR bit not set';
  if (msg.opcode !== 0) return 'wrong opcode';
  if (msg.questions.length !== 1) return `${msg.questions.length} questions`;
  const mq = msg.questions[0]!;
  // Names are canonical (lower-case) on both sides, so string equality is a
  // case-insensitive comparison (RFC 4343).
  if (mq.name !== q.name || mq.type !== q.type || mq.class !== CLASS_IN) return 'wrong question';
  return undefined;
}

function bogusEde(code: number): boolean {
  // 6-12: DNSSEC Bogus … NSEC Missing; 25: Signature Expired before Valid (RFC 8914 §4, IANA).
  return (code >= 6 && code <= 12) || code === 25;
}

/** RR TYPE of RRSIG (RFC 4034 §3). */
const TYPE_RRSIG = 46;

/**
 * The earliest signature expiration of the RRSIGs in `answers` that cover one of the
 * `covered` RRsets (owner + type), as an ISO time. RRSIG RDATA (RFC 4034 §3.1): type
 * covered (2 octets) at offset 0, signature expiration (32-bit seconds) at offset 8. The
 * 32-bit value is read with serial-number arithmetic (RFC 1982, RFC 4034 §3.1.5) relative
 * to `now`: the time within 2^31 seconds of now. Malformed RRSIGs are skipped.
 */
export function earliestSignatureExpiration(answers: WireRecord[], covered: { name: string; type: number }[], now: Date): string | undefined {
  const nowSec = Math.floor(now.getTime() / 1000);
  let earliest: number | undefined;
  for (const r of answers) {
    if (r.type !== TYPE_RRSIG || r.class !== CLASS_IN || !Buffer.isBuffer(r.data) || r.data.length < 18) continue;
    const typeCovered = r.data.readUInt16BE(0);
    if (!covered.some((c) => c.name === r.name && c.type === typeCovered)) continue;
    const expiration = r.data.readUInt32BE(8);
    // RFC 1982: the signed 32-bit distance from now, modulo 2^32.
    const delta = (expiration - (nowSec >>> 0)) | 0;
    const at = nowSec + delta;
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest === undefined ? undefined : new Date(earliest * 1000).toISOString();
}

/** No answer records, NS records and no SOA in the authority section (RFC 4592 §2.1.2 terms: a referral, not NODATA). */
function isReferral(msg: WireMessage): boolean {
  const authority = msg.authorities.filter((r) => r.class === CLASS_IN);
  return (
    msg.answers.length === 0 &&
    authority.some((r) => r.type === TYPE_CODES.NS) &&
    !authority.some((r) => r.type === TYPE_CODES.SOA)
  );
}

/** Turns a matching response into a DnsAnswer (RFC 7672 §2.1 four states, AD-bit model). */
export function answerFromMessage<K extends RecordType>(
  msg: WireMessage,
  qname: string,
  qtype: K,
  now: Date = new Date(),
): DnsAnswer<RDataOf[K]> {
  const base = { qname, qtype, records: [] as RDataOf[K][], ttl: 0, cnameChain: [qname], canonicalName: qname };
  const failed = (proof: Proof, reason: string, failure: DnsFailure = { kind: 'bad-answer' }): DnsAnswer<RDataOf[K]> => ({ ...base, status: 'failed', proof, reason, failure });
  const edes = extendedErrors(msg);
  const edeText = describeExtendedErrors(edes);

  if (msg.rcode === RCODE.SERVFAIL) {
    // A validating resolver answers SERVFAIL for bogus data (RFC 4035 §5.5); only an
    // EDE 6-12 or 25 says that this was the reason (RFC 8914 §4), otherwise we cannot tell.
    return failed(edes.some((e) => bogusEde(e.infoCode)) ? 'bogus' : 'indeterminate', `SERVFAIL${edeText}`, { kind: 'rcode', rcode: 'SERVFAIL', ede: edes });
  }
  if (msg.rcode !== RCODE.NOERROR && msg.rcode !== RCODE.NXDOMAIN) {
    return failed('indeterminate', `${rcodeName(msg.rcode)}${edeText}`, { kind: 'rcode', rcode: rcodeName(msg.rcode), ede: edes });
  }

  // Only a recursive resolver's answer means anything here. An authoritative-only server
  // (RA=0) answers other zones with a referral — NOERROR, no answer — which must never be
  // read as NODATA: that would make an implicit MX, or "no address", and bounce the mail.
  if (!msg.ra) {
    return failed('indeterminate', 'the resolver does not offer recursion (RA=0): use a recursive, validating resolver');
  }
  if (msg.rcode === RCODE.NOERROR && isReferral(msg)) {
    return failed('indeterminate', 'the resolver answered with a referral instead of an answer: it does not recurse');
  }

  // AD=1 from the validating resolver: secure; else insecure (RFC 4035 §3.2.3, RFC 6840 §5.8).
  const proof: Proof = msg.ad ? 'secure' : 'insecure';
  const typeCode = TYPE_CODES[qtype];
  const inAnswer = msg.answers.filter((r) => r.class === CLASS_IN);

  // Follow the CNAME chain inside the answer (RFC 1034 §3.6.2, §4.3.2), unless CNAME is asked.
  const chain = [qname];
  if (qtype !== 'CNAME') {
    const seen = new Set(chain);
    for (let name = qname; ; ) {
      const cnames = inAnswer.filter((r) => r.type === TYPE_CODES.CNAME && r.name === name);
      if (cnames.length === 0) break;
      const targets = new Set(cnames.map((r) => r.data as string));
      if (targets.size > 1) return failed('indeterminate', `several CNAME targets for ${name || '.'} (RFC 2181 §10.1)`);
      const target = cnames[0]!.data as string;
      if (seen.has(target)) return failed('indeterminate', `CNAME loop at ${target || '.'}`);
      if (chain.length > MAX_CNAME_CHAIN) return failed('indeterminate', `CNAME chain longer than ${MAX_CNAME_CHAIN}`);
      seen.add(target);
      chain.push(target);
      name = target;
    }
  }
  const canonicalName = chain[chain.length - 1]!;
  // The RRsets this answer uses: the CNAMEs of the chain, then qtype at the canonical name.
  const covered = chain.slice(0, -1).map((name) => ({ name, type: TYPE_CODES.CNAME }));
  covered.push({ name: canonicalName, type: typeCode });
  const signatureExpires = earliestSignatureExpiration(inAnswer, covered, now);
  const withChain = { ...base, cnameChain: chain, canonicalName, ...(signatureExpires ? { signatureExpires } : {}) };

  if (msg.rcode === RCODE.NXDOMAIN) {
    // The last name of the chain does not exist (RFC 6604 §2.1).
    return { ...withChain, status: 'nxdomain', proof };
  }
  const rrs: WireRecord[] = inAnswer.filter((r) => r.type === typeCode && r.name === canonicalName);
  if (rrs.length === 0) return { ...withChain, status: 'nodata', proof };
  // TTLs with the top bit set are treated as 0 (RFC 2181 §8).
  const ttl = Math.min(...rrs.map((r) => (r.ttl > 0x7fffffff ? 0 : r.ttl)));
  return { ...withChain, status: 'data', proof, records: rrs.map((r) => r.data as RDataOf[K]), ttl };
}

export class StubResolver implements Resolver {
  readonly server: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly localAddress: string | undefined;
  readonly maxUdpSize: number;

  constructor(options: StubResolverOptions) {
    const { server, port = 53, timeoutMs, localAddress, maxUdpSize = 1232 } = options;
    const family = typeof server === 'string' ? isIP(server.split('%')[0]!) : 0;
    if (family === 0) throw new DaneSmtpError('USAGE', `resolver address is not an IP address: ${String(server).slice(0, 80)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DaneSmtpError('USAGE', `bad resolver port ${port}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647) {
      throw new DaneSmtpError('USAGE', `bad DNS timeout ${timeoutMs} ms`);
    }
    if (localAddress !== undefined && isIP(localAddress.split('%')[0]!) !== family) {
      throw new DaneSmtpError('USAGE', `local address ${localAddress.slice(0, 80)} is not of the resolver's address family`);
    }
    // RFC 6891 §6.2.5: values below 512 are treated as 512.
    if (!Number.isInteger(maxUdpSize) || maxUdpSize < 512 || maxUdpSize > 65535) {
      throw new DaneSmtpError('USAGE', `bad EDNS UDP size ${maxUdpSize}`);
    }
    this.server = server;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.localAddress = localAddress;
    this.maxUdpSize = maxUdpSize;
  }

  async lookup<K extends RecordType>(name: string, type: K, options: LookupOptions = {}): Promise<DnsAnswer<RDataOf[K]>> {
    if (!Object.hasOwn(TYPE_CODES, type)) {
      throw new DaneSmtpError('USAGE', `unsupported record type ${String(type).slice(0, 20)}`);
    }
    const typeCode = TYPE_CODES[type];
    const callerSignal = options.signal;
    const aborted = () => new DaneSmtpError('ABORTED', undefined, { cause: callerSignal?.reason });
    if (callerSignal?.aborted) throw aborted();

    const parsed = nameToWire(name);
    if ('error' in parsed) {
      const qname = typeof name === 'string' ? name.toLowerCase().slice(0, 300) : '';
      return failedAnswer(qname, type, 'indeterminate', parsed.error, { kind: 'bad-answer' });
    }
    const q: Question = { id: randomInt(0, 65536), name: parsed.name, type: typeCode };
    const query = encodeQuery({
      id: q.id,
      nameWire: parsed.wire,
      type: typeCode,
      udpPayloadSize: this.maxUdpSize,
      dnssecOk: true, // RFC 4035 §3.2.1; AD is then set on validated data (§3.2.3)
    });

    // One deadline for the whole lookup (UDP and the TCP retry); the caller's signal stops it too.
    const accept: Accept<WireMessage> = (buf) => {
      let msg: WireMessage;
      try {
        msg = parseMessage(buf);
      } catch (err) {
        return { why: errorCode(err), malformed: true };
      }
      const why = mismatch(msg, q);
      return why ? { why, malformed: false } : { value: msg, truncated: msg.tc };
    };
    const endpoint = { server: this.server, port: this.port, ...(this.localAddress !== undefined ? { localAddress: this.localAddress } : {}) };
    const result = await exchange(endpoint, query, accept, this.timeoutMs, callerSignal);
    if (callerSignal?.aborted) throw aborted();
    if (result.ok) return answerFromMessage(result.value, q.name, type);
    return failedAnswer(q.name, type, 'indeterminate', result.reason, result.unreachable ? { kind: 'unreachable', cause: result.unreachable } : { kind: 'bad-answer' });
  }
}

function failedAnswer<K extends RecordType>(qname: string, qtype: K, proof: Proof, reason: string, failure: DnsFailure): DnsAnswer<RDataOf[K]> {
  return { qname, qtype, status: 'failed', proof, records: [], ttl: 0, cnameChain: [qname], canonicalName: qname, reason, failure };
}
