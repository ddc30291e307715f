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
