/** The one list of finding codes (docs/findings.md), with their usual severity and meaning. */

export type FindingSeverity = 'error' | 'warning' | 'advice';

/** A DANE-TA certificate expiring within this many days is reported (cert-expires-soon). */
export const CERT_EXPIRY_WARNING_DAYS = 30;
/** An RRSIG over the MX or TLSA RRset expiring within this many days is reported (rrsig-expires-soon). */
export const RRSIG_EXPIRY_WARNING_DAYS = 7;

/** Every code diagnose() emits, with its usual severity and one line of meaning (docs/findings.md). */
export const FINDING_CODES = {
  'resolver-not-validating': { severity: 'error', meaning: 'the resolver does not validate DNSSEC: DANE is off' },
  'resolver-unreachable': { severity: 'error', meaning: 'the resolver did not answer: everything is deferred' },
  'internal-error': { severity: 'error', meaning: 'dane-smtp itself failed on the destination (a bug): what no server decided is deferred; what a server accepted stays delivered' },
  'mx-bogus': { severity: 'error', meaning: 'the MX RRset is bogus (the EDE text says why): mail is deferred' },
  'tlsa-bogus': { severity: 'error', meaning: 'a TLSA RRset is bogus: the host is skipped' },
  'dns-bogus': { severity: 'error', meaning: 'another answer (address, CNAME) of a host is bogus: the host is skipped' },
  'dns-indeterminate': { severity: 'error', meaning: 'a lookup failed without a DNSSEC verdict (SERVFAIL, timeout, lame delegation)' },
  'rrsig-expires-soon': { severity: 'warning', meaning: `an RRSIG over the MX or TLSA RRset expires within ${RRSIG_EXPIRY_WARNING_DAYS} days` },
  'cname-insecure': { severity: 'warning', meaning: 'the MX host name is a CNAME chain into an insecure zone' },
  'host-no-address': { severity: 'warning', meaning: 'an MX host has no A or AAAA record' },
  'tlsa-pkix-usage': { severity: 'error', meaning: 'a TLSA record with usage 0 or 1, which SMTP ignores (RFC 7672 §3.1.3)' },
  'tlsa-digest-length': { severity: 'error', meaning: 'a TLSA digest of the wrong length for its matching type' },
  'tlsa-unknown-parameter': { severity: 'error', meaning: 'a TLSA record with an unknown usage, selector or matching type' },
  'tlsa-weaker-digest': { severity: 'advice', meaning: 'a TLSA record ignored because a stronger digest is published beside it (RFC 7671 §9)' },
  'starttls-missing': { severity: 'error', meaning: 'a host with TLSA records does not offer STARTTLS' },
  'tlsa-no-match': { severity: 'error', meaning: 'the served certificate matches no DANE-EE record (e.g. a new key after a renewal)' },
  'ta-not-served': { severity: 'error', meaning: 'the DANE-TA trust anchor is not in the chain the server sends' },
  'ta-name-mismatch': { severity: 'error', meaning: 'under DANE-TA, the leaf certificate names neither the TLSA base domain, the MX host nor the domain' },
  'cert-expired': { severity: 'error', meaning: 'under DANE-TA, a certificate of the chain is expired or not yet valid' },
  'ta-chain-invalid': { severity: 'error', meaning: 'under DANE-TA, the chain to the anchor is invalid (not a CA, key usage, path length, name constraints, an unrecognized critical extension, malformed extension)' },
  'cert-expires-soon': { severity: 'warning', meaning: `under DANE-TA, a certificate of the chain expires within ${CERT_EXPIRY_WARNING_DAYS} days` },
  'host-failed': { severity: 'error', meaning: 'a host could not be used for another reason (connect, TLS handshake, SMTP error)' },
  'policy-not-met': { severity: 'error', meaning: 'the destination does not meet the local policy level (e.g. dane-only without usable TLSA): mail is deferred' },
  'tls-old-version': { severity: 'advice', meaning: 'a server negotiated TLS 1.0 or 1.1 (accepted, RFC 7672 §8.1; deprecated by RFC 8996): enable TLS 1.2 or 1.3' },
  'no-rollover-slack': { severity: 'advice', meaning: 'every usable record is DANE-EE and matches the current key or certificate: no room for a key rollover (RFC 7671 §8.1)' },
} as const satisfies Record<string, { severity: FindingSeverity; meaning: string }>;

export type FindingCode = keyof typeof FINDING_CODES;
