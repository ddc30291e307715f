/**
 * The recipient ledger of an SMTP session (src/smtp/ledger.ts), pure: RCPT replies,
 * MAIL / DATA refusals, the final reply, and the rounds for "too many recipients" and
 * LIMITS RCPTMAX (RFC 5321 §4.2.5, §4.5.3.1.10; RFC 9422), without a socket.
 */
import { describe, expect, it } from 'vitest';
import { MAX_TRANSACTIONS, RecipientLedger, type LedgerRecipient } from '../../../src/smtp/ledger.js';
import type { SmtpReply } from '../../../src/smtp/types.js';

const reply = (code: number, text = 'x'): SmtpReply => ({ code, lines: [text] });
const ledgerOf = (...to: string[]) => {
  const l = new RecipientLedger<string>(to);
  l.setCommands(to);
  return l;
};
const statuses = (l: RecipientLedger<string>) => l.final().map((r) => `${r.address}:${r.status}`);

describe('RCPT replies', () => {
  it('2xx accepted, 4xx deferred, 5xx bounced, 552 deferred (RFC 5321 §4.5.3.1.10)', () => {
    const l = ledgerOf('a@x', 'b@x', 'c@x', 'd@x');
    const { batch } = l.nextRound(undefined);
    const accepted: LedgerRecipient[] = [];
    l.rcptReply(batch[0]!, reply(250), accepted);
    l.rcptReply(batch[1]!, reply(450, '4.2.1 busy'), accepted);
    l.rcptReply(batch[2]!, reply(550, '5.1.1 no such user'), accepted);
    l.rcptReply(batch[3]!, reply(552, '5.3.4 too big'), accepted);
    expect(accepted.map((r) => r.address)).toEqual(['a@x']);
    expect(statuses(l)).toEqual(['a@x:deferred', 'b@x:deferred', 'c@x:bounced', 'd@x:deferred']);
    expect(l.recipients.map((r) => r.command)).toEqual(['RCPT TO:<a@x>', 'RCPT TO:<b@x>', 'RCPT TO:<c@x>', 'RCPT TO:<d@x>']);
  });

  it('a decided recipient keeps its status: settle only decides the undecided', () => {
    const l = ledgerOf('a@x', 'b@x');
    const { batch } = l.nextRound(undefined);
    l.rcptReply(batch[1]!, reply(550), []);
    l.settle('deferred', 'later');
    expect(statuses(l)).toEqual(['a@x:deferred', 'b@x:bounced']);
    expect(l.final()[0]!.reply).toBe('later');
  });
});

describe('MAIL, DATA and the final reply', () => {
  it('MAIL 5xx bounces everyone, 4xx defers', () => {
    const a = ledgerOf('a@x');
    a.mailRefused(reply(550));
    expect(statuses(a)).toEqual(['a@x:bounced']);
    const b = ledgerOf('a@x');
    b.mailRefused(reply(451));
    expect(statuses(b)).toEqual(['a@x:deferred']);
  });

  it('DATA refused: the accepted per its class, the untried deferred', () => {
    const l = ledgerOf('a@x', 'b@x', 'c@x');
    const { batch, untried } = l.nextRound(2);
    l.dataRefused(reply(554), batch, untried);
    expect(statuses(l)).toEqual(['a@x:bounced', 'b@x:bounced', 'c@x:deferred']);
  });

  it('delivered only with a 2xx after the dot; a refusal after the data is the error', () => {
    const ok = ledgerOf('a@x');
    ok.finalReply(reply(250), ok.nextRound(undefined).batch, () => 'refused');
    expect(statuses(ok)).toEqual(['a@x:delivered']);
    expect(ok.error()).toBeUndefined();
    const no = ledgerOf('a@x');
    no.finalReply(reply(451), no.nextRound(undefined).batch, (r) => `refused ${r.code}`);
    expect(statuses(no)).toEqual(['a@x:deferred']);
    expect(no.error()).toBe('refused 451');
  });

  it('"no recipient accepted" stands only when no transaction delivered', () => {
    const l = ledgerOf('a@x', 'b@x');
    const r1 = l.nextRound(1);
    l.finalReply(reply(250), r1.batch, () => 'refused');
    expect(l.advance(true, r1, false)).toBe(true);
    const r2 = l.nextRound(1);
    l.rcptReply(r2.batch[0]!, reply(550), []);
    l.noneAccepted('none accepted');
    expect(l.advance(false, r2, false)).toBe(false);
    expect(l.error()).toBeUndefined();
    expect(statuses(l)).toEqual(['a@x:delivered', 'b@x:bounced']);
  });
});

describe('rounds', () => {
  it('RCPTMAX batches: the rest go in the next transaction, reason rcptmax', () => {
    const l = ledgerOf('a@x', 'b@x', 'c@x');
    const r1 = l.nextRound(2);
    expect([r1.round, r1.batch.length, r1.untried.length, r1.reason]).toEqual([1, 2, 1, undefined]);
    l.finalReply(reply(250), r1.batch, () => 'refused');
    expect(l.advance(true, r1, false)).toBe(true);
    const r2 = l.nextRound(2);
    expect([r2.round, r2.batch.map((r) => r.address), r2.reason]).toEqual([2, ['c@x'], 'rcptmax']);
  });

  it('"too many recipients" go again after a transaction that accepted someone, and start undecided', () => {
    const l = ledgerOf('a@x', 'b@x');
    const r1 = l.nextRound(undefined);
    const accepted: LedgerRecipient[] = [];
    l.rcptReply(r1.batch[0]!, reply(250), accepted);
    l.rcptReply(r1.batch[1]!, reply(452, '4.5.3 Too many recipients'), accepted);
    l.finalReply(reply(250), accepted, () => 'refused');
    expect(l.advance(true, r1, false)).toBe(true);
    const r2 = l.nextRound(undefined);
    expect([r2.batch.map((r) => r.address), r2.reason]).toEqual([['b@x'], 'too-many-recipients']);
    expect(r2.batch[0]!.status).toBeUndefined();
  });

  it('a transaction that accepted nobody ends the retries of its "too many" ones', () => {
    const l = ledgerOf('a@x');
    const r1 = l.nextRound(undefined);
    l.rcptReply(r1.batch[0]!, reply(452, '4.5.3 Too many recipients'), []);
    l.noneAccepted('none');
    expect(l.advance(false, r1, false)).toBe(false);
    expect(statuses(l)).toEqual(['a@x:deferred']);
  });

  it('no further round once the connection is over', () => {
    const l = ledgerOf('a@x', 'b@x');
    const r1 = l.nextRound(1);
    l.finalReply(reply(250), r1.batch, () => 'refused');
    expect(l.advance(true, r1, true)).toBe(false);
  });

  it(`at most ${MAX_TRANSACTIONS} transactions: the recipients never tried are deferred`, () => {
    const to = Array.from({ length: MAX_TRANSACTIONS + 2 }, (_v, i) => `r${i}@x`);
    const l = ledgerOf(...to);
    let more = true;
    let rounds = 0;
    while (more) {
      const r = l.nextRound(1);
      rounds++;
      l.finalReply(reply(250), r.batch, () => 'refused');
      more = l.advance(true, r, false);
    }
    expect(rounds).toBe(MAX_TRANSACTIONS);
    const f = l.final();
    expect(f.filter((r) => r.status === 'delivered')).toHaveLength(MAX_TRANSACTIONS);
    expect(f.slice(MAX_TRANSACTIONS).map((r) => r.reply)).toEqual([`not sent: ${MAX_TRANSACTIONS} transactions on this connection already`, `not sent: ${MAX_TRANSACTIONS} transactions on this connection already`]);
  });
});
