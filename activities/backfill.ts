// One run over the chosen sources — code, commits, docs, PRs, issues — into staging. `backfill`
// reads each source whole (from --since for history); `ingest` reads only what is new since each
// source's cursor and keeps the corpus current (retires pairs whose evidence changed or vanished).
// Either way, ids already stored are skipped, so re-running adds nothing.
import { randomBytes } from 'node:crypto';
import type { SymbolKind } from '../datasets/schemas.js';
import { Stores } from '../datasets/store.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { formatStageTable, StageStats } from '../lib/progress.js';
import { codeSource, type CodeTotals } from './code-source.js';
import { commitSource } from './commit-source.js';
import type { RunContext, SourceOutcome } from './context.js';
import { docsSource } from './docs-source.js';
import type { FetchStats } from './github.js';
import { githubSource } from './github-source.js';
import { PairSink, type SinkCounts } from './pair-sink.js';
import { selfInstructSource, type ModelRun } from './self-instruct-source.js';
import { detectLicense, resolveRepo, type ResolvedRepo } from './repo.js';

/** A run's result: code totals, the sink's counts over all sources, and a line per source. */
export interface BackfillResult extends CodeTotals, SinkCounts {
  runId: string;
  command: string;
  incremental: boolean;
  repo: ResolvedRepo;
  license: string;
  sources: SourceOutcome[];
  github: { requests: number; listings: Record<string, FetchStats> } | null;
  /** The model step: which models, tokens and calls (null when no record was sampled for it). */
  models: ModelRun | null;
  retired: number;
  nearDuplicates: number;
  stages: ReturnType<StageStats['toJSON']>[];
  seconds: number;
  /** Peak resident memory of the process so far, worker threads included (MB). */
  peakRssMb: number;
}

export const runBackfill = (cfg: Config, log: Logger, command = 'backfill') => runSources(cfg, log, { command, incremental: false });
export const runIngest = (cfg: Config, log: Logger, command = 'ingest') => runSources(cfg, log, { command, incremental: true });

export async function runSources(
  cfg: Config,
  log: Logger,
  opts: { command: string; incremental: boolean; slice?: { index: number; count: number }; holdCursors?: boolean },
): Promise<BackfillResult> {
  const t0 = performance.now();
  const runId = `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const startedAt = new Date().toISOString();
  const want = new Set(cfg.sources);
  const stores = await Stores.openFor(cfg);
  try {
    // Commit diffs over long history need the blobs: a URL is then cloned in full, not blobless.
    const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log, { full: want.has('commits') }, cfg.github);
    const { license } = await detectLicense(repo.path, repo.sha);
    log.info({ runId, repo: repo.repo, commit: repo.sha, license, sources: cfg.sources, incremental: opts.incremental }, `${opts.command} started`);
    const stages = [new StageStats('validate'), new StageStats('stage')];
    const sink = new PairSink(stores, runId, cfg.nearDupThreshold, stages[0]!, stages[1]!);
    const ctx: RunContext = { cfg, log, stores, sink, repo, runId, incremental: opts.incremental, stages, slice: opts.slice, holdCursors: opts.holdCursors };
    const totals: CodeTotals = { files: 0, bytes: 0, symbols: { module: 0, class: 0, function: 0, method: 0 } as Record<SymbolKind, number>, sourceRecords: 0 };
    const outcomes: SourceOutcome[] = [];
    let github: BackfillResult['github'] = null;
    if (want.has('code')) outcomes.push(await codeSource(ctx, totals));
    if (want.has('docs')) outcomes.push(await docsSource(ctx));
    if (want.has('commits')) outcomes.push(await commitSource(ctx));
    if (want.has('prs') || want.has('issues')) {
      const g = await githubSource(ctx, { prs: want.has('prs'), issues: want.has('issues') });
      outcomes.push(...g.outcomes);
      github = { requests: g.requests, listings: g.fetch };
    }
    await sink.flush(true);
    // Model-written pairs come after the rule-based ones, from the records now stored; a batch of a
    // cut-up backfill leaves them to the run that reads the other sources.
    let models: ModelRun | null = null;
    if (!opts.slice && cfg.models.llmSample !== 0) {
      const m = await selfInstructSource(ctx);
      outcomes.push(m.outcome);
      models = m.models;
      await sink.flush(true);
    }

    const sum = (k: keyof SourceOutcome) => outcomes.reduce((a, o) => a + (o[k] as number), 0);
    const result: BackfillResult = {
      runId,
      command: opts.command,
      incremental: opts.incremental,
      repo,
      license,
      ...totals,
      sources: outcomes,
      github,
      models,
      ...sink.counts,
      retired: sum('retired'),
      nearDuplicates: sink.nearDuplicates,
      stages: stages.map((s) => s.toJSON()),
      seconds: (performance.now() - t0) / 1000,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    await stores.add('runs', [
      {
        run_id: runId,
        command: opts.command,
        repo: repo.repo,
        commit: repo.sha,
        license,
        started_at: startedAt,
        finished_at: new Date().toISOString(),
        stats: JSON.stringify({ ...result, repo: { repo: repo.repo, sha: repo.sha, path: repo.path } }),
      },
    ]);
    log.info(
      { runId, sources: Object.fromEntries(outcomes.map((o) => [o.source, { units: o.units, staged: o.staged, retired: o.retired }])), staged: result.staged, rejected: result.rejected, retired: result.retired, seconds: Math.round(result.seconds * 100) / 100 },
      `${opts.command} finished`,
    );
    if (log.level !== 'silent')
      process.stderr.write(
        `\n${formatStageTable(stages)}\n(extract/generate/validate seconds of code are worker CPU time; total wall ${result.seconds.toFixed(2)} s, peak RSS ${result.peakRssMb} MB)\n${formatOutcomes(outcomes)}\n`,
      );
    return result;
  } finally {
    stores.close();
  }
}

/** One line per source: what it covered and what it added. */
export function formatOutcomes(outcomes: SourceOutcome[]): string {
  return outcomes
    .map((o) => {
      const range = o.from || o.to ? ` ${o.from ? o.from.slice(0, 12) : 'start'} → ${o.to ? o.to.slice(0, 12) : '-'}` : '';
      return `${o.source.padEnd(8)}${range}: ${o.units} read, ${o.records} records, ${o.staged} staged, ${o.rejected} rejected, ${o.alreadyKnown} known, ${o.retired} retired${o.note ? ` (${o.note})` : ''}`;
    })
    .join('\n');
}
