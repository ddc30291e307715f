/**
 * RFC conformance review of the SMTP client (src/smtp/session.ts) against scripted raw servers:
 * RFC 5321 (replies, HELO fallback, 421, 452/552, transaction order, final reply, data
 * transparency), RFC 2920 PIPELINING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8,
 * RFC 3207 STARTTLS, RFC 3463 enhanced status codes, and SMTP smuggling (CVE-2023-51764 and
 * friends): whatever the message bytes, the only end of data a receiver can see — strict or
 * lenient about line ends — is the client's own final CRLF "." CRLF.
 *
 * Behaviours already pinned in smtp-session.test.ts / hostile-smtp.test.ts are not repeated here.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalMessage, dataPayload } from '../../src/smtp/message.js';
import { runSmtpSession } from '../../src/smtp/session.js';
import type { SmtpEvent, SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import { type RawConn, type RawServer, type ServerTlsOptions, script, sleep } from '../support/raw-smtp-server.js';
import { sessionOptions, useRawServers } from '../support/session-harness.js';
import { testPki } from '../support/test-certs.js';

beforeAll(() => void testPki());

const serve = useRawServers();
const opts = sessionOptions;

async function run(server: RawServer, extra: Partial<SmtpSessionOptions>, job: Parameters<typeof runSmtpSession>[1]): Promise<SmtpSessionResult> {
  const result = await runSmtpSession(opts(server, extra), job);
  await server.allClosed();
  return result;
}

const send = (to: string[], message: string | Buffer = 'Subject: t\r\n\r\nhello\r\n', from = 'sender@example.test') =>
  ({ kind: 'send', envelope: { from, to, message: Buffer.isBuffer(message) ? message : Buffer.from(message) } }) as const;

const GREETING = '220 mx.example.test ESMTP';

function ehloReply(extensions: string[]): string {
  const lines = ['mx.example.test', ...extensions];
  return lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
}

/** Greeting and EHLO offering the given extensions. */
function upToMail(extensions: string[]): (c: RawConn) => Promise<void> {
  return async (c) => {
    await c.write(`${GREETING}\r\n`);
    await c.expect(/^EHLO /);
    await c.write(`${ehloReply(extensions)}\r\n`);
  };
}

/** After a reply that should end the session: the client sends nothing more and closes. */
async function expectNoMoreCommands(c: RawConn): Promise<void> {
  await expect(c.readLine(1500)).rejects.toThrow(/connection closed/);
}

function tlsOptions(): ServerTlsOptions {
  const pki = testPki();
  return { cert: pki.leaf.pem + pki.intermediate.pem, key: pki.leaf.key };
}

const commands = (c: RawConn) => [...c.plainLines, ...c.tlsLines].filter((l) => /^(EHLO|HELO|STARTTLS|MAIL|RCPT|DATA|RSET|QUIT)\b/.test(l));

describe('RFC 5321 §3.2, §4.1.4: EHLO and the HELO fallback', () => {
  it.each(['500 5.5.1 command unrecognized', '502 5.5.2 not implemented'])('EHLO %s → HELO, then a plain RFC 821 transaction (no ESMTP parameters, one command at a time)', async (reply) => {
    let waited = false;
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await script([[/^EHLO client\.example\.test$/, reply], [/^HELO client\.example\.test$/, '250 mx.example.test']])(c);
      await c.expect(/^MAIL FROM:<sender@example\.test>$/); // no SIZE=, no BODY=
      await sleep(100);
      waited = c.queuedLines === 0; // not pipelined
      await script(['250 ok', [/^RCPT TO:<a@example\.test>$/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: x\r\n\r\ncafé\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', extensions: {}, recipients: [{ status: 'delivered' }] });
    expect(waited).toBe(true);
  });

  it.each([
    ['421 4.3.2 shutting down', 'SMTP_4XX'],
    ['554 5.7.1 no SMTP service for you', 'SMTP_5XX'],
  ])('EHLO %s → no HELO: the host fails (RFC 5321 §3.8, §4.3.2)', async (reply, code) => {
    const server = await serve(async (c) => {
      await script([GREETING, [/^EHLO /, reply]])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'host-failed', error: { code, reply: { code: Number(reply.slice(0, 3)) } } });
    expect(result.recipients).toBeUndefined();
    expect(server.connections[0]!.plainLines).toEqual(['EHLO client.example.test']);
  });
});

describe('RFC 5321 §3.8, §4.2.2: 421 at any stage of the transaction defers everything and closes', () => {
  it('421 to MAIL → every recipient deferred with the 421, nothing more is sent', async () => {
    const server = await serve(async (c) => {
      await upToMail(['SIZE 1000000'])(c);
      await script([[/^MAIL/, '421 4.3.2 shutting down']])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_4XX', reply: { code: 421 } } });
    expect(result.recipients).toEqual([
      { address: 'a@example.test', status: 'deferred', reply: '421 4.3.2 shutting down' },
      { address: 'b@example.test', status: 'deferred', reply: '421 4.3.2 shutting down' },
    ]);
  });

  it('421 to a RCPT (the server keeps the line open) → no further RCPT, no DATA; accepted and untried recipients deferred, refused ones keep their bounce', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([
        [/^MAIL/, '250 ok'],
        [/^RCPT TO:<a@/, '250 ok'],
        [/^RCPT TO:<b@/, '550 5.1.1 unknown'],
        [/^RCPT TO:<c@/, '421 4.4.5 too busy, closing'],
      ])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_4XX' } });
    expect(result.recipients).toEqual([
      { address: 'a@example.test', status: 'deferred', reply: '421 4.4.5 too busy, closing' },
      { address: 'b@example.test', status: 'bounced', reply: '550 5.1.1 unknown' },
      { address: 'c@example.test', status: 'deferred', reply: '421 4.4.5 too busy, closing' },
      { address: 'd@example.test', status: 'deferred', reply: '421 4.4.5 too busy, closing' },
    ]);
    expect(commands(server.connections[0]!).slice(-1)).toEqual(['RCPT TO:<c@example.test>']);
  });

  it('PIPELINING: 421 in the middle of the replies, then close → all deferred with the 421 text', async () => {
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^RCPT/], [/^DATA$/, '250 ok\r\n421 4.3.2 closing now']])(c);
      c.end();
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['deferred', '421 4.3.2 closing now'],
      ['deferred', '421 4.3.2 closing now'],
    ]);
  });

  it('421 to DATA → deferred, the message is not sent, nothing more is sent', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '421 4.3.2 bye']])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: secret\r\n\r\nx\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', recipients: [{ status: 'deferred', reply: '421 4.3.2 bye' }] });
    expect(server.connections[0]!.plainLines.join('\n')).not.toMatch(/secret/);
  });

  it('421 after the final dot → deferred (never delivered), no QUIT', async () => {
    const server = await serve(async (c) => {
      await upToMail([])(c);
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await c.write('421 4.3.0 queue write failed\r\n');
      await expectNoMoreCommands(c);
    });
    const result = await run(server, {}, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', recipients: [{ status: 'deferred', reply: '421 4.3.0 queue write failed' }] });
  });
});

/** One transaction as the recipient-limited server saw it. */
interface SeenTx {
  mail: string;
  rcpts: string[];
  accepted: string[];
  data?: string[];
}

/**
 * A server that runs any number of transactions on the connection: `rcpt(address, acceptedSoFar,
 * txNumber)` answers each RCPT; `final(txNumber)` answers the dot (a 421 closes the connection).
 * RSET and QUIT are answered; anything else is an error.
 */
function transactionsServer(
  extensions: string[],
  txs: SeenTx[],
  rcpt: (address: string, acceptedSoFar: number, tx: number) => string,
  final: (tx: number) => string = (tx) => `250 2.0.0 queued as T${tx}`,
): (c: RawConn) => Promise<void> {
  const pipelining = extensions.includes('PIPELINING');
  return async (c) => {
    await upToMail(extensions)(c);
    let line: string | undefined;
    for (;;) {
      line ??= await c.readLine();
      if (line === 'QUIT') return void (await c.write('221 bye\r\n'));
      if (line === 'RSET') {
        line = undefined;
        await c.write('250 2.0.0 ok\r\n');
        continue;
      }
      if (!line.startsWith('MAIL FROM:')) throw new Error(`server: unexpected ${JSON.stringify(line)}`);
      const tx: SeenTx = { mail: line, rcpts: [], accepted: [] };
      txs.push(tx);
      const group = ['250 2.1.0 ok'];
      if (!pipelining) await c.write('250 2.1.0 ok\r\n');
      for (line = await c.readLine(); line.startsWith('RCPT TO:'); line = await c.readLine()) {
        const address = /<(.*)>/.exec(line)![1]!;
        tx.rcpts.push(address);
        const reply = rcpt(address, tx.accepted.length, txs.length);
        if (reply.startsWith('2')) tx.accepted.push(address);
        if (pipelining) group.push(reply);
        else await c.write(`${reply}\r\n`);
      }
      if (line !== 'DATA') continue;
      line = undefined;
      const dataReply = tx.accepted.length > 0 ? '354 go' : '554 5.5.1 no valid recipients';
      await c.write(`${(pipelining ? [...group, dataReply] : [dataReply]).join('\r\n')}\r\n`);
      if (tx.accepted.length === 0) continue;
      tx.data = await c.readData();
      const reply = final(txs.length);
      await c.write(`${reply}\r\n`);
      if (reply.startsWith('421')) return void (await c.closed.then(() => undefined, () => undefined), c.destroy());
    }
  };
}

/** Accepts `limit` RCPTs per transaction, then answers `refusal`. */
const limited = (limit: number, refusal = '452 4.5.3 Too many recipients') => (_a: string, acceptedSoFar: number) =>
  acceptedSoFar < limit ? '250 2.1.5 ok' : refusal;

const FIVE = ['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test', 'e@example.test'];

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

describe('RFC 2920 PIPELINING', () => {
  it('the message data waits for the 354 even though MAIL/RCPT/DATA were sent in one group', async () => {
    let earlyData = -1;
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^DATA$/]])(c);
      await sleep(150);
      earlyData = c.queuedLines;
      await c.write('250 ok\r\n250 ok\r\n354 go\r\n');
      expect(await c.readData()).toEqual(['Subject: t', '', 'hello']);
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('ok');
    expect(earlyData).toBe(0);
  });

  it('MAIL refused with RCPTs and DATA pipelined: the RCPT 250s do not count, a 354 gets only "."', async () => {
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^DATA$/, '550 5.7.1 sender refused\r\n250 ok\r\n354 go']])(c);
      expect(await c.readData()).toEqual([]);
      await script(['554 5.5.1 no valid transaction', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: secret\r\n\r\nbody\r\n'));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'rejected', error: { code: 'SMTP_5XX' } });
    expect(result.recipients).toEqual([{ address: 'a@example.test', status: 'bounced', reply: '550 5.7.1 sender refused' }]);
    expect(server.connections[0]!.plainLines.join('\n')).not.toMatch(/secret|body/);
  });

  it('all RCPTs refused and DATA properly refused → no "." and no message; QUIT ends the session', async () => {
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING'])(c);
      await script([[/^MAIL/], [/^RCPT/], [/^RCPT/], [/^DATA$/, '250 ok\r\n550 5.1.1 unknown\r\n450 4.2.1 busy\r\n554 5.5.1 no valid recipients'], [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test'], 'Subject: secret\r\n\r\nbody\r\n'));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('rejected');
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'deferred']);
    expect(commands(server.connections[0]!)).toEqual(['EHLO client.example.test', 'MAIL FROM:<sender@example.test>', 'RCPT TO:<a@example.test>', 'RCPT TO:<b@example.test>', 'DATA', 'QUIT']);
    expect(server.connections[0]!.plainLines).not.toContain('.');
  });

  it('the null reverse path with SIZE in a pipelined group: MAIL FROM:<> SIZE=n', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await upToMail(['PIPELINING', 'SIZE 1000'])(c);
      mail = await c.expect(/^MAIL/);
      await script([[/^RCPT/], [/^DATA$/, '250 ok\r\n250 ok\r\n354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], 'Subject: bounce\r\n\r\nx\r\n', ''));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe(`MAIL FROM:<> SIZE=${'Subject: bounce\r\n\r\nx\r\n'.length}`);
  });
});

describe('RFC 1870 SIZE', () => {
  it('the declared size is the CRLF-normalised size without dot-stuffing, also for bare LF, a leading dot and no final line end', async () => {
    let mail = '';
    const server = await serve(async (c) => {
      await upToMail(['SIZE 1000000'])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = 'Subject: x\n\n.dot\r.\nend';
    await run(server, {}, send(['a@example.test'], message));
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${'Subject: x\r\n\r\n.dot\r\n.\r\nend\r\n'.length}`);
  });

  it('a message exactly at the SIZE limit is sent; one octet more is bounced (5.3.4) before MAIL', async () => {
    const message = 'Subject: x\r\n\r\n12345\r\n';
    const handler = async (c: RawConn) => {
      await upToMail([`SIZE ${message.length}`])(c);
      const line = await c.readLine();
      if (line.startsWith('QUIT')) return void (await c.write('221 bye\r\n'));
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/, '354 go']])(c);
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    };
    const at = await run(await serve(handler), {}, send(['a@example.test'], message));
    expect(at.outcome).toBe('ok');
    const over = await serve(handler);
    const result = await run(over, {}, send(['a@example.test'], message.replace('12345', '123456')));
    expect(result).toMatchObject({ outcome: 'rejected', recipients: [{ status: 'bounced', reply: expect.stringMatching(/^552 5\.3\.4 /) }] });
    expect(commands(over.connections[0]!)).toEqual(['EHLO client.example.test', 'QUIT']);
  });

  it('552 5.3.4 to MAIL SIZE=n → every recipient bounced, no RCPT, no data', async () => {
    const server = await serve(async (c) => {
      await upToMail(['SIZE'])(c); // no fixed limit announced
      await script([[/^MAIL FROM:<sender@example\.test> SIZE=\d+$/, '552 5.3.4 message size exceeds fixed limit'], [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test']));
    expect(server.errors).toEqual([]);
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'bounced']);
  });
});

describe('RFC 6152 8BITMIME and RFC 6531 SMTPUTF8', () => {
  it('an 8-bit body to a server without 8BITMIME is sent as is, without BODY= (like Postfix without MIME downgrading), bytes unchanged', async () => {
    let mail = '';
    let raw = Buffer.alloc(0);
    const server = await serve(async (c) => {
      await upToMail(['SIZE 1000000'])(c);
      mail = await c.expect(/^MAIL/);
      await script(['250 ok', [/^RCPT/, '250 ok'], [/^DATA$/]])(c);
      c.socket.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
      await c.write('354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.from([0xe9, 0xff, 0x80]), Buffer.from('\r\n')]);
    const result = await run(server, {}, send(['a@example.test'], message));
    expect(result.outcome).toBe('ok');
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${message.length}`);
    expect(raw.subarray(0, message.length).equals(message)).toBe(true);
  });

  it('a non-ASCII sender to a server without SMTPUTF8 → bounced 553 5.6.7 before MAIL', async () => {
    const server = await serve(async (c) => {
      await upToMail(['8BITMIME'])(c);
      await script([[/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test'], 'Subject: x\r\n\r\nhi\r\n', 'sénder@example.test'));
    expect(server.errors).toEqual([]);
    expect(result.recipients?.map((r) => r.status)).toEqual(['bounced', 'bounced']);
    expect(result.recipients?.[0]?.reply).toMatch(/^553 5\.6\.7 /);
    expect(commands(server.connections[0]!)).toEqual(['EHLO client.example.test', 'QUIT']);
  });
});

describe('RFC 3207 STARTTLS', () => {
  it('the extensions are re-read inside TLS: the pre-TLS SIZE limit and the absence of PIPELINING no longer apply', async () => {
    let group = 0;
    let mail = '';
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await c.expect(/^EHLO /);
      await c.write('250-mx.example.test\r\n250-SIZE 10\r\n250 STARTTLS\r\n');
      await c.expect(/^STARTTLS$/);
      await c.write('220 go\r\n');
      await c.startTls(tlsOptions());
      await c.expect(/^EHLO /);
      await c.write(`${ehloReply(['PIPELINING', 'SIZE 1000000'])}\r\n`);
      // the whole group arrives before any reply: PIPELINING, learnt inside TLS, is used
      mail = await c.expect(/^MAIL/, 1000);
      await c.expect(/^RCPT/, 1000);
      await c.expect(/^DATA$/, 1000);
      group = 3;
      await c.write('250 ok\r\n250 ok\r\n354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const message = `Subject: x\r\n\r\n${'y'.repeat(100)}\r\n`;
    const result = await run(server, { tls: 'may' }, send(['a@example.test'], message));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'ok', tls: true, extensions: { PIPELINING: '', SIZE: '1000000' } });
    expect(group).toBe(3);
    expect(mail).toBe(`MAIL FROM:<sender@example.test> SIZE=${message.length}`);
  });

  it.each(['may', 'required'] as const)('454 to STARTTLS (tls %s) → host-failed STARTTLS_REFUSED; this session sends no mail in plaintext', async (tls) => {
    const server = await serve(async (c) => {
      await c.write(`${GREETING}\r\n`);
      await script([[/^EHLO /, '250-mx.example.test\r\n250 STARTTLS'], [/^STARTTLS$/, '454 4.7.0 TLS not available due to temporary reason']])(c);
      await expectNoMoreCommands(c);
    });
    const result = await run(server, { tls }, send(['a@example.test']));
    expect(server.errors).toEqual([]);
    expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'STARTTLS_REFUSED', reply: { code: 454 } } });
    expect(result.recipients).toBeUndefined();
  });
});

describe('RFC 3463 enhanced status codes', () => {
  it('are kept in each recipient reply (multi-line joined); the basic reply code alone decides the status', async () => {
    const server = await serve(async (c) => {
      await upToMail(['ENHANCEDSTATUSCODES'])(c);
      await script([
        [/^MAIL/, '250 2.1.0 ok'],
        [/^RCPT TO:<a@/, '250 2.1.5 ok'],
        [/^RCPT TO:<b@/, '550-5.1.1 the mailbox\r\n550 5.1.1 does not exist'],
        [/^RCPT TO:<c@/, '550 4.2.2 mailbox full (inconsistent class)'],
        [/^RCPT TO:<d@/, '450 4.7.1 greylisted'],
        [/^DATA$/, '354 go'],
      ])(c);
      await c.readData();
      await script(['250 2.0.0 Ok: queued as ABC123', [/^QUIT$/, '221 2.0.0 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test']));
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['delivered', '250 2.0.0 Ok: queued as ABC123'],
      ['bounced', '550 5.1.1 the mailbox 5.1.1 does not exist'],
      ['bounced', '550 4.2.2 mailbox full (inconsistent class)'],
      ['deferred', '450 4.7.1 greylisted'],
    ]);
  });
});

describe('RFC 5321 §4.5.2, §2.3.8, §4.5.3.1.6: message data on the wire', () => {
  /** Deliver one message; returns the exact bytes the server received after its 354. */
  async function wireData(message: Buffer): Promise<Buffer> {
    let raw = Buffer.alloc(0);
    const server = await serve(async (c) => {
      await upToMail(['8BITMIME', 'SMTPUTF8'])(c); // whatever the bytes, the message is sent
      await script([[/^MAIL/, '250 ok'], [/^RCPT/, '250 ok'], [/^DATA$/]])(c);
      c.socket.on('data', (d: Buffer) => (raw = Buffer.concat([raw, d])));
      await c.write('354 go\r\n');
      await c.readData();
      await script(['250 queued', [/^QUIT$/, '221 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test'], message));
    expect(server.errors).toEqual([]);
    expect(result.outcome).toBe('ok');
    expect(raw.subarray(raw.length - 6).toString('latin1')).toBe('QUIT\r\n');
    return raw.subarray(0, raw.length - 6);
  }

  /**
   * Where a receiver would see the end of data. strict: only CRLF "." CRLF (RFC 5321 §4.1.1.4).
   * lenient: any of CR, LF or CRLF before and after the "." (the parsers behind SMTP smuggling,
   * CVE-2023-51764 and friends). The data starts after the 354 line, i.e. after a line end.
   */
  function endsOfData(data: Buffer, lenient: boolean): number[] {
    const s = `\r\n${data.toString('latin1')}`;
    const re = lenient ? /(?:\r\n|\r|\n)\.(?:\r\n|\r|\n)/g : /\r\n\.\r\n/g;
    return [...s.matchAll(re)].map((m) => m.index! + m[0].length - 2);
  }

  it('a message without a final CRLF gets one before the terminator; a lone "." line and a message ending in "." are stuffed', async () => {
    const data = await wireData(Buffer.from('Subject: x\r\n\r\n.\r\nlast line.\r\n.'));
    expect(data.toString('latin1')).toBe('Subject: x\r\n\r\n..\r\nlast line.\r\n..\r\n.\r\n');
  });

  it('lines longer than 998 octets are broken with CRLF SPACE (§4.5.3.1.6, Postfix smtp_line_length_limit); a stuffed dot does not count', async () => {
    const x = (n: number) => 'x'.repeat(n);
    const long = x(5000);
    const data = await wireData(Buffer.from(`Subject: long\r\n\r\n${long}\r\n.${long}\r\n`));
    // 998 octets, then continuations of a space and 997 octets
    const first = `${x(998)}\r\n ${x(997)}\r\n ${x(997)}\r\n ${x(997)}\r\n ${x(997)}\r\n ${x(14)}`;
    const second = `..${x(997)}\r\n ${x(997)}\r\n ${x(997)}\r\n ${x(997)}\r\n ${x(997)}\r\n ${x(15)}`;
    expect(data.toString('latin1')).toBe(`Subject: long\r\n\r\n${first}\r\n${second}\r\n.\r\n`);
  });

  it('bare LF, bare CR, CR CR LF, LF CR, NUL and 8-bit bytes: CRLF only, no early end of data for any receiver', async () => {
    const message = Buffer.from('a\n.\nb\r.\rc\r\n.\nd\n.\r\ne\r\r\n.\n\rf\0\xff\n..\n.', 'latin1');
    const data = await wireData(message);
    expect(data.equals(dataPayload(message))).toBe(true);
    expect(/\r(?!\n)|(?<!\r)\n/.test(data.toString('latin1'))).toBe(false);
    expect(endsOfData(data, true)).toEqual([data.length]);
  });

  // fast-check: arbitrary bytes, biased towards line ends and dots.
  const piece = fc.oneof(
    fc.constantFrom('\r', '\n', '.', '\r\n', '\n.\n', '\r.\r', '\r\n.\r\n', '\n.\r\n', '\r\n.\n', '..', ' ', 'a', '\0', '\xff', '\r\r\n'),
    fc.string({ maxLength: 4 }),
  );
  const message = fc.oneof(
    fc.array(piece, { maxLength: 40 }).map((parts) => Buffer.from(parts.join(''), 'latin1')),
    fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
  );

  it('property (pure): the payload has CRLF line ends only, one end of data (strict or lenient) at its very end, and un-stuffs to the canonical message', () => {
    fc.assert(
      fc.property(message, (msg) => {
        const payload = dataPayload(msg);
        const text = payload.toString('latin1');
        expect(/\r(?!\n)|(?<!\r)\n/.test(text)).toBe(false);
        expect(endsOfData(payload, true)).toEqual([payload.length]);
        expect(endsOfData(payload, false)).toEqual([payload.length]);
        // A strict receiver's un-stuffing gives back exactly the message as counted for SIZE.
        const lines = `\r\n${text}`.slice(2, -3).split('\r\n');
        const unstuffed = lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n');
        expect(unstuffed).toBe(canonicalMessage(msg).toString('latin1'));
      }),
      { numRuns: 2000 },
    );
  });

  it('property (on the wire): what the session writes after the 354 is exactly that payload', async () => {
    await fc.assert(
      fc.asyncProperty(message, async (msg) => {
        const data = await wireData(msg);
        expect(data.equals(dataPayload(msg))).toBe(true);
        expect(endsOfData(data, true)).toEqual([data.length]);
        await serve.closeAll();
      }),
      { numRuns: 40 },
    );
  });
});
