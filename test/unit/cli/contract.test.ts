/**
 * The CLI contract as an operator reads it (README "Human output", "Exit status", the scan
 * and report sections): the human report, exit codes of the program, one-line usage errors.
 * Everything here runs in process, without a network.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureStderr } from '../../support/capture.js';
import { FixtureResolver } from '../../support/fixture-resolver.js';
import { firstNameserver } from '../../../src/dns/resolv-conf.js';
import type { DomainResult, FailedDomainResult, HostReport, SessionDomainResult } from '../../../src/core/result.js';
import { nextHopOf, partialDeliveryLine, plain, renderDomain } from '../../../src/cli/human.js';
import { EXIT } from '../../../src/core/outcome.js';
import { buildProgram, main } from '../../../src/cli/program.js';
import { oneLine } from '../../../src/cli/one-line.js';
import { probeFailureLines, useColor } from '../../../src/cli/deliver-command.js';
import { runScan, type ScanCliOptions } from '../../../src/cli/scan-actions.js';
import { runTlsa } from '../../../src/cli/tlsa/run.js';
import { renderRun, sentence, type RunSummary } from '../../../src/scan/report.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-contract-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

/** A fixture: any mix of fields (cast: a test may build what the code never returns). */
function domainResult(over: Partial<SessionDomainResult | FailedDomainResult> = {}): DomainResult {
  return {
    domain: 'example.test',
    verdict: 'tempfail',
    host: null,
    address: null,
    tls: false,
    reason: 'no usable MX host',
    mx: { name: 'example.test', type: 'MX', status: 'data', proof: 'secure', records: ['10 mx.example.test'] },
    hosts: [],
    resolverValidates: true,
    level: 'dane',
    policySource: 'default',
    ...over,
  } as DomainResult;
}

function host(over: Partial<HostReport> = {}): HostReport {
  return {
    name: 'mx.example.test',
    preference: 10,
    implicit: false,
    dns: [{ name: 'mx.example.test', type: 'A', status: 'data', proof: 'secure', records: ['192.0.2.1'] }],
    addresses: ['192.0.2.1'],
    level: 'dane',
    levelReason: 'DANE: 1 usable TLSA record at mx.example.test',
    attempts: [],
    status: 'failed',
    ...over,
  };
}


describe('human output', () => {
  it('a host skipped before any connection has no TLS level: never "level: none" (the plaintext level), and its reason once', () => {
    const why = 'TLSA lookup _25._tcp.mx.example.test failed (bogus: SERVFAIL): host skipped (RFC 7672 §2.2.3)';
    const out = renderDomain(domainResult({ hosts: [host({ level: null, levelReason: why, failure: why })] }), plain);
    expect(out).not.toMatch(/level: none/);
    expect(out).toContain(`skipped: ${why}`);
    expect(out.split(why).length - 1, 'the reason is printed once for the host (and once in the verdict line at most)').toBeLessThanOrEqual(1);
  });

  it('a policy-table level is shown as the level that applied, not the "may" the DANE rules would have given', () => {
    const r = domainResult({
      verdict: 'encrypt-unauthenticated',
      level: 'encrypt',
      policySource: '/etc/dane/policy:3',
      hosts: [host({ level: 'may', levelReason: 'opportunistic: DANE is off by local policy', levelWhy: 'DANE is off by local policy', levelCause: 'policy', status: 'used' })],
    });
    const out = renderDomain(r, plain);
    expect(out).toContain('level: encrypt (/etc/dane/policy:3) — DANE is off by local policy');
    expect(out).not.toMatch(/level: may/);
    expect(out).not.toMatch(/encrypt.*opportunistic/);
  });

  it('the DANE rules level is shown under the default policy', () => {
    const out = renderDomain(domainResult({ hosts: [host()] }), plain);
    expect(out).toContain('level: dane — DANE: 1 usable TLSA record at mx.example.test');
  });

  it('a fixed next hop is not shown as an MX answer or an implicit MX', () => {
    const r = domainResult({
      domain: 'relay.example.test',
      nextHop: '[relay.example.test]:587',
      mx: { name: 'relay.example.test', type: 'MX', status: 'nodata', proof: 'secure', records: [], reason: 'next hop [relay.example.test]:587 from local policy' },
      hosts: [host({ name: 'relay.example.test', preference: 0, implicit: true, status: 'used' })],
    });
    expect(nextHopOf(r)).toBe('[relay.example.test]:587');
    const out = renderDomain(r, plain);
    expect(out).toContain('next hop [relay.example.test]:587: no MX lookup');
    expect(out).toContain('next hop relay.example.test — used');
    expect(out).not.toMatch(/MX +secure nodata|implicit MX/);
  });

  it('an implicit MX (MX NODATA) is still shown as such', () => {
    const r = domainResult({
      mx: { name: 'example.test', type: 'MX', status: 'nodata', proof: 'secure', records: [] },
      hosts: [host({ name: 'example.test', preference: 0, implicit: true })],
    });
    expect(nextHopOf(r)).toBeUndefined();
    const out = renderDomain(r, plain);
    expect(out).toContain('MX    example.test: secure nodata');
    expect(out).toContain('MX 0 example.test (implicit MX)');
  });

  it('TLSA records are listed once, each with usable or why not', () => {
    const records = ['3 1 1 ' + 'ab'.repeat(32), '1 1 1 ' + 'cd'.repeat(32)];
    const h = host({
      dns: [{ name: '_25._tcp.mx.example.test', type: 'TLSA', status: 'data', proof: 'secure', records }],
      tlsa: [
        { record: records[0]!, usable: true },
        { record: records[1]!, usable: false, reason: 'pkix-usage', detail: 'usage 1 (PKIX-EE) is not used by SMTP (RFC 7672 §3.1.3)' },
      ],
    });
    const out = renderDomain(domainResult({ hosts: [h] }), plain);
    expect(out).toContain('TLSA  _25._tcp.mx.example.test: secure 2 records:');
    expect(out).toMatch(/3 1 1 abab\S*  usable/);
    expect(out).toMatch(/1 1 1 cdcd\S*  unusable: usage 1 \(PKIX-EE\)/);
    expect(out.split('3 1 1 abab').length - 1).toBe(1);
  });

  it('a recipient line says its status once', () => {
    const r = domainResult({
      verdict: 'undeliverable',
      recipients: [
        { address: 'a@example.test', status: 'bounced', reply: 'bounced: example.test publishes a null MX (RFC 7505): it accepts no mail' },
        { address: 'b@example.test', status: 'deferred', reply: '451 4.3.0 try later' },
      ],
    });
    const out = renderDomain(r, plain);
    expect(out).toContain('rcpt a@example.test: bounced — example.test publishes a null MX');
    expect(out).toContain('rcpt b@example.test: deferred — 451 4.3.0 try later');
  });

  it('lists the MX records in preference order, whatever the order of the answer', () => {
    const mx = { name: 'example.test', type: 'MX', status: 'data', proof: 'secure', records: ['20 mx2.example.test', '5 mx0.example.test', '10 mx1.example.test'] } as const;
    const out = renderDomain(domainResult({ mx: { ...mx, records: [...mx.records] } }), plain);
    expect(out).toContain('MX    example.test: secure 5 mx0.example.test, 10 mx1.example.test, 20 mx2.example.test');
  });

  it('send: a partial delivery gets one line naming the deferred recipients; none when nothing or everything was delivered', () => {
    const rcpt = (address: string, status: 'delivered' | 'deferred' | 'bounced') => ({ address, status, reply: '250 ok' });
    const a = domainResult({ domain: 'a.test', recipients: [rcpt('x@a.test', 'delivered'), rcpt('y@a.test', 'bounced')] });
    const b = domainResult({ domain: 'b.test', verdict: 'tempfail', recipients: [rcpt('z@b.test', 'deferred')] });
    expect(partialDeliveryLine([a, b])).toBe(
      'dane-smtp: partial delivery: 1 of 3 recipients delivered, 1 bounced, 1 deferred (z@b.test): retry only the deferred recipients, or the others get the message twice\n',
    );
    expect(partialDeliveryLine([b])).toBeUndefined();
    expect(partialDeliveryLine([a])).toBeUndefined();
  });

  it('an interrupted destination says so, not that the resolver failed', () => {
    const out = renderDomain(domainResult({ deferredEarly: 'aborted', mx: null, resolverValidates: false, reason: 'aborted by the caller' }), plain);
    expect(out).toMatch(/interrupted/);
    expect(out).not.toMatch(/resolver/);
  });

  it('colours only on a terminal and never with NO_COLOR', () => {
    expect(useColor(false, {}, true)).toBe(true);
    expect(useColor(false, { NO_COLOR: '1' }, true)).toBe(false);
    expect(useColor(false, {}, false)).toBe(false);
    expect(useColor(true, {}, true)).toBe(false);
  });
});

describe('exit codes and usage errors of the program', () => {
  it('no command at all is a usage error (64); --help, --version and `help` are not', async () => {
    const err = captureStderr();
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await main(['node', 'dane-smtp'])).toBe(EXIT.USAGE);
    expect(err.text()).toBe('dane-smtp: no command given (check, send, tlsa, scan, report): see dane-smtp --help\n');
    expect(await main(['node', 'dane-smtp', '--help'])).toBe(EXIT.OK);
    expect(await main(['node', 'dane-smtp', '--version'])).toBe(EXIT.OK);
    expect(await main(['node', 'dane-smtp', 'help'])).toBe(EXIT.OK);
  });

  it('user input echoed in a usage error stays one line, without control characters', async () => {
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '127.0.0.1', '--helo', 'client.test', 'evil\n\u001b[31mFAKE: delivered'])).toBe(EXIT.USAGE);
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '127.0.0.1', '--helo', 'a\nb', 'example.test'])).toBe(EXIT.USAGE);
    expect(await main(['node', 'dane-smtp', 'check', '--bogus\nx', 'example.test'])).toBe(EXIT.USAGE);
    const lines = err.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    expect(err.text()).not.toMatch(/\u001b/);
    expect(lines[0]).toBe("dane-smtp: not a mail domain: 'evil??[31mFAKE: delivered'");
    // Line and paragraph separators and bidi overrides, which reorder what a terminal shows, too.
    expect(oneLine('a\u2028b\u202ec\u2066d')).toBe('a?b?c?d');
  });

  it('an address given to check says which domain to give', async () => {
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '127.0.0.1', '--helo', 'client.test', 'postmaster@Example.TEST'])).toBe(EXIT.USAGE);
    expect(err.text()).toBe("dane-smtp: not a mail domain: 'postmaster@Example.TEST' (an address: give its domain, example.test)\n");
  });

  it("commander's own errors are one dane-smtp: line, with a suggestion for a typo", async () => {
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'chek', 'example.test'])).toBe(EXIT.USAGE);
    expect(await main(['node', 'dane-smtp', 'check', '--al', 'example.test'])).toBe(EXIT.USAGE);
    expect(err.text()).toBe("dane-smtp: unknown command 'chek' (did you mean check?)\ndane-smtp: unknown option '--al' (did you mean --all?)\n");
  });

  it('--level fingerprint is refused: a default level has no match= and would defer everything', async () => {
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '127.0.0.1', '--helo', 'client.test', '--level', 'fingerprint', 'example.test'])).toBe(EXIT.USAGE);
    expect(err.text()).toMatch(/^dane-smtp: --level fingerprint needs fingerprints: give them per destination in a --policy table/);
  });

  it('a resolver off loopback is warned about: its AD bit crosses a network (RFC 7672 §2.1)', async () => {
    const err = captureStderr();
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const specs: string[] = [];
    const makeResolver = (spec: { address: string; port: number }) => {
      specs.push(`${spec.address}:${spec.port}`);
      return new FixtureResolver({ '. DNSKEY': { proof: 'secure', records: [{}] } }); // no packet is sent
    };
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '192.0.2.53', '--helo', 'client.test', 'example.test'], { makeResolver })).toBe(69);
    expect(specs).toEqual(['192.0.2.53:53']);
    expect(err.text()).toMatch(/warning: resolver 192\.0\.2\.53 is not on loopback; an AD bit that crosses a network can be forged/);
    const quiet = captureStderr();
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '127.0.0.53', '--helo', 'client.test', 'example.test'], { makeResolver })).toBe(69);
    expect(quiet.text()).not.toMatch(/not on loopback/);
  });

  it('without --resolver, the first nameserver of /etc/resolv.conf is asked (through an injected resolver: no packet)', async () => {
    captureStderr();
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const specs: string[] = [];
    const makeResolver = (spec: { address: string; port: number }) => {
      specs.push(`${spec.address}:${spec.port}`);
      return new FixtureResolver({ '. DNSKEY': { proof: 'secure', records: [{}] } });
    };
    let text = '';
    try {
      text = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* none: a usage error below */
    }
    const ns = firstNameserver(text);
    const code = await main(['node', 'dane-smtp', 'check', '--helo', 'client.test', 'example.test'], { makeResolver });
    if (ns) {
      expect(code).toBe(69);
      expect(specs).toEqual([`${ns}:53`]);
    } else expect(code).toBe(EXIT.USAGE);
  });

  it('a closed or full standard output ends in one stderr line and the real exit status, not a crash', async () => {
    const cli = resolve('dist/src/cli/main.js');
    const args = [cli, 'check', '--resolver', '127.0.0.1:1', '--timeout', '2', '--helo', 'client.test', 'a.test', 'b.test', 'c.test'];
    const run = (stdout: 'pipe' | number, closeAtOnce: boolean) =>
      new Promise<{ code: number | null; err: string }>((done) => {
        const child = spawn(process.execPath, args, { stdio: ['ignore', stdout, 'pipe'] });
        if (closeAtOnce) child.stdout!.destroy();
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', (code) => done({ code, err }));
      });
    for (const r of [await run('pipe', true), await run(openSync('/dev/full', 'w'), false)]) {
      expect(r.code).toBe(75); // the unreachable resolver defers everything
      expect(r.err).toMatch(/^dane-smtp: standard output failed \((EPIPE|ENOSPC)\)/m);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('a malformed next hop is refused with one line that gives the forms', async () => {
    const err = captureStderr();
    expect(await main(['node', 'dane-smtp', 'check', '--resolver', '127.0.0.1', '--helo', 'client.test', '[192.0.2]:25'])).toBe(EXIT.USAGE);
    expect(err.text().trim().split('\n')).toHaveLength(1);
    expect(err.text()).toMatch(/not a next hop: '\[192\.0\.2\]:25' \(use \[host\], \[host\]:port, \[IP address\]/);
  });

  it('the scan help gives the real default concurrency (16 per CPU, at most 128)', () => {
    const program = buildProgram(() => {});
    const scan = program.commands.find((c) => c.name() === 'scan')!;
    const help = scan.helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('16 per CPU, at most 128');
  });

  it('a failed probe with --validate/--trust-anchor points at the anchors; an interrupted one says interrupted', () => {
    const reason = 'the resolver failed the DNSSEC probe (root SOA: SOA .: trust anchor: no DNSKEY of . matches its DS (20326/RSASHA256/digest 2))';
    const lines = probeFailureLines({ reason }, { validating: true });
    expect(lines[0]).toBe(`dane-smtp: ${reason}: every destination is deferred`);
    expect(lines[1]).toMatch(/anchor file/);
    expect(probeFailureLines({ reason: 'resolver unreachable: network error: ECONNREFUSED', unreachable: true }, { validating: true })).toHaveLength(1);
    expect(probeFailureLines({ reason }, { validating: false })).toHaveLength(1);
    expect(probeFailureLines({ reason: 'aborted by the caller' }, { validating: false, interrupted: 'interrupted (SIGINT)' })[0]).toMatch(/^dane-smtp: interrupted \(SIGINT\)/);
  });
});

describe('scan and report', () => {
  it('an --out file that is not a scan file is one line on stderr, even with malformed input lines', async () => {
    const list = join(dir, 'list.txt');
    writeFileSync(list, 'good.example\nnot a domain\nuser@example.test\n');
    const notDb = join(dir, 'not-a-db.txt');
    writeFileSync(notDb, 'this is not SQLite\n'.repeat(200));
    const err = captureStderr();
    const o: ScanCliOptions = { out: notDb, domainBudget: '120', progress: false, level: 'dane', port: '25', timeout: '5', resolver: '127.0.0.1', helo: 'client.test' };
    await expect(runScan(list, o)).rejects.toMatchObject({ code: 'USAGE' });
    expect(err.text(), 'nothing on stderr before the usage line, which main() prints').toBe('');
  });

  it('notice sentences are separate sentences, even when a finding ends with a parenthesis', () => {
    expect(sentence('no usable TLSA record is left (RFC 7672 §2.2)')).toBe('no usable TLSA record is left (RFC 7672 §2.2).');
    expect(sentence('TLSA 0 0 1 0fd3… at mx.example.test: usage 0')).toBe('TLSA 0 0 1 0fd3… at mx.example.test: usage 0.');
    expect(sentence('mx.example.test: the key changed.')).toBe('mx.example.test: the key changed.');
  });

  it('a run line counts in the singular and plural', () => {
    const run: RunSummary = {
      id: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      status: 'complete',
      input: 'list.txt',
      shard: '1/1',
      total: 9,
      skipped: 0,
      checked: 9,
      malformed: 1,
      duplicates: 1,
      wallMs: 1000,
      cpuMs: 100,
      maxRssKb: 60_000,
      domainsPerSecond: 9,
    };
    expect(renderRun(run)).toContain('(1 malformed line, 1 duplicate)');
    expect(renderRun({ ...run, malformed: 2, duplicates: 3 })).toContain('(2 malformed lines, 3 duplicates)');
  });
});

describe('tlsa', () => {
  it('--timeout has the same range and message as check', async () => {
    const io = { stdout: () => {}, stderr: () => {}, now: () => new Date(), resolvConf: () => '', resolveHost: async () => [] };
    for (const bad of ['0', 'abc', '5000', '-1']) {
      await expect(runTlsa('/nonexistent', { timeout: bad }, io)).rejects.toThrow(`--timeout must be a number of seconds from 0.001 to 3600, not '${bad}'`);
    }
  });
});

describe('--level', () => {
  it('is case-insensitive, like the levels in the policy table', async () => {
    const { policySettings } = await import('../../../src/cli/options.js');
    expect(policySettings({ level: 'DANE-ONLY' } as never).level).toBe('dane-only');
    expect(() => policySettings({ level: 'halfdane' } as never)).toThrow(/--level must be one of/);
  });
});
