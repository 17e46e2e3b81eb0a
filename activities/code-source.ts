// The code source: Python files at HEAD → symbols → rule pairs, on worker threads. A backfill reads
// every file; an ingest reads only the files changed since the code cursor, and retires the pairs
// of changed, renamed and deleted files that were not produced again.
import type { SymbolKind } from '../datasets/schemas.js';
import { BANDS, NUM_PERM } from '../validators/dedup.js';
import { restoreContexts } from './code-batch.js';
import { batchesInOrder, batchFiles, batchRunner } from './code-pool.js';
import { filePlanNote, notFileSkips, planFiles, tooLargeSkip, type FilePlan } from './file-plan.js';
import { listFiles } from './repo.js';
import { BlobReader } from './repo.js';
import type { Source, UnitResult } from './source.js';
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

export const emptyCodeTotals = (): CodeTotals => ({ files: 0, bytes: 0, symbols: { module: 0, class: 0, function: 0, method: 0 }, sourceRecords: 0 });

/** The code source; what it read is added up in `totals`. */
export function codeSource(totals: CodeTotals): Source<FilePlan> {
  return {
    name: 'code',
    plan: (run) => planFiles(run, 'code', 'code_symbol', run.cfg.include),
    note: filePlanNote,
    async *read(run, plan) {
      const { cfg, repo } = run;
      const readable = plan.files.filter((f) => f.size <= cfg.maxFileBytes);
      if (readable.length) {
        const runner = batchRunner(Math.min(cfg.workers, Math.max(1, Math.ceil(readable.length / 8))), { taskTimeoutMs: cfg.taskTimeoutMs });
        const reader = new BlobReader(repo.path);
        try {
          const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
          const packages = await repoPackages(repo.path, repo.sha);
          const batches = batchesInOrder(batchFiles(readable, cfg.taskBytes), reader, {
            window: Math.max(2, cfg.workers * 2),
            submit: (blobs) => runner.run({ files: blobs, ref, limits: cfg.limits, maxLineChars: cfg.maxLineChars, packages }),
          });
          for await (const { out, unreadable, readSeconds } of batches) {
            restoreContexts(out);
            totals.files += out.files;
            totals.bytes += out.bytes;
            for (const k of Object.keys(out.symbols) as SymbolKind[]) totals.symbols[k] += out.symbols[k];
            totals.sourceRecords += out.records.length;
            const result: UnitResult = {
              // A blob that cannot be read (say, a blobless clone that lost its network) is recorded, not fatal.
              units: out.files + unreadable.length,
              skips: [
                ...out.skips.map((skip) => ({ stage: EXTRACT_REASONS.has(skip.reason) ? ('extract' as const) : ('read' as const), skip })),
                ...unreadable.map((u) => ({ stage: 'read' as const, skip: { path: u.file.path, reason: 'read_error' as const, detail: u.error.message } })),
              ],
              records: out.records,
              // Checked on the worker, with their duplicate keys computed there.
              checked: out.pairs.map((pair, i) => ({
                pair,
                keys: { qaKey: pair.qaKey, signature: out.signatures.subarray(i * NUM_PERM, (i + 1) * NUM_PERM), bands: out.bands.subarray(i * BANDS, (i + 1) * BANDS) },
              })),
              seconds: { read: readSeconds, ...out.seconds },
            };
            yield result;
          }
        } finally {
          reader.close();
          await runner.close();
        }
      }
      const tooLarge = plan.files.filter((f) => f.size > cfg.maxFileBytes);
      if (tooLarge.length) yield { units: tooLarge.length, skips: tooLarge.map((f) => tooLargeSkip(f, cfg.maxFileBytes)) };
      yield* notFileSkips(plan);
    },
  };
}
