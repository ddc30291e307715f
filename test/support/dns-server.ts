/**
 * A scripted DNS server (UDP + TCP on the same port) for tests, hostile ones included.
 * It binds an explicit 127.0.0.0/8 address on port 0 (the OS chooses), decodes each query
 * with dns-packet and sends whatever the handler returns:
 *   - a dns-packet Packet (encoded) or a Buffer (sent as is; framed with a length prefix on TCP);
 *   - null/undefined: stay silent;
 *   - an array: several messages in order (e.g. a spoofed answer first);
 *   - { tcpRaw, splitAt?, delayMs? }: bytes written as is on TCP (no length prefix added),
 *     split in pieces at the given offsets (partial reads); on UDP sent as one datagram;
 *   - { closeTcp: true }: close the TCP connection (ignored on UDP).
 * The handler may be async (to delay an answer). Queries that dns-packet cannot decode are
 * logged in `queries` with `query: undefined` and get no answer.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';

export type Transport = 'udp' | 'tcp';
export interface RawTcp {
  tcpRaw: Buffer;
  splitAt?: number[];
  delayMs?: number;
}
export interface CloseTcp {
  closeTcp: true;
}
export type DnsReply = Buffer | dnsPacket.Packet | RawTcp | CloseTcp;
export type DnsHandlerResult = DnsReply | DnsReply[] | null | undefined;
export interface DnsClientInfo {
  address: string;
  port: number;
  /** The query as received (without the TCP length prefix). */
  raw: Buffer;
}
export type DnsHandler = (
  query: dnsPacket.DecodedPacket,
  transport: Transport,
  client: DnsClientInfo,
) => DnsHandlerResult | Promise<DnsHandlerResult>;

export interface LoggedQuery {
  transport: Transport;
  query: dnsPacket.DecodedPacket | undefined;
  raw: Buffer;
  client: { address: string; port: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ScriptedDnsServer {
  readonly host: string;
  readonly queries: LoggedQuery[] = [];
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<Socket>();
  private closed = false;
  private boundPort = 0;

  constructor(
    private readonly handler: DnsHandler,
    options: { address?: string } = {},
  ) {
    this.host = options.address ?? '127.0.0.1';
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(this.host)) throw new Error('ScriptedDnsServer binds 127.0.0.0/8 only');
  }

  /** Creates and starts a server. */
  static async start(handler: DnsHandler, options: { address?: string } = {}): Promise<ScriptedDnsServer> {
    return new ScriptedDnsServer(handler, options).listen();
  }

  get address(): string {
    return this.host;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Binds UDP on an OS-chosen port, then TCP on the same port (retrying if that one is taken). */
  async listen(): Promise<this> {
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket('udp4');
      const port = await new Promise<number>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: this.host, port: 0, exclusive: true }, () => resolve(udp.address().port));
      });
      const tcp = createServer((c) => this.onTcp(c));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: this.host, port, exclusive: true }, () => resolve());
        });
      } catch (err) {
        udp.close();
        if (attempt < 10 && (err as { code?: string }).code === 'EADDRINUSE') continue;
        throw err;
      }
      udp.on('error', () => undefined);
      udp.on('message', (msg, rinfo) => void this.onUdp(msg, rinfo.address, rinfo.port));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      return this;
    }
  }

  /** Sends `reply` to a client from a fresh socket on another port (an off-path spoofer's attempt). */
  async spoofUdp(to: { address: string; port: number }, reply: Buffer | dnsPacket.Packet): Promise<void> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind({ address: this.host, port: 0 }, () => resolve()));
    const buf = Buffer.isBuffer(reply) ? reply : dnsPacket.encode(reply);
    await new Promise<void>((resolve) => s.send(buf, to.port, to.address, () => resolve()));
    s.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.udp?.close();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
  }

  private async run(raw: Buffer, transport: Transport, address: string, port: number): Promise<DnsReply[]> {
    let query: dnsPacket.DecodedPacket | undefined;
    try {
      query = dnsPacket.decode(raw);
    } catch {
      query = undefined;
    }
    this.queries.push({ transport, query, raw, client: { address, port } });
    if (!query) return [];
    const out = await this.handler(query, transport, { address, port, raw });
    if (out === null || out === undefined) return [];
    return Array.isArray(out) ? out : [out];
  }

  private async onUdp(raw: Buffer, address: string, port: number): Promise<void> {
    const replies = await this.run(raw, 'udp', address, port);
    for (const r of replies) {
      if (this.closed) return;
      if ('closeTcp' in r) continue;
      const buf = Buffer.isBuffer(r) ? r : 'tcpRaw' in r ? r.tcpRaw : dnsPacket.encode(r);
      await new Promise<void>((resolve) => this.udp!.send(buf, port, address, () => resolve()));
    }
  }

  private onTcp(c: Socket): void {
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    c.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length > 70_000) return void c.destroy();
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const raw = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        chain = chain.then(() => this.answerTcp(c, raw)).catch(() => void c.destroy());
      }
    });
  }

  private async answerTcp(c: Socket, raw: Buffer): Promise<void> {
    const replies = await this.run(raw, 'tcp', c.remoteAddress ?? '', c.remotePort ?? 0);
    for (const r of replies) {
      if (this.closed || c.destroyed) return;
      if ('closeTcp' in r) {
        c.end();
        return;
      }
      if (!Buffer.isBuffer(r) && 'tcpRaw' in r) {
        const cuts = [0, ...(r.splitAt ?? []), r.tcpRaw.length];
        for (let i = 0; i + 1 < cuts.length; i++) {
          if (i > 0) await sleep(r.delayMs ?? 5);
          if (c.destroyed) return;
          c.write(r.tcpRaw.subarray(cuts[i], cuts[i + 1]));
        }
        continue;
      }
      const buf = Buffer.isBuffer(r) ? r : dnsPacket.encode(r);
      const frame = Buffer.alloc(2 + buf.length);
      frame.writeUInt16BE(buf.length, 0);
      buf.copy(frame, 2);
      c.write(frame);
    }
  }
}

/** Starts a scripted server; remember to close() it. */
export function startDnsServer(handler: DnsHandler, options: { address?: string } = {}): Promise<ScriptedDnsServer> {
  return ScriptedDnsServer.start(handler, options);
}

// ---------------------------------------------------------------- building answers

export interface ReplyOptions {
  rcode?: number | 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';
  /** AD bit (RFC 4035 §3.2.3). */
  ad?: boolean;
  /** TC bit (RFC 1035 §4.1.1). */
  tc?: boolean;
  answers?: dnsPacket.Answer[];
  authorities?: dnsPacket.Answer[];
  /** Extra EDNS options in the OPT RR of the answer, e.g. ede(7). */
  ednsOptions?: Array<{ code: number; data: Buffer }>;
  /** Leave out the OPT RR. */
  noEdns?: boolean;
  /** Override the ID (e.g. a spoofer guessing wrong). */
  id?: number;
  /** Override the question. */
  questions?: dnsPacket.Question[];
}

const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** A response to `query`: same ID and question, QR RD RA, plus the options. */
export function reply(query: dnsPacket.Packet, o: ReplyOptions = {}): dnsPacket.Packet {
  const rcode = typeof o.rcode === 'string' ? RCODES[o.rcode] : (o.rcode ?? 0);
  let flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (rcode & 0xf);
  if (o.ad) flags |= dnsPacket.AUTHENTIC_DATA;
  if (o.tc) flags |= dnsPacket.TRUNCATED_RESPONSE;
  const opt = {
    type: 'OPT',
    name: '.',
    udpPayloadSize: 1232,
    extendedRcode: rcode >> 4,
    flags: dnsPacket.DNSSEC_OK,
    options: o.ednsOptions ?? [],
  } as unknown as dnsPacket.Answer;
  return {
    type: 'response',
    id: o.id ?? query.id ?? 0,
    flags,
    questions: o.questions ?? query.questions ?? [],
    answers: o.answers ?? [],
    authorities: o.authorities ?? [],
    additionals: o.noEdns ? [] : [opt],
  };
}

/** An Extended DNS Error option (RFC 8914 §2): INFO-CODE then UTF-8 EXTRA-TEXT. */
export function ede(infoCode: number, extraText = ''): { code: number; data: Buffer } {
  const text = Buffer.from(extraText, 'utf8');
  const data = Buffer.alloc(2 + text.length);
  data.writeUInt16BE(infoCode, 0);
  text.copy(data, 2);
  return { code: 15, data };
}

/** Frames a DNS message for TCP (RFC 1035 §4.2.2), for use in { tcpRaw }. */
export function tcpFrame(message: Buffer | dnsPacket.Packet): Buffer {
  const buf = Buffer.isBuffer(message) ? message : dnsPacket.encode(message);
  const frame = Buffer.alloc(2 + buf.length);
  frame.writeUInt16BE(buf.length, 0);
  buf.copy(frame, 2);
  return frame;
}

/** The root SOA; a validating resolver answers it with AD (how a client checks that it validates). */
export const ROOT_SOA: dnsPacket.Answer = {
  type: 'SOA',
  name: '.',
  ttl: 86400,
  data: { mname: 'a.root-servers.net', rname: 'nstld.verisign-grs.com', serial: 1, refresh: 1800, retry: 900, expire: 604800, minimum: 86400 },
};

/** A TLSA RR at `name` (TTL 300), the certificate association data given in hex. */
export function tlsaRr(name: string, usage: number, selector: number, matchingType: number, hex: string): dnsPacket.Answer {
  return { type: 'TLSA', name, ttl: 300, data: { usage, selector, matchingType, certificate: Buffer.from(hex, 'hex') } } as unknown as dnsPacket.Answer;
}
