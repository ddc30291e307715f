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

export function canBindTcp(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true, ipv6Only: address.includes(':') }, () => {
      server.close(() => resolve(true));
    });
  });
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
