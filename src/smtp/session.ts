/**
 * One ESMTP client session (RFC 5321) with STARTTLS (RFC 3207) for DANE SMTP (RFC 7672):
 * the protocol steps. The sockets and deadlines are connection.ts (every read size-bounded,
 * every step with its own deadline that incoming data never extends, every exit path
 * destroying the sockets); who is delivered, deferred or bounced after which reply is the
 * recipient ledger, ledger.ts. Network and protocol problems are results,
 * never exceptions; only bad arguments reject (DaneSmtpError USAGE).
 */
import * as net from 'node:net';
import { DaneSmtpError } from '../errors.js';
import { RecipientLedger, type LedgerRecipient } from './ledger.js';
import { asciiDomainAddress, dotStuff, isAscii, isValidHeloName, isValidMailbox, needs8bit, needsSmtputf8, prepareMessage } from './message.js';
import { formatReply, parseEhloExtensions, rcptMax, replyClass, sizeLimit } from './reply.js';
import { SmtpConnection } from './connection.js';
import { SessionError, replyError } from './session-error.js';
import type { Job, RecipientResult, ServedTls, SmtpEnvelope, SmtpReply, SmtpSessionOptions, SmtpSessionResult, TlsCheck } from './types.js';

/** RFC 5321 §4.5.3.2.6: "DATA Termination: 10 minutes". */
const FINAL_REPLY_TIMEOUT_MS = 10 * 60_000;
/** Message data is written in chunks, each with its own deadline (a stalled reader cannot hang us). */
const DATA_CHUNK_BYTES = 64 * 1024;

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
  | { kind: 'final'; reply: SmtpReply; accepted: LedgerRecipient[] }
  | { kind: 'mail-refused'; reply: SmtpReply }
  /** MAIL accepted, every RCPT refused: the transaction is still open. */
  | { kind: 'none-accepted'; error: SessionError }
  | { kind: 'data-refused'; reply: SmtpReply; accepted: LedgerRecipient[] }
  /** 421, timeout, lost connection, abort: the connection is over. */
  | { kind: 'broken'; error: SessionError; mailReply: SmtpReply | undefined; mailAccepted: boolean };

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
  private readonly conn: SmtpConnection;
  private esmtp = false;
  private tlsAccepted = false;
  private served: ServedTls | undefined;
  /** The recipients' statuses so far, once a transaction has begun. */
  private decided: (() => RecipientResult[]) | undefined;
  private ledger: RecipientLedger<SessionError> | undefined;
  private extensions: Record<string, string> = {};

  constructor(private readonly o: SmtpSessionOptions) {
    this.conn = new SmtpConnection(o);
  }

  dispose(): void {
    this.conn.dispose();
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
    if (this.conn.phase === 'handshake') r.inHandshake = true;
    if (recipients) r.recipients = recipients;
    return r;
  }

  async run(job: Job): Promise<SmtpSessionResult> {
    const signal = this.o.signal;
    if (signal?.aborted) return this.failed(new SessionError('ABORTED', 'aborted by the caller'));
    this.conn.watchAbort();
    try {
      await this.conn.connect();
      const greeting = await this.conn.readReply('the greeting', 'waiting for the greeting');
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
      this.conn.fail(new SessionError('INTERNAL', `internal error: ${e instanceof Error ? e.message : String(e)}`));
      return this.failed(this.conn.failure!, decided);
    }
  }

  /**
   * EHLO, or HELO when EHLO gets a 5xx (RFC 5321 §3.2, §4.1.4: 500/501/502/504/550 for an EHLO the
   * server does not accept). Not on a 4xx (421: the channel is closing) nor on 554, which refuses
   * the session itself ("no SMTP service here", §3.1, §4.3.2): HELO would fare no better.
   */
  private async hello(): Promise<void> {
    this.extensions = {};
    this.conn.send([`EHLO ${this.o.helo}`]);
    const ehlo = await this.conn.readReply('EHLO');
    if (replyClass(ehlo) === 2) {
      this.esmtp = true;
      this.extensions = parseEhloExtensions(ehlo);
      return;
    }
    if (replyClass(ehlo) !== 5 || ehlo.code === 554) throw replyError('EHLO', ehlo);
    this.conn.send([`HELO ${this.o.helo}`]);
    const helo = await this.conn.readReply('HELO');
    if (replyClass(helo) !== 2) throw replyError('HELO', helo);
    this.esmtp = false;
  }

  private async startTls(): Promise<void> {
    this.conn.send(['STARTTLS']);
    const reply = await this.conn.readReply('STARTTLS');
    if (reply.code !== 220) {
      const cls = replyClass(reply);
      if (cls === 4 || cls === 5) {
        throw new SessionError('STARTTLS_REFUSED', `STARTTLS refused: ${formatReply(reply)}`, reply);
      }
      throw replyError('STARTTLS', reply);
    }
    const served = await this.conn.handshake();
    this.served = served;
    this.conn.emit({ type: 'tls', served });

    // Nothing is written inside TLS before the caller accepts the served chain (RFC 7672 §3).
    let verdict: TlsCheck;
    try {
      verdict = this.o.checkTls ? this.o.checkTls(served) : { ok: true };
    } catch (e) {
      verdict = { ok: false, reason: `TLS check failed: ${e instanceof Error ? e.message : String(e)}` };
    }
    if (!verdict.ok) {
      const err = new SessionError('AUTHENTICATION', verdict.reason);
      this.conn.fail(err);
      throw err;
    }
    if (this.conn.failure) throw this.conn.failure;
    this.tlsAccepted = true;
    this.conn.useTls();
    // RFC 3207 §4.2: forget everything learnt before TLS and EHLO again
    await this.hello();
  }

  /** QUIT after the outcome is decided: its failure changes nothing (RFC 5321 §4.1.1.10). */
  private async quit(): Promise<void> {
    if (this.conn.failure) return;
    try {
      this.conn.send(['QUIT']);
      await this.conn.readReply('QUIT');
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
    const reply = await this.conn.readReply(step, undefined, ms);
    if (reply.code === 421) {
      const err = replyError(step, reply);
      this.conn.fail(err);
      throw err;
    }
    return reply;
  }

  private async transaction(env: SmtpEnvelope): Promise<SmtpSessionResult> {
    const ledger = new RecipientLedger<SessionError>(env.to);
    this.ledger = ledger;
    const final = () => ledger.final();
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
      ledger.settle('bounced', reason);
      await this.quit();
      return this.failed(new SessionError('SMTP_5XX', reason), final());
    }
    // RFC 1870 §6.1: do not send a message larger than the announced fixed limit.
    const limit = has('SIZE') ? sizeLimit(ext.SIZE) : undefined;
    if (limit !== undefined && body.length > limit) {
      const reason = `552 5.3.4 message size ${body.length} exceeds the server's SIZE limit ${limit} (RFC 1870)`;
      ledger.settle('bounced', reason);
      await this.quit();
      return this.failed(new SessionError('SMTP_5XX', reason), final());
    }

    let mail = `MAIL FROM:<${env.from}>`;
    if (has('SIZE')) mail += ` SIZE=${body.length}`; // RFC 1870 §6
    if (needs8bit(body) && has('8BITMIME')) mail += ' BODY=8BITMIME'; // RFC 6152 §3
    if (needsSmtputf8(env) && has('SMTPUTF8')) mail += ' SMTPUTF8'; // RFC 6531 §3.4
    ledger.setCommands(env.to);

    // RFC 5321 §4.5.2 dot-stuffing, CRLF line ends, CRLF.CRLF terminator; built once for every transaction.
    let payload: Buffer | undefined;
    const data = () => (payload ??= Buffer.concat([dotStuff(body), Buffer.from('.\r\n')]));
    const tx: Transaction = { mail, pipelining: has('PIPELINING'), data, brokenLines, ...(mime ? { mime } : {}) };

    // One transaction, then another on the same connection while recipients are left (the
    // ledger, src/smtp/ledger.ts, says who goes in each and what each reply decides).
    const rcptMaxLimit = has('LIMITS') ? rcptMax(ext.LIMITS) : undefined;
    for (;;) {
      const round = ledger.nextRound(rcptMaxLimit);
      const { batch, untried } = round;
      if (round.reason) this.conn.emit({ type: 'transaction', round: round.round, recipients: batch.length, reason: round.reason });
      const end = await this.round(tx, batch);

      if (end.kind === 'broken') {
        // 421, timeout, lost connection or abort: this connection is over.
        const e = end.error;
        if (end.mailReply && !end.mailAccepted) {
          // MAIL was refused (pipelined replies cut short): its reply decides
          ledger.mailRefused(end.mailReply);
          return this.failed(e.code === 'ABORTED' ? e : replyError('MAIL FROM', end.mailReply), final());
        }
        if (e.reply?.code === 421) {
          // RFC 5321 §3.8: the server is closing the channel; recipients it already refused keep their status
          ledger.settle('deferred', e.reply);
          return this.failed(e, final());
        }
        // Before the first MAIL was accepted nothing is decided: this host failed (the caller tries the next).
        if (round.round === 1 && !end.mailAccepted && e.code !== 'ABORTED') return this.failed(e);
        ledger.settle('deferred', e.message);
        return this.failed(e, final());
      }
      if (end.kind === 'mail-refused') {
        // MAIL 4xx → all deferred, 5xx → all bounced (RFC 5321 §4.2.5)
        ledger.mailRefused(end.reply);
        await this.quit();
        return this.failed(replyError('MAIL FROM', end.reply), final());
      }
      if (end.kind === 'data-refused') {
        ledger.dataRefused(end.reply, end.accepted, untried);
        await this.quit();
        return this.failed(replyError('DATA', end.reply), final());
      }
      if (end.kind === 'final') ledger.finalReply(end.reply, end.accepted, (reply) => replyError('the end of data', reply));
      else ledger.noneAccepted(end.error);
      if (!ledger.advance(end.kind === 'final', round, this.conn.failure !== undefined)) break;
      if (end.kind === 'none-accepted') {
        // The transaction is still open (MAIL was accepted): RSET before the next MAIL (RFC 5321 §4.1.1.5).
        try {
          this.conn.send(['RSET']);
          const rset = await this.txReply('RSET');
          if (replyClass(rset) !== 2) {
            ledger.settle('deferred', rset, untried);
            break;
          }
        } catch (e) {
          if (!(e instanceof SessionError)) throw e;
          ledger.settle('deferred', e.reply?.code === 421 ? e.reply : e.message, untried);
          return this.failed(e, final());
        }
      }
    }
    // Recipients left undecided here (the connection failed between transactions) are deferred by final().
    if (this.conn.failure) ledger.settle('deferred', this.conn.failure.message);
    await this.quit();
    const error = ledger.error();
    return error ? this.failed(error, final()) : { ...this.result('ok'), recipients: final() };
  }

  /**
   * One mail transaction for `batch` (MAIL, RCPTs, DATA, the data, the final reply), pipelined
   * when offered (RFC 2920 §3.1). RCPT refusals are recorded on the recipients; the caller
   * settles the others from how it ended. Never QUITs.
   */
  private async round(tx: Transaction, batch: LedgerRecipient[]): Promise<RoundEnd> {
    let mailReply: SmtpReply | undefined;
    let mailAccepted = false;
    const accepted: LedgerRecipient[] = [];
    let lastRefusal: SmtpReply | undefined;
    try {
      let dataReply: SmtpReply | undefined;
      if (tx.pipelining) {
        // RFC 2920 §3.1: MAIL, all RCPTs and DATA in one group, replies read in order.
        this.conn.send([tx.mail, ...batch.map((r) => r.command), 'DATA']);
        mailReply = await this.txReply('MAIL FROM');
        mailAccepted = replyClass(mailReply) === 2;
        for (const r of batch) {
          const reply = await this.txReply('RCPT TO');
          if (mailAccepted) this.ledger!.rcptReply(r, reply, accepted);
          if (replyClass(reply) !== 2) lastRefusal = reply;
        }
        dataReply = await this.txReply('DATA');
      } else {
        this.conn.send([tx.mail]);
        mailReply = await this.txReply('MAIL FROM');
        mailAccepted = replyClass(mailReply) === 2;
        if (mailAccepted) {
          for (const r of batch) {
            this.conn.send([r.command]);
            const reply = await this.txReply('RCPT TO');
            this.ledger!.rcptReply(r, reply, accepted);
            if (replyClass(reply) !== 2) lastRefusal = reply;
          }
          if (accepted.length > 0) {
            this.conn.send(['DATA']);
            dataReply = await this.txReply('DATA');
          }
        }
      }

      // A DATA accepted without a valid transaction (RFC 2920 §3.1): end it with an empty message.
      // The statuses are decided before this runs: its failures change nothing.
      const abandon = async () => {
        try {
          if (dataReply?.code === 354) {
            await this.conn.write(Buffer.from('.\r\n'), 'ending an empty message');
            await this.conn.readReply('the end of data');
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

      if (tx.mime) this.conn.emit({ type: 'mime-downgrade', parts: tx.mime.converted, ...(tx.mime.unconverted ? { unconverted: tx.mime.unconverted } : {}) });
      if (tx.brokenLines > 0) this.conn.emit({ type: 'long-lines', lines: tx.brokenLines });
      const payload = tx.data();
      for (let off = 0; off < payload.length; off += DATA_CHUNK_BYTES) {
        await this.conn.write(payload.subarray(off, off + DATA_CHUNK_BYTES), 'sending the message data');
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
}
