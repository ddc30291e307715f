/**
 * The files `dane-smtp tlsa` reads: FILE, --next and --rrset (a regular file or standard
 * input, size-bounded) and the --trust-anchor file; every failure is a USAGE error.
 */
import { readFileSync, statSync } from 'node:fs';
import { DaneSmtpError } from '../../errors.js';
import type { TrustAnchor } from '../../dns/dnssec/index.js';
import { MAX_INPUT_BYTES, parseMaterial, type Material } from '../../tools/tlsa/material.js';
import { parseZoneTlsa, type ZoneParse } from '../../tools/tlsa/zone.js';
import { trustAnchors } from '../options.js';
import { usage, type TlsaOptions } from './options.js';

/** A path for humans: '-' is standard input. */
export function inputName(path: string): string {
  return path === '-' ? 'standard input' : path;
}

function readInput(path: string, what: string): Buffer {
  try {
    if (path !== '-') {
      const st = statSync(path);
      if (!st.isFile()) throw usage(`${what} ${path}: not a regular file`);
      if (st.size > MAX_INPUT_BYTES) throw usage(`${what} ${path}: larger than ${MAX_INPUT_BYTES} bytes`);
    }
    return readFileSync(path === '-' ? 0 : path);
  } catch (e) {
    if (e instanceof DaneSmtpError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw usage(`cannot read ${what} ${path === '-' ? 'from standard input' : path}: ${code ?? (e as Error).message}`);
  }
}

function loadMaterial(path: string, what: string): Material {
  return parseMaterial(readInput(path, what), inputName(path));
}

/** What the input files hold. */
export interface TlsaInputs {
  /** FILE: a certificate, chain or key. */
  material: Material | undefined;
  /** --next: the next key or certificate. */
  next: Material | undefined;
  /** --rrset: the published RRset. */
  rrset: ZoneParse | undefined;
  /** --trust-anchor FILE or --validate (the IANA root anchors): DNSSEC validated here. */
  anchors: readonly TrustAnchor[] | undefined;
}

/** Reads FILE, --next, --rrset and the trust anchors, in that order. */
export function readInputs(file: string | undefined, o: TlsaOptions): TlsaInputs {
  const material = file !== undefined ? loadMaterial(file, 'certificate or key') : undefined;
  const next = o.next !== undefined ? loadMaterial(o.next, '--next') : undefined;
  const rrset = o.rrset !== undefined ? parseZoneTlsa(readInput(o.rrset, '--rrset').toString('utf8'), inputName(o.rrset)) : undefined;
  const anchors = trustAnchors(o);
  return { material, next, rrset, anchors };
}
