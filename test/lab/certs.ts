/**
 * Certificates for the lab receivers, made with test/support/pki.ts: two shared CA
 * hierarchies (ECDSA and RSA: root -> intermediate) and one leaf per receiver, plus TLSA
 * association data computed from them. A receiver may have an intermediate of its own
 * (under the shared root) carrying extensions such as nameConstraints.
 */
import { createHash } from 'node:crypto';
import { makeCert, type CertSpec, type Issued, type KeyType } from '../support/pki.js';

export type CaFamily = 'ecdsa' | 'rsa';

/** How a receiver's certificate looks. Every field is optional. */
export interface CertProfile {
  /** Leaf key type (default 'ecdsa'; also 'rsa', 'rsa-pss', 'ed25519', 'ed448'). */
  key?: KeyType;
  /** Issuing CA hierarchy (default 'ecdsa'); ignored when selfSigned. */
  ca?: CaFamily;
  /** DNS SANs (default: the receiver's host name). null: no SAN extension (CN only). */
  names?: string[] | null;
  /** Subject CN (default: the first name, or the host name). */
  cn?: string;
  /** An empty subject DN (no CN, no attribute at all; `cn` is ignored). With `names: null` the leaf names nothing. */
  emptySubject?: boolean;
  /** Leaf validity ended yesterday. */
  expired?: boolean;
  /** Leaf validity ends this many days from now (default: a year). */
  expiresInDays?: number;
  /** Self-signed leaf (no CA); served alone. */
  selfSigned?: boolean;
  /** What the server sends (default 'full' = leaf + intermediate + root). */
  served?: 'leaf' | 'leaf+intermediate' | 'full';
  /**
   * An intermediate CA of this receiver's own (under the family's shared root) instead of the
   * shared one, with these extensions (test/support/pki.ts CertSpec: nameConstraints, RFC 5280
   * §4.2.1.10; extraExtensions, e.g. an unrecognized critical one, §4.2).
   */
  intermediate?: Pick<CertSpec, 'nameConstraints' | 'extraExtensions'>;
  /** Extra leaf extensions (CertSpec extraExtensions), e.g. an unrecognized critical one (RFC 5280 §4.2). */
  leafExtensions?: CertSpec['extraExtensions'];
}

export interface Ca {
  root: Issued;
  intermediate: Issued;
}

export interface HostCerts {
  leaf: Issued;
  intermediate?: Issued;
  root?: Issued;
  /** PEM chain the receiver serves, leaf first. */
  servedPem: string;
  /** Another certificate for the same names with another key, never served (key rollover). */
  unserved?: Issued;
}

const DAY = 86_400_000;

export async function makeCa(family: CaFamily): Promise<Ca> {
  const label = family.toUpperCase();
  const root = await makeCert({ cn: `DANE Lab ${label} Root`, key: family, ca: true });
  const intermediate = await makeCert({ cn: `DANE Lab ${label} Intermediate`, key: family, ca: true, issuer: root });
  return { root, intermediate };
}

/** The CA a receiver's leaf comes from: none (self-signed), the shared one, or its own intermediate under the shared root. */
async function hostCa(host: string, profile: CertProfile, cas: Record<CaFamily, Ca>): Promise<Ca | undefined> {
  if (profile.selfSigned) return undefined;
  const family = profile.ca ?? 'ecdsa';
  const shared = cas[family];
  if (!profile.intermediate) return shared;
  const intermediate = await makeCert({
    cn: `DANE Lab ${family.toUpperCase()} Intermediate for ${host}`,
    key: family,
    ca: true,
    issuer: shared.root,
    ...profile.intermediate,
  });
  return { root: shared.root, intermediate };
}

async function makeLeaf(host: string, profile: CertProfile, ca: Ca | undefined): Promise<Issued> {
  const now = Date.now();
  const names = profile.names === null ? [] : (profile.names ?? [host]);
  const cn = profile.cn ?? names[0] ?? host;
  return makeCert({
    cn,
    sans: names,
    key: profile.key ?? 'ecdsa',
    ...(profile.expired ? { notBefore: new Date(now - 60 * DAY), notAfter: new Date(now - DAY) } : {}),
    ...(profile.expiresInDays !== undefined ? { notBefore: new Date(now - 60 * DAY), notAfter: new Date(now + profile.expiresInDays * DAY) } : {}),
    ...(profile.leafExtensions ? { extraExtensions: profile.leafExtensions } : {}),
    ...(profile.emptySubject ? { emptySubject: true } : {}),
    ...(ca ? { issuer: ca.intermediate } : {}),
  });
}

export async function makeHostCerts(
  host: string,
  profile: CertProfile,
  cas: Record<CaFamily, Ca>,
  withUnserved: boolean,
): Promise<HostCerts> {
  const ca = await hostCa(host, profile, cas);
  const [leaf, other] = await Promise.all([
    makeLeaf(host, profile, ca),
    withUnserved ? makeLeaf(host, profile, ca) : Promise.resolve(undefined),
  ]);
  const served = profile.served ?? 'full';
  let servedPem = leaf.certPem;
  if (ca && served !== 'leaf') servedPem += ca.intermediate.certPem;
  if (ca && served === 'full') servedPem += ca.root.certPem;
  return {
    leaf,
    ...(ca ? { intermediate: ca.intermediate, root: ca.root } : {}),
    servedPem,
    ...(other ? { unserved: other } : {}),
  };
}

/** TLSA certificate association data (hex) for `cert` with the given selector and matching type. */
export function associationData(cert: Issued, selector: number, matchingType: number): Buffer {
  const content = selector === 0 ? cert.der : cert.spkiDer;
  switch (matchingType) {
    case 0:
      return Buffer.from(content);
    case 2:
      return createHash('sha512').update(content).digest();
    default:
      // 1, and unknown matching types (3...) which carry a SHA-256 that would match if misread.
      return createHash('sha256').update(content).digest();
  }
}
