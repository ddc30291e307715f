/**
 * One query to the upstream recursive resolver with DO and CD, UDP first and TCP when
 * truncated (RFC 7766 §5), random ID and source port (RFC 5452). Returns the parsed raw
 * message or why there is none; only I/O here, no validation.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createConnection, isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress, isLoopback } from '../resolv-conf.js';
import { mismatch } from '../stub.js';
import { encodeDnssecQuery, parseRawMessage, type RawMessage } from './wire-dnssec.js';

export interface Upstream {
  server: string;
  port: number;
  localAddress?: string;
}

export type ExchangeResult = { ok: true; raw: RawMessage; tcp: boolean } | { ok: false; reason: string };

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e?.code === 'string' ? e.code : String(e?.message ?? err).slice(0, 120);
}

type Leg = { kind: 'answer'; raw: RawMessage } | { kind: 'truncated' } | { kind: 'failed'; reason: string } | { kind: 'stopped' };

export async function exchange(
  up: Upstream,
  q: { name: string; nameWire: Buffer; type: number },
  timeoutMs: number,
  maxUdpSize = 1232,
): Promise<ExchangeResult> {
  const id = randomInt(0, 65536);
  const query = encodeDnssecQuery({ id, nameWire: q.nameWire, type: q.type, udpPayloadSize: maxUdpSize });
  const question = { id, name: q.name, type: q.type };
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  try {
    let r = await udp(up, query, question, stop.signal);
    let tcp = false;
    if (r.kind === 'truncated') {
      tcp = true;
      r = await tcpLeg(up, query, question, stop.signal);
    }
    if (r.kind === 'answer') return { ok: true, raw: r.raw, tcp };
    if (r.kind === 'failed') return { ok: false, reason: r.reason };
    if (r.kind === 'truncated') return { ok: false, reason: 'truncated answer over TCP' };
    return { ok: false, reason: `timeout after ${timeoutMs / 1000}s${tcp ? ' over TCP' : ''}` };
  } finally {
    clearTimeout(timer);
  }
}

function check(buf: Buffer, q: { id: number; name: string; type: number }): { raw: RawMessage } | { why: string } {
  let raw: RawMessage;
  try {
    raw = parseRawMessage(buf);
  } catch (err) {
    return { why: `malformed: ${errorCode(err)}` };
  }
  const why = mismatch(raw.msg, q);
  return why ? { why } : { raw };
}

function udp(up: Upstream, query: Buffer, q: { id: number; name: string; type: number }, signal: AbortSignal): Promise<Leg> {
  return new Promise((resolve) => {
    let done = false;
    const v6 = isIPv6(up.server.split('%')[0]!);
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    const finish = (l: Leg) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onStop);
      try {
        sock.close();
      } catch {
        // closed
      }
      resolve(l);
    };
    const onStop = () => finish({ kind: 'stopped' });
    if (signal.aborted) return onStop();
    signal.addEventListener('abort', onStop, { once: true });
    const serverKey = canonicalAddress(up.server);
    sock.on('error', (err) => finish({ kind: 'failed', reason: `network error: ${errorCode(err)}` }));
    sock.on('message', (buf, rinfo) => {
      if (rinfo.port !== up.port || canonicalAddress(rinfo.address) !== serverKey) return;
      const c = check(buf, q);
      if ('why' in c) return; // RFC 5452 §9.1: keep waiting
      finish(c.raw.msg.tc ? { kind: 'truncated' } : { kind: 'answer', raw: c.raw });
    });
    const bindAddress = up.localAddress ?? (v6 ? '::' : isLoopback(up.server) ? '127.0.0.1' : '0.0.0.0');
    try {
      sock.bind({ address: bindAddress, port: 0 }, () => {
        if (done) return;
        sock.connect(up.port, up.server, (err?: Error) => {
          if (done) return;
          if (err) return finish({ kind: 'failed', reason: `network error: ${errorCode(err)}` });
          sock.send(query, (e) => e && finish({ kind: 'failed', reason: `network error: ${errorCode(e)}` }));
        });
      });
    } catch (err) {
      finish({ kind: 'failed', reason: `network error: ${errorCode(err)}` });
    }
  });
}

function tcpLeg(up: Upstream, query: Buffer, q: { id: number; name: string; type: number }, signal: AbortSignal): Promise<Leg> {
  return new Promise((resolve) => {
    let done = false;
    const localAddress = up.localAddress ?? (isIPv4(up.server) && isLoopback(up.server) ? '127.0.0.1' : undefined);
    const s = createConnection({ host: up.server, port: up.port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    const finish = (l: Leg) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onStop);
      s.destroy();
      resolve(l);
    };
    const onStop = () => finish({ kind: 'stopped' });
    if (signal.aborted) return onStop();
    signal.addEventListener('abort', onStop, { once: true });
    let pending = Buffer.alloc(0);
    s.on('connect', () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      s.write(frame);
    });
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 2) return;
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) return;
      const c = check(pending.subarray(2, 2 + len), q);
      if ('why' in c) return finish({ kind: 'failed', reason: `bad answer over TCP: ${c.why}` });
      finish(c.raw.msg.tc ? { kind: 'truncated' } : { kind: 'answer', raw: c.raw });
    });
    s.on('error', (err) => finish({ kind: 'failed', reason: `network error over TCP: ${errorCode(err)}` }));
    s.on('close', () => finish({ kind: 'failed', reason: 'TCP connection closed before a complete answer' }));
  });
}
