/**
 * Short forms for the policy table tests (test/unit/policy/): parse a table, look a domain or a fixed next hop up, fingerprints.
 */
import { lookupPolicy, parsePolicyTable, type Level, type PolicyTable } from '../../src/policy/table.js';

export const parse = (text: string) => parsePolicyTable(text, 'tls_policy');

export const dom = (table: PolicyTable, domain: string, def: Level = 'dane') => lookupPolicy(table, { kind: 'domain', domain }, def);

export const hop = (table: PolicyTable, host: string, port?: number) => lookupPolicy(table, port ? { kind: 'nexthop', host, port } : { kind: 'nexthop', host }, 'dane');

export const colons = (hex: string) => hex.replace(/(..)(?!$)/g, '$1:');

export const FP256 = 'ab'.repeat(32);

export const FP512 = 'cd'.repeat(64);
