/**
 * The scanner's input: one mail domain per line. `#` starts a comment (whole line or after
 * the domain); blank lines are skipped; a line that is not one mail domain is reported and
 * counted, never fatal. Duplicates are checked once.
 */
import { parseMailDomain } from '../dns/names.js';

export interface MalformedLine {
  /** 1-based line number. */
  line: number;
  text: string;
  reason: string;
}

export interface DomainList {
  /** Normalised (lower-case A-label, no trailing dot), first occurrence order, no duplicates. */
  domains: string[];
  malformed: MalformedLine[];
  /** Lines naming a domain already listed. */
  duplicates: number;
}

export function parseDomainList(text: string): DomainList {
  const domains: string[] = [];
  const seen = new Set<string>();
  const malformed: MalformedLine[] = [];
  let duplicates = 0;
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const content = (hash >= 0 ? raw.slice(0, hash) : raw).replace(/^\uFEFF/, '').trim();
    if (content === '') return;
    const line = i + 1;
    const shown = raw.trim().slice(0, 200);
    if (/\s/.test(content)) {
      malformed.push({ line, text: shown, reason: 'more than one word on the line (one domain per line)' });
      return;
    }
    const domain = parseMailDomain(content);
    if (!domain) {
      const reason = /^[a-z][a-z0-9+.-]*:\/\//i.test(content) || /^[^/]+\.[^/]+\//.test(content)
        ? 'a URL, not a domain'
        : content.includes('@')
          ? 'an address, not a domain'
          : content.includes(',') || content.includes(';')
            ? 'not a mail domain (a CSV line? one domain per line)'
            : 'not a mail domain';
      malformed.push({ line, text: shown, reason });
      return;
    }
    if (seen.has(domain)) {
      duplicates++;
      return;
    }
    seen.add(domain);
    domains.push(domain);
  });
  return { domains, malformed, duplicates };
}
