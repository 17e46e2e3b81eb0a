// Progress for long work (a bar on a TTY, periodic log lines otherwise) and per-stage run stats.
import cliProgress from 'cli-progress';
import type { Logger } from './log.js';

export interface Progress {
  tick(n?: number, info?: string): void;
  stop(): void;
}

export function startProgress(label: string, total: number, log: Logger, unit = 'files'): Progress {
  let done = 0;
  if (process.stderr.isTTY && log.level !== 'silent') {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {eta_formatted} left | {info}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { info: '' });
    return {
      tick: (n = 1, info = '') => bar.increment(n, { info }),
      stop: () => bar.stop(),
    };
  }
  const started = Date.now();
  let last = started;
  return {
    tick: (n = 1, info = '') => {
      done += n;
      const now = Date.now();
      if (now - last >= 5000 || done === total) {
        last = now;
        log.info({ stage: label, done, total, seconds: Math.round((now - started) / 100) / 10, info }, `${label}: ${done}/${total} ${unit}`);
      }
    },
    stop: () => undefined,
  };
}

/** What one stage saw, kept, rejected (by reason) and how long it took. */
export class StageStats {
  seen = 0;
  kept = 0;
  rejected: Record<string, number> = {};
  seconds = 0;
  constructor(readonly name: string) {}

  reject(reason: string, n = 1): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + n;
  }
  get rejectedTotal(): number {
    return Object.values(this.rejected).reduce((a, b) => a + b, 0);
  }
  toJSON() {
    return { stage: this.name, seen: this.seen, kept: this.kept, rejected: this.rejected, seconds: Math.round(this.seconds * 1000) / 1000 };
  }
}

/** A fixed-width table of stage stats, for the end of a run. */
export function formatStageTable(stages: StageStats[]): string {
  const rows = stages.map((s) => [
    s.name,
    String(s.seen),
    String(s.kept),
    Object.entries(s.rejected)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r}=${n}`)
      .join(' ') || '-',
    s.seconds.toFixed(2),
  ]);
  const head = ['stage', 'seen', 'kept', 'rejected (by reason)', 'seconds'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}
