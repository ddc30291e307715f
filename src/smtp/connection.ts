/**
 * The sockets and deadlines of one SMTP client session: the TCP connection, the STARTTLS
 * handshake over it, size-bounded reply reading (reply.ts), writes, and one deadline per
 * wait that incoming data never extends. The first failure wins and destroys the sockets at
 * once; every exit path destroys them. The protocol steps are session.ts.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ReplyReader } from './reply.js';
import { daneTlsClientOptions, servedChain, servedTls } from './served-chain.js';
import { SessionError } from './session-error.js';
import type { ServedTls, SmtpEvent, SmtpReply, SmtpSessionOptions } from './types.js';

export type Phase = 'idle' | 'connect' | 'smtp' | 'handshake';

export class SmtpConnection {
  private plain: net.Socket | undefined;
  private secure: tls.TLSSocket | undefined;
  /** The socket commands go to and replies come from. */
  private active: net.Socket | undefined;
  private readonly reader = new ReplyReader();
  /** Sticky: once set, the connection is unusable (and destroyed). */
  #failure: SessionError | undefined;
  /** Re-check of the current wait; called on data, connect, handshake, write completion, failure. */
  private wake: (() => void) | undefined;
  #phase: Phase = 'idle';
  private connected = false;
  private handshaken = false;
  private closeEmitted = false;
  private readonly onAbort = () => this.fail(new SessionError('ABORTED', 'aborted by the caller'));
  private readonly onData = (chunk: Buffer) => {
    if (this.#failure) return;
    this.reader.push(chunk);
    if (this.reader.error) this.fail(new SessionError(this.reader.error.code, this.reader.error.message));
    else this.wake?.();
  };
  private readonly onSocketError = (err: Error) => {
    const detail = (err as NodeJS.ErrnoException).code ?? err.message;
    if (this.#phase === 'connect') {
      this.fail(new SessionError('CONNECT', `connect to ${this.target()} failed: ${err.message}`));
    } else if (this.#phase === 'handshake') {
      this.fail(new SessionError('TLS_HANDSHAKE', `TLS handshake failed: ${err.message}`));
    } else {
      this.fail(new SessionError('CLOSED', `connection error (${detail})`));
    }
  };
  private readonly onSocketClose = () => {
    if (this.#phase === 'connect') {
      this.fail(new SessionError('CONNECT', `connection to ${this.target()} closed before it was established`));
    } else if (this.#phase === 'handshake') {
      this.fail(new SessionError('TLS_HANDSHAKE', 'connection closed during the TLS handshake'));
    } else {
      const mid = this.reader.midReply ? ' in the middle of a reply' : '';
      this.fail(new SessionError('CLOSED', `connection closed by the server${mid}`));
    }
    this.emitClose();
  };

  constructor(private readonly o: SmtpSessionOptions) {}

  /** The first failure, once there is one: the connection is then over. */
  get failure(): SessionError | undefined {
    return this.#failure;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** The caller's signal aborts the connection (ABORTED). */
  watchAbort(): void {
    this.o.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  target(): string {
    return net.isIPv6(this.o.address) ? `[${this.o.address}]:${this.o.port}` : `${this.o.address}:${this.o.port}`;
  }

  emit(event: SmtpEvent): void {
    try {
      this.o.onEvent?.(event);
    } catch {
      // a logging hook must not break the session
    }
  }

  private emitClose(): void {
    if (this.closeEmitted || !this.plain) return;
    this.closeEmitted = true;
    this.emit({ type: 'close' });
  }

  /** First failure wins; the connection is destroyed at once and the current wait is woken. */
  fail(err: SessionError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.destroySockets();
    this.wake?.();
  }

  private destroySockets(): void {
    this.secure?.destroy();
    this.plain?.destroy();
  }

  dispose(): void {
    this.o.signal?.removeEventListener('abort', this.onAbort);
    this.wake = undefined;
    this.destroySockets();
    this.emitClose();
  }

  /**
   * Wait until poll() yields a value, the session fails, or `timeoutMs` passes. The deadline
   * starts now and nothing (in particular no incoming data) resets it.
   */
  private wait<T>(step: string, poll: () => T | undefined, ms = this.o.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        if (this.wake === check) this.wake = undefined;
      };
      const check = () => {
        if (settled) return;
        if (this.#failure?.code === 'ABORTED') {
          finish();
          reject(this.#failure);
          return;
        }
        const value = poll();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.#failure) {
          finish();
          reject(this.#failure);
        }
      };
      const timer = setTimeout(() => {
        this.fail(new SessionError('TIMEOUT', `timeout after ${ms} ms ${step}`));
        check();
      }, ms);
      this.wake = check;
      check();
    });
  }

  /** The next whole reply, within its deadline. */
  async readReply(step: string, label = `waiting for the reply to ${step}`, ms = this.o.timeoutMs): Promise<SmtpReply> {
    const reply = await this.wait(label, () => this.reader.shift(), ms);
    this.emit({ type: 'reply', reply });
    return reply;
  }

  /** Writes command lines (not waiting for the write to complete). */
  send(lines: string[]): void {
    if (this.#failure) throw this.#failure;
    for (const line of lines) {
      // Addresses and names were validated; this is the last line of defence against injection.
      if (/[\r\n\0]/.test(line)) throw new Error('BUG: line break in an SMTP command');
      this.emit({ type: 'send', line });
    }
    this.active!.write(lines.map((l) => `${l}\r\n`).join(''));
  }

  /** Writes data and waits, within the deadline, until it is written. */
  async write(data: Buffer, step: string): Promise<void> {
    if (this.#failure) throw this.#failure;
    let done = false;
    this.active!.write(data, (err) => {
      if (!err) {
        done = true;
        this.wake?.();
      }
    });
    await this.wait(step, () => (done ? true : undefined));
  }

  connect(): Promise<true> {
    this.#phase = 'connect';
    const socket = net.connect({
      host: this.o.address,
      port: this.o.port,
      ...(this.o.localAddress !== undefined ? { localAddress: this.o.localAddress } : {}),
    });
    this.plain = socket;
    this.active = socket;
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.once('connect', () => {
      this.connected = true;
      this.#phase = 'smtp';
      this.emit({ type: 'connect', address: this.o.address, port: this.o.port });
      this.wake?.();
    });
    socket.on('data', this.onData);
    if (this.#failure) socket.destroy(); // aborted in the meantime
    return this.wait(`connecting to ${this.target()}`, () => (this.connected ? true : undefined));
  }

  /**
   * The TLS handshake after the server's 220 to STARTTLS; what the server sent. Commands
   * still go to the plaintext socket (none may) until useTls().
   */
  async handshake(): Promise<ServedTls> {
    // RFC 3207 §5 (and CVE-2011-0411): whatever arrived after the 220 and before the handshake
    // completes is not from the TLS peer. Drop it, and stop reading plaintext right now.
    const plain = this.plain!;
    plain.removeListener('data', this.onData);
    const discarded = this.reader.discard() + plain.readableLength;
    if (discarded > 0) this.emit({ type: 'discarded', bytes: discarded });

    this.#phase = 'handshake';
    const sni = this.o.servername?.replace(/\.$/, '');
    let secure: tls.TLSSocket;
    try {
      secure = tls.connect({
        socket: plain,
        ...(sni && net.isIP(sni) === 0 ? { servername: sni } : {}),
        // No local PKI, an empty trust store, TLS 1.0 and up: see served-chain.ts.
        ...daneTlsClientOptions(),
      });
    } catch (e) {
      throw new SessionError('TLS_HANDSHAKE', `TLS setup failed: ${(e as Error).message}`);
    }
    this.secure = secure;
    secure.on('error', this.onSocketError);
    secure.on('close', this.onSocketClose);
    secure.once('secureConnect', () => {
      this.handshaken = true;
      this.wake?.();
    });
    if (this.#failure) secure.destroy();
    await this.wait('in the TLS handshake', () => (this.handshaken ? true : undefined));
    this.#phase = 'smtp';
    const cipher = secure.getCipher();
    return servedTls(secure.getProtocol() ?? 'unknown', cipher?.standardName || cipher?.name || 'unknown', servedChain(secure));
  }

  /** From now on commands and replies go through TLS. */
  useTls(): void {
    const secure = this.secure!;
    this.active = secure;
    secure.on('data', this.onData);
  }
}
