/**
 * Property-based fuzzing (fast-check, fixed seeds, a bounded number of runs) of every parser
 * that reads untrusted or user input. Each may only fail with its documented error type,
 * never a TypeError / RangeError / anything else, and must terminate:
 *
 *   parseMessage (DNS wire)            → WireFormatError
 *   answerFromMessage, recordUsability → never throw (results)
 *   ReplyReader / parseReplies (SMTP)  → never throw; errors are results with PROTOCOL / REPLY_TOO_LONG
 *   parsePolicyTable                   → PolicySyntaxError
 *   parseMaterial (PEM / DER, `tlsa`)  → DaneSmtpError('USAGE')
 *   parseZoneTlsa (`tlsa` RRset text)  → DaneSmtpError('USAGE')
 *
 * Inputs that ever broke a parser are kept under test/fuzz/corpus/<parser>/ and replayed
 * by the last describe block (FUZZ_RUNS=n raises the number of runs locally).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { recordUsability } from '../../src/dane/tlsa.js';
import { answerFromMessage } from '../../src/dns/stub.js';
import { WireFormatError, parseMessage, type WireMessage } from '../../src/dns/wire.js';
import type { TlsaData } from '../../src/dns/types.js';
import { DaneSmtpError } from '../../src/errors.js';
import { PolicySyntaxError, parsePolicyTable } from '../../src/policy/table.js';
import { MAX_UNREAD_BYTES, ReplyReader, parseEhloExtensions, parseReplies } from '../../src/smtp/reply.js';
import { parseMaterial } from '../../src/tools/tlsa/material.js';
import { parseZoneTlsa } from '../../src/tools/tlsa/zone.js';
import { testPki } from '../support/test-certs.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;
const params = (seed: number, numRuns: number) => ({ seed, numRuns: RUNS ?? numRuns, endOnFailure: true });
const CORPUS = join(import.meta.dirname, '..', 'fuzz', 'corpus');

/** Runs `fn`; returns normally, or rethrows anything that is not an instance of `allowed`. */
function onlyThrows(allowed: new (...a: never[]) => Error, fn: () => unknown, check?: (e: Error) => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof allowed)) throw new Error(`unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    check?.(e);
  }
}

// ---------------------------------------------------------------- DNS

function seeds(): Buffer[] {
  const q = { name: 'mx.example.test', type: 'A' as const, class: 'IN' as const };
  const base = { type: 'response' as const, id: 4660, flags: dnsPacket.AUTHENTIC_DATA | dnsPacket.RECURSION_DESIRED };
  return [
    dnsPacket.encode({ ...base, questions: [q], answers: [{ type: 'A', name: q.name, ttl: 60, data: '192.0.2.1' }, { type: 'CNAME', name: 'x.example.test', ttl: 60, data: 'mx.example.test' }] }),
    dnsPacket.encode({ ...base, questions: [{ ...q, type: 'MX' }], answers: [{ type: 'MX', name: 'example.test', ttl: 60, data: { preference: 10, exchange: 'mx.example.test' } }] }),
    dnsPacket.encode({
      ...base,
      questions: [{ ...q, name: '_25._tcp.mx.example.test', type: 'TLSA' as never }],
      answers: [{ type: 'TLSA', name: '_25._tcp.mx.example.test', ttl: 60, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) } } as never],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK, options: [{ code: 15, data: Buffer.from([0, 6, 0x41]) }] } as never],
    }),
    dnsPacket.encode({ ...base, questions: [{ ...q, name: '', type: 'SOA' }], answers: [{ type: 'SOA', name: '', ttl: 60, data: { mname: 'a.root', rname: 'h.root', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 } }] }),
    dnsPacket.encode({ ...base, questions: [{ ...q, type: 'AAAA' }], answers: [{ type: 'AAAA', name: q.name, ttl: 60, data: '2001:db8::1' }] }),
  ];
}

/** A seed message with a few bytes overwritten, inserted or cut: near-valid inputs reach deep. */
const mutated = fc
  .tuple(
    fc.integer({ min: 0, max: 4 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 6 }),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([which, edits, cut]) => {
    let b = Buffer.from(seeds()[which]!);
    for (const [pos, value, op] of edits) {
      const p = b.length ? pos % b.length : 0;
      if (op === 'set') b[p] = value;
      else if (op === 'insert') b = Buffer.concat([b.subarray(0, p), Buffer.from([value]), b.subarray(p)]);
      else b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1)]);
    }
    return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
  });

/** A header + question followed by random bytes (arbitrary records, pointers, lengths). */
const headerThenNoise = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }), fc.uint8Array({ maxLength: 300 }))
  .map(([counts, noise]) => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(0x8180 | 0x20, 2);
    counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
    return Buffer.concat([h, Buffer.from(noise)]);
  });

function checkParsed(msg: WireMessage): void {
  for (const type of ['A', 'AAAA', 'MX', 'TLSA', 'CNAME', 'SOA', 'NS'] as const) {
    const name = msg.questions[0]?.name ?? 'x';
    const ans = answerFromMessage(msg, name, type, new Date(0));
    expect(['data', 'nodata', 'nxdomain', 'failed']).toContain(ans.status);
    if (type === 'TLSA' && ans.status === 'data') for (const r of ans.records) recordUsability(r as TlsaData);
  }
  for (const r of [...msg.answers, ...msg.authorities, ...msg.additionals]) {
    if (r.type === 52) recordUsability(r.data as never);
  }
}

describe('fuzz: DNS messages (parseMessage → WireFormatError only)', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        onlyThrows(WireFormatError, () => checkParsed(parseMessage(Buffer.from(bytes))));
      }),
      params(0x7672_0001, 3000),
    );
  });

  it('mutated valid answers (A, MX, TLSA + OPT/EDE, SOA, AAAA)', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        onlyThrows(WireFormatError, () => checkParsed(parseMessage(bytes)));
      }),
      params(0x7672_0002, 4000),
    );
  });

  it('a header with counts then noise (pointers, lengths, RDATA)', () => {
    fc.assert(
      fc.property(headerThenNoise, (bytes) => {
        onlyThrows(WireFormatError, () => checkParsed(parseMessage(bytes)));
      }),
      params(0x7672_0003, 3000),
    );
  });

  it('TLSA RDATA of any length and content: parsed as is, usability never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 300 }), (rdata, rdlen) => {
        const owner = Buffer.from([3, 0x5f, 0x32, 0x35, 0]);
        const rr = Buffer.alloc(10);
        rr.writeUInt16BE(52, 0);
        rr.writeUInt16BE(1, 2);
        rr.writeUInt32BE(60, 4);
        rr.writeUInt16BE(rdlen, 8);
        const h = Buffer.alloc(12);
        h.writeUInt16BE(0x81a0, 2);
        h.writeUInt16BE(1, 6);
        const msg = Buffer.concat([h, owner, rr, Buffer.from(rdata)]);
        onlyThrows(WireFormatError, () => {
          const m = parseMessage(msg);
          checkParsed(m);
          // RDLENGTH is the law: exactly rdlen bytes of RDATA when it parses.
          const t = m.answers[0]!.data as { data: Buffer };
          expect(3 + t.data.length).toBe(rdlen);
        });
      }),
      params(0x7672_0004, 3000),
    );
  });
});

// ---------------------------------------------------------------- SMTP replies

const replyBytes = fc.array(
  fc.oneof(
    fc.constantFrom('250', '250-', '250 ', '220 ', '354 ', '421 ', '550-', '5', '\r\n', '\n', '\r', ' ', '-', 'STARTTLS', 'SIZE 10', '\u00ff', '\u0000'),
    fc.string({ maxLength: 20 }),
  ),
  { maxLength: 60 },
);

describe('fuzz: SMTP replies (ReplyReader / parseReplies never throw, stay bounded)', () => {
  it('reply-like text, pushed in random chunks', () => {
    fc.assert(
      fc.property(replyBytes, fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }), (parts, cuts) => {
        const data = Buffer.from(parts.join(''), 'latin1');
        const whole = parseReplies(data);
        const reader = new ReplyReader();
        let off = 0;
        for (let i = 0; off < data.length; i++) {
          const n = cuts[i % cuts.length]!;
          reader.push(data.subarray(off, off + n));
          off += n;
          expect(reader.pendingBytes).toBeLessThanOrEqual(MAX_UNREAD_BYTES + 4096);
        }
        const chunked: unknown[] = [];
        for (let r = reader.shift(); r; r = reader.shift()) chunked.push(r);
        // Chunking never changes the result.
        expect(chunked).toEqual(whole.replies);
        expect(reader.error).toEqual(whole.error);
        if (whole.error) expect(['PROTOCOL', 'REPLY_TOO_LONG']).toContain(whole.error.code);
        for (const r of whole.replies) {
          expect(r.code).toBeGreaterThanOrEqual(200);
          expect(r.code).toBeLessThan(600);
          for (const l of r.lines) expect(l).not.toMatch(/[\r\n\u0000]/);
          parseEhloExtensions(r);
        }
      }),
      params(0x7672_0010, 3000),
    );
  });

  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (bytes) => {
        const r = parseReplies(Buffer.from(bytes));
        if (r.error) expect(['PROTOCOL', 'REPLY_TOO_LONG']).toContain(r.error.code);
      }),
      params(0x7672_0011, 1500),
    );
  });
});

// ---------------------------------------------------------------- policy table

const policyTokens = fc.constantFrom(
  'example.com', '.example.com', '[mx.example.com]', '[mx.example.com]:587', '[mx]:99999', '[', ']', ':', '.', '..',
  'none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure', 'match=', 'match=hostname',
  'match=.example.com:nexthop', 'match=AB:CD', `match=${'ab'.repeat(32)}|${'cd'.repeat(64)}`, 'ciphers=high', '=', '#', ' ', '\t', '\n', '\r\n',
  'xn--bcher-kva.example', 'bücher.example', '\u0000', '\\', '"',
);

describe('fuzz: policy table (parsePolicyTable → PolicySyntaxError only)', () => {
  it('token soup', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(policyTokens, fc.string({ maxLength: 8 })), { maxLength: 30 }), (tokens) => {
        onlyThrows(PolicySyntaxError, () => parsePolicyTable(tokens.join(' '), 'fuzz.cf'), (e) => expect(e.message).toMatch(/^fuzz\.cf:\d+: /));
      }),
      params(0x7672_0020, 3000),
    );
  });

  it('any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        onlyThrows(PolicySyntaxError, () => parsePolicyTable(text, 'fuzz.cf'));
      }),
      params(0x7672_0021, 400),
    );
  });
});

// ---------------------------------------------------------------- PEM / DER for `tlsa`

function isUsage(e: Error): void {
  expect((e as DaneSmtpError).code).toBe('USAGE');
  expect(e.message).not.toMatch(/\n/);
}

describe('fuzz: key material (parseMaterial → DaneSmtpError USAGE only)', () => {
  const pki = testPki();
  const pem = pki.leaf.pem + pki.intermediate.pem;
  const der = Buffer.concat([pki.leaf.der, pki.intermediate.der]);
  const mutate = (src: Buffer) =>
    fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 5 })
      .chain((edits) => fc.option(fc.nat(), { nil: undefined }).map((cut) => ({ edits, cut })))
      .map(({ edits, cut }) => {
        let b = Buffer.from(src);
        for (const [pos, v, del] of edits) {
          const p = pos % b.length;
          if (del) b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1)]);
          else b[p] = v;
        }
        return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
      });

  it('mutated DER chains', () => {
    fc.assert(
      fc.property(mutate(der), (bytes) => {
        onlyThrows(DaneSmtpError, () => parseMaterial(bytes, 'fuzz.der'), isUsage);
      }),
      params(0x7672_0030, 1500),
    );
  });

  it('mutated PEM chains (base64, labels, headers)', () => {
    fc.assert(
      fc.property(mutate(Buffer.from(pem)), (bytes) => {
        onlyThrows(DaneSmtpError, () => parseMaterial(bytes, 'fuzz.pem'), isUsage);
      }),
      params(0x7672_0031, 1500),
    );
  });

  it('PEM-shaped text with random labels and bodies', () => {
    const label = fc.constantFrom('CERTIFICATE', 'TRUSTED CERTIFICATE', 'PUBLIC KEY', 'RSA PUBLIC KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'X509 CRL', 'FOO', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(label, label, fc.uint8Array({ maxLength: 120 }), fc.boolean()), { minLength: 1, maxLength: 4 }), (blocks) => {
        const text = blocks
          .map(([b, e, body, headers]) => `-----BEGIN ${b}-----\n${headers ? 'Proc-Type: 4,X\nDEK-Info: x\n\n' : ''}${Buffer.from(body).toString('base64')}\n-----END ${e}-----\n`)
          .join('');
        onlyThrows(DaneSmtpError, () => parseMaterial(Buffer.from(text), 'fuzz.pem'), isUsage);
      }),
      params(0x7672_0032, 1500),
    );
  });

  it('DER-shaped bytes: SEQUENCE headers with random lengths', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0x84 }), fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 80 })), { minLength: 1, maxLength: 20 }), (objs) => {
        const bytes = Buffer.concat(objs.map(([l, lenBytes, body]) => Buffer.concat([Buffer.from([0x30, l]), Buffer.from(lenBytes), Buffer.from(body)])));
        onlyThrows(DaneSmtpError, () => parseMaterial(bytes, 'fuzz.der'), isUsage);
      }),
      params(0x7672_0033, 2000),
    );
  });

  it('TLSA RRset text for `tlsa verify --rrset` (parseZoneTlsa)', () => {
    const tok = fc.constantFrom('_25._tcp.mx.example.test.', 'IN', 'TLSA', '3', '1', '1', '256', '-1', 'ab'.repeat(32), 'abc', '\\#', '(', ')', ';', '$ORIGIN', '$TTL', '$INCLUDE', 'example.test.', '@', '60', 'CH', 'TXT', '"x"', '\n');
    fc.assert(
      fc.property(fc.array(fc.oneof(tok, fc.string({ maxLength: 6 })), { maxLength: 40 }), (tokens) => {
        onlyThrows(DaneSmtpError, () => parseZoneTlsa(tokens.join(' '), 'fuzz.txt'), isUsage);
      }),
      params(0x7672_0034, 3000),
    );
  });
});

// ---------------------------------------------------------------- regression corpus

const replayers: Record<string, (input: Buffer) => void> = {
  'dns-message': (b) => onlyThrows(WireFormatError, () => checkParsed(parseMessage(b))),
  'smtp-reply': (b) => {
    const r = parseReplies(b);
    if (r.error) expect(['PROTOCOL', 'REPLY_TOO_LONG']).toContain(r.error.code);
  },
  'policy-table': (b) => onlyThrows(PolicySyntaxError, () => parsePolicyTable(b.toString('utf8'), 'corpus.cf')),
  material: (b) => onlyThrows(DaneSmtpError, () => parseMaterial(b, 'corpus'), isUsage),
  'tlsa-rrset': (b) => onlyThrows(DaneSmtpError, () => parseZoneTlsa(b.toString('utf8'), 'corpus'), isUsage),
};

describe('fuzz corpus replay (test/fuzz/corpus/<parser>/*)', () => {
  const cases = Object.keys(replayers).flatMap((parser) => {
    const dir = join(CORPUS, parser);
    return existsSync(dir) ? readdirSync(dir).sort().map((f) => [parser, f] as const) : [];
  });
  it('has regression inputs', () => expect(cases.length).toBeGreaterThan(0));
  it.each(cases)('%s/%s', (parser, file) => {
    const raw = readFileSync(join(CORPUS, parser, file));
    // *.hex files hold hex (whitespace and # comments allowed); anything else is raw bytes.
    const input = file.endsWith('.hex') ? Buffer.from(raw.toString('utf8').replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex') : raw;
    replayers[parser]!(input);
  });
});
