/**
 * A scripted raw TCP "SMTP server" for protocol edge cases: 127.0.0.1 port 0 (the OS picks a
 * free port) unless another host or port is given. Each connection runs a test-supplied async
 * handler with helpers (readLine, write, startTls, ...) and records everything it received, in
 * plaintext and inside TLS.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface ServerTlsOptions {
  cert: string;
  key: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
  /** Called with the SNI of the ClientHello, before the handshake completes (a client may be gone before it does). */
  onSni?: (servername: string) => void;
}

export interface TlsInfo {
  /** SNI sent by the client (false/null/undefined when none). */
  servername: string | false | null | undefined;
  protocol: string | null;
}

export class RawConn {
  /** Lines received in plaintext / inside TLS, without their line ends. */
  readonly plainLines: string[] = [];
  readonly tlsLines: string[] = [];
  /** Application bytes received in plaintext / inside TLS. */
  plainBytes = 0;
  tlsBytes = 0;
  /** Bytes the client sent after STARTTLS and before the handshake (should be 0). */
  bytesBeforeHandshake = 0;
  tls: tls.TLSSocket | undefined;
  tlsInfo: TlsInfo | undefined;
  isClosed = false;
  readonly closed: Promise<void>;
  /** The client's address and port (kept after the socket is closed). */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  private buf = Buffer.alloc(0);
  private lines: string[] = [];
  private waiters: { resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  private current: net.Socket;
  private readonly onData = (chunk: Buffer) => this.received(chunk);

  constructor(readonly socket: net.Socket) {
    this.current = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    socket.on('error', () => {});
    socket.on('data', this.onData);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
        resolve();
      });
    });
  }

  private received(chunk: Buffer): void {
    if (this.tls) this.tlsBytes += chunk.length;
    else this.plainBytes += chunk.length;
    this.buf = Buffer.concat([this.buf, chunk]);
    for (let lf = this.buf.indexOf(10); lf >= 0; lf = this.buf.indexOf(10)) {
      const line = this.buf.subarray(0, lf).toString('utf8').replace(/\r$/, '');
      this.buf = this.buf.subarray(lf + 1);
      (this.tls ? this.tlsLines : this.plainLines).push(line);
      const w = this.waiters.shift();
      if (w) w.resolve(line);
      else this.lines.push(line);
    }
  }

  /** Lines received and not yet read by the handler. */
  get queuedLines(): number {
    return this.lines.length;
  }

  /** Next line from the client (plaintext or TLS, whichever is current). */
  readLine(timeoutMs = 5000): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`server: no line from the client within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Read a line and check it. */
  async expect(re: RegExp, timeoutMs?: number): Promise<string> {
    const line = await this.readLine(timeoutMs);
    if (!re.test(line)) throw new Error(`server expected ${re} but got ${JSON.stringify(line)}`);
    return line;
  }

  /** Read the message data up to the "." line; returns the raw (still dot-stuffed) lines. */
  async readData(timeoutMs?: number): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === '.') return out;
      out.push(line);
    }
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.current.destroyed) return resolve();
      this.current.write(data, () => resolve());
    });
  }

  /** Write each byte separately with a pause (a trickling server); stops when the client goes away. */
  async trickle(data: string | Buffer, everyMs: number): Promise<void> {
    const bytes = Buffer.from(data);
    for (let i = 0; i < bytes.length && !this.isClosed; i++) {
      await this.write(bytes.subarray(i, i + 1));
      await sleep(everyMs);
    }
  }

  /** Server side of STARTTLS: stop reading plaintext, handshake, then read/write inside TLS. */
  startTls(options: ServerTlsOptions): Promise<TlsInfo> {
    this.socket.removeListener('data', this.onData);
    this.bytesBeforeHandshake = this.buf.length;
    this.buf = Buffer.alloc(0);
    this.lines = [];
    const secureContext = tls.createSecureContext({
      cert: options.cert,
      key: options.key,
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    });
    const onSni = options.onSni;
    const secure = new tls.TLSSocket(this.socket, {
      isServer: true,
      secureContext,
      ...(onSni ? { SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => (onSni(name), cb(null, secureContext)) } : {}),
    });
    this.tls = secure;
    this.current = secure;
    secure.on('error', () => {});
    return new Promise((resolve, reject) => {
      secure.once('secure', () => {
        const info: TlsInfo = { servername: secure.servername, protocol: secure.getProtocol() };
        this.tlsInfo = info;
        secure.on('data', this.onData);
        resolve(info);
      });
      secure.once('close', () => reject(new Error('server: connection closed during the TLS handshake')));
    });
  }

  end(): void {
    this.current.end();
  }

  destroy(): void {
    this.tls?.destroy();
    this.socket.destroy();
  }

  /** Abortive close (TCP RST). */
  reset(): void {
    this.socket.resetAndDestroy();
  }
}

export interface RawServer {
  port: number;
  host: string;
  connections: RawConn[];
  /** Errors thrown by handlers (a test should assert this is empty when it expects a clean script). */
  errors: Error[];
  /** Resolves when every handler started so far has finished. */
  handlersDone(): Promise<void>;
  /** Resolves when every connection is closed, or rejects after timeoutMs (socket leak check). */
  allClosed(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (conn: RawConn) => Promise<void> | void;

export interface ListenOptions {
  /** Address to bind (default 127.0.0.1), e.g. another 127.0.0.0/8 address or ::1. */
  host?: string;
  /** Port (default 0: the OS picks); a taken port rejects with EADDRINUSE. */
  port?: number;
}

export async function startRawServer(handler: Handler, listen: ListenOptions = {}): Promise<RawServer> {
  const host = listen.host ?? '127.0.0.1';
  const connections: RawConn[] = [];
  const errors: Error[] = [];
  const running: Promise<void>[] = [];
  const server = net.createServer((socket) => {
    const conn = new RawConn(socket);
    connections.push(conn);
    running.push(
      (async () => {
        try {
          await handler(conn);
        } catch (e) {
          errors.push(e as Error);
          conn.destroy();
        }
      })(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: listen.port ?? 0, exclusive: true }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host,
    connections,
    errors,
    handlersDone: async () => {
      await Promise.all(running);
    },
    allClosed: (timeoutMs = 2000) =>
      Promise.race([
        Promise.all(connections.map((c) => c.closed)).then(() => undefined),
        sleep(timeoutMs).then(() => {
          throw new Error(`${connections.filter((c) => !c.isClosed).length} connection(s) still open`);
        }),
      ]),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One scripted step: send a line (CRLF added), or read a line matching a pattern and answer. */
export type Step = string | [RegExp, string?] | Handler;

/** Handler from a list of steps; e.g. ['220 hi', [/^EHLO /, '250 ok'], [/^QUIT/, '221 bye']]. */
export function script(steps: Step[]): Handler {
  return async (conn) => {
    for (const step of steps) {
      if (typeof step === 'string') {
        await conn.write(step.endsWith('\n') ? step : `${step}\r\n`);
      } else if (typeof step === 'function') {
        await step(conn);
      } else {
        await conn.expect(step[0]);
        const answer = step[1];
        if (answer !== undefined) await conn.write(answer.endsWith('\n') ? answer : `${answer}\r\n`);
      }
    }
  };
}
