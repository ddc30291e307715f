/**
 * A loopback SMTP server whose replies are generated (fast-check scenarios over MAIL, each RCPT, DATA and the final dot; PIPELINING and LIMITS RCPTMAX optional) that records every transaction it saw, and the invariants that compare the client's per-recipient result with what the server did (test/unit/smtp/5321-multi-transaction, engine/recipients-across-mx).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { runSmtpSession } from '../../src/smtp/session.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import { type RawConn, type RawServer, startRawServer } from './raw-smtp-server.js';

export const send = (to: string[]) => ({ kind: 'send', envelope: { from: 'sender@example.test', to, message: Buffer.from('Subject: t\r\n\r\nhello\r\n') } }) as const;

// ---------------------------------------------------------------- properties: nothing lost, nothing twice
//
// A loopback server whose behaviour is generated (replies to MAIL, each RCPT, DATA and the final
// dot, taken in order over the whole connection; PIPELINING and LIMITS RCPTMAX optional) and
// that records every transaction it saw. The properties compare the client's per-recipient
// result with what the server actually did.
export const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;

export const params = (seed: number, numRuns: number) => ({ seed, numRuns: RUNS ?? numRuns, endOnFailure: true });

/** After the dot: a reply, the connection closed without one, or no reply at all (the client times out). */
export type FinalAct = '250' | '451' | '554' | '421' | 'close' | 'silent';

export const FINAL_TEXT: Record<string, string> = { '250': '250 2.0.0 queued', '451': '451 4.3.0 try again later', '554': '554 5.7.1 content rejected', '421': '421 4.3.0 shutting down' };

export interface Scenario {
  pipelining: boolean;
  rcptMax: number | undefined;
  /** Replies in order over the connection; once a list runs out: 250 / 354 / 250. */
  mail: string[];
  rcpt: string[];
  data: string[];
  final: FinalAct[];
  /** With PIPELINING: 354 to a DATA with no valid recipient (RFC 2920 §3.1 allows either). */
  emptyData354: boolean;
}

/** One transaction as the server saw it. */
export interface ServerTx {
  mailOk: boolean;
  rcpts: { address: string; reply: string }[];
  accepted: string[];
  /** The server read the data up to the final dot. */
  data: boolean;
  /** 'ok': 2xx to the dot; 'refused': 4xx/5xx/421; 'missing': data read and no reply sent (the server may have kept the message). */
  final?: 'ok' | 'refused' | 'missing';
}

export const rcptReply = fc.constantFrom(
  '250 2.1.5 ok', '250 2.1.5 ok', '250 2.1.5 ok', '250 2.1.5 ok',
  '452 4.5.3 Too many recipients', '452 4.5.3 Too many recipients', '552 5.5.3 Too many recipients',
  '452 4.2.2 Mailbox full', '550 5.1.1 No such user', '421 4.3.0 closing',
);

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  pipelining: fc.boolean(),
  rcptMax: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  mail: fc.array(fc.constantFrom('250 2.1.0 ok', '250 2.1.0 ok', '250 2.1.0 ok', '451 4.3.0 later', '421 4.3.0 closing'), { maxLength: 3 }),
  rcpt: fc.array(rcptReply, { maxLength: 14 }),
  data: fc.array(fc.constantFrom('354 go', '354 go', '354 go', '354 go', '451 4.3.0 no', '554 5.3.4 no'), { maxLength: 4 }),
  final: fc.array(fc.constantFrom<FinalAct>('250', '250', '250', '451', '554', '421', 'close', 'silent'), { maxLength: 5 }),
  emptyData354: fc.boolean(),
});

export function scriptedServer(sc: Scenario, txs: ServerTx[]): (c: RawConn) => Promise<void> {
  let iMail = 0;
  let iRcpt = 0;
  let iData = 0;
  let iFinal = 0;
  const closeNow = (c: RawConn) => c.destroy();
  return async (c) => {
    const ext = ['mx.example.test', ...(sc.pipelining ? ['PIPELINING'] : []), ...(sc.rcptMax !== undefined ? [`LIMITS RCPTMAX=${sc.rcptMax}`] : [])];
    await c.write('220 mx.example.test ESMTP\r\n');
    await c.expect(/^EHLO /);
    await c.write(ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}\r\n`).join(''));
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
      const tx: ServerTx = { mailOk: false, rcpts: [], accepted: [], data: false };
      txs.push(tx);
      const group: string[] = [];
      const out = async (r: string) => (sc.pipelining ? void group.push(r) : c.write(`${r}\r\n`));
      const flush = () => c.write(group.splice(0).map((r) => `${r}\r\n`).join(''));
      const mail = sc.mail[iMail++] ?? '250 2.1.0 ok';
      tx.mailOk = mail.startsWith('2');
      await out(mail);
      if (mail.startsWith('421')) return void (await flush(), closeNow(c));
      for (line = await c.readLine(); line.startsWith('RCPT TO:'); line = await c.readLine()) {
        const address = /<(.*)>/.exec(line)![1]!;
        const reply = !tx.mailOk ? '503 5.5.1 need MAIL' : sc.rcptMax !== undefined && tx.rcpts.length >= sc.rcptMax ? '452 4.5.3 over RCPTMAX' : (sc.rcpt[iRcpt++] ?? '250 2.1.5 ok');
        tx.rcpts.push({ address, reply });
        if (reply.startsWith('2')) tx.accepted.push(address);
        await out(reply);
        if (reply.startsWith('421')) return void (await flush(), closeNow(c));
      }
      if (line !== 'DATA') {
        await flush();
        continue;
      }
      line = undefined;
      if (!tx.mailOk || tx.accepted.length === 0) {
        if (!sc.pipelining) throw new Error('server: DATA without a valid recipient, not pipelined');
        const empty = tx.mailOk && sc.emptyData354;
        await out(empty ? '354 go' : '503 5.5.1 no valid recipients');
        await flush();
        if (empty) {
          await c.readData();
          tx.data = true;
          await c.write('554 5.5.1 no valid recipients\r\n');
        }
        continue;
      }
      const dataReply = sc.data[iData++] ?? '354 go';
      await out(dataReply);
      await flush();
      if (!dataReply.startsWith('354')) continue;
      await c.readData();
      tx.data = true;
      const act = sc.final[iFinal++] ?? '250';
      if (act === 'close') return void ((tx.final = 'missing'), closeNow(c));
      if (act === 'silent') {
        tx.final = 'missing';
        return void (await c.closed);
      }
      tx.final = act === '250' ? 'ok' : 'refused';
      await c.write(`${FINAL_TEXT[act]}\r\n`);
      if (act === '421') return void closeNow(c);
    }
  };
}

export const addresses = (n: number) => Array.from({ length: n }, (_, i) => `r${i}@example.test`);

export const message = Buffer.from('Subject: t\r\n\r\nhello\r\n');

export const SERVER_REPLY = /^[45]\d\d\b/;

/** Short deadlines: the "silent" final reply costs FINAL_MS. */
export const STEP_MS = 3000;

export const FINAL_MS = 150;

/** Did the server keep `address` in tx (accepted, data read, and a 2xx or possibly a lost reply)? */
export const deliveredIn = (tx: ServerTx, address: string) => tx.accepted.includes(address) && tx.data && tx.final === 'ok';

export const mayHaveKept = (tx: ServerTx, address: string) => tx.accepted.includes(address) && tx.data && tx.final === 'missing';

/** The invariants of one session against the server's record of it. */
export function checkSession(sc: Scenario, to: string[], txs: ServerTx[], result: SmtpSessionResult): void {
  // (5') protocol: never more RCPTs than RCPTMAX in one transaction
  if (sc.rcptMax !== undefined) for (const tx of txs) expect(tx.rcpts.length).toBeLessThanOrEqual(sc.rcptMax);
  if (result.outcome === 'host-failed') {
    // nothing decided: the caller tries the next host, so nothing may have been kept here
    expect(result.recipients).toBeUndefined();
    expect(txs.some((t) => t.data && t.accepted.length > 0)).toBe(false);
    return;
  }
  // (1) exactly one status per envelope recipient, in order
  expect(result.recipients?.map((r) => r.address)).toEqual(to);
  for (const r of result.recipients!) {
    expect(['delivered', 'deferred', 'bounced']).toContain(r.status);
    const kept = txs.filter((t) => deliveredIn(t, r.address));
    // (3) never a second copy on one connection
    expect(kept.length, `${r.address} delivered in ${kept.length} transactions`).toBeLessThanOrEqual(1);
    // (2) delivered iff the server took the data for it with a 2xx
    expect(r.status === 'delivered', `${r.address}: ${r.status} ${r.reply}`).toBe(kept.length === 1);
    if (r.status === 'delivered') expect(r.reply).toBe(FINAL_TEXT['250']);
    // (4) a deferral with a server reply (sent on to the next MX host) never follows data the server may have kept
    if (r.status === 'deferred' && SERVER_REPLY.test(r.reply)) expect(txs.some((t) => mayHaveKept(t, r.address)), `${r.address}: ${r.reply}`).toBe(false);
    // a bounce is never for a message the server took or may have taken
    if (r.status === 'bounced') expect(txs.some((t) => deliveredIn(t, r.address) || mayHaveKept(t, r.address))).toBe(false);
    // the status comes from the last transaction the recipient was in: a RCPT refusal there (MAIL accepted, not 421) is its reply
    // (unless a later transaction was cut short before the server read its RCPTs: MAIL refused, or a 421)
    const last = txs.filter((t) => t.rcpts.some((x) => x.address === r.address)).at(-1);
    const refusal = last?.rcpts.find((x) => x.address === r.address)?.reply;
    const cutShort = txs.slice(txs.indexOf(last!) + 1).some((t) => !t.mailOk || t.rcpts.some((x) => x.reply.startsWith('421')));
    if (last?.mailOk && refusal && !refusal.startsWith('2') && !refusal.startsWith('421') && !cutShort) {
      expect(r.reply).toBe(refusal);
      expect(r.status).toBe(refusal.startsWith('5') && !refusal.startsWith('552') ? 'bounced' : 'deferred');
    }
  }
}

export async function runAgainst(sc: Scenario, to: string[]): Promise<{ txs: ServerTx[]; result: SmtpSessionResult; ms: number; server: RawServer }> {
  const txs: ServerTx[] = [];
  const server = await startRawServer(scriptedServer(sc, txs));
  try {
    const t0 = performance.now();
    const options: SmtpSessionOptions = { address: '127.0.0.1', port: server.port, helo: 'client.example.test', timeoutMs: STEP_MS, finalReplyTimeoutMs: FINAL_MS, tls: 'none' };
    const result = await runSmtpSession(options, { kind: 'send', envelope: { from: 'sender@example.test', to, message } });
    const ms = performance.now() - t0;
    await server.allClosed(2000);
    await server.handlersDone();
    return { txs, result, ms, server };
  } finally {
    await server.close();
  }
}
