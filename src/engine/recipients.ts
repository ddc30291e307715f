import { parseMailDomain } from '../dns/names.js';
import { domainOf, isValidMailbox } from '../smtp/message.js';

/**
 * Recipients grouped by their normalised domain, each address once: the domain part is
 * compared case-insensitively (RFC 5321 §2.4), the local part as written.
 */
export function groupRecipients(to: readonly string[], invalid: (address: string) => never): Map<string, string[]> {
  const byDomain = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const rcpt of to) {
    const domain = isValidMailbox(rcpt) ? parseMailDomain(domainOf(rcpt) ?? '') : undefined;
    if (!domain) invalid(rcpt);
    const key = `${rcpt.slice(0, rcpt.lastIndexOf('@'))}@${domain}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = byDomain.get(domain!) ?? [];
    list.push(rcpt);
    byDomain.set(domain!, list);
  }
  return byDomain;
}
