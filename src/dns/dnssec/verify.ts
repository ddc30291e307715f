/**
 * Signature and DS checks (RFC 4034, RFC 4035 §5.2-5.3): DNSKEY algorithms 5, 7, 8, 10
 * (RSA, RFC 3110 / RFC 5702), 13, 14 (ECDSA, RFC 6605), 15, 16 (EdDSA, RFC 8080), with
 * node:crypto; DS digests 1, 2, 4. Pure: wire data and a clock value in, verdicts out.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { dsDigest, isSubdomain, keyTag, lastLabels, rrsigLabelCount, signedData, type SignedRRset } from './canonical.js';
import { DNSKEY_FLAG_REVOKE, DNSKEY_FLAG_ZONE, typeName, type DnskeyData, type DsData, type RrsigData } from './wire-dnssec.js';

interface AlgorithmInfo {
  name: string;
  hash: string | null;
  kind: 'rsa' | 'ec' | 'okp';
  curve?: 'P-256' | 'P-384' | 'Ed25519' | 'Ed448';
  size?: number;
}

const ALGORITHMS: Readonly<Record<number, AlgorithmInfo>> = {
  5: { name: 'RSASHA1', hash: 'sha1', kind: 'rsa' },
  7: { name: 'RSASHA1-NSEC3-SHA1', hash: 'sha1', kind: 'rsa' },
  8: { name: 'RSASHA256', hash: 'sha256', kind: 'rsa' },
  10: { name: 'RSASHA512', hash: 'sha512', kind: 'rsa' },
  13: { name: 'ECDSAP256SHA256', hash: 'sha256', kind: 'ec', curve: 'P-256', size: 32 },
  14: { name: 'ECDSAP384SHA384', hash: 'sha384', kind: 'ec', curve: 'P-384', size: 48 },
  15: { name: 'ED25519', hash: null, kind: 'okp', curve: 'Ed25519', size: 32 },
  16: { name: 'ED448', hash: null, kind: 'okp', curve: 'Ed448', size: 57 },
};

export function isSupportedAlgorithm(alg: number): boolean {
  return Object.hasOwn(ALGORITHMS, alg);
}

export function isSupportedDigest(digestType: number): boolean {
  return digestType === 1 || digestType === 2 || digestType === 4;
}

export function algorithmName(alg: number): string {
  return ALGORITHMS[alg]?.name ?? `algorithm ${alg}`;
}

const b64url = (b: Buffer) => b.toString('base64url');

/** RSA modulus bounds: RFC 3110 §2 (at most 4096 bits); below 512 bits is no protection. */
const RSA_MIN_BITS = 512;
const RSA_MAX_BITS = 4096;

/** Builds a public key from DNSKEY public key bytes, or returns why not. */
export function publicKeyFromDnskey(algorithm: number, key: Buffer): KeyObject | string {
  const info = ALGORITHMS[algorithm];
  if (!info) return `unsupported algorithm ${algorithm}`;
  try {
    if (info.kind === 'rsa') {
      // RFC 3110 §2: exponent length (1 octet, or 0 then 2 octets), exponent, modulus.
      if (key.length < 3) return 'RSA key too short';
      let p = 1;
      let elen = key[0]!;
      if (elen === 0) {
        elen = key.readUInt16BE(1);
        p = 3;
      }
      if (elen === 0 || p + elen >= key.length) return 'bad RSA exponent length';
      let e = key.subarray(p, p + elen);
      let n = key.subarray(p + elen);
      while (e.length > 1 && e[0] === 0) e = e.subarray(1);
      while (n.length > 1 && n[0] === 0) n = n.subarray(1);
      const bits = n.length * 8 - Math.clz32(n[0]!) + 24;
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) return `RSA modulus of ${bits} bits`;
      return createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    }
    if (info.kind === 'ec') {
      const size = info.size!;
      if (key.length !== 2 * size) return `ECDSA key of ${key.length} octets, expected ${2 * size}`;
      return createPublicKey({
        key: { kty: 'EC', crv: info.curve!, x: b64url(key.subarray(0, size)), y: b64url(key.subarray(size)) },
        format: 'jwk',
      });
    }
    if (key.length !== info.size) return `${info.curve} key of ${key.length} octets, expected ${info.size}`;
    return createPublicKey({ key: { kty: 'OKP', crv: info.curve!, x: b64url(key) }, format: 'jwk' });
  } catch (err) {
    return `unusable public key (${(err as Error).message.slice(0, 80)})`;
  }
}

const keyCache = new Map<string, KeyObject | string>();
const KEY_CACHE_MAX = 512;

function cachedKey(algorithm: number, key: Buffer): KeyObject | string {
  const id = `${algorithm}:${key.toString('base64')}`;
  let k = keyCache.get(id);
  if (k === undefined) {
    k = publicKeyFromDnskey(algorithm, key);
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(id, k);
  }
  return k;
}

/** Verifies one signature over `data`. */
export function verifySignature(algorithm: number, publicKey: Buffer, data: Buffer, signature: Buffer): boolean | string {
  const info = ALGORITHMS[algorithm];
  if (!info) return `unsupported algorithm ${algorithm}`;
  const key = cachedKey(algorithm, publicKey);
  if (typeof key === 'string') return key;
  try {
    if (info.kind === 'ec') {
      if (signature.length !== 2 * info.size!) return false;
      return cryptoVerify(info.hash!, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return cryptoVerify(info.hash, data, key, signature);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- time

/** a < b in RFC 1982 serial number arithmetic (32 bits), as RFC 4034 §3.1.5 requires. */
function serialLess(a: number, b: number): boolean {
  const d = (b - a) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/** RRSIG time field relative to `nowSec` as an absolute Unix time (closest in serial arithmetic). */
export function rrsigTime(field: number, nowSec: number): number {
  const nowMod = nowSec >>> 0;
  const diff = (field - nowMod) | 0; // signed 32-bit distance
  return nowSec + diff;
}

export function isoTime(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------- RRsets

export interface ZoneKey {
  /** Zone (owner of the DNSKEY). */
  zone: string;
  key: DnskeyData;
  tag: number;
}

export function zoneKeyOf(zone: string, key: DnskeyData): ZoneKey {
  return { zone, key, tag: keyTag(key.rdata) };
}

export interface SignatureVerdictOk {
  ok: true;
  rrsig: RrsigData;
  key: ZoneKey;
  /** TTL the RRset may be kept (RFC 4035 §5.3.3): min(TTL, original TTL, time to expiration). */
  ttl: number;
  /** Unix time the signature expires. */
  expires: number;
  /** For a wildcard expansion (RRSIG Labels < owner labels): the closest encloser, whose `*` child was expanded. */
  wildcardParent?: string;
}

export interface SignatureVerdictFail {
  ok: false;
  reason: string;
}

export type SignatureVerdict = SignatureVerdictOk | SignatureVerdictFail;

export interface VerifyRRsetOptions {
  nowSec: number;
  /** TTL of the RRset as received. */
  ttl: number;
  /** Most RRSIGs tried (KeyTrap, CVE-2023-50387); default 8. */
  maxSignatures?: number;
  /** Most key/signature pairs tried; default 16. */
  maxVerifications?: number;
}

function describeRrsig(s: RrsigData, owner: string): string {
  return `RRSIG ${typeName(s.typeCovered)} ${owner || '.'} by key ${s.keyTag} (${algorithmName(s.algorithm)}) of ${s.signer || '.'}`;
}

/**
 * Checks the RRSIGs of one RRset against the (already authenticated) DNSKEYs of the signer
 * zone (RFC 4035 §5.3.1-5.3.3). Succeeds with the first RRSIG that validates.
 */
export function verifyRRset(rrset: SignedRRset, rrsigs: readonly RrsigData[], keys: readonly ZoneKey[], o: VerifyRRsetOptions): SignatureVerdict {
  const maxSigs = o.maxSignatures ?? 8;
  const maxVerifications = o.maxVerifications ?? 16;
  const failures: string[] = [];
  let verifications = 0;
  const ownerLabels = rrsigLabelCount(rrset.owner);
  let tried = 0;
  for (const s of rrsigs) {
    if (s.typeCovered !== rrset.type) continue;
    if (++tried > maxSigs) {
      failures.push(`more than ${maxSigs} RRSIGs, the rest ignored`);
      break;
    }
    const what = describeRrsig(s, rrset.owner);
    if (!isSubdomain(rrset.owner, s.signer)) {
      failures.push(`${what}: signer is not an ancestor of the owner`);
      continue;
    }
    if (s.labels > ownerLabels) {
      failures.push(`${what}: Labels ${s.labels} larger than the owner's ${ownerLabels}`);
      continue;
    }
    if (!isSupportedAlgorithm(s.algorithm)) {
      failures.push(`${what}: unsupported algorithm`);
      continue;
    }
    const inception = rrsigTime(s.inception, o.nowSec);
    const expiration = rrsigTime(s.expiration, o.nowSec);
    if (serialLess(s.expiration, s.inception)) {
      failures.push(`${what}: expiration ${isoTime(expiration)} before inception ${isoTime(inception)}`);
      continue;
    }
    if (o.nowSec > expiration) {
      failures.push(`${what}: signature expired at ${isoTime(expiration)}`);
      continue;
    }
    if (o.nowSec < inception) {
      failures.push(`${what}: signature not valid before ${isoTime(inception)}`);
      continue;
    }
    const candidates = keys.filter(
      (k) =>
        k.zone === s.signer &&
        k.tag === s.keyTag &&
        k.key.algorithm === s.algorithm &&
        k.key.protocol === 3 &&
        (k.key.flags & DNSKEY_FLAG_ZONE) !== 0 &&
        (k.key.flags & DNSKEY_FLAG_REVOKE) === 0,
    );
    if (candidates.length === 0) {
      failures.push(`${what}: no such key in the authenticated DNSKEY set of ${s.signer || '.'}`);
      continue;
    }
    const data = signedData(s.signedPrefix, s.labels, s.originalTtl, rrset);
    let good: ZoneKey | undefined;
    let why = 'signature does not verify';
    for (const k of candidates) {
      if (++verifications > maxVerifications) {
        why = `more than ${maxVerifications} signature verifications`;
        break;
      }
      const r = verifySignature(s.algorithm, k.key.publicKey, data, s.signature);
      if (r === true) {
        good = k;
        break;
      }
      if (typeof r === 'string') why = r;
    }
    if (!good) {
      failures.push(`${what}: ${why}`);
      continue;
    }
    const ttl = Math.max(0, Math.min(o.ttl, s.originalTtl, expiration - o.nowSec));
    return {
      ok: true,
      rrsig: s,
      key: good,
      ttl,
      expires: expiration,
      ...(s.labels < ownerLabels ? { wildcardParent: lastLabels(rrset.owner, s.labels) } : {}),
    };
  }
  if (failures.length === 0) failures.push(`no RRSIG for ${typeName(rrset.type)} ${rrset.owner || '.'}`);
  // The first few reasons, and a limit that stopped the checks (KeyTrap bounds) in any case.
  const shown = failures.slice(0, 3);
  const limit = failures.slice(3).find((f) => /more than \d+ /.test(f));
  if (limit) shown.push(limit);
  return { ok: false, reason: shown.join('; ') };
}

// ---------------------------------------------------------------- DS

export type DsMatch =
  | { kind: 'match'; keys: ZoneKey[] }
  /** No DS with an algorithm and digest we support: the zone is insecure (RFC 4035 §5.2, RFC 6840 §5.2). */
  | { kind: 'unsupported'; reason: string }
  | { kind: 'nomatch'; reason: string };

/** Digest types by strength: SHA-1 < SHA-256 < SHA-384. */
const DIGEST_STRENGTH: Readonly<Record<number, number>> = { 1: 1, 2: 2, 4: 3 };

/** DS records usable by us: supported digest type and DNSKEY algorithm. */
export function usableDs(ds: readonly DsData[]): DsData[] {
  return ds.filter((d) => isSupportedDigest(d.digestType) && isSupportedAlgorithm(d.algorithm));
}

/**
 * The usable DS records with the strongest digest type present (RFC 4509 §3: ignore SHA-1
 * DS records when SHA-256 ones are present), so that a weaker digest cannot stand in for a
 * stronger one that does not match (as unbound does).
 */
export function strongestDs(ds: readonly DsData[]): DsData[] {
  const usable = usableDs(ds);
  const best = Math.max(0, ...usable.map((d) => DIGEST_STRENGTH[d.digestType] ?? 0));
  return usable.filter((d) => DIGEST_STRENGTH[d.digestType] === best);
}

/** DNSKEYs of `zone` that a usable DS (or trust-anchor DS) of the strongest digest type matches (RFC 4035 §5.2). */
export function matchDs(zone: string, ds: readonly DsData[], dnskeys: readonly DnskeyData[]): DsMatch {
  const usable = strongestDs(ds);
  if (usable.length === 0) {
    const list = ds.map((d) => `${d.keyTag}/${algorithmName(d.algorithm)}/digest ${d.digestType}`).join(', ');
    return { kind: 'unsupported', reason: `no DS for ${zone || '.'} with a supported algorithm and digest type (${list})` };
  }
  const out: ZoneKey[] = [];
  for (const k of dnskeys) {
    if ((k.flags & DNSKEY_FLAG_ZONE) === 0 || (k.flags & DNSKEY_FLAG_REVOKE) !== 0 || k.protocol !== 3) continue;
    const zk = zoneKeyOf(zone, k);
    for (const d of usable) {
      if (d.keyTag !== zk.tag || d.algorithm !== k.algorithm) continue;
      const digest = dsDigest(zone, k.rdata, d.digestType);
      if (digest && digest.equals(d.digest)) {
        out.push(zk);
        break;
      }
    }
  }
  if (out.length === 0) {
    const list = usable.map((d) => `${d.keyTag}/${algorithmName(d.algorithm)}/digest ${d.digestType}`).join(', ');
    const weaker = usableDs(ds).length - usable.length;
    const note = weaker > 0 ? `; ${weaker} DS with a weaker digest type ignored (RFC 4509 §3)` : '';
    return { kind: 'nomatch', reason: `no DNSKEY of ${zone || '.'} matches its DS (${list}${note})` };
  }
  return { kind: 'match', keys: out };
}
