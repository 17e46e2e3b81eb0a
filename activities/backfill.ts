// A backfill of a repository's Python code: list files at a commit, extract + generate + validate
// them on worker threads, drop exact duplicates and cluster near ones, and write staging/rejected.
// Idempotent: ids already in staging, rejected or the corpus are skipped.
import { randomBytes } from 'node:crypto';
import type { QAPair, RejectReason, SkipRecord, SourceRecord, SymbolKind } from '../datasets/schemas.js';
import { skipKey, Stores } from '../datasets/store.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { formatStageTable, StageStats, startProgress } from '../lib/progress.js';
import { failedReasons } from '../validators/checks.js';
import { BANDS, DuplicateIndex, NUM_PERM } from '../validators/dedup.js';
import { restoreContexts, type CheckedPair, type CodeBatchOutput } from './code-batch.js';
import { batchFiles, batchRunner, runBatchesInOrder } from './code-pool.js';
import { BlobReader, detectLicense, listFiles, resolveRepo, type ResolvedRepo } from './repo.js';

export interface BackfillResult {
  runId: string;
  repo: ResolvedRepo;
  license: string;
  files: number;
  bytes: number;
  symbols: Record<SymbolKind, number>;
  sourceRecords: number;
  candidates: number;
  staged: number;
  rejected: number;
  alreadyKnown: number;
  nearDuplicates: number;
  stages: ReturnType<StageStats['toJSON']>[];
  seconds: number;
}

const FLUSH_ROWS = 5000;
// Skip reasons of the extract stage; the others (binary, not_utf8, read_error) are the read stage's.
const EXTRACT_REASONS = new Set(['syntax_error', 'extract_error']);

export async function runBackfill(cfg: Config, log: Logger, command = 'backfill'): Promise<BackfillResult> {
  const t0 = performance.now();
  const runId = `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const startedAt = new Date().toISOString();
  const stores = await Stores.open(cfg.dataDir);
  const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log);
  const { license } = await detectLicense(repo.path, repo.sha);
  log.info({ runId, repo: repo.repo, commit: repo.sha, license }, 'backfill started');

  const stRead = new StageStats('read');
  const stExtract = new StageStats('extract');
  const stGenerate = new StageStats('generate');
  const stValidate = new StageStats('validate');
  const stStage = new StageStats('stage');

  const listed = await listFiles(repo.path, repo.sha, cfg.include, cfg.exclude);
  stRead.seen = listed.length;
  const skips: SkipRecord[] = [];
  const files = listed.filter((f) => {
    if (f.size <= cfg.maxFileBytes) return true;
    skips.push({ path: f.path, reason: 'too_large', detail: `${f.size} bytes > maxFileBytes ${cfg.maxFileBytes}` });
    stRead.reject('too_large');
    return false;
  });

  const knownIds = await stores.knownPairIds();
  const knownSources = await stores.knownSourceIds();
  const knownSkips = await stores.knownSkipKeys();
  const dedup = new DuplicateIndex(cfg.nearDupThreshold);
  for (const [key, id] of await stores.knownQaKeys()) dedup.rememberExact(key, id);

  const result: BackfillResult = {
    runId,
    repo,
    license,
    files: 0,
    bytes: 0,
    symbols: { module: 0, class: 0, function: 0, method: 0 },
    sourceRecords: 0,
    candidates: 0,
    staged: 0,
    rejected: 0,
    alreadyKnown: 0,
    nearDuplicates: 0,
    stages: [],
    seconds: 0,
  };

  let stageBuf: QAPair[] = [];
  let rejectBuf: { pair: QAPair; reasons: RejectReason[]; detail: string }[] = [];
  let sourceBuf: SourceRecord[] = [];
  const flush = async (force = false) => {
    const t = performance.now();
    if (force || sourceBuf.length >= FLUSH_ROWS) {
      await stores.addSources(sourceBuf, runId);
      sourceBuf = [];
    }
    if (force || stageBuf.length >= FLUSH_ROWS) {
      await stores.stage(stageBuf, runId);
      stageBuf = [];
    }
    if (force || rejectBuf.length >= FLUSH_ROWS) {
      await stores.reject(rejectBuf, runId);
      rejectBuf = [];
    }
    if (force) {
      await stores.addSkips(
        skips.filter((k) => !knownSkips.has(skipKey(repo.sha, k))),
        runId,
        repo.sha,
      );
      skips.length = 0;
    }
    stStage.seconds += (performance.now() - t) / 1000;
  };

  const handlePair = (p: CheckedPair, signature: Uint32Array, bands: Int32Array) => {
    stValidate.seen++;
    stStage.seen++;
    if (knownIds.has(p.id)) {
      result.alreadyKnown++;
      stStage.reject('already_known');
      return;
    }
    knownIds.add(p.id);
    const { qaKey, contextRecord: _c, ...pair } = p;
    let reasons = failedReasons(pair);
    if (!reasons.length) {
      const d = dedup.check(pair.id, qaKey, signature, bands);
      if (d.kind === 'duplicate') {
        pair.verdicts.push({ check: 'dedup', pass: false, reason: 'duplicate', detail: `same question and answer as ${d.of}` });
        reasons = ['duplicate'];
      } else {
        pair.verdicts.push({ check: 'dedup', pass: true, reason: null, detail: d.nearDupCluster ? `near-duplicate of cluster ${d.nearDupCluster}` : null });
        pair.nearDupCluster = d.nearDupCluster;
      }
    }
    const stored = { ...pair, qaKey } as QAPair;
    if (reasons.length) {
      for (const r of reasons) stValidate.reject(r);
      stStage.reject('rejected');
      rejectBuf.push({ pair: stored, reasons, detail: pair.verdicts.filter((v) => !v.pass).map((v) => `${v.check}: ${v.detail ?? v.reason}`).join('; ') });
      result.rejected++;
    } else {
      stValidate.kept++;
      stStage.kept++;
      stageBuf.push(stored);
      result.staged++;
    }
  };

  const handleOutput = async (out: CodeBatchOutput) => {
    restoreContexts(out);
    result.files += out.files;
    result.bytes += out.bytes;
    for (const k of Object.keys(out.symbols) as SymbolKind[]) result.symbols[k] += out.symbols[k];
    for (const s of out.skips) {
      skips.push(s);
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
    stValidate.seconds += out.seconds.validate;
    result.sourceRecords += out.records.length;
    result.candidates += out.pairs.length;
    for (const r of out.records) {
      if (knownSources.has(r.id)) continue;
      knownSources.add(r.id);
      sourceBuf.push(r);
    }
    out.pairs.forEach((p, i) =>
      handlePair(p, out.signatures.subarray(i * NUM_PERM, (i + 1) * NUM_PERM), out.bands.subarray(i * BANDS, (i + 1) * BANDS)),
    );
    await flush();
  };

  const runner = batchRunner(cfg.workers);
  const reader = new BlobReader(repo.path);
  const progress = startProgress('backfill', files.length, log);
  try {
    const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
    stRead.seconds += await runBatchesInOrder(batchFiles(files, cfg.taskBytes), reader, {
      window: Math.max(2, cfg.workers * 2),
      submit: (blobs) => runner.run({ files: blobs, ref, limits: cfg.limits }),
      consume: async (out) => {
        await handleOutput(out);
        progress.tick(out.files, `${result.staged} staged`);
      },
      // A blob that cannot be read (say, a blobless clone that lost its network) is recorded, not fatal.
      unreadable: (f, e) => {
        skips.push({ path: f.path, reason: 'read_error', detail: e.message });
        stRead.reject('read_error');
        progress.tick(1);
      },
    });
    await flush(true);
  } finally {
    progress.stop();
    reader.close();
    await runner.close();
  }

  result.nearDuplicates = dedup.nearDuplicates;
  result.seconds = (performance.now() - t0) / 1000;
  const stages = [stRead, stExtract, stGenerate, stValidate, stStage];
  result.stages = stages.map((s) => s.toJSON());
  await stores.add('runs', [
    {
      run_id: runId,
      command,
      repo: repo.repo,
      commit: repo.sha,
      license,
      started_at: startedAt,
      finished_at: new Date().toISOString(),
      stats: JSON.stringify({ ...result, repo: { repo: repo.repo, sha: repo.sha, path: repo.path } }),
    },
  ]);
  stores.close();
  log.info(
    { runId, files: result.files, symbols: result.symbols, staged: result.staged, rejected: result.rejected, alreadyKnown: result.alreadyKnown, nearDuplicates: result.nearDuplicates, seconds: Math.round(result.seconds * 100) / 100 },
    'backfill finished',
  );
  if (log.level !== 'silent') process.stderr.write(`\n${formatStageTable(stages)}\n(extract/generate/validate seconds are worker CPU time; total wall ${result.seconds.toFixed(2)} s)\n`);
  return result;
}
