/**
 * SMTP client behaviours confirmed at a real `smtp-server` receiver, through the CLI:
 * - 8-bit MIME is converted to quoted-printable for a host that does not announce 8BITMIME
 *   (RFC 6152 §3; src/smtp/mime-downgrade.ts), and sent as it is to one that does;
 * - recipients refused with "452 4.5.3 too many recipients" go in another transaction on the
 *   same connection (RFC 5321 §4.5.3.1.10; src/smtp/session.ts).
 * The receiver of `smtp-limits.test` (scenarios.ts) hides 8BITMIME and takes 2 recipients per
 * transaction; `ee-311.test` is a receiver with smtp-server's defaults.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBuilt, EXIT, runCli } from './cli.js';
import { scenarios } from './scenarios.js';
import { startWorld, type World } from './world.js';

const LIMITS = 'smtp-limits.test';
const LIMITS_MX = 'mx.smtp-limits.test';
const PLAIN = 'ee-311.test';
const PLAIN_MX = 'mx.ee-311.test';
const USED = [LIMITS, PLAIN];
let world: World;

beforeAll(async () => {
  world = await startWorld({ scenarios: scenarios.filter((s) => USED.includes(s.domain)) });
}, 300_000);
afterAll(async () => {
  await world?.stop();
});

interface SendLine {
  domain: string;
  verdict: string;
  host: string | null;
  tls?: boolean;
  recipients: { address: string; status: string; host: string }[];
}

async function send(to: string[], message: Buffer) {
  const args = ['send', '--resolver', world.resolver, '--timeout', '5', '--json', '--helo', 'client.test', '--from', 'sender@client.test'];
  for (const t of to) args.push('--to', t);
  const run = await runCli(args, { input: message });
  const ctx = `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  return { run, ctx, line: run.json[0] as unknown as SendLine | undefined };
}

/** UTF-8 text with 8-bit octets, several lines, one longer than 76 characters (soft line breaks). */
const TEXT = [
  'Grüße aus dem Labor: naïve café, smørrebrød, Ελληνικά, 日本語のテキスト.',
  `Eine lange Zeile mit Umlauten (äöü ÄÖÜ ß) ${'und noch mehr Text, '.repeat(5)}bis zum Ende — fertig.`,
  'Gleichheitszeichen = bleibt, Tab\tauch; Ende.',
  '',
].join('\r\n');

function mimeMessage(domain: string, token: string): Buffer {
  const head = [
    'From: <sender@client.test>',
    `To: <user@${domain}>`,
    `Subject: dane-smtp lab 8bit ${domain}`,
    `Message-ID: <${token}@client.test>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'ascii'), Buffer.from(TEXT, 'utf8')]);
}

/** RFC 2045 §6.7 decoding: soft line breaks removed, =XX to its octet. */
function decodeQuotedPrintable(s: string): Buffer {
  const out: number[] = [];
  const text = s.replace(/=\r\n/g, '');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(text.charCodeAt(i));
  }
  return Buffer.from(out);
}

function splitMessage(body: string): { headers: string[]; body: string } {
  const at = body.indexOf('\r\n\r\n');
  return { headers: body.slice(0, at).split('\r\n'), body: body.slice(at + 4) };
}

describe.skipIf(!cliBuilt())('8-bit MIME at real receivers (RFC 6152 §3)', () => {
  it('a host without 8BITMIME gets the body as quoted-printable, over TLS, and it decodes to the original', async () => {
    const token = randomBytes(8).toString('hex');
    const message = mimeMessage(LIMITS, token);
    const { run, ctx, line } = await send([`user@${LIMITS}`], message);
    expect(run.code, ctx).toBe(EXIT.OK);
    expect(line, ctx).toMatchObject({ verdict: 'dane-authenticated', host: LIMITS_MX, tls: true });
    const got = world.receivers.withToken(token);
    expect(got.length, ctx).toBe(1);
    const m = got[0]!;
    expect(m, ctx).toMatchObject({ receiver: LIMITS_MX, tls: true, servername: LIMITS_MX });
    expect(m.envelope.to, ctx).toEqual([`user@${LIMITS}`]);
    // 7-bit on the wire: nothing ≥ 0x80 arrived.
    expect(/[^\x00-\x7f]/.test(m.body), `${ctx}\nbody: ${m.body}`).toBe(false);
    const { headers, body } = splitMessage(m.body);
    expect(headers.filter((h) => /^content-transfer-encoding:/i.test(h)), m.body).toEqual(['Content-Transfer-Encoding: quoted-printable']);
    expect(headers, m.body).toContain('Content-Type: text/plain; charset=utf-8');
    expect(headers, m.body).toContain('MIME-Version: 1.0');
    for (const l of body.split('\r\n')) expect(l.length, `line: ${l}`).toBeLessThanOrEqual(76);
    expect(body, m.body).toMatch(/=C3=BC/); // ü
    expect(body, m.body).toMatch(/=\r\n/); // the long line was folded with soft line breaks
    expect(decodeQuotedPrintable(body).toString('utf8')).toBe(TEXT);
  });

  it('a host that announces 8BITMIME gets the same message unchanged (8-bit)', async () => {
    const token = randomBytes(8).toString('hex');
    const message = mimeMessage(PLAIN, token);
    const { run, ctx, line } = await send([`user@${PLAIN}`], message);
    expect(run.code, ctx).toBe(EXIT.OK);
    expect(line, ctx).toMatchObject({ verdict: 'dane-authenticated', host: PLAIN_MX, tls: true });
    const got = world.receivers.withToken(token);
    expect(got.length, ctx).toBe(1);
    expect(got[0], ctx).toMatchObject({ receiver: PLAIN_MX, tls: true });
    expect(got[0]!.body).toBe(message.toString('utf8'));
    expect(splitMessage(got[0]!.body).headers).toContain('Content-Transfer-Encoding: 8bit');
  });
});

describe.skipIf(!cliBuilt())('recipients refused as too many (RFC 5321 §4.5.3.1.10) at a real receiver', () => {
  it('5 recipients at a host that takes 2 per transaction: 3 transactions (2, 2, 1) on one connection, all delivered', async () => {
    const token = randomBytes(8).toString('hex');
    const to = [1, 2, 3, 4, 5].map((i) => `user${i}@${LIMITS}`);
    const message = Buffer.from(
      [
        'From: <sender@client.test>',
        `To: ${to.map((t) => `<${t}>`).join(', ')}`,
        `Subject: dane-smtp lab too many recipients`,
        `Message-ID: <${token}@client.test>`,
        `Date: ${new Date().toUTCString()}`,
        '',
        `lab token ${token}`,
        '',
      ].join('\r\n'),
    );
    const connectionsBefore = world.receivers.connectionsTo(LIMITS_MX).length;
    const { run, ctx, line } = await send(to, message);
    expect(run.code, ctx).toBe(EXIT.OK);
    expect(line, ctx).toMatchObject({ verdict: 'dane-authenticated', host: LIMITS_MX, tls: true });
    expect(line!.recipients.map((r) => [r.address, r.status, r.host]), ctx).toEqual(to.map((t) => [t, 'delivered', LIMITS_MX]));
    const got = world.receivers.withToken(token);
    expect(
      got.map((m) => ({ receiver: m.receiver, to: m.envelope.to, tls: m.tls, sni: m.servername })),
      ctx,
    ).toEqual([
      { receiver: LIMITS_MX, to: to.slice(0, 2), tls: true, sni: LIMITS_MX },
      { receiver: LIMITS_MX, to: to.slice(2, 4), tls: true, sni: LIMITS_MX },
      { receiver: LIMITS_MX, to: to.slice(4), tls: true, sni: LIMITS_MX },
    ]);
    // One connection for all three transactions.
    expect(world.receivers.connectionsTo(LIMITS_MX).length - connectionsBefore, ctx).toBe(1);
  });
});
