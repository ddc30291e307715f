/**
 * A nodemailer transport: `nodemailer.createTransport(daneTransport(options))` delivers
 * straight to each recipient domain's MX hosts with DANE, grouping recipients by domain.
 * Written against nodemailer's transport interface (name, version, send(mail, callback),
 * verify, close), so dane-smtp does not depend on nodemailer itself.
 */
import { deliver, probeClientResolver, type ClientOptions } from '../api.js';
import type { DomainResult } from '../core/result.js';
import { DaneSmtpError } from '../errors.js';
import { VERSION } from '../version.js';

/** The part of nodemailer's MailMessage this transport uses. */
interface MailMessageLike {
  message: {
    getEnvelope(): { from: string | false; to: string[] };
    messageId(): string;
    build(callback: (err: Error | null, message: Buffer) => void): void;
  };
  data: { envelope?: { from?: string; to?: string | string[] } };
}

export interface DaneSentMessageInfo {
  envelope: { from: string; to: string[] };
  messageId: string;
  accepted: string[];
  rejected: string[];
  pending: string[];
  response: string;
  /** One result per recipient domain, as `dane-smtp send --json` prints them. */
  results: DomainResult[];
}

/** A send where some recipients were deferred or bounced; says which, and why. */
export class DaneDeliveryError extends DaneSmtpError {
  constructor(
    readonly info: DaneSentMessageInfo,
    readonly deferred: { address: string; reply: string }[],
    readonly bounced: { address: string; reply: string }[],
  ) {
    super('NOT_DELIVERED', `not delivered: ${[...deferred.map((d) => `${d.address} deferred (${d.reply})`), ...bounced.map((b) => `${b.address} bounced (${b.reply})`)].join('; ')}`);
    this.name = 'DaneDeliveryError';
  }
  /** Deferred recipients may be retried later; bounced ones not. */
  get temporary(): boolean {
    return this.deferred.length > 0;
  }
}

export interface DaneTransportOptions extends ClientOptions {
  /** Send every message to this fixed next hop (a relay: `[host]:port`) instead of the MX hosts. */
  nexthop?: string;
}

/**
 * What `transporter.verify()` answers: true when the resolver the transport uses validates
 * DNSSEC (the probe of dns/probe.ts: the signed root SOA comes back authenticated), or
 * validates it itself (`validate`, a ValidatingResolver) and answers. Otherwise a
 * DaneSmtpError that says which: DNS_UNREACHABLE (no usable answer: every delivery would
 * be deferred) or DNS_NOT_VALIDATING (DANE would be off, or with trust anchors the root
 * does not validate from them).
 */
async function verifyResolver(options: DaneTransportOptions, signal: AbortSignal): Promise<true> {
  if (signal.aborted) throw new DaneSmtpError('ABORTED', 'transport closed or aborted');
  const { probe, selfValidating } = await probeClientResolver({ ...options, signal });
  if (probe.validates) return true;
  if (probe.unreachable) throw new DaneSmtpError('DNS_UNREACHABLE', `${probe.reason}: every delivery would be deferred`);
  if (!probe.reachable) {
    if (selfValidating) throw new DaneSmtpError('DNS_NOT_VALIDATING', `the root zone does not validate from the trust anchors (${probe.reason}): every delivery would be deferred`);
    throw new DaneSmtpError('DNS_UNREACHABLE', `${probe.reason}: every delivery would be deferred`);
  }
  // Validating in process, the root outside the trust anchors: the names under them validate.
  if (selfValidating) return true;
  throw new DaneSmtpError('DNS_NOT_VALIDATING', `${probe.reason}: DANE would be off (no TLSA record trusted, no verdict better than opportunistic)`);
}

/**
 * `signal` (optional) stops every delivery of this transport when it aborts; so does
 * `transporter.close()`. An interrupted delivery rejects with DaneDeliveryError listing
 * the recipients deferred by the abort, so nothing is silently lost.
 */
export function daneTransport(options: DaneTransportOptions = {}) {
  const closing = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, closing.signal]) : closing.signal;
  return {
    name: 'dane-smtp',
    version: VERSION,
    /**
     * nodemailer calls this from `transporter.verify()`: resolves true, or rejects with a
     * DaneSmtpError saying why the resolver cannot serve DANE (see verifyResolver). With a
     * callback, calls it instead of returning a promise (nodemailer's convention).
     */
    verify(callback?: (err: Error | null, success?: true) => void): Promise<true> | undefined {
      const verifying = verifyResolver(options, signal);
      if (!callback) return verifying;
      verifying.then(
        () => callback(null, true),
        (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
      );
      return undefined;
    },
    /** nodemailer calls this from `transporter.close()`: aborts the deliveries in progress. */
    close(): void {
      closing.abort(new DaneSmtpError('ABORTED', 'transport closed'));
    },
    send(mail: MailMessageLike, callback: (err: Error | null, info?: DaneSentMessageInfo) => void): void {
      const envelope = mail.message.getEnvelope();
      const from = envelope.from || '';
      const to = envelope.to;
      mail.message.build((err, raw) => {
        if (err) return callback(err);
        if (signal.aborted) return callback(new DaneSmtpError('ABORTED', 'transport closed or aborted: nothing sent'));
        deliver(raw, { ...options, signal, from, to }).then(
          (results) => {
            const all = results.flatMap((r) => r.recipients ?? []);
            const accepted = all.filter((r) => r.status === 'delivered').map((r) => r.address);
            const deferred = all.filter((r) => r.status === 'deferred').map(({ address, reply }) => ({ address, reply }));
            const bounced = all.filter((r) => r.status === 'bounced').map(({ address, reply }) => ({ address, reply }));
            const info: DaneSentMessageInfo = {
              envelope: { from, to },
              messageId: mail.message.messageId(),
              accepted,
              rejected: bounced.map((b) => b.address),
              pending: deferred.map((d) => d.address),
              response: results.map((r) => `${r.domain}: ${r.verdict}`).join('; '),
              results,
            };
            if (deferred.length || bounced.length) callback(new DaneDeliveryError(info, deferred, bounced));
            else callback(null, info);
          },
          (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
        );
      });
    },
  };
}
