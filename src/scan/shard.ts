/**
 * `--shard I/N`: several machines split one survey. A domain belongs to shard I (1..N) when
 * the first 8 bytes of SHA-256(domain), as an unsigned integer, are I-1 modulo N. The
 * hash depends on the normalised domain only: every machine, every run, every input
 * order agrees, and the N shards together are the whole list with no overlap.
 */
import { createHash } from 'node:crypto';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export class ShardSyntaxError extends Error {}

export function parseShard(spec: string): Shard {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(spec.trim());
  if (!m) throw new ShardSyntaxError(`--shard must be I/N (e.g. 2/8), not '${spec}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new ShardSyntaxError(`--shard I/N needs 1 <= I <= N, not '${spec}'`);
  return { index, count };
}

/** 0..count-1 */
export function shardOf(domain: string, count: number): number {
  const digest = createHash('sha256').update(domain.toLowerCase().replace(/\.$/, '')).digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count));
}

export function inShard(domain: string, shard: Shard | undefined): boolean {
  return !shard || shardOf(domain, shard.count) === shard.index - 1;
}

export function shardText(shard: Shard | undefined): string {
  return shard ? `${shard.index}/${shard.count}` : '1/1';
}
