/**
 * One query to the upstream recursive resolver with DO and CD (RFC 4035 §3.2.2), over the
 * shared DNS transport (../transport.ts: UDP first, TCP when truncated, random ID and
 * source port). Returns the parsed raw message or why there is none; no validation here.
 * `signal` stops it early (the result then says "timeout"; the caller knows better).
 */
import { randomInt } from 'node:crypto';
import { mismatch } from '../stub.js';
import { errorCode, exchange as dnsExchange, type Accept, type Endpoint } from '../transport.js';
import { encodeDnssecQuery, parseRawMessage, type RawMessage } from './wire-dnssec.js';

export type Upstream = Endpoint;

export type ExchangeResult = { ok: true; raw: RawMessage; tcp: boolean } | { ok: false; reason: string; unreachable?: 'timeout' | 'network' };

export async function exchange(
  up: Upstream,
  q: { name: string; nameWire: Buffer; type: number },
  timeoutMs: number,
  maxUdpSize = 1232,
  signal?: AbortSignal,
): Promise<ExchangeResult> {
  const id = randomInt(0, 65536);
  const query = encodeDnssecQuery({ id, nameWire: q.nameWire, type: q.type, udpPayloadSize: maxUdpSize });
  const question = { id, name: q.name, type: q.type };
  const accept: Accept<RawMessage> = (buf) => {
    let raw: RawMessage;
    try {
      raw = parseRawMessage(buf);
    } catch (err) {
      return { why: errorCode(err), malformed: true };
    }
    const why = mismatch(raw.msg, question);
    return why ? { why, malformed: false } : { value: raw, truncated: raw.msg.tc };
  };
  const r = await dnsExchange(up, query, accept, timeoutMs, signal);
  return r.ok ? { ok: true, raw: r.value, tcp: r.tcp } : r;
}
