/**
 * The progress line on stderr (only when stderr is a terminal): domains done / total, a
 * bar, the rate, the verdict counts so far and the time left, redrawn at most 10 times a
 * second in place.
 */
import type { Verdict } from '../core/result.js';

export const VERDICT_ABBREVIATIONS: Record<Verdict, string> = {
  'dane-authenticated': 'dane',
  'fingerprint-authenticated': 'fp',
  'pkix-authenticated': 'pkix',
  'encrypt-unauthenticated': 'enc',
  opportunistic: 'opp',
  tempfail: 'temp',
  undeliverable: 'undel',
};

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressState {
  done: number;
  total: number;
  elapsedMs: number;
  verdicts: Partial<Record<string, number>>;
}

/** One line, at most `width` characters. */
export function formatProgress(p: ProgressState, width = 100): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const rate = p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
  const eta = rate > 0 ? formatDuration((p.total - p.done) / rate) : '?';
  const order = Object.keys(VERDICT_ABBREVIATIONS);
  const counts = Object.entries(p.verdicts)
    .filter(([, n]) => (n ?? 0) > 0)
    .sort(([a], [b]) => (order.indexOf(a) >>> 0) - (order.indexOf(b) >>> 0))
    .map(([v, n]) => `${VERDICT_ABBREVIATIONS[v as Verdict] ?? v} ${n}`)
    .join(' ');
  const tail = counts ? ` | ${counts}` : '';
  // On a narrow terminal the verdict counts matter more than the rate and the time left:
  // shorten the head first (then the bar goes, below), cut only as a last resort.
  const heads = [
    `${p.done}/${p.total} ${(fraction * 100).toFixed(1)}% ${rate.toFixed(rate < 10 ? 1 : 0)}/s ETA ${eta}`,
    `${p.done}/${p.total} ${(fraction * 100).toFixed(0)}% ETA ${eta}`,
    `${p.done}/${p.total}`,
  ];
  const head = heads.find((h) => h.length + tail.length <= width) ?? heads[heads.length - 1]!;
  let barWidth = Math.min(30, width - head.length - tail.length - 3);
  if (barWidth < 5) barWidth = 0; // a narrow terminal: the numbers matter more than the bar
  const filled = Math.round(fraction * barWidth);
  const bar = barWidth > 0 ? `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ` : '';
  const line = `${bar}${head}${tail}`;
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) + '…' : line;
}

/**
 * The width of the line on a terminal of `columns` columns (one left free, so that the
 * cursor never wraps). A terminal that does not know its size reports 0 columns (a pty
 * from `script`, some CI runners): 80 then, a width a redraw in place survives.
 */
export function progressWidth(columns: number | undefined): number {
  return Math.max(40, (columns !== undefined && columns > 0 ? columns : 80) - 1);
}

export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #start = Date.now();
  readonly #state: ProgressState;
  #last = 0;
  #timer: NodeJS.Timeout | undefined;
  #shown = false;

  constructor(stream: NodeJS.WriteStream, total: number) {
    this.#stream = stream;
    this.#state = { done: 0, total, elapsedMs: 0, verdicts: {} };
    // Redraw now and then even when nothing finishes (the ETA and rate move).
    this.#timer = setInterval(() => this.#draw(), 1000);
    this.#timer.unref();
  }

  add(verdict: string): void {
    this.#state.done++;
    this.#state.verdicts[verdict] = (this.#state.verdicts[verdict] ?? 0) + 1;
    if (Date.now() - this.#last >= 100) this.#draw();
  }

  /** Clears the line, so that other stderr output starts on a clean line. */
  clear(): void {
    if (this.#shown) this.#stream.write('\r\x1b[K');
    this.#shown = false;
  }

  /** Final state, then a newline. */
  finish(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#draw();
    this.#stream.write('\n');
    this.#shown = false;
  }

  #draw(): void {
    this.#last = Date.now();
    this.#state.elapsedMs = this.#last - this.#start;
    const width = progressWidth(this.#stream.columns);
    this.#stream.write(`\r${formatProgress(this.#state, width)}\x1b[K`);
    this.#shown = true;
  }
}
