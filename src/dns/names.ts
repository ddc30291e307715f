import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** Lower-case, no trailing dot; the root is ''. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Validate a mail domain given by a user (RFC 5321 §4.1.2 Domain, RFC 1035 §2.3.4 limits).
 * U-labels are converted to A-labels. Returns the normalised name or undefined.
 */
export function parseMailDomain(input: string): string | undefined {
  const trimmed = input.trim().replace(/\.$/, '');
  if (!trimmed || trimmed.length > 253 || /[\s\[\]]/.test(trimmed)) return undefined;
  const ascii = /^[\x00-\x7f]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  if (!ascii || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2) return undefined; // a mail domain has at least two labels
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return undefined; // not an IP address
  return ascii;
}

/** The TLSA owner name for a host and port (RFC 6698 §3, RFC 7672 §2.2.3). */
export function tlsaOwner(host: string, port: number): string {
  return `_${port}._tcp.${host}`;
}

/**
 * An IP address literal as the inside of a next hop `[...]` (Postfix: `[192.0.2.1]`,
 * `[2001:db8::1]`; the RFC 5321 §4.1.3 tag `IPv6:` is accepted too). Returns the address in
 * canonical form (IPv6 compressed, lower case), or undefined when it is not an address.
 */
export function parseAddressLiteral(input: string): string | undefined {
  const bare = input.replace(/^ipv6:/i, '');
  const family = isIP(bare);
  if (family === 4) return bare === input ? bare : undefined;
  if (family !== 6 || bare.includes('%')) return undefined;
  try {
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** Is this host an IP address (a next hop given as an address literal)? */
export function isAddressLiteral(host: string): boolean {
  return isIP(host) !== 0;
}
