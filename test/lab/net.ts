/** Loopback address blocks for the lab: everything binds to explicit 127.0.0.0/8 addresses or ::1. */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

/** A random 127.X.Y prefix (X in 16..250, Y in 1..254), avoiding 127.0.0.x and 127.0.1.x. */
export function randomBlock(): string {
  return `127.${randomInt(16, 251)}.${randomInt(1, 255)}`;
}

/** Is `address` inside 127.0.0.0/8 or exactly ::1? */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1';
}

export async function canBindTcp(address: string, port: number): Promise<boolean> {
  return (await tcpBindError(address, port)) === undefined;
}

/** Why `address:port` cannot be listened on (an errno code: EADDRINUSE, EADDRNOTAVAIL, …), or undefined. */
export function tcpBindError(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host: address, port, exclusive: true, ipv6Only: address.includes(':') }, () => {
      server.close(() => resolve(undefined));
    });
  });
}

/**
 * The address does not exist on this machine (IPv6 disabled, no ::1 on lo, or no IPv6 in the
 * kernel): a legitimate reason to leave a scenario out. EADDRINUSE (held by another process)
 * or EACCES (not root) are not.
 */
export function addressMissing(code: string | undefined): boolean {
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT';
}

export function canBindUdp(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address, port, exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}

export interface BindNeed {
  address: string;
  port: number;
  udp?: boolean;
}

/** The needs that cannot be bound right now (empty = all free). */
export async function unbindable(needs: BindNeed[]): Promise<BindNeed[]> {
  const results = await Promise.all(
    needs.map(async (n) => {
      const tcp = await canBindTcp(n.address, n.port);
      const udp = n.udp ? await canBindUdp(n.address, n.port) : true;
      return tcp && udp ? undefined : n;
    }),
  );
  return results.filter((n): n is BindNeed => n !== undefined);
}
