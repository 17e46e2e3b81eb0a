// What every source of a run shares: config, stores, the pair sink, the repository, stage stats;
// and the steps the runner (activities/source.ts) takes for each: how a git source reads (from its
// cursor or whole), watching groups, retiring what vanished and refreshing what moved, moving the cursor.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { QAPair, SourceKind } from '../datasets/schemas.js';
import { livePairKeys, livePairsOf, refreshPairs, retirePairs, type LivePair } from '../datasets/reconcile.js';
import type { Stores } from '../datasets/store.js';
import type { Config, SourceName } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { StageStats } from '../lib/progress.js';
import { failpoint } from '../lib/failpoint.js';
import type { PairSink, SinkCounts } from './pair-sink.js';
import type { ResolvedRepo } from './repo.js';
import { cursorKey } from '../datasets/state-keys.js';

const execFileAsync = promisify(execFile);

export interface RunContext {
  cfg: Config;
  log: Logger;
  stores: Stores;
  sink: PairSink;
  repo: ResolvedRepo;
  runId: string;
  /** ingest: from the cursors; backfill: from the start (or --since), ignoring them. */
  incremental: boolean;
  stages: StageStats[];
  /** One batch of a backfill cut into batches: read only this share of the code files. */
  slice?: { index: number; count: number };
  /** Leave cursors where they are: the batched backfill moves them once every batch is done. */
  holdCursors?: boolean;
}

export function stage(ctx: RunContext, name: string): StageStats {
  let s = ctx.stages.find((x) => x.name === name);
  if (!s) {
    s = new StageStats(name);
    // The shared validate/stage rows stay last in the table.
    ctx.stages.splice(Math.max(0, ctx.stages.length - 2), 0, s);
  }
  return s;
}

export interface SourceOutcome {
  source: SourceName | 'self-instruct' | 'corrections';
  /** Cursor before and after: a sha for git sources, an update time for GitHub listings. */
  from: string | null;
  to: string | null;
  /** Units looked at: files, commits, issues + PRs, accepted corrections. */
  units: number;
  records: number;
  candidates: number;
  staged: number;
  rejected: number;
  alreadyKnown: number;
  retired: number;
  refreshed: number;
  note: string | null;
  seconds: number;
}


export async function readCursor(ctx: RunContext, source: SourceName): Promise<string | null> {
  return ctx.incremental ? ctx.stores.getState(cursorKey(source, ctx.repo.repo)) : null;
}

/**
 * How a git source reads this run: `diff` from the cursor (an ingest whose cursor is an ancestor of
 * HEAD), `full` and current (no cursor, a backfill moving forward, or history rewritten under an
 * ingest: everything is read and what vanished is retired), or `full` but `behind` (a backfill of
 * an older revision than the cursor: pairs are added, nothing is retired, the cursor stays).
 */
export async function readMode(ctx: RunContext, source: SourceName): Promise<{ mode: 'diff' | 'full'; cursor: string | null; behind: boolean }> {
  const cursor = await ctx.stores.getState(cursorKey(source, ctx.repo.repo));
  if (!cursor || cursor === ctx.repo.sha) return { mode: ctx.incremental && cursor ? 'diff' : 'full', cursor, behind: false };
  const forward = await isAncestor(ctx.repo.path, cursor, ctx.repo.sha);
  if (ctx.incremental && forward) return { mode: 'diff', cursor, behind: false };
  if (ctx.incremental) ctx.log.warn({ source, cursor }, `${source}: the cursor is not an ancestor of ${ctx.repo.sha.slice(0, 12)} (history rewritten?): reading everything`);
  else if (!forward) ctx.log.warn({ source, cursor }, `${source}: ${ctx.repo.sha.slice(0, 12)} is not ahead of the cursor: pairs are added, none retired, the cursor stays`);
  return { mode: 'full', cursor, behind: !ctx.incremental && !forward };
}

/** `git merge-base --is-ancestor` answers with its exit code, which simple-git does not surface. */
async function isAncestor(repoPath: string, a: string, b: string): Promise<boolean> {
  try {
    await execFileAsync('git', ['merge-base', '--is-ancestor', a, b], { cwd: repoPath });
    return true;
  } catch {
    return false;
  }
}

/** Counts of the sink since `before`: what one source added. */
export function sinkDelta(sink: PairSink, before: SinkCounts): Pick<SourceOutcome, 'candidates' | 'staged' | 'rejected' | 'alreadyKnown' | 'refreshed'> {
  const c = sink.counts;
  return {
    candidates: c.candidates - before.candidates,
    staged: c.staged - before.staged,
    rejected: c.rejected - before.rejected,
    alreadyKnown: c.alreadyKnown - before.alreadyKnown,
    refreshed: c.refreshed - before.refreshed,
  };
}

/** Starts watching the live pairs of the groups a step is about to process again. */
export async function watchGroups(ctx: RunContext, kinds: SourceKind[], groups: Iterable<string>): Promise<void> {
  const list = [...groups];
  if (!list.length) return;
  await ctx.sink.ready();
  ctx.sink.watch(await livePairsOf(ctx.stores, kinds, list));
}

/** Stored pairs that a unit's pairs replace: the sink forgets their keys (see PairSink.forget). */
export async function forgetPairs(ctx: RunContext, ids: string[]): Promise<void> {
  await ctx.sink.ready();
  ctx.sink.forget(await livePairKeys(ctx.stores, ids));
}

/**
 * After a step's pairs are flushed: pairs of the watched groups that were not produced again are
 * retired (with the commit and why, by group), pairs produced again get their new provenance.
 * Returns how many were retired.
 */
export async function reconcile(ctx: RunContext, commit: string, why: (group: string) => string): Promise<number> {
  const t0 = performance.now();
  await ctx.sink.flush(true);
  failpoint('reconcile.after-flush');
  const { vanished, reproduced, live } = ctx.sink.endWatch();
  const byReason = new Map<string, string[]>();
  for (const p of vanished) {
    const reason = why(p.group);
    byReason.set(reason, [...(byReason.get(reason) ?? []), p.id]);
  }
  const t1 = performance.now();
  for (const [reason, ids] of byReason) await retirePairs(ctx.stores, ids, commit, reason);
  const t2 = performance.now();
  await refreshPairs(ctx.stores, reproduced as QAPair[], live as Map<string, LivePair>, ctx.runId);
  const t3 = performance.now();
  failpoint('reconcile.before-cursor');
  if (vanished.length || reproduced.length)
    ctx.log.info(
      { retired: vanished.length, refreshed: reproduced.length, seconds: { flush: sec(t1 - t0), retire: sec(t2 - t1), refresh: sec(t3 - t2) } },
      'retired pairs whose evidence changed or vanished, refreshed those produced again',
    );
  stage(ctx, 'stage').seconds += (t3 - t1) / 1000;
  return vanished.length;
}

const sec = (ms: number) => Math.round(ms) / 1000;

/** Moves a source's cursor; called only once everything it covers is staged. */
export async function advanceCursor(ctx: RunContext, source: SourceName, value: string): Promise<void> {
  if (ctx.holdCursors) return;
  await ctx.stores.setState({ [cursorKey(source, ctx.repo.repo)]: value }, ctx.runId);
}
