/**
 * The names the documentation uses, published in the lab so that every example in README.md
 * and docs/*.md runs as written (docs-examples.test.ts): `example.org`, `example.com` and
 * `example.net` under lab TLDs `org`, `com` and `net` of the lab's own root (world.ts builds
 * one signed zone per TLD a scenario zone is under). They are not lab scenarios: `npm run
 * lab` and the other lab tests do not use them, and the scenario counts do not include them.
 *
 *   example.org  signed, MX 10 mx.example.org, `3 1 1` of its key and `3 1 1` of the next
 *                key (not served yet: rollover slack, RFC 7671 §8.1)  → dane-authenticated
 *   example.com  signed, MX 10 mail.example.com, `2 1 1` of its issuing intermediate
 *                (DANE-TA, served with the leaf)                    → dane-authenticated
 *   example.net  unsigned (insecure delegation), MX 10 mx.example.net, STARTTLS offered
 *                                                                   → opportunistic
 */
import type { RecordSpec, Scenario } from './scenarios.js';

const mx = (owner: string, preference: number, exchange: string): RecordSpec => ({ owner, type: 'MX', preference, exchange });
const a = (owner: string): RecordSpec => ({ owner, type: 'A', host: owner });
const tlsa = (host: string, usage: number, selector: number, matchingType: number, cert?: 'intermediate' | 'unserved'): RecordSpec => ({
  owner: `_25._tcp.${host}`,
  type: 'TLSA',
  usage,
  selector,
  matchingType,
  from: { host, ...(cert ? { cert } : {}) },
});

export const docDomains: Scenario[] = [
  {
    domain: 'example.org',
    description: 'documentation example: DANE-EE 3 1 1 of the MX host key, and of the next key → dane-authenticated',
    expect: { verdict: 'dane-authenticated', hosts: ['mx.example.org'], sni: 'mx.example.org' },
    zones: [{ name: 'example.org', signing: 'ecdsa-nsec', records: [mx('example.org', 10, 'mx.example.org'), a('mx.example.org'), tlsa('mx.example.org', 3, 1, 1), tlsa('mx.example.org', 3, 1, 1, 'unserved')] }],
    hosts: [{ name: 'mx.example.org' }],
  },
  {
    domain: 'example.com',
    description: 'documentation example: DANE-TA 2 1 1 of the served intermediate → dane-authenticated',
    expect: { verdict: 'dane-authenticated', hosts: ['mail.example.com'], sni: 'mail.example.com' },
    zones: [
      {
        name: 'example.com',
        signing: 'rsa-nsec3',
        records: [mx('example.com', 10, 'mail.example.com'), a('mail.example.com'), tlsa('mail.example.com', 2, 1, 1, 'intermediate')],
      },
    ],
    hosts: [{ name: 'mail.example.com' }],
  },
  {
    domain: 'example.net',
    description: 'documentation example: an unsigned zone (insecure delegation), STARTTLS offered → opportunistic',
    expect: { verdict: 'opportunistic', hosts: ['mx.example.net'] },
    zones: [{ name: 'example.net', signing: 'unsigned', records: [mx('example.net', 10, 'mx.example.net'), a('mx.example.net')] }],
    hosts: [{ name: 'mx.example.net' }],
  },
];
