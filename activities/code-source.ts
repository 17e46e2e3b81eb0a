// The code source: Python files at HEAD → symbols → rule pairs, on worker threads. A backfill reads
// every file; an ingest reads only the files changed since the code cursor, and retires the pairs
// of changed, renamed and deleted files that were not produced again.
import type { SkipRecord, SymbolKind } from '../datasets/schemas.js';
import { BANDS, NUM_PERM } from '../validators/dedup.js';
import { restoreContexts, type CodeBatchOutput } from './code-batch.js';
import { batchFiles, batchRunner, runBatchesInOrder } from './code-pool.js';
import { stage, type RunContext, type SourceOutcome } from './context.js';
import { finishFiles, planFiles, watchPlan } from './file-plan.js';
import { BlobReader, listFiles } from './repo.js';
import { startProgress } from '../lib/progress.js';
import { topLevelPackages } from '../extractors/usage.js';

// Skip reasons of the extract stage; the others (binary, not_utf8, read_error) are the read stage's.
const EXTRACT_REASONS = new Set(['syntax_error', 'extract_error']);

/** The repository's top-level packages at a commit, whose calls elsewhere are usage examples (whatever a run reads). */
export async function repoPackages(repoPath: string, sha: string): Promise<string[]> {
  return topLevelPackages((await listFiles(repoPath, sha, ['*/__init__.py', 'src/*/__init__.py'], [])).map((f) => f.path));
}

export interface CodeTotals {
  files: number;
  bytes: number;
  symbols: Record<SymbolKind, number>;
  sourceRecords: number;
}

export async function codeSource(ctx: RunContext, totals: CodeTotals): Promise<SourceOutcome> {
  const { cfg, repo, sink, log } = ctx;
  const stRead = stage(ctx, 'code.read');
  const stExtract = stage(ctx, 'code.extract');
  const stGenerate = stage(ctx, 'code.generate');
  const plan = await planFiles(ctx, 'code', 'code_symbol', cfg.include);
  const { files } = plan;
  // What the stores hold is loaded while the workers start extracting; the first result waits for it.
  let watching: Promise<void> | null = null;
  const startWatch = () => (watching ??= watchPlan(ctx, plan));
  if (plan.groups.size) sink.ready().catch(() => undefined);
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
    out.pairs.forEach((p, i) => sink.add(p, { qaKey: p.qaKey, signature: out.signatures.subarray(i * NUM_PERM, (i + 1) * NUM_PERM), bands: out.bands.subarray(i * BANDS, (i + 1) * BANDS) }));
    await sink.flush();
  };

  const unreadable: SkipRecord[] = [];
  if (readable.length) {
    const runner = batchRunner(Math.min(cfg.workers, Math.max(1, Math.ceil(readable.length / 8))), { taskTimeoutMs: cfg.taskTimeoutMs });
    const reader = new BlobReader(repo.path);
    const progress = startProgress('code', readable.length, log);
    try {
      const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
      const packages = await repoPackages(repo.path, repo.sha);
      stRead.seconds += await runBatchesInOrder(batchFiles(readable, cfg.taskBytes), reader, {
        window: Math.max(2, cfg.workers * 2),
        submit: (blobs) => runner.run({ files: blobs, ref, limits: cfg.limits, maxLineChars: cfg.maxLineChars, packages }),
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
  return finishFiles(ctx, plan, records, stRead);
}
