/**
 * One ESMTP client session (RFC 5321) with STARTTLS (RFC 3207) for DANE SMTP (RFC 7672).
 *
 * Every peer may be hostile: every read is size-bounded (reply.ts), every step (connect, TLS
 * handshake, each whole reply, each chunk of message data) has its own deadline that incoming
 * data never extends, and every exit path destroys the sockets. Network and protocol problems
 * are results, never exceptions; only bad arguments reject (DaneSmtpError USAGE).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { DaneSmtpError } from '../errors.js';
import { asciiDomainAddress, dotStuff, isAscii, isValidHeloName, isValidMailbox, needs8bit, needsSmtputf8, prepareMessage } from './message.js';
import { ReplyReader, formatReply, isTooManyRecipients, parseEhloExtensions, rcptMax, replyClass, sizeLimit } from './reply.js';
import { DANE_TLS_CLIENT_OPTIONS, servedChain, servedTls } from './served-chain.js';
import type {
  Job,
  SmtpFailureCode,
  RecipientResult,
  RecipientStatus,
  ServedTls,
  SmtpEnvelope,
  SmtpEvent,
  SmtpReply,
  SmtpSessionOptions,
  SmtpSessionResult,
  TlsCheck,
} from './types.js';


/** RFC 5321 §4.5.3.2.6: "DATA Termination: 10 minutes". */
const FINAL_REPLY_TIMEOUT_MS = 10 * 60_000;
/** Message data is written in chunks, each with its own deadline (a stalled reader cannot hang us). */
const DATA_CHUNK_BYTES = 64 * 1024;
/**
 * Most transactions for one message on one connection (recipients refused as "too many", or
 * beyond LIMITS RCPTMAX, go in the next one): 50 × the 100 recipients RFC 5321 §4.5.3.1.8
 * requires a server to take. Whatever is left after that is deferred.
 */
const MAX_TRANSACTIONS = 50;

/** An envelope recipient during a send: its RCPT command, and its status once decided. */
type Rcpt = { address: string; command: string; status?: RecipientStatus; reply: string; tooMany?: boolean };

/** What every transaction of one message shares. */
interface Transaction {
  mail: string;
  pipelining: boolean;
  /** The dot-stuffed message and its terminator. */
  data: () => Buffer;
  brokenLines: number;
  /** For a server without 8BITMIME: what the MIME downgrade did (message.ts prepareMessage). */
  mime?: { converted: number; unconverted?: string };
}

/** How one transaction ended. */
type RoundEnd =
  /** The final reply to the data was read (whatever it was, but not 421). */
  | { kind: 'final'; reply: SmtpReply; accepted: Rcpt[] }
  | { kind: 'mail-refused'; reply: SmtpReply }
  /** MAIL accepted, every RCPT refused: the transaction is still open. */
  | { kind: 'none-accepted'; error: SessionError }
  | { kind: 'data-refused'; reply: SmtpReply; accepted: Rcpt[] }
  /** 421, timeout, lost connection, abort: the connection is over. */
  | { kind: 'broken'; error: SessionError; mailReply: SmtpReply | undefined; mailAccepted: boolean };

class SessionError extends Error {
  constructor(
    readonly code: SmtpFailureCode,
    message: string,
    readonly reply?: SmtpReply,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}

function replyError(step: string, reply: SmtpReply): SessionError {
  const cls = replyClass(reply);
  const code = cls === 4 ? 'SMTP_4XX' : cls === 5 ? 'SMTP_5XX' : 'PROTOCOL';
  const what = code === 'PROTOCOL' ? 'unexpected reply to' : 'rejected by the server at';
  return new SessionError(code, `${what} ${step}: ${formatReply(reply)}`, reply);
}

type Phase = 'idle' | 'connect' | 'smtp' | 'handshake';

/**
 * Run one SMTP session: a probe (greeting, EHLO, STARTTLS, EHLO, QUIT) or one message transaction.
 * Resolves with the outcome for every network or protocol problem; rejects only with
 * DaneSmtpError('USAGE') for invalid options or envelope.
 */
export async function runSmtpSession(options: SmtpSessionOptions, job: Job): Promise<SmtpSessionResult> {
  validate(options, job);
  const session = new Session(options);
  try {
    return await session.run(job);
  } finally {
    session.dispose();
  }
}

function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

function validate(o: SmtpSessionOptions, job: Job): void {
  if (net.isIP(o.address) === 0) throw usage(`address must be an IP address: ${JSON.stringify(o.address)}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw usage(`bad port ${o.port}`);
  if (o.localAddress !== undefined && net.isIP(o.localAddress) === 0) {
    throw usage(`localAddress must be an IP address: ${JSON.stringify(o.localAddress)}`);
  }
  if (!(o.timeoutMs > 0) || !Number.isFinite(o.timeoutMs)) throw usage(`bad timeoutMs ${o.timeoutMs}`);
  if (o.tls !== 'none' && o.tls !== 'may' && o.tls !== 'required') throw usage(`bad tls mode ${String(o.tls)}`);
  // EHLO domain / address-literal (RFC 5321 §4.1.1.1): nothing that could break the command line.
  if (!isValidHeloName(o.helo)) {
    throw usage(`bad helo name ${JSON.stringify(o.helo)}`);
  }
  if (job.kind === 'send') {
    const env = job.envelope;
    if (env.from !== '' && !isValidMailbox(env.from)) throw usage(`invalid sender ${JSON.stringify(env.from)}`);
    if (!Array.isArray(env.to) || env.to.length === 0) throw usage('no recipients');
    for (const rcpt of env.to) {
      if (!isValidMailbox(rcpt)) throw usage(`invalid recipient ${JSON.stringify(rcpt)}`);
    }
    if (!Buffer.isBuffer(env.message)) throw usage('message must be a Buffer');
  } else if (job.kind !== 'probe') {
    throw usage('unknown job');
  }
}


class Session {
  private plain: net.Socket | undefined;
  private secure: tls.TLSSocket | undefined;
  /** The socket commands go to and replies come from. */
  private active: net.Socket | undefined;
  private readonly reader = new ReplyReader();
  /** Sticky: once set, the connection is unusable (and destroyed). */
  private failure: SessionError | undefined;
  /** Re-check of the current wait; called on data, connect, handshake, write completion, failure. */
  private wake: (() => void) | undefined;
  private phase: Phase = 'idle';
  private connected = false;
  private handshaken = false;
  private esmtp = false;
  private tlsAccepted = false;
  private served: ServedTls | undefined;
  /** The recipients' statuses so far, once a transaction has begun. */
  private decided: (() => RecipientResult[]) | undefined;
  private extensions: Record<string, string> = {};
  private closeEmitted = false;
  private readonly onAbort = () => this.fail(new SessionError('ABORTED', 'aborted by the caller'));
  private readonly onData = (chunk: Buffer) => {
    if (this.failure) return;
    this.reader.push(chunk);
    if (this.reader.error) this.fail(new SessionError(this.reader.error.code, this.reader.error.message));
    else this.wake?.();
  };
  private readonly onSocketError = (err: Error) => {
    const detail = (err as NodeJS.ErrnoException).code ?? err.message;
    if (this.phase === 'connect') {
      this.fail(new SessionError('CONNECT', `connect to ${this.target()} failed: ${err.message}`));
    } else if (this.phase === 'handshake') {
      this.fail(new SessionError('TLS_HANDSHAKE', `TLS handshake failed: ${err.message}`));
    } else {
      this.fail(new SessionError('CLOSED', `connection error (${detail})`));
    }
  };
  private readonly onSocketClose = () => {
    if (this.phase === 'connect') {
      this.fail(new SessionError('CONNECT', `connection to ${this.target()} closed before it was established`));
    } else if (this.phase === 'handshake') {
      this.fail(new SessionError('TLS_HANDSHAKE', 'connection closed during the TLS handshake'));
    } else {
      const mid = this.reader.midReply ? ' in the middle of a reply' : '';
      this.fail(new SessionError('CLOSED', `connection closed by the server${mid}`));
    }
    this.emitClose();
  };

  constructor(private readonly o: SmtpSessionOptions) {}

  private target(): string {
    return net.isIPv6(this.o.address) ? `[${this.o.address}]:${this.o.port}` : `${this.o.address}:${this.o.port}`;
  }

  private emit(event: SmtpEvent): void {
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
  private fail(err: SessionError): void {
    if (this.failure) return;
    this.failure = err;
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
        if (this.failure?.code === 'ABORTED') {
          finish();
          reject(this.failure);
          return;
        }
        const value = poll();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.failure) {
          finish();
          reject(this.failure);
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

  private async readReply(step: string, label = `waiting for the reply to ${step}`, ms = this.o.timeoutMs): Promise<SmtpReply> {
    const reply = await this.wait(label, () => this.reader.shift(), ms);
    this.emit({ type: 'reply', reply });
    return reply;
  }

  private send(lines: string[]): void {
    if (this.failure) throw this.failure;
    for (const line of lines) {
      // Addresses and names were validated; this is the last line of defence against injection.
      if (/[\r\n\0]/.test(line)) throw new Error('BUG: line break in an SMTP command');
      this.emit({ type: 'send', line });
    }
    this.active!.write(lines.map((l) => `${l}\r\n`).join(''));
  }

  private async write(data: Buffer, step: string): Promise<void> {
    if (this.failure) throw this.failure;
    let done = false;
    this.active!.write(data, (err) => {
      if (!err) {
        done = true;
        this.wake?.();
      }
    });
    await this.wait(step, () => (done ? true : undefined));
  }

  private result(outcome: SmtpSessionResult['outcome']): SmtpSessionResult {
    const r: SmtpSessionResult = { outcome, tls: this.tlsAccepted, extensions: this.extensions };
    if (this.served) r.served = this.served;
    return r;
  }

  private failed(err: SessionError, recipients?: RecipientResult[]): SmtpSessionResult {
    // An abort after an earlier transaction delivered (a further round, RFC 5321 §4.5.3.1.10)
    // still reports those recipients: dropping them would make the caller send them again.
    const outcome = !recipients || (err.code === 'ABORTED' && !recipients.some((r) => r.status === 'delivered')) ? 'host-failed' : 'rejected';
    const r = this.result(outcome);
    r.error = err.reply ? { code: err.code, message: err.message, reply: err.reply } : { code: err.code, message: err.message };
    if (this.phase === 'handshake') r.inHandshake = true;
    if (recipients) r.recipients = recipients;
    return r;
  }

  async run(job: Job): Promise<SmtpSessionResult> {
    const signal = this.o.signal;
    if (signal?.aborted) return this.failed(new SessionError('ABORTED', 'aborted by the caller'));
    signal?.addEventListener('abort', this.onAbort, { once: true });
    try {
      await this.connect();
      const greeting = await this.readReply('the greeting', 'waiting for the greeting');
      // RFC 5321 §4.3.1: 220 greeting; 421 / 554 mean no service here
      if (greeting.code !== 220) throw replyError('the greeting', greeting);
      await this.hello();
      if (this.o.tls !== 'none') {
        if (this.esmtp && Object.prototype.hasOwnProperty.call(this.extensions, 'STARTTLS')) {
          await this.startTls();
        } else if (this.o.tls === 'required') {
          // RFC 7672 §2.2: with usable TLSA records there is no plaintext fallback
          throw new SessionError(
            'NO_STARTTLS',
            this.esmtp ? 'STARTTLS not offered and TLS is required' : 'EHLO refused (HELO only): no STARTTLS and TLS is required',
          );
        }
      }
    } catch (e) {
      if (e instanceof SessionError) return this.failed(e);
      throw e;
    }
    if (job.kind === 'probe') {
      await this.quit();
      return this.result('ok');
    }
    try {
      return await this.transaction(job.envelope);
    } catch (e) {
      // A bug after the server decided recipients (a 2xx after the data is a delivery):
      // they keep their status; sending them again would deliver twice.
      const decided = this.decided?.();
      if (!decided?.some((r) => r.status !== 'deferred')) throw e;
      this.fail(new SessionError('INTERNAL', `internal error: ${e instanceof Error ? e.message : String(e)}`));
      return this.failed(this.failure!, decided);
    }
  }

  private connect(): Promise<true> {
    this.phase = 'connect';
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
      this.phase = 'smtp';
      this.emit({ type: 'connect', address: this.o.address, port: this.o.port });
      this.wake?.();
    });
    socket.on('data', this.onData);
    if (this.failure) socket.destroy(); // aborted in the meantime
    return this.wait(`connecting to ${this.target()}`, () => (this.connected ? true : undefined));
  }

  /**
   * EHLO, or HELO when EHLO gets a 5xx (RFC 5321 §3.2, §4.1.4: 500/501/502/504/550 for an EHLO the
   * server does not accept). Not on a 4xx (421: the channel is closing) nor on 554, which refuses
   * the session itself ("no SMTP service here", §3.1, §4.3.2): HELO would fare no better.
   */
  private async hello(): Promise<void> {
    this.extensions = {};
    this.send([`EHLO ${this.o.helo}`]);
    const ehlo = await this.readReply('EHLO');
    if (replyClass(ehlo) === 2) {
      this.esmtp = true;
      this.extensions = parseEhloExtensions(ehlo);
      return;
    }
    if (replyClass(ehlo) !== 5 || ehlo.code === 554) throw replyError('EHLO', ehlo);
    this.send([`HELO ${this.o.helo}`]);
    const helo = await this.readReply('HELO');
    if (replyClass(helo) !== 2) throw replyError('HELO', helo);
    this.esmtp = false;
  }

  private async startTls(): Promise<void> {
    this.send(['STARTTLS']);
    const reply = await this.readReply('STARTTLS');
    if (reply.code !== 220) {
      const cls = replyClass(reply);
      if (cls === 4 || cls === 5) {
        throw new SessionError('STARTTLS_REFUSED', `STARTTLS refused: ${formatReply(reply)}`, reply);
      }
      throw replyError('STARTTLS', reply);
    }
    // RFC 3207 §5 (and CVE-2011-0411): whatever arrived after the 220 and before the handshake
    // completes is not from the TLS peer. Drop it, and stop reading plaintext right now.
    const plain = this.plain!;
    plain.removeListener('data', this.onData);
    const discarded = this.reader.discard() + plain.readableLength;
    if (discarded > 0) this.emit({ type: 'discarded', bytes: discarded });

    this.phase = 'handshake';
    const sni = this.o.servername?.replace(/\.$/, '');
    let secure: tls.TLSSocket;
    try {
      secure = tls.connect({
        socket: plain,
        ...(sni && net.isIP(sni) === 0 ? { servername: sni } : {}),
        // No local PKI, an empty trust store, TLS 1.0 and up: see served-chain.ts.
        ...DANE_TLS_CLIENT_OPTIONS,
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
    if (this.failure) secure.destroy();
    await this.wait('in the TLS handshake', () => (this.handshaken ? true : undefined));
    this.phase = 'smtp';

    const cipher = secure.getCipher();
    const served: ServedTls = servedTls(secure.getProtocol() ?? 'unknown', cipher?.standardName || cipher?.name || 'unknown', servedChain(secure));
    this.served = served;
    this.emit({ type: 'tls', served });

    // Nothing is written inside TLS before the caller accepts the served chain (RFC 7672 §3).
    let verdict: TlsCheck;
    try {
      verdict = this.o.checkTls ? this.o.checkTls(served) : { ok: true };
    } catch (e) {
      verdict = { ok: false, reason: `TLS check failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (!verdict.ok) {
      const err = new SessionError('AUTHENTICATION', verdict.reason);
      this.fail(err);
      throw err;
    }
    if (this.failure) throw this.failure;
    this.tlsAccepted = true;
    this.active = secure;
    secure.on('data', this.onData);
    // RFC 3207 §4.2: forget everything learnt before TLS and EHLO again
    await this.hello();
  }

  /** QUIT after the outcome is decided: its failure changes nothing (RFC 5321 §4.1.1.10). */
  private async quit(): Promise<void> {
    if (this.failure) return;
    try {
      this.send(['QUIT']);
      await this.readReply('QUIT');
    } catch {
      // ignored
    }
  }

  /**
   * A reply inside the transaction. RFC 5321 §3.8, §4.2.2: 421 means "closing transmission
   * channel", whatever command it answers: the session is over, nothing more is sent (not even
   * QUIT) and every recipient not yet decided is deferred with that reply.
   */
  private async txReply(step: string, ms = this.o.timeoutMs): Promise<SmtpReply> {
    const reply = await this.readReply(step, undefined, ms);
    if (reply.code === 421) {
      const err = replyError(step, reply);
      this.fail(err);
      throw err;
    }
    return reply;
  }

  private async transaction(env: SmtpEnvelope): Promise<SmtpSessionResult> {
    const recipients: Rcpt[] = env.to.map((address) => ({ address, command: '', reply: '' }));
    const settle = (status: RecipientStatus, reply: string, which = recipients) => {
      for (const r of which) {
        if (r.status === undefined) {
          r.status = status;
          r.reply = reply;
        }
      }
    };
    const final = (): RecipientResult[] =>
      recipients.map((r) => ({ address: r.address, status: r.status ?? 'deferred', reply: r.reply }));
    this.decided = final;

    const ext = this.extensions;
    const has = (k: string) => this.esmtp && Object.prototype.hasOwnProperty.call(ext, k);
    // CRLF line ends, long lines broken (message.ts): what is sent and what SIZE counts
    // and, for a server without 8BITMIME, 8-bit MIME parts as quoted-printable (RFC 6152 §3, as Postfix does)
    const { data: body, brokenLines, mime } = prepareMessage(env.message, { downgrade: needs8bit(env.message) && !has('8BITMIME') });
    // Without SMTPUTF8, an ASCII local part at an IDN domain goes out with the A-label
    // (RFC 5890 §2.3.2.1, as Postfix does); results keep the addresses as given.
    if (!has('SMTPUTF8')) env = { ...env, from: asciiDomainAddress(env.from), to: env.to.map(asciiDomainAddress) };

    // RFC 6531 §3.5: a message that needs SMTPUTF8 is not sent to a server that does not offer it.
    if (needsSmtputf8(env) && !has('SMTPUTF8')) {
      const addresses = !isAscii(env.from) || env.to.some((a) => !isAscii(a));
      const reason = addresses
        ? '553 5.6.7 non-ASCII address but the server does not offer SMTPUTF8 (RFC 6531)'
        : '554 5.6.9 UTF-8 header but the server does not offer SMTPUTF8 (RFC 6531)';
      settle('bounced', reason);
      await this.quit();
      return this.failed(new SessionError('SMTP_5XX', reason), final());
    }
    // RFC 1870 §6.1: do not send a message larger than the announced fixed limit.
    const limit = has('SIZE') ? sizeLimit(ext.SIZE) : undefined;
    if (limit !== undefined && body.length > limit) {
      const reason = `552 5.3.4 message size ${body.length} exceeds the server's SIZE limit ${limit} (RFC 1870)`;
      settle('bounced', reason);
      await this.quit();
      return this.failed(new SessionError('SMTP_5XX', reason), final());
    }

    let mail = `MAIL FROM:<${env.from}>`;
    if (has('SIZE')) mail += ` SIZE=${body.length}`; // RFC 1870 §6
    if (needs8bit(body) && has('8BITMIME')) mail += ' BODY=8BITMIME'; // RFC 6152 §3
    if (needsSmtputf8(env) && has('SMTPUTF8')) mail += ' SMTPUTF8'; // RFC 6531 §3.4
    env.to.forEach((a, i) => (recipients[i]!.command = `RCPT TO:<${a}>`));

    // RFC 5321 §4.5.2 dot-stuffing, CRLF line ends, CRLF.CRLF terminator; built once for every transaction.
    let payload: Buffer | undefined;
    const data = () => (payload ??= Buffer.concat([dotStuff(body), Buffer.from('.\r\n')]));
    const tx: Transaction = { mail, pipelining: has('PIPELINING'), data, brokenLines, ...(mime ? { mime } : {}) };

    // One transaction, then another on the same connection while recipients are left: those
    // refused as "too many recipients" (RFC 5321 §4.5.3.1.8 and §4.5.3.1.10, RFC 3463 X.5.3)
    // and those beyond the server's LIMITS RCPTMAX (RFC 9422). Each transaction must accept a
    // recipient for its "too many" ones to go on; a transaction's outcome never changes, and
    // each recipient keeps the status and reply of the last transaction it took part in.
    const rcptMaxLimit = has('LIMITS') ? rcptMax(ext.LIMITS) : undefined;
    let queue = recipients.slice();
    // The session's outcome: a refusal after the data is kept whatever follows; "no recipient
    // accepted" only stands when no transaction delivered.
    let refused: SessionError | undefined;
    let noneAccepted: SessionError | undefined;
    let delivered = false;
    for (let round = 1; ; round++) {
      const batch = rcptMaxLimit === undefined ? queue : queue.slice(0, rcptMaxLimit);
      const untried = queue.slice(batch.length);
      if (round > 1) {
        const reason = batch.some((r) => r.tooMany) ? 'too-many-recipients' : 'rcptmax';
        this.emit({ type: 'transaction', round, recipients: batch.length, reason });
      }
      for (const r of batch) {
        delete r.status;
        delete r.tooMany;
      }
      const end = await this.round(tx, batch);

      if (end.kind === 'broken') {
        // 421, timeout, lost connection or abort: this connection is over.
        const e = end.error;
        if (end.mailReply && !end.mailAccepted) {
          // MAIL was refused (pipelined replies cut short): its reply decides
          settle(replyClass(end.mailReply) === 5 ? 'bounced' : 'deferred', formatReply(end.mailReply));
          return this.failed(e.code === 'ABORTED' ? e : replyError('MAIL FROM', end.mailReply), final());
        }
        if (e.reply?.code === 421) {
          // RFC 5321 §3.8: the server is closing the channel; recipients it already refused keep their status
          settle('deferred', formatReply(e.reply));
          return this.failed(e, final());
        }
        // Before the first MAIL was accepted nothing is decided: this host failed (the caller tries the next).
        if (round === 1 && !end.mailAccepted && e.code !== 'ABORTED') return this.failed(e);
        settle('deferred', e.message);
        return this.failed(e, final());
      }
      if (end.kind === 'mail-refused') {
        // MAIL 4xx → all deferred, 5xx → all bounced (RFC 5321 §4.2.5)
        settle(replyClass(end.reply) === 5 ? 'bounced' : 'deferred', formatReply(end.reply));
        await this.quit();
        return this.failed(replyError('MAIL FROM', end.reply), final());
      }
      if (end.kind === 'data-refused') {
        // The transaction is refused as a whole; recipients not tried yet are not sent either.
        settle(replyClass(end.reply) === 5 ? 'bounced' : 'deferred', formatReply(end.reply), end.accepted);
        settle('deferred', formatReply(end.reply), untried);
        await this.quit();
        return this.failed(replyError('DATA', end.reply), final());
      }
      if (end.kind === 'final') {
        const cls = replyClass(end.reply);
        // Delivered only with a 2xx after the dot.
        settle(cls === 2 ? 'delivered' : cls === 5 ? 'bounced' : 'deferred', formatReply(end.reply), end.accepted);
        if (cls === 2) delivered = true;
        else refused = replyError('the end of data', end.reply);
      } else {
        noneAccepted ??= end.error;
      }
      // A transaction that accepted nobody ends the retries of its "too many" ones (the server's
      // limit is not what stopped them); recipients never tried still go on.
      const again = end.kind === 'final' ? batch.filter((r) => r.tooMany) : [];
      queue = [...again, ...untried];
      if (queue.length === 0 || this.failure) break;
      if (round >= MAX_TRANSACTIONS) {
        settle('deferred', `not sent: ${MAX_TRANSACTIONS} transactions on this connection already`, untried);
        break;
      }
      if (end.kind === 'none-accepted') {
        // The transaction is still open (MAIL was accepted): RSET before the next MAIL (RFC 5321 §4.1.1.5).
        try {
          this.send(['RSET']);
          const rset = await this.txReply('RSET');
          if (replyClass(rset) !== 2) {
            settle('deferred', formatReply(rset), untried);
            break;
          }
        } catch (e) {
          if (!(e instanceof SessionError)) throw e;
          settle('deferred', e.reply?.code === 421 ? formatReply(e.reply) : e.message, untried);
          return this.failed(e, final());
        }
      }
    }
    // Recipients left undecided here (the connection failed between transactions) are deferred by final().
    if (this.failure) settle('deferred', this.failure.message);
    await this.quit();
    const error = refused ?? (delivered ? undefined : noneAccepted);
    return error ? this.failed(error, final()) : { ...this.result('ok'), recipients: final() };
  }

  /**
   * One mail transaction for `batch` (MAIL, RCPTs, DATA, the data, the final reply), pipelined
   * when offered (RFC 2920 §3.1). RCPT refusals are recorded on the recipients; the caller
   * settles the others from how it ended. Never QUITs.
   */
  private async round(tx: Transaction, batch: Rcpt[]): Promise<RoundEnd> {
    let mailReply: SmtpReply | undefined;
    let mailAccepted = false;
    const accepted: Rcpt[] = [];
    let lastRefusal: SmtpReply | undefined;
    try {
      let dataReply: SmtpReply | undefined;
      if (tx.pipelining) {
        // RFC 2920 §3.1: MAIL, all RCPTs and DATA in one group, replies read in order.
        this.send([tx.mail, ...batch.map((r) => r.command), 'DATA']);
        mailReply = await this.txReply('MAIL FROM');
        mailAccepted = replyClass(mailReply) === 2;
        for (const r of batch) {
          const reply = await this.txReply('RCPT TO');
          if (mailAccepted) this.rcptStatus(r, reply, accepted);
          if (replyClass(reply) !== 2) lastRefusal = reply;
        }
        dataReply = await this.txReply('DATA');
      } else {
        this.send([tx.mail]);
        mailReply = await this.txReply('MAIL FROM');
        mailAccepted = replyClass(mailReply) === 2;
        if (mailAccepted) {
          for (const r of batch) {
            this.send([r.command]);
            const reply = await this.txReply('RCPT TO');
            this.rcptStatus(r, reply, accepted);
            if (replyClass(reply) !== 2) lastRefusal = reply;
          }
          if (accepted.length > 0) {
            this.send(['DATA']);
            dataReply = await this.txReply('DATA');
          }
        }
      }

      // A DATA accepted without a valid transaction (RFC 2920 §3.1): end it with an empty message.
      // The statuses are decided before this runs: its failures change nothing.
      const abandon = async () => {
        try {
          if (dataReply?.code === 354) {
            await this.write(Buffer.from('.\r\n'), 'ending an empty message');
            await this.readReply('the end of data');
          }
        } catch {
          // the session is failed: nothing more is sent
        }
      };

      if (!mailAccepted) {
        await abandon();
        return { kind: 'mail-refused', reply: mailReply };
      }
      if (accepted.length === 0) {
        await abandon();
        const error = lastRefusal
          ? replyError('RCPT TO (no recipient accepted)', lastRefusal)
          : new SessionError('PROTOCOL', 'no recipient accepted');
        return { kind: 'none-accepted', error };
      }
      if (!dataReply || dataReply.code !== 354) {
        await abandon();
        return { kind: 'data-refused', reply: dataReply ?? { code: 451, lines: ['no reply to DATA'] }, accepted };
      }

      if (tx.mime) this.emit({ type: 'mime-downgrade', parts: tx.mime.converted, ...(tx.mime.unconverted ? { unconverted: tx.mime.unconverted } : {}) });
      if (tx.brokenLines > 0) this.emit({ type: 'long-lines', lines: tx.brokenLines });
      const payload = tx.data();
      for (let off = 0; off < payload.length; off += DATA_CHUNK_BYTES) {
        await this.write(payload.subarray(off, off + DATA_CHUNK_BYTES), 'sending the message data');
      }
      // RFC 5321 §4.5.3.2.6: the server may take its time after the final dot (content
      // filters); giving up early would defer a message it may have accepted: duplicates.
      const done = await this.txReply('the end of data', this.o.finalReplyTimeoutMs ?? Math.max(this.o.timeoutMs, FINAL_REPLY_TIMEOUT_MS));
      return { kind: 'final', reply: done, accepted };
    } catch (e) {
      if (!(e instanceof SessionError)) throw e;
      return { kind: 'broken', error: e, mailReply, mailAccepted };
    }
  }

  /**
   * RCPT 2xx → accepted, 4xx → deferred, 5xx → bounced (RFC 5321 §4.2.5); anything else → deferred.
   * 552 is deferred: RFC 5321 §4.5.3.1.10, RFC 821 servers say 552 for "too many recipients" (452
   * today) and "Clients SHOULD treat a 552 code in this case as a temporary ... failure" (Postfix too).
   * A "too many recipients" refusal (isTooManyRecipients) is marked for another transaction.
   */
  private rcptStatus(r: Rcpt, reply: SmtpReply, accepted: Rcpt[]): void {
    const cls = replyClass(reply);
    if (cls === 2) {
      accepted.push(r);
      return;
    }
    r.status = cls === 5 && reply.code !== 552 ? 'bounced' : 'deferred';
    r.reply = formatReply(reply);
    if (isTooManyRecipients(reply)) r.tooMany = true;
  }
}
