/**
 * `dane-smtp scan --json` against `check --json`: the same object per domain; no progress line off a
 * terminal; a rerun checks nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { captureStderr, captureStdout } from '../../support/capture.js';
import type { DomainResult } from '../../../src/core/result.js';
import { main } from '../../../src/cli/program.js';
import { ScanStore } from '../../../src/scan/store.js';
import { reply, ScriptedDnsServer } from '../../support/dns-server.js';

const dir = mkdtempSync(join(tmpdir(), 'scan-review-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => vi.restoreAllMocks());

let n = 0;

const file = () => join(dir, `r${++n}.sqlite`);

describe('scan --json against check --json', () => {
  it('the same object per domain; no progress line when stderr is not a terminal; a rerun checks nothing', async () => {
    // A validating resolver: no such domain, a null MX, an MX host without an address.
    const dns = await ScriptedDnsServer.start((q) => {
      const question = q.questions?.[0];
      if (!question) return null;
      const name = question.name.toLowerCase();
      if (question.type === 'SOA' && name === '') {
        return reply(q, { ad: true, answers: [{ type: 'SOA', name: '.', ttl: 86400, data: { mname: 'a.root-servers.net', rname: 'x.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } }] });
      }
      if (name === 'null.example' && question.type === 'MX') return reply(q, { ad: true, answers: [{ type: 'MX', name, ttl: 60, data: { preference: 0, exchange: '.' } } as dnsPacket.Answer] });
      if (name === 'noaddr.example' && question.type === 'MX') return reply(q, { ad: true, answers: [{ type: 'MX', name, ttl: 60, data: { preference: 10, exchange: 'mx.noaddr.example' } } as dnsPacket.Answer] });
      return reply(q, { ad: true, rcode: 'NXDOMAIN' });
    });
    try {
      const domains = ['nxdomain.example', 'null.example', 'noaddr.example'];
      const list = join(dir, 'json-list.txt');
      writeFileSync(list, `${domains.join('\n')}\n`);
      const common = ['--resolver', `${dns.address}:${dns.port}`, '--timeout', '5', '--helo', 'client.test', '--json'];
      const out = file();
      let stdout = captureStdout();
      let stderr = captureStderr();
      expect(await main(['node', 'dane-smtp', 'scan', list, '--out', out, ...common])).toBe(0);
      const scanned = stdout.text().trim().split('\n').map((l) => JSON.parse(l) as DomainResult);
      expect(stderr.text()).not.toMatch(/\r|\x1b\[K/);
      vi.restoreAllMocks();

      stdout = captureStdout();
      captureStderr();
      await main(['node', 'dane-smtp', 'check', ...common, ...domains]);
      const checked = stdout.text().trim().split('\n').map((l) => JSON.parse(l) as DomainResult);
      vi.restoreAllMocks();
      const byDomain = (rs: DomainResult[]) => Object.fromEntries(rs.map((r) => [r.domain, r]));
      expect(Object.keys(byDomain(scanned)).sort()).toEqual([...domains].sort());
      expect(byDomain(scanned)).toEqual(byDomain(checked));
      // the stored JSON is the same object
      const s = ScanStore.open(out, { readonly: true });
      for (const d of domains) expect(JSON.parse(s.get(d)!.json)).toEqual(byDomain(checked)[d]);
      s.close();

      // resume: everything is done, nothing is checked again, nothing is printed on stdout
      stdout = captureStdout();
      stderr = captureStderr();
      expect(await main(['node', 'dane-smtp', 'scan', list, '--out', out, ...common])).toBe(0);
      expect(stdout.text()).toBe('');
      expect(stderr.text()).toMatch(/3 already in .*, 0 to check/);
      vi.restoreAllMocks();
      const again = ScanStore.open(out, { readonly: true });
      expect(again.count()).toBe(3);
      expect(again.runs().map((r) => [r.status, r.checked])).toEqual([['complete', 3], ['complete', 0]]);
      again.close();
    } finally {
      await dns.close();
    }
  });
});
