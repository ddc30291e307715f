/** The TLS client settings of DANE SMTP, shared by the SMTP session and `dane-smtp tlsa`. */
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';
import { describeCertificate, readCertificate } from '../x509/certificate.js';
import type { ServedTls } from './types.js';

/** Longest certificate chain collected from a server. */
export const MAX_SERVED_CHAIN = 16;

/**
 * Authentication is DANE's job, never the local PKI: accept any chain in the handshake,
 * with an EMPTY trust store so Node cannot complete the served chain from local CAs.
 * Like Postfix, TLS 1.0 and up (RFC 7672 §8.1 refusing old servers would defer DANE mail).
 * One SecureContext for every connection (making one per connection costs ~0.3 ms of CPU).
 */
let sharedContext: tls.SecureContext | undefined;

export function daneTlsClientOptions(): tls.ConnectionOptions {
  sharedContext ??= tls.createSecureContext({ ca: [], minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
  return { secureContext: sharedContext, rejectUnauthorized: false, checkServerIdentity: () => undefined };
}

/** Only what the server sent, leaf first: walk issuerCertificate until it repeats or refers to itself. */
export function servedChain(socket: tls.TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert && Buffer.isBuffer(cert.raw) && cert.raw.length > 0 && chain.length < MAX_SERVED_CHAIN) {
    const fp = createHash('sha256').update(cert.raw).digest('hex');
    if (seen.has(fp)) break;
    seen.add(fp);
    chain.push(Buffer.from(cert.raw));
    const next: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (!next || next === cert) break;
    cert = next;
  }
  return chain;
}

/** What the handshake showed: version, cipher, the served chain and its description (made here, once). */
export function servedTls(version: string, cipher: string, chain: Buffer[]): ServedTls {
  const read = chain.map(readCertificate);
  return { version, cipher, chain, certificates: read.map((c, depth) => describeCertificate(c, depth)), read };
}
