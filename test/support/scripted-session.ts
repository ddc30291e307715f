/**
 * A scripted SMTP session for delivery-loop tests (processDestination's `session` hook):
 * what each address does — serve a chain over TLS, offer no STARTTLS, fail the handshake,
 * or be down (any address not listed) — and a record of every connection made.
 */
import { servedTls } from '../../src/smtp/served-chain.js';
import type { DestinationOptions } from '../../src/engine/destination.js';
import type { Job } from '../../src/smtp/types.js';
import type { SmtpSessionOptions, SmtpSessionResult } from '../../src/smtp/types.js';

export type Behaviour =
  | { kind: 'tls'; chain: Buffer[] }
  | { kind: 'no-starttls' }
  | { kind: 'tls-fails' }
  | { kind: 'down' }
  /** Plaintext or TLS as asked, then this reply to MAIL (e.g. "451 4.3.0 try later"), or per recipient. */
  | { kind: 'mail-reply'; reply: string }
  | { kind: 'rcpt-replies'; replies: string[] };

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
    if (b.kind === 'mail-reply' || b.kind === 'rcpt-replies') {
      if (job.kind !== 'send') return done(o.tls !== 'none');
      const replyFor = (i: number) => (b.kind === 'mail-reply' ? b.reply : b.replies[i] ?? '250 ok');
      const recipients = job.envelope.to.map((address, i) => {
        const reply = replyFor(i);
        const status = reply.startsWith('2') ? ('delivered' as const) : reply.startsWith('5') ? ('bounced' as const) : ('deferred' as const);
        return /^\d{3}\b/.test(reply) ? { address, status, reply, replyCode: Number(reply.slice(0, 3)) } : { address, status, reply };
      });
      const ok = recipients.every((r) => r.status === 'delivered');
      const r: SmtpSessionResult = { outcome: ok ? 'ok' : 'rejected', tls: o.tls !== 'none', extensions: {}, recipients };
      if (!ok) r.error = { code: 'SMTP_4XX', message: `refused: ${recipients.find((x) => x.status !== 'delivered')!.reply}` };
      return r;
    }
    if (o.tls === 'none') return done(false);
    if (b.kind === 'no-starttls') return o.tls === 'required' ? failed('NO_STARTTLS', 'STARTTLS not offered') : done(false);
    if (b.kind === 'tls-fails') return failed('TLS_HANDSHAKE', 'handshake failed');
    const served = servedTls('TLSv1.3', 'TLS_AES_128_GCM_SHA256', b.chain);
    const check = o.checkTls ? o.checkTls(served) : { ok: true as const };
    if (!check.ok) return failed('AUTHENTICATION', check.reason);
    return done(true, served);
  };
  return session as DestinationOptions['session'];
}
