// The code source: Python files at HEAD → symbols → rule pairs, on worker threads. A backfill reads
// every file; an ingest reads only the files changed since the code cursor, and retires the pairs
// of changed, renamed and deleted files that were not produced again.
import type { SkipRecord, SymbolKind } from '../datasets/schemas.js';
import picomatch from 'picomatch';
import { BANDS, NUM_PERM } from '../validators/dedup.js';
import { restoreContexts, type CodeBatchOutput } from './code-batch.js';
import { batchFiles, batchRunner, runBatchesInOrder } from './code-pool.js';
import { advanceCursor, readMode, reconcile, sinkDelta, stage, watchGroups, type RunContext, type SourceOutcome } from './context.js';
import { changedPaths } from './git-history.js';
import { BlobReader, listFiles, type TreeEntry } from './repo.js';
import { startProgress } from '../lib/progress.js';

// Skip reasons of the extract stage; the others (binary, not_utf8, read_error) are the read stage's.
const EXTRACT_REASONS = new Set(['syntax_error', 'extract_error']);

export interface CodeTotals {
  files: number;
  bytes: number;
  symbols: Record<SymbolKind, number>;
  sourceRecords: number;
}

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

export async function codeSource(ctx: RunContext, totals: CodeTotals): Promise<SourceOutcome> {
  const t0 = performance.now();
  const { cfg, repo, sink, log } = ctx;
  const before = { ...sink.counts };
  const stRead = stage(ctx, 'code.read');
  const stExtract = stage(ctx, 'code.extract');
  const stGenerate = stage(ctx, 'code.generate');
  const { mode, cursor, behind } = await readMode(ctx, 'code');
  const from = mode === 'diff' ? cursor : null;
  const listed = await listFiles(repo.path, repo.sha, cfg.include, cfg.exclude);
  let files: TreeEntry[] = listed;
  let changes: ChangeSet | null = null;
  if (from === repo.sha) files = [];
  else if (from) {
    const isIncluded = picomatch(cfg.include, { dot: true });
    const isExcluded = cfg.exclude.length ? picomatch(cfg.exclude, { dot: true }) : () => false;
    changes = await changeSet(repo.path, from, repo.sha, (p) => isIncluded(p) && !isExcluded(p));
    files = listed.filter((f) => changes!.paths.has(f.path));
  }
  // What the stores hold is loaded while the workers start extracting; the first result waits for it.
  // A full read reconciles the files it reads; an incremental one also deleted and renamed ones.
  const groups = changes ? changes.groups : files.map((f) => f.path);
  const loading = files.length || (changes && changes.groups.size) ? sink.ready() : Promise.resolve();
  loading.catch(() => undefined);
  let watching: Promise<void> | null = null;
  const startWatch = () =>
    (watching ??= (async () => {
      await loading;
      if (!behind) await watchGroups(ctx, ['code_symbol'], groups);
    })());
  stRead.seen += files.length;
  const tooLarge = files.filter((f) => f.size > cfg.maxFileBytes);
  const readable = files.filter((f) => f.size <= cfg.maxFileBytes);

  let records = 0;
  const handleOutput = async (out: CodeBatchOutput) => {
    await startWatch();
    restoreContexts(out);
    totals.files += out.files;
    totals.bytes += out.bytes;
    for (const k of Object.keys(out.symbols) as SymbolKind[]) totals.symbols[k] += out.symbols[k];
    for (const s of out.skips) {
      sink.addSkip(s, repo.sha);
      (EXTRACT_REASONS.has(s.reason) ? stExtract : stRead).reject(s.reason);
    }
    const unreadable = out.skips.filter((s) => !EXTRACT_REASONS.has(s.reason)).length;
    stRead.kept += out.files - unreadable;
    stExtract.seen += out.files - unreadable;
    stExtract.kept += out.records.length;
    stExtract.seconds += out.seconds.extract;
    stGenerate.seen += out.records.length;
    stGenerate.kept += out.pairs.length;
    stGenerate.seconds += out.seconds.generate;
    stage(ctx, 'validate').seconds += out.seconds.validate;
    records += out.records.length;
    sink.addRecords(out.records);
    out.pairs.forEach((p, i) => sink.addPair(p, out.signatures.subarray(i * NUM_PERM, (i + 1) * NUM_PERM), out.bands.subarray(i * BANDS, (i + 1) * BANDS)));
    await sink.flush();
  };

  const unreadable: SkipRecord[] = [];
  if (readable.length) {
    const runner = batchRunner(Math.min(cfg.workers, Math.max(1, Math.ceil(readable.length / 8))));
    const reader = new BlobReader(repo.path);
    const progress = startProgress('code', readable.length, log);
    try {
      const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
      stRead.seconds += await runBatchesInOrder(batchFiles(readable, cfg.taskBytes), reader, {
        window: Math.max(2, cfg.workers * 2),
        submit: (blobs) => runner.run({ files: blobs, ref, limits: cfg.limits }),
        consume: async (out) => {
          await handleOutput(out);
          progress.tick(out.files, `${sink.counts.staged} staged`);
        },
        // A blob that cannot be read (say, a blobless clone that lost its network) is recorded, not fatal.
        unreadable: (f, e) => {
          unreadable.push({ path: f.path, reason: 'read_error', detail: e.message });
          progress.tick(1);
        },
      });
    } finally {
      progress.stop();
      reader.close();
      await runner.close();
    }
  }
  await startWatch();
  for (const f of tooLarge) {
    sink.addSkip({ path: f.path, reason: 'too_large', detail: `${f.size} bytes > maxFileBytes ${cfg.maxFileBytes}` }, repo.sha);
    stRead.reject('too_large');
  }
  for (const s of unreadable) {
    sink.addSkip(s, repo.sha);
    stRead.reject('read_error');
  }
  totals.sourceRecords += records;
  const retired = await reconcile(ctx, repo.sha, changes ? changes.why : () => `evidence changed in ${repo.sha.slice(0, 12)}`);
  if (!behind) await advanceCursor(ctx, 'code', repo.sha);
  return {
    source: 'code',
    from,
    to: repo.sha,
    units: files.length,
    records,
    ...sinkDelta(sink, before),
    retired,
    note: from === repo.sha ? 'nothing new' : from ? `${files.length} changed files` : null,
    seconds: (performance.now() - t0) / 1000,
  };
}
