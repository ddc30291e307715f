/**
 * Computing TLSA records from key material (RFC 6698 §2.1, RFC 7671, RFC 7672 §3.1) and
 * printing them as zone-file lines. Pure.
 */
import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { isIP } from 'node:net';
import type { TlsaData } from '../../dns/types.js';
import { DaneSmtpError } from '../../errors.js';
import { Matching, Selector, Usage, recordUsability, tlsaFromText, tlsaToText } from '../../core/rfc7672/tlsa.js';
import { issuerPath, sha256Hex, type CertEntry, type Material } from './material.js';

export interface TlsaParams {
  usage: number;
  selector: number;
  matchingType: number;
}

export const DEFAULT_PARAMS: TlsaParams = { usage: Usage.DANE_EE, selector: Selector.SPKI, matchingType: Matching.SHA256 };

function usage(message: string): DaneSmtpError {
  return new DaneSmtpError('USAGE', message);
}

const USAGE_NAMES: Record<string, number> = { 'pkix-ta': 0, 'pkix-ee': 1, 'dane-ta': 2, 'dane-ee': 3 };
const SELECTOR_NAMES: Record<string, number> = { cert: 0, spki: 1 };
const MTYPE_NAMES: Record<string, number> = { full: 0, sha256: 1, 'sha2-256': 1, sha512: 2, 'sha2-512': 2 };

function field(value: string, what: string, names: Record<string, number>, max: number): number {
  const v = value.trim().toLowerCase();
  if (Object.hasOwn(names, v)) return names[v]!;
  if (/^\d{1,3}$/.test(v) && Number(v) <= max) return Number(v);
  const known: string[] = [];
  for (const [n, x] of Object.entries(names)) if (!known.some((k) => k.startsWith(`${x} `))) known.push(`${x} (${n})`);
  throw usage(`${what} must be one of ${known.join(', ')}, not '${value}'`);
}

export const parseUsage = (v: string) => field(v, '--usage', USAGE_NAMES, 3);
export const parseSelector = (v: string) => field(v, '--selector', SELECTOR_NAMES, 1);
export const parseMatchingType = (v: string) => field(v, '--mtype', MTYPE_NAMES, 2);

/**
 * `--record` values: groups of three numbers ("3 1 1", "2,0,1" or three separate arguments),
 * several groups for several records. Tokens that are not numbers are returned as `rest`
 * (a variadic option swallows the file name that follows it on the command line).
 */
export function parseRecordSpecs(values: string[]): { params: TlsaParams[]; rest: string[] } {
  const nums: string[] = [];
  const rest: string[] = [];
  for (const v of values) {
    for (const t of v.split(/[\s,]+/).filter(Boolean)) {
      if (/^\d+$/.test(t) && rest.length === 0) nums.push(t);
      else rest.push(t);
    }
  }
  if (nums.length === 0 || nums.length % 3 !== 0) {
    throw usage(`--record needs usage, selector and matching type, e.g. --record 2 0 1 (got '${values.join(' ')}')`);
  }
  const params: TlsaParams[] = [];
  for (let i = 0; i < nums.length; i += 3) {
    params.push({
      usage: field(nums[i]!, '--record usage', USAGE_NAMES, 3),
      selector: field(nums[i + 1]!, '--record selector', SELECTOR_NAMES, 1),
      matchingType: field(nums[i + 2]!, '--record matching type', MTYPE_NAMES, 2),
    });
  }
  return { params, rest };
}

/** A host name for a TLSA owner (A-labels, lower case, no trailing dot), or a usage error. */
export function parseHostName(input: string, what = '--host'): string {
  const trimmed = input.trim().replace(/\.$/, '');
  if (isIP(trimmed) !== 0 || /^\[.*\]$/.test(trimmed)) {
    throw usage(`${what} must be a host name, not an IP address ('${input}'): TLSA records are published under names`);
  }
  const ascii = /^[\x00-\x7f]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  const ok =
    ascii.length > 0 &&
    ascii.length <= 245 &&
    ascii.split('.').every((l) => /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/.test(l)) &&
    !/^\d+$/.test(ascii.split('.').pop() ?? '');
  if (!ok) throw usage(`${what} is not a valid host name: '${input}'`);
  return ascii;
}

/** The TLSA base domain a certificate names: its first DNS SAN without a wildcard, else a CN that is a host name. */
export function hostNameFromCertificate(m: Material): string | undefined {
  if (m.kind !== 'certs') return undefined;
  const leaf = m.certs[0]!.x509;
  const sans = (leaf.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
  for (const n of [...sans, ...(cn ? [cn] : [])]) {
    if (n.includes('*')) continue;
    try {
      return parseHostName(n);
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The records of several served chains as one list: each record once, with every address that serves a key it covers. */
export function mergeRecordsByText(blocks: { addresses: string[]; records: ComputedRecord[] }[]): (ComputedRecord & { addresses: string[] })[] {
  const byText = new Map<string, ComputedRecord & { addresses: string[] }>();
  for (const b of blocks) {
    for (const r of b.records) {
      const seen = byText.get(r.text);
      if (seen) seen.addresses.push(...b.addresses.filter((a) => !seen.addresses.includes(a)));
      else byText.set(r.text, { ...r, addresses: [...b.addresses] });
    }
  }
  return [...byText.values()];
}

/** `_PORT._tcp.HOST.` (RFC 6698 §3), absolute. */
export function ownerName(host: string, port: number): string {
  return `_${port}._tcp.${host}.`;
}

/** `_25._tcp.mx.example.com. IN TLSA 3 1 1 <hex>` */
export function zoneLine(owner: string, r: TlsaData): string {
  return `${owner} IN TLSA ${tlsaToText(r)}`;
}

/** Short form for reports: digests in full, full data cut to 32 hex digits. */
export function shortText(r: TlsaData): string {
  const hex = r.data.toString('hex');
  const data = r.matchingType === Matching.FULL && hex.length > 40 ? `${hex.slice(0, 32)}…(${r.data.length} bytes)` : hex;
  return `${r.usage} ${r.selector} ${r.matchingType} ${data}`;
}

const USAGE_LABEL = ['PKIX-TA', 'PKIX-EE', 'DANE-TA', 'DANE-EE'];
const SELECTOR_LABEL = ['certificate', 'public key'];
const MTYPE_LABEL = ['full', 'SHA-256 of the', 'SHA-512 of the'];

export function describeParams(p: TlsaParams): string {
  const sel = SELECTOR_LABEL[p.selector] ?? `selector ${p.selector}`;
  const m = p.matchingType === 0 ? `full ${sel}` : `${MTYPE_LABEL[p.matchingType] ?? `matching type ${p.matchingType} of the`} ${sel}`;
  return `${USAGE_LABEL[p.usage] ?? `usage ${p.usage}`}, ${m}`;
}

/** The association data for one certificate or key (RFC 6698 §2.1.2, §2.1.3). */
export function associationData(p: TlsaParams, target: { der?: Buffer; spki: Buffer }, what = 'the input'): Buffer {
  let selected: Buffer;
  if (p.selector === Selector.CERT) {
    if (!target.der) throw usage(`selector 0 (full certificate) needs a certificate, but ${what} is a bare key; use selector 1`);
    selected = target.der;
  } else if (p.selector === Selector.SPKI) {
    selected = target.spki;
  } else {
    throw usage(`unknown selector ${p.selector}`);
  }
  switch (p.matchingType) {
    case Matching.FULL:
      return Buffer.from(selected);
    case Matching.SHA256:
      return createHash('sha256').update(selected).digest();
    case Matching.SHA512:
      return createHash('sha512').update(selected).digest();
    default:
      throw usage(`unknown matching type ${p.matchingType}`);
  }
}

export interface TargetInfo {
  /** 'leaf' for usages 1/3, 'ca' for 0/2. */
  role: 'leaf' | 'ca';
  /** Depth in the chain used (0 = leaf); undefined for a bare key. */
  depth?: number;
  subject?: string;
  /** SHA-256 of the SPKI, to recognise the key. */
  spkiSha256: string;
}

export interface ComputedRecord extends TlsaData {
  text: string;
  description: string;
  target: TargetInfo;
}

export interface ComputeResult {
  records: ComputedRecord[];
  warnings: string[];
}

/**
 * The depth of the CA a DANE-TA / PKIX-TA record is made for (RFC 7671 §5.2.2, RFC 7672
 * §3.1.2: the anchor must be a certificate the server sends): the highest CA of the issuer
 * path that the server sends, when that is known; else the highest CA below a self-signed
 * root, which servers rarely send (the root only when it issued the leaf itself).
 */
export function trustAnchorDepth(path: CertEntry[], served?: CertEntry[]): number {
  const top = path.length - 1;
  if (served && served.length > 0) {
    for (let d = top; d >= 1; d--) if (servedHas(served, path[d]!)) return d;
  }
  return top >= 2 && path[top]!.selfIssued ? top - 1 : top;
}

/** Whether `cert` is on the issuer path of the chain the server sends. */
function servedHas(served: CertEntry[], cert: CertEntry): boolean {
  return issuerPath(served).some((c) => c.der.equals(cert.der));
}

/**
 * Records for `params` from `material`. DANE-EE / PKIX-EE: the leaf (the first certificate)
 * or the key. DANE-TA / PKIX-TA: the issuing CA of the chain (trustAnchorDepth: the highest
 * CA the server sends, else the highest below a self-signed root), or the key (taken as the
 * CA's key).
 *
 * `served`, when known (a live server), is the chain the server sends: the records are
 * checked against it and a warning says when a record's certificate is not served (a
 * DANE-TA anchor must be in the served chain, RFC 7672 §3.1.2) or the leaf differs.
 */
export function computeRecords(material: Material, params: TlsaParams[], served?: CertEntry[]): ComputeResult {
  const warnings: string[] = [];
  const records: ComputedRecord[] = [];
  const warn = (w: string) => {
    if (!warnings.includes(w)) warnings.push(w);
  };
  const path = material.kind === 'certs' ? issuerPath(material.certs) : [];
  if (material.kind === 'certs' && path.length < material.certs.length) {
    warn(`${material.certs.length - path.length} certificate(s) of the chain are not on the issuer path of the leaf ${material.certs[0]!.subject} and are ignored`);
  }
  for (const p of params) {
    const u = recordUsability({ ...p, data: Buffer.alloc(p.matchingType === 2 ? 64 : 32) });
    if (!u.usable) warn(`${p.usage} ${p.selector} ${p.matchingType}: ${u.detail}`);
    const role: 'leaf' | 'ca' = p.usage === Usage.DANE_TA || p.usage === Usage.PKIX_TA ? 'ca' : 'leaf';
    let target: { der?: Buffer; spki: Buffer };
    let info: TargetInfo;
    if (material.kind === 'key') {
      target = { spki: material.spki };
      info = { role, spkiSha256: sha256Hex(material.spki) };
      if (role === 'ca') warn(`a ${p.usage} x x record from a bare key assumes it is the key of the CA that issues the server certificate`);
    } else {
      const depth = role === 'leaf' ? 0 : trustAnchorDepth(path, served);
      const cert = path[depth]!;
      target = { der: cert.der, spki: cert.spki };
      info = { role, depth, subject: cert.subject, spkiSha256: sha256Hex(cert.spki) };
      const top = path[path.length - 1]!;
      if (role === 'ca' && depth > 0 && depth < path.length - 1) {
        // RFC 7671 §5.2.2: the anchor the server sends, not the root it leaves out.
        const why = served && servedHas(served, cert) && !servedHas(served, top) ? `${top.subject} is not in the chain the server sends` : `servers rarely send the self-signed root ${top.subject}`;
        warn(
          `${p.usage} x x records are for ${cert.subject}, not for ${top.subject} above it in the chain: a DANE-TA record only matches a certificate the server sends (RFC 7672 §3.1.2), and ${why}; ` +
            `for a record of ${top.subject}, give that certificate alone (and have the server send it)`,
        );
      } else if (role === 'ca' && depth > 0 && cert.selfIssued && !served) {
        warn(`${p.usage} x x records are for the root ${cert.subject}, which issued the leaf itself: the server must send the root in its chain for them to match (RFC 7672 §3.1.2)`);
      }
      if (role === 'ca' && depth === 0 && !(cert.ca && cert.selfIssued)) {
        warn(
          `the issuing CA of ${cert.subject} (${cert.issuer}) is not in the ${served ? 'served chain' : 'chain'}: ` +
            `a ${p.usage} ${p.selector} ${p.matchingType} record for the leaf itself is not a trust-anchor record; ` +
            `give the chain (leaf + intermediates) or have the server send its CA (RFC 7672 §3.1.2)`,
        );
      } else if (role === 'ca' && !cert.ca) {
        warn(`the top certificate ${cert.subject} is not a CA certificate (basicConstraints CA:FALSE): DANE-TA authentication through it fails (RFC 7671 §5.2)`);
      }
    }
    const data = associationData(p, target, material.kind === 'key' ? 'the input' : 'the certificate');
    const rec: TlsaData = { usage: p.usage, selector: p.selector, matchingType: p.matchingType, data };
    records.push({ ...rec, text: tlsaToText(rec), description: describeParams(p), target: info });

    if (served && served.length > 0) {
      const servedLeaf = served[0]!;
      if (role === 'leaf' && !servedLeaf.spki.equals(target.spki)) {
        warn(`the server currently sends a different key (leaf ${servedLeaf.subject}): the ${p.usage} ${p.selector} ${p.matchingType} record does not match it yet`);
      } else if (role === 'leaf' && p.selector === Selector.CERT && target.der && !servedLeaf.der.equals(target.der)) {
        warn(`the server currently sends a different certificate (same key): the ${p.usage} 0 ${p.matchingType} record does not match it yet; prefer selector 1`);
      } else if (role === 'ca') {
        const servedPath = issuerPath(served);
        const inServed = servedPath.some((c) => (p.selector === Selector.CERT && target.der ? c.der.equals(target.der) : c.spki.equals(target.spki)));
        if (!inServed) {
          const who = info.subject ?? `key ${info.spkiSha256.slice(0, 16)}…`;
          warn(`the CA ${who} is not in the chain the server sends: a DANE-TA record only matches a certificate the server sends on its leaf's issuer path (RFC 7672 §3.1.2)`);
        }
      }
    }
  }
  return { records, warnings };
}

/** "U S M HEX" as this tool prints a record (tlsaToText) back to TLSA data. */
export const parseRecordText = tlsaFromText;
