/**
 * Test-time PKI: generates keys and certificate chains with the `openssl` CLI.
 *
 * Keys are generated with node:crypto; CSRs with `openssl req`; certificates
 * are issued with `openssl ca`, which (unlike `openssl x509 -req` in OpenSSL
 * 3.0) accepts arbitrary `-startdate`/`-enddate`, so expired and
 * not-yet-valid certificates can be produced. Every call works in its own
 * fresh temporary directory, which is removed afterwards.
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPair, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair) as (
  type: string,
  options: Record<string, unknown>,
) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

/** rsa-pss: an id-RSASSA-PSS key (RFC 4055 §3.1) without parameters, as `openssl genpkey -algorithm RSA-PSS` makes it. */
export type KeyType = 'rsa' | 'rsa-pss' | 'ecdsa' | 'ed25519' | 'ed448';

export interface CertSpec {
  /** Subject CN. Default 'test.invalid'. */
  cn?: string;
  /** DNS SANs (dNSName). Omit (or pass []) for no SAN extension. */
  sans?: string[];
  /** Key algorithm: rsa (2048), rsa-pss (2048, id-RSASSA-PSS SPKI), ecdsa (P-256), ed25519, ed448. Default 'ecdsa'. */
  key?: KeyType;
  /** CA cert: basicConstraints CA:TRUE + keyUsage keyCertSign,cRLSign. */
  ca?: boolean;
  /** Default now - 1 day. Any date is allowed (past or future). */
  notBefore?: Date;
  /** Default now + 365 days. Any date is allowed (past = expired). */
  notAfter?: Date;
  /** Sign with this certificate's key. Omitted = self-signed. */
  issuer?: Issued;
  /** Reuse an existing private key (PEM, PKCS#8) instead of generating one. */
  keyPem?: string;
  /** CA cert only: basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9). Default: none. */
  pathLen?: number;
  /**
   * Replace the keyUsage extension: an OpenSSL config value such as
   * 'critical,digitalSignature' (or 'DER:03:02:05:a0' for raw bytes); null omits it.
   */
  keyUsage?: string | null;
  /** Replace the basicConstraints extension: an OpenSSL config value, e.g. 'critical,DER:30:03:01:01'. */
  basicConstraints?: string;
  /**
   * A nameConstraints extension (RFC 5280 §4.2.1.10), critical unless `critical: false`:
   * permitted/excluded subtrees as OpenSSL config names ('DNS:example.net', 'IP:192.0.2.0/255.255.255.0',
   * 'dirName:…' is not supported here), or `raw`, an OpenSSL config value such as 'critical,DER:30:00'.
   */
  nameConstraints?: { permitted?: string[]; excluded?: string[]; critical?: boolean } | { raw: string };
  /** Extra extensions: OID, criticality and the extnValue content as DER bytes (default: an ASN.1 NULL). */
  extraExtensions?: { oid: string; critical: boolean; der?: Buffer }[];
  /** An emailAddress attribute in the subject, after the CN. */
  subjectEmail?: string;
  /** An empty subject DN (no attributes at all; `cn` and `subjectEmail` are ignored), as `openssl req -subj /` makes it. */
  emptySubject?: boolean;
}

export interface Issued {
  certPem: string;
  /** PKCS#8 PEM private key. */
  keyPem: string;
  /** Certificate DER. */
  der: Buffer;
  /** SubjectPublicKeyInfo DER. */
  spkiDer: Buffer;
  /** Subject as formatted by node's X509Certificate.subject, e.g. "CN=foo"; '' for an empty subject (node gives undefined). */
  subject: string;
}

export interface Chain {
  root: Issued;
  intermediate: Issued;
  leaf: Issued;
  /** leaf + intermediate PEM, as a server sends it */
  servedPem: string;
}

export interface ChainOptions {
  leafCn?: string;
  /** Default [leafCn]. Pass null for a CN-only leaf without SAN extension. */
  leafSans?: string[] | null;
  /** Key type for all three certs (default 'ecdsa'), unless overridden below. */
  key?: KeyType;
  leafKey?: KeyType;
  caKey?: KeyType;
  leafNotBefore?: Date;
  leafNotAfter?: Date;
  intermediateNotBefore?: Date;
  intermediateNotAfter?: Date;
  rootNotBefore?: Date;
  rootNotAfter?: Date;
  rootCn?: string;
  intermediateCn?: string;
}

const DAY = 24 * 60 * 60 * 1000;

export async function generateKeyPem(type: KeyType = 'ecdsa'): Promise<string> {
  let pair;
  switch (type) {
    case 'rsa':
      pair = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
      break;
    case 'rsa-pss':
      pair = await generateKeyPairAsync('rsa-pss', { modulusLength: 2048 });
      break;
    case 'ecdsa':
      pair = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
      break;
    case 'ed25519':
      pair = await generateKeyPairAsync('ed25519', {});
      break;
    case 'ed448':
      pair = await generateKeyPairAsync('ed448', {});
      break;
    default:
      throw new Error(`unknown key type ${String(type)}`);
  }
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Escape a value for an OpenSSL config file (backslash escapes any char). */
function confValue(v: string): string {
  if (/[\r\n\0]/.test(v)) throw new Error(`invalid character in ${JSON.stringify(v)}`);
  return v.replace(/[\\$"'#;=]/g, (c) => `\\${c}`).replace(/^\s|\s$/g, (c) => `\\${c}`);
}

/** YYYYMMDDHHMMSSZ (GeneralizedTime) as accepted by `openssl ca -startdate/-enddate`. */
function opensslDate(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error('invalid date');
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:T]/g, '');
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}

function buildConfig(cn: string, spec: CertSpec, keyType: KeyType, selfSigned: boolean): string {
  const ext: string[] = [];
  if (spec.pathLen !== undefined && (!spec.ca || !Number.isInteger(spec.pathLen) || spec.pathLen < 0)) {
    throw new Error('pathLen needs ca: true and an integer >= 0');
  }
  const ku = (v: string) => `keyUsage = ${spec.keyUsage === undefined ? v : spec.keyUsage}`;
  const bc = (v: string) => `basicConstraints = ${spec.basicConstraints ?? v}`;
  if (spec.ca) {
    ext.push(bc(`critical,CA:TRUE${spec.pathLen !== undefined ? `,pathlen:${spec.pathLen}` : ''}`));
    if (spec.keyUsage !== null) ext.push(ku('critical,keyCertSign,cRLSign'));
  } else {
    ext.push(bc('critical,CA:FALSE'));
    if (spec.keyUsage !== null) {
      // keyEncipherment only for rsaEncryption keys; RSA-PSS, ECDSA and EdDSA keys only sign.
      ext.push(ku(keyType === 'rsa' ? 'critical,digitalSignature,keyEncipherment' : 'critical,digitalSignature'));
    }
    ext.push('extendedKeyUsage = serverAuth');
  }
  ext.push('subjectKeyIdentifier = hash');
  if (!selfSigned) ext.push('authorityKeyIdentifier = keyid:always');
  const sans = spec.sans ?? [];
  if (sans.length > 0) ext.push('subjectAltName = @alt_names');
  const nc = spec.nameConstraints;
  if (nc && 'raw' in nc) ext.push(`nameConstraints = ${nc.raw}`);
  else if (nc) {
    const trees = [
      ...(nc.permitted ?? []).map((n) => `permitted;${n}`),
      ...(nc.excluded ?? []).map((n) => `excluded;${n}`),
    ];
    for (const t of trees) if (/[,\r\n]/.test(t)) throw new Error(`invalid name constraint ${JSON.stringify(t)}`);
    ext.push(`nameConstraints = ${nc.critical === false ? '' : 'critical,'}${trees.join(',')}`);
  }
  for (const x of spec.extraExtensions ?? []) {
    if (!/^\d+(\.\d+)+$/.test(x.oid)) throw new Error(`invalid OID ${x.oid}`);
    const der = x.der ?? Buffer.from([0x05, 0x00]);
    ext.push(`${x.oid} = ${x.critical ? 'critical,' : ''}DER:${[...der].map((v) => v.toString(16).padStart(2, '0')).join(':')}`);
  }

  const email = spec.subjectEmail !== undefined && !spec.emptySubject;
  return [
    '[ req ]',
    'prompt = no',
    'distinguished_name = dn',
    'utf8 = yes',
    'string_mask = utf8only',
    '[ dn ]',
    // An empty subject: `openssl req` refuses an empty [ dn ] section, makeCert passes `-subj /`.
    ...(spec.emptySubject ? [] : [`CN = ${confValue(cn)}`]),
    ...(email ? [`emailAddress = ${confValue(spec.subjectEmail ?? '')}`] : []),
    '[ ca ]',
    'default_ca = CA_default',
    '[ CA_default ]',
    'database = index.txt',
    'new_certs_dir = .',
    'default_md = default',
    'policy = policy_any',
    'unique_subject = no',
    `email_in_dn = ${email ? 'yes' : 'no'}`,
    'rand_serial = yes',
    'preserve = yes',
    '[ policy_any ]',
    ...(spec.emptySubject ? [] : ['commonName = supplied']),
    ...(email ? ['emailAddress = supplied'] : []),
    '[ ext ]',
    ...ext,
    '[ alt_names ]',
    ...sans.map((s, i) => `DNS.${i + 1} = ${confValue(s)}`),
    '',
  ].join('\n');
}

/** Parse a PEM/DER certificate into the Issued shape (keyPem supplied by caller). */
function toIssued(certPem: string, keyPem: string): Issued {
  const x509 = new X509Certificate(certPem);
  const der = x509.raw;
  const spkiDer = x509.publicKey.export({ type: 'spki', format: 'der' });
  return { certPem, keyPem, der, spkiDer, subject: x509.subject ?? '' };
}

/** Generate one certificate (self-signed, or signed by spec.issuer). */
export async function makeCert(spec: CertSpec = {}, workDir?: string): Promise<Issued> {
  const keyType = spec.key ?? 'ecdsa';
  const cn = spec.cn ?? 'test.invalid';
  const now = Date.now();
  const notBefore = spec.notBefore ?? new Date(now - DAY);
  const notAfter = spec.notAfter ?? new Date(now + 365 * DAY);
  const keyPem = spec.keyPem ?? (await generateKeyPem(keyType));

  const dir = await mkdtemp(join(workDir ?? tmpdir(), 'dane-pki-'));
  try {
    const selfSigned = !spec.issuer;
    await Promise.all([
      writeFile(join(dir, 'openssl.cnf'), buildConfig(cn, spec, keyType, selfSigned)),
      writeFile(join(dir, 'key.pem'), keyPem, { mode: 0o600 }),
      writeFile(join(dir, 'index.txt'), ''),
      spec.issuer ? writeFile(join(dir, 'issuer.pem'), spec.issuer.certPem) : undefined,
      spec.issuer
        ? writeFile(join(dir, 'issuer.key'), spec.issuer.keyPem, { mode: 0o600 })
        : undefined,
    ]);
    await openssl(['req', '-new', '-config', 'openssl.cnf', '-key', 'key.pem', '-out', 'req.csr', ...(spec.emptySubject ? ['-subj', '/'] : [])], dir);
    const caArgs = [
      'ca', '-batch', '-notext', '-config', 'openssl.cnf',
      '-in', 'req.csr', '-out', 'cert.pem',
      '-extensions', 'ext',
      '-startdate', opensslDate(notBefore),
      '-enddate', opensslDate(notAfter),
    ];
    if (selfSigned) caArgs.push('-selfsign', '-keyfile', 'key.pem');
    else caArgs.push('-cert', 'issuer.pem', '-keyfile', 'issuer.key');
    await openssl(caArgs, dir);
    const certPem = await readFile(join(dir, 'cert.pem'), 'utf8');
    return toIssued(certPem, keyPem);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** root CA -> intermediate CA -> leaf. CA certs default to now-1d .. now+10y. */
export async function makeChain(opts: ChainOptions = {}): Promise<Chain> {
  const now = Date.now();
  const caKey = opts.caKey ?? opts.key ?? 'ecdsa';
  const leafKey = opts.leafKey ?? opts.key ?? 'ecdsa';
  const leafCn = opts.leafCn ?? 'mx.example.test';
  const leafSans = opts.leafSans === null ? undefined : (opts.leafSans ?? [leafCn]);
  const caNotBefore = new Date(now - DAY);
  const caNotAfter = new Date(now + 3650 * DAY);

  const root = await makeCert({
    cn: opts.rootCn ?? 'DANE Test Root CA',
    key: caKey,
    ca: true,
    notBefore: opts.rootNotBefore ?? caNotBefore,
    notAfter: opts.rootNotAfter ?? caNotAfter,
  });
  const intermediate = await makeCert({
    cn: opts.intermediateCn ?? 'DANE Test Intermediate CA',
    key: caKey,
    ca: true,
    notBefore: opts.intermediateNotBefore ?? caNotBefore,
    notAfter: opts.intermediateNotAfter ?? caNotAfter,
    issuer: root,
  });
  const leaf = await makeCert({
    cn: leafCn,
    sans: leafSans,
    key: leafKey,
    notBefore: opts.leafNotBefore,
    notAfter: opts.leafNotAfter,
    issuer: intermediate,
  });
  return { root, intermediate, leaf, servedPem: leaf.certPem + intermediate.certPem };
}

function hashHex(alg: 'sha256' | 'sha512', data: Buffer): string {
  return createHash(alg).update(data).digest('hex');
}

/** SHA-256 of SubjectPublicKeyInfo DER (TLSA selector 1, matching type 1), hex. */
export function spkiSha256(spkiDer: Buffer): string {
  return hashHex('sha256', spkiDer);
}
/** SHA-512 of SubjectPublicKeyInfo DER (TLSA selector 1, matching type 2), hex. */
export function spkiSha512(spkiDer: Buffer): string {
  return hashHex('sha512', spkiDer);
}
/** SHA-256 of certificate DER (TLSA selector 0, matching type 1), hex. */
export function certSha256(der: Buffer): string {
  return hashHex('sha256', der);
}
/** SHA-512 of certificate DER (TLSA selector 0, matching type 2), hex. */
export function certSha512(der: Buffer): string {
  return hashHex('sha512', der);
}
