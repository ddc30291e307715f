/**
 * Certificate path checks shared by DANE-TA (RFC 7672 §3.1.2, RFC 7671 §5.2.2: "the usual
 * checks" from the anchor) and the PKIX policy levels: issuer linkage, RFC 5280 §6.1.4
 * (k)–(n), unrecognized critical extensions (§4.2) and name constraints (§4.2.1.10,
 * §6.1.4 (g)), which node:crypto does not offer as such. Pure; never throws.
 */
import type { X509Certificate } from 'node:crypto';
import { nameConstraintViolation, unhandledExtension } from './constraints.js';
import { KEY_USAGE_NAMES, readCertExtensions, type CertExtensions } from './extensions.js';
import { safeName } from './certificate.js';

export interface PathCert {
  der: Buffer;
  x509: X509Certificate;
}

export type PathProblemKind =
  | 'malformed' // an extension that matters here cannot be parsed
  | 'not-ca' // an issuer without basicConstraints cA, or without keyCertSign in its keyUsage
  | 'path-length' // a pathLenConstraint is exceeded
  | 'unhandled-critical' // a critical extension that is not recognized (RFC 5280 §4.2), or a proxy certificate
  | 'name-constraints' // a name outside a CA's permitted subtrees or inside its excluded ones (RFC 5280 §4.2.1.10)
  | 'not-issuer'; // OpenSSL does not accept the issuer (key identifiers, other extensions)

export interface PathProblem {
  kind: PathProblemKind;
  depth: number;
  why: string;
}

/**
 * `parent` issued `child` as OpenSSL sees it: X509_check_issued (names, key identifiers,
 * keyCertSign in the issuer's keyUsage, parsable extensions) and the signature.
 */
export function certIssuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/**
 * Only the link itself: the issuer name is the parent's subject and the parent's key signed
 * the child. For path building, so that a parent that certIssuedBy refuses (no keyCertSign,
 * a malformed extension) is still found and the failure said plainly; checkPath then refuses it.
 */
export function certSignedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.issuer === parent.subject && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Self-signed: its own issuer, signature verified with its own key. */
export function selfSigned(c: X509Certificate): boolean {
  return certSignedBy(c, c);
}

/** The issuer of `child` among `candidates`: one OpenSSL accepts first, else one that only signed it. */
export function findIssuer<T extends { x509: X509Certificate }>(child: T, candidates: T[]): T | undefined {
  return candidates.find((c) => certIssuedBy(child.x509, c.x509)) ?? candidates.find((c) => certSignedBy(child.x509, c.x509));
}

/** One line, control and bidi characters escaped (readCertificate's names); never empty. */
/**
 * The issuer path from the leaf (certs[0]) through the given certificates only (RFC 7672
 * §3.1.2: only what the server sent counts), leaf first; `extra` may add more candidates.
 * Their order does not matter; each is used at most once; it stops at a self-signed
 * certificate. A parent that only signed its child (OpenSSL would refuse it: no
 * keyCertSign, a malformed extension) still extends the path, so that checkPath can say
 * what is wrong with it instead of "not on the issuer path". Used by DANE-TA
 * authentication and by the tlsa tool alike.
 */
export function issuerPath<T extends { x509: X509Certificate }>(certs: readonly T[], extra: readonly T[] = [], maxDepth = 10): T[] {
  const leaf = certs[0];
  if (!leaf) return [];
  const pool = [...certs.slice(1), ...extra];
  const path = [leaf];
  const used = new Set<T>([leaf]);
  while (path.length < maxDepth) {
    const child = path[path.length - 1]!;
    if (selfSigned(child.x509)) break; // top reached
    const parent = findIssuer(child, pool.filter((c) => !used.has(c)));
    if (!parent) break;
    path.push(parent);
    used.add(parent);
  }
  return path;
}

function subjectOf(c: PathCert): string {
  try {
    const subject = c.x509.subject; // undefined for an empty DN
    return typeof subject === 'string' && subject !== '' ? safeName(subject.split('\n').filter((l) => l !== '').join(', ')) : '(empty subject DN)';
  } catch {
    return '?';
  }
}

/** RFC 5280 §6.1: self-issued = issuer and subject are the same name. */
function selfIssued(c: PathCert, ext: CertExtensions): boolean {
  return ext.issuerName.equals(ext.subjectName) || c.x509.issuer === c.x509.subject;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/**
 * Check a path `path[0]` (the leaf) … `path[n]` (the trust anchor, which is the top: nothing
 * above it counts, its own constraints apply below it, as OpenSSL does with a DANE-TA or a
 * CA-file anchor). Dates, reference names and EKU are the caller's. Returns the first problem found.
 */
export function checkPath(path: PathCert[]): PathProblem | undefined {
  const at = (d: number) => `certificate at depth ${d} (${subjectOf(path[d]!)})`;
  const exts: CertExtensions[] = [];
  for (let d = 0; d < path.length; d++) {
    const r = readCertExtensions(path[d]!.der);
    if (!r.ok) return { kind: 'malformed', depth: d, why: `${at(d)} cannot be parsed: ${r.why}` };
    exts.push(r.value);
  }
  // RFC 5280 §4.2: every certificate of the path, leaf and anchor included (OpenSSL
  // check_extensions: X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION over the whole chain).
  for (let d = 0; d < path.length; d++) {
    const why = unhandledExtension(exts[d]!);
    if (why) return { kind: 'unhandled-critical', depth: d, why: `${at(d)} ${why}` };
  }
  for (let d = 1; d < path.length; d++) {
    const ext = exts[d]!;
    // RFC 5280 §6.1.4 (k): an issuer must assert cA in basicConstraints.
    if (ext.basicConstraints?.cA !== true) {
      return { kind: 'not-ca', depth: d, why: `${at(d)} is not a CA (basicConstraints) but issues depth ${d - 1}` };
    }
    // RFC 5280 §6.1.4 (n): a keyUsage present must allow certificate signing.
    if (ext.keyUsage && !ext.keyUsage.keyCertSign) {
      const bits = ext.keyUsage.bits.map((b) => KEY_USAGE_NAMES[b]).join(', ') || 'nothing';
      return { kind: 'not-ca', depth: d, why: `${at(d)} issues depth ${d - 1} but its keyUsage (${bits}) lacks keyCertSign` };
    }
    if (path[d]!.x509.ca !== true) {
      return { kind: 'not-ca', depth: d, why: `${at(d)} issues depth ${d - 1} but is not accepted as a CA` };
    }
  }
  // RFC 5280 §6.1.4 (l)/(m), from the anchor down: each CA's pathLenConstraint bounds the
  // non-self-issued intermediate CA certificates below it; the leaf does not count.
  const top = path.length - 1;
  for (let d = top; d >= 1; d--) {
    const pathLen = exts[d]!.basicConstraints?.pathLen;
    if (pathLen === undefined) continue;
    let below = 0;
    for (let i = d - 1; i >= 1; i--) {
      if (selfIssued(path[i]!, exts[i]!)) continue;
      below++;
      if (below > pathLen) {
        return {
          kind: 'path-length',
          depth: d,
          why: `${at(d)} has pathLenConstraint ${pathLen} (at most ${plural(pathLen, 'intermediate CA certificate')} below it), but ${at(i)} is intermediate number ${below} below it`,
        };
      }
    }
  }
  // RFC 5280 §6.1.4 (g), §6.1.3 (b): the nameConstraints of every CA above a certificate,
  // the anchor's included (as OpenSSL does with a trust anchor in the chain), bind its
  // names; a self-issued intermediate's own names are exempt, its constraints are not.
  for (let i = top - 1; i >= 0; i--) {
    if (i !== 0 && selfIssued(path[i]!, exts[i]!)) continue;
    for (let j = top; j > i; j--) {
      const nc = exts[j]!.nameConstraints;
      if (!nc) continue;
      const why = nameConstraintViolation(exts[i]!, i === 0, nc, `the nameConstraints of ${at(j)}`);
      if (why) return { kind: 'name-constraints', depth: i, why: `${at(i)} ${why} (RFC 5280 §4.2.1.10)` };
    }
  }
  // The links as OpenSSL checks them (key identifiers, any other extension it rejects).
  for (let d = 1; d < path.length; d++) {
    if (!certIssuedBy(path[d - 1]!.x509, path[d]!.x509)) {
      return { kind: 'not-issuer', depth: d, why: `${at(d)} signed depth ${d - 1}, but is not accepted as its issuer (key identifiers or extensions)` };
    }
  }
  return undefined;
}
