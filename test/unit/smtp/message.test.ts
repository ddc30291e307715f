import { describe, expect, it } from 'vitest';
import {
  canonicalMessage,
  dataPayload,
  domainOf,
  dotStuff,
  headerSection,
  isValidMailbox,
  needs8bit,
  needsSmtputf8,
  normalizeLineEnds,
  prepareMessage,
  splitLongLines,
} from '../../../src/smtp/message.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const s = (buf: Buffer) => buf.toString('utf8');

describe('normalizeLineEnds (RFC 5321 §2.3.8)', () => {
  it.each([
    ['', ''],
    ['abc', 'abc'],
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\rb\r', 'a\r\nb\r\n'],
    ['\n', '\r\n'],
    ['\r', '\r\n'],
    ['\r\r\n', '\r\n\r\n'],
    ['\n\r', '\r\n\r\n'],
    ['a\r\n\nb', 'a\r\n\r\nb'],
  ])('%j → %j', (input, expected) => {
    expect(s(normalizeLineEnds(b(input)))).toBe(expected);
  });
});

describe('dotStuff (RFC 5321 §4.5.2)', () => {
  it.each([
    ['', ''],
    ['.', '..'],
    ['.a\r\n', '..a\r\n'],
    ['a\r\n.\r\n', 'a\r\n..\r\n'],
    ['a.b\r\n..c\r\n', 'a.b\r\n...c\r\n'],
    ['x\r\n.\r\n.\r\n', 'x\r\n..\r\n..\r\n'],
  ])('%j → %j', (input, expected) => {
    expect(s(dotStuff(b(input)))).toBe(expected);
  });
});

describe('dataPayload: what follows the 354', () => {
  it.each([
    ['empty message', '', '.\r\n'],
    ['adds the final CRLF', 'Subject: x\r\n\r\nbody', 'Subject: x\r\n\r\nbody\r\n.\r\n'],
    ['keeps an existing final CRLF', 'Subject: x\r\n\r\nbody\r\n', 'Subject: x\r\n\r\nbody\r\n.\r\n'],
    ['bare LF message', 'Subject: x\n\nbody\n', 'Subject: x\r\n\r\nbody\r\n.\r\n'],
    ['a lone dot line', 'a\n.\nb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['smuggling with LF.LF', 'a\n.\nMAIL FROM:<x@y>\n', 'a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n'],
    ['smuggling with CR.CR', 'a\r.\rRCPT TO:<x@y>', 'a\r\n..\r\nRCPT TO:<x@y>\r\n.\r\n'],
    ['smuggling with CRLF.LF', 'a\r\n.\nDATA', 'a\r\n..\r\nDATA\r\n.\r\n'],
    ['message ending in a dot line', 'x\r\n.\r\n', 'x\r\n..\r\n.\r\n'],
  ])('%s', (_name, input, expected) => {
    expect(s(dataPayload(b(input)))).toBe(expected);
  });

  it('never contains an early CRLF.CRLF, whatever the input', () => {
    const pieces = ['\r', '\n', '.', 'a', '\r\n'];
    for (let n = 0; n < 2000; n++) {
      let msg = '';
      for (let i = 0; i < 12; i++) msg += pieces[(n * 7 + i * 13 + ((n >> i) & 3)) % pieces.length];
      const payload = s(dataPayload(b(msg)));
      expect(payload.endsWith('\r\n.\r\n') || payload === '.\r\n').toBe(true);
      const body = payload.slice(0, payload.length - 3);
      expect(body.includes('\r\n.\r\n')).toBe(false);
      expect(/\r(?!\n)|(?<!\r)\n/.test(payload)).toBe(false);
    }
  });

  it('canonicalMessage is what SIZE counts (RFC 1870: CRLF, no stuffing, no terminator)', () => {
    expect(canonicalMessage(b('.a\nb')).length).toBe('.a\r\nb\r\n'.length);
  });
});

describe('lines over 998 octets (RFC 5322 §2.1.1, RFC 5321 §4.5.3.1.6): broken with CRLF SPACE like Postfix', () => {
  const x = (n: number) => 'x'.repeat(n);

  it.each([
    ['998 octets stay whole, 999 break after 998', `${x(998)}\n${x(999)}\n`, `${x(998)}\r\n${x(998)}\r\n ${x(1)}\r\n`],
    ['a 2,500-octet body line: 998, then a space and 997, then the rest', `S: x\n\n${x(2500)}`, `S: x\r\n\r\n${x(998)}\r\n ${x(997)}\r\n ${x(505)}\r\n`],
    [
      'a 2,500-octet header line becomes a folded header',
      `Subject: ${x(2491)}\r\n\r\nbody`,
      `Subject: ${x(989)}\r\n ${x(997)}\r\n ${x(505)}\r\n\r\nbody\r\n`,
    ],
    ['a long line starting with "." is stuffed once, its continuation never', `.${x(1500)}\r\n`, `..${x(997)}\r\n ${x(503)}\r\n`],
    ['a "." at the break starts no stuffed line', `${x(998)}.${x(9)}\r\n`, `${x(998)}\r\n .${x(9)}\r\n`],
    ['exactly 1,995 octets: two full pieces', `${x(1995)}\r\n`, `${x(998)}\r\n ${x(997)}\r\n`],
    ['bare LF, bare CR and CRLF alike', `${x(999)}\n${x(999)}\r${x(999)}\r\n`, `${x(998)}\r\n ${x(1)}\r\n`.repeat(3)],
    ['a 2-octet character over the limit moves whole to the next line', `${x(997)}é${x(5)}`, `${x(997)}\r\n é${x(5)}\r\n`],
    ['a 3-octet character over the limit', `${x(996)}€${x(5)}`, `${x(996)}\r\n €${x(5)}\r\n`],
    ['a 4-octet character over the limit', `${x(995)}😀${x(5)}`, `${x(995)}\r\n 😀${x(5)}\r\n`],
    ['a character ending at octet 998 stays', `${x(996)}é${x(5)}`, `${x(996)}é\r\n ${x(5)}\r\n`],
    ['a character across a continuation\'s limit', `${x(998)}${x(996)}é`, `${x(998)}\r\n ${x(996)}\r\n é\r\n`],
    ['empty lines and short lines around are unchanged', `a\n\n${x(1000)}\n\nb`, `a\r\n\r\n${x(998)}\r\n ${x(2)}\r\n\r\nb\r\n`],
  ])('%s', (_name, input, expected) => {
    expect(s(dataPayload(b(input)))).toBe(`${expected}.\r\n`);
  });

  it.each([
    ['Latin-1 (not UTF-8): cut at 998', `${x(997)}\xe9\xe9\xe9`, `${x(997)}\xe9\r\n \xe9\xe9`],
    ['stray continuation bytes: cut at 998', `${x(997)}\xa0\xa0\xa0`, `${x(997)}\xa0\r\n \xa0\xa0`],
    ['a truncated sequence before the limit: cut at 998', `${x(996)}\xc3\xa9\xa9\xa9`, `${x(996)}\xc3\xa9\r\n \xa9\xa9`],
  ])('%s', (_name, input, expected) => {
    expect(splitLongLines(Buffer.from(input, 'latin1')).toString('latin1')).toBe(expected);
  });

  it.each([
    ['no long line', `a\n${x(998)}\n`, 0],
    ['two long lines, one broken twice', `${x(999)}\n${x(998)}\n${x(2500)}`, 2],
  ])('prepareMessage counts the lines broken: %s', (_name, input, lines) => {
    expect(prepareMessage(b(input)).brokenLines).toBe(lines);
  });

  it('SIZE (canonicalMessage) counts the inserted CRLF SPACE: the size actually sent', () => {
    expect(canonicalMessage(b(x(999))).length).toBe(998 + 3 + 1 + 2);
  });

  it('every line at most 998 octets, never inside a UTF-8 character, undone by removing each inserted CRLF SPACE', () => {
    const chars = ['x', 'é', '€', '😀'];
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (let n = 0; n < 400; n++) {
      let line = '';
      while (Buffer.byteLength(line) < 990 + n * 7) line += chars[(n + line.length * 5) % chars.length];
      const payload = dataPayload(b(`${line}\n`));
      const lines = payload.subarray(0, payload.length - 5).toString('latin1').split('\r\n');
      for (const [i, l] of lines.entries()) {
        expect(l.length).toBeLessThanOrEqual(998);
        expect(l.startsWith(' ')).toBe(i > 0);
        expect(() => decoder.decode(Buffer.from(l, 'latin1'))).not.toThrow();
      }
      expect(s(payload).replaceAll('\r\n ', '')).toBe(`${line}\r\n.\r\n`);
    }
  });
});

describe('8BITMIME / SMTPUTF8 detection', () => {
  it.each([
    ['plain ASCII', 'Subject: x\r\n\r\nbody', false],
    ['8-bit body', 'Subject: x\r\n\r\ncafé', true],
    ['8-bit header', 'Subject: café\r\n\r\nbody', true],
  ])('needs8bit: %s', (_n, msg, expected) => {
    expect(needs8bit(b(msg))).toBe(expected);
  });

  it.each([
    ['ASCII everything', 'a@example.test', ['b@example.test'], 'Subject: x\r\n\r\nbody', false],
    ['UTF-8 body only (8BITMIME is enough)', 'a@example.test', ['b@example.test'], 'Subject: x\r\n\r\ncafé', false],
    ['UTF-8 header', 'a@example.test', ['b@example.test'], 'Subject: café\r\n\r\nbody', true],
    ['UTF-8 header, bare LF', 'a@example.test', ['b@example.test'], 'Subject: café\n\nbody', true],
    ['UTF-8 sender', 'ä@example.test', ['b@example.test'], 'Subject: x\r\n\r\nbody', true],
    ['UTF-8 recipient domain', 'a@example.test', ['b@exämple.test'], 'Subject: x\r\n\r\nbody', true],
    ['no header/body separator, UTF-8 at the end', 'a@example.test', ['b@example.test'], 'Subject: x\r\nX: é', true],
    ['empty header section, UTF-8 body', 'a@example.test', ['b@example.test'], '\r\ncafé', false],
  ])('needsSmtputf8: %s', (_n, from, to, message, expected) => {
    expect(needsSmtputf8({ from, to, message: b(message) })).toBe(expected);
  });

  it('headerSection stops at the first empty line', () => {
    expect(s(headerSection(b('A: 1\nB: 2\n\nbody\n\nmore')))).toBe('A: 1\r\nB: 2\r\n');
  });
});

describe('isValidMailbox (RFC 5321 §4.1.2, RFC 6531 §3.3)', () => {
  it.each([
    'user@example.com',
    'first.last+tag@sub.example.co.uk',
    "o'brien@example.com",
    "!#$%&'*+-/=?^_`{|}~@example.com",
    'user@localhost',
    'user@[192.0.2.1]',
    'user@[IPv6:2001:db8::1]',
    '"john doe"@example.com',
    '"a@b"@example.com',
    '"quoted\\"quote"@example.com',
    '""@example.com',
    'usér@exämple.test',
    '用户@例子.广告',
    'x@a-b.example',
    'x@123.example',
    `${'a'.repeat(64)}@example.com`,
  ])('valid: %j', (addr) => {
    expect(isValidMailbox(addr)).toBe(true);
  });

  it.each([
    '',
    'user',
    '@example.com',
    'user@',
    'user@@example.com',
    'user@example.com.',
    'user@.example.com',
    'user@exa mple.com',
    'us er@example.com',
    '.user@example.com',
    'user.@example.com',
    'us..er@example.com',
    'user@-example.com',
    'user@example-.com',
    'user@exam_ple.com',
    'user@[300.1.1.1]',
    'user@[IPv6:nope]',
    'user@[example.com]',
    '<user@example.com>',
    'user@example.com>',
    'a>b@example.com',
    'user@example.com\r\nRCPT TO:<x@y>',
    'user\n@example.com',
    'user@example.com\u0000',
    'user\u0085@example.com',
    'user\u2028@example.com',
    'user\u00a0@example.com',
    '"unterminated@example.com',
    '"bad\u0007ctl"@example.com',
    `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(64)}.example`,
    `a@${`${'b'.repeat(60)}.`.repeat(5)}com`,
    'user@example.com\ud800',
  ])('invalid: %j', (addr) => {
    expect(isValidMailbox(addr)).toBe(false);
  });
});

describe('domainOf', () => {
  it.each([
    ['user@Example.COM', 'example.com'],
    ['"a@b"@example.com', 'example.com'],
    ['user@[192.0.2.1]', '[192.0.2.1]'],
    ['user@[IPv6:2001:DB8::1]', '[IPv6:2001:DB8::1]'],
    ['usér@EXÄMPLE.test', 'exämple.test'],
    ['nodomain', undefined],
    ['user@', undefined],
  ])('%j → %j', (addr, domain) => {
    expect(domainOf(addr)).toBe(domain);
  });
});
