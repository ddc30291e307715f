/**
 * What a certificate says about its holder, for DANE-TA and the PKIX policy levels: the
 * names it is valid for (RFC 6125 as RFC 7672 §3.2.2 applies it) and whether it may
 * authenticate a TLS server (extended key usage). Pure; never throws.
 */
import type { X509Certificate } from 'node:crypto';

const SERVER_AUTH_EKU = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

/**
 * RFC 7672 §3.2.2 / RFC 6125: SAN dNSNames, the CN only when there are no DNS SANs, a
 * wildcard only as the whole leftmost label. OpenSSL's X509_check_host does exactly this
 * with these flags.
 */
export function leafMatchesName(leaf: X509Certificate, name: string): boolean {
  if (!name) return false;
  try {
    return (
      leaf.checkHost(name, {
        subject: 'default',
        wildcards: true,
        partialWildcards: false,
        multiLabelWildcards: false,
        singleLabelSubdomains: false,
      }) !== undefined
    );
  } catch {
    return false;
  }
}

/** No extended key usage, or one that allows TLS server authentication. */
export function serverAuthAllowed(leaf: X509Certificate): boolean {
  let eku: string[] | undefined;
  try {
    eku = leaf.keyUsage; // Node: extended key usage OIDs, undefined when absent
  } catch {
    return false; // an extended key usage OpenSSL cannot read allows nothing
  }
  return !eku || eku.includes(SERVER_AUTH_EKU) || eku.includes(ANY_EKU);
}
