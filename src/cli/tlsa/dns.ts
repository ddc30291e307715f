/**
 * DNS for `dane-smtp tlsa --connect`: the resolver, set up as check and send set theirs up
 * (src/dns/resolver-trust.ts: the AD bit, or --validate / --trust-anchor), the addresses of
 * the --connect host and, for --verify, the TLSA base domain (RFC 7672 §2.2.2, chosen by
 * engine/host-plan.ts findTlsaBase as for check and send) and its TLSA RRset.
 */
import { probeValidation } from '../../dns/probe.js';
import { anchorsBelowRootWarning, remoteResolverWarning, resolverFor, resolverTrust, trustedView, type ResolverTrust } from '../../dns/resolver-trust.js';
import type { DnsAnswer, TlsaData } from '../../dns/types.js';
import { findTlsaBase } from '../../engine/host-plan.js';
import { hostAddresses, type AddressResolver, type HostAddresses } from '../../tools/tlsa/connect.js';
import { ownerName } from '../../tools/tlsa/records.js';
import { hostPort } from '../../tools/tlsa/render.js';
import { addressAnswersForBase, describeTlsaBase, givenTlsaBase, tlsaNotLookedUp, type TlsaBaseReport } from '../../tools/tlsa/verify.js';
import { resolverSpec } from '../options.js';
import type { TlsaIo } from './io.js';
import type { ConnectSpec } from './options.js';
import type { Target, TlsaSettings } from './settings.js';

/** The resolver of --verify (or --resolver) and what its probe found. */
export interface ResolverSetup {
  /** "127.0.0.1:53" ('' when there is none). */
  text: string;
  /** --verify: the probe, for `resolver` in the JSON report. */
  probe?: { address: string; port: number; validates: boolean; reason: string; trust: ResolverTrust };
  /** For the TLSA RRset and the host's addresses; none when unconfigured or unreachable. */
  lookup?: AddressResolver;
  /** Why the resolver cannot be used: it did not answer the probe. */
  down?: string;
  /** --verify: how far its answers are trusted (RFC 7672 §2.1). */
  trust?: ResolverTrust;
}

/**
 * --verify looks the TLSA RRset and the addresses of the --connect host up with one resolver
 * (--resolver, else the first nameserver of resolv.conf), as a sending MTA does; generating
 * records from a host name uses --resolver when given, else the system resolver.
 */
async function setUpResolver(s: TlsaSettings, io: TlsaIo): Promise<ResolverSetup> {
  if (!s.verify && s.resolver === undefined) return { text: '' };
  const spec = resolverSpec(s.resolver, io.resolvConf);
  const text = hostPort(spec.address, spec.port);
  const config = { ...spec, timeoutMs: s.timeoutMs, ...(s.verify && s.anchors ? { anchors: s.anchors } : {}) };
  const upstream = resolverFor(config);
  if (!s.verify) return { text, lookup: { resolver: upstream, text, validates: false } };
  const remote = remoteResolverWarning(config);
  if (remote) s.warnings.push(remote);
  const p = await probeValidation(upstream);
  const trust = resolverTrust(upstream, p);
  const probe = { address: spec.address, port: spec.port, validates: p.validates, reason: p.reason, trust };
  if (!p.reachable) {
    s.warnings.push(`${p.reason}: no TLSA lookup`);
    if (config.anchors && !p.unreachable) {
      s.warnings.push('with --validate or --trust-anchor the root zone must validate from the given anchors: check the anchor file (it must match the DNS the resolver serves) and that the resolver passes DNSSEC records through');
    }
    return { text, probe, down: p.reason, trust };
  }
  if (trust === 'untrusted') s.warnings.push(`${p.reason}: its AD bit is not trusted, every answer counts as insecure at best (RFC 7672 §2.1)`);
  if (trust === 'self-validating' && !p.validates) s.warnings.push(...anchorsBelowRootWarning(p));
  return { text, probe, lookup: { resolver: trustedView(upstream, trust), text, validates: trust !== 'untrusted' }, trust };
}

/** What DNS says about the --connect host: its addresses and, for --verify, the TLSA RRset. */
export interface ServerDns extends Target {
  /** The SNI name: --sni, else the TLSA base domain. */
  sni: string;
  resolver: ResolverSetup;
  hostAddrs: HostAddresses;
  /** --verify: the TLSA RRset (a stand-in without records when it was not looked up). */
  answer?: DnsAnswer<TlsaData>;
  /** --verify: how the TLSA base domain was chosen. */
  baseReport?: TlsaBaseReport;
  /** Why no TLSA lookup is done (DANE does not apply); the verdict when set. */
  noTlsa?: string;
}

/**
 * The resolver, the addresses of the --connect host and (--verify) its TLSA RRset.
 *
 * --verify --connect HOST (no --host): the TLSA base domain is the one a sending MTA uses
 * (RFC 7672 §2.2.2, findTlsaBase): the CNAME-expanded name first when the address records
 * are secure, the original name when only the first CNAME is secure, none when they are
 * insecure (DANE does not apply). It is then the default SNI and the DANE-TA reference
 * identifier (RFC 7672 §2.2.3, §3.2.2).
 */
export async function lookUpServer(s: TlsaSettings, connect: ConnectSpec, io: TlsaIo): Promise<ServerDns> {
  const resolver = await setUpResolver(s, io);
  const addressResolver = resolver.lookup;
  const resolveHost = (name: string) => io.resolveHost(name);
  let host = s.host;
  const port = s.port;
  const selectBase = s.verify && !connect.isAddress && !s.hostGiven;
  let hostAddrs: HostAddresses | undefined;
  let tlsaAnswer: DnsAnswer<TlsaData> | undefined;
  let baseReport: TlsaBaseReport | undefined;
  let noTlsa: string | undefined;
  if (selectBase && addressResolver) {
    hostAddrs = await hostAddresses(connect, addressResolver, resolveHost, false);
    const { answered, warning } = addressAnswersForBase(host, hostAddrs.answers ?? []);
    if (warning) s.warnings.push(warning);
    if (hostAddrs.addresses.length > 0 && answered.length > 0) {
      const chosen = describeTlsaBase(host, port, await findTlsaBase(addressResolver.resolver, host, answered, port));
      baseReport = chosen.report;
      tlsaAnswer = chosen.answer;
      noTlsa = chosen.noTlsa;
      if (chosen.report.base) host = chosen.report.base;
    }
  }
  if (!baseReport) {
    const qname = ownerName(host, port).slice(0, -1);
    const [t, h] = await Promise.all([
      s.verify && addressResolver ? addressResolver.resolver.lookup(qname, 'TLSA') : undefined,
      hostAddrs
        ? hostAddrs
        : resolver.down && !connect.isAddress
          ? (Promise.resolve({ addresses: [], source: resolver.text, errors: [`cannot resolve ${connect.host}: ${resolver.down}`], warnings: [] }) as Promise<HostAddresses>)
          : hostAddresses(connect, addressResolver, resolveHost, !s.verify || !selectBase),
    ]);
    tlsaAnswer = t;
    hostAddrs = h;
    if (s.verify) baseReport = givenTlsaBase(host, port, selectBase ? 'addresses-unknown' : s.hostGiven ? 'host-option' : 'address-connect', t);
  }
  // Set on both paths above: by the base selection, or by the lookup after it.
  const addrs = hostAddrs!;
  const owner = ownerName(host, port);
  const qname = owner.slice(0, -1);
  let answer: DnsAnswer<TlsaData> | undefined;
  if (s.verify) answer = tlsaAnswer ?? tlsaNotLookedUp(qname, noTlsa ? { daneDoesNotApply: true } : { failed: resolver.down ?? 'no resolver' });
  s.warnings.push(...addrs.warnings);
  return { host, owner, sni: s.sni ?? host, resolver, hostAddrs: addrs, answer, baseReport, noTlsa };
}
