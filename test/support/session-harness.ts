/**
 * Shared harness for SMTP session tests: scripted raw servers closed after each test, and
 * the session options every test starts from (127.0.0.1, plaintext, a 2 s step deadline).
 */
import { afterEach } from 'vitest';
import type { SmtpSessionOptions } from '../../src/smtp/types.js';
import { type Handler, type RawServer, startRawServer } from './raw-smtp-server.js';

export interface Serve {
  (handler: Handler): Promise<RawServer>;
  /** Close every server started so far (also done after each test). */
  closeAll(): Promise<void>;
}

/** Call at the top level of a test file: returns `serve(handler)`; every server is closed after each test. */
export function useRawServers(): Serve {
  const servers: RawServer[] = [];
  const closeAll = async (): Promise<void> => {
    for (const s of servers.splice(0)) await s.close();
  };
  afterEach(closeAll);
  const serve = async (handler: Handler): Promise<RawServer> => {
    const s = await startRawServer(handler);
    servers.push(s);
    return s;
  };
  return Object.assign(serve, { closeAll });
}

export function sessionOptions(server: RawServer, extra: Partial<SmtpSessionOptions> = {}): SmtpSessionOptions {
  return { address: '127.0.0.1', port: server.port, helo: 'client.example.test', timeoutMs: 2000, tls: 'none', ...extra };
}
