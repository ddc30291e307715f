/**
 * The settings the command line and the library share: one list of their defaults and
 * rules. The CLI parses its strings into these values and the library takes them as given;
 * both check them here, before anything is sent, and word the error with their own name for
 * the setting (`--port` or `port`).
 */
import { LEVELS, type Level } from './policy/table.js';

/** Integer settings: inclusive range and default. */
export const INTEGER_SETTINGS = {
  /** SMTP port; TLSA records at `_<port>._tcp`. */
  port: { min: 1, max: 65535, default: 25 },
  /** Destinations handled at once. */
  concurrency: { min: 1, max: 1000, default: 8 },
  /** Deadline of each step (DNS answer, connect, TLS handshake, one whole SMTP reply), in milliseconds. */
  timeoutMs: { min: 1, max: 3_600_000, default: 30_000 },
} as const;

export type IntegerSetting = keyof typeof INTEGER_SETTINGS;

/** TLS level for destinations not in the policy table. */
export const DEFAULT_LEVEL: Level = 'dane';

/** Why `value` is not a valid value of `setting` (a phrase after the setting's name), or undefined. */
export function integerProblem(setting: IntegerSetting, value: number): string | undefined {
  const { min, max } = INTEGER_SETTINGS[setting];
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `must be an integer from ${min} to ${max}`;
}

/** A level name (case-insensitive, as in the policy table and Postfix), or why not. */
export function levelOf(text: string): { ok: true; level: Level } | { ok: false; problem: string } {
  const level = text.toLowerCase();
  if (!(LEVELS as readonly string[]).includes(level)) return { ok: false, problem: `must be one of ${LEVELS.join(', ')}` };
  // A default level has no attributes, and fingerprint without match= can never succeed
  // (the policy table refuses it too): every destination would be deferred.
  if (level === 'fingerprint') return { ok: false, problem: 'fingerprint needs fingerprints: give them per destination in a policy table (match=SHA256-HEX)' };
  return { ok: true, level: level as Level };
}
