/**
 * 8-bit MIME → 7-bit MIME for a server without 8BITMIME (RFC 6152 §3), as Postfix does
 * (disable_mime_output_conversion = no): src/smtp/mime-downgrade.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MIME_DEPTH, downgradeMime } from '../../../src/smtp/mime-downgrade.js';
import { dotStuff, prepareMessage } from '../../../src/smtp/message.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const s = (x: Buffer) => x.toString('latin1');
const lines = (x: Buffer) => s(x).split('\r\n');

/** Strict RFC 2045 §6.7 decoder: lines ≤ 76, no trailing white space, soft breaks removed, =XX decoded, anything else a literal. */
function decodeQp(text: string): Buffer {
  const out: number[] = [];
  const ls = text.split('\r\n');
  ls.forEach((line, n) => {
    const m = /^((?:[\t\x20-\x3c\x3e-\x7e]|=[0-9A-F]{2})*)(=?)$/.exec(line);
    if (!m || line.length > 76 || /[ \t]$/.test(line)) throw new Error(`bad QP line ${JSON.stringify(line)}`);
    const soft = m[2] === '=';
    const body = soft ? line.slice(0, -1) : line;
    for (let i = 0; i < body.length; i++) {
      if (body[i] === '=') {
        out.push(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else out.push(body.charCodeAt(i));
    }
    if (!soft && n < ls.length - 1) out.push(0x0d, 0x0a);
  });
  return Buffer.from(out);
}

/** Header section and body of a (top-level) message. */
function split(x: Buffer): [string, Buffer] {
  const at = x.indexOf('\r\n\r\n');
  return [s(x.subarray(0, at + 2)), x.subarray(at + 4)];
}

const TOP = 'MIME-Version: 1.0\r\nFrom: a@example.test\r\nSubject: t\r\n';

describe('downgradeMime: single part', () => {
  it.each([
    ['Content-Transfer-Encoding: 8bit', 'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n'],
    ['no Content-Transfer-Encoding', 'Content-Type: text/plain; charset=utf-8\r\n'],
    ['mislabelled 7bit', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7BIT (sic)\r\n'],
    ['no Content-Type either', ''],
  ])('text/plain with 8-bit octets, %s → quoted-printable that decodes back', (_n, headers) => {
    const body = b('Caf\xe9 cr\xe8me = 100%\r\n\r\nLigne 2 avec \xe9\xe8\xe0\r\n');
    const r = downgradeMime(Buffer.concat([b(TOP + headers + '\r\n'), body]));
    expect(r.converted).toBe(1);
    expect(r.unconverted).toBeUndefined();
    const [head, out] = split(r.body);
    // every header kept in order; the Content-Transfer-Encoding header replaced in place or added last
    const expected = (TOP + headers).replace(/^Content-Transfer-Encoding:.*\r\n/im, '');
    const cteAt = /Content-Transfer-Encoding/.test(headers) ? head.indexOf('Content-Transfer-Encoding') : expected.length;
    expect(head.slice(0, cteAt)).toBe(expected.slice(0, cteAt));
    expect(head.slice(cteAt)).toBe(`Content-Transfer-Encoding: quoted-printable\r\n${expected.slice(cteAt)}`);
    expect(s(out)).toBe('Caf=E9 cr=E8me =3D 100%\r\n\r\nLigne 2 avec =E9=E8=E0\r\n');
    expect(decodeQp(s(out))).toEqual(body);
  });

  it('an 8-bit-labelled part without 8-bit octets is left as it is', () => {
    const msg = b(`${TOP}Content-Transfer-Encoding: 8bit\r\n\r\nplain ascii\r\n`);
    expect(downgradeMime(msg)).toEqual({ body: msg, converted: 0 });
  });

  it('an ASCII-only MIME message comes back byte-identical (the same buffer)', () => {
    const msg = b(`${TOP}Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi = there \r\n--x--\r\n`);
    const r = downgradeMime(msg);
    expect(r.body).toBe(msg);
    expect(r).toEqual({ body: msg, converted: 0 });
  });

  it('a non-MIME 8-bit message is sent as is (Postfix too), and says why', () => {
    const msg = b('From: a@example.test\r\nSubject: t\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9\r\n');
    const r = downgradeMime(msg);
    expect(r.body).toBe(msg);
    expect(r).toMatchObject({ converted: 0, unconverted: 'not a MIME message (no MIME-Version header)' });
  });

  it('binary Content-Transfer-Encoding is left as it is and reported', () => {
    const msg = b(`${TOP}Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\xff\xfe\r\n`);
    const r = downgradeMime(msg);
    expect(r.body).toBe(msg);
    expect(r).toMatchObject({ converted: 0, unconverted: 'binary Content-Transfer-Encoding' });
  });

  it('8-bit header bytes are left (Postfix does not convert them) and reported; the body is still converted', () => {
    const msg = b(`${TOP}X-Note: d\xe9j\xe0 vu\r\n\r\n\xe9\r\n`);
    const r = downgradeMime(msg);
    expect(r.converted).toBe(1);
    expect(r.unconverted).toBe('8-bit header');
    expect(s(r.body)).toBe(`${TOP}X-Note: d\xe9j\xe0 vu\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n`);
  });

  it('8-bit octets in a part already labelled base64 or quoted-printable: left and reported', () => {
    const msg = b(`${TOP}Content-Transfer-Encoding: base64\r\n\r\n\xe9\r\n`);
    expect(downgradeMime(msg)).toMatchObject({ body: msg, converted: 0, unconverted: '8-bit data in a part labelled base64' });
  });

  it('very long lines: soft line breaks keep every line within 76 characters, =XX never split', () => {
    const body = b(`${'\xe9'.repeat(500)}\r\n${'a'.repeat(3000)}\xe9\r\n${'x='.repeat(400)}\r\n`);
    const r = downgradeMime(Buffer.concat([b(`${TOP}\r\n`), body]));
    const [, out] = split(r.body);
    for (const l of lines(out)) expect(l.length).toBeLessThanOrEqual(76);
    expect(lines(out).filter((l) => l.endsWith('=')).length).toBeGreaterThan(40);
    expect(decodeQp(s(out))).toEqual(body);
    // and prepareMessage then has no line over 998 to break
    expect(prepareMessage(Buffer.concat([b(`${TOP}\r\n`), body]), { downgrade: true }).brokenLines).toBe(0);
  });

  it("trailing spaces and tabs are encoded (RFC 2045 §6.7 rule 3); inner ones and those before a soft break are kept", () => {
    const body = b(`\xe9 a \t\r\nend \r\n \r\n\t\r\n${'b '.repeat(60)}`);
    const r = downgradeMime(Buffer.concat([b(`${TOP}\r\n`), body]));
    const [, out] = split(r.body);
    expect(lines(out).slice(0, 4)).toEqual(['=E9 a =09', 'end=20', '=20', '=09']);
    expect(decodeQp(s(out))).toEqual(body);
  });

  it("lines starting with '.' or 'From ': '.' is left to dot-stuffing, 'From ' becomes '=46rom '", () => {
    const body = b('.\r\n.hidden \xe9\r\nFrom me\r\nFromage\r\n');
    const r = downgradeMime(Buffer.concat([b(`${TOP}\r\n`), body]));
    const [, out] = split(r.body);
    expect(s(out)).toBe('.\r\n.hidden =E9\r\n=46rom me\r\nFromage\r\n');
    expect(decodeQp(s(out))).toEqual(body);
    expect(s(dotStuff(r.body))).toContain('\r\n..\r\n..hidden =E9\r\n');
  });
});

describe('downgradeMime: MIME structure', () => {
  const alt = [
    'Content-Type: multipart/alternative; boundary="=_alt 1"',
    '',
    'This is a multi-part message in MIME format. (preamble)',
    '--=_alt 1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'ASCII only = unchanged ',
    '--=_alt 1  ',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    '<p>caf\xc3\xa9</p>',
    '--=_alt 1--',
    'epilogue',
    '',
  ].join('\r\n');

  it('multipart/alternative: only the 8-bit part changes; preamble, ASCII part, padding and epilogue kept', () => {
    const r = downgradeMime(b(TOP + alt));
    expect(r).toMatchObject({ converted: 1 });
    expect(r.unconverted).toBeUndefined();
    expect(s(r.body)).toBe(TOP + alt.replace('Content-Transfer-Encoding: 8bit', 'Content-Transfer-Encoding: quoted-printable').replace('caf\xc3\xa9', 'caf=C3=A9'));
  });

  it('nested multiparts; the outer 8bit label becomes 7bit once nothing 8-bit is left', () => {
    const msg = [
      'Content-Type: multipart/mixed; boundary=outer',
      'Content-Transfer-Encoding: 8bit',
      '',
      '--outer',
      'Content-Type: multipart/alternative;',
      '\tboundary="inner"',
      '',
      '--inner',
      '',
      'premi\xe8re',
      '--inner',
      'Content-Type: text/html',
      '',
      'ascii',
      '--inner--',
      '--outer',
      'Content-Type: image/png; name="x.png"',
      'Content-Transfer-Encoding: base64',
      '',
      'iVBORw0KGgo=',
      '--outer--',
      '',
    ].join('\r\n');
    const r = downgradeMime(b(TOP + msg));
    expect(r).toMatchObject({ converted: 1 });
    expect(r.unconverted).toBeUndefined();
    expect(s(r.body)).toBe(
      TOP +
        msg
          .replace('Content-Transfer-Encoding: 8bit', 'Content-Transfer-Encoding: 7bit')
          .replace('--inner\r\n\r\npremi\xe8re', '--inner\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\npremi=E8re'),
    );
  });

  it('message/rfc822 with 8-bit inside: the enclosed message is walked, its enclosing label becomes 7bit', () => {
    const msg = [
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: 8bit',
      '',
      'From: c@example.test',
      'Subject: inner',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'gr\xc3\xbc\xc3\x9fe',
      '--b--',
      '',
    ].join('\r\n');
    const r = downgradeMime(b(TOP + msg));
    expect(r).toMatchObject({ converted: 1 });
    expect(r.unconverted).toBeUndefined();
    const out = s(r.body);
    expect(out).toContain('Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nFrom: c@example.test');
    expect(out).toContain('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ngr=C3=BC=C3=9Fe\r\n--b--');
  });

  it('an 8-bit header inside message/rfc822 is reported and the enclosing 8bit label kept', () => {
    const msg = `Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: \xe9\r\n\r\n\xe9\r\n`;
    const r = downgradeMime(b(TOP + msg));
    expect(r).toMatchObject({ converted: 1, unconverted: '8-bit header' });
    expect(s(r.body)).toBe(`${TOP}Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: \xe9\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n`);
  });

  it('multipart/digest: parts are message/rfc822 by default (RFC 2046 §5.1.5)', () => {
    const msg = 'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\n\xe9\r\n--d--\r\n';
    const r = downgradeMime(b(TOP + msg));
    expect(s(r.body)).toBe(`${TOP}Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n--d--\r\n`);
  });

  it.each([
    ['no boundary parameter', 'Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\n\xe9\r\n--x--\r\n', 'malformed MIME (a multipart without one clear boundary)'],
    ['two different boundaries', 'Content-Type: multipart/mixed; boundary=x; boundary=y\r\n\r\n--x\r\n\r\n\xe9\r\n', 'malformed MIME (a multipart without one clear boundary)'],
    ['a boundary that never appears', 'Content-Type: multipart/mixed; boundary=x\r\n\r\n--y\r\n\r\n\xe9\r\n', 'malformed MIME (a multipart without its boundary lines)'],
    ['a part header section without an empty line', 'Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\xe9 not a header\r\n--x--\r\n', 'malformed MIME (a header section not ended by an empty line)'],
    ['8-bit in the preamble', 'Content-Type: multipart/mixed; boundary=x\r\n\r\npr\xe9amble\r\n--x\r\n\r\nok\r\n--x--\r\n', '8-bit data in a multipart preamble or epilogue'],
    ['message/partial', 'Content-Type: message/partial; id=1; number=1\r\n\r\n\xe9\r\n', '8-bit data in message/partial'],
    ['multipart labelled quoted-printable', 'Content-Type: multipart/mixed; boundary=x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n--x\r\n\r\n\xe9\r\n', 'malformed MIME (multipart/mixed with Content-Transfer-Encoding quoted-printable)'],
  ])('malformed or unconvertible: %s → left unchanged, reported', (_n, msg, why) => {
    const input = b(TOP + msg);
    const r = downgradeMime(input);
    expect(r).toEqual({ body: input, converted: 0, unconverted: why });
  });

  it('an unterminated multipart: the parts that are there are converted; an outer delimiter ends an inner multipart', () => {
    const msg = 'Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\n\xe9\r\n--o\r\n\r\n\xe8\r\n';
    const r = downgradeMime(b(TOP + msg));
    expect(r).toMatchObject({ converted: 2 });
    expect(r.unconverted).toBeUndefined();
    expect(s(r.body)).toBe(
      `${TOP}Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n--o\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E8\r\n`,
    );
  });

  it('absurd nesting: converts down to MAX_MIME_DEPTH, leaves the rest, quickly', () => {
    const depth = 5000;
    const open = Array.from({ length: depth }, (_, i) => `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`).join('');
    const msg = b(`${TOP}${open}\r\n\xe9\r\n`);
    const t0 = Date.now();
    const r = downgradeMime(msg);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.body).toBe(msg);
    expect(r).toMatchObject({ converted: 0, unconverted: 'MIME nesting too deep' });
    const shallow = b(`${TOP}${open.split('\r\n--').slice(0, 3).join('\r\n--')}\r\n--b2\r\n\r\n\xe9\r\n`);
    expect(downgradeMime(shallow).converted).toBe(1);
    expect(MAX_MIME_DEPTH).toBeLessThan(depth);
  });

  it('stays linear: 8 MiB of delimiter-looking lines, 8 MiB of 8-bit text', () => {
    const many = b(`${TOP}Content-Type: multipart/mixed; boundary=x\r\n\r\n${'--y\r\n--x-\r\n'.repeat(800_000)}--x\r\n\r\n\xe9\r\n--x--\r\n`);
    let t0 = Date.now();
    expect(downgradeMime(many).converted).toBe(1);
    expect(Date.now() - t0).toBeLessThan(3000);
    const line = `${'\xe9a'.repeat(40)}\r\n`;
    const big = b(`${TOP}\r\n${line.repeat(100_000)}`);
    t0 = Date.now();
    const r = downgradeMime(big);
    expect(Date.now() - t0).toBeLessThan(3000);
    const one = s(split(downgradeMime(b(`${TOP}\r\n${line}`)).body)[1]);
    expect(decodeQp(one)).toEqual(b(line));
    expect(s(split(r.body)[1]) === one.repeat(100_000)).toBe(true);
  });

  it('never throws on hostile inputs', () => {
    for (const input of ['', '\r\n', 'MIME-Version: 1.0', 'MIME-Version: 1.0\r\n\r\n', 'MIME-Version: 1.0\r\nContent-Type: multipart/x; boundary=""\r\n\r\n--\r\n\xe9', 'MIME-Version: 1.0\r\nContent-Type: (((\r\n\r\n\xe9', 'MIME-Version: 1.0\r\nContent-Type: multipart/x; boundary="a\r\n\r\n--a\r\n\xe9', '\xff\xfe\r\n\r\n\xe9']) {
      expect(() => downgradeMime(b(input))).not.toThrow();
    }
  });
});

// ---------------------------------------------------------------- property

interface Leaf {
  kind: 'leaf';
  id: number;
  ctype: string;
  cte: string | undefined;
  header8: boolean;
  body: Buffer;
}
interface Multi {
  kind: 'multi';
  id: number;
  subtype: string;
  cte: string | undefined;
  parts: Node[];
}
interface Msg {
  kind: 'msg';
  id: number;
  inner: Node;
}
type Node = Leaf | Multi | Msg;

// Bodies never contain ',' or '@' (used in boundaries and ids) and lines of ASCII stay short.
const piece = fc.oneof(
  fc.constantFrom('a', 'text ', ' ', '\t', '=', '.', 'From ', '-', '--', '\r\n', '\r\n.', '\r\nFrom x', '\x00', '\x7f', 'x'.repeat(40)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 100, max: 1500 }).map((n) => '\xe9'.repeat(n)),
);
const bodyArb = fc.array(piece, { maxLength: 20 }).map((a) => b(a.join('')));
const leafArb = fc.record({
  ctype: fc.constantFrom('text/plain; charset=utf-8', 'text/html', 'application/octet-stream', undefined),
  cte: fc.constantFrom(undefined, '7bit', '8bit', '8BIT'),
  header8: fc.boolean(),
  body: bodyArb,
});
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('multi'), tie('msg')),
  leaf: leafArb.map((l) => ({ kind: 'leaf' as const, ...l })),
  multi: fc.record({ subtype: fc.constantFrom('mixed', 'alternative', 'related'), cte: fc.constantFrom(undefined, '7bit', '8bit'), parts: fc.array(tie('tree'), { minLength: 1, maxLength: 4 }) }).map((m) => ({ kind: 'multi' as const, ...m })),
  msg: tie('tree').map((inner) => ({ kind: 'msg' as const, inner })),
}));

type Unnumbered = { kind: 'leaf'; ctype: string | undefined; cte: string | undefined; header8: boolean; body: Buffer } | { kind: 'multi'; subtype: string; cte: string | undefined; parts: Unnumbered[] } | { kind: 'msg'; inner: Unnumbered };

/** A copy of the generated tree with an id on every node (the generated values are never changed). */
function number(node: Unnumbered, next = { id: 0 }): Node {
  const id = next.id++;
  if (node.kind === 'multi') return { ...node, id, parts: node.parts.map((p) => number(p, next)) };
  if (node.kind === 'msg') return { ...node, id, inner: number(node.inner, next) };
  return { ...node, id, ctype: node.ctype ?? '' };
}

/** The entity's header lines and body (the top-level one adds MIME-Version). */
function render(node: Node, top: boolean): string {
  const h: string[] = top ? ['MIME-Version: 1.0', 'From: a@example.test'] : [];
  h.push(`X-Id: @${node.id}@`);
  if (node.kind === 'leaf') {
    if (node.ctype) h.push(`Content-Type: ${node.ctype}`);
    if (node.cte) h.push(`Content-Transfer-Encoding: ${node.cte}`);
    if (node.header8) h.push('X-Eight: d\xe9j\xe0');
    return `${h.join('\r\n')}\r\n\r\n${s(node.body)}`;
  }
  if (node.kind === 'multi') {
    const bd = `,b${node.id},`;
    h.push(`Content-Type: multipart/${node.subtype}; boundary="${bd}"`);
    if (node.cte) h.push(`Content-Transfer-Encoding: ${node.cte}`);
    return `${h.join('\r\n')}\r\n\r\npreamble\r\n${node.parts.map((p) => `--${bd}\r\n${render(p, false)}\r\n`).join('')}--${bd}--\r\nepilogue\r\n`;
  }
  h.push('Content-Type: message/rfc822', 'Content-Transfer-Encoding: 8bit');
  return `${h.join('\r\n')}\r\n\r\n${render(node.inner, false)}`;
}

function leaves(node: Node, up: string | undefined, out: [Leaf, string | undefined][] = []): [Leaf, string | undefined][] {
  if (node.kind === 'leaf') out.push([node, up]);
  else if (node.kind === 'multi') for (const p of node.parts) leaves(p, `,b${node.id},`, out);
  else leaves(node.inner, up, out);
  return out;
}

const has8 = (x: Buffer) => x.some((c) => c >= 0x80);

describe('downgradeMime: property (random MIME trees, random 8-bit bodies)', () => {
  it('every output line is 7-bit and ≤ 998 octets (but 8-bit headers), and each converted part decodes to its original body', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const root = number(t as Unnumbered);
        const input = b(render(root, true));
        const r = downgradeMime(input);
        const out = s(r.body);
        const all = leaves(root, undefined);
        for (const line of out.split('\r\n')) {
          if (line.startsWith('X-Eight: ')) continue;
          expect(line.length).toBeLessThanOrEqual(998);
          expect(has8(b(line)), JSON.stringify(line)).toBe(false);
        }
        expect(r.converted).toBe(all.filter(([l]) => has8(l.body)).length);
        expect(r.unconverted).toBe(all.some(([l]) => l.header8) ? '8-bit header' : undefined);
        for (const [leaf, boundary] of all) {
          const at = out.indexOf(`X-Id: @${leaf.id}@\r\n`);
          const bodyStart = out.indexOf('\r\n\r\n', at) + 4;
          const end = boundary === undefined ? out.length : out.indexOf(`\r\n--${boundary}`, bodyStart);
          const head = out.slice(at, bodyStart);
          const body = out.slice(bodyStart, end);
          if (has8(leaf.body)) {
            expect(head).toMatch(/^Content-Transfer-Encoding: quoted-printable\r\n/m);
            expect(head.match(/Content-Transfer-Encoding/g)).toHaveLength(1);
            expect(decodeQp(body)).toEqual(leaf.body);
          } else {
            expect(b(body)).toEqual(leaf.body);
          }
        }
        if (r.converted === 0 && r.unconverted === undefined) expect(r.body).toBe(input);
      }),
      { seed: 0x7672_6152, numRuns: Number(process.env.FUZZ_RUNS ?? 0) || 300, endOnFailure: true },
    );
  });
});
