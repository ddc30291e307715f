/** The one list of error codes (the nodemailer model). Expected outcomes are results; these are for the rest. */
export const ERROR_CODES = {
  USAGE: 'usage error (bad option, domain, address or message)',
  DNS_TIMEOUT: 'DNS resolver did not answer in time',
  DNS_UNREACHABLE: 'DNS resolver unreachable',
  DNS_NOT_VALIDATING: 'DNS resolver does not validate DNSSEC',
  DNS_MALFORMED: 'malformed or mismatched DNS answer',
  CONNECT: 'TCP connection failed',
  TIMEOUT: 'step deadline exceeded',
  PROTOCOL: 'SMTP protocol violation by the server',
  REPLY_TOO_LONG: 'SMTP reply exceeds size bound',
  CLOSED: 'connection closed by the server',
  NO_STARTTLS: 'STARTTLS not offered',
  STARTTLS_REFUSED: 'STARTTLS refused by the server',
  TLS_HANDSHAKE: 'TLS handshake failed',
  AUTHENTICATION: 'server not authenticated by its TLSA records',
  ABORTED: 'aborted by the caller',
  NOT_DELIVERED: 'some recipients were deferred or bounced',
  INTERNAL: 'dane-smtp itself failed (a bug)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class DaneSmtpError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options);
    this.name = 'DaneSmtpError';
    this.code = code;
  }
}
