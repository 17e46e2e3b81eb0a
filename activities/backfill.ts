// One run over the chosen sources — code, commits, docs, PRs, issues — into staging, and any accepted
// feedback correction not staged yet. `backfill` reads each source whole (from --since for history);
// `ingest` reads only what is new since each source's cursor and keeps the corpus current (retires
// pairs whose evidence changed or vanished). Either way, ids already stored are skipped, so
// re-running adds nothing.
import { randomBytes } from 'node:crypto';
import { Stores } from '../datasets/store.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { formatStageTable, StageStats } from '../lib/progress.js';
import { codeSource, emptyCodeTotals, type CodeTotals } from './code-source.js';
import { commitSource } from './commit-source.js';
import { correctionsSource, unstagedCorrections } from './corrections-source.js';
import type { RunContext, SourceOutcome } from './context.js';
import { docsSource } from './docs-source.js';
import { githubSource, type GithubFetch } from './github-source.js';
import { PairSink, type SinkCounts } from './pair-sink.js';
import { selfInstructSource, type ModelRun } from './self-instruct-source.js';
import { runSource, type Source } from './source.js';
import { detectLicense, resolveRepo, type ResolvedRepo } from './repo.js';

/** A run's result: code totals, the sink's counts over all sources, and a line per source. */
export interface BackfillResult extends CodeTotals, SinkCounts {
  runId: string;
  command: string;
  incremental: boolean;
  repo: ResolvedRepo;
  license: string;
  sources: SourceOutcome[];
  github: GithubFetch | null;
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
  opts: {
    command: string;
    incremental: boolean;
    slice?: { index: number; count: number };
    holdCursors?: boolean;
    /** Where the run's pairs go instead of the stores' sink (a fan-out batch writes a staging fragment: activities/fragments.ts). */
    sink?: (stores: Stores, runId: string, validate: StageStats, stage: StageStats) => PairSink;
  },
): Promise<BackfillResult> {
  const t0 = performance.now();
  const runId = `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const startedAt = new Date().toISOString();
  const want = new Set(cfg.sources);
  const stores = await Stores.openFor(cfg);
  let sink: PairSink | null = null;
  try {
    // Commit diffs over long history need the blobs: a URL is then cloned in full, not blobless.
    const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log, { full: want.has('commits') }, cfg.github);
    const { license } = await detectLicense(repo.path, repo.sha);
    log.info({ runId, repo: repo.repo, commit: repo.sha, license, sources: cfg.sources, incremental: opts.incremental }, `${opts.command} started`);
    const stages = [new StageStats('validate'), new StageStats('stage')];
    sink = opts.sink?.(stores, runId, stages[0]!, stages[1]!) ?? new PairSink(stores, runId, cfg.nearDupThreshold, stages[0]!, stages[1]!);
    const ctx: RunContext = { cfg, log, stores, sink, repo, runId, incremental: opts.incremental, stages, slice: opts.slice, holdCursors: opts.holdCursors };
    const totals = emptyCodeTotals();
    // The pipeline: a list of sources, each run through the one runner (activities/source.ts).
    // Model-written pairs come after the rule-based ones, from the records now stored; a batch of a
    // cut-up backfill leaves them to the run that reads the other sources.
    const github = want.has('prs') || want.has('issues') ? githubSource({ prs: want.has('prs'), issues: want.has('issues') }) : null;
    const model = !opts.slice && cfg.models.llmSample !== 0 ? selfInstructSource() : null;
    // Accepted feedback corrections an accept left unstaged come first, as if the accept had finished.
    const corrections = !opts.slice && (await unstagedCorrections(stores)).length > 0;
    const pipeline: Source<any>[] = [
      ...(corrections ? [correctionsSource] : []),
      ...(want.has('code') ? [codeSource(totals)] : []),
      ...(want.has('docs') ? [docsSource] : []),
      ...(want.has('commits') ? [commitSource] : []),
      ...(github ? [github] : []),
      ...(model ? [model] : []),
    ];
    const outcomes: SourceOutcome[] = [];
    for (const source of pipeline) outcomes.push(...(await runSource(ctx, source)));
    await sink.flush(true);
    const models = model?.modelRun() ?? null;

    const sum = (k: keyof SourceOutcome) => outcomes.reduce((a, o) => a + (o[k] as number), 0);
    const result: BackfillResult = {
      runId,
      command: opts.command,
      incremental: opts.incremental,
      repo,
      license,
      ...totals,
      sources: outcomes,
      github: github?.fetched() ?? null,
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
    sink?.close();
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
