/**
 * Unusual but LEGAL X.509 certificates for tests, written with a small DER writer and signed
 * with node:crypto (no openssl CLI): empty subject and issuer DNs, v1 and extension-less
 * certificates, thousands of SAN entries, names in every string type (UTF8String, BMPString,
 * TeletexString, UniversalString, IA5String, PrintableString) with control characters and
 * bidi overrides, negative and 40-byte serials, RSA-PSS, Ed25519, Ed448 and DSA keys, an SPKI
 * with an unknown algorithm, an unknown critical extension, validity from 1901 or 1950 to the
 * year 9999 (UTCTime and GeneralizedTime as RFC 5280 §4.1.2.5 wants them).
 *
 * `oddCertificates()` is the catalogue (generated once per process): self-signed ones and
 * some under a normal CA (`oddCa()`), so that DANE-TA and PKIX meet them too. Every one is
 * accepted by `openssl x509 -inform DER -noout -text`; a TLS server can present the
 * `servable` ones with their key. No vitest here.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

// ---------------------------------------------------------------- DER writer

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export const seq = (...content: Buffer[]): Buffer => tlv(0x30, ...content);
/** SET OF: DER sorts the encodings (X.690 §11.6). */
export const setOf = (...content: Buffer[]): Buffer => tlv(0x31, ...[...content].sort(Buffer.compare));
export const explicit = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
/** BIT STRING with `unused` trailing bits in the last octet. */
export const bitString = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);

/** INTEGER, minimal two's complement. */
export function integer(v: bigint | number): Buffer {
  let n = BigInt(v);
  let bytes: Buffer;
  if (n >= 0n) {
    let hex = n.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, 'hex');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  } else {
    let len = 1;
    while (n < -(1n << BigInt(8 * len - 1))) len++;
    n += 1n << BigInt(8 * len);
    bytes = Buffer.from(n.toString(16).padStart(2 * len, '0'), 'hex');
  }
  return tlv(0x02, bytes);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const out: number[] = [];
  const push = (v: bigint) => {
    const groups: number[] = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) groups.unshift(Number(x & 0x7fn) | 0x80);
    out.push(...groups);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Buffer.from(out));
}

export type StringType = 'utf8' | 'printable' | 'ia5' | 'teletex' | 'bmp' | 'universal';

/** A directory string of the given ASN.1 type (TeletexString as latin1, as OpenSSL reads it). */
export function directoryString(value: string, type: StringType): Buffer {
  switch (type) {
    case 'utf8':
      return tlv(0x0c, Buffer.from(value, 'utf8'));
    case 'printable':
      if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) throw new Error(`not a PrintableString: ${value}`);
      return tlv(0x13, Buffer.from(value, 'latin1'));
    case 'teletex':
      return tlv(0x14, Buffer.from(value, 'latin1'));
    case 'ia5':
      return tlv(0x16, Buffer.from(value, 'latin1'));
    case 'bmp':
      return tlv(0x1e, Buffer.from(value, 'utf16le').swap16());
    case 'universal': {
      const cps = [...value].map((c) => c.codePointAt(0)!);
      const b = Buffer.alloc(cps.length * 4);
      cps.forEach((cp, i) => b.writeUInt32BE(cp, i * 4));
      return tlv(0x1c, b);
    }
  }
}

const ATTR: Record<string, string> = {
  CN: '2.5.4.3', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8', O: '2.5.4.10', OU: '2.5.4.11', serialNumber: '2.5.4.5', emailAddress: '1.2.840.113549.1.9.1',
};

export interface Attr {
  /** A short name (CN, O, …) or a dotted OID. */
  type: string;
  value: string;
  /** Default: utf8 (printable for C, ia5 for emailAddress). */
  as?: StringType;
}
/** One RDN: one attribute, or several (a multi-valued RDN). */
export type Rdn = Attr | Attr[];

export function name(rdns: Rdn[]): Buffer {
  return seq(
    ...rdns.map((rdn) =>
      setOf(
        ...(Array.isArray(rdn) ? rdn : [rdn]).map((a) => {
          const as = a.as ?? (a.type === 'C' ? 'printable' : a.type === 'emailAddress' ? 'ia5' : 'utf8');
          return seq(oid(ATTR[a.type] ?? a.type), directoryString(a.value, as));
        }),
      ),
    ),
  );
}

const two = (n: number) => String(n).padStart(2, '0');
const hms = (d: Date) => `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
export const utcTime = (d: Date): Buffer => tlv(0x17, Buffer.from(`${two(d.getUTCFullYear() % 100)}${hms(d)}`, 'latin1'));
export const generalizedTime = (d: Date): Buffer => tlv(0x18, Buffer.from(`${String(d.getUTCFullYear()).padStart(4, '0')}${hms(d)}`, 'latin1'));
/** RFC 5280 §4.1.2.5: UTCTime for 1950 through 2049, GeneralizedTime otherwise. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? utcTime(d) : generalizedTime(d);
}

// ---------------------------------------------------------------- extensions

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  /** A private arc (no one recognizes it). */
  unknownExtension: '1.3.6.1.4.1.99999.1.1',
  unknownKey: '1.3.6.1.4.1.99999.2.1',
};

export interface Extension {
  oid: string;
  critical?: boolean;
  /** extnValue content (the DER inside the OCTET STRING). */
  value: Buffer;
}

export const ext = {
  basicConstraints: (ca: boolean, pathLen?: number, critical = true): Extension => ({
    oid: OID.basicConstraints,
    critical,
    value: seq(...(ca ? [bool(true)] : []), ...(pathLen !== undefined ? [integer(pathLen)] : [])),
  }),
  /** digitalSignature, keyEncipherment (leaf) or keyCertSign, cRLSign (CA). */
  keyUsage: (kind: 'leaf' | 'ca'): Extension => ({
    oid: OID.keyUsage,
    critical: true,
    value: kind === 'ca' ? bitString(Buffer.from([0x06]), 1) : bitString(Buffer.from([0xa0]), 5),
  }),
  serverAuth: (): Extension => ({ oid: OID.extKeyUsage, value: seq(oid(OID.serverAuth)) }),
  /** dNSNames; critical when the subject is empty (RFC 5280 §4.2.1.6). */
  san: (dnsNames: string[], critical = false): Extension => ({
    oid: OID.subjectAltName,
    critical,
    value: seq(...dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'latin1')))),
  }),
  ski: (keyId: Buffer): Extension => ({ oid: OID.subjectKeyIdentifier, value: octets(keyId) }),
  aki: (keyId: Buffer): Extension => ({ oid: OID.authorityKeyIdentifier, value: seq(tlv(0x80, keyId)) }),
  unknownCritical: (): Extension => ({ oid: OID.unknownExtension, critical: true, value: derNull() }),
};

function extensions(list: Extension[]): Buffer {
  return explicit(3, seq(...list.map((e) => seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(e.value)))));
}

// ---------------------------------------------------------------- keys and signatures

export type KeyKind = 'rsa' | 'rsa-pss' | 'ec' | 'ed25519' | 'ed448' | 'dsa';

export interface KeyPair {
  kind: KeyKind;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER. */
  spki: Buffer;
  /** PKCS#8 PEM. */
  pem: string;
}

export function keyPair(kind: KeyKind): KeyPair {
  const pair = ((): { publicKey: KeyObject; privateKey: KeyObject } => {
    switch (kind) {
      case 'rsa':
        return generateKeyPairSync('rsa', { modulusLength: 2048 });
      case 'rsa-pss': // @types/node has saltLength as a string; Node wants a number
        return generateKeyPairSync('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 32 as unknown as string });
      case 'ec':
        return generateKeyPairSync('ec', { namedCurve: 'P-256' });
      case 'ed25519':
        return generateKeyPairSync('ed25519');
      case 'ed448':
        return generateKeyPairSync('ed448');
      case 'dsa':
        return generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    }
  })();
  return {
    kind,
    ...pair,
    spki: pair.publicKey.export({ type: 'spki', format: 'der' }),
    pem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

const SHA256 = seq(oid('2.16.840.1.101.3.4.2.1'));

/** The AlgorithmIdentifier a key of `kind` signs with (SHA-256 where there is a choice). */
export function signatureAlgorithm(kind: KeyKind): Buffer {
  switch (kind) {
    case 'rsa':
      return seq(oid('1.2.840.113549.1.1.11'), derNull());
    case 'rsa-pss': // RFC 4055 §3.1: SHA-256, MGF1 with SHA-256, salt 32
      return seq(oid('1.2.840.113549.1.1.10'), seq(explicit(0, SHA256), explicit(1, seq(oid('1.2.840.113549.1.1.8'), SHA256)), explicit(2, integer(32))));
    case 'ec':
      return seq(oid('1.2.840.10045.4.3.2'));
    case 'ed25519':
      return seq(oid('1.3.101.112'));
    case 'ed448':
      return seq(oid('1.3.101.113'));
    case 'dsa':
      return seq(oid('2.16.840.1.101.3.4.3.2'));
  }
}

export function signWith(key: KeyPair, data: Buffer): Buffer {
  switch (key.kind) {
    case 'ed25519':
    case 'ed448':
      return sign(null, data, key.privateKey);
    case 'rsa-pss':
      return sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    default:
      return sign('sha256', data, key.privateKey);
  }
}

// ---------------------------------------------------------------- certificates

export interface CertSpec {
  /** 1: no version field, no extensions (RFC 5280 §4.1.2.1). Default 3. */
  version?: 1 | 3;
  /** Default: 16 random bytes, positive. A Buffer is the INTEGER's content octets as they are. */
  serial?: bigint | Buffer;
  subject: Rdn[];
  /** Default: the subject (self-issued). */
  issuer?: Rdn[];
  notBefore: Date | Buffer;
  notAfter: Date | Buffer;
  /** The certified key, or a raw SPKI (an unknown algorithm). */
  key: KeyPair | Buffer;
  /** Default: the certified key (self-signed). */
  signer?: KeyPair;
  /** v3 only; absent or [] writes no extensions field. */
  extensions?: Extension[];
}

export function certificate(spec: CertSpec): Buffer {
  const signer = spec.signer ?? (Buffer.isBuffer(spec.key) ? undefined : spec.key);
  if (!signer) throw new Error('a certificate with a raw SPKI needs a signer');
  const alg = signatureAlgorithm(signer.kind);
  const serial = spec.serial === undefined ? integer(BigInt(`0x${randomBytes(16).toString('hex')}`) >> 1n) : Buffer.isBuffer(spec.serial) ? tlv(0x02, spec.serial) : integer(spec.serial);
  const when = (d: Date | Buffer) => (Buffer.isBuffer(d) ? d : time(d));
  const v3 = (spec.version ?? 3) === 3;
  const tbs = seq(
    ...(v3 ? [explicit(0, integer(2))] : []),
    serial,
    alg,
    name(spec.issuer ?? spec.subject),
    seq(when(spec.notBefore), when(spec.notAfter)),
    name(spec.subject),
    Buffer.isBuffer(spec.key) ? spec.key : spec.key.spki,
    ...(v3 && spec.extensions?.length ? [extensions(spec.extensions)] : []),
  );
  return seq(tbs, alg, bitString(signWith(signer, tbs)));
}

export function pem(der: Buffer, label = 'CERTIFICATE'): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
}

// ---------------------------------------------------------------- the catalogue

/** The host the catalogue's certificates name (SAN or CN), where they name one. */
export const ODD_HOST = 'mx.example.test';

export interface OddCert {
  /** Short, file-name safe. */
  name: string;
  /** What is unusual about it. */
  what: string;
  /** The leaf certificate. */
  der: Buffer;
  /** PKCS#8 PEM of the leaf's private key (absent: none, an unknown key type). */
  keyPem?: string;
  /**
   * A TLS server can present it with keyPem to the DANE client (served-chain.ts settings): not
   * the unknown key (no private key), not DSA (only DHE-DSS suites, which the client does not offer).
   */
  servable: boolean;
  /** What a server sends, leaf first: [der], or [der, CA] for one under oddCa(). */
  chain: Buffer[];
  /** 'self': self-signed (its own anchor); 'ca': issued by oddCa(). */
  issuedBy: 'self' | 'ca';
  /** The catalogue's expectation for DANE-TA with its anchor (itself, or the CA) at `now`: authenticated, or the failure code. */
  daneTa?: 'ok' | string;
}

export interface OddCa {
  der: Buffer;
  key: KeyPair;
  pem: string;
}

const YEAR = 365 * 24 * 3600 * 1000;
let ca: OddCa | undefined;
let catalogue: OddCert[] | undefined;

/** A normal CA (EC P-256, v3, basicConstraints CA:TRUE, keyCertSign) for the catalogue's chains. */
export function oddCa(): OddCa {
  if (ca) return ca;
  const key = keyPair('ec');
  const der = certificate({
    serial: 1n,
    subject: [{ type: 'C', value: 'DE' }, { type: 'O', value: 'dane-smtp tests' }, { type: 'CN', value: 'Odd Test CA' }],
    notBefore: new Date(Date.now() - YEAR),
    notAfter: new Date(Date.now() + 10 * YEAR),
    key,
    extensions: [ext.basicConstraints(true), ext.keyUsage('ca'), ext.ski(Buffer.alloc(20, 0xca))],
  });
  ca = { der, key, pem: pem(der) };
  return ca;
}

/** Every certificate of the catalogue; generated once per process (keys included). */
export function oddCertificates(): OddCert[] {
  if (catalogue) return catalogue;
  const authority = oddCa();
  const now = Date.now();
  const past = new Date(now - YEAR);
  const future = new Date(now + 5 * YEAR);
  const leafExts = (names: string[] = [ODD_HOST]): Extension[] => [ext.basicConstraints(false), ext.keyUsage('leaf'), ext.serverAuth(), ext.san(names)];
  const underCa = { issuer: [{ type: 'C', value: 'DE' }, { type: 'O', value: 'dane-smtp tests' }, { type: 'CN', value: 'Odd Test CA' }] as Rdn[], signer: authority.key };
  const akiCa = ext.aki(Buffer.alloc(20, 0xca));
  const out: OddCert[] = [];
  const add = (n: string, what: string, key: KeyPair | Buffer, spec: Omit<CertSpec, 'key'>, o: { servable?: boolean; daneTa?: string } = {}) => {
    const der = certificate({ ...spec, key });
    const issuedBy = spec.signer ? 'ca' : 'self';
    // DSA: OpenSSL serves it only with DHE-DSS suites (TLS 1.2), which the DANE client's
    // 'DEFAULT:@SECLEVEL=0' does not offer: the handshake fails (alert 40).
    const servable = o.servable ?? (!Buffer.isBuffer(key) && key.kind !== 'dsa');
    out.push({
      name: n,
      what,
      der,
      ...(Buffer.isBuffer(key) ? {} : { keyPem: key.pem }),
      servable,
      chain: issuedBy === 'ca' ? [der, authority.der] : [der],
      issuedBy,
      daneTa: o.daneTa ?? 'ok',
    });
  };
  const cn = (value: string): Rdn[] => [{ type: 'CN', value }];

  add('rsa-baseline', 'a normal RSA leaf under the CA (control)', keyPair('rsa'), { ...underCa, subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: [...leafExts(), akiCa] });
  add('empty-subject', 'empty subject DN, critical subjectAltName, under the CA', keyPair('ec'), {
    ...underCa, subject: [], notBefore: past, notAfter: future,
    extensions: [ext.basicConstraints(false), ext.keyUsage('leaf'), ext.serverAuth(), ext.san([ODD_HOST], true), akiCa],
  });
  add('empty-subject-and-issuer', 'self-signed with an empty subject and an empty issuer DN', keyPair('ec'), {
    subject: [], issuer: [], notBefore: past, notAfter: future, extensions: [ext.san([ODD_HOST], true)],
  });
  add('v3-no-extensions', 'v3 without an extensions field, CN only', keyPair('rsa'), { subject: cn(ODD_HOST), notBefore: past, notAfter: future });
  add('v1', 'a v1 certificate (no version, no extensions) under the CA', keyPair('rsa'), { ...underCa, version: 1, subject: cn(ODD_HOST), notBefore: past, notAfter: future });
  add('no-san', 'v3 with basicConstraints and keyUsage but no subjectAltName (the name in the CN)', keyPair('ec'), {
    subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: [ext.basicConstraints(false), ext.keyUsage('leaf')],
  });
  add('many-san', '3000 subjectAltName dNSNames (the host last), under the CA', keyPair('ec'), {
    ...underCa, subject: cn('many.example.test'), notBefore: past, notAfter: future,
    extensions: [...leafExts([...Array.from({ length: 2999 }, (_, i) => `name${i}.example.test`), ODD_HOST]), akiCa],
  });
  add('string-types', 'names in UTF8String, BMPString, TeletexString, UniversalString, IA5String, PrintableString, a multi-valued RDN', keyPair('ed25519'), {
    subject: [
      { type: 'C', value: 'JP' },
      { type: 'O', value: 'Ünïcødé Ωrg ☃', as: 'bmp' },
      { type: 'OU', value: 'Caf\u00e9 \u00e0 la carte', as: 'teletex' },
      { type: 'L', value: '𝔘𝔫𝔦𝔳𝔢𝔯𝔰𝔞𝔩 東京', as: 'universal' },
      [{ type: 'ST', value: 'Printable ST', as: 'printable' }, { type: 'serialNumber', value: '12345', as: 'printable' }],
      { type: 'emailAddress', value: 'postmaster@example.test' },
      { type: 'CN', value: '日本語.example' },
    ],
    notBefore: past, notAfter: future, extensions: [ext.san([ODD_HOST])],
  });
  add('control-chars', 'control characters (NUL, BEL, CR, LF, ESC, DEL, C1) and bidi overrides/isolates, line separators in names', keyPair('ec'), {
    subject: [
      { type: 'O', value: 'line\u2028sep\u2029para\u0085nel' },
      { type: 'OU', value: 'tab\there\u007fdel\u009bcsi', as: 'bmp' },
      { type: 'CN', value: 'evil\u0000nul\u0007bel\r\nInjected: yes\u001b[31mred\u202egnp.exe\u2066iso\u2069\u200fend' },
    ],
    issuer: [{ type: 'CN', value: 'evil\u0000nul\u0007bel\r\nInjected: yes\u001b[31mred\u202egnp.exe\u2066iso\u2069\u200fend' }, { type: 'O', value: '\u202dLRO' }],
    notBefore: past, notAfter: future, extensions: [ext.san([ODD_HOST])],
  });
  add('control-chars-critical', 'control characters and bidi overrides in the subject, and an unknown critical extension (so DANE-TA and PKIX reasons name it)', keyPair('ec'), {
    subject: [{ type: 'CN', value: 'bad\u0000\u001b[2J\r\n\u202eevil\u2066' }],
    notBefore: past, notAfter: future, extensions: [...leafExts(), ext.unknownCritical()],
  }, { daneTa: 'ta-critical-extension' });
  add('negative-serial', 'a negative serial number (-12345678901234567890)', keyPair('ec'), { serial: -12345678901234567890n, subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: leafExts() });
  add('huge-serial', 'a 40-byte serial number', keyPair('ec'), { serial: Buffer.concat([Buffer.from([0x7f]), randomBytes(39)]), subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: leafExts() });
  add('rsa-pss', 'an RSASSA-PSS key (id-RSASSA-PSS SPKI with parameters) and signature', keyPair('rsa-pss'), { subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: leafExts() });
  add('ed25519', 'an Ed25519 key and signature', keyPair('ed25519'), { subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: leafExts() });
  add('ed448', 'an Ed448 key and signature', keyPair('ed448'), { subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: leafExts() });
  add('dsa', 'a DSA 2048/256 key, dsa-with-SHA256', keyPair('dsa'), { subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: leafExts() });
  add('ed448-under-ca', 'an Ed448 leaf under the (EC) CA', keyPair('ed448'), { ...underCa, subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: [...leafExts(), akiCa] });
  // An SPKI with an algorithm OID no one knows: OpenSSL parses the certificate, not the key.
  const unknownSpki = seq(seq(oid(OID.unknownKey), derNull()), bitString(randomBytes(64)));
  add('unknown-key', 'an SPKI with an unknown algorithm OID (no private key), under the CA', unknownSpki, {
    ...underCa, subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: [...leafExts(), akiCa],
  });
  add('unknown-critical-extension', 'an unknown critical extension (ignored under DANE-EE)', keyPair('ec'), {
    subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: [...leafExts(), ext.unknownCritical()],
  }, { daneTa: 'ta-critical-extension' });
  add('unknown-critical-extension-under-ca', 'an unknown critical extension on a leaf under the CA', keyPair('ec'), {
    ...underCa, subject: cn(ODD_HOST), notBefore: past, notAfter: future, extensions: [...leafExts(), akiCa, ext.unknownCritical()],
  }, { daneTa: 'ta-critical-extension' });
  add('dates-1950-9999', 'valid from 1950-01-01 (UTCTime "50…") to 9999-12-31T23:59:59Z (GeneralizedTime)', keyPair('ec'), {
    subject: cn(ODD_HOST), notBefore: new Date(Date.UTC(1950, 0, 1)), notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)), extensions: leafExts(),
  });
  add('expired-before-1970', 'valid from 1901 (GeneralizedTime) to 1969-12-31 (UTCTime): expired before the epoch', keyPair('ec'), {
    subject: cn(ODD_HOST), notBefore: new Date(Date.UTC(1901, 0, 1)), notAfter: new Date(Date.UTC(1969, 11, 31, 23, 59, 59)), extensions: leafExts(),
  }, { daneTa: 'ta-date' });
  add('not-yet-valid-9000', 'valid from the year 9000 to 9999 (GeneralizedTime): not yet valid', keyPair('ec'), {
    subject: cn(ODD_HOST), notBefore: new Date(Date.UTC(9000, 0, 1)), notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)), extensions: leafExts(),
  }, { daneTa: 'ta-date' });
  add('kitchen-sink', 'v1, empty subject, negative serial, DSA, 1950 to 9999 under the CA: everything at once', keyPair('dsa'), {
    ...underCa, version: 1, serial: -1n, subject: [], notBefore: new Date(Date.UTC(1950, 0, 1)), notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)),
  }, { daneTa: 'ta-name-mismatch' });
  catalogue = out;
  return out;
}

/** The catalogue entry `name` (throws for a name not in it). */
export function oddCert(n: string): OddCert {
  const c = oddCertificates().find((x) => x.name === n);
  if (!c) throw new Error(`no odd certificate ${n}`);
  return c;
}

/** The public key of a PKCS#8 PEM, as SPKI DER. */
export function spkiOfPem(keyPem: string): Buffer {
  return createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
}
