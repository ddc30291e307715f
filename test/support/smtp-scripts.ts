/**
 * Scripted raw SMTP servers and a session runner for the SMTP conformance tests (test/unit/smtp/): greeting and EHLO, a server that runs many transactions on one connection with per-RCPT replies.
 */
import { expect } from 'vitest';
import { runSmtpSession } from '../../src/smtp/session.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';
import type { RawConn, RawServer, ServerTlsOptions } from './raw-smtp-server.js';
import { sessionOptions } from './session-harness.js';
import { testPki } from './test-certs.js';

export const opts = sessionOptions;

export async function run(server: RawServer, extra: Partial<SmtpSessionOptions>, job: Parameters<typeof runSmtpSession>[1]): Promise<SmtpSessionResult> {
  const result = await runSmtpSession(opts(server, extra), job);
  await server.allClosed();
  return result;
}

export const send = (to: string[], message: string | Buffer = 'Subject: t\r\n\r\nhello\r\n', from = 'sender@example.test') =>
  ({ kind: 'send', envelope: { from, to, message: Buffer.isBuffer(message) ? message : Buffer.from(message) } }) as const;

export const GREETING = '220 mx.example.test ESMTP';

export function ehloReply(extensions: string[]): string {
  const lines = ['mx.example.test', ...extensions];
  return lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
}

/** Greeting and EHLO offering the given extensions. */
export function upToMail(extensions: string[]): (c: RawConn) => Promise<void> {
  return async (c) => {
    await c.write(`${GREETING}\r\n`);
    await c.expect(/^EHLO /);
    await c.write(`${ehloReply(extensions)}\r\n`);
  };
}

/** After a reply that should end the session: the client sends nothing more and closes. */
export async function expectNoMoreCommands(c: RawConn): Promise<void> {
  await expect(c.readLine(1500)).rejects.toThrow(/connection closed/);
}

export function tlsOptions(): ServerTlsOptions {
  const pki = testPki();
  return { cert: pki.leaf.pem + pki.intermediate.pem, key: pki.leaf.key };
}

export const commands = (c: RawConn) => [...c.plainLines, ...c.tlsLines].filter((l) => /^(EHLO|HELO|STARTTLS|MAIL|RCPT|DATA|RSET|QUIT)\b/.test(l));

/** One transaction as the recipient-limited server saw it. */
export interface SeenTx {
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
export function transactionsServer(
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
export const limited = (limit: number, refusal = '452 4.5.3 Too many recipients') => (_a: string, acceptedSoFar: number) =>
  acceptedSoFar < limit ? '250 2.1.5 ok' : refusal;

export const FIVE = ['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test', 'e@example.test'];
