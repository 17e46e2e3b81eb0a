// The corrections source: accepted feedback corrections whose pair is not stored yet. `feedback
// accept` marks a correction accepted and then runs this source alone; a run of the pipeline picks up
// any an accept left unstaged (stopped between the two). Each pair was checked and judged when it was
// proposed (serve/corrections.ts): it goes to the sink as checked, replacing the pairs the flagged
// answer cited (retired at promotion, "disputed by feedback <id>"), so it is neither a duplicate of
// them nor ambiguous with them; against every other pair the sink's checks hold as for any pair.
import { readCorrections, type CorrectionRow } from '../datasets/corrections.js';
import { QAPair } from '../datasets/schemas.js';
import { sqlString, type Stores } from '../datasets/store.js';
import type { Config } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { StageStats } from '../lib/progress.js';
import type { RunContext, SourceOutcome } from './context.js';
import { PairSink } from './pair-sink.js';
import type { ResolvedRepo } from './repo.js';
import { runSource, type Source, type SourcePlan } from './source.js';

interface CorrectionsPlan extends SourcePlan {
  corrections: CorrectionRow[];
}

/** Accepted corrections whose pair is neither staged nor rejected yet, oldest first. */
export async function unstagedCorrections(stores: Stores): Promise<CorrectionRow[]> {
  // A data dir nobody reviewed feedback in has no corrections table: a run does not create one.
  if (!(await stores.db.tableNames()).includes('corrections')) return [];
  const accepted = [...(await readCorrections(stores, "status = 'accepted'")).values()].filter((c) => c.pair_id && c.pair);
  const stored = new Set<string>();
  for (let i = 0; i < accepted.length; i += 500) {
    const ids = accepted.slice(i, i + 500).map((c) => sqlString(c.pair_id!));
    for (const table of ['staging', 'rejected'] as const)
      for await (const rows of stores.scan(table, ['id'], `id IN (${ids.join(',')})`)) for (const r of rows) stored.add(r.id as string);
  }
  return accepted.filter((c) => !stored.has(c.pair_id!)).sort((a, b) => (a.updated_at === b.updated_at ? (a.feedback_id < b.feedback_id ? -1 : 1) : a.updated_at < b.updated_at ? -1 : 1));
}

export const correctionsSource: Source<CorrectionsPlan> = {
  name: 'corrections',
  async plan(run) {
    const corrections = await unstagedCorrections(run.stores);
    // Nothing is extracted or generated now: that happened when the correction was proposed.
    return { from: null, to: null, total: corrections.length, unitName: 'corrections', stageNames: { extract: null, generate: null }, cursor: null, corrections };
  },
  note: (_plan, done) => (done.units ? `${done.units} accepted corrections` : 'nothing to stage'),
  async *read(_run, plan) {
    for (const c of plan.corrections) {
      const pair = QAPair.parse(JSON.parse(c.pair!));
      // The proposal's duplicate and ambiguity checks were against the live pairs then; the sink's are now.
      pair.verdicts = pair.verdicts.filter((v) => v.check !== 'dedup' && v.check !== 'ambiguity');
      yield { checked: [{ pair }], replaces: JSON.parse(c.disputed) as string[] };
    }
  },
};

/**
 * The repository the data dir's latest run read, for a run that reads none (the corrections source
 * alone): it names the commit of skip rows, and the corrections source writes none.
 */
async function lastRunRepo(stores: Stores): Promise<ResolvedRepo> {
  let last: { at: string; repo: string; sha: string; stats: string } | null = null;
  for await (const rows of stores.scan('runs', ['repo', 'commit', 'finished_at', 'stats']))
    for (const r of rows) if (!last || (r.finished_at as string) > last.at) last = { at: r.finished_at as string, repo: r.repo as string, sha: r.commit as string, stats: r.stats as string };
  if (!last) throw new UserError(`the data dir ${stores.dataDir} holds no run: run \`qaforge backfill --repo <path|url>\` first`);
  const path = (JSON.parse(last.stats) as { repo?: { path?: string } }).repo?.path ?? '';
  return { repo: last.repo, sha: last.sha, webUrl: null, path, spec: path };
}

/** The corrections source run alone, as `feedback accept` runs it: a pipeline of one with its own sink. */
export async function runCorrections(stores: Stores, cfg: Config, log: Logger, runId: string): Promise<{ outcome: SourceOutcome; stages: StageStats[] }> {
  const stages = [new StageStats('validate'), new StageStats('stage')];
  const sink = new PairSink(stores, runId, cfg.nearDupThreshold, stages[0]!, stages[1]!);
  try {
    const run: RunContext = { cfg, log, stores, sink, repo: await lastRunRepo(stores), runId, incremental: true, stages };
    const [outcome] = await runSource(run, correctionsSource);
    return { outcome: outcome!, stages };
  } finally {
    sink.close();
  }
}
