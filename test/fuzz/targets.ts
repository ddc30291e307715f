/**
 * The parsers under fuzzing, their contracts and their regression corpus: shared by the
 * fast-check properties (test/unit/fuzz/parsers.test.ts), the coverage-guided CI run
 * (test/unit/fuzz/coverage-guided.test.ts) and long local campaigns (`npm run fuzz`).
 *
 * Each check throws (a FuzzPropertyError, or the parser's unexpected error as its cause)
 * only when the contract is broken:
 *
 *   parseMessage (DNS wire)            → WireFormatError
 *   answerFromMessage, recordUsability → never throw (results)
 *   ReplyReader / parseReplies (SMTP)  → never throw; errors are results with PROTOCOL / REPLY_TOO_LONG
 *   parsePolicyTable                   → PolicySyntaxError naming FILE:LINE
 *   parseMaterial (PEM / DER, `tlsa`)  → DaneSmtpError('USAGE'), one line
 *   parseZoneTlsa (`tlsa` RRset text)  → DaneSmtpError('USAGE'), one line
 *   readCertExtensions (X.509 DER)     → never throws (a value or a one-line reason), and the
 *                                        name-constraint / critical-extension checks on its value never throw
 *   downgradeMime (8-bit MIME → QP)    → never throws; 7-bit input comes back as it is; 8-bit octets
 *                                        left in the output always come with a one-line reason
 *   readCertificate, describeChain,    → never throw (issue 19); names one line without raw control or bidi
 *   authenticate (served chain bytes)    characters; DANE-EE 3 0 1 of the bytes always authenticates, 3 1 1
 *                                        whenever the SPKI is readable; DANE-TA gives a result with a code
 *
 * No vitest here: this module also runs from dist/ under plain node.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import dnsPacket from 'dns-packet';
import { authenticate, type AuthResult } from '../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, recordUsability, usableRecords } from '../../src/core/rfc7672/tlsa.js';
import { answerFromMessage } from '../../src/dns/stub.js';
import type { TlsaData } from '../../src/dns/types.js';
import { WireFormatError, parseMessage, type WireMessage } from '../../src/dns/wire.js';
import { DaneSmtpError } from '../../src/errors.js';
import { PolicySyntaxError, parsePolicyTable } from '../../src/policy/table.js';
import { downgradeMime } from '../../src/smtp/mime-downgrade.js';
import { MAX_UNREAD_BYTES, ReplyReader, parseEhloExtensions, parseReplies } from '../../src/smtp/reply.js';
import { parseMaterial } from '../../src/tools/tlsa/material.js';
import { parseZoneTlsa } from '../../src/tools/tlsa/zone.js';
import { nameConstraintViolation, unhandledExtension } from '../../src/x509/constraints.js';
import { dateProblem, describeChain, readCertificate } from '../../src/x509/certificate.js';
import { readCertExtensions, type NameConstraints } from '../../src/x509/extensions.js';

/** The project root (where package.json is), from test/fuzz or dist/test/fuzz. */
export const ROOT = (() => {
  for (let d = import.meta.dirname; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) throw new Error('no package.json above test/fuzz');
  }
})();
export const CORPUS = join(ROOT, 'test', 'fuzz', 'corpus');

/** A broken property (as opposed to a parser error the contract allows). */
export class FuzzPropertyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzPropertyError';
  }
}

function must(cond: unknown, message: string): asserts cond {
  if (!cond) throw new FuzzPropertyError(message);
}

/** Runs `fn`; returns normally, or rethrows anything that is not an instance of `allowed`. */
export function onlyThrows(allowed: new (...a: never[]) => Error, fn: () => unknown, check?: (e: Error) => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof FuzzPropertyError) throw e;
    if (!(e instanceof allowed)) throw new FuzzPropertyError(`unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    check?.(e);
  }
}

// ---------------------------------------------------------------- DNS

/** What the rest of dane-smtp does with a parsed message: none of it may throw. */
export function checkParsed(msg: WireMessage): void {
  for (const type of ['A', 'AAAA', 'MX', 'TLSA', 'CNAME', 'SOA', 'NS'] as const) {
    const name = msg.questions[0]?.name ?? 'x';
    const ans = answerFromMessage(msg, name, type, new Date(0));
    must(['data', 'nodata', 'nxdomain', 'failed'].includes(ans.status), `answer status ${ans.status}`);
    if (type === 'TLSA' && ans.status === 'data') for (const r of ans.records) recordUsability(r as TlsaData);
  }
  for (const r of [...msg.answers, ...msg.authorities, ...msg.additionals]) {
    if (r.type === 52) recordUsability(r.data as never);
  }
}

/** parseMessage → WireFormatError only; a parsed message survives checkParsed. */
export function checkDnsMessage(bytes: Buffer): void {
  onlyThrows(WireFormatError, () => checkParsed(parseMessage(bytes)));
}

/** A response with one TLSA answer `_25.` whose RDLENGTH is `rdlen` and then `rdata`. */
export function tlsaMessage(rdata: Uint8Array, rdlen: number): Buffer {
  const owner = Buffer.from([3, 0x5f, 0x32, 0x35, 0]);
  const rr = Buffer.alloc(10);
  rr.writeUInt16BE(52, 0);
  rr.writeUInt16BE(1, 2);
  rr.writeUInt32BE(60, 4);
  rr.writeUInt16BE(rdlen, 8);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x81a0, 2);
  h.writeUInt16BE(1, 6);
  return Buffer.concat([h, owner, rr, Buffer.from(rdata)]);
}

/** TLSA RDATA of any length and content: parsed as is (exactly RDLENGTH bytes), usability never throws. */
export function checkTlsaRdata(rdata: Uint8Array, rdlen: number): void {
  onlyThrows(WireFormatError, () => {
    const m = parseMessage(tlsaMessage(rdata, rdlen));
    checkParsed(m);
    const t = m.answers[0]!.data as { data: Buffer };
    must(3 + t.data.length === rdlen, `TLSA RDATA of ${3 + t.data.length} bytes for RDLENGTH ${rdlen}`);
  });
}

/** The TLSA fuzz input: two bytes of RDLENGTH, then the RDATA. */
export function checkTlsaRdataInput(input: Buffer): void {
  checkTlsaRdata(input.subarray(2), input.length >= 2 ? input.readUInt16BE(0) : input.length === 1 ? input[0]! : 0);
}

// ---------------------------------------------------------------- SMTP replies

/**
 * ReplyReader / parseReplies never throw and stay bounded; pushing the bytes in chunks of the
 * `cuts` sizes (cycled) gives the same replies and error as parsing them whole.
 */
export function checkSmtpReplies(data: Buffer, cuts: readonly number[] = [data.length || 1]): void {
  const whole = parseReplies(data);
  const reader = new ReplyReader();
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = cuts[i % cuts.length]!;
    reader.push(data.subarray(off, off + n));
    off += n;
    must(reader.pendingBytes <= MAX_UNREAD_BYTES + 4096, `${reader.pendingBytes} bytes pending`);
  }
  const chunked: unknown[] = [];
  for (let r = reader.shift(); r; r = reader.shift()) chunked.push(r);
  must(isDeepStrictEqual(chunked, whole.replies), 'chunking changed the replies');
  must(isDeepStrictEqual(reader.error, whole.error), 'chunking changed the error');
  if (whole.error) must(['PROTOCOL', 'REPLY_TOO_LONG'].includes(whole.error.code), `error code ${whole.error.code}`);
  for (const r of whole.replies) {
    must(r.code >= 200 && r.code < 600, `reply code ${r.code}`);
    for (const l of r.lines) must(!/[\r\n\u0000]/.test(l), `CR, LF or NUL in a reply line: ${JSON.stringify(l)}`);
    parseEhloExtensions(r);
  }
}

/** Chunk sizes for a byte input: a fixed mix, rotated by the input's length. */
export function smtpCuts(data: Buffer): number[] {
  const sizes = [1, 2, 3, 5, 8, 13, 17, 64];
  const k = data.length % sizes.length;
  return [...sizes.slice(k), ...sizes.slice(0, k)];
}

// ---------------------------------------------------------------- policy table, `tlsa` input

/** parsePolicyTable → PolicySyntaxError naming FILE:LINE only. */
export function checkPolicyTable(text: string, fileName = 'fuzz.cf'): void {
  onlyThrows(PolicySyntaxError, () => parsePolicyTable(text, fileName), (e) =>
    must(e.message.startsWith(`${fileName}:`) && /^:\d+: /.test(e.message.slice(fileName.length)), `message without FILE:LINE: ${e.message}`),
  );
}

function isUsage(e: Error): void {
  must((e as DaneSmtpError).code === 'USAGE', `DaneSmtpError ${(e as DaneSmtpError).code}, not USAGE`);
  must(!/\n/.test(e.message), `a message of several lines: ${JSON.stringify(e.message)}`);
}

/** parseMaterial → DaneSmtpError('USAGE') only, one line. */
export function checkMaterial(bytes: Buffer, what = 'fuzz'): void {
  onlyThrows(DaneSmtpError, () => parseMaterial(bytes, what), isUsage);
}

/** parseZoneTlsa → DaneSmtpError('USAGE') only, one line. */
export function checkZoneTlsa(text: string, what = 'fuzz'): void {
  onlyThrows(DaneSmtpError, () => parseZoneTlsa(text, what), isUsage);
}

/** A constraint of every form the checker knows, so that every certificate's names meet one. */
const EVERY_FORM: NameConstraints = {
  permitted: [
    { form: 'dNSName', text: 'example.com' },
    { form: 'rfc822Name', text: '.example.com' },
    { form: 'iPAddress', bytes: Buffer.from([192, 0, 2, 0, 255, 255, 255, 0]) },
    { form: 'directoryName', rdns: [[{ type: '2.5.4.6', tag: 0x13, value: Buffer.from('DE') }]] },
    { form: 'uniformResourceIdentifier', text: '.example.com' },
  ],
  excluded: [{ form: 'dNSName', text: 'bad.example.com' }, { form: 'otherName', typeId: '1.3.6.1.5.5.7.8.9' }],
  critical: true,
};

/** readCertExtensions never throws; a reason is one line; the path checks on its value never throw. */
export function checkCertExtensions(der: Buffer): void {
  const r = readCertExtensions(der);
  if (!r.ok) {
    must(typeof r.why === 'string' && r.why.length > 0 && !/\n/.test(r.why), `not a one-line reason: ${JSON.stringify(r.why)}`);
    return;
  }
  for (const why of [
    unhandledExtension(r.value),
    r.value.nameConstraints && nameConstraintViolation(r.value, true, r.value.nameConstraints, 'X'),
    nameConstraintViolation(r.value, true, EVERY_FORM, 'X'),
    nameConstraintViolation(r.value, false, EVERY_FORM, 'X'),
  ]) {
    must(why === undefined || (typeof why === 'string' && !/\n/.test(why)), `not a one-line sentence: ${JSON.stringify(why)}`);
  }
}

// ---------------------------------------------------------------- served certificates (issue 19)

/** Raw C0/C1 controls, DEL, line and paragraph separators, bidi marks, embeddings, overrides, isolates. */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const CERT_SEEDS = join(ROOT, 'test', 'fuzz', 'seeds', 'certificate');
let seedCa: Buffer | undefined;
/** The normal CA the seed chains hang under (test/fuzz/seeds/certificate/odd-ca.der). */
function oddSeedCa(): Buffer {
  return (seedCa ??= readFileSync(join(CERT_SEEDS, 'odd-ca.der')));
}

const digest = (alg: 'sha256' | 'sha512', data: Buffer) => createHash(alg).update(data).digest();
const FUZZ_NOW = new Date(Date.UTC(2030, 0, 1));

function checkAuth(r: AuthResult, what: string): void {
  must(typeof r.ok === 'boolean' && Array.isArray(r.chain), `${what}: not a result`);
  if (r.ok) return;
  must(typeof r.reason === 'string' && !UNSAFE_TEXT.test(r.reason), `${what}: reason ${JSON.stringify(r.reason)}`);
  for (const f of r.records) {
    must(typeof f.code === 'string' && (f.code as string) !== '', `${what}: a failure without a code`);
    must(typeof f.why === 'string' && !UNSAFE_TEXT.test(f.why), `${what}: why ${JSON.stringify(f.why)}`);
  }
}

type Rec = { usage: number; selector: number; matchingType: number; data: Buffer };

/**
 * One served leaf, any bytes: readCertificate and describeChain never throw and name it on
 * one safe line; under DANE-EE its bytes (3 0 1) always authenticate it and its key (3 1 1)
 * whenever the SPKI is readable, whatever else is in it; DANE-TA records (the seed CA, the
 * leaf itself, "2 0 0" / "2 1 0" of the CA left out of the chain) give a result with codes.
 */
export function checkServedCertificate(der: Buffer): void {
  const c = readCertificate(der);
  for (const n of [c.subject, c.issuer]) must(typeof n === 'string' && !UNSAFE_TEXT.test(n), `name ${JSON.stringify(n)}`);
  must(c.spki === undefined || (Buffer.isBuffer(c.spki) && c.spki[0] === 0x30), 'an SPKI that is not a SEQUENCE');
  for (const d of [c.notBefore, c.notAfter]) must(d === undefined || !Number.isNaN(d.getTime()), 'an invalid date');
  const p = dateProblem(c, FUZZ_NOW);
  must(p === undefined || typeof p === 'string', 'dateProblem');
  const ca = oddSeedCa();
  const [info] = describeChain([der, ca]);
  must(info !== undefined && info.certSha256 === digest('sha256', der).toString('hex') && (info.spkiSha256 === '') === !c.spki, 'describeChain');
  const run = (records: Rec[], served: Buffer[]) => authenticate({ records: usableRecords(classifyTlsa(records)), served, referenceNames: ['mx.example.test'], now: FUZZ_NOW });
  const ee = run([{ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) }, { usage: 3, selector: 0, matchingType: 1, data: digest('sha256', der) }], [der, ca]);
  checkAuth(ee, '3 0 1');
  must(ee.ok && ee.usage === 'DANE-EE', '3 0 1 of the served bytes did not authenticate them');
  if (c.spki) {
    const key = run([{ usage: 3, selector: 1, matchingType: 1, data: digest('sha256', c.spki) }], [der]);
    must(key.ok && key.usage === 'DANE-EE', '3 1 1 of a readable SPKI did not authenticate it');
  }
  const caSpki = readCertificate(ca).spki!;
  const ta: Rec[] = [
    { usage: 2, selector: 0, matchingType: 1, data: digest('sha256', ca) },
    { usage: 2, selector: 1, matchingType: 2, data: digest('sha512', caSpki) },
    { usage: 2, selector: 0, matchingType: 1, data: digest('sha256', der) },
  ];
  // The leaf and the CA in either order (the served list's order does not matter).
  checkAuth(run(ta, (der[der.length - 1]! & 1) === 0 ? [der, ca] : [ca, der]), 'DANE-TA');
  checkAuth(run([{ usage: 2, selector: 0, matchingType: 0, data: ca }, { usage: 2, selector: 1, matchingType: 0, data: caSpki }], [der]), 'DANE-TA 2 0 0 / 2 1 0, CA left out');
}

/** The catalogue of odd legal certificates (test/support/odd-certs.ts), fixed: every run the same. */
function certificateSeeds(): Buffer[] {
  return readdirSync(CERT_SEEDS)
    .filter((f) => f.endsWith('.der'))
    .sort()
    .map((f) => readFileSync(join(CERT_SEEDS, f)));
}

// ---------------------------------------------------------------- MIME downgrade (8-bit → quoted-printable)

const has8bit = (x: Buffer) => x.some((c) => c >= 0x80);

/** downgradeMime on any bytes (line ends normalised first, as the session does): never throws; see the contract above. */
export function checkMimeDowngrade(input: Buffer): void {
  const msg = Buffer.from(input.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
  const r = downgradeMime(msg);
  must(Buffer.isBuffer(r.body) && Number.isInteger(r.converted) && r.converted >= 0, 'bad result');
  if (!has8bit(msg)) must(r.body === msg && r.converted === 0 && r.unconverted === undefined, '7-bit input changed');
  if (r.converted === 0) must(r.body === msg, 'changed without converting');
  if (has8bit(r.body)) must(typeof r.unconverted === 'string' && r.unconverted !== '' && !/\n/.test(r.unconverted), `8-bit octets left without a reason: ${JSON.stringify(r.unconverted)}`);
}

// ---------------------------------------------------------------- targets

export interface ParserTarget {
  /** `npm run fuzz -- --target NAME` */
  name: string;
  /** Its regression corpus: test/fuzz/corpus/<corpus>/. */
  corpus: string;
  /** One input, from fuzzer bytes: throws only when the contract is broken. */
  run(input: Buffer): void;
  /** Generated seeds (the corpus files are added to them). */
  seeds(): Buffer[];
  dictionary: Buffer[];
  maxLen: number;
  /** The corpus file (name extension and content) for an input. */
  file(input: Buffer, note: string): { ext: string; content: Buffer };
}

const b = (s: string) => Buffer.from(s, 'latin1');
const hexFile = (input: Buffer, note: string) => ({ ext: '.hex', content: b(`# ${note.replace(/\n/g, ' ')}\n${input.toString('hex')}\n`) });

function dnsSeeds(): Buffer[] {
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
export { dnsSeeds as dnsSeedMessages };

const dnsDictionary = [
  [0xc0, 0x0c], [0xc0], [0x00, 0x29], [0x00, 0x34], [0x00, 0x01], [0x00, 0x05], [0x00, 0x06], [0x00, 0x0f], [0x00, 0x1c], [0x00, 0x02],
  [0x00, 0x2e], [0x00, 0x0f, 0x00, 0x02], [0xff, 0xff], [0x3f], [0x40], [0x80], [0x00, 0x00, 0x00, 0x3c], [0x81, 0x80], [0x81, 0xa0],
  [0x81, 0x82], [0x81, 0x83], [3, 0x5f, 0x32, 0x35], [4, 0x5f, 0x74, 0x63, 0x70], [0x02, 0x6d, 0x78], [0x00, 0x00, 0x29, 0x04, 0xd0],
].map((x) => Buffer.from(x));

const policyTokens = [
  'example.com', '.example.com', '[mx.example.com]', '[mx.example.com]:587', '[mx]:99999', '[', ']', ':', '.', '..',
  'none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure', 'match=', 'match=hostname',
  'match=.example.com:nexthop', 'match=AB:CD', `match=${'ab'.repeat(32)}|${'cd'.repeat(64)}`, 'ciphers=high', '=', '#', ' ', '\t', '\n', '\r\n',
  'xn--bcher-kva.example', 'bücher.example', '\u0000', '\\', '"', 'dot-nexthop', '|', '__proto__', 'constructor',
];
export { policyTokens };

const rrsetTokens = [
  '_25._tcp.mx.example.test.', 'IN', 'TLSA', 'TYPE52', '3', '1', '1', '256', '-1', 'ab'.repeat(32), 'abc', '\\#', '(', ')', ';', '$ORIGIN', '$TTL', '$INCLUDE',
  'example.test.', '@', '60', '1h30m', 'CH', 'CLASS1', 'TXT', '"x"', '\n', '\r\n', ' ', '\t',
];
export { rrsetTokens };

const materialLabels = ['CERTIFICATE', 'TRUSTED CERTIFICATE', 'X509 CERTIFICATE', 'PUBLIC KEY', 'RSA PUBLIC KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'X509 CRL', 'EC PARAMETERS', 'FOO'];

/** The leaf key of test/fuzz/seeds/material/chain.pem (a throw-away test key). */
const SEED_LEAF_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'IneqZKxzfqAvSowDWEeO5_E9YgJSk5Ig8g00IOY6ot0',
  y: 'SX1EnERm-A_Y_DRzhlqWZW1aOJhsOQ36idPFj8lXAKg',
  d: 'BOwOXB-7mlEao7v4tg_f2bUfcT-fWh3lch5AC9tPLoU',
};

/** Fixed certificates and keys (no generation at run time: the same seeds every run). */
function materialSeeds(): Buffer[] {
  const dir = join(ROOT, 'test', 'fuzz', 'seeds', 'material');
  const file = (f: string) => readFileSync(join(dir, f), 'latin1');
  const chain = file('chain.pem');
  const ders = [...chain.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1]!, 'base64'));
  const key = createPrivateKey({ key: SEED_LEAF_JWK, format: 'jwk' });
  const pub = createPublicKey(key);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  return [
    b(chain),
    Buffer.concat(ders),
    ders[0]!,
    b(file('root.pem')),
    b(pkcs8),
    key.export({ type: 'pkcs8', format: 'der' }),
    b(key.export({ type: 'sec1', format: 'pem' }) as string),
    key.export({ type: 'sec1', format: 'der' }),
    b(pub.export({ type: 'spki', format: 'pem' }) as string),
    pub.export({ type: 'spki', format: 'der' }),
    b(file('rsa-spki.pem')),
    b(file('rsa-pkcs1.pem')),
    b(pkcs8 + chain),
    b(`-----BEGIN TRUSTED CERTIFICATE-----\nProc-Type: 4,X\n\n${Buffer.concat([ders[1]!, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])]).toString('base64')}\n-----END TRUSTED CERTIFICATE-----\n`),
  ];
}

/** Fixed DER certificates: the material chain and a CA with names and constraints of every form. */
function x509Seeds(): Buffer[] {
  const pems = ['material/chain.pem', 'material/root.pem', 'x509/constrained-ca.pem'].map((f) => readFileSync(join(ROOT, 'test', 'fuzz', 'seeds', f), 'latin1')).join('');
  return [...pems.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1]!, 'base64'));
}

export const TARGETS: readonly ParserTarget[] = [
  {
    name: 'dns',
    corpus: 'dns-message',
    run: checkDnsMessage,
    seeds: dnsSeeds,
    dictionary: dnsDictionary,
    maxLen: 1500,
    file: hexFile,
  },
  {
    name: 'tlsa-rdata',
    corpus: 'tlsa-rdata',
    run: checkTlsaRdataInput,
    seeds: () => [
      Buffer.from([0, 35, 3, 1, 1, ...Buffer.alloc(32, 0xab)]),
      Buffer.from([0, 67, 3, 1, 2, ...Buffer.alloc(64, 0xcd)]),
      Buffer.from([0, 8, 2, 0, 0, 0x30, 0x82, 0x01, 0x0a, 0x02]),
      Buffer.from([0, 3, 1, 1, 1]),
    ],
    dictionary: [[3, 1, 1], [2, 0, 1], [3, 0, 0], [3, 1, 2], [0, 35], [0, 67], [0, 3], [0xff, 0xff], [0xff]].map((x) => Buffer.from(x)),
    maxLen: 400,
    file: (input, note) => hexFile(input, `RDLENGTH (2 bytes), RDATA; ${note}`),
  },
  {
    name: 'smtp',
    corpus: 'smtp-reply',
    run: (input) => checkSmtpReplies(input, smtpCuts(input)),
    seeds: () => [
      b('220 mx.example.test ESMTP ready\r\n'),
      b('250-mx.example.test Hello\r\n250-SIZE 10240000\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n'),
      b('421-4.3.2 Service not available\r\n421 closing\r\n'),
      b('250 2.1.0 Ok\n354 End data with <CR><LF>.<CR><LF>\r\n550 5.1.1 no such user\r\n'),
    ],
    dictionary: ['250-', '250 ', '220 ', '354 ', '421 ', '550-', '5', '2', '\r\n', '\n', '\r', ' ', '-', 'STARTTLS', 'SIZE ', 'SIZE 10240000', 'AUTH PLAIN', 'PIPELINING', 'ENHANCEDSTATUSCODES', '\u00ff', '\u0000', '__proto__', 'constructor', 'x'.repeat(64)].map(b),
    maxLen: 12_000,
    file: (input) => ({ ext: '.txt', content: input }),
  },
  {
    name: 'policy',
    corpus: 'policy-table',
    run: (input) => checkPolicyTable(input.toString('utf8')),
    seeds: () => [
      b('# comment\nexample.com dane\n.example.com encrypt\n[mx.example.com]:587 verify match=hostname:.example.com\n'),
      b(`example.org fingerprint match=${'ab:'.repeat(31)}ab|${'cd'.repeat(64)}\nexample.net secure match=nexthop:dot-nexthop\n`),
      b('[mx.example.net] dane-only\r\nexample.edu none\nexample.info may\n'),
    ],
    dictionary: policyTokens.map((t) => Buffer.from(t, 'utf8')),
    maxLen: 2000,
    file: (input) => ({ ext: '.cf', content: input }),
  },
  {
    name: 'material',
    corpus: 'material',
    run: (input) => checkMaterial(input),
    seeds: materialSeeds,
    dictionary: [
      ...materialLabels.flatMap((l) => [`-----BEGIN ${l}-----\n`, `-----END ${l}-----\n`]),
      'Proc-Type: 4,ENCRYPTED\n', 'Proc-Type: 4,X\nDEK-Info: x\n\n', '\n\n', '\r\n', '=', '==', 'MII', 'MA',
    ].map(b).concat(
      [[0x30, 0x82], [0x30, 0x80], [0x30, 0x81], [0x30, 0x84, 0xff, 0xff, 0xff, 0xff], [0x30, 0x00], [0x02, 0x01, 0x00], [0x05, 0x00], [0xa0, 0x03, 0x02, 0x01, 0x02],
        [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01], [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01], [0x03, 0x82], [0x04, 0x82]].map((x) => Buffer.from(x)),
    ),
    maxLen: 8192,
    file: (input) => ({ ext: input.includes('-----BEGIN') ? '.pem' : '.der', content: input }),
  },
  {
    name: 'tlsa-rrset',
    corpus: 'tlsa-rrset',
    run: (input) => checkZoneTlsa(input.toString('utf8')),
    seeds: () => [
      b(`$ORIGIN example.test.\n$TTL 1h\n_25._tcp.mx 3600 IN TLSA 3 1 1 ( ${'ab'.repeat(16)}\n ${'ab'.repeat(16)} ) ; key\n  IN TLSA 2 0 1 ${'cd'.repeat(32)}\n`),
      b(`_25._tcp.mx.example.test. IN TYPE52 \\# 35 030101${'ef'.repeat(32)}\nmx.example.test. IN A 192.0.2.1\n`),
      b(`3 1 1 ${'01'.repeat(32)}\n3 1 2 ${'02'.repeat(64)}\n`),
    ],
    dictionary: rrsetTokens.map(b),
    maxLen: 2000,
    file: (input) => ({ ext: '.txt', content: input }),
  },
  {
    name: 'x509',
    corpus: 'x509-extensions',
    run: checkCertExtensions,
    seeds: x509Seeds,
    dictionary: [
      [0x06, 0x03, 0x55, 0x1d, 0x11], [0x06, 0x03, 0x55, 0x1d, 0x1e], [0x06, 0x03, 0x55, 0x1d, 0x13], [0x01, 0x01, 0xff], [0x01, 0x01, 0x00],
      [0xa0], [0xa1], [0xa3], [0xa4], [0x80, 0x01, 0x00], [0x80, 0x01, 0x01], [0x81, 0x01, 0x00], [0x82], [0x81], [0x86], [0x87, 0x04], [0x87, 0x08], [0x88],
      [0x30, 0x00], [0x31, 0x00], [0x30, 0x80], [0x30, 0x81], [0x30, 0x82], [0x04, 0x00], [0x16], [0x0c], [0x13], [0x1e], [0x1c], [0x2e],
    ].map((x) => Buffer.from(x)),
    maxLen: 4096,
    file: hexFile,
  },
  {
    name: 'certificate',
    corpus: 'certificate',
    run: checkServedCertificate,
    seeds: certificateSeeds,
    dictionary: [
      [0x30, 0x00], [0x31, 0x00], [0xa0, 0x03, 0x02, 0x01, 0x02], [0xa0, 0x03, 0x02, 0x01, 0x00], [0x02, 0x01, 0xff], [0x02, 0x15, 0x00], [0x05, 0x00],
      [0x17, 0x0d], [0x18, 0x0f], [0x0c], [0x13], [0x14], [0x16], [0x1c], [0x1e], [0x03, 0x02, 0x07, 0x80], [0x01, 0x01, 0xff], [0xa3], [0x81], [0x82],
      [0x06, 0x03, 0x2b, 0x65, 0x70], [0x06, 0x03, 0x2b, 0x65, 0x71], [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a], [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01],
      [...Buffer.from('99991231235959Z')], [...Buffer.from('500101000000Z')], [...Buffer.from('19000101000000Z')], [0xe2, 0x80, 0xae], [0x00], [0x1b],
    ].map((x) => Buffer.from(x)),
    maxLen: 4096,
    file: hexFile,
  },
  {
    name: 'mime',
    corpus: 'mime-downgrade',
    run: checkMimeDowngrade,
    seeds: () => [
      b('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\npre\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xc3\xa9 \r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9\r\n--b--\r\nepi\r\n'),
      b('MIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: \xe9\r\n\r\nFrom x\r\n--d\r\nContent-Type: multipart/alternative; boundary=e\r\n\r\n--e\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\xff\r\n--d--\r\n'),
      b('Subject: x\r\n\r\n\xe9\r\n'),
    ],
    dictionary: [
      'MIME-Version: 1.0\r\n', 'Content-Type: ', 'multipart/mixed; boundary=', 'multipart/digest; boundary="', 'message/rfc822', 'message/partial', 'text/plain',
      'Content-Transfer-Encoding: ', '8bit', '7bit', 'binary', 'quoted-printable', 'base64', '\r\n', '\r\n\r\n', '--', '\r\n--b\r\n', '\r\n--b--\r\n', ';', '"', '(', ')', ' ', '\t', '=', '\xe9', '\xff', 'From ', '.',
    ].map(b),
    maxLen: 4096,
    file: (input) => ({ ext: '.eml', content: input }),
  },
];

export function targetByName(name: string): ParserTarget | undefined {
  return TARGETS.find((t) => t.name === name || t.corpus === name);
}

/** A corpus file's input: *.hex holds hex (whitespace and # comments allowed), anything else raw bytes. */
export function decodeCorpusFile(file: string, raw: Buffer): Buffer {
  return file.endsWith('.hex') ? Buffer.from(raw.toString('utf8').replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex') : raw;
}

/** The regression inputs of a target: [file name, input]. */
export function corpusInputs(target: ParserTarget): [string, Buffer][] {
  const dir = join(CORPUS, target.corpus);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((f) => [f, decodeCorpusFile(f, readFileSync(join(dir, f)))]);
}

/** Where a crashing input is kept: test/fuzz/corpus/<corpus>/crash-<sha1 prefix>.<ext>. */
export function crashFile(target: ParserTarget, input: Buffer, note: string): { path: string; content: Buffer } {
  const { ext, content } = target.file(input, note);
  const sha1 = createHash('sha1').update(input).digest('hex').slice(0, 12);
  return { path: join(CORPUS, target.corpus, `crash-${sha1}${ext}`), content };
}
