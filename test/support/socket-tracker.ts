/**
 * Every UDP/TCP/TLS socket the code under test (src/) creates, to assert that none is left
 * open once an operation settles. Counting process.getActiveResourcesInfo() cannot do that:
 * closed handles leave that list only on a later tick, so a baseline taken while the previous
 * test's sockets are still listed hides a leak.
 *
 * In the test file (vi.mock is hoisted: import the tracker inside the factory):
 *
 *   vi.mock('node:dgram', async (orig) => (await import('../support/socket-tracker.js')).trackDgram(await orig()));
 *   vi.mock('node:net', async (orig) => (await import('../support/socket-tracker.js')).trackNet(await orig()));
 *   vi.mock('node:tls', async (orig) => (await import('../support/socket-tracker.js')).trackTls(await orig()));
 *
 * then `const mark = socketMark(); await op(); expect(openSocketsSince(mark)).toEqual([]);`
 * Sockets made by test support code (scripted servers, spoofers) are not tracked.
 */
import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

interface Tracked {
  seq: number;
  kind: 'udp' | 'tcp' | 'tls';
  where: string;
  closed: () => boolean;
}

const sockets: Tracked[] = [];
let seq = 0;

/** Created by src/ (not by test support code)? */
function fromSource(): string | undefined {
  const stack = new Error().stack ?? '';
  return stack.split('\n').find((l) => l.includes(SRC))?.trim();
}

function trackUdp(s: dgram.Socket, where: string): dgram.Socket {
  let closed = false;
  const close = s.close.bind(s);
  s.close = ((cb?: () => void) => {
    const r = close(cb);
    closed = true; // close() throws on a socket already closed: not reached then
    return r;
  }) as typeof s.close;
  s.once('close', () => (closed = true));
  sockets.push({ seq: ++seq, kind: 'udp', where, closed: () => closed });
  return s;
}

function trackStream<T extends net.Socket>(s: T, kind: 'tcp' | 'tls', where: string): T {
  // destroy() sets `destroyed` at once; an ended socket is destroyed once both sides are done.
  sockets.push({ seq: ++seq, kind, where, closed: () => s.destroyed });
  return s;
}

export function trackDgram<M extends typeof dgram>(orig: M): M {
  const createSocket = ((...args: Parameters<typeof dgram.createSocket>) => {
    const s = (orig.createSocket as (...a: unknown[]) => dgram.Socket)(...args);
    const where = fromSource();
    return where ? trackUdp(s, where) : s;
  }) as typeof dgram.createSocket;
  return { ...orig, createSocket };
}

export function trackNet<M extends typeof net>(orig: M): M {
  const wrap = <F extends (...a: never[]) => net.Socket>(f: F): F =>
    ((...args: Parameters<F>) => {
      const s = f(...args);
      const where = fromSource();
      return where ? trackStream(s, 'tcp', where) : s;
    }) as F;
  return { ...orig, connect: wrap(orig.connect), createConnection: wrap(orig.createConnection) };
}

export function trackTls<M extends typeof tls>(orig: M): M {
  const connect = ((...args: Parameters<typeof tls.connect>) => {
    const s = (orig.connect as (...a: unknown[]) => tls.TLSSocket)(...args);
    const where = fromSource();
    return where ? trackStream(s, 'tls', where) : s;
  }) as typeof tls.connect;
  return { ...orig, connect };
}

/** A point in time: sockets created after it are the operation's. */
export function socketMark(): number {
  return seq;
}

/** How many sockets src/ created after the mark (to prove the tracking is live). */
export function socketsCreatedSince(mark: number): number {
  return sockets.filter((s) => s.seq > mark).length;
}

/** The sockets created after the mark that are still open, described for the failure message. */
export function openSocketsSince(mark: number): string[] {
  return sockets.filter((s) => s.seq > mark && !s.closed()).map((s) => `${s.kind} socket #${s.seq} (${s.where})`);
}

/** In a test file with the mocks above: every test must end with no socket of src/ open. */
export function expectNoLeakedSocketsAfterEach(): void {
  let mark = 0;
  beforeEach(() => {
    mark = socketMark();
  });
  afterEach(() => {
    expect(openSocketsSince(mark), 'no leaked UDP/TCP socket').toEqual([]);
  });
}
