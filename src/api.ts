/**
 * The library API: `check` and `deliver` return the same results as the CLI's JSON — a
 * result per domain, never an exception for an expected outcome (the mailauth model).
 * Every call takes an AbortSignal; the resolver is injectable; `onEvent` sees each step.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { reportAnswer, type DnsReport } from './core/dns-report.js';
import { probeValidation, type ValidationProbe } from './dns/probe.js';
import { parseResolverSpec, systemResolverSpec } from './dns/resolv-conf.js';
import { IANA_ROOT_ANCHORS, type TrustAnchor } from './dns/dnssec/index.js';
import { resolverFor } from './dns/resolver-trust.js';
import type { DnsAnswer, LookupOptions, RDataOf, RecordType, Resolver } from './dns/types.js';
import { DaneSmtpError } from './errors.js';
import { LEVELS, emptyPolicyTable, type Level, type PolicyTable } from './policy/table.js';
import { isValidHeloName, isValidMailbox } from './smtp/message.js';
import { DEFAULT_LEVEL, INTEGER_SETTINGS, integerProblem, type IntegerSetting } from './settings.js';
import type { SmtpEvent } from './smtp/types.js';
import { groupRecipients } from './engine/recipients.js';
import { runAll, workFor, type Work } from './engine/run.js';
import type { DomainResult } from './core/result.js';

export type DeliveryEvent =
  | { type: 'probe'; probe: ValidationProbe }
  | { type: 'dns'; answer: DnsReport }
  | { type: 'smtp'; host: string; address: string; event: SmtpEvent }
  | { type: 'result'; result: DomainResult };

export interface ClientOptions {
  /** A Resolver of your own (tests, a ValidatingResolver); else one is made from `resolverAddress`. */
  resolver?: Resolver;
  /** "IP[:PORT]" of a validating resolver; default: the first nameserver of /etc/resolv.conf. */
  resolverAddress?: string;
  /**
   * Validate DNSSEC in process instead of trusting the resolver's AD bit (the CLI's
   * --validate): with the IANA root anchors shipped in the package (`true`), or with your
   * own (`parseTrustAnchors(text)`, the CLI's --trust-anchor). The resolver at
   * `resolverAddress` then only has to pass DNSSEC records through. Not with `resolver`.
   */
  validate?: boolean | readonly TrustAnchor[];
  /** SMTP port (TLSA at `_port._tcp`); default 25. */
  port?: number;
  /** EHLO name; default: this host name. */
  helo?: string;
  /** Deadline of each step in milliseconds; default 30000. */
  timeoutMs?: number;
  /** TLS level for destinations not in `policyTable`; default 'dane'. */
  level?: Level;
  policyTable?: PolicyTable;
  /** Trusted CAs (PEM) for the verify and secure levels; default: the system's store (docs/policy.md). */
  caCertificates?: string[];
  /** RFC 7672 §2.2.1 option. */
  daneWithInsecureMx?: boolean;
  /** Source address for SMTP connections. */
  localAddress?: string;
  concurrency?: number;
  signal?: AbortSignal;
  /** A logger hook: every DNS answer, every SMTP line and TLS event, every result. */
  onEvent?: (event: DeliveryEvent) => void;
}

function defaultResolver(o: ClientOptions): Resolver {
  const spec = o.resolverAddress ? parseResolverSpec(o.resolverAddress) : systemResolverSpec();
  if (!spec) throw new DaneSmtpError('USAGE', 'no nameserver in /etc/resolv.conf: pass resolverAddress or resolver');
  const anchors = o.validate ? (o.validate === true ? IANA_ROOT_ANCHORS : o.validate) : undefined;
  return resolverFor({ ...spec, timeoutMs: o.timeoutMs ?? INTEGER_SETTINGS.timeoutMs.default, ...(anchors ? { anchors } : {}) });
}

function observed(inner: Resolver, onEvent: ClientOptions['onEvent']): Resolver {
  if (!onEvent) return inner;
  return {
    validatesItself: inner.validatesItself === true,
    async lookup<K extends RecordType>(name: string, type: K, options?: LookupOptions): Promise<DnsAnswer<RDataOf[K]>> {
      const a = await inner.lookup(name, type, options);
      onEvent({ type: 'dns', answer: reportAnswer(a) });
      return a;
    },
  };
}

/**
 * The resolver a call with these options uses: `resolver`, else one made from
 * `resolverAddress` or /etc/resolv.conf (validating in process with `validate`); seen by `onEvent`.
 */
function clientResolver(o: ClientOptions): Resolver {
  return observed(o.resolver ?? defaultResolver(o), o.onEvent);
}

/**
 * The validation probe of the resolver that check and deliver would use with these options
 * (the nodemailer transport's verify()), and whether that resolver validates DNSSEC itself.
 * Bad options: DaneSmtpError USAGE; an abort: ABORTED.
 */
export async function probeClientResolver(options: ClientOptions): Promise<{ probe: ValidationProbe; selfValidating: boolean }> {
  validateOptions(options);
  const o: ClientOptions = options.onEvent ? { ...options, onEvent: guardedHook(options.onEvent) } : options;
  const resolver = clientResolver(o);
  const probe = await probeValidation(resolver, o.signal);
  o.onEvent?.({ type: 'probe', probe });
  return { probe, selfValidating: resolver.validatesItself === true };
}

/** Bad arguments are programming errors: DaneSmtpError('USAGE'), before anything is sent. */
function validateOptions(o: ClientOptions): void {
  const bad = (what: string) => {
    throw new DaneSmtpError('USAGE', what);
  };
  if (o.level !== undefined && !(LEVELS as readonly string[]).includes(o.level)) bad(`level must be one of ${LEVELS.join(', ')}, not ${JSON.stringify(o.level)}`);
  const integer = (setting: IntegerSetting, value: number | undefined) => {
    const problem = value === undefined ? undefined : integerProblem(setting, value);
    if (problem) bad(`${setting} ${problem}, not ${JSON.stringify(value)}`);
  };
  if (o.validate !== undefined && o.validate !== false) {
    if (o.resolver) bad('validate and resolver exclude each other: pass a ValidatingResolver as resolver, or validate with resolverAddress');
    if (o.validate !== true && (!Array.isArray(o.validate) || o.validate.length === 0)) bad('validate must be true or a non-empty array of trust anchors (parseTrustAnchors)');
  }
  if (o.level === 'fingerprint') bad("level 'fingerprint' needs fingerprints: give it per destination in policyTable (match=...)");
  integer('port', o.port);
  integer('timeoutMs', o.timeoutMs);
  integer('concurrency', o.concurrency);
  if (o.localAddress !== undefined && isIP(o.localAddress) === 0) bad(`localAddress must be an IP address, not ${JSON.stringify(o.localAddress)}`);
  const helo = o.helo ?? hostname();
  if (!isValidHeloName(helo)) bad(`${o.helo === undefined ? 'this host name' : 'helo'} ${JSON.stringify(helo)} is not a valid EHLO name: pass helo`);
}

/**
 * The caller's hook must not change what happens to the mail: an exception thrown by it
 * is reported once as a process warning and otherwise ignored (a hook that throws after
 * the server accepted the message must not turn a delivery into a deferral and a resend).
 */
function guardedHook(onEvent: NonNullable<ClientOptions['onEvent']>): NonNullable<ClientOptions['onEvent']> {
  let warned = false;
  return (event) => {
    try {
      onEvent(event);
    } catch (e) {
      if (!warned) {
        warned = true;
        process.emitWarning(`onEvent hook threw and was ignored: ${e instanceof Error ? e.message : String(e)}`, 'DaneSmtpWarning');
      }
    }
  };
}

async function run(works: Work[], options: ClientOptions): Promise<DomainResult[]> {
  validateOptions(options);
  const o: ClientOptions = options.onEvent ? { ...options, onEvent: guardedHook(options.onEvent) } : options;
  const resolver = clientResolver(o);
  const results = await runAll(works, {
    resolver,
    port: o.port ?? INTEGER_SETTINGS.port.default,
    helo: o.helo ?? hostname(),
    timeoutMs: o.timeoutMs ?? INTEGER_SETTINGS.timeoutMs.default,
    concurrency: o.concurrency ?? INTEGER_SETTINGS.concurrency.default,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.caCertificates ? { caCertificates: o.caCertificates } : {}),
    ...(o.daneWithInsecureMx ? { daneWithInsecureMx: true } : {}),
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    ...(o.onEvent
      ? {
          onProbe: (probe: ValidationProbe) => o.onEvent!({ type: 'probe', probe }),
          onEvent: (host: string, address: string, event: SmtpEvent) => o.onEvent!({ type: 'smtp', host, address, event }),
          onResult: (result: DomainResult) => o.onEvent!({ type: 'result', result }),
        }
      : {}),
  });
  // Results in the order asked.
  return works.map((w) => results.find((r) => r.domain === w.domain)!);
}

/**
 * Check one destination as delivery would, then QUIT without sending: a mail domain, or a
 * fixed next hop `[host]`, `[host]:port`, `[192.0.2.1]:port` (no MX lookup).
 */
export async function check(destination: string, options: ClientOptions = {}): Promise<DomainResult> {
  if (typeof destination !== 'string') throw new DaneSmtpError('USAGE', 'the destination must be a string');
  const work = workFor(destination, options.policyTable ?? emptyPolicyTable(), options.level ?? DEFAULT_LEVEL, { kind: 'probe' });
  const [result] = await run([work], options);
  return result!;
}

export interface DeliverOptions extends ClientOptions {
  from: string;
  to: string[];
  /**
   * A fixed next hop (a relay) for every recipient, `[host]`, `[host]:port` or
   * `[192.0.2.1]:port`, instead of each domain's MX hosts: one transaction, one result.
   */
  nexthop?: string;
}

/**
 * Deliver one message to every recipient's domain (one transaction per domain). Each
 * result carries `recipients` with delivered / deferred / bounced.
 */
export async function deliver(message: Buffer | string, options: DeliverOptions): Promise<DomainResult[]> {
  const { from, to } = options;
  if (from !== '' && !isValidMailbox(from)) throw new DaneSmtpError('USAGE', `not a valid sender address: '${from}'`);
  if (!Array.isArray(to) || to.length === 0) throw new DaneSmtpError('USAGE', 'to must be a non-empty array of addresses');
  const byDomain = groupRecipients(to, (rcpt) => {
    throw new DaneSmtpError('USAGE', `not a valid recipient address: '${rcpt}'`);
  });
  validateOptions(options);
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const table = options.policyTable ?? emptyPolicyTable();
  const level = options.level ?? DEFAULT_LEVEL;
  if (options.nexthop !== undefined) {
    if (typeof options.nexthop !== 'string' || !options.nexthop.startsWith('[')) throw new DaneSmtpError('USAGE', `nexthop must be [host] or [host]:port, not ${JSON.stringify(options.nexthop)}`);
    return run([workFor(options.nexthop, table, level, { kind: 'send', envelope: { from, to: [...byDomain.values()].flat(), message: body } })], options);
  }
  const works: Work[] = [...byDomain].map(([domain, rcpts]) => workFor(domain, table, level, { kind: 'send', envelope: { from, to: rcpts, message: body } }));
  return run(works, options);
}

export { probeValidation };

