/**
 * Servers for the `dane-smtp tlsa --connect` tests, built on raw-smtp-server.ts: a STARTTLS
 * SMTP server, an implicit-TLS server, one that drops every connection, and scripted DNS
 * servers; each bound to a given loopback address (127.0.0.0/8 or ::1) or 127.0.0.1, port 0
 * unless given, and closed after each test.
 */
import { afterEach } from 'vitest';
import { type DnsHandler, ScriptedDnsServer } from './dns-server.js';
import { type ListenOptions, type RawConn, type RawServer, startRawServer } from './raw-smtp-server.js';

/** The chain a server sends (PEM, leaf first) and the leaf's key. */
export interface Served {
  certPem: string;
  keyPem: string;
}

export interface SmtpServerOptions extends Partial<Served>, ListenOptions {
  /** Offer STARTTLS (default true); when not, EHLO says PIPELINING and STARTTLS gets 502. */
  starttls?: boolean;
  /** false: accept the connection and never say anything. */
  greet?: boolean;
}

export interface TlsaTestServer {
  host: string;
  port: number;
  /** The server names clients sent in their ClientHello. */
  sni: string[];
  /** Lines received from the clients (plaintext, then inside TLS), connection after connection. */
  readonly commands: string[];
  /** TLS handshakes completed. */
  readonly handshakes: number;
  raw: RawServer;
  close(): Promise<void>;
}

const GREETING = '220 mx.example.test ESMTP\r\n';

/** The next line, or undefined once the client is gone (or silent for a minute). */
const nextLine = (conn: RawConn): Promise<string | undefined> => conn.readLine(60_000).catch(() => undefined);

/** Until the client is gone: EHLO gets `ehlo`, QUIT 221 (then close), other lines `other` (false: stop). */
async function serveCommands(conn: RawConn, ehlo: string, other: (line: string) => Promise<boolean>): Promise<void> {
  for (let line = await nextLine(conn); line !== undefined; line = await nextLine(conn)) {
    if (/^EHLO /i.test(line)) await conn.write(ehlo);
    else if (/^QUIT$/i.test(line)) {
      await conn.write('221 bye\r\n');
      conn.end();
      return;
    } else if (!(await other(line))) return;
  }
}

function testServer(raw: RawServer, sni: string[]): TlsaTestServer {
  return {
    host: raw.host,
    port: raw.port,
    sni,
    get commands() {
      return raw.connections.flatMap((c) => [...c.plainLines, ...c.tlsLines]);
    },
    get handshakes() {
      return raw.connections.filter((c) => c.tlsInfo).length;
    },
    raw,
    close: () => raw.close(),
  };
}

/** A STARTTLS SMTP server: 220, EHLO (STARTTLS offered or not), STARTTLS, then EHLO and QUIT inside TLS; 502 to anything else. */
export async function startSmtpServer(o: SmtpServerOptions & Served): Promise<TlsaTestServer> {
  const sni: string[] = [];
  const tlsOptions = { cert: o.certPem, key: o.keyPem, onSni: (name: string) => sni.push(name) };
  const offer = o.starttls !== false;
  const raw = await startRawServer(
    async (conn) => {
      if (o.greet === false) return;
      await conn.write(GREETING);
      let upgrade = false;
      await serveCommands(conn, `250-mx.example.test\r\n250 ${offer ? 'STARTTLS' : 'PIPELINING'}\r\n`, async (line) => {
        upgrade = offer && /^STARTTLS$/i.test(line);
        await conn.write(upgrade ? '220 go ahead\r\n' : '502 no\r\n');
        return !upgrade;
      });
      if (!upgrade) return;
      await conn.startTls(tlsOptions);
      await serveCommands(conn, '250 mx.example.test\r\n', async () => (await conn.write('502 no\r\n'), true));
    },
    { host: o.host, port: o.port },
  );
  return testServer(raw, sni);
}

/** Implicit TLS (the submissions port 465 way): the handshake, a 220 greeting, then the server closes. */
export async function startImplicitTlsServer(o: Served & ListenOptions): Promise<TlsaTestServer> {
  const sni: string[] = [];
  const raw = await startRawServer(
    async (conn) => {
      await conn.startTls({ cert: o.certPem, key: o.keyPem, onSni: (name) => sni.push(name) });
      await conn.write(GREETING);
      conn.end();
    },
    { host: o.host, port: o.port },
  );
  return testServer(raw, sni);
}

export interface TlsaServers {
  /** A STARTTLS SMTP server; the chain served defaults to the one given to useTlsaServers. */
  smtp(o?: SmtpServerOptions): Promise<TlsaTestServer>;
  /** An implicit-TLS server. */
  implicit(o?: Partial<Served> & ListenOptions): Promise<TlsaTestServer>;
  /** A TCP server that closes every connection at once. */
  rude(o?: ListenOptions): Promise<RawServer>;
  /** A scripted DNS server (dns-server.ts). */
  dns(handler: DnsHandler, options?: { address?: string }): Promise<ScriptedDnsServer>;
  /** Close `s` after the test too. */
  track<T extends { close(): Promise<unknown> }>(s: T): T;
}

/**
 * Call at the top level of a test file: every server started through the result is closed
 * (its connections destroyed) after each test. `served` gives the default chain and key.
 */
export function useTlsaServers(served: () => Served): TlsaServers {
  const open: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  const track = <T extends { close(): Promise<unknown> }>(s: T): T => (open.push(s), s);
  return {
    smtp: async (o = {}) => track(await startSmtpServer({ ...served(), ...o })),
    implicit: async (o = {}) => track(await startImplicitTlsServer({ ...served(), ...o })),
    rude: async (o = {}) => track(await startRawServer((conn) => conn.destroy(), o)),
    dns: async (handler, options = {}) => track(await ScriptedDnsServer.start(handler, options)),
    track,
  };
}

/** 127.X.Y.1, 127.X.Y.2, … for one test (X, Y random: other test files use 127.0.0.0/8 too). */
export function loopbackNet(): (i: number) => string {
  const x = 20 + Math.floor(Math.random() * 200);
  const y = Math.floor(Math.random() * 250);
  return (i) => `127.${x}.${y}.${i}`;
}
