/**
 * Non-DANE authentication for the policy levels `fingerprint`, `verify` and `secure`
 * (Postfix semantics). Pure: served chain, anchors, names and time in; result out.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { leafMatchesName, serverAuthAllowed } from '../x509/identity.js';
import { dateProblem, readCertificate, type Certificate } from '../x509/certificate.js';
import { certIssuedBy, certSignedBy, checkPath, type PathCert } from '../x509/path.js';
import type { Fingerprint } from './table.js';

export type PolicyAuth = { ok: true; detail: string } | { ok: false; reason: string };

/** A certificate OpenSSL parses (readCertificate: names escaped, the SPKI as encoded, any key type). */
type Parsed = Certificate & PathCert;

function parse(der: Buffer): Parsed | undefined {
  const c = readCertificate(der);
  return c.x509 ? (c as Parsed) : undefined;
}

/** The one-line, escaped subject for a reason; never empty. */
const named = (c: Certificate): string => c.subject || '(empty subject DN)';

/** fingerprint: the leaf certificate's or its public key's SHA-256/SHA-512 digest is listed. */
export function checkFingerprints(served: Buffer[], fingerprints: Fingerprint[]): PolicyAuth {
  const leafDer = served[0];
  const leaf = leafDer ? parse(leafDer) : undefined;
  if (!leafDer || !leaf) return { ok: false, reason: 'the server sent no parsable certificate' };
  // The SPKI as the certificate encodes it: a key type Node cannot load has one too.
  const spki = leaf.spki;
  for (const fp of fingerprints) {
    if (createHash(fp.algorithm).update(leafDer).digest('hex') === fp.hex) return { ok: true, detail: `certificate ${fp.algorithm} fingerprint matched` };
    if (spki && createHash(fp.algorithm).update(spki).digest('hex') === fp.hex) return { ok: true, detail: `public-key ${fp.algorithm} fingerprint matched` };
  }
  const key = spki ? `public-key sha256 ${createHash('sha256').update(spki).digest('hex')}` : 'no readable public key';
  return {
    ok: false,
    reason: `no fingerprint matched: the leaf has certificate sha256 ${createHash('sha256').update(leafDer).digest('hex')} and ${key}`,
  };
}

/**
 * The names a verify/secure policy accepts (Postfix match patterns): `hostname` (the MX
 * host), `nexthop` (the destination domain), `dot-nexthop` (its subdomains), a name, or
 * `.suffix` (subdomains of suffix). Postfix hands `.suffix` to OpenSSL's X509_check_host
 * (tls_client.c add_namechecks), so it is checked the same way here: a certificate name
 * with one or more labels before the suffix, a wildcard `*.suffix` included, and the
 * subject CN when the certificate has no DNS names.
 */
export function nameMatches(leaf: X509Certificate, patterns: string[], ctx: { host: string; nexthop: string }): string | undefined {
  for (const p of patterns) {
    if (p === 'hostname' && leafMatchesName(leaf, ctx.host)) return ctx.host;
    if (p === 'nexthop' && leafMatchesName(leaf, ctx.nexthop)) return ctx.nexthop;
    const suffix = p === 'dot-nexthop' ? ctx.nexthop : p.startsWith('.') ? p.slice(1) : undefined;
    if (suffix !== undefined) {
      const hit = subdomainMatch(leaf, suffix);
      if (hit) return hit;
      continue;
    }
    if (p !== 'hostname' && p !== 'nexthop' && leafMatchesName(leaf, p)) return p;
  }
  return undefined;
}

/** The certificate name that is a subdomain of suffix (OpenSSL's leading-dot reference name), if any. */
function subdomainMatch(leaf: X509Certificate, suffix: string): string | undefined {
  if (!suffix) return undefined;
  try {
    return leaf.checkHost(`.${suffix}`, { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false });
  } catch {
    return undefined;
  }
}

/**
 * verify/secure: a path from the leaf through served certificates to a trusted root, dated,
 * RFC 5280 §6.1.4 constraints (CA, keyUsage keyCertSign, pathLenConstraint, the root's
 * included, as OpenSSL does), names matched.
 */
export function checkPkix(served: Buffer[], anchorsPem: readonly string[], patterns: string[], ctx: { host: string; nexthop: string; now: Date }): PolicyAuth {
  const certs = served.flatMap((der): Parsed[] => {
    const c = parse(der);
    return c ? [c] : [];
  });
  const leaf = certs[0];
  if (!leaf) return { ok: false, reason: 'the server sent no parsable certificate' };
  const anchors = anchorsPem.flatMap((p): Parsed[] => {
    let der: Buffer;
    try {
      der = new X509Certificate(p).raw;
    } catch {
      return [];
    }
    const c = parse(der);
    return c ? [c] : [];
  });
  const path = [leaf];
  const used = new Set([leaf]);
  let anchored: Parsed | undefined;
  for (let depth = 0; depth < 10 && !anchored; depth++) {
    const top = path[path.length - 1]!;
    // Links as OpenSSL makes them first; then a parent that only signed its child, so that
    // checkPath says what is wrong with it (no keyCertSign, a malformed extension).
    let next: Parsed | undefined;
    for (const link of [certIssuedBy, certSignedBy]) {
      anchored = anchors.find((a) => a.x509.fingerprint256 === top.x509.fingerprint256 || link(top.x509, a.x509));
      next = anchored ? undefined : certs.find((c) => !used.has(c) && link(top.x509, c.x509));
      if (anchored || next) break;
    }
    if (!next) break;
    path.push(next);
    used.add(next);
  }
  if (!anchored) return { ok: false, reason: 'the served chain does not lead to a trusted CA' };
  // The CA-file certificate is the top; when the server sent it too, it counts once.
  const full = path[path.length - 1]!.x509.fingerprint256 === anchored.x509.fingerprint256 ? path : [...path, anchored];
  for (const c of full) {
    const problem = dateProblem(c, ctx.now);
    if (problem) return { ok: false, reason: `certificate ${named(c)} is outside its validity period (${problem})` };
  }
  const structural = checkPath(full);
  if (structural) return { ok: false, reason: structural.why };
  // A served certificate that is itself in the CA file still has to be a CA (as before).
  if (full.length === 1 && leaf.x509.ca !== true) return { ok: false, reason: `certificate ${named(leaf)} is not a CA` };
  const leafCert = leaf.x509;
  if (!serverAuthAllowed(leafCert)) return { ok: false, reason: 'the certificate is not for TLS server authentication (extended key usage)' };
  const name = nameMatches(leafCert, patterns, ctx);
  if (!name) return { ok: false, reason: `the certificate names none of ${patterns.join(', ')} (host ${ctx.host}, next hop ${ctx.nexthop})` };
  return { ok: true, detail: `PKIX chain to ${named(anchored)}, name ${name}` };
}
