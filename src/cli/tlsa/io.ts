/**
 * Where `dane-smtp tlsa` reads and writes (tests replace parts of it), and its exit codes.
 */
import { EXIT } from '../../core/outcome.js';
import { lookup as dnsLookup } from 'node:dns/promises';
import { readResolvConf } from '../../dns/resolv-conf.js';

/** tlsa's exit statuses, from the one table: a check that found a problem is 1. */
export const TLSA_EXIT = { OK: EXIT.OK, FAILED: EXIT.CHECK_FAILED, USAGE: EXIT.USAGE, UNAVAILABLE: EXIT.UNAVAILABLE } as const;

export interface TlsaIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  now: () => Date;
  /** Contents of /etc/resolv.conf ('' when absent). */
  resolvConf: () => string;
  /** System resolution of a --connect host name (generating records without --resolver). */
  resolveHost: (name: string) => Promise<string[]>;
}

export const defaultIo: TlsaIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  now: () => new Date(),
  resolvConf: readResolvConf,
  resolveHost: async (name) => (await dnsLookup(name, { all: true })).map((a) => a.address),
};
