// What the file sources (code, docs) share: which files a run reads — all of them, or those changed
// since the source's cursor — and which groups (paths) it watches for retirement.
import picomatch from 'picomatch';
import type { SourceKind } from '../datasets/schemas.js';
import { readMode, type RunContext } from './context.js';
import type { SourcePlan, UnitResult } from './source.js';
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

export interface FilePlan extends SourcePlan {
  source: 'code' | 'docs';
  kind: SourceKind;
  /** A backfill of a revision older than the cursor: nothing is retired, the cursor stays. */
  behind: boolean;
  files: TreeEntry[];
  /** Matching symlinks and submodules: recorded as skipped, never read. */
  notFiles: NotAFile[];
  changes: ChangeSet | null;
}

/**
 * Which files a file source reads this run, the groups (paths) it watches — the changes' groups, or
 * every file read — and the cursor it moves when done.
 */
export async function planFiles(ctx: RunContext, source: 'code' | 'docs', kind: SourceKind, include: string[]): Promise<FilePlan> {
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
  const short = repo.sha.slice(0, 12);
  return {
    source,
    kind,
    from,
    to: repo.sha,
    behind,
    files,
    notFiles,
    changes,
    total: files.length + notFiles.length,
    unitName: 'files',
    watch: behind ? undefined : { kinds: [kind], groups },
    retire: { commit: repo.sha, why: changes ? changes.why : () => `evidence changed in ${short}` },
    cursor: behind ? null : { name: source, value: repo.sha },
  };
}

/** The outcome line's note of a file source. */
export const filePlanNote = (plan: FilePlan): string | null =>
  plan.from === plan.to ? 'nothing new' : plan.from ? `${plan.files.length} changed files` : null;

/** A file over maxFileBytes: recorded, never read. */
export const tooLargeSkip = (f: TreeEntry, max: number) => ({
  stage: 'read' as const,
  skip: { path: f.path, reason: 'too_large' as const, detail: `${f.size} bytes > maxFileBytes ${max}` },
});

/** The entries that match the source paths but are no files (symlinks, submodules): one skip each. */
export function* notFileSkips(plan: FilePlan): Iterable<UnitResult> {
  for (const n of plan.notFiles) yield { skips: [{ stage: 'read', skip: { path: n.path, reason: n.reason, detail: n.detail } }] };
}
