/**
 * A scripted SMTP session for delivery-loop tests (processDestination's `session` hook):
 * what each address does — serve a chain over TLS, offer no STARTTLS, fail the handshake,
 * or be down (any address not listed) — and a record of every connection made.
 */
import type { DestinationOptions, Job } from '../../src/delivery/destination.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';

export type Behaviour = { kind: 'tls'; chain: Buffer[] } | { kind: 'no-starttls' } | { kind: 'tls-fails' } | { kind: 'down' };

export interface Call {
  address: string;
  tls: SmtpSessionOptions['tls'];
  servername?: string;
  job: Job['kind'];
}

export function scriptedSession(world: Record<string, Behaviour>, calls: Call[]): DestinationOptions['session'] {
  const session = async (o: SmtpSessionOptions, job: Job): Promise<SmtpSessionResult> => {
    const call: Call = { address: o.address, tls: o.tls, job: job.kind };
    if (o.servername !== undefined) call.servername = o.servername;
    calls.push(call);
    const b = world[o.address] ?? { kind: 'down' };
    const failed = (code: 'CONNECT' | 'NO_STARTTLS' | 'TLS_HANDSHAKE' | 'AUTHENTICATION', message: string): SmtpSessionResult => ({ outcome: 'host-failed', tls: false, extensions: {}, error: { code, message } });
    const done = (tls: boolean, served?: SmtpSessionResult['served']): SmtpSessionResult => {
      const r: SmtpSessionResult = { outcome: 'ok', tls, extensions: {} };
      if (served) r.served = served;
      if (job.kind === 'send') r.recipients = job.envelope.to.map((address) => ({ address, status: 'delivered', reply: '250 ok' }));
      return r;
    };
    if (b.kind === 'down') return failed('CONNECT', 'connection refused');
    if (o.tls === 'none') return done(false);
    if (b.kind === 'no-starttls') return o.tls === 'required' ? failed('NO_STARTTLS', 'STARTTLS not offered') : done(false);
    if (b.kind === 'tls-fails') return failed('TLS_HANDSHAKE', 'handshake failed');
    const served = { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', chain: b.chain };
    const check = o.checkTls ? o.checkTls(served) : { ok: true as const };
    if (!check.ok) return failed('AUTHENTICATION', check.reason);
    return done(true, served);
  };
  return session as DestinationOptions['session'];
}
