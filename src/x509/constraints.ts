/**
 * Two RFC 5280 path checks that node:crypto does not offer as such, done the way OpenSSL's
 * X509_verify_cert does them (Postfix's DANE-TA and PKIX checks):
 *
 * - unrecognized critical extensions (§4.2: "MUST reject the certificate"; OpenSSL
 *   X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, with its X509_supported_extension list);
 * - name constraints (§4.2.1.10, §6.1.4 (g)): dNSName, rfc822Name, iPAddress and
 *   directoryName are checked; any other form is refused when a constraint of that form
 *   meets a name of that form (OpenSSL checks uniformResourceIdentifier too; here it fails
 *   closed), and passes when no constraint of its form exists, as in OpenSSL.
 *
 * Pure; never throws.
 */
import type { CertExtensions, ExtensionEntry, GeneralName, GeneralNameForm, NameConstraints, NameAttribute, Rdn } from './extensions.js';

/**
 * The extensions OpenSSL recognizes when critical (X509_supported_extension, OpenSSL 3):
 * what it does not list, it refuses when critical — subjectKeyIdentifier and
 * authorityKeyIdentifier included (RFC 5280 §4.2.1.1/§4.2.1.2: they MUST be non-critical).
 * certificatePolicies, policyMappings, policyConstraints, inhibitAnyPolicy,
 * crlDistributionPoints, OCSP noCheck and the RFC 3779 resources are recognized but not
 * evaluated here (no policy or revocation processing). proxyCertInfo is listed by OpenSSL
 * only to refuse proxy certificates (not allowed by default); here too, see below.
 */
export const RECOGNIZED_CRITICAL: ReadonlyMap<string, string> = new Map([
  ['2.16.840.1.113730.1.1', 'netscape-cert-type'],
  ['2.5.29.15', 'keyUsage'],
  ['2.5.29.17', 'subjectAltName'],
  ['2.5.29.19', 'basicConstraints'],
  ['2.5.29.32', 'certificatePolicies'],
  ['2.5.29.31', 'cRLDistributionPoints'],
  ['2.5.29.37', 'extKeyUsage'],
  ['1.3.6.1.5.5.7.1.7', 'ipAddrBlocks (RFC 3779)'],
  ['1.3.6.1.5.5.7.1.8', 'autonomousSysIds (RFC 3779)'],
  ['1.3.6.1.5.5.7.48.1.5', 'ocsp-nocheck'],
  ['2.5.29.36', 'policyConstraints'],
  ['2.5.29.30', 'nameConstraints'],
  ['2.5.29.33', 'policyMappings'],
  ['2.5.29.54', 'inhibitAnyPolicy'],
]);

const OID_PROXY_CERT_INFO = '1.3.6.1.5.5.7.1.14';

/** Names of some extensions OpenSSL does not recognize when critical, for the message. */
const OTHER_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.29.14', 'subjectKeyIdentifier'],
  ['2.5.29.35', 'authorityKeyIdentifier'],
  ['2.5.29.18', 'issuerAltName'],
  ['2.5.29.46', 'freshestCRL'],
  ['1.3.6.1.5.5.7.1.1', 'authorityInfoAccess'],
  ['1.3.6.1.5.5.7.1.11', 'subjectInfoAccess'],
  ['2.5.29.9', 'subjectDirectoryAttributes'],
  ['1.3.6.1.4.1.11129.2.4.2', 'CT precertificate SCTs'],
  ['1.3.6.1.4.1.11129.2.4.3', 'CT precertificate poison'],
  ['1.3.6.1.5.5.7.1.24', 'TLS feature'],
]);

function extensionName(id: string): string {
  const n = RECOGNIZED_CRITICAL.get(id) ?? OTHER_NAMES.get(id);
  return n ? `${n} (${id})` : id;
}

/**
 * Why the certificate is refused for its extensions, if it is: a critical extension that is
 * not recognized (RFC 5280 §4.2), or proxyCertInfo (RFC 3820; OpenSSL refuses proxy
 * certificates unless told otherwise, critical or not).
 */
export function unhandledExtension(ext: CertExtensions): string | undefined {
  const proxy = ext.extensions.find((e) => e.id === OID_PROXY_CERT_INFO);
  if (proxy) return `is an RFC 3820 proxy certificate (proxyCertInfo ${OID_PROXY_CERT_INFO}), which is not accepted`;
  const unknown = ext.extensions.filter((e: ExtensionEntry) => e.critical && !RECOGNIZED_CRITICAL.has(e.id));
  if (unknown.length === 0) return undefined;
  const list = unknown.map((e) => extensionName(e.id)).join(', ');
  return `has ${unknown.length === 1 ? 'a critical extension' : 'critical extensions'} that cannot be processed: ${list} (RFC 5280 §4.2: a certificate with an unrecognized critical extension must be rejected)`;
}

// ---------------------------------------------------------------- name constraints

const OID_CN = '2.5.4.3';
const OID_EMAIL = '1.2.840.113549.1.9.1';
const OID_SMTP_UTF8_MAILBOX = '1.3.6.1.5.5.7.8.9';

const ATTR_NAMES: ReadonlyMap<string, string> = new Map([
  [OID_CN, 'CN'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  [OID_EMAIL, 'emailAddress'],
]);

const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

/** The text of a string-typed attribute value (OpenSSL's ASN1_MASK_CANON types); undefined otherwise. */
function attributeText(a: NameAttribute): string | undefined {
  const v = a.value;
  switch (a.tag) {
    case 0x0c: // UTF8String
      return v.toString('utf8');
    case 0x13: // PrintableString
    case 0x14: // T61String (as Latin-1, as OpenSSL)
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return v.toString('latin1');
    case 0x1e: {
      // BMPString: UCS-2, big-endian
      if (v.length % 2 !== 0) return undefined;
      let s = '';
      for (let i = 0; i < v.length; i += 2) s += String.fromCharCode(v.readUInt16BE(i));
      return s;
    }
    case 0x1c: {
      // UniversalString: UCS-4, big-endian
      if (v.length % 4 !== 0) return undefined;
      let s = '';
      for (let i = 0; i < v.length; i += 4) {
        const cp = v.readUInt32BE(i);
        if (cp > 0x10ffff) return undefined;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return undefined;
  }
}

/** OpenSSL's canonical form of an attribute (x509_name_canon): string values trimmed, inner whitespace collapsed, ASCII lower-cased. */
function canonicalAttribute(a: NameAttribute): string {
  const text = attributeText(a);
  if (text === undefined) return `${a.type}\u0000${a.tag}\u0000${a.value.toString('hex')}`;
  return `${a.type}\u0000s\u0000${lowerAscii(text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '').replace(/[ \t\n\v\f\r]+/g, ' '))}`;
}

function canonicalRdn(rdn: Rdn): string {
  return rdn.map(canonicalAttribute).sort().join('\u0001');
}

/** Control characters (a line break in a name, say), quotes and backslashes escaped: a reason stays one line. */
const escapeControls = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029"\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

function rdnsText(rdns: Rdn[]): string {
  if (rdns.length === 0) return '(empty name)';
  return rdns
    .map((rdn) => rdn.map((a) => `${ATTR_NAMES.get(a.type) ?? a.type}=${escapeControls(attributeText(a) ?? `#${a.value.toString('hex')}`)}`).join('+'))
    .join(', ');
}

function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  return `#${b.toString('hex')}`;
}

/** A general name as the operator reads it. */
export function generalNameText(g: GeneralName): string {
  switch (g.form) {
    case 'dNSName':
    case 'rfc822Name':
    case 'uniformResourceIdentifier':
      return `${g.form} ${JSON.stringify(g.text)}`;
    case 'iPAddress':
      // A name is an address; a constraint base is an address and a mask.
      if (g.bytes.length === 8 || g.bytes.length === 32) {
        const half = g.bytes.length / 2;
        return `iPAddress ${ipText(g.bytes.subarray(0, half))}/${ipText(g.bytes.subarray(half))}`;
      }
      return `iPAddress ${ipText(g.bytes)}`;
    case 'directoryName':
      return `directoryName "${rdnsText(g.rdns)}"`;
    case 'otherName':
      return `otherName ${g.typeId}`;
    default:
      return g.form;
  }
}

type Outcome = 'match' | 'no-match' | { unsupported: string };

/** RFC 5280 §4.2.1.10 dNSName, as OpenSSL's nc_dns: the base, or the base with labels added on the left; a leading-dot base only the latter. */
function dnsMatch(name: string, base: string): Outcome {
  if (base.length === 0) return 'match';
  if (name.length < base.length) return 'no-match';
  const tail = name.slice(name.length - base.length);
  if (name.length > base.length && !base.startsWith('.') && name[name.length - base.length - 1] !== '.') return 'no-match';
  return lowerAscii(tail) === lowerAscii(base) ? 'match' : 'no-match';
}

/** RFC 5280 §4.2.1.10 rfc822Name, as OpenSSL's nc_email: a mailbox, a host (all mailboxes there), or `.domain` (any host under it). */
function emailMatch(name: string, base: string): Outcome {
  const at = name.lastIndexOf('@');
  if (at < 0 || name.includes('\u0000') || base.includes('\u0000')) return { unsupported: 'not a mailbox address' };
  const baseAt = base.lastIndexOf('@');
  if (baseAt < 0 && base.startsWith('.')) {
    return name.length > base.length && lowerAscii(name.slice(name.length - base.length)) === lowerAscii(base) ? 'match' : 'no-match';
  }
  let host = base;
  if (baseAt >= 0) {
    // The local part, when the base has one, matches case-sensitively.
    if (baseAt > 0 && base.slice(0, baseAt) !== name.slice(0, at)) return 'no-match';
    host = base.slice(baseAt + 1);
  }
  return lowerAscii(name.slice(at + 1)) === lowerAscii(host) ? 'match' : 'no-match';
}

/** RFC 5280 §4.2.1.10 iPAddress: the base is an address and a mask of twice the length (OpenSSL nc_ip). */
function ipMatch(name: Buffer, base: Buffer): Outcome {
  if (name.length !== 4 && name.length !== 16) return { unsupported: `an iPAddress of ${name.length} bytes` };
  if (base.length !== 8 && base.length !== 32) return { unsupported: `an iPAddress constraint of ${base.length} bytes` };
  if (name.length * 2 !== base.length) return 'no-match'; // IPv4 never matches IPv6
  for (let i = 0; i < name.length; i++) {
    const mask = base[name.length + i]!;
    if ((name[i]! & mask) !== (base[i]! & mask)) return 'no-match';
  }
  return 'match';
}

/** RFC 5280 §4.2.1.10 directoryName: the base's RDNs begin the name (compared as OpenSSL canonicalizes them). */
function dnMatch(name: Rdn[], base: Rdn[]): Outcome {
  if (base.length > name.length) return 'no-match';
  for (let i = 0; i < base.length; i++) if (canonicalRdn(base[i]!) !== canonicalRdn(name[i]!)) return 'no-match';
  return 'match';
}

/** The form a name is constrained as: an SmtpUTF8Mailbox otherName by rfc822Name constraints (RFC 8398 §6), as OpenSSL. */
function effectiveForm(g: GeneralName): GeneralNameForm {
  return g.form === 'otherName' && g.typeId === OID_SMTP_UTF8_MAILBOX ? 'rfc822Name' : g.form;
}

function sameForm(name: GeneralName, base: GeneralName): boolean {
  const form = effectiveForm(name);
  if (form !== base.form) return false;
  return form !== 'otherName' || (name.form === 'otherName' && base.form === 'otherName' && name.typeId === base.typeId);
}

function matchOne(name: GeneralName, base: GeneralName): Outcome {
  if (name.form === 'dNSName' && base.form === 'dNSName') return dnsMatch(name.text, base.text);
  if (name.form === 'rfc822Name' && base.form === 'rfc822Name') return emailMatch(name.text, base.text);
  if (name.form === 'iPAddress' && base.form === 'iPAddress') return ipMatch(name.bytes, base.bytes);
  if (name.form === 'directoryName' && base.form === 'directoryName') return dnMatch(name.rdns, base.rdns);
  return { unsupported: `${effectiveForm(name)} names are not checked against name constraints here` };
}

/** One name against one nameConstraints extension; a sentence when it fails. */
function checkName(name: GeneralName, shown: string, nc: NameConstraints, owner: string): string | undefined {
  // Permitted: when subtrees of the name's form exist, one of them must contain it.
  const permitted = nc.permitted.filter((b) => sameForm(name, b));
  if (permitted.length > 0) {
    let inside = false;
    for (const base of permitted) {
      const r = matchOne(name, base);
      if (typeof r === 'object') return `names ${shown}, which cannot be checked against the permitted ${generalNameText(base)} of ${owner} (${r.unsupported}), so it is refused`;
      if (r === 'match') {
        inside = true;
        break;
      }
    }
    if (!inside) return `names ${shown}, outside the permitted subtrees (${permitted.map(generalNameText).join(', ')}) of ${owner}`;
  }
  // Excluded: no subtree of its form may contain it.
  for (const base of nc.excluded.filter((b) => sameForm(name, b))) {
    const r = matchOne(name, base);
    if (typeof r === 'object') return `names ${shown}, which cannot be checked against the excluded ${generalNameText(base)} of ${owner} (${r.unsupported}), so it is refused`;
    if (r === 'match') return `names ${shown}, inside the excluded subtree ${generalNameText(base)} of ${owner}`;
  }
  return undefined;
}

/**
 * The subject CN as a host name, the way OpenSSL's cn2dnsid takes it: letters, digits, `_`,
 * inner `-` and `.`, two labels or more; undefined when it does not look like one.
 */
function cnAsHostName(a: NameAttribute): string | undefined | { unsupported: string } {
  const text = attributeText(a);
  if (text === undefined) return undefined;
  // A wildcard CN (`*.example.com`) is no host name to cn2dnsid, yet the name check would
  // still match it: checked like a wildcard SAN dNSName, so it cannot escape the constraints
  // (stricter than OpenSSL).
  if (text.startsWith('*.')) {
    const rest = cnAsHostName({ ...a, value: Buffer.from(text.slice(2), 'utf8'), tag: 0x0c });
    return typeof rest === 'string' ? `*.${rest}` : rest;
  }
  const utf8 = Buffer.from(text, 'utf8').toString('latin1').replace(/\u0000+$/, '');
  if (utf8.includes('\u0000')) return { unsupported: 'a subject CN with an embedded NUL' };
  let dns = false;
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8[i]!;
    if (/[A-Za-z0-9_]/.test(c)) continue;
    if (i > 0 && i < utf8.length - 1) {
      if (c === '-') continue;
      if (c === '.' && utf8[i + 1] !== '.' && utf8[i - 1] !== '-' && utf8[i + 1] !== '-') {
        dns = true;
        continue;
      }
    }
    dns = false;
    break;
  }
  return dns ? utf8 : undefined;
}

/**
 * The names of a certificate against one CA's nameConstraints (RFC 5280 §6.1.3 (b), as
 * OpenSSL's NAME_CONSTRAINTS_check): the subject as a directoryName (when not empty), its
 * emailAddress attributes as rfc822Names, every subjectAltName; then, for the leaf without
 * a SAN dNSName, a subject CN that looks like a host name as a dNSName (OpenSSL's
 * NAME_CONSTRAINTS_check_CN). A sentence (naming `owner`, the constraints' certificate) when a name violates them.
 */
export function nameConstraintViolation(cert: CertExtensions, isLeaf: boolean, nc: NameConstraints, owner: string): string | undefined {
  if (cert.subject.length > 0) {
    const dn: GeneralName = { form: 'directoryName', rdns: cert.subject };
    const why = checkName(dn, `the subject ${generalNameText(dn)}`, nc, owner);
    if (why) return why;
    for (const a of cert.subject.flat().filter((x) => x.type === OID_EMAIL)) {
      // OpenSSL refuses this under any name constraints.
      if (a.tag !== 0x16) return `has a subject emailAddress that is not an IA5String, which cannot be checked against ${owner}, so it is refused`;
      const email: GeneralName = { form: 'rfc822Name', text: a.value.toString('latin1') };
      const w = checkName(email, `the subject emailAddress ${JSON.stringify(email.text)}`, nc, owner);
      if (w) return w;
    }
  }
  const sans = cert.subjectAltName?.names ?? [];
  for (const g of sans) {
    const why = checkName(g, `the subjectAltName ${generalNameText(g)}`, nc, owner);
    if (why) return why;
  }
  if (isLeaf && !sans.some((g) => g.form === 'dNSName')) {
    for (const a of cert.subject.flat().filter((x) => x.type === OID_CN)) {
      const host = cnAsHostName(a);
      if (host === undefined) continue;
      if (typeof host === 'object') return `has ${host.unsupported}, which cannot be checked against ${owner}, so it is refused`;
      const why = checkName({ form: 'dNSName', text: host }, `the subject CN ${JSON.stringify(host)} as a host name (it has no SAN dNSName)`, nc, owner);
      if (why) return why;
    }
  }
  return undefined;
}
