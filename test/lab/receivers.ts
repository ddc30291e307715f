/**
 * SMTP receivers for the lab: one `smtp-server` per MX host, inside the test process, each
 * on its own loopback address. The shared log tells which receiver took which message and
 * how (TLS or not, TLS version, SNI received).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface ReceiverTls {
  /** PEM private key of the leaf. */
  key: string;
  /** PEM chain as served (leaf first). */
  cert: string;
  /** e.g. 'TLSv1' for a TLS 1.0-only receiver. */
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

/** SMTP behaviour of one receiver beyond the defaults (smtp-server options). */
export interface ReceiverSmtp {
  /** Do not announce 8BITMIME in the EHLO reply (smtp-server `hide8BITMIME`). */
  hide8BITMIME?: boolean;
  /**
   * At most this many recipients per transaction; further RCPTs get `452 4.5.3 Error: too many
   * recipients` (smtp-server `maxRecipients`, counted per envelope, which smtp-server resets
   * after each DATA, RSET, EHLO). No LIMITS RCPTMAX is announced.
   */
  maxRecipients?: number;
}

export interface ReceiverConfig {
  /** Receiver name: the MX host name it stands for (as in `expect.hosts`). */
  name: string;
  /** Scenario domain this receiver belongs to. */
  scenario: string;
  address: string;
  port: number;
  /** false: no STARTTLS offered. */
  tls: ReceiverTls | false;
  smtp?: ReceiverSmtp;
}

export interface ReceivedMessage {
  receiver: string;
  scenario: string;
  address: string;
  port: number;
  remoteAddress: string;
  tls: boolean;
  /** e.g. 'TLSv1.3'; null without TLS. */
  tlsVersion: string | null;
  /** SNI server name the client sent; null when none (or no TLS). */
  servername: string | null;
  helo: string;
  envelope: { from: string | null; to: string[] };
  body: string;
  at: Date;
}

export interface ReceiverConnection {
  receiver: string;
  scenario: string;
  address: string;
  remoteAddress: string;
  at: Date;
  /** Set when the session upgraded to TLS. */
  tlsVersion?: string;
  servername?: string | null;
}

/** The log of every receiver of one world. */
export class ReceiverLog {
  readonly messages: ReceivedMessage[] = [];
  readonly connections: ReceiverConnection[] = [];

  /** Messages whose body contains `token`. */
  withToken(token: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.body.includes(token));
  }
  byReceiver(name: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.receiver === name);
  }
  connectionsTo(name: string): ReceiverConnection[] {
    return this.connections.filter((c) => c.receiver === name);
  }
  clear(): void {
    this.messages.length = 0;
    this.connections.length = 0;
  }
}

export interface RunningReceiver {
  config: ReceiverConfig;
  close(): Promise<void>;
}

/** Starts one receiver; rejects when the address/port cannot be bound. */
export function startReceiver(config: ReceiverConfig, log: ReceiverLog): Promise<RunningReceiver> {
  const perSession = new Map<string, ReceiverConnection>();
  const tls = config.tls;
  const server = new SMTPServer({
    name: config.name,
    banner: `lab receiver ${config.name}`,
    secure: false,
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: !tls,
    size: 10 * 1024 * 1024,
    closeTimeout: 500,
    socketTimeout: 30_000,
    ...(config.smtp?.hide8BITMIME ? { hide8BITMIME: true } : {}),
    ...(config.smtp?.maxRecipients ? { maxRecipients: config.smtp.maxRecipients } : {}),
    ...(tls
      ? {
          key: tls.key,
          cert: tls.cert,
          ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
          ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
          ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
        }
      : {}),
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const c: ReceiverConnection = {
        receiver: config.name,
        scenario: config.scenario,
        address: config.address,
        remoteAddress: session.remoteAddress,
        at: new Date(),
      };
      perSession.set(session.id, c);
      log.connections.push(c);
      callback();
    },
    onRcptTo(address, _session, callback) {
      // A recipient `defer-at-LABEL@…` gets a 450 from every receiver whose name starts
      // with `LABEL.` (e.g. defer-at-mx1 at mx1.pref-order.test): a per-recipient soft
      // refusal, for the backup-MX tests.
      const m = /^defer-at-([a-z0-9-]+)@/i.exec(address.address);
      if (m && config.name.toLowerCase().startsWith(`${m[1]!.toLowerCase()}.`)) {
        const err = new Error(`4.2.0 <${address.address}> deferred by ${config.name}`) as Error & { responseCode: number };
        err.responseCode = 450;
        return callback(err);
      }
      callback();
    },
    onSecure(socket: Socket | TLSSocket, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const c = perSession.get(session.id);
      const t = socket as TLSSocket;
      if (c) {
        c.tlsVersion = typeof t.getProtocol === 'function' ? (t.getProtocol() ?? undefined) : undefined;
        c.servername = session.servername || null;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        const c = perSession.get(session.id);
        const from = session.envelope.mailFrom;
        log.messages.push({
          receiver: config.name,
          scenario: config.scenario,
          address: config.address,
          port: config.port,
          remoteAddress: session.remoteAddress,
          tls: Boolean(session.secure),
          tlsVersion: session.secure ? (c?.tlsVersion ?? null) : null,
          servername: session.secure ? session.servername || null : null,
          helo: session.hostNameAppearsAs,
          envelope: {
            from: from ? from.address : null,
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          body: Buffer.concat(chunks).toString('utf8'),
          at: new Date(),
        });
        callback(null, `Ok: queued by ${config.name}`);
      });
    },
    onClose(session: SMTPServerSession) {
      perSession.delete(session.id);
    },
  });
  // Errors on individual connections (TLS alerts from clients that refuse the
  // certificate, resets) are expected in this lab.
  server.on('error', () => {});
  return new Promise((resolve, reject) => {
    const raw = server.server;
    const onError = (err: Error): void => reject(err);
    raw.once('error', onError);
    raw.listen({ host: config.address, port: config.port, exclusive: true, ipv6Only: config.address.includes(':') }, () => {
      raw.removeListener('error', onError);
      let closed: Promise<void> | undefined;
      resolve({
        config,
        close: () =>
          (closed ??= new Promise<void>((done) => {
            try {
              server.close(() => done());
            } catch {
              done();
            }
          })),
      });
    });
  });
}
