/**
 * An in-memory "recursive resolver" for DNSSEC tests, on test/support/dns-server.ts: it
 * holds every zone of a test hierarchy (root, TLD, children) and answers any question from
 * the deepest zone that has the name (DS from the parent side), the way a recursive
 * resolver with DO and CD would: the RRsets with their RRSIGs, CNAME chains followed
 * across zones, wildcard expansions, and NSEC/NSEC3 proofs in the authority section for
 * NXDOMAIN, NODATA and wildcards. Faults can be switched on to play a broken or hostile
 * upstream. It never sets AD unless told to (the validator must ignore it anyway).
 */
import type dnsPacket from 'dns-packet';
import { compareNames, isSubdomain, lastLabels, nameLabelCount, nameWire, parentName, wildcardOf } from '../../src/dns/dnssec/canonical.js';
import { nsec3OwnerLabel } from '../../src/dns/dnssec/nsec.js';
import { base32hexDecode, parseNsec, parseNsec3, parseRrsig, T, type RawRecord } from '../../src/dns/dnssec/wire-dnssec.js';
import { startDnsServer, type ScriptedDnsServer } from './dns-server.js';
import type { BuiltZone } from './dnssec-zones.js';

interface Zone {
  apex: string;
  /** name -> type -> RRs (RRSIGs under their own type 46). */
  nodes: Map<string, Map<number, RawRecord[]>>;
  /** All owner names (without NSEC3 owners), for empty non-terminals and closest enclosers. */
  names: string[];
  nsec: Array<{ owner: string; next: string; rr: RawRecord }>;
  nsec3: Array<{ owner: string; hash: Buffer; next: Buffer; rr: RawRecord }>;
  nsec3Param?: { salt: Buffer; iterations: number };
}

export interface Faults {
  /** Remove every RRSIG, NSEC and NSEC3 (a resolver or middlebox that strips DNSSEC). */
  stripDnssec?: boolean;
  /** Remove the RRSIGs covering answer RRs for these questions (a forged, unsigned answer). */
  unsignedAnswer?: (qname: string, qtype: number) => boolean;
  /** Remove NSEC/NSEC3 records from the authority section for these questions. */
  dropProof?: (qname: string, qtype: number) => boolean;
  /** Change the A records of the answer (keeping the RRSIGs): a forged answer. */
  forgeA?: (qname: string) => string | undefined;
  /** Answer SERVFAIL to everything. */
  servfail?: boolean;
  /** Set the AD bit on every answer. */
  ad?: boolean;
  /** Do not follow CNAMEs into other zones (a resolver or forwarder that leaves the chain to the client). */
  noChase?: boolean;
  /** Rewrite the signer name of the answer's RRSIGs (the signature bytes stay): a claimed other zone. */
  answerSigner?: (qname: string) => string | undefined;
  /** Truncate every UDP answer (TC=1), so that the client retries over TCP. */
  truncateUdp?: boolean;
  /** Send every answer this many milliseconds late (a slow upstream). */
  delayMs?: number;
  /** Hold the answer to these questions until the returned promise settles. */
  hold?: (qname: string, qtype: number) => Promise<void> | undefined;
  /** Give every RR of the answer section this TTL (e.g. above the RRSIG's original TTL). */
  answerTtl?: number;
}

export interface Reply {
  rcode: number;
  answers: RawRecord[];
  authorities: RawRecord[];
}

function rrKey(r: RawRecord): string {
  return `${r.name}|${r.type}|${r.rdata.toString('hex')}`;
}

function buildZone(z: BuiltZone): Zone {
  const nodes = new Map<string, Map<number, RawRecord[]>>();
  const zone: Zone = { apex: z.name, nodes, names: [], nsec: [], nsec3: [] };
  for (const r of z.records) {
    if (r.type === T.NSEC3) {
      const d = parseNsec3(r.rdata);
      const hash = base32hexDecode(r.name.split('.')[0]!)!;
      zone.nsec3.push({ owner: r.name, hash, next: d.nextHashed, rr: r });
      zone.nsec3Param ??= { salt: d.salt, iterations: d.iterations };
    }
    const types = nodes.get(r.name) ?? new Map<number, RawRecord[]>();
    nodes.set(r.name, types);
    const list = types.get(r.type) ?? [];
    list.push(r);
    types.set(r.type, list);
    if (r.type === T.NSEC) zone.nsec.push({ owner: r.name, next: parseNsec(r.rdata).next, rr: r });
  }
  const nsec3Owners = new Set(zone.nsec3.map((n) => n.owner));
  zone.names = [...nodes.keys()].filter((n) => !nsec3Owners.has(n));
  return zone;
}

export class DnssecUpstream {
  readonly zones = new Map<string, Zone>();
  faults: Faults = {};
  server: ScriptedDnsServer | undefined;
  /** Questions received, `name|TYPE` (TYPE as a number). */
  readonly log: string[] = [];

  constructor(zones: BuiltZone[]) {
    for (const z of zones) this.zones.set(z.name, buildZone(z));
  }

  async start(): Promise<{ server: string; port: number }> {
    this.server = await startDnsServer((q, transport) => this.handle(q, transport));
    return { server: this.server.address, port: this.server.port };
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  /** Deepest zone holding `name`; DS questions go to the parent side of a cut. */
  private zoneFor(name: string, qtype: number): Zone | undefined {
    let best: Zone | undefined;
    for (const z of this.zones.values()) {
      if (!isSubdomain(name, z.apex)) continue;
      if (qtype === T.DS && name === z.apex && name !== '') continue;
      if (!best || nameLabelCount(z.apex) > nameLabelCount(best.apex)) best = z;
    }
    return best;
  }

  private rrs(z: Zone, name: string, type: number): RawRecord[] {
    return z.nodes.get(name)?.get(type) ?? [];
  }

  private sigs(z: Zone, name: string, covered: number): RawRecord[] {
    return this.rrs(z, name, T.RRSIG).filter((r) => parseRrsig(r.rdata).typeCovered === covered);
  }

  private withSigs(z: Zone, name: string, type: number): RawRecord[] {
    return [...this.rrs(z, name, type), ...this.sigs(z, name, type)];
  }

  private exists(z: Zone, name: string): boolean {
    return z.names.some((n) => isSubdomain(n, name));
  }

  private nsecMatch(z: Zone, name: string): RawRecord[] {
    const m = z.nsec.find((n) => n.owner === name);
    return m ? this.withSigs(z, m.owner, T.NSEC) : [];
  }

  private nsecCover(z: Zone, name: string): RawRecord[] {
    const c = z.nsec.find((n) => {
      const after = compareNames(n.owner, name) < 0;
      return compareNames(n.next, n.owner) <= 0 ? after : after && compareNames(name, n.next) < 0;
    });
    return c ? this.withSigs(z, c.owner, T.NSEC) : [];
  }

  private n3(z: Zone, name: string, mode: 'match' | 'cover'): RawRecord[] {
    const p = z.nsec3Param;
    if (!p) return [];
    const label = nsec3OwnerLabel(name, p.salt, p.iterations);
    const h = base32hexDecode(label)!;
    const r = z.nsec3.find((n) => {
      if (mode === 'match') return n.hash.equals(h);
      if (Buffer.compare(n.hash, n.next) < 0) return Buffer.compare(n.hash, h) < 0 && Buffer.compare(h, n.next) < 0;
      return Buffer.compare(n.hash, h) < 0 || Buffer.compare(h, n.next) < 0;
    });
    return r ? this.withSigs(z, r.owner, T.NSEC3) : [];
  }

  private closestEncloser(z: Zone, name: string): string {
    for (let n = nameLabelCount(name) - 1; n > nameLabelCount(z.apex); n--) {
      const a = lastLabels(name, n);
      if (this.exists(z, a)) return a;
    }
    return z.apex;
  }

  /** Proof that `name` does not exist, and (when `wildcard`) that *.ce does not either. */
  private nxProof(z: Zone, name: string, ce: string, wildcardToo: boolean): RawRecord[] {
    if (z.nsec.length) {
      return [...this.nsecCover(z, name), ...(wildcardToo ? this.nsecCover(z, wildcardOf(ce)) : [])];
    }
    const nc = lastLabels(name, nameLabelCount(ce) + 1);
    return [...this.n3(z, ce, 'match'), ...this.n3(z, nc, 'cover'), ...(wildcardToo ? this.n3(z, wildcardOf(ce), 'cover') : [])];
  }

  private soa(z: Zone): RawRecord[] {
    return this.withSigs(z, z.apex, T.SOA);
  }

  /** The answer a validating-agnostic recursive resolver would give. */
  resolve(qname: string, qtype: number): Reply {
    const reply: Reply = { rcode: 0, answers: [], authorities: [] };
    let name = qname;
    for (let hops = 0; hops < 12; hops++) {
      const z = this.zoneFor(name, qtype);
      if (!z) return { rcode: 2, answers: [], authorities: [] };
      // DNAME above the name (RFC 6672 §3.2): the DNAME with its RRSIGs, an unsigned CNAME.
      const dnameOwner = z.names.find((n) => n !== name && isSubdomain(name, n) && z.nodes.get(n)?.has(T.DNAME));
      if (dnameOwner !== undefined && qtype !== T.DNAME) {
        const dname = z.nodes.get(dnameOwner)!.get(T.DNAME)![0]!;
        const target = parseTargetName(dname);
        const next = `${name.slice(0, name.length - dnameOwner.length - 1)}${target ? `.${target}` : ''}`;
        reply.answers.push(...this.withSigs(z, dnameOwner, T.DNAME), { name, type: T.CNAME, class: 1, ttl: dname.ttl, rdata: nameWire(next) });
        name = next;
        continue;
      }
      const node = z.nodes.get(name);
      const isNsec3Owner = z.nsec3.some((n) => n.owner === name);
      if (node && !isNsec3Owner) {
        if (node.has(qtype)) {
          reply.answers.push(...this.withSigs(z, name, qtype));
          return reply;
        }
        const cname = node.get(T.CNAME);
        if (cname && qtype !== T.CNAME) {
          reply.answers.push(...this.withSigs(z, name, T.CNAME));
          const target = parseTargetName(cname[0]!);
          if (this.faults.noChase && this.zoneFor(target, qtype) !== z) return reply;
          name = target;
          continue;
        }
        reply.authorities.push(...this.soa(z), ...(z.nsec.length ? this.nsecMatch(z, name) : this.n3(z, name, 'match')));
        return reply;
      }
      if (this.exists(z, name)) {
        // Empty non-terminal.
        reply.authorities.push(...this.soa(z), ...(z.nsec.length ? this.nsecCover(z, name) : this.n3(z, name, 'match')));
        return reply;
      }
      const ce = this.closestEncloser(z, name);
      const wc = wildcardOf(ce);
      const wnode = z.nodes.get(wc);
      if (wnode) {
        const proof = z.nsec.length ? this.nsecCover(z, name) : this.n3(z, lastLabels(name, nameLabelCount(ce) + 1), 'cover');
        const synth = (type: number) => this.withSigs(z, wc, type).map((r) => ({ ...r, name }));
        if (wnode.has(qtype)) {
          reply.answers.push(...synth(qtype));
          reply.authorities.push(...proof);
          return reply;
        }
        const cname = wnode.get(T.CNAME);
        if (cname && qtype !== T.CNAME) {
          reply.answers.push(...synth(T.CNAME));
          reply.authorities.push(...proof);
          name = parseTargetName(cname[0]!);
          continue;
        }
        // Wildcard NODATA.
        reply.authorities.push(...this.soa(z), ...proof, ...(z.nsec.length ? this.nsecMatch(z, wc) : [...this.n3(z, ce, 'match'), ...this.n3(z, wc, 'match')]));
        return reply;
      }
      reply.rcode = 3;
      reply.authorities.push(...this.soa(z), ...this.nxProof(z, name, ce, true));
      return reply;
    }
    return { rcode: 2, answers: [], authorities: [] };
  }

  private handle(q: dnsPacket.DecodedPacket, transport: 'udp' | 'tcp'): Buffer | null | Promise<Buffer | null> {
    const question = q.questions?.[0];
    if (!question) return null;
    const qname = question.name.toLowerCase().replace(/\.$/, '');
    const qtype = typeNumber(question.type);
    this.log.push(`${qname}|${qtype}`);
    const f = this.faults;
    const msg = this.respond(q, question, qname, qtype, transport);
    const waits: Promise<unknown>[] = [];
    if (f.delayMs) waits.push(new Promise((r) => setTimeout(r, f.delayMs)));
    const held = f.hold?.(qname, qtype);
    if (held) waits.push(held);
    return waits.length ? Promise.all(waits).then(() => msg) : msg;
  }

  private respond(q: dnsPacket.DecodedPacket, question: dnsPacket.Question, qname: string, qtype: number, transport: 'udp' | 'tcp'): Buffer {
    const f = this.faults;
    let reply: Reply = f.servfail ? { rcode: 2, answers: [], authorities: [] } : this.resolve(qname, qtype);
    const dedupe = (list: RawRecord[]) => {
      const seen = new Set<string>();
      return list.filter((r) => !seen.has(rrKey(r)) && seen.add(rrKey(r)));
    };
    reply = { ...reply, answers: dedupe(reply.answers), authorities: dedupe(reply.authorities) };
    if (f.unsignedAnswer?.(qname, qtype)) reply.answers = reply.answers.filter((r) => r.type !== T.RRSIG);
    if (f.dropProof?.(qname, qtype)) reply.authorities = reply.authorities.filter((r) => r.type !== T.NSEC && r.type !== T.NSEC3 && !(r.type === T.RRSIG && [T.NSEC, T.NSEC3].includes(parseRrsig(r.rdata).typeCovered as 47 | 50)));
    const signer = f.answerSigner?.(qname);
    if (signer !== undefined) {
      reply.answers = reply.answers.map((r) => {
        if (r.type !== T.RRSIG) return r;
        const s = parseRrsig(r.rdata);
        return { ...r, rdata: Buffer.concat([r.rdata.subarray(0, 18), nameWire(signer), s.signature]) };
      });
    }
    if (f.answerTtl !== undefined) reply.answers = reply.answers.map((r) => ({ ...r, ttl: f.answerTtl! }));
    const forged = f.forgeA?.(qname);
    if (forged) {
      reply.answers = reply.answers.map((r) => (r.type === T.A ? { ...r, rdata: Buffer.from(forged.split('.').map(Number)) } : r));
    }
    if (f.stripDnssec) {
      const dnssec = (r: RawRecord) => r.type === T.RRSIG || r.type === T.NSEC || r.type === T.NSEC3;
      reply.answers = reply.answers.filter((r) => !dnssec(r));
      reply.authorities = reply.authorities.filter((r) => !dnssec(r));
    }
    const msg = encodeResponse(q.id ?? 0, question.name, qtype, reply, !!f.ad, false);
    if (transport === 'udp' && (msg.length > 1232 || f.truncateUdp)) return encodeResponse(q.id ?? 0, question.name, qtype, { rcode: reply.rcode, answers: [], authorities: [] }, !!f.ad, true);
    return msg;
  }
}

function parseTargetName(r: RawRecord): string {
  // CNAME RDATA is one uncompressed name in canonical form.
  const labels: string[] = [];
  for (let p = 0; r.rdata[p]! !== 0; p += 1 + r.rdata[p]!) labels.push(r.rdata.subarray(p + 1, p + 1 + r.rdata[p]!).toString('latin1'));
  return labels.join('.');
}

const TYPES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, TLSA: 52 };

function typeNumber(t: string | number): number {
  if (typeof t === 'number') return t;
  if (Object.hasOwn(TYPES, t)) return TYPES[t]!;
  const m = /^(?:TYPE|UNKNOWN_)(\d+)$/.exec(t);
  return m ? Number(m[1]) : 0;
}

/** A response message with uncompressed names, EDNS0 with DO, RD RA, and optionally AD/TC. */
export function encodeResponse(id: number, qname: string, qtype: number, reply: Reply, ad: boolean, tc: boolean): Buffer {
  const name = qname.replace(/\.$/, '');
  const qn = nameWire(name);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x8000 | 0x0100 | 0x0080 | (ad ? 0x20 : 0) | (tc ? 0x200 : 0) | (reply.rcode & 0xf), 2);
  const answers = tc ? [] : reply.answers;
  const auth = tc ? [] : reply.authorities;
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  head.writeUInt16BE(auth.length, 8);
  head.writeUInt16BE(1, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(1, 2);
  const rr = (r: RawRecord) => {
    const h = Buffer.alloc(10);
    h.writeUInt16BE(r.type, 0);
    h.writeUInt16BE(r.class, 2);
    h.writeUInt32BE(r.ttl >>> 0, 4);
    h.writeUInt16BE(r.rdata.length, 8);
    return Buffer.concat([nameWire(r.name), h, r.rdata]);
  };
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
  return Buffer.concat([head, qn, q, ...answers.map(rr), ...auth.map(rr), opt]);
}

export { parentName };
