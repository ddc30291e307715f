/**
 * OpenSSL's DANE test vectors (openssl/openssl test/danetest.in, RFC 6698 semantics) run
 * against our matcher with the RFC 7672 §3.1 rules for SMTP.
 *
 * The vectors are not copied into the repository: they are read at test time from
 * ../shared/peer-data/openssl-danetest/danetest.in beside the repository root (CI puts a
 * copy of shared/ beside the clone). A missing or truncated file fails the run.
 *
 * Each block is `<TLSA-count> <cert-count> <nonamechecks> <desired-verify-result>
 * <desired-match-depth>`, the TLSA records `usage selector mtype hex`, then the chain the
 * server sends, leaf first, as PEM. OpenSSL's driver (test/danetest.c) checks with the
 * reference name `example.com`. rfc7672Expectation() below turns OpenSSL's verdict into ours.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { authenticate, type RecordFailureCode } from '../../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, tlsaToText, usableRecords } from '../../../src/core/rfc7672/tlsa.js';
import type { TlsaData } from '../../../src/dns/types.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const VECTORS = path.resolve(repoRoot, '..', 'shared', 'peer-data', 'openssl-danetest', 'danetest.in');
/** SOURCE.md: 53 test blocks in the pinned copy (openssl commit 90e67e72…). */
const EXPECTED_BLOCKS = 53;
/** OpenSSL's driver uses the current time; a fixed instant inside every dated certificate's validity (2016-02-07 … 2116-02-07) keeps this deterministic. */
const NOW = new Date('2026-06-01T00:00:00Z');
/** The reference name OpenSSL's driver checks (test/danetest.c). */
const OPENSSL_REFERENCE_NAME = 'example.com';

// X509_V_ERR numbers used in danetest.in (openssl/x509_vfy.h).
const X509_V_OK = 0;
const X509_V_ERR_HOSTNAME_MISMATCH = 62;
const X509_V_ERR_DANE_NO_MATCH = 65;
const VERIFY_NAMES: Record<number, string> = {
  0: 'ok',
  20: 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  62: 'X509_V_ERR_HOSTNAME_MISMATCH',
  65: 'X509_V_ERR_DANE_NO_MATCH',
};

interface Block {
  /** 1-based position in the file. */
  index: number;
  /** The block's "# N" number in the file. */
  number: number | undefined;
  section: string;
  comment: string;
  nonamechecks: boolean;
  verifyResult: number;
  matchDepth: number;
  /** The header's TLSA-count records that follow it: what OpenSSL's driver loads. */
  records: TlsaData[];
  /**
   * TLSA lines beyond the header's count (blocks 42-45 list two records under a count of 1).
   * OpenSSL's driver never loads them: its PEM reader skips any text before a certificate.
   */
  skipped: TlsaData[];
  /** DER, leaf first, in the order the server sends them. */
  certs: Buffer[];
}

const TLSA_LINE = /^(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-Fa-f]+)$/;
function tlsaLine(m: RegExpMatchArray): TlsaData {
  return { usage: Number(m[1]), selector: Number(m[2]), matchingType: Number(m[3]), data: Buffer.from(m[4]!, 'hex') };
}

/**
 * danetest.in, read as OpenSSL's driver (test/danetest.c) does: blank and comment lines
 * between blocks ignored; after the header exactly TLSA-count lines of records; then
 * cert-count PEM certificates, text before each ignored (the `openssl x509` annotations,
 * and extra TLSA lines, which are kept aside in `skipped`).
 */
function parseVectors(text: string): Block[] {
  const lines = text.split(/\r?\n/);
  const blocks: Block[] = [];
  let section = '';
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i++]!.trim();
    if (line === '') continue;
    if (line.startsWith('##')) {
      section = line.replace(/^##\s*(--\s*)?/, '').replace(/\s*--\s*$/, '');
      comments = [];
      continue;
    }
    if (line.startsWith('#')) {
      const c = line.replace(/^#\s?/, '');
      if (/^\d+$/.test(c)) comments = [c]; // "# N" starts a block's comment
      else comments.push(c);
      continue;
    }
    const header = line.split(/\s+/).map(Number);
    if (header.length !== 5 || header.some((n) => !Number.isInteger(n))) throw new Error(`danetest.in line ${i}: expected a block header of 5 integers, got "${line}"`);
    const [ntlsa, ncert, nonamechecks, verifyResult, matchDepth] = header as [number, number, number, number, number];
    const records: TlsaData[] = [];
    for (let k = 0; k < ntlsa; k++) {
      const rec = lines[i++]?.trim();
      const m = rec?.match(TLSA_LINE);
      if (!m) throw new Error(`danetest.in line ${i}: expected TLSA record ${k + 1} of ${ntlsa}, got "${rec ?? 'end of file'}"`);
      records.push(tlsaLine(m));
    }
    const skipped: TlsaData[] = [];
    const certs: Buffer[] = [];
    while (certs.length < ncert) {
      if (i >= lines.length) throw new Error(`danetest.in: block "${comments[0] ?? '?'}" ends after ${certs.length} of ${ncert} certificates`);
      const l = lines[i++]!.trim();
      if (l === '' || /^(subject|issuer|notBefore|notAfter)=/.test(l)) continue; // openssl x509 annotations beside the PEM
      const extra = certs.length === 0 ? l.match(TLSA_LINE) : null;
      if (extra) {
        skipped.push(tlsaLine(extra));
        continue;
      }
      if (l !== '-----BEGIN CERTIFICATE-----') throw new Error(`danetest.in line ${i}: expected certificate ${certs.length + 1} of ${ncert}, got "${l}"`);
      let b64 = '';
      for (;;) {
        const p = lines[i++]?.trim();
        if (p === undefined) throw new Error('danetest.in: unterminated PEM certificate');
        if (p === '-----END CERTIFICATE-----') break;
        b64 += p;
      }
      certs.push(Buffer.from(b64, 'base64'));
    }
    const [num, ...rest] = comments;
    blocks.push({
      index: blocks.length + 1,
      number: num === undefined ? undefined : Number(num),
      section,
      comment: rest.join(' '),
      nonamechecks: nonamechecks === 1,
      verifyResult,
      matchDepth,
      records,
      skipped,
      certs,
    });
    comments = [];
  }
  return blocks;
}

// --- Independent association matching (node:crypto only, not our src/) for the mapping ---

function spki(der: Buffer): Buffer {
  return new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
}
function matchesCert(r: TlsaData, der: Buffer | undefined): boolean {
  if (!der) return false;
  const selected = r.selector === 0 ? der : spki(der);
  if (r.matchingType === 0) return selected.equals(r.data);
  return createHash(r.matchingType === 1 ? 'sha256' : 'sha512').update(selected).digest().equals(r.data);
}

// --- The RFC 7672 mapping ---

type Expected =
  | { verdict: 'no-usable-record' }
  | { verdict: 'match'; usage: 'DANE-EE' | 'DANE-TA'; depth: number; anchor?: 'served' | 'tlsa-record'; note?: string }
  | { verdict: 'fail'; code?: RecordFailureCode };

/**
 * The reference identifiers we pass: always OpenSSL's `example.com`. The driver's
 * nonamechecks sets only DANE_FLAG_NO_DANE_EE_NAMECHECKS, i.e. "no name checks for DANE-EE";
 * OpenSSL still checks names for DANE-TA. That is exactly RFC 7672: DANE-EE never checks
 * names (§3.1.1), DANE-TA always does (§3.2.2). So nonamechecks needs no mapping of its own
 * (blocks 1-10 and 50 have it; all are DANE-EE, block 50's leaf is for example.org).
 */
const REFERENCE_NAMES = [OPENSSL_REFERENCE_NAME];

/**
 * OpenSSL's verdict (RFC 6698) → ours (RFC 7672). Throws for a block it cannot map, so a
 * changed vector file fails loudly instead of being asserted on a guess.
 */
function rfc7672Expectation(b: Block, records: TlsaData[] = b.records): Expected {
  // RFC 7672 §3.1.3: SMTP clients do not use PKIX-TA(0) and PKIX-EE(1). They drop out; if
  // nothing is left there is no usable record and authentication fails, whatever OpenSSL
  // (which uses them, RFC 6698) said.
  const dane = records.filter((r) => r.usage === 2 || r.usage === 3);
  if (dane.length === 0) return { verdict: 'no-usable-record' };

  // DANE-EE(3) match of the leaf (OpenSSL reports depth 0).
  if (b.matchDepth === 0 && dane.some((r) => r.usage === 3 && matchesCert(r, b.certs[0]))) {
    if (b.verifyResult === X509_V_OK) return { verdict: 'match', usage: 'DANE-EE', depth: 0 };
    // Intentional difference: OpenSSL checks names for DANE-EE unless told not to
    // (DANE_FLAG_NO_DANE_EE_NAMECHECKS, which Postfix sets); RFC 7672 §3.1.1: "The server
    // MUST be considered authenticated even if none of the names in the certificate match
    // the client's reference identity for the server."
    if (b.verifyResult === X509_V_ERR_HOSTNAME_MISMATCH) return { verdict: 'match', usage: 'DANE-EE', depth: 0, note: 'RFC 7672 §3.1.1: no name check for DANE-EE' };
  }

  if (b.verifyResult === X509_V_OK && b.matchDepth >= 0) {
    // DANE-TA(2) anchored in a certificate the server sent, at OpenSSL's depth (RFC 7672 §3.1.2).
    if (dane.some((r) => r.usage === 2 && matchesCert(r, b.certs[b.matchDepth]))) {
      return { verdict: 'match', usage: 'DANE-TA', depth: b.matchDepth, anchor: 'served' };
    }
    // DANE-TA(2) Full(0) records "from DNS": an anchor the server left out (RFC 7671 §5.2.2,
    // §5.2.3; a deliberate choice of ours, as in OpenSSL).
    const fromDns = dane.filter((r) => r.usage === 2 && r.matchingType === 0 && !b.certs.some((c) => matchesCert(r, c)));
    // "2 0 0": the anchor certificate sits just above the served path; OpenSSL and we both
    // give it depth = number of served certificates.
    if (fromDns.some((r) => r.selector === 0) && b.matchDepth === b.certs.length) {
      return { verdict: 'match', usage: 'DANE-TA', depth: b.matchDepth, anchor: 'tlsa-record' };
    }
    // "2 1 0": a bare key. OpenSSL reports the depth of the top served certificate (the one
    // the key signed); our AuthMatch.depth counts the anchor itself, one above the served
    // path (as for "2 0 0"), so ours is OpenSSL's + 1. A difference of convention only.
    if (fromDns.some((r) => r.selector === 1) && b.matchDepth === b.certs.length - 1) {
      return { verdict: 'match', usage: 'DANE-TA', depth: b.matchDepth + 1, anchor: 'tlsa-record', note: "our depth counts the key, OpenSSL's + 1" };
    }
    throw new Error(`block ${b.index}: OpenSSL's success at depth ${b.matchDepth} matches none of the DANE records; no RFC 7672 mapping`);
  }

  // Failures stay failures. A DANE-TA match whose leaf does not carry the reference name
  // (X509_V_ERR_HOSTNAME_MISMATCH): RFC 7672 §3.2.2 requires the name check for DANE-TA.
  if (b.verifyResult === X509_V_ERR_HOSTNAME_MISMATCH && b.matchDepth > 0) return { verdict: 'fail', code: 'ta-name-mismatch' };
  // No record matches: with only DANE-EE records, each fails as "does not match the leaf".
  if (b.verifyResult === X509_V_ERR_DANE_NO_MATCH && dane.every((r) => r.usage === 3)) return { verdict: 'fail', code: 'ee-no-match' };
  // Date, name or chain errors: we must fail too, for whatever reason.
  if (b.verifyResult !== X509_V_OK) return { verdict: 'fail' };
  throw new Error(`block ${b.index}: OpenSSL ok without a match depth; no RFC 7672 mapping`);
}

function describeExpected(e: Expected): string {
  switch (e.verdict) {
    case 'no-usable-record':
      return 'no usable record for SMTP (RFC 7672 §3.1.3), fails';
    case 'match':
      return `${e.usage} match at depth ${e.depth}${e.anchor === 'tlsa-record' ? ', anchor from the TLSA record' : ''}${e.note ? ` (${e.note})` : ''}`;
    case 'fail':
      return `fails${e.code ? ` (${e.code})` : ''}`;
  }
}

function title(b: Block, e: Expected): string {
  const recs = b.records.map((r) => `${r.usage} ${r.selector} ${r.matchingType}`).join(' + ');
  const skipped = b.skipped.length ? ` (+ ${b.skipped.map((r) => `${r.usage} ${r.selector} ${r.matchingType}`).join(' + ')} beyond the header's count, also run)` : '';
  const openssl = b.verifyResult === X509_V_OK ? `ok at depth ${b.matchDepth}` : `${VERIFY_NAMES[b.verifyResult] ?? `error ${b.verifyResult}`}${b.matchDepth >= 0 ? ` (match depth ${b.matchDepth})` : ''}`;
  const what = b.comment || b.section;
  return `#${b.number ?? b.index} [${what}]${b.nonamechecks ? ' nonamechecks' : ''}: ${recs}${skipped} vs ${b.certs.length} served cert(s); OpenSSL ${openssl} → ${describeExpected(e)}`;
}

/** Run our matcher on `records` and assert the mapped expectation. */
function check(b: Block, records: TlsaData[], expected: Expected): void {
  const classified = classifyTlsa(records);
  const usable = usableRecords(classified);
  const result = authenticate({ records: usable, served: b.certs, referenceNames: REFERENCE_NAMES, now: NOW });
  const summary = `block ${b.index}, records ${records.map(tlsaToText).map((t) => `${t.slice(0, 24)}…`).join(', ')}: ${result.ok ? `ok ${result.usage} depth ${result.depth}` : result.reason}`;

  switch (expected.verdict) {
    case 'no-usable-record':
      // Every record is PKIX-TA(0)/PKIX-EE(1): unusable for SMTP, so authenticate sees none.
      for (const c of classified) expect(c.usability, summary).toMatchObject({ usable: false, reason: 'pkix-usage' });
      expect(usable).toEqual([]);
      expect(result, summary).toMatchObject({ ok: false, records: [], reason: 'no usable TLSA record to authenticate with' });
      break;
    case 'match':
      expect(result, summary).toMatchObject({ ok: true, usage: expected.usage, depth: expected.depth });
      if (!result.ok) break;
      if (expected.usage === 'DANE-TA') {
        expect(result.anchor, summary).toBe(expected.anchor);
        expect(result.matchedName, summary).toBe(OPENSSL_REFERENCE_NAME);
      } else {
        expect(result.anchor, summary).toBeUndefined();
      }
      break;
    case 'fail':
      expect(result.ok, summary).toBe(false);
      if (result.ok) break;
      expect(result.records.length, summary).toBe(usable.length);
      if (expected.code) for (const r of result.records) expect(r.code, summary).toBe(expected.code);
      break;
  }
}

// --- Load: a missing or unreadable file is a failing test, never a skip ---

let blocks: Block[] = [];
let loadError: string | undefined;
try {
  blocks = parseVectors(readFileSync(VECTORS, 'utf8'));
} catch (err) {
  loadError = `OpenSSL DANE vectors unusable at ${VECTORS}: ${(err as Error).message}. ` + 'They are read from shared/peer-data/openssl-danetest/ beside the repository root (CI must place a copy of shared/ next to the clone).';
}

describe('OpenSSL danetest.in vectors under RFC 7672 §3.1 (DANE-EE, DANE-TA; PKIX usages unusable)', () => {
  it(`the vector file is present and complete: ${EXPECTED_BLOCKS} blocks, numbered in order`, () => {
    if (loadError) throw new Error(loadError);
    expect(blocks).toHaveLength(EXPECTED_BLOCKS);
    expect(blocks.map((b) => b.number)).toEqual(blocks.map((b) => b.index));
    for (const b of blocks) expect(b.certs.length, `block ${b.index} has certificates`).toBeGreaterThan(0);
  });

  for (const b of blocks) {
    // Map at collection time so the title can say what is expected; an unmappable block
    // becomes a failing test rather than a collection error.
    let mapped: Expected | Error;
    let mappedAll: Expected | Error | undefined;
    try {
      mapped = rfc7672Expectation(b);
      // Extra records OpenSSL's driver skips (the "Mixed usage" blocks): the header's
      // verdict is what the block's comment claims for all of them ("DANE-EE(3) beats
      // DANE-TA(2)", ...), so we also run them all, mapped the same way.
      if (b.skipped.length) mappedAll = rfc7672Expectation(b, [...b.records, ...b.skipped]);
    } catch (err) {
      mapped = err as Error;
    }
    it(mapped instanceof Error ? `#${b.number ?? b.index}: no RFC 7672 mapping` : title(b, mapped), () => {
      if (mapped instanceof Error) throw mapped;
      check(b, b.records, mapped);
      if (mappedAll instanceof Error) throw mappedAll;
      if (mappedAll) check(b, [...b.records, ...b.skipped], mappedAll);
    });
  }
});
