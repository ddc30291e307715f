/**
 * The recipient ledger of one SMTP session (RFC 5321): every envelope recipient's status and
 * reply, decided by the replies of one transaction or more on the same connection. Pure: the
 * session (session.ts) reads replies and tells the ledger what they were.
 *
 * - RCPT 2xx → accepted, 4xx → deferred, 5xx → bounced (RFC 5321 §4.2.5); 552 is deferred
 *   (§4.5.3.1.10: RFC 821 servers say 552 for "too many recipients"), and a "too many
 *   recipients" refusal (RFC 3463 X.5.3) is marked for another transaction.
 * - Delivered only with a 2xx after the final dot; MAIL or DATA refused: 5xx bounced, else
 *   deferred; 421 or a broken connection: whatever is undecided is deferred.
 * - Rounds: recipients refused as "too many" and those beyond LIMITS RCPTMAX (RFC 9422) go
 *   in the next transaction, at most MAX_TRANSACTIONS; a transaction that accepted nobody
 *   ends the retries of its "too many" ones; each recipient keeps the status and reply of
 *   the last transaction it took part in. The session's error: a refusal after the data
 *   stands whatever follows; "no recipient accepted" only when no transaction delivered.
 */
import { formatReply, isTooManyRecipients, replyClass } from './reply.js';
import type { RecipientResult, RecipientStatus, SmtpReply } from './types.js';

/**
 * Most transactions for one message on one connection: 50 × the 100 recipients RFC 5321
 * §4.5.3.1.8 requires a server to take. Whatever is left after that is deferred.
 */
export const MAX_TRANSACTIONS = 50;

/** An envelope recipient during a send: its RCPT command, and its status once decided. */
export interface LedgerRecipient {
  address: string;
  command: string;
  status?: RecipientStatus;
  reply: string;
  /** The code of the server's reply that decided the status; absent when dane-smtp decided. */
  replyCode?: number;
  tooMany?: boolean;
}

/** One transaction's recipients: those in it, those left for later, and why it is not the first. */
export interface Round {
  round: number;
  batch: LedgerRecipient[];
  untried: LedgerRecipient[];
  /** Set from the second transaction on. */
  reason?: 'too-many-recipients' | 'rcptmax';
}

/** `E`: the session's error type (the ledger only keeps the one that stands). */
export class RecipientLedger<E> {
  readonly recipients: LedgerRecipient[];
  #queue: LedgerRecipient[];
  #round = 0;
  #refused: E | undefined;
  #noneAccepted: E | undefined;
  #delivered = false;

  constructor(addresses: readonly string[]) {
    this.recipients = addresses.map((address) => ({ address, command: '', reply: '' }));
    this.#queue = this.recipients.slice();
  }

  /** The RCPT TO addresses as sent (e.g. with A-labels), in envelope order. */
  setCommands(to: readonly string[]): void {
    to.forEach((a, i) => (this.recipients[i]!.command = `RCPT TO:<${a}>`));
  }

  /** Decides every recipient of `which` not decided yet: by the server's reply, or by a local reason (a string). */
  settle(status: RecipientStatus, reply: SmtpReply | string, which: readonly LedgerRecipient[] = this.recipients): void {
    for (const r of which) {
      if (r.status === undefined) {
        r.status = status;
        if (typeof reply === 'string') {
          r.reply = reply;
          delete r.replyCode;
        } else {
          r.reply = formatReply(reply);
          r.replyCode = reply.code;
        }
      }
    }
  }

  /** The statuses so far: the undecided are deferred. */
  final(): RecipientResult[] {
    return this.recipients.map((r) => (r.replyCode !== undefined && r.status !== undefined ? { address: r.address, status: r.status, reply: r.reply, replyCode: r.replyCode } : { address: r.address, status: r.status ?? 'deferred', reply: r.reply }));
  }

  /** The next transaction's recipients (at most `rcptMax`); their earlier statuses are forgotten. */
  nextRound(rcptMax: number | undefined): Round {
    const round = ++this.#round;
    const batch = rcptMax === undefined ? this.#queue : this.#queue.slice(0, rcptMax);
    const untried = this.#queue.slice(batch.length);
    const reason = round > 1 ? (batch.some((r) => r.tooMany) ? 'too-many-recipients' : 'rcptmax') : undefined;
    for (const r of batch) {
      delete r.status;
      delete r.replyCode;
      delete r.tooMany;
    }
    return { round, batch, untried, ...(reason ? { reason } : {}) };
  }

  /** The reply to one RCPT: accepted recipients go in `accepted`. */
  rcptReply(r: LedgerRecipient, reply: SmtpReply, accepted: LedgerRecipient[]): void {
    const cls = replyClass(reply);
    if (cls === 2) {
      accepted.push(r);
      return;
    }
    r.status = cls === 5 && reply.code !== 552 ? 'bounced' : 'deferred';
    r.reply = formatReply(reply);
    r.replyCode = reply.code;
    if (isTooManyRecipients(reply)) r.tooMany = true;
  }

  /** MAIL refused (RFC 5321 §4.2.5): 5xx bounces, else defers, everyone undecided. */
  mailRefused(reply: SmtpReply): void {
    this.settle(replyClass(reply) === 5 ? 'bounced' : 'deferred', reply);
  }

  /** DATA refused: the transaction as a whole; recipients not tried yet are not sent either. */
  dataRefused(reply: SmtpReply, accepted: readonly LedgerRecipient[], untried: readonly LedgerRecipient[]): void {
    this.settle(replyClass(reply) === 5 ? 'bounced' : 'deferred', reply, accepted);
    this.settle('deferred', reply, untried);
  }

  /** The final reply to the data; `refusal` makes the session's error of a refused one. */
  finalReply(reply: SmtpReply, accepted: readonly LedgerRecipient[], refusal: (reply: SmtpReply) => E): void {
    const cls = replyClass(reply);
    this.settle(cls === 2 ? 'delivered' : cls === 5 ? 'bounced' : 'deferred', reply, accepted);
    if (cls === 2) this.#delivered = true;
    else this.#refused = refusal(reply);
  }

  /** MAIL accepted, every RCPT refused. */
  noneAccepted(error: E): void {
    this.#noneAccepted ??= error;
  }

  /**
   * After a transaction that ended with a final reply (`final`) or with no recipient
   * accepted: whether another one follows. Not when nobody is left or the connection is
   * over; past MAX_TRANSACTIONS the recipients never tried are deferred.
   */
  advance(final: boolean, round: Round, connectionOver: boolean): boolean {
    const again = final ? round.batch.filter((r) => r.tooMany) : [];
    this.#queue = [...again, ...round.untried];
    if (this.#queue.length === 0 || connectionOver) return false;
    if (round.round >= MAX_TRANSACTIONS) {
      this.settle('deferred', `not sent: ${MAX_TRANSACTIONS} transactions on this connection already`, round.untried);
      return false;
    }
    return true;
  }

  /** The session's error once every transaction is over, if any. */
  error(): E | undefined {
    return this.#refused ?? (this.#delivered ? undefined : this.#noneAccepted);
  }
}
