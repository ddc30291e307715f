/**
 * RFC 5321 §4.5.2, §2.3.8, §4.5.3.1.6: message data on the wire (dot-stuffing, CRLF only, long
 * lines), and SMTP smuggling (CVE-2023-51764 and friends): whatever the message bytes, the only end of
 * data a receiver can see is the client's own final CRLF "." CRLF.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalMessage, dataPayload } from '../../../src/smtp/message.js';
import { script } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

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
