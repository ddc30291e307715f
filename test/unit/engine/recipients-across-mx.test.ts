/**
 * Recipients across two MX hosts (Postfix backup MX, RFC 5321 §6.1): never delivered at two hosts, a
 * server-reply deferral at the first host offered to the second exactly once (a property over
 * generated servers, real sessions).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { processDestination } from '../../../src/engine/destination.js';
import { runSmtpSession } from '../../../src/smtp/session.js';
import type { SmtpSessionResult } from '../../../src/smtp/types.js';
import { twoInsecureMx } from '../../support/fixture-resolver.js';
import { type RawServer, startRawServer } from '../../support/raw-smtp-server.js';
import { testPki } from '../../support/test-certs.js';
import { params, ServerTx, scenarioArb, scriptedServer, addresses, message, SERVER_REPLY, STEP_MS, FINAL_MS, deliveredIn, mayHaveKept, checkSession } from '../../support/recipient-ledger-server.js';

beforeAll(() => void testPki());

describe('property (RFC 5321 §6.1, backup MX): recipients across two MX hosts (processDestination with real sessions to generated servers)', () => {
  // example.test: an insecure MX (opportunistic TLS, the servers offer no STARTTLS), mx1 before mx2.
  const world = twoInsecureMx();
  const HOSTS = [
    { name: 'mx1.example.test', address: '192.0.2.1' },
    { name: 'mx2.example.test', address: '192.0.2.2' },
  ];
  /** A host is down (the connection closes at once: host-failed) or runs a generated server. */
  const hostArb = fc.oneof({ arbitrary: fc.constant('down' as const), weight: 1 }, { arbitrary: scenarioArb, weight: 5 });

  it('never delivered at two hosts; `host` names the host that delivered; a server-reply deferral at mx1 is offered to mx2 exactly once, nothing else is', async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(hostArb, hostArb), fc.integer({ min: 1, max: 5 }), async (behaviours, n) => {
        const to = addresses(n);
        const txs: ServerTx[][] = [[], []];
        const servers: RawServer[] = [];
        const sessions: { host: number; to: string[]; result: SmtpSessionResult }[] = [];
        try {
          for (const [i, b] of behaviours.entries()) servers.push(await startRawServer(b === 'down' ? (c) => c.destroy() : scriptedServer(b, txs[i]!)));
          const t0 = performance.now();
          const result = await processDestination('example.test', { kind: 'send', envelope: { from: 'sender@example.test', to, message } }, {
            resolver: world, resolverValidates: true, port: 25, helo: 'client.example.test', timeoutMs: STEP_MS, random: () => 0.99,
            session: async (o, job) => {
              const host = HOSTS.findIndex((h) => h.address === o.address);
              const r = await runSmtpSession({ ...o, address: '127.0.0.1', port: servers[host]!.port, finalReplyTimeoutMs: FINAL_MS }, job);
              sessions.push({ host, to: job.kind === 'send' ? [...job.envelope.to] : [], result: r });
              return r;
            },
          });
          expect(performance.now() - t0).toBeLessThan(2 * STEP_MS);
          for (const s of servers) {
            await s.allClosed(2000);
            await s.handlersDone();
            expect(s.errors).toEqual([]);
          }
          // Each session on its own keeps the single-connection invariants.
          for (const s of sessions) {
            const b = behaviours[s.host]!;
            if (b !== 'down') checkSession(b, s.to, txs[s.host]!, s.result);
          }
          // mx1 first with every recipient; mx2 exactly once, with exactly those mx1 deferred with a reply of its own.
          expect(sessions[0]).toMatchObject({ host: 0, to });
          const first = sessions[0]!.result;
          const offered = first.outcome === 'host-failed' ? to : first.recipients!.filter((r) => r.status === 'deferred' && SERVER_REPLY.test(r.reply)).map((r) => r.address);
          expect(sessions.slice(1).map((s) => [s.host, s.to])).toEqual(offered.length > 0 ? [[1, offered]] : []);
          // Nothing the mx1 server may have kept (data read, reply lost) goes to mx2.
          for (const a of offered) expect(txs[0]!.some((t) => mayHaveKept(t, a) || deliveredIn(t, a)), a).toBe(false);
          // Never delivered at two hosts.
          const deliveredAt = (a: string) => [0, 1].filter((h) => txs[h]!.some((t) => deliveredIn(t, a)));
          for (const a of to) expect(deliveredAt(a).length, a).toBeLessThanOrEqual(1);
          if (!result.recipients) {
            // no session reached a server: nothing was delivered anywhere
            expect(sessions.every((s) => s.result.outcome === 'host-failed')).toBe(true);
            expect(to.flatMap(deliveredAt)).toEqual([]);
            return;
          }
          expect(result.recipients.map((r) => r.address)).toEqual(to);
          for (const r of result.recipients) {
            const at = deliveredAt(r.address);
            expect(r.status === 'delivered', `${r.address}: ${r.status} ${r.reply} (${r.host})`).toBe(at.length === 1);
            if (r.status === 'delivered') expect(r.host).toBe(HOSTS[at[0]!]!.name);
            // The deciding session: the last that settled it (anything but a server-reply deferral), else the first soft reply.
            const seen = sessions.filter((s) => s.result.recipients).map((s) => ({ host: HOSTS[s.host]!.name, ...s.result.recipients!.find((x) => x.address === r.address)! })).filter((x) => x.status);
            const decided = seen.filter((x) => !(x.status === 'deferred' && SERVER_REPLY.test(x.reply))).at(-1) ?? seen[0];
            if (decided) expect(r).toEqual(decided);
          }
        } finally {
          for (const s of servers) await s.close();
        }
      }),
      params(0x7672 + 1, 120),
    );
  });
});
