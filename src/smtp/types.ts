import type { ErrorCode } from '../errors.js';
import type { CertInfo, Certificate } from '../x509/certificate.js';

/** Why a session failed: an error code, or the class of the server's own refusal. */
export type SmtpFailureCode = ErrorCode | 'SMTP_4XX' | 'SMTP_5XX';

/** One complete (possibly multi-line) SMTP reply. */
export interface SmtpReply {
  code: number;
  /** Text of each line without the code and separator. */
  lines: string[];
}

/** What the TLS layer shows after the handshake: only what the server actually sent. */
export interface ServedTls {
  /** e.g. 'TLSv1.3' */
  version: string;
  /** OpenSSL cipher name, e.g. 'TLS_AES_256_GCM_SHA384' */
  cipher: string;
  /** DER certificates as the server sent them, leaf first. Never completed from a local CA store. */
  chain: Buffer[];
  /** The same certificates described once, at the handshake, from the certificates themselves. */
  certificates: CertInfo[];
  /** The same certificates as read once (x509/certificate.ts), for the checks of the chain. */
  read?: readonly Certificate[];
}

/** The caller's verdict on the served chain; nothing is written inside TLS before it is `ok`. */
export type TlsCheck = { ok: true } | { ok: false; reason: string };

/** What a session is for: a probe (check: QUIT after authentication) or a message transaction. */
export type Job = { kind: 'probe' } | { kind: 'send'; envelope: SmtpEnvelope };

export type TlsMode =
  /** never STARTTLS */
  | 'none'
  /** STARTTLS when offered; plaintext when not offered (opportunistic) */
  | 'may'
  /** STARTTLS mandatory: not offered, refused or failed handshake means this host fails */
  | 'required';

export interface SmtpSessionOptions {
  /** IP address to connect to. */
  address: string;
  port: number;
  /** Source address to bind (tests: 127.0.0.0/8). */
  localAddress?: string;
  /** EHLO/HELO name. */
  helo: string;
  /** Deadline of each step (connect, handshake, one whole reply), in milliseconds. */
  timeoutMs: number;
  tls: TlsMode;
  /** Deadline for the reply to the final dot of DATA; default max(timeoutMs, 10 minutes) (RFC 5321 §4.5.3.2.6). */
  finalReplyTimeoutMs?: number;
  /** SNI sent in the ClientHello (the TLSA base domain); omitted when undefined. */
  servername?: string;
  /** Called after the handshake, before any command inside TLS. */
  checkTls?: (served: ServedTls) => TlsCheck;
  signal?: AbortSignal;
  /** Hook for logs / diagnostics: every line sent (C:) and received (S:), TLS events. */
  onEvent?: (event: SmtpEvent) => void;
}

export type SmtpEvent =
  | { type: 'connect'; address: string; port: number }
  | { type: 'send'; line: string }
  | { type: 'reply'; reply: SmtpReply }
  | { type: 'tls'; served: ServedTls }
  | { type: 'discarded'; bytes: number }
  /** Message lines over 998 octets, broken with CRLF SPACE as the data is sent (RFC 5322 §2.1.1). */
  | { type: 'long-lines'; lines: number }
  /**
   * Another transaction on the same connection, for recipients the previous one refused as
   * "too many recipients" (452 / 552, X.5.3; RFC 5321 §4.5.3.1.10) or left out to honour the
   * server's LIMITS RCPTMAX (RFC 9422): `round` counts transactions from 1; `recipients` is how
   * many go in this one.
   */
  | { type: 'transaction'; round: number; recipients: number; reason: 'too-many-recipients' | 'rcptmax' }
  /**
   * An 8-bit message for a server without 8BITMIME (RFC 6152 §3): `parts` MIME parts converted to
   * quoted-printable; `unconverted` says why 8-bit octets are still sent (8-bit headers, binary
   * parts, a non-MIME message, malformed MIME), as Postfix sends them.
   */
  | { type: 'mime-downgrade'; parts: number; unconverted?: string }
  | { type: 'close' };

/** A message to deliver on a session. */
export interface SmtpEnvelope {
  from: string;
  to: string[];
  /** RFC 5322 message, CRLF or LF line ends; the client normalises and dot-stuffs. */
  message: Buffer;
}

export type RecipientStatus = 'delivered' | 'deferred' | 'bounced';

export interface RecipientResult {
  address: string;
  status: RecipientStatus;
  /** The server's reply that decided the status, e.g. "250 2.0.0 Ok: queued as X", or a local reason. */
  reply: string;
  /** The code of that reply when a server gave it (250, 451, 550 …); absent when dane-smtp decided (a timeout, a lost connection, a local limit). */
  replyCode?: number;
}

/**
 * How one session ended.
 * - `ok`: probe finished (QUIT) or message transaction finished (see recipients);
 * - `host-failed`: this host could not be used (connect, greeting, EHLO, STARTTLS, TLS,
 *   authentication, timeout, protocol error before MAIL); the caller tries the next host;
 * - `rejected`: the transaction was refused after the session was established
 *   (MAIL FROM / DATA level) — recipients carry deferred or bounced statuses.
 */
export interface SmtpSessionResult {
  outcome: 'ok' | 'host-failed' | 'rejected';
  /** True once the TLS handshake completed (and was accepted by checkTls). */
  tls: boolean;
  served?: ServedTls;
  /** Extensions from the last EHLO (upper-case keyword → parameters). */
  extensions: Record<string, string>;
  /** Set for host-failed / rejected. */
  error?: { code: ErrorCode | 'SMTP_4XX' | 'SMTP_5XX'; message: string; reply?: SmtpReply };
  /** The failure happened in the TLS handshake (after the 220 to STARTTLS), a timeout included. */
  inHandshake?: boolean;
  /** For a message transaction: one per envelope recipient, in order. */
  recipients?: RecipientResult[];
}
