import { describe, expect, it } from 'vitest';
import {
  MAX_LINE_BYTES,
  MAX_UNREAD_BYTES,
  ReplyReader,
  enhancedStatus,
  formatReply,
  isTooManyRecipients,
  parseEhloExtensions,
  parseReplies,
  parseReplyLine,
  rcptMax,
  replyClass,
  sizeLimit,
} from '../../../src/smtp/reply.js';
import type { SmtpReply } from '../../../src/smtp/types.js';

describe('parseReplyLine (RFC 5321 §4.2)', () => {
  const ok: [string, { code: number; last: boolean; text: string }][] = [
    ['250 OK', { code: 250, last: true, text: 'OK' }],
    ['250-PIPELINING', { code: 250, last: false, text: 'PIPELINING' }],
    ['250', { code: 250, last: true, text: '' }],
    ['250 ', { code: 250, last: true, text: '' }],
    ['250-', { code: 250, last: false, text: '' }],
    ['554 5.7.1  two  spaces ', { code: 554, last: true, text: '5.7.1  two  spaces ' }],
    ['220 héllo ünïcode', { code: 220, last: true, text: 'héllo ünïcode' }],
    ['220 ctrl\u0007\u001b[31m', { code: 220, last: true, text: 'ctrl??[31m' }],
    ['599 x', { code: 599, last: true, text: 'x' }],
  ];
  it.each(ok)('%j', (line, expected) => {
    expect(parseReplyLine(line)).toEqual(expected);
  });

  const bad: string[] = ['', '25', 'abc hello', '2x0 hi', '150 preliminary', '600 nope', '099 x', '250x', '250_x', '250\tx', ' 250 x', '+OK'];
  it.each(bad)('%j is a protocol error', (line) => {
    expect(parseReplyLine(line)).toMatchObject({ code: 'PROTOCOL' });
  });
});

describe('parseReplies / ReplyReader', () => {
  const table: { name: string; input: string; replies: SmtpReply[]; error?: string; rest?: number }[] = [
    { name: 'single line', input: '220 hi\r\n', replies: [{ code: 220, lines: ['hi'] }] },
    {
      name: 'multi-line with 250- continuations',
      input: '250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n',
      replies: [{ code: 250, lines: ['mx.example', 'PIPELINING', '8BITMIME'] }],
    },
    { name: 'bare LF accepted', input: '250-a\n250 b\n', replies: [{ code: 250, lines: ['a', 'b'] }] },
    { name: 'mixed CRLF and LF', input: '250-a\r\n250 b\n', replies: [{ code: 250, lines: ['a', 'b'] }] },
    {
      name: 'pipelined replies',
      input: '250 ok\r\n550 5.1.1 no\r\n354 go\r\n',
      replies: [
        { code: 250, lines: ['ok'] },
        { code: 550, lines: ['5.1.1 no'] },
        { code: 354, lines: ['go'] },
      ],
    },
    { name: 'partial line kept', input: '250 ok\r\n220 par', replies: [{ code: 250, lines: ['ok'] }], rest: 7 },
    { name: 'partial multi-line kept', input: '250-a\r\n', replies: [], rest: 7 },
    { name: 'CR inside a line is text', input: '250 a\rb\r\n', replies: [{ code: 250, lines: ['a?b'] }] },
    { name: 'inconsistent codes', input: '250-a\r\n251 b\r\n', replies: [], error: 'PROTOCOL' },
    { name: 'garbage', input: 'HTTP/1.1 200 OK\r\n', replies: [], error: 'PROTOCOL' },
    { name: 'garbage after a good reply', input: '220 hi\r\nxyz\r\n', replies: [{ code: 220, lines: ['hi'] }], error: 'PROTOCOL' },
    { name: 'empty line', input: '\r\n', replies: [], error: 'PROTOCOL' },
    { name: 'line of 4096 bytes with CRLF', input: `250 ${'a'.repeat(4090)}\r\n`, replies: [{ code: 250, lines: ['a'.repeat(4090)] }] },
    { name: 'line of 4097 bytes with CRLF', input: `250 ${'a'.repeat(4091)}\r\n`, replies: [], error: 'REPLY_TOO_LONG' },
    { name: 'line of 4096 bytes with bare LF', input: `250 ${'a'.repeat(4091)}\n`, replies: [{ code: 250, lines: ['a'.repeat(4091)] }] },
    { name: 'unterminated 4095 bytes: still waiting', input: `250 ${'a'.repeat(4091)}`, replies: [], rest: 4095 },
    { name: 'unterminated 4096 bytes: cannot fit any more', input: `250 ${'a'.repeat(4092)}`, replies: [], error: 'REPLY_TOO_LONG' },
    { name: '100 lines', input: `${'250-x\r\n'.repeat(99)}250 x\r\n`, replies: [{ code: 250, lines: Array(100).fill('x') }] },
    { name: '101 lines', input: `${'250-x\r\n'.repeat(100)}250 x\r\n`, replies: [], error: 'REPLY_TOO_LONG' },
    { name: 'over 64 KiB in one reply', input: `${`250-${'x'.repeat(4000)}\r\n`.repeat(17)}250 x\r\n`, replies: [], error: 'REPLY_TOO_LONG' },
  ];

  it.each(table)('$name', ({ input, replies, error, rest }) => {
    const whole = parseReplies(input);
    expect(whole.replies).toEqual(replies);
    expect(whole.error?.code).toBe(error);
    if (rest !== undefined) expect(whole.rest).toBe(rest);

    // the same result when the bytes arrive one at a time
    const reader = new ReplyReader();
    const got: SmtpReply[] = [];
    for (const byte of Buffer.from(input)) {
      reader.push(Buffer.from([byte]));
      for (let r = reader.shift(); r; r = reader.shift()) got.push(r);
    }
    expect(got).toEqual(replies);
    expect(reader.error?.code).toBe(error);
  });

  it('a multi-megabyte line fails as soon as the bound is passed', () => {
    const reader = new ReplyReader();
    reader.push(Buffer.from('250 '));
    reader.push(Buffer.alloc(MAX_LINE_BYTES, 'a'));
    expect(reader.error?.code).toBe('REPLY_TOO_LONG');
    reader.push(Buffer.alloc(8 * 1024 * 1024, 'a'));
    expect(reader.pendingBytes).toBe(0);
  });

  it('bounds unread replies', () => {
    const reader = new ReplyReader();
    const chunk = Buffer.from('250 ok\r\n'.repeat(8192));
    for (let i = 0; i * chunk.length <= MAX_UNREAD_BYTES && !reader.error; i++) reader.push(chunk);
    expect(reader.error?.code).toBe('REPLY_TOO_LONG');
  });

  it('an error is sticky', () => {
    const reader = new ReplyReader();
    reader.push(Buffer.from('xyz\r\n'));
    reader.push(Buffer.from('250 ok\r\n'));
    expect(reader.shift()).toBeUndefined();
    expect(reader.error?.code).toBe('PROTOCOL');
  });

  it('discard() drops queued replies, partial replies and partial lines, and counts their bytes (RFC 3207 §5)', () => {
    const reader = new ReplyReader();
    reader.push(Buffer.from('220 go\r\n250 fake\r\n250-more\r\n250 par'));
    expect(reader.shift()).toEqual({ code: 220, lines: ['go'] });
    expect(reader.discard()).toBe('250 fake\r\n250-more\r\n250 par'.length);
    expect(reader.shift()).toBeUndefined();
    expect(reader.pendingBytes).toBe(0);
    reader.push(Buffer.from('250 real\r\n'));
    expect(reader.shift()).toEqual({ code: 250, lines: ['real'] });
  });

  it('midReply tells a clean close from a close inside a reply', () => {
    const reader = new ReplyReader();
    expect(reader.midReply).toBe(false);
    reader.push(Buffer.from('250-a\r\n'));
    expect(reader.midReply).toBe(true);
    reader.push(Buffer.from('250 b\r\n'));
    expect(reader.midReply).toBe(false);
    reader.push(Buffer.from('2'));
    expect(reader.midReply).toBe(true);
  });
});

describe('EHLO extensions (RFC 5321 §4.1.1.1)', () => {
  const table: [string[], Record<string, string>][] = [
    [['mx greets you'], {}],
    [['mx', 'PIPELINING', 'SIZE 10240000', '8BITMIME', 'STARTTLS'], { PIPELINING: '', SIZE: '10240000', '8BITMIME': '', STARTTLS: '' }],
    [['mx', 'starttls', 'Size  100 ', 'auth PLAIN  LOGIN'], { STARTTLS: '', SIZE: '100', AUTH: 'PLAIN LOGIN' }],
    [['mx', 'AUTH=LOGIN', '-BAD', '', ' SMTPUTF8'], { SMTPUTF8: '' }],
    [['mx', 'SIZE 1', 'SIZE 2'], { SIZE: '1' }],
    [['mx', '__proto__', 'X-EXPS GSSAPI'], { 'X-EXPS': 'GSSAPI' }],
  ];
  it.each(table)('%j', (lines, expected) => {
    expect(parseEhloExtensions({ code: 250, lines })).toEqual(expected);
  });
});

describe('small helpers', () => {
  it.each([
    [{ code: 250, lines: ['2.0.0 Ok: queued as X'] }, '250 2.0.0 Ok: queued as X'],
    [{ code: 550, lines: ['5.1.1 no such user', '5.1.1 really'] }, '550 5.1.1 no such user 5.1.1 really'],
    [{ code: 221, lines: [''] }, '221'],
  ] as [SmtpReply, string][])('formatReply %j', (reply, text) => {
    expect(formatReply(reply)).toBe(text);
  });

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['0', undefined],
    ['1000', 1000],
    ['10240000', 10240000],
    ['-5', undefined],
    ['1e6', undefined],
    ['99999999999999999999', undefined],
  ])('sizeLimit(%j) = %j (RFC 1870)', (param, limit) => {
    expect(sizeLimit(param)).toBe(limit);
  });

  it('replyClass', () => {
    expect([220, 354, 451, 550].map(replyClass)).toEqual([2, 3, 4, 5]);
  });
});

describe('isTooManyRecipients (RFC 5321 §4.5.3.1.10, RFC 3463 §3.6 X.5.3)', () => {
  it.each([
    ['452 4.5.3 Too many recipients', true],
    ['452 Too many recipients', true],
    ['552 too many recipients', true],
    ['552 5.5.3 Too many recipients', true],
    ['552 4.5.3 odd but X.5.3', true],
    ['452 4.2.2 Mailbox full', false],
    ['452 4.3.1 Insufficient system storage', false],
    ['552 5.2.2 Mailbox full', false],
    ['552 5.3.4 Message too big', false],
    ['550 5.5.3 Too many recipients', false],
    ['451 4.5.3 Too many recipients', false],
    ['450 too many recipients', false],
    ['452 4.5.30 not X.5.3', false],
  ])('%j → %s', (text, expected) => {
    const reply = parseReplies(`${text}\r\n`).replies[0]!;
    expect(isTooManyRecipients(reply)).toBe(expected);
  });

  it('enhancedStatus reads the first line only', () => {
    expect(enhancedStatus({ code: 452, lines: ['4.5.3 a', '4.2.2 b'] })).toEqual({ class: 4, subject: 5, detail: 3 });
    expect(enhancedStatus({ code: 452, lines: ['too many 4.5.3'] })).toBeUndefined();
    expect(enhancedStatus({ code: 452, lines: [] })).toBeUndefined();
  });
});

describe('rcptMax (RFC 9422 LIMITS)', () => {
  it.each([
    ['RCPTMAX=100', 100],
    ['MAILMAX=1000 RCPTMAX=50000', 50000],
    ['rcptmax=2', 2],
    ['RCPTDOMAINMAX X_FUTURE=a:b RCPTMAX=7', 7],
    ['RCPTMAX=999999', 999999],
    ['RCPTMAX=3 RCPTMAX=3', 3],
    ['bad;token RCPTMAX=5', 5],
    [undefined, undefined],
    ['', undefined],
    ['MAILMAX=10', undefined],
    ['RCPTMAX', undefined],
    ['RCPTMAX=', undefined],
    ['RCPTMAX=0', undefined],
    ['RCPTMAX=1000000', undefined],
    ['RCPTMAX=1e3', undefined],
    ['RCPTMAX=-1', undefined],
    ['RCPTMAX=2 RCPTMAX=3', undefined],
    ['XRCPTMAX=2', undefined],
  ])('%j → %j', (param, expected) => {
    expect(rcptMax(param)).toBe(expected);
  });
});
