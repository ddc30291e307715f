/**
 * One DNS exchange with a recursive resolver, shared by the AD-bit stub resolver and the
 * validating resolver: UDP on a fresh connected socket (random source port, RFC 5452 §9.2),
 * then TCP when the answer is truncated (RFC 1035 §4.2, RFC 7766 §5). The caller's
 * `accept` parses and checks each answer against its question; on UDP a non-matching
 * datagram is dropped and we keep waiting (RFC 5452 §9.1). Only I/O here; no exceptions.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress, isLoopback } from './resolv-conf.js';

export interface Endpoint {
  server: string;
  port: number;
  /** Source address; default 127.0.0.1 for a 127/8 server, else the any address. */
  localAddress?: string;
}

/** The caller's check of one answer: its value (and TC bit), or why it is not the answer. */
export type Accept<T> = (buf: Buffer) => { value: T; truncated: boolean } | { why: string; malformed: boolean };

export type Exchange<T> =
  | { kind: 'answer'; value: T }
  | { kind: 'truncated' }
  | { kind: 'failed'; reason: string; unreachable?: 'network' }
  | { kind: 'stopped'; note?: string };

/** A failure says whether the resolver was not reached at all (`unreachable`), or answered badly. */
export type ExchangeOutcome<T> = { ok: true; value: T; tcp: boolean } | { ok: false; reason: string; unreachable?: 'timeout' | 'network' };

export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e?.code === 'string' ? e.code : String(e?.message ?? err).slice(0, 120);
}

function bindAddress(ep: Endpoint): string {
  if (ep.localAddress !== undefined) return ep.localAddress;
  if (isIPv4(ep.server)) return isLoopback(ep.server) ? '127.0.0.1' : '0.0.0.0';
  return '::';
}

/**
 * UDP, then TCP when truncated, all within `timeoutMs`; `signal` (the caller's) stops it
 * too. A failure where the resolver could not be reached says so (`unreachable`).
 */
export async function exchange<T>(ep: Endpoint, query: Buffer, accept: Accept<T>, timeoutMs: number, signal?: AbortSignal): Promise<ExchangeOutcome<T>> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  const onCallerAbort = () => stop.abort();
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    let result = await udpExchange(ep, query, accept, stop.signal);
    let transport = '';
    if (result.kind === 'truncated') {
      transport = ' over TCP';
      result = await tcpExchange(ep, query, accept, stop.signal);
    }
    if (result.kind === 'answer') return { ok: true, value: result.value, tcp: transport !== '' };
    if (result.kind === 'failed') return result.unreachable ? { ok: false, reason: result.reason, unreachable: result.unreachable } : { ok: false, reason: result.reason };
    if (result.kind === 'truncated') return { ok: false, reason: 'truncated answer over TCP' };
    const note = result.note ? ` (${result.note})` : '';
    return { ok: false, reason: `timeout after ${timeoutMs / 1000}s${transport}${note}`, unreachable: 'timeout' };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCallerAbort);
  }
}

/** One UDP exchange on a fresh socket. */
export function udpExchange<T>(ep: Endpoint, query: Buffer, accept: Accept<T>, signal: AbortSignal): Promise<Exchange<T>> {
  return new Promise((resolve) => {
    let done = false;
    let ignored = 0;
    let lastIgnored = '';
    let sock: UdpSocket | undefined;
    const finish = (e: Exchange<T>) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onStop);
      try {
        sock?.close();
      } catch {
        // already closed
      }
      resolve(e);
    };
    const onStop = () => finish({ kind: 'stopped', ...(ignored ? { note: `ignored ${ignored} UDP packet(s), last: ${lastIgnored}` } : {}) });
    if (signal.aborted) return onStop();
    signal.addEventListener('abort', onStop, { once: true });

    const ignore = (why: string) => {
      // RFC 5452 §9.1: a non-matching answer is dropped and we keep waiting.
      ignored++;
      lastIgnored = why;
    };
    const netError = (err: unknown) => finish({ kind: 'failed', reason: `network error: ${errorCode(err)}`, unreachable: 'network' });
    const serverKey = canonicalAddress(ep.server);
    try {
      sock = createSocket({ type: isIPv6(ep.server.split('%')[0]!) ? 'udp6' : 'udp4' });
    } catch (err) {
      return netError(err);
    }
    const s = sock;
    s.on('error', netError);
    s.on('message', (buf, rinfo) => {
      if (done) return;
      if (rinfo.port !== ep.port || canonicalAddress(rinfo.address) !== serverKey) return ignore('unexpected source');
      const c = accept(buf);
      if ('why' in c) return ignore(c.malformed ? `malformed: ${c.why}` : c.why);
      finish(c.truncated ? { kind: 'truncated' } : { kind: 'answer', value: c.value });
    });
    try {
      s.bind({ address: bindAddress(ep), port: 0 }, () => {
        if (done) return;
        try {
          // A connected socket: the kernel drops datagrams from other sources.
          s.connect(ep.port, ep.server, (err?: Error) => {
            if (done) return;
            if (err) return netError(err);
            s.send(query, (e) => e && netError(e));
          });
        } catch (err) {
          netError(err);
        }
      });
    } catch (err) {
      netError(err);
    }
  });
}

/** One TCP exchange (RFC 1035 §4.2.2, RFC 7766 §8): 2-octet length prefix, partial reads, bounded. */
export function tcpExchange<T>(ep: Endpoint, query: Buffer, accept: Accept<T>, signal: AbortSignal): Promise<Exchange<T>> {
  return new Promise((resolve) => {
    let done = false;
    let sock: ReturnType<typeof createConnection> | undefined;
    const finish = (e: Exchange<T>) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onStop);
      sock?.destroy();
      resolve(e);
    };
    const onStop = () => finish({ kind: 'stopped' });
    if (signal.aborted) return onStop();
    signal.addEventListener('abort', onStop, { once: true });

    const localAddress = ep.localAddress ?? (isIPv4(ep.server) && isLoopback(ep.server) ? '127.0.0.1' : undefined);
    try {
      sock = createConnection({ host: ep.server, port: ep.port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    } catch (err) {
      return finish({ kind: 'failed', reason: `network error over TCP: ${errorCode(err)}`, unreachable: 'network' });
    }
    const s = sock;
    const prefix = Buffer.alloc(2);
    let prefixHave = 0;
    let body: Buffer | undefined; // allocated once the length is known: at most 65535 octets
    let bodyHave = 0;

    s.on('connect', () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      s.write(frame);
    });
    s.on('data', (chunk: Buffer) => {
      if (done) return;
      let p = 0;
      while (prefixHave < 2 && p < chunk.length) prefix[prefixHave++] = chunk[p++]!;
      if (prefixHave < 2) return;
      if (!body) {
        const len = prefix.readUInt16BE(0);
        if (len < 12) return finish({ kind: 'failed', reason: `malformed answer over TCP: length ${len}` });
        body = Buffer.alloc(len);
      }
      const n = Math.min(chunk.length - p, body.length - bodyHave);
      chunk.copy(body, bodyHave, p, p + n);
      bodyHave += n;
      if (bodyHave < body.length) return;
      const c = accept(body);
      if ('why' in c) return finish({ kind: 'failed', reason: `${c.malformed ? 'malformed' : 'mismatched'} answer over TCP: ${c.why}` });
      finish(c.truncated ? { kind: 'truncated' } : { kind: 'answer', value: c.value });
    });
    s.on('error', (err) => finish({ kind: 'failed', reason: `network error over TCP: ${errorCode(err)}`, unreachable: 'network' }));
    s.on('close', () => finish({ kind: 'failed', reason: 'TCP connection closed before a complete answer' }));
  });
}
