import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseDomainList } from '../../../src/scan/input.js';
import { inShard, parseShard, shardOf, ShardSyntaxError } from '../../../src/scan/shard.js';
import { formatDuration, formatProgress, progressWidth } from '../../../src/scan/progress.js';

afterEach(() => vi.restoreAllMocks());

describe('scan input', () => {
  it('reads one domain per line; comments, blank lines, CRLF and a trailing dot are fine', () => {
    const list = parseDomainList('# survey\r\nExample.ORG\r\n\n  example.net.  # trailing comment\n\t\nbücher.example\n');
    expect(list.domains).toEqual(['example.org', 'example.net', 'xn--bcher-kva.example']);
    expect(list.malformed).toEqual([]);
  });

  it('reports malformed lines with their number and goes on', () => {
    const list = parseDomainList('good.example\ntwo words.example\nuser@mail.example\nlocalhost\n1.2.3.4\n-bad-.example\nlast.example');
    expect(list.domains).toEqual(['good.example', 'last.example']);
    expect(list.malformed.map((m) => m.line)).toEqual([2, 3, 4, 5, 6]);
    expect(list.malformed[0]!.reason).toMatch(/one domain per line/);
    expect(list.malformed[1]!.reason).toMatch(/address/);
    expect(list.malformed[2]!.text).toBe('localhost');
  });

  it('checks a duplicate once and counts it', () => {
    const list = parseDomainList('a.example\nA.example.\nb.example\na.example\n');
    expect(list.domains).toEqual(['a.example', 'b.example']);
    expect(list.duplicates).toBe(2);
  });

  it('an empty input is an empty list', () => {
    expect(parseDomainList('')).toEqual({ domains: [], malformed: [], duplicates: 0 });
  });
});

describe('--shard I/N', () => {
  const domains = Array.from({ length: 2000 }, (_, i) => `d${i}.example`);

  it('parses I/N and refuses the rest', () => {
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8 });
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '1/2/3', '-1/2']) expect(() => parseShard(bad), bad).toThrow(ShardSyntaxError);
  });

  it('is deterministic: fixed values, any order, any case, trailing dot', () => {
    // Pinned: machines running other builds must agree.
    expect(shardOf('example.org', 4)).toBe(shardOf('EXAMPLE.org.', 4));
    expect([shardOf('example.org', 7), shardOf('example.net', 7), shardOf('example.com', 7), shardOf('example.org', 1000)]).toEqual([4, 5, 5, 862]);
    const a = domains.filter((d) => inShard(d, { index: 3, count: 5 }));
    const b = [...domains].reverse().filter((d) => inShard(d, { index: 3, count: 5 })).reverse();
    expect(a).toEqual(b);
  });

  it('the N shards partition the list, evenly enough', () => {
    const n = 5;
    const shards = Array.from({ length: n }, (_, i) => domains.filter((d) => inShard(d, { index: i + 1, count: n })));
    expect(shards.flat().sort()).toEqual([...domains].sort());
    for (const s of shards) expect(s.length).toBeGreaterThan((domains.length / n) * 0.8);
    expect(domains.filter((d) => inShard(d, undefined))).toHaveLength(domains.length);
  });
});

describe('progress line', () => {
  it('shows done/total, rate, ETA and verdict counts within the width', () => {
    const line = formatProgress({ done: 250, total: 1000, elapsedMs: 10_000, verdicts: { 'dane-authenticated': 200, tempfail: 50 } }, 120);
    expect(line).toContain('250/1000');
    expect(line).toContain('25.0%');
    expect(line).toContain('25/s');
    expect(line).toContain('ETA 30s');
    expect(line).toContain('dane 200 temp 50');
    expect(line.length).toBeLessThanOrEqual(120);
    expect(formatProgress({ done: 0, total: 10, elapsedMs: 0, verdicts: {} }, 60)).toContain('ETA ?');
    expect(formatProgress({ done: 1, total: 10, elapsedMs: 5, verdicts: { opportunistic: 1 } }, 40).length).toBeLessThanOrEqual(40);
    // Verdicts in a fixed order; on a narrow terminal the bar goes first, the counts stay.
    const state = { done: 56, total: 56, elapsedMs: 3300, verdicts: { tempfail: 16, 'dane-authenticated': 26, opportunistic: 6, 'encrypt-unauthenticated': 5, undeliverable: 3 } };
    expect(formatProgress(state, 79)).toBe('[##############] 56/56 100.0% 17/s ETA 0s | dane 26 enc 5 opp 6 temp 16 undel 3');
    expect(formatProgress(state, 64)).toBe('56/56 100.0% 17/s ETA 0s | dane 26 enc 5 opp 6 temp 16 undel 3');
    // A narrow terminal and big numbers: the head shrinks so that every verdict count stays visible.
    const big = { done: 123_456, total: 1_000_000, elapsedMs: 3_600_000, verdicts: { 'dane-authenticated': 98_765, 'encrypt-unauthenticated': 1234, opportunistic: 20_000, tempfail: 3000, undeliverable: 457 } };
    const narrow = formatProgress(big, 79);
    expect(narrow.length).toBeLessThanOrEqual(79);
    expect(narrow).toContain('| dane 98765 enc 1234 opp 20000 temp 3000 undel 457');
    expect(narrow).toMatch(/123456\/1000000 \| dane/);
  });

  it('fits the terminal; a terminal of unknown size (0 columns, as under script) gets 80, not the 40-column minimum', () => {
    expect(progressWidth(120)).toBe(119);
    expect(progressWidth(20)).toBe(40);
    expect(progressWidth(0)).toBe(79);
    expect(progressWidth(undefined)).toBe(79);
  });

  it('formats durations', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7260)).toBe('2h01m');
  });
});

describe('scan input as pasted by an operator', () => {
  it('case, trailing dots, a BOM, CRLF, IDN U-labels (any case) → one lower-case A-label each; duplicates counted', () => {
    const list = parseDomainList(['\uFEFFExample.COM.', 'example.com', 'BÜCHER.example', 'bücher.example', 'xn--bcher-kva.example', 'münchen.de\t# comment', '例え.テスト', '', '# only a comment', '  Example.Com  '].join('\r\n'));
    expect(list.domains).toEqual(['example.com', 'xn--bcher-kva.example', 'xn--mnchen-3ya.de', 'xn--r8jz45g.xn--zckzah']);
    expect(list.duplicates).toBe(4);
    expect(list.malformed).toEqual([]);
  });

  it('addresses, URLs, CSV lines, IP addresses are malformed, with their line numbers and a reason that says what they are', () => {
    const text = ['ok.example', 'user@example.org', 'mailto:user@example.org', 'https://www.example.net/path', 'www.example.net/', '1,example.com', 'example.com..', '192.0.2.1', '[192.0.2.1]', 'localhost', 'MX example.com', 'example.com:25'].join('\n');
    const list = parseDomainList(text);
    expect(list.domains).toEqual(['ok.example']);
    expect(list.malformed.map((m) => [m.line, m.reason])).toEqual([
      [2, 'an address, not a domain'],
      [3, 'an address, not a domain'],
      [4, 'a URL, not a domain'],
      [5, 'a URL, not a domain'],
      [6, 'not a mail domain (a CSV line? one domain per line)'],
      [7, 'not a mail domain'],
      [8, 'not a mail domain'],
      [9, 'not a mail domain'],
      [10, 'not a mail domain'],
      [11, 'more than one word on the line (one domain per line)'],
      [12, 'not a mail domain'],
    ]);
    expect(list.malformed[2]!.text).toBe('https://www.example.net/path');
  });
});

describe('--shard I/N: every domain in exactly one shard', () => {
  const domains = Array.from({ length: 2000 }, (_, i) => `d${i}.example`);

  it('for every N, the union of the N shards is the input and no domain is in two shards', () => {
    for (const count of [1, 2, 3, 7, 16]) {
      const seen = new Map<string, number>();
      for (let index = 1; index <= count; index++) {
        for (const d of domains.filter((x) => inShard(x, parseShard(`${index}/${count}`)))) seen.set(d, (seen.get(d) ?? 0) + 1);
      }
      expect(seen.size, `N=${count}`).toBe(domains.length);
      expect([...seen.values()].every((v) => v === 1), `N=${count}`).toBe(true);
    }
  });

  it('is the same for the same domain however it is written in the input (case, trailing dot, U-label)', () => {
    const a = parseDomainList('BÜCHER.example.\n').domains[0]!;
    const b = parseDomainList('xn--bcher-kva.example\n').domains[0]!;
    expect(shardOf(a, 5)).toBe(shardOf(b, 5));
    expect(parseShard(' 2/8 ')).toEqual({ index: 2, count: 8 });
  });
});
