/**
 * Property-based fuzzing (fast-check, fixed seeds, a bounded number of runs) of every parser
 * that reads untrusted or user input. Each may only fail with its documented error type,
 * never a TypeError / RangeError / anything else, and must terminate:
 *
 *   parseMessage (DNS wire)            → WireFormatError
 *   answerFromMessage, recordUsability → never throw (results)
 *   ReplyReader / parseReplies (SMTP)  → never throw; errors are results with PROTOCOL / REPLY_TOO_LONG
 *   parsePolicyTable                   → PolicySyntaxError naming FILE:LINE
 *   parseMaterial (PEM / DER, `tlsa`)  → DaneSmtpError('USAGE')
 *   parseZoneTlsa (`tlsa` RRset text)  → DaneSmtpError('USAGE')
 *   readCertExtensions (X.509 DER)     → never throws; name-constraint / critical-extension checks on its value never throw
 *   downgradeMime (8-bit MIME → QP)    → never throws; 8-bit octets left always come with a reason
 *   readCertificate / authenticate     → never throw on any served bytes; DANE-EE 3 0 1 always matches
 *
 * The contracts (the check* functions) are shared with the coverage-guided fuzzer
 * (test/fuzz/targets.ts, test/unit/fuzz/coverage-guided.test.ts, `npm run fuzz`). Inputs that ever
 * broke a parser are kept under test/fuzz/corpus/<parser>/ and replayed by the last describe
 * block (FUZZ_RUNS=n raises the number of runs locally).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TARGETS,
  checkCertExtensions,
  checkDnsMessage,
  checkMaterial,
  checkMimeDowngrade,
  checkPolicyTable,
  checkServedCertificate,
  checkSmtpReplies,
  checkTlsaRdata,
  checkZoneTlsa,
  corpusInputs,
  dnsSeedMessages,
  policyTokens as policyTokenList,
  rrsetTokens,
} from '../../fuzz/targets.js';
import { testPki } from '../../support/test-certs.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;
const params = (seed: number, numRuns: number) => ({ seed, numRuns: RUNS ?? numRuns, endOnFailure: true });

// ---------------------------------------------------------------- DNS

const seeds = dnsSeedMessages;

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

describe('fuzz: DNS messages (parseMessage → WireFormatError only)', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        checkDnsMessage(Buffer.from(bytes));
      }),
      params(0x7672_0001, 3000),
    );
  });

  it('mutated valid answers (A, MX, TLSA + OPT/EDE, SOA, AAAA)', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        checkDnsMessage(bytes);
      }),
      params(0x7672_0002, 4000),
    );
  });

  it('a header with counts then noise (pointers, lengths, RDATA)', () => {
    fc.assert(
      fc.property(headerThenNoise, (bytes) => {
        checkDnsMessage(bytes);
      }),
      params(0x7672_0003, 3000),
    );
  });

  it('TLSA RDATA of any length and content: parsed as is, usability never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 300 }), (rdata, rdlen) => {
        // RDLENGTH is the law: exactly rdlen bytes of RDATA when it parses.
        checkTlsaRdata(rdata, rdlen);
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
        // Chunking never changes the result; codes 200-599, no CR/LF/NUL in lines, bounded.
        checkSmtpReplies(Buffer.from(parts.join(''), 'latin1'), cuts);
      }),
      params(0x7672_0010, 3000),
    );
  });

  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (bytes) => {
        checkSmtpReplies(Buffer.from(bytes));
      }),
      params(0x7672_0011, 1500),
    );
  });
});

// ---------------------------------------------------------------- policy table

const policyTokens = fc.constantFrom(...policyTokenList);

describe('fuzz: policy table (parsePolicyTable → PolicySyntaxError only)', () => {
  it('token soup', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(policyTokens, fc.string({ maxLength: 8 })), { maxLength: 30 }), (tokens) => {
        checkPolicyTable(tokens.join(' '), 'fuzz.cf');
      }),
      params(0x7672_0020, 3000),
    );
  });

  it('any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        checkPolicyTable(text, 'fuzz.cf');
      }),
      params(0x7672_0021, 400),
    );
  });
});

// ---------------------------------------------------------------- PEM / DER for `tlsa`

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
        checkMaterial(bytes, 'fuzz.der');
      }),
      params(0x7672_0030, 1500),
    );
  });

  it('mutated PEM chains (base64, labels, headers)', () => {
    fc.assert(
      fc.property(mutate(Buffer.from(pem)), (bytes) => {
        checkMaterial(bytes, 'fuzz.pem');
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
        checkMaterial(Buffer.from(text), 'fuzz.pem');
      }),
      params(0x7672_0032, 1500),
    );
  });

  it('DER-shaped bytes: SEQUENCE headers with random lengths', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0x84 }), fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 80 })), { minLength: 1, maxLength: 20 }), (objs) => {
        const bytes = Buffer.concat(objs.map(([l, lenBytes, body]) => Buffer.concat([Buffer.from([0x30, l]), Buffer.from(lenBytes), Buffer.from(body)])));
        checkMaterial(bytes, 'fuzz.der');
      }),
      params(0x7672_0033, 2000),
    );
  });

  it('TLSA RRset text for `tlsa verify --rrset` (parseZoneTlsa)', () => {
    const tok = fc.constantFrom(...rrsetTokens);
    fc.assert(
      fc.property(fc.array(fc.oneof(tok, fc.string({ maxLength: 6 })), { maxLength: 40 }), (tokens) => {
        checkZoneTlsa(tokens.join(' '), 'fuzz.txt');
      }),
      params(0x7672_0034, 3000),
    );
  });
});

// ---------------------------------------------------------------- X.509 extensions for the path checks

describe('fuzz: certificate extensions (readCertExtensions never throws; the constraint checks neither)', () => {
  const seedCerts = TARGETS.find((t) => t.name === 'x509')!.seeds();
  it('mutated certificates (names, subjectAltName, nameConstraints, critical flags)', () => {
    const mutated = fc
      .tuple(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([which, edits, cut]) => {
        let b = Buffer.from(seedCerts[which % seedCerts.length]!);
        for (const [pos, value, op] of edits) {
          const p = pos % b.length;
          if (op === 'set') b[p] = value;
          else if (op === 'insert') b = Buffer.concat([b.subarray(0, p), Buffer.from([value]), b.subarray(p)]);
          else b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1)]);
        }
        return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
      });
    fc.assert(
      fc.property(mutated, (bytes) => {
        checkCertExtensions(bytes);
      }),
      params(0x7672_0040, 3000),
    );
  });
});

// ---------------------------------------------------------------- served certificates (issue 19)

describe('fuzz: served certificates (readCertificate, describeChain, authenticate never throw; DANE-EE 3 0 1 always matches)', () => {
  const seedCerts = TARGETS.find((t) => t.name === 'certificate')!.seeds();
  it('has the odd catalogue as seeds', () => expect(seedCerts.length).toBeGreaterThanOrEqual(20));
  it('every seed as it is', () => {
    for (const der of seedCerts) checkServedCertificate(der);
  });
  it('mutated odd certificates (names, dates, serials, keys, extensions)', () => {
    const mutated = fc
      .tuple(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([which, edits, cut]) => {
        let b = Buffer.from(seedCerts[which % seedCerts.length]!);
        for (const [pos, value, op] of edits) {
          const p = pos % b.length;
          if (op === 'set') b[p] = value;
          else if (op === 'insert') b = Buffer.concat([b.subarray(0, p), Buffer.from([value]), b.subarray(p)]);
          else b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1)]);
        }
        return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
      });
    fc.assert(fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))), (bytes) => checkServedCertificate(bytes)), params(0x7672_0019, 1500));
  });
});

// ---------------------------------------------------------------- MIME downgrade

describe('fuzz: downgradeMime (8-bit MIME to quoted-printable) never throws', () => {
  const mimeSeeds = TARGETS.find((t) => t.name === 'mime')!.seeds();
  const tokens = ['MIME-Version: 1.0\r\n', 'Content-Type: multipart/mixed; boundary=b\r\n', 'Content-Type: message/rfc822\r\n', 'Content-Transfer-Encoding: 8bit\r\n', '\r\n', '--b\r\n', '--b--\r\n', '\xe9', 'x', ' ', '"', ';'];
  it('mutated seeds and token soups', () => {
    const mutated = fc
      .tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 6 }))
      .map(([which, edits]) => {
        let b = Buffer.from(mimeSeeds[which % mimeSeeds.length]!);
        for (const [pos, value, op] of edits) {
          const p = b.length ? pos % b.length : 0;
          if (op === 'set') b[p] = value;
          else if (op === 'insert') b = Buffer.concat([b.subarray(0, p), Buffer.from([value]), b.subarray(p)]);
          else b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1)]);
        }
        return b;
      });
    const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 40 }).map((a) => Buffer.from(a.join(''), 'latin1'));
    fc.assert(fc.property(fc.oneof(mutated, soup), (bytes) => checkMimeDowngrade(bytes)), params(0x7672_6153, 2000));
  });
});

// ---------------------------------------------------------------- regression corpus

describe('fuzz corpus replay (test/fuzz/corpus/<parser>/*)', () => {
  // The same check as the coverage-guided fuzzer's target for that directory.
  const cases = TARGETS.flatMap((t) => corpusInputs(t).map(([file, input]) => [t.corpus, file, t, input] as const));
  it('has regression inputs', () => expect(cases.length).toBeGreaterThan(0));
  it.each(cases)('%s/%s', (_dir, _file, target, input) => {
    target.run(input);
  });
});
