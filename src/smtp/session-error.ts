/** Why an SMTP session (or one step of it) failed: a code, one sentence and the reply, if any. */
import { formatReply, replyClass } from './reply.js';
import type { SmtpFailureCode, SmtpReply } from './types.js';

export class SessionError extends Error {
  constructor(
    readonly code: SmtpFailureCode,
    message: string,
    readonly reply?: SmtpReply,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}

/** A refusal (4xx, 5xx) or an unexpected reply at `step`. */
export function replyError(step: string, reply: SmtpReply): SessionError {
  const cls = replyClass(reply);
  const code = cls === 4 ? 'SMTP_4XX' : cls === 5 ? 'SMTP_5XX' : 'PROTOCOL';
  const what = code === 'PROTOCOL' ? 'unexpected reply to' : 'rejected by the server at';
  return new SessionError(code, `${what} ${step}: ${formatReply(reply)}`, reply);
}
