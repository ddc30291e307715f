/**
 * An on-path SMTP attacker for tests: it listens on an explicit 127.0.0.0/8 address, relays
 * each connection to the real server (`upstream`) and tampers with the session:
 *
 *   relay            transparent (plaintext lines, then raw bytes once STARTTLS is accepted)
 *   strip-starttls   removes STARTTLS from every EHLO reply of the real server
 *   refuse-starttls  answers the client's STARTTLS itself (e.g. 454), never forwards it
 *   terminate-tls    answers STARTTLS with 220 itself and terminates TLS with its own
 *                    certificate; inside TLS it relays the client's commands to the real
 *                    server in plaintext (what a successful MITM does)
 *   inject           relays, and appends `inject` to the real server's 220 reply to STARTTLS
 *                    in the same write, before the TLS handshake (CVE-2011-0411 style)
 *
 * It logs what the client said in plaintext and inside the attacker's TLS, so a test can
 * assert that nothing of the transaction reached the attacker.
 */
import { createSocket } from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import dnsPacket from 'dns-packet';
import { startDnsServer, type ScriptedDnsServer } from './dns-server.js';

export type MitmMode =
  | { kind: 'relay' }
  | { kind: 'strip-starttls' }
  | { kind: 'refuse-starttls'; reply: string }
  | { kind: 'terminate-tls'; cert: string; key: string }
  | { kind: 'inject'; inject: string };

export interface MitmConnection {
  /** Lines the client sent in plaintext. */
  clientPlainLines: string[];
  /** Lines the client sent inside the attacker's TLS (terminate-tls). */
  clientTlsLines: string[];
  /** Application bytes the client sent inside the attacker's TLS. */
  clientTlsBytes: number;
  /** The attacker's TLS handshake with the client completed. */
  tlsTerminated: boolean;
  /** Raw bytes relayed client → server after STARTTLS (the end-to-end TLS stream). */
  rawToServer: number;
  closed: Promise<void>;
}

export interface Mitm {
  address: string;
  port: number;
  mode: MitmMode;
  connections: MitmConnection[];
  close(): Promise<void>;
}

export interface MitmOptions {
  listen: { address: string; port: number };
  upstream: { address: string; port: number };
  mode: MitmMode;
}

/** Splits a byte stream into CRLF/LF lines. */
class Lines {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): string[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: string[] = [];
    for (let lf = this.buf.indexOf(10); lf >= 0; lf = this.buf.indexOf(10)) {
      out.push(this.buf.subarray(0, lf).toString('latin1').replace(/\r$/, ''));
      this.buf = this.buf.subarray(lf + 1);
    }
    return out;
  }
  /** Whatever is buffered after the last complete line. */
  rest(): Buffer {
    const r = this.buf;
    this.buf = Buffer.alloc(0);
    return r;
  }
}

export async function startMitm(o: MitmOptions): Promise<Mitm> {
  if (!/^127\./.test(o.listen.address) || !/^127\./.test(o.upstream.address)) throw new Error('mitm: loopback only');
  const connections: MitmConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    connections.push(handle(client, o, sockets));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.listen.address, port: o.listen.port, exclusive: true }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: o.listen.address,
    port,
    mode: o.mode,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function handle(client: net.Socket, o: MitmOptions, sockets: Set<net.Socket>): MitmConnection {
  const mode = o.mode;
  const log: MitmConnection = {
    clientPlainLines: [],
    clientTlsLines: [],
    clientTlsBytes: 0,
    tlsTerminated: false,
    rawToServer: 0,
    closed: new Promise((resolve) => client.once('close', () => resolve())),
  };
  const upstream = net.connect({ host: o.upstream.address, port: o.upstream.port, localAddress: o.listen.address });
  sockets.add(upstream);
  const kill = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', kill);
  upstream.on('error', kill);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => {
    sockets.delete(upstream);
    client.destroy();
  });

  // Where the client's commands currently come from and where the server's replies go.
  let toClient: net.Socket = client;
  let rawMode = false;
  let awaitingStartTlsReply = false;
  const clientLines = new Lines();
  const serverLines = new Lines();
  let reply: string[] = [];

  const writeReply = (lines: string[]) => toClient.write(lines.map((l) => `${l}\r\n`).join(''));

  const goRaw = (leftover: Buffer) => {
    // End-to-end TLS between the client and the real server from here on.
    rawMode = true;
    client.removeAllListeners('data');
    upstream.removeAllListeners('data');
    if (leftover.length) {
      log.rawToServer += leftover.length;
      upstream.write(leftover);
    }
    client.on('data', (c: Buffer) => {
      log.rawToServer += c.length;
      upstream.write(c);
    });
    upstream.on('data', (c: Buffer) => client.write(c));
  };

  const onServerReply = (lines: string[]) => {
    const code = lines[0]!.slice(0, 3);
    if (awaitingStartTlsReply) {
      awaitingStartTlsReply = false;
      if (code === '220') {
        const text = lines.map((l) => `${l}\r\n`).join('');
        // One write: the injected bytes arrive with the 220, before the handshake.
        client.write(text + (mode.kind === 'inject' ? mode.inject : ''));
        goRaw(clientLines.rest());
        return;
      }
    }
    if (mode.kind === 'strip-starttls' || toClient !== client) {
      const kept = lines.filter((l) => !/^\d{3}[ -]STARTTLS\b/i.test(l));
      if (kept.length !== lines.length) {
        const fixed = kept.map((l, i) => `${l.slice(0, 3)}${i === kept.length - 1 ? ' ' : '-'}${l.slice(4)}`);
        writeReply(fixed);
        return;
      }
    }
    writeReply(lines);
  };

  upstream.on('data', (chunk: Buffer) => {
    if (rawMode) return;
    for (const line of serverLines.push(chunk)) {
      reply.push(line);
      if (line.length >= 4 && line[3] === '-') continue;
      const done = reply;
      reply = [];
      onServerReply(done);
      if (rawMode) return;
    }
  });

  const fromClient = (line: string, insideTls: boolean) => {
    (insideTls ? log.clientTlsLines : log.clientPlainLines).push(line);
    if (!insideTls && /^STARTTLS$/i.test(line)) {
      if (mode.kind === 'refuse-starttls') {
        client.write(`${mode.reply}\r\n`);
        return;
      }
      if (mode.kind === 'terminate-tls') {
        terminate();
        return;
      }
      awaitingStartTlsReply = true;
    }
    upstream.write(`${line}\r\n`);
  };

  const terminate = () => {
    client.removeAllListeners('data');
    const leftover = clientLines.rest();
    client.write('220 2.0.0 Ready to start TLS\r\n');
    if (mode.kind !== 'terminate-tls') return;
    const secure = new tls.TLSSocket(client, {
      isServer: true,
      secureContext: tls.createSecureContext({ cert: mode.cert, key: mode.key }),
    });
    if (leftover.length) client.unshift(leftover);
    secure.on('error', kill);
    secure.once('secure', () => {
      log.tlsTerminated = true;
      toClient = secure;
    });
    const tlsLines = new Lines();
    secure.on('data', (c: Buffer) => {
      log.clientTlsBytes += c.length;
      for (const l of tlsLines.push(c)) fromClient(l, true);
    });
  };

  client.on('data', (chunk: Buffer) => {
    if (rawMode) return;
    for (const line of clientLines.push(chunk)) {
      fromClient(line, false);
      if (rawMode || (mode.kind === 'terminate-tls' && /^STARTTLS$/i.test(line))) return;
    }
  });
  return log;
}

// ---------------------------------------------------------------- DNS: an IP-level redirect


export interface DnsRedirector {
  server: ScriptedDnsServer;
  /** "IP:PORT" for --resolver. */
  resolver: string;
  /** Lower-case host name (no trailing dot) → forged IPv4 address for its A records. */
  redirects: Map<string, string>;
  /** How many A answers were rewritten. */
  rewritten: number;
  close(): Promise<void>;
}

/**
 * A DNS proxy on `address` that forwards every query to the real (validating) resolver and
 * rewrites the A records of the names in `redirects` in its answers, KEEPING the AD bit
 * (and the now mismatching RRSIGs): an on-path attacker between a stub and its resolver.
 */
export async function startDnsRedirector(address: string, upstream: { address: string; port: number }, redirects: Record<string, string> = {}): Promise<DnsRedirector> {
  const r: DnsRedirector = {
    server: undefined as unknown as ScriptedDnsServer,
    resolver: '',
    redirects: new Map(Object.entries(redirects)),
    rewritten: 0,
    close: () => r.server.close(),
  };
  r.server = await startDnsServer(
    async (_query, _transport, client) => {
      const answer = await forwardUdp(client.raw, upstream, address);
      if (!answer) return null;
      let decoded: dnsPacket.DecodedPacket;
      try {
        decoded = dnsPacket.decode(answer);
      } catch {
        return answer;
      }
      let changed = false;
      for (const a of decoded.answers ?? []) {
        const to = a.type === 'A' ? r.redirects.get(a.name.toLowerCase().replace(/\.$/, '')) : undefined;
        if (to && a.type === 'A') {
          a.data = to;
          changed = true;
        }
      }
      if (!changed) return answer;
      r.rewritten++;
      return dnsPacket.encode(decoded);
    },
    { address },
  );
  r.resolver = `${r.server.address}:${r.server.port}`;
  return r;
}

function forwardUdp(raw: Buffer, to: { address: string; port: number }, from: string): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(null);
    }, 4000);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(msg);
    });
    s.bind({ address: from, port: 0 }, () => s.send(raw, to.port, to.address));
  });
}

// ---------------------------------------------------------------- DNS: an off-path spoofer

export type SpoofKind = 'wrong-id' | 'wrong-question' | 'other-port' | 'other-address';

export interface DnsSpoofer {
  server: ScriptedDnsServer;
  /** "IP:PORT" for --resolver. */
  resolver: string;
  /** Forged answers sent, per kind. */
  forged: Record<SpoofKind, number>;
  /** "name TYPE" of every UDP query the proxy relayed. */
  queries: string[];
  /**
   * Control: answer every poisoned question with the poison itself, right ID, question and
   * source (what the client gets when it believes the forgery), nothing relayed.
   */
  believable: boolean;
  close(): Promise<void>;
}

/**
 * A UDP proxy on `address` in front of the real resolver. For every question `poison`
 * answers (a forged answer for that very question, e.g. AD=1 and the attacker's address),
 * it first sends the forgery in ways RFC 5452 §9.1 says to drop — three wrong IDs and two
 * other questions (another name, another type) from the proxy's own address and port, then
 * the right ID and question from another port and from `spoofAddress` (another 127.x
 * source) — and only then relays the real answer. Over TCP it only relays.
 */
export async function startDnsSpoofer(
  address: string,
  spoofAddress: string,
  upstream: { address: string; port: number },
  poison: (q: dnsPacket.Question) => Omit<dnsPacket.Packet, 'id' | 'questions' | 'type'> | null,
): Promise<DnsSpoofer> {
  const offPath = await startDnsServer(() => null, { address: spoofAddress });
  const sp: DnsSpoofer = {
    server: undefined as unknown as ScriptedDnsServer,
    resolver: '',
    forged: { 'wrong-id': 0, 'wrong-question': 0, 'other-port': 0, 'other-address': 0 },
    queries: [],
    believable: false,
    close: async () => {
      await sp.server.close();
      await offPath.close();
    },
  };
  sp.server = await startDnsServer(
    async (query, transport, client) => {
      const q = query.questions?.length === 1 ? query.questions[0]! : undefined;
      const p = q ? poison(q) : null;
      if (transport === 'tcp' || !q || !p) return forwardUdp(client.raw, upstream, address);
      sp.queries.push(`${q.name.toLowerCase()} ${q.type}`);
      const forged = (o: { id?: number; question?: dnsPacket.Question } = {}): dnsPacket.Packet => ({
        ...p,
        type: 'response',
        id: o.id ?? query.id!,
        questions: [o.question ?? q],
      });
      if (sp.believable) return forged();
      // Right ID and question, wrong source: another port, then another address.
      await sp.server.spoofUdp(client, forged());
      sp.forged['other-port']++;
      await offPath.spoofUdp(client, forged());
      sp.forged['other-address']++;
      const real = await forwardUdp(client.raw, upstream, address);
      // From the proxy's own address and port: wrong IDs, then the right ID for other questions.
      const out: (dnsPacket.Packet | Buffer)[] = [];
      for (const delta of [1, 0x1000, 0x8000]) out.push(forged({ id: (query.id! + delta) & 0xffff }));
      sp.forged['wrong-id'] += 3;
      out.push(forged({ question: { ...q, name: `forged.${q.name}` } }));
      out.push(forged({ question: { ...q, type: q.type === 'TXT' ? 'NULL' : 'TXT' } }));
      sp.forged['wrong-question'] += 2;
      if (real) out.push(real);
      return out;
    },
    { address },
  );
  sp.resolver = `${sp.server.address}:${sp.server.port}`;
  return sp;
}
