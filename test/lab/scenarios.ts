/**
 * The lab's scenarios, declaratively: one per DANE rule (RFC 7672 / RFC 7671 / RFC 6698)
 * and each way it can break. Each scenario names the zones it needs (direct children of
 * the lab TLD `test`), the receivers that stand for its MX hosts, and what a correct
 * RFC 7672 client must conclude. `world.ts` turns this into signed zones, nsd instances
 * and smtp-server receivers.
 */
import type { CertProfile } from './certs.js';
import type { ReceiverSmtp } from './receivers.js';
import type { TamperHow } from './zones.js';

export type Verdict =
  | 'dane-authenticated'
  | 'encrypt-unauthenticated'
  | 'opportunistic'
  | 'tempfail'
  | 'undeliverable';

/** Zone signing: algorithm and denial of existence; 'unsigned' makes an insecure delegation. */
export type ZoneSigning = 'ecdsa-nsec' | 'ecdsa-nsec3' | 'rsa-nsec' | 'rsa-nsec3' | 'unsigned';

/** Which certificate of a receiver a TLSA record is computed from, and how it is spoiled. */
export interface TlsaFrom {
  /** Receiver (host) name. */
  host: string;
  /** Default 'leaf'. 'unserved': a certificate with another key the server never sends. */
  cert?: 'leaf' | 'intermediate' | 'root' | 'unserved';
  /** 'wrong': digest of something else; 'truncate': one byte short. */
  spoil?: 'wrong' | 'truncate';
}

export type RecordSpec =
  | { owner: string; type: 'MX'; preference: number; exchange: string }
  /** Address of the receiver named `host` (127.x for A, ::1 for AAAA). */
  | { owner: string; type: 'A' | 'AAAA'; host: string }
  | { owner: string; type: 'CNAME'; target: string }
  | { owner: string; type: 'TXT'; text: string }
  | { owner: string; type: 'TLSA'; usage: number; selector: number; matchingType: number; from: TlsaFrom };

export interface ZoneSpec {
  /** A direct child of `test`, e.g. `ee-311.test`. */
  name: string;
  signing: ZoneSigning;
  records: RecordSpec[];
  /**
   * Lame delegation: the TLD delegates (with DS) to a name server address where nothing
   * listens, so every lookup in the zone ends in SERVFAIL (indeterminate, not bogus).
   */
  lame?: boolean;
  /**
   * Bogus on purpose: the RRSIG over (owner, type) expired, corrupted or made by a key not in
   * the DNSKEY RRset; or (`no-denial`) the NSEC/NSEC3 proving that (owner, type) does not exist
   * removed. See zones.ts `TamperHow`.
   */
  tamper?: { owner: string; type: string; how: TamperHow }[];
  /**
   * The DS the TLD publishes for this zone: `wrong-digest` (a SHA-256 digest that matches no
   * DNSKEY: the zone is bogus) or `unsupported-digest` (digest type 200, unassigned, with a
   * 32-byte digest: no DS is usable, so the zone is insecure, RFC 4035 §5.2 / RFC 6840 §5.2).
   */
  ds?: 'wrong-digest' | 'unsupported-digest';
  /** Signatures expire this many days from now (default 30). */
  expiresInDays?: number;
}

export interface HostSpec {
  /** The MX host name this receiver stands for (as in the MX record, or the domain for an implicit MX). */
  name: string;
  /** STARTTLS with this certificate (default: ECDSA leaf naming `name`, full chain); false: no STARTTLS. */
  tls?: CertProfile | false;
  /** Only TLS 1.0 is accepted (RFC 8996 forbids it to clients). */
  tls10Only?: boolean;
  /** Listens on [::1]:25 (the AAAA records point there). */
  ipv6?: boolean;
  /** SMTP behaviour beyond the defaults: no 8BITMIME, a recipient limit per transaction (receivers.ts). */
  smtp?: ReceiverSmtp;
}

export interface Scenario {
  domain: string;
  /** One line, citing the RFC section. */
  description: string;
  expect: {
    verdict: Verdict;
    /** MX host name(s) expected to take the message (a set for equal preferences), or []. */
    hosts: string[];
    /**
     * SNI the receiver must see (the TLSA base domain), for DANE hosts; per receiving host when
     * `hosts` has several (whichever takes the message).
     */
    sni?: string | Record<string, string>;
    /** TLS version the receiver must log (default: TLSv1.2 or TLSv1.3). */
    tlsVersion?: string;
    /** Queries ("name TYPE") the client must never send to the resolver for this domain. */
    noQueries?: string[];
  };
  zones: ZoneSpec[];
  hosts: HostSpec[];
  /** Needs IPv6 (::1); skipped when [::1]:25 cannot be bound. */
  ipv6?: boolean;
}

// ---------------------------------------------------------------------------------------
// Small constructors, so the list below reads like zone files.

const mx = (owner: string, preference: number, exchange: string): RecordSpec => ({ owner, type: 'MX', preference, exchange });
const a = (owner: string, host = owner): RecordSpec => ({ owner, type: 'A', host });
const aaaa = (owner: string, host = owner): RecordSpec => ({ owner, type: 'AAAA', host });
const cname = (owner: string, target: string): RecordSpec => ({ owner, type: 'CNAME', target });
const txt = (owner: string, text: string): RecordSpec => ({ owner, type: 'TXT', text });
/** TLSA at `_25._tcp.<base>` (or at `owner` when given) computed from `from`. */
const tlsa = (
  base: string,
  usage: number,
  selector: number,
  matchingType: number,
  from: Partial<TlsaFrom> = {},
  owner = `_25._tcp.${base}`,
): RecordSpec => ({ owner, type: 'TLSA', usage, selector, matchingType, from: { host: from.host ?? base, ...from } });

/** The common shape: one zone `<name>.test`, MX 10 mx.<name>.test, one receiver. */
function single(
  name: string,
  description: string,
  verdict: Verdict,
  opts: {
    signing?: ZoneSigning;
    host?: HostSpec;
    tlsa?: (host: string) => RecordSpec[];
    extra?: (domain: string, host: string) => RecordSpec[];
    tamper?: (domain: string, host: string) => ZoneSpec['tamper'];
    /** Other zone properties (ds, expiresInDays). */
    zone?: Pick<ZoneSpec, 'ds' | 'expiresInDays'>;
    delivered?: boolean;
    sni?: boolean;
  } = {},
): Scenario {
  const domain = `${name}.test`;
  const host = opts.host?.name ?? `mx.${domain}`;
  const delivered = opts.delivered ?? (verdict !== 'tempfail' && verdict !== 'undeliverable');
  const tamper = opts.tamper?.(domain, host);
  return {
    domain,
    description,
    expect: {
      verdict,
      hosts: delivered ? [host] : [],
      ...(opts.sni ?? verdict === 'dane-authenticated' ? { sni: host } : {}),
    },
    zones: [
      {
        name: domain,
        signing: opts.signing ?? 'ecdsa-nsec',
        records: [mx(domain, 10, host), a(host), ...(opts.tlsa?.(host) ?? []), ...(opts.extra?.(domain, host) ?? [])],
        ...(tamper ? { tamper } : {}),
        ...opts.zone,
      },
    ],
    hosts: [{ name: host, ...opts.host }],
  };
}

const wrong: Partial<TlsaFrom> = { spoil: 'wrong' };

/** An extension no client recognizes (an OID under the documentation PEN, RFC 5612), marked critical. */
const unknownCritical = [{ oid: '1.3.6.1.4.1.32473.1.1', critical: true }];

// ---------------------------------------------------------------------------------------

export const scenarios: Scenario[] = [
  // --- Usable DANE-EE(3) records (RFC 7672 §3.1.1) -----------------------------------------
  single('ee-311', 'RFC 7672 §3.1.1: DANE-EE(3) SPKI(1) SHA2-256(1) matches the leaf key → authenticated', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('ee-301', 'RFC 7672 §3.1.1: DANE-EE(3) Cert(0) SHA2-256(1) matches the leaf certificate → authenticated', 'dane-authenticated', {
    signing: 'rsa-nsec3',
    tlsa: (h) => [tlsa(h, 3, 0, 1)],
  }),
  single('ee-312', 'RFC 6698 §2.1.3: DANE-EE(3) SPKI(1) SHA2-512(2) matches the leaf key → authenticated', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    tlsa: (h) => [tlsa(h, 3, 1, 2)],
  }),
  single('ee-300', 'RFC 6698 §2.1.3: DANE-EE(3) Cert(0) Full(0): the whole leaf certificate → authenticated', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 3, 0, 0)],
  }),
  single('ee-310', 'RFC 6698 §2.1.3: DANE-EE(3) SPKI(1) Full(0): the whole leaf public key → authenticated', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 3, 1, 0)],
  }),
  single('ee-rsa-leaf', 'RFC 7672 §3.1.1: DANE-EE(3) 3 1 1 with an RSA leaf under an RSA chain → authenticated', 'dane-authenticated', {
    signing: 'rsa-nsec',
    host: { name: 'mx.ee-rsa-leaf.test', tls: { key: 'rsa', ca: 'rsa' } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('ee-ed25519-leaf', 'RFC 7672 §3.1.1: DANE-EE(3) 3 1 1 with an Ed25519 leaf key → authenticated', 'dane-authenticated', {
    host: { name: 'mx.ee-ed25519-leaf.test', tls: { key: 'ed25519' } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  // Unusual but legal leaves (issue 19): DANE-EE(3) 3 1 1 only hashes the SPKI, whatever it holds.
  single('ee-empty-subject', 'RFC 7672 §3.1.1 / RFC 5280 §4.1.2.6: DANE-EE(3) 3 1 1 with a leaf whose subject DN is empty and that has no SAN (it names nothing) → authenticated', 'dane-authenticated', {
    host: { name: 'mx.ee-empty-subject.test', tls: { emptySubject: true, names: null } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('ee-rsa-pss', 'RFC 7672 §3.1.1 / RFC 4055 §3.1: DANE-EE(3) 3 1 1 with an RSA-PSS leaf key (id-RSASSA-PSS SPKI) under the ECDSA chain → authenticated', 'dane-authenticated', {
    signing: 'rsa-nsec3',
    host: { name: 'mx.ee-rsa-pss.test', tls: { key: 'rsa-pss' } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('ee-ed448', 'RFC 7672 §3.1.1 / RFC 8410: DANE-EE(3) 3 1 1 with an Ed448 leaf key → authenticated', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    host: { name: 'mx.ee-ed448.test', tls: { key: 'ed448' } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('ee-ignores-names-dates', 'RFC 7672 §3.1.1: DANE-EE(3) ignores names and dates: an expired self-signed leaf naming another host authenticates', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    host: { name: 'mx.ee-ignores-names-dates.test', tls: { selfSigned: true, expired: true, names: ['other-host.invalid'] } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('ee-ignores-constraints', 'RFC 7672 §3.1.1: DANE-EE(3) checks nothing beyond the match: a leaf with an unrecognized critical extension, under a CA whose nameConstraints exclude its name, authenticates with 3 1 1', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    host: { name: 'mx.ee-ignores-constraints.test', tls: { leafExtensions: unknownCritical, intermediate: { nameConstraints: { permitted: ['DNS:elsewhere.test'] } } } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  single('usable-beside-unusable', 'RFC 7672 §3.1.3: an unusable 4 1 1 record is ignored, the matching 3 1 1 beside it authenticates', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 4, 1, 1), tlsa(h, 3, 1, 1)],
  }),

  // --- DANE-TA(2) (RFC 7672 §3.1.2, §3.2) ----------------------------------------------------
  single('ta-211-intermediate', 'RFC 7672 §3.1.2: DANE-TA(2) SPKI(1) SHA2-256(1) of the served intermediate, leaf names the MX host → authenticated', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  single('ta-201-root', 'RFC 7672 §3.1.2: DANE-TA(2) Cert(0) SHA2-256(1) of the served root (RSA chain), leaf names the MX host → authenticated', 'dane-authenticated', {
    signing: 'rsa-nsec3',
    host: { name: 'mx.ta-201-root.test', tls: { key: 'rsa', ca: 'rsa' } },
    tlsa: (h) => [tlsa(h, 2, 0, 1, { cert: 'root' })],
  }),
  single('ta-cn-only', 'RFC 7672 §3.2.3 / RFC 6125 §6.4.4: DANE-TA(2) with a leaf without SANs whose CN is the MX host → authenticated', 'dane-authenticated', {
    host: { name: 'mx.ta-cn-only.test', tls: { names: null, cn: 'mx.ta-cn-only.test' } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  single('ta-wildcard-name', 'RFC 7672 §3.2.3: DANE-TA(2), leaf SAN *.ta-wildcard-name.test covers the one-label-deeper MX host → authenticated', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    host: { name: 'mx.ta-wildcard-name.test', tls: { names: ['*.ta-wildcard-name.test'] } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  single('ta-wildcard-deep', 'RFC 7672 §3.2.3 / RFC 6125 §6.4.3: a wildcard SAN covers one label only; a.mx.<domain> does not match *.<domain> → tempfail', 'tempfail', {
    host: { name: 'a.mx.ta-wildcard-deep.test', tls: { names: ['*.ta-wildcard-deep.test'] } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  single('ta-not-sent', 'RFC 7672 §3.1.2: the server must send the DANE-TA trust anchor; 2 0 1 of a root it does not send → tempfail', 'tempfail', {
    host: { name: 'mx.ta-not-sent.test', tls: { served: 'leaf+intermediate' } },
    tlsa: (h) => [tlsa(h, 2, 0, 1, { cert: 'root' })],
  }),
  // Project decision (src/dane/authenticate.ts): a 2 0 0 record is the whole trust anchor
  // certificate, so it supplies the anchor the server left out (RFC 7671 §5.2.2). The ECDSA P-256
  // intermediate keeps the TLSA RRset small (its DER in one record, well inside a 1232-byte answer).
  single('ta-full-anchor-not-served', 'RFC 7671 §5.2.2: DANE-TA(2) Cert(0) Full(0) of the issuing intermediate; the server sends only its leaf, the record supplies the anchor → authenticated', 'dane-authenticated', {
    host: { name: 'mx.ta-full-anchor-not-served.test', tls: { served: 'leaf' } },
    tlsa: (h) => [tlsa(h, 2, 0, 0, { cert: 'intermediate' })],
  }),
  single('ta-expired-leaf', 'RFC 7672 §3.1.2: DANE-TA(2) checks validity dates; an expired leaf → tempfail', 'tempfail', {
    signing: 'rsa-nsec',
    host: { name: 'mx.ta-expired-leaf.test', tls: { expired: true } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  single('ta-leaf-expires-soon', 'RFC 7672 §3.1.2: DANE-TA(2) checks validity dates; a leaf still valid but expiring in 10 days → authenticated (check warns cert-expires-soon)', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    host: { name: 'mx.ta-leaf-expires-soon.test', tls: { expiresInDays: 10 } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  single('ta-wrong-name', 'RFC 7672 §3.2.3: DANE-TA(2) with a leaf naming another host → tempfail', 'tempfail', {
    host: { name: 'mx.ta-wrong-name.test', tls: { names: ['mx.elsewhere.test'] } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'intermediate' })],
  }),
  {
    domain: 'ta-cname-mxname.test',
    description: 'RFC 7672 §3.2.3: DANE-TA(2) at the CNAME-expanded base domain; a leaf naming only the original MX host name is accepted → authenticated',
    expect: { verdict: 'dane-authenticated', hosts: ['mx.ta-cname-mxname.test'], sni: 'srv.ta-cname-mxname-target.test' },
    zones: [
      {
        name: 'ta-cname-mxname.test',
        signing: 'ecdsa-nsec',
        records: [mx('ta-cname-mxname.test', 10, 'mx.ta-cname-mxname.test'), cname('mx.ta-cname-mxname.test', 'srv.ta-cname-mxname-target.test')],
      },
      {
        name: 'ta-cname-mxname-target.test',
        signing: 'ecdsa-nsec3',
        records: [
          a('srv.ta-cname-mxname-target.test', 'mx.ta-cname-mxname.test'),
          tlsa('srv.ta-cname-mxname-target.test', 2, 1, 1, { host: 'mx.ta-cname-mxname.test', cert: 'intermediate' }),
        ],
      },
    ],
    hosts: [{ name: 'mx.ta-cname-mxname.test', tls: { names: ['mx.ta-cname-mxname.test'] } }],
  },
  // --- DANE-TA path checks: name constraints, critical extensions (RFC 7671 §5.2.2 "the usual
  // checks", RFC 5280 §4.2, §4.2.1.10, §6.1.4 (g)) -----------------------------------------------
  single('ta-nc-outside', 'RFC 7672 §3.1.2 / RFC 5280 §4.2.1.10: DANE-TA(2) 2 0 1 of an intermediate whose nameConstraints permit only elsewhere.test; the leaf names the MX host, outside them → the only MX fails → tempfail', 'tempfail', {
    host: { name: 'mx.ta-nc-outside.test', tls: { intermediate: { nameConstraints: { permitted: ['DNS:elsewhere.test'] } } } },
    tlsa: (h) => [tlsa(h, 2, 0, 1, { cert: 'intermediate' })],
  }),
  single('ta-nc-inside', 'RFC 7672 §3.1.2 / RFC 5280 §4.2.1.10: DANE-TA(2) 2 0 1 of an intermediate whose nameConstraints permit the MX host’s domain; the leaf is inside them → authenticated', 'dane-authenticated', {
    host: { name: 'mx.ta-nc-inside.test', tls: { intermediate: { nameConstraints: { permitted: ['DNS:ta-nc-inside.test'] } } } },
    tlsa: (h) => [tlsa(h, 2, 0, 1, { cert: 'intermediate' })],
  }),
  single('ta-nc-excluded-below', 'RFC 5280 §6.1.4 (g) / §4.2.1.10: DANE-TA(2) 2 1 1 of the root; the intermediate below it excludes the MX host’s domain, which the leaf names → tempfail', 'tempfail', {
    signing: 'ecdsa-nsec3',
    host: { name: 'mx.ta-nc-excluded-below.test', tls: { intermediate: { nameConstraints: { excluded: ['DNS:ta-nc-excluded-below.test'] } } } },
    tlsa: (h) => [tlsa(h, 2, 1, 1, { cert: 'root' })],
  }),
  {
    domain: 'ta-critical-ext-fallback.test',
    description: 'RFC 5280 §4.2 / RFC 7672 §2.2: MX 10’s DANE-TA(2) chain has a leaf with an unrecognized critical extension → that host fails and is skipped; MX 20 (2 1 1) authenticates',
    expect: { verdict: 'dane-authenticated', hosts: ['mx2.ta-critical-ext-fallback.test'], sni: 'mx2.ta-critical-ext-fallback.test' },
    zones: [
      {
        name: 'ta-critical-ext-fallback.test',
        signing: 'rsa-nsec',
        records: [
          mx('ta-critical-ext-fallback.test', 10, 'mx1.ta-critical-ext-fallback.test'),
          mx('ta-critical-ext-fallback.test', 20, 'mx2.ta-critical-ext-fallback.test'),
          a('mx1.ta-critical-ext-fallback.test'),
          a('mx2.ta-critical-ext-fallback.test'),
          tlsa('mx1.ta-critical-ext-fallback.test', 2, 1, 1, { cert: 'intermediate' }),
          tlsa('mx2.ta-critical-ext-fallback.test', 2, 1, 1, { cert: 'intermediate' }),
        ],
      },
    ],
    hosts: [{ name: 'mx1.ta-critical-ext-fallback.test', tls: { leafExtensions: unknownCritical } }, { name: 'mx2.ta-critical-ext-fallback.test' }],
  },

  // --- Unusable records → encrypt-unauthenticated (RFC 7672 §2.2, §3.1.3) -----------------
  single('pkix-only', 'RFC 7672 §3.1.3: only PKIX-TA(0)/PKIX-EE(1) records (even matching) are unusable → TLS mandatory, unauthenticated', 'encrypt-unauthenticated', {
    tlsa: (h) => [tlsa(h, 0, 0, 1, { cert: 'root' }), tlsa(h, 1, 1, 1)],
  }),
  single('unusable-usage', 'RFC 7672 §2.2: an unknown usage (4) is unusable → TLS mandatory, unauthenticated', 'encrypt-unauthenticated', {
    tlsa: (h) => [tlsa(h, 4, 1, 1)],
  }),
  single('unusable-selector', 'RFC 7672 §2.2: an unknown selector (2) is unusable → TLS mandatory, unauthenticated', 'encrypt-unauthenticated', {
    signing: 'rsa-nsec',
    tlsa: (h) => [tlsa(h, 3, 2, 1)],
  }),
  single('unusable-mtype', 'RFC 7672 §2.2: an unknown matching type (3) is unusable → TLS mandatory, unauthenticated', 'encrypt-unauthenticated', {
    tlsa: (h) => [tlsa(h, 3, 1, 3)],
  }),
  single('unusable-no-starttls', 'RFC 7672 §2.2: only unusable TLSA records still make TLS mandatory; no STARTTLS → never plaintext → tempfail', 'tempfail', {
    host: { name: 'mx.unusable-no-starttls.test', tls: false },
    tlsa: (h) => [tlsa(h, 1, 1, 1)],
  }),
  single('unusable-length', 'RFC 7671 §10.1.2 / RFC 7672 §2.2: a SHA2-256 digest of the wrong length (31 octets) is unusable → unauthenticated', 'encrypt-unauthenticated', {
    signing: 'ecdsa-nsec3',
    tlsa: (h) => [tlsa(h, 3, 1, 1, { spoil: 'truncate' })],
  }),
  single('ee-fail-pkix-match', 'RFC 7672 §3.1.3: a matching PKIX-EE(1) record does not rescue a failed DANE-EE(3) record → tempfail', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1, wrong), tlsa(h, 1, 1, 1)],
  }),
  single('digest-agility', 'RFC 7671 §9: a matching SHA2-256 record with a non-matching SHA2-512 one of the same usage/selector fails → tempfail', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1), tlsa(h, 3, 1, 2, wrong)],
  }),
  single('wrong-digest', 'RFC 7672 §2.2: a DANE host whose certificate matches no record fails and never gets plaintext → tempfail', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1, wrong)],
  }),
  single('key-rollover-error', 'RFC 7671 §8.1: TLSA published for the old key while the server has the new one, single MX → tempfail', 'tempfail', {
    signing: 'rsa-nsec3',
    tlsa: (h) => [tlsa(h, 3, 1, 1, { cert: 'unserved' })],
  }),

  // --- TLSA owner names --------------------------------------------------------------------
  single('tlsa-wildcard-port', 'RFC 7671 §10.1.1 (wildcards, RFC 4592): TLSA at *._tcp.<mx host> covers _25._tcp → authenticated', 'dane-authenticated', {
    signing: 'ecdsa-nsec3',
    tlsa: (h) => [tlsa(h, 3, 1, 1, {}, `*._tcp.${h}`)],
  }),
  single('tlsa-wildcard-host', 'RFC 7671 §10.1.1 (wildcards, RFC 4592): TLSA at *.<mx host> covers _25._tcp.<mx host> → authenticated', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 3, 1, 1, {}, `*.${h}`)],
  }),
  single('tlsa-bogus', 'RFC 7672 §2.2: a bogus TLSA RRset (corrupted RRSIG) makes the only MX host fail → tempfail', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    tamper: (_d, h) => [{ owner: `_25._tcp.${h}`, type: 'TLSA', how: 'corrupt' }],
  }),
  {
    domain: 'tlsa-bogus-fallback.test',
    description: 'RFC 7672 §2.2: MX 10 has a bogus TLSA RRset (expired RRSIG) → it is skipped, MX 20 authenticates',
    expect: { verdict: 'dane-authenticated', hosts: ['mx2.tlsa-bogus-fallback.test'], sni: 'mx2.tlsa-bogus-fallback.test' },
    zones: [
      {
        name: 'tlsa-bogus-fallback.test',
        signing: 'ecdsa-nsec3',
        records: [
          mx('tlsa-bogus-fallback.test', 10, 'mx1.tlsa-bogus-fallback.test'),
          mx('tlsa-bogus-fallback.test', 20, 'mx2.tlsa-bogus-fallback.test'),
          a('mx1.tlsa-bogus-fallback.test'),
          a('mx2.tlsa-bogus-fallback.test'),
          tlsa('mx1.tlsa-bogus-fallback.test', 3, 1, 1),
          tlsa('mx2.tlsa-bogus-fallback.test', 3, 1, 1),
        ],
        tamper: [{ owner: '_25._tcp.mx1.tlsa-bogus-fallback.test', type: 'TLSA', how: 'expired' }],
      },
    ],
    hosts: [{ name: 'mx1.tlsa-bogus-fallback.test' }, { name: 'mx2.tlsa-bogus-fallback.test' }],
  },
  single('no-tlsa', 'RFC 7672 §2.2: secure MX host without TLSA (NXDOMAIN at _25._tcp) → DANE does not apply, opportunistic TLS', 'opportunistic', {
    tlsa: () => [],
  }),
  single('tlsa-nodata', 'RFC 7672 §2.2: secure MX host, _25._tcp name exists without TLSA (NODATA) → opportunistic TLS', 'opportunistic', {
    signing: 'ecdsa-nsec3',
    tlsa: (h) => [txt(`_25._tcp.${h}`, 'no TLSA here')],
  }),
  single('no-tlsa-no-starttls', 'RFC 7672 §2.2 / RFC 3207: no TLSA and no STARTTLS → opportunistic, plaintext delivery', 'opportunistic', {
    host: { name: 'mx.no-tlsa-no-starttls.test', tls: false },
  }),

  // --- MX RRset security (RFC 7672 §2.2.1) ---------------------------------------------------
  single('mx-expired-sig', 'RFC 7672 §2.2.1: MX RRset bogus (expired RRSIG) → tempfail, no delivery', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    tamper: (d) => [{ owner: d, type: 'MX', how: 'expired' }],
  }),
  single('mx-corrupt-sig', 'RFC 7672 §2.2.1: MX RRset bogus (corrupted RRSIG) → tempfail, no delivery', 'tempfail', {
    signing: 'rsa-nsec',
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    tamper: (d) => [{ owner: d, type: 'MX', how: 'corrupt' }],
  }),
  // --- DNSSEC failure variants (issue 6: bogus is caught; issue 8: signatures expire soon) --
  single('dnskey-unknown', 'RFC 4035 §5.3.1: the MX RRSIG is made by a key absent from the zone’s DNSKEY RRset → MX bogus → tempfail', 'tempfail', {
    signing: 'ecdsa-nsec3',
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    tamper: (d) => [{ owner: d, type: 'MX', how: 'unknown-key' }],
  }),
  single('ds-wrong-digest', 'RFC 4035 §5.2: the TLD’s DS digest matches no DNSKEY of the zone → the whole zone is bogus → tempfail', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    zone: { ds: 'wrong-digest' },
  }),
  {
    domain: 'nsec3-missing.test',
    description: 'RFC 5155 §8.5: MX NODATA without the NSEC3 matching the name → bogus, not an implicit MX → tempfail',
    expect: { verdict: 'tempfail', hosts: [] },
    zones: [
      {
        name: 'nsec3-missing.test',
        signing: 'ecdsa-nsec3',
        records: [a('nsec3-missing.test'), tlsa('nsec3-missing.test', 3, 1, 1)],
        tamper: [{ owner: 'nsec3-missing.test', type: 'MX', how: 'no-denial' }],
      },
    ],
    hosts: [{ name: 'nsec3-missing.test' }],
  },
  single('tlsa-denial-missing', 'RFC 4035 §5.4 / RFC 7672 §2.2: TLSA NODATA at the only MX host without its NSEC proof → TLSA bogus, not "no TLSA" → tempfail', 'tempfail', {
    tlsa: (h) => [txt(`_25._tcp.${h}`, 'no TLSA here')],
    tamper: (_d, h) => [{ owner: `_25._tcp.${h}`, type: 'TLSA', how: 'no-denial' }],
  }),
  single('sig-expiring', 'RFC 4035 §5.3.1 / RFC 6781 §4.4.2: signatures still valid, expiring in 3 days → authenticated (check warns rrsig-expires-soon)', 'dane-authenticated', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    zone: { expiresInDays: 3 },
  }),
  single('unsupported-ds', 'RFC 4035 §5.2 / RFC 6840 §5.2: the only DS uses an unassigned digest type (200) → zone insecure, not bogus → opportunistic', 'opportunistic', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    zone: { ds: 'unsupported-digest' },
  }),
  {
    domain: 'mx-lame.test',
    description: 'RFC 7672 §2.2.1: the MX lookup fails without a validation verdict (lame delegation: REFUSED, so SERVFAIL, indeterminate) → tempfail',
    expect: { verdict: 'tempfail', hosts: [] },
    zones: [{ name: 'mx-lame.test', signing: 'unsigned', lame: true, records: [mx('mx-lame.test', 10, 'mx.ee-311.test')] }],
    hosts: [],
  },
  {
    domain: 'insecure-mx-dane-host.test',
    description: 'RFC 7672 §2.2.1: an insecure MX RRset naming a host with secure address and TLSA records → opportunistic by default (DANE with --dane-insecure-mx)',
    expect: { verdict: 'opportunistic', hosts: ['mx.ee-311.test'] },
    zones: [{ name: 'insecure-mx-dane-host.test', signing: 'unsigned', records: [mx('insecure-mx-dane-host.test', 10, 'mx.ee-311.test')] }],
    hosts: [],
  },
  single('host-addr-bogus', 'RFC 7672 §2.2.2: the only MX host’s A RRset is bogus (corrupted RRSIG) → that host fails → tempfail', 'tempfail', {
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
    tamper: (_d, h) => [{ owner: h, type: 'A', how: 'corrupt' }],
  }),
  single('mx-insecure', 'RFC 7672 §2.2.1: insecure (unsigned) MX zone → opportunistic even though TLSA records are published', 'opportunistic', {
    signing: 'unsigned',
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  {
    domain: 'host-insecure.test',
    description: 'RFC 7672 §2.2.2: signed MX RRset, MX host in an unsigned zone → no TLSA lookup, opportunistic',
    expect: {
      verdict: 'opportunistic',
      hosts: ['mx.host-insecure-hosts.test'],
      noQueries: ['_25._tcp.mx.host-insecure-hosts.test TLSA'],
    },
    zones: [
      { name: 'host-insecure.test', signing: 'ecdsa-nsec', records: [mx('host-insecure.test', 10, 'mx.host-insecure-hosts.test')] },
      {
        name: 'host-insecure-hosts.test',
        signing: 'unsigned',
        records: [a('mx.host-insecure-hosts.test'), tlsa('mx.host-insecure-hosts.test', 3, 1, 1, wrong)],
      },
    ],
    hosts: [{ name: 'mx.host-insecure-hosts.test' }],
  },
  {
    domain: 'implicit-mx.test',
    description: 'RFC 7672 §2.2.1 / RFC 5321 §5.1: no MX (NODATA) → the domain is its own implicit MX and TLSA base domain',
    expect: { verdict: 'dane-authenticated', hosts: ['implicit-mx.test'], sni: 'implicit-mx.test' },
    zones: [
      {
        name: 'implicit-mx.test',
        signing: 'ecdsa-nsec3',
        records: [a('implicit-mx.test'), tlsa('implicit-mx.test', 3, 1, 1)],
      },
    ],
    hosts: [{ name: 'implicit-mx.test' }],
  },
  {
    domain: 'null-mx.test',
    description: 'RFC 7505 §3: null MX "0 ." → undeliverable, no connection to the domain’s own A record',
    expect: { verdict: 'undeliverable', hosts: [] },
    zones: [
      {
        name: 'null-mx.test',
        signing: 'ecdsa-nsec',
        records: [mx('null-mx.test', 0, '.'), a('null-mx.test'), tlsa('null-mx.test', 3, 1, 1)],
      },
    ],
    hosts: [{ name: 'null-mx.test' }],
  },
  {
    domain: 'no-such-domain.test',
    description: 'RFC 5321 §5.1: the domain does not exist (secure NXDOMAIN) → undeliverable',
    expect: { verdict: 'undeliverable', hosts: [] },
    zones: [],
    hosts: [],
  },
  {
    domain: 'no-address.test',
    description: 'RFC 5321 §5.1: no MX host has an address (NODATA and NXDOMAIN for A/AAAA) → undeliverable',
    expect: { verdict: 'undeliverable', hosts: [] },
    zones: [
      {
        name: 'no-address.test',
        signing: 'ecdsa-nsec',
        records: [
          mx('no-address.test', 10, 'mx1.no-address.test'),
          mx('no-address.test', 20, 'mx2.no-address.test'),
          txt('mx1.no-address.test', 'no address here'),
        ],
      },
    ],
    hosts: [],
  },

  // --- MX preference over security (RFC 7672 §2.2.1, §2.2) ---------------------------------
  {
    domain: 'pref-fallback.test',
    description: 'RFC 7672 §2.2: MX 10 fails DANE (wrong 3 1 1 digest) → MX 20 is used and authenticates',
    expect: { verdict: 'dane-authenticated', hosts: ['mx2.pref-fallback.test'], sni: 'mx2.pref-fallback.test' },
    zones: [
      {
        name: 'pref-fallback.test',
        signing: 'ecdsa-nsec',
        records: [
          mx('pref-fallback.test', 10, 'mx1.pref-fallback.test'),
          mx('pref-fallback.test', 20, 'mx2.pref-fallback.test'),
          a('mx1.pref-fallback.test'),
          a('mx2.pref-fallback.test'),
          tlsa('mx1.pref-fallback.test', 3, 1, 1, wrong),
          tlsa('mx2.pref-fallback.test', 3, 1, 1),
        ],
      },
    ],
    hosts: [{ name: 'mx1.pref-fallback.test' }, { name: 'mx2.pref-fallback.test' }],
  },
  {
    domain: 'pref-order.test',
    description: 'RFC 7672 §2.2.1: preference order wins over security: MX 10 (no TLSA) is used, not the DANE MX 20 → opportunistic',
    expect: { verdict: 'opportunistic', hosts: ['mx1.pref-order.test'] },
    zones: [
      {
        name: 'pref-order.test',
        signing: 'ecdsa-nsec3',
        records: [
          mx('pref-order.test', 10, 'mx1.pref-order.test'),
          mx('pref-order.test', 20, 'mx2.pref-order.test'),
          a('mx1.pref-order.test'),
          a('mx2.pref-order.test'),
          tlsa('mx2.pref-order.test', 3, 1, 1),
        ],
      },
    ],
    hosts: [{ name: 'mx1.pref-order.test' }, { name: 'mx2.pref-order.test' }],
  },
  {
    domain: 'all-fail.test',
    description: 'RFC 7672 §2.2: every MX host fails DANE (wrong digest; no STARTTLS) → tempfail, nothing delivered',
    expect: { verdict: 'tempfail', hosts: [] },
    zones: [
      {
        name: 'all-fail.test',
        signing: 'rsa-nsec3',
        records: [
          mx('all-fail.test', 10, 'mx1.all-fail.test'),
          mx('all-fail.test', 20, 'mx2.all-fail.test'),
          a('mx1.all-fail.test'),
          a('mx2.all-fail.test'),
          tlsa('mx1.all-fail.test', 3, 1, 1, wrong),
          tlsa('mx2.all-fail.test', 3, 1, 1),
        ],
      },
    ],
    hosts: [{ name: 'mx1.all-fail.test' }, { name: 'mx2.all-fail.test', tls: false }],
  },
  {
    domain: 'equal-pref.test',
    description: 'RFC 5321 §5.1: two MX hosts of equal preference, both DANE → either one takes the message',
    expect: {
      verdict: 'dane-authenticated',
      hosts: ['mxa.equal-pref.test', 'mxb.equal-pref.test'],
      sni: { 'mxa.equal-pref.test': 'mxa.equal-pref.test', 'mxb.equal-pref.test': 'mxb.equal-pref.test' },
    },
    zones: [
      {
        name: 'equal-pref.test',
        signing: 'ecdsa-nsec',
        records: [
          mx('equal-pref.test', 10, 'mxa.equal-pref.test'),
          mx('equal-pref.test', 10, 'mxb.equal-pref.test'),
          a('mxa.equal-pref.test'),
          a('mxb.equal-pref.test'),
          tlsa('mxa.equal-pref.test', 3, 1, 1),
          tlsa('mxb.equal-pref.test', 3, 1, 1),
        ],
      },
    ],
    hosts: [{ name: 'mxa.equal-pref.test' }, { name: 'mxb.equal-pref.test' }],
  },

  // --- MX host CNAMEs (RFC 7672 §2.2.2) ----------------------------------------------------
  {
    domain: 'cname-expanded.test',
    description: 'RFC 7672 §2.2.2: secure CNAME chain → TLSA looked up at the expanded name first (a wrong record at the original is not used)',
    expect: { verdict: 'dane-authenticated', hosts: ['mx.cname-expanded.test'], sni: 'srv.cname-expanded-target.test' },
    zones: [
      {
        name: 'cname-expanded.test',
        signing: 'ecdsa-nsec',
        records: [
          mx('cname-expanded.test', 10, 'mx.cname-expanded.test'),
          cname('mx.cname-expanded.test', 'srv.cname-expanded-target.test'),
          tlsa('mx.cname-expanded.test', 3, 1, 1, wrong),
        ],
      },
      {
        name: 'cname-expanded-target.test',
        signing: 'ecdsa-nsec3',
        records: [
          a('srv.cname-expanded-target.test', 'mx.cname-expanded.test'),
          tlsa('srv.cname-expanded-target.test', 3, 1, 1, { host: 'mx.cname-expanded.test' }),
        ],
      },
    ],
    hosts: [{ name: 'mx.cname-expanded.test' }],
  },
  {
    domain: 'cname-original.test',
    description: 'RFC 7672 §2.2.2: secure CNAME chain without TLSA at the expanded name → TLSA at the original MX host name',
    expect: { verdict: 'dane-authenticated', hosts: ['mx.cname-original.test'], sni: 'mx.cname-original.test' },
    zones: [
      {
        name: 'cname-original.test',
        signing: 'ecdsa-nsec',
        records: [
          mx('cname-original.test', 10, 'mx.cname-original.test'),
          cname('mx.cname-original.test', 'srv.cname-original-target.test'),
          tlsa('mx.cname-original.test', 3, 1, 1),
        ],
      },
      {
        name: 'cname-original-target.test',
        signing: 'rsa-nsec',
        records: [a('srv.cname-original-target.test', 'mx.cname-original.test')],
      },
    ],
    hosts: [{ name: 'mx.cname-original.test' }],
  },
  {
    domain: 'cname-to-insecure.test',
    description: 'RFC 7672 §2.2.2: secure first CNAME into an insecure zone → TLSA at the original name only (the insecure one is ignored)',
    expect: { verdict: 'dane-authenticated', hosts: ['mx.cname-to-insecure.test'], sni: 'mx.cname-to-insecure.test' },
    zones: [
      {
        name: 'cname-to-insecure.test',
        signing: 'ecdsa-nsec3',
        records: [
          mx('cname-to-insecure.test', 10, 'mx.cname-to-insecure.test'),
          cname('mx.cname-to-insecure.test', 'srv.cname-to-insecure-target.test'),
          tlsa('mx.cname-to-insecure.test', 3, 1, 1),
        ],
      },
      {
        name: 'cname-to-insecure-target.test',
        signing: 'unsigned',
        records: [
          a('srv.cname-to-insecure-target.test', 'mx.cname-to-insecure.test'),
          tlsa('srv.cname-to-insecure-target.test', 3, 1, 1, { host: 'mx.cname-to-insecure.test', spoil: 'wrong' }),
        ],
      },
    ],
    hosts: [{ name: 'mx.cname-to-insecure.test' }],
  },

  // --- STARTTLS and TLS (RFC 7672 §2.2, §8.1; RFC 8996) -----------------------------------
  single('starttls-missing', 'RFC 7672 §2.2: a DANE host that does not offer STARTTLS fails, never plaintext → tempfail', 'tempfail', {
    host: { name: 'mx.starttls-missing.test', tls: false },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),
  {
    domain: 'starttls-missing-fallback.test',
    description: 'RFC 7672 §2.2: MX 10 is DANE without STARTTLS → skipped (no plaintext), MX 20 authenticates',
    expect: {
      verdict: 'dane-authenticated',
      hosts: ['mx2.starttls-missing-fallback.test'],
      sni: 'mx2.starttls-missing-fallback.test',
    },
    zones: [
      {
        name: 'starttls-missing-fallback.test',
        signing: 'ecdsa-nsec',
        records: [
          mx('starttls-missing-fallback.test', 10, 'mx1.starttls-missing-fallback.test'),
          mx('starttls-missing-fallback.test', 20, 'mx2.starttls-missing-fallback.test'),
          a('mx1.starttls-missing-fallback.test'),
          a('mx2.starttls-missing-fallback.test'),
          tlsa('mx1.starttls-missing-fallback.test', 3, 1, 1),
          tlsa('mx2.starttls-missing-fallback.test', 3, 1, 1),
        ],
      },
    ],
    hosts: [{ name: 'mx1.starttls-missing-fallback.test', tls: false }, { name: 'mx2.starttls-missing-fallback.test' }],
  },
  {
    // Project choice (src/smtp/session.ts, "like Postfix"): TLS 1.0 and up are accepted. RFC 8996
    // would forbid TLS 1.0; if the project changes its mind, this becomes a tempfail.
    ...single('tls10-only', 'RFC 7672 §2.2 / RFC 7435: a DANE host that only speaks TLS 1.0 still authenticates (Postfix-like; RFC 8996 tension)', 'dane-authenticated', {
      host: { name: 'mx.tls10-only.test', tls10Only: true },
      tlsa: (h) => [tlsa(h, 3, 1, 1)],
    }),
    expect: { verdict: 'dane-authenticated', hosts: ['mx.tls10-only.test'], sni: 'mx.tls10-only.test', tlsVersion: 'TLSv1' },
  },

  // --- SMTP at a DANE host (smtp-features.test.ts sends to it) ---------------------------------
  // A receiver without 8BITMIME (RFC 6152 §3: the client converts 8-bit MIME to quoted-printable)
  // that takes 2 recipients per transaction and answers 452 4.5.3 to more (RFC 5321 §4.5.3.1.10:
  // the rest go in another transaction). One plain ASCII recipient, as lab.test.ts sends, is unaffected.
  single('smtp-limits', 'RFC 7672 §3.1.1 with RFC 6152 §3 / RFC 5321 §4.5.3.1.10: 3 1 1 at a host without 8BITMIME that takes 2 recipients per transaction → authenticated', 'dane-authenticated', {
    host: { name: 'mx.smtp-limits.test', smtp: { hide8BITMIME: true, maxRecipients: 2 } },
    tlsa: (h) => [tlsa(h, 3, 1, 1)],
  }),

  // --- IPv6 ----------------------------------------------------------------------------------
  {
    domain: 'ipv6-only.test',
    description: 'RFC 7672 §2.2.2: an MX host with only an AAAA record (::1) and a matching 3 1 1 → authenticated over IPv6',
    expect: { verdict: 'dane-authenticated', hosts: ['mx.ipv6-only.test'], sni: 'mx.ipv6-only.test' },
    zones: [
      {
        name: 'ipv6-only.test',
        signing: 'ecdsa-nsec3',
        records: [mx('ipv6-only.test', 10, 'mx.ipv6-only.test'), aaaa('mx.ipv6-only.test'), tlsa('mx.ipv6-only.test', 3, 1, 1)],
      },
    ],
    hosts: [{ name: 'mx.ipv6-only.test', ipv6: true }],
    ipv6: true,
  },
];
