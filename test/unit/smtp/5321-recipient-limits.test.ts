/**
 * RFC 5321 §4.5.3.1.10 (too many recipients: another transaction on the same connection) and
 * RFC 9422 LIMITS RCPTMAX (at most that many RCPTs per transaction).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SmtpEvent } from '../../../src/smtp/types.js';
import { script } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail, commands, SeenTx, transactionsServer, limited, FIVE } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 5321 §4.5.3.1.10: too many recipients → another transaction on the same connection', () => {
  it.each([
    ['without PIPELINING', [], '452 4.5.3 Too many recipients'],
    ['with PIPELINING', ['PIPELINING'], '452 4.5.3 Too many recipients'],
    ['452 without an enhanced status code', ['ENHANCEDSTATUSCODES'], '452 Too many recipients'],
    ['552 (RFC 821) without PIPELINING', [], '552 too many recipients'],
    ['552 5.5.3 with PIPELINING', ['PIPELINING'], '552 5.5.3 Too many recipients'],
  ])('limit 2 per transaction, 5 recipients, %s: 3 transactions, every recipient delivered once', async (_name, extensions, refusal) => {
    const txs: SeenTx[] = [];
    const server = await serve(transactionsServer(['SIZE 100000', ...extensions], txs, limited(2, refusal)));
    const events: SmtpEvent[] = [];
    const message = 'Subject: t\r\n\r\nhello\r\n';
    const result = await run(server, { onEvent: (e) => events.push(e) }, send(FIVE, message));
    expect(server.errors).toEqual([]);
    expect(server.connections).toHaveLength(1);
    expect(txs.map((t) => t.rcpts)).toEqual([FIVE, FIVE.slice(2), FIVE.slice(4)]);
    expect(txs.map((t) => t.accepted)).toEqual([FIVE.slice(0, 2), FIVE.slice(2, 4), FIVE.slice(4)]);
    // the same MAIL FROM (same parameters) and the same message each time
    expect(new Set(txs.map((t) => t.mail))).toEqual(new Set([`MAIL FROM:<sender@example.test> SIZE=${message.length}`]));
    expect(txs.map((t) => t.data)).toEqual([['Subject: t', '', 'hello'], ['Subject: t', '', 'hello'], ['Subject: t', '', 'hello']]);
    expect(result.outcome).toBe('ok');
    expect(result.recipients?.map((r) => [r.address, r.status, r.reply])).toEqual([
      ['a@example.test', 'delivered', '250 2.0.0 queued as T1'],
      ['b@example.test', 'delivered', '250 2.0.0 queued as T1'],
      ['c@example.test', 'delivered', '250 2.0.0 queued as T2'],
      ['d@example.test', 'delivered', '250 2.0.0 queued as T2'],
      ['e@example.test', 'delivered', '250 2.0.0 queued as T3'],
    ]);
    expect(events.filter((e) => e.type === 'transaction')).toEqual([
      { type: 'transaction', round: 2, recipients: 3, reason: 'too-many-recipients' },
      { type: 'transaction', round: 3, recipients: 1, reason: 'too-many-recipients' },
    ]);
    expect(commands(server.connections[0]!).filter((l) => l === 'RSET')).toEqual([]);
  });

  it.each([
    ['452 4.2.2 Mailbox full', 'deferred'],
    ['452 4.3.1 Insufficient system storage', 'deferred'],
    ['552 5.2.2 Mailbox full', 'deferred'],
    ['550 5.5.3 Too many recipients (site policy)', 'bounced'],
    ['451 4.5.3 Too many recipients', 'deferred'],
  ])('%s is not "too many recipients": one transaction, the refusal stands', async (refusal, status) => {
    for (const extensions of [[], ['PIPELINING']]) {
      const txs: SeenTx[] = [];
      const server = await serve(transactionsServer(extensions, txs, (a) => (a.startsWith('c@') ? refusal : '250 ok')));
      const result = await run(server, {}, send(FIVE.slice(0, 3)));
      expect(server.errors).toEqual([]);
      expect(txs).toHaveLength(1);
      expect(result.outcome).toBe('ok');
      expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
        ['delivered', '250 2.0.0 queued as T1'],
        ['delivered', '250 2.0.0 queued as T1'],
        [status, refusal],
      ]);
    }
  });

  it.each([[[]], [['PIPELINING']]])('a transaction that accepts no recipient ends the retries (extensions %j)', async (extensions) => {
    const txs: SeenTx[] = [];
    const server = await serve(transactionsServer(extensions, txs, (_a, n, tx) => (tx === 1 && n < 2 ? '250 ok' : '452 4.5.3 Still too many')));
    const result = await run(server, {}, send(FIVE));
    expect(server.errors).toEqual([]);
    expect(server.connections).toHaveLength(1);
    expect(txs.map((t) => t.rcpts)).toEqual([FIVE, FIVE.slice(2)]);
    expect(txs[1]!.data).toBeUndefined();
    expect(result.outcome).toBe('ok');
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['delivered', '250 2.0.0 queued as T1'],
      ['delivered', '250 2.0.0 queued as T1'],
      ['deferred', '452 4.5.3 Still too many'],
      ['deferred', '452 4.5.3 Still too many'],
      ['deferred', '452 4.5.3 Still too many'],
    ]);
    expect(commands(server.connections[0]!).at(-1)).toBe('QUIT');
  });

  it('a 5xx after the data of the second transaction bounces only its recipients; the first stays delivered, the third goes on', async () => {
    const txs: SeenTx[] = [];
    const server = await serve(transactionsServer(['PIPELINING'], txs, limited(2), (tx) => (tx === 2 ? '554 5.7.1 content rejected' : `250 2.0.0 queued as T${tx}`)));
    const result = await run(server, {}, send(FIVE));
    expect(server.errors).toEqual([]);
    expect(txs).toHaveLength(3);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_5XX' } });
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['delivered', '250 2.0.0 queued as T1'],
      ['delivered', '250 2.0.0 queued as T1'],
      ['bounced', '554 5.7.1 content rejected'],
      ['bounced', '554 5.7.1 content rejected'],
      ['delivered', '250 2.0.0 queued as T3'],
    ]);
  });

  it('a 421 after the data of the second transaction defers its recipients; one it refused keeps its 452; nothing more is sent', async () => {
    const txs: SeenTx[] = [];
    const server = await serve(transactionsServer([], txs, limited(2), (tx) => (tx === 2 ? '421 4.3.0 shutting down' : `250 2.0.0 queued as T${tx}`)));
    const result = await run(server, {}, send(FIVE));
    expect(server.errors).toEqual([]);
    expect(txs).toHaveLength(2);
    expect(commands(server.connections[0]!)).not.toContain('QUIT');
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_4XX' } });
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['delivered', '250 2.0.0 queued as T1'],
      ['delivered', '250 2.0.0 queued as T1'],
      ['deferred', '421 4.3.0 shutting down'],
      ['deferred', '421 4.3.0 shutting down'],
      ['deferred', '452 4.5.3 Too many recipients'],
    ]);
  });

  it('a 421 to the second MAIL defers the rest; the first transaction stays delivered', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT TO:<a@/, '250 ok'], [/^RCPT TO:<b@/, '452 4.5.3 Too many recipients'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 2.0.0 queued as T1', [/^MAIL/, '421 4.7.0 try later']])(c);
    });
    const result = await run(server, {}, send(FIVE.slice(0, 2)));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_4XX' } });
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['delivered', '250 2.0.0 queued as T1'],
      ['deferred', '421 4.7.0 try later'],
    ]);
  });
});

describe('RFC 9422 LIMITS RCPTMAX: at most that many RCPTs per transaction', () => {
  it.each([
    ['without PIPELINING', ['LIMITS RCPTMAX=2']],
    ['with PIPELINING', ['PIPELINING', 'LIMITS MAILMAX=10 RCPTMAX=2 RCPTDOMAINMAX']],
    ['lower-case limit name', ['limits rcptmax=2']],
  ])('%s: 5 recipients in 3 transactions, without any 452', async (_name, extensions) => {
    const txs: SeenTx[] = [];
    const events: SmtpEvent[] = [];
    const server = await serve(transactionsServer(extensions, txs, () => '250 2.1.5 ok'));
    const result = await run(server, { onEvent: (e) => events.push(e) }, send(FIVE));
    expect(server.errors).toEqual([]);
    expect(server.connections).toHaveLength(1);
    expect(txs.map((t) => t.rcpts)).toEqual([FIVE.slice(0, 2), FIVE.slice(2, 4), FIVE.slice(4)]);
    expect(result.outcome).toBe('ok');
    expect(result.recipients?.map((r) => r.reply)).toEqual(['250 2.0.0 queued as T1', '250 2.0.0 queued as T1', '250 2.0.0 queued as T2', '250 2.0.0 queued as T2', '250 2.0.0 queued as T3']);
    expect(events.filter((e) => e.type === 'transaction')).toEqual([
      { type: 'transaction', round: 2, recipients: 2, reason: 'rcptmax' },
      { type: 'transaction', round: 3, recipients: 1, reason: 'rcptmax' },
    ]);
  });

  it('a chunk whose recipients are all refused does not stop the next one: RSET, then the next MAIL', async () => {
    const txs: SeenTx[] = [];
    const server = await serve(transactionsServer(['LIMITS RCPTMAX=2'], txs, (a) => (/^[ab]@/.test(a) ? '550 5.1.1 no such user' : '250 ok')));
    const result = await run(server, {}, send(FIVE));
    expect(server.errors).toEqual([]);
    expect(txs.map((t) => t.rcpts)).toEqual([FIVE.slice(0, 2), FIVE.slice(2, 4), FIVE.slice(4)]);
    expect(commands(server.connections[0]!).slice(1, 5)).toEqual(['MAIL FROM:<sender@example.test>', 'RCPT TO:<a@example.test>', 'RCPT TO:<b@example.test>', 'RSET']);
    expect(result.outcome).toBe('ok');
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'bounced', 'delivered', 'delivered', 'delivered']);
  });

  it.each(['LIMITS RCPTMAX=0', 'LIMITS RCPTMAX=abc', 'LIMITS RCPTMAX=1234567', 'LIMITS RCPTMAX', 'LIMITS RCPTMAX=2 RCPTMAX=3', 'LIMITS RCPTMAX=-2', 'LIMITS', 'X-LIMITS RCPTMAX=2'])(
    'malformed or absent %j is ignored: one transaction',
    async (limits) => {
      const txs: SeenTx[] = [];
      const server = await serve(transactionsServer(['PIPELINING', limits], txs, () => '250 ok'));
      const result = await run(server, {}, send(FIVE));
      expect(server.errors).toEqual([]);
      expect(txs.map((t) => t.rcpts)).toEqual([FIVE]);
      expect(result.recipients?.every((r) => r.status === 'delivered')).toBe(true);
    },
  );
});
