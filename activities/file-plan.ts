// What the file sources (code, docs) share: which files a run reads — all of them, or those changed
// since the source's cursor — which groups (paths) it watches for retirement, and how it ends:
// retire what vanished, refresh what moved, move the cursor, say what it did.
import picomatch from 'picomatch';
import type { SourceKind } from '../datasets/schemas.js';
import type { SinkCounts } from './pair-sink.js';
import type { StageStats } from '../lib/progress.js';
import { advanceCursor, readMode, reconcile, sinkDelta, watchGroups, type RunContext, type SourceOutcome } from './context.js';
import { changedPaths } from './git-history.js';
import { listTree, type NotAFile, type TreeEntry } from './repo.js';

/** What changed between two commits among the paths a source reads, and why each group is re-read. */
export interface ChangeSet {
  /** Files to read at HEAD. */
  paths: Set<string>;
  /** Every group (path) whose live pairs are watched: changed, added, renamed (both names), deleted. */
  groups: Set<string>;
  /** Why a watched group's vanished pair is retired. */
  why(group: string): string;
}

export async function changeSet(repoPath: string, from: string, to: string, matches: (p: string) => boolean): Promise<ChangeSet> {
  const short = to.slice(0, 12);
  const paths = new Set<string>();
  const groups = new Set<string>();
  const reasons = new Map<string, string>();
  for (const c of await changedPaths(repoPath, from, to)) {
    const hit = matches(c.path);
    const oldHit = c.oldPath !== null && matches(c.oldPath);
    if (!hit && !oldHit) continue;
    if (c.status === 'D') {
      groups.add(c.path);
      reasons.set(c.path, `deleted in ${short}`);
      continue;
    }
    if (hit) {
      paths.add(c.path);
      groups.add(c.path);
    }
    if (c.oldPath && oldHit && c.oldPath !== c.path && c.status === 'R') {
      groups.add(c.oldPath);
      reasons.set(c.oldPath, hit ? `renamed to ${c.path} in ${short}` : `moved out of the sources (${c.path}) in ${short}`);
    }
  }
  return { paths, groups, why: (g) => reasons.get(g) ?? `evidence changed in ${short}` };
}

export interface FilePlan {
  source: 'code' | 'docs';
  kind: SourceKind;
  /** The cursor read from, or null for a full read. */
  from: string | null;
  /** A backfill of a revision older than the cursor: nothing is retired, the cursor stays. */
  behind: boolean;
  files: TreeEntry[];
  /** Matching symlinks and submodules: recorded as skipped, never read. */
  notFiles: NotAFile[];
  changes: ChangeSet | null;
  /** The groups whose live pairs are watched: the changes' groups, or every file read. */
  groups: Set<string>;
  t0: number;
  before: SinkCounts;
}

export async function planFiles(ctx: RunContext, source: 'code' | 'docs', kind: SourceKind, include: string[]): Promise<FilePlan> {
  const t0 = performance.now();
  const { cfg, repo } = ctx;
  const { mode, cursor, behind } = await readMode(ctx, source);
  const from = mode === 'diff' ? cursor : null;
  let { files, notFiles } = await listTree(repo.path, repo.sha, include, cfg.exclude);
  let changes: ChangeSet | null = null;
  if (from === repo.sha) {
    files = [];
    notFiles = [];
  }
  else if (from) {
    const isIncluded = picomatch(include, { dot: true });
    const isExcluded = cfg.exclude.length ? picomatch(cfg.exclude, { dot: true }) : () => false;
    const c = await changeSet(repo.path, from, repo.sha, (p) => isIncluded(p) && !isExcluded(p));
    files = files.filter((f) => c.paths.has(f.path));
    notFiles = notFiles.filter((f) => c.paths.has(f.path));
    changes = c;
  }
  // A batch of a batched backfill: every count-th file from index on (the list is sorted by path).
  if (ctx.slice && !changes) {
    files = files.filter((_, i) => i % ctx.slice!.count === ctx.slice!.index);
    notFiles = notFiles.filter((_, i) => i % ctx.slice!.count === ctx.slice!.index);
  }
  const groups = changes ? changes.groups : new Set(files.map((f) => f.path));
  return { source, kind, from, behind, files, notFiles, changes, groups, t0, before: { ...ctx.sink.counts } };
}

/** Loads what the stores hold (if there is anything to do) and watches the plan's groups. */
export async function watchPlan(ctx: RunContext, plan: FilePlan): Promise<void> {
  if (!plan.groups.size) return;
  await ctx.sink.ready();
  if (!plan.behind) await watchGroups(ctx, [plan.kind], plan.groups);
}

/** After the files are read: record the entries that were no files, retire, refresh, move the cursor, and the outcome line. */
export async function finishFiles(ctx: RunContext, plan: FilePlan, records: number, stRead: StageStats): Promise<SourceOutcome> {
  const { repo } = ctx;
  if (plan.notFiles.length) await ctx.sink.ready();
  for (const n of plan.notFiles) {
    ctx.sink.addSkip({ path: n.path, reason: n.reason, detail: n.detail }, repo.sha);
    stRead.seen++;
    stRead.reject(n.reason);
  }
  const retired = await reconcile(ctx, repo.sha, plan.changes ? plan.changes.why : () => `evidence changed in ${repo.sha.slice(0, 12)}`);
  if (!plan.behind) await advanceCursor(ctx, plan.source, repo.sha);
  return {
    source: plan.source,
    from: plan.from,
    to: repo.sha,
    units: plan.files.length,
    records,
    ...sinkDelta(ctx.sink, plan.before),
    retired,
    note: plan.from === repo.sha ? 'nothing new' : plan.from ? `${plan.files.length} changed files` : null,
    seconds: (performance.now() - plan.t0) / 1000,
  };
}
