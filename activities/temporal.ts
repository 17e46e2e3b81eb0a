// The pipeline's steps as Temporal activities: each takes a small descriptor (config flags, a data
// dir), calls the same functions the CLI calls, and returns a small summary — never record batches.
// Bad input (a UserError) fails the activity for good; anything else is retried by Temporal.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { resolve } from 'node:path';
import { exportCorpus } from '../datasets/export.js';
import { checkGates, triggerFineTune, type FineTuneManifest, type GateResult } from '../datasets/gates.js';
import { promoteWithEmbeddings } from '../datasets/promote.js';
import { Stores } from '../datasets/store.js';
import { runEvalGate, type EvalGateResult } from '../evals/gate.js';
import { loadConfig, type ConfigInput } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { openChatModels } from '../lib/models/index.js';
import { acceptedCount, proposeCorrections, type ProposeResult } from '../serve/corrections.js';
import { formatOutcomes, runBackfill, runIngest, runSources, type BackfillResult } from './backfill.js';
import type { SourceOutcome } from './context.js';
import { commitFragment, dropFragments, fragmentFile, FragmentSink, updateRunStats } from './fragments.js';
import { listFiles, resolveRepo } from './repo.js';
import { cursorKey, cursorPrefix, fineTuneKey, GATES_EVAL_LAST_KEY, GATES_LAST_KEY, RETRAIN_KEY } from '../datasets/state-keys.js';

export interface SourcesInput {
  /** Config values on top of the worker's file and environment (repo, dataDir, sources…). */
  flags: Partial<ConfigInput>;
  /** ingest (from the cursors) or a whole backfill. */
  incremental: boolean;
  /** One batch of a batched backfill: this share of the code files, cursors left alone. */
  slice?: { index: number; count: number };
}

export interface SourcesSummary {
  runId: string;
  repo: string;
  sha: string;
  files: number;
  bytes: number;
  symbols: Record<string, number>;
  staged: number;
  rejected: number;
  retired: number;
  alreadyKnown: number;
  nearDuplicates: number;
  /** One line per source (formatOutcomes). */
  outcomes: string;
  seconds: number;
}

/** A code batch of a fanned-out backfill, extracted into its staging fragment and not committed yet. */
export interface ExtractedBatch {
  slice: { index: number; count: number };
  /** The fragment file (under the data dir every worker shares). */
  fragment: string;
  /** The batch's run (its `runs` row, and the run id its staged rows carry). */
  runId: string;
  /** Files, bytes and symbols read; staged, rejected and known are counted by the commit. */
  summary: SourcesSummary;
  /** The code source's line, its counts filled in by the commit. */
  outcome: SourceOutcome;
}

const summaryOf = (r: BackfillResult): SourcesSummary => {
  const { runId, files, bytes, symbols, staged, rejected, retired, alreadyKnown, nearDuplicates, seconds } = r;
  return { runId, repo: r.repo.repo, sha: r.repo.sha, files, bytes, symbols, staged, rejected, retired, alreadyKnown, nearDuplicates, outcomes: formatOutcomes(r.sources), seconds };
};

/** The state key of the last retrain the feedback loop ran: when, and how many corrections were accepted by then. */

export interface RetrainMark {
  at: string;
  /** Accepted corrections in all when it ran: the count toward the next one starts here. */
  accepted: number;
  version: number | null;
  workflowId: string;
}

export interface RetrainDue {
  /** Accepted corrections in all, and since the last retrain. */
  accepted: number;
  sinceRetrain: number;
  retrainAt: number;
  last: RetrainMark | null;
}

/** The workflow an activity runs for: its fragments live under its id. */
const workflowIdOf = () => Context.current().info.workflowExecution?.workflowId ?? 'no-workflow';

async function asActivity<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UserError) throw ApplicationFailure.nonRetryable(e.message, 'UserError');
    throw e;
  }
}

export function createActivities(base: { configPath?: string } = {}) {
  const config = (flags: Partial<ConfigInput>) => loadConfig({ configPath: base.configPath, flags });
  return {
    async runSources(input: SourcesInput): Promise<SourcesSummary> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const log = createLogger(cfg.logLevel);
        // Long runs report liveness; Temporal retries the activity if the worker dies.
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        try {
          const r = input.slice
            ? await runSources(cfg, log, { command: `backfill:temporal batch ${input.slice.index + 1}/${input.slice.count}`, incremental: false, slice: input.slice, holdCursors: true })
            : await (input.incremental ? runIngest(cfg, log, 'ingest:temporal') : runBackfill(cfg, log, 'backfill:temporal'));
          return summaryOf(r);
        } finally {
          clearInterval(beat);
        }
      });
    },

    /**
     * One code batch of a fanned-out backfill: extracted, generated and checked like any batch, into a
     * staging fragment instead of the tables (activities/fragments.ts). Batches run on any workers at
     * once; commitBatch writes them, in batch order.
     */
    async extractBatch(input: { flags: Partial<ConfigInput>; slice: { index: number; count: number } }): Promise<ExtractedBatch> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const log = createLogger(cfg.logLevel);
        const { index, count } = input.slice;
        const file = fragmentFile(cfg.dataDir, workflowIdOf(), index, count);
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        let sink: FragmentSink | null = null;
        try {
          const r = await runSources(cfg, log, {
            command: `backfill:temporal batch ${index + 1}/${count}`,
            incremental: false,
            slice: input.slice,
            holdCursors: true,
            sink: (stores, runId, v, st) => (sink = new FragmentSink(stores, runId, v, st, file)),
          });
          await sink!.finish();
          sink = null;
          const outcome = r.sources.find((o) => o.source === 'code')!;
          return { slice: input.slice, fragment: file, runId: r.runId, summary: summaryOf(r), outcome };
        } finally {
          (sink as FragmentSink | null)?.discard();
          clearInterval(beat);
        }
      });
    },

    /**
     * Writes an extracted batch into staging through the normal sink, which loads what the stores hold
     * first — the batches committed before it included — so duplicates across batches are caught as
     * in a sequential run. The workflow runs one at a time, in batch order. Fragments of earlier
     * batches are removed (this one stays until the next commit, in case this one is retried).
     */
    async commitBatch(input: { flags: Partial<ConfigInput>; batch: ExtractedBatch }): Promise<SourcesSummary> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const { batch } = input;
        const stores = await Stores.openFor(cfg);
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        try {
          const sha = batch.summary.sha;
          const c = await commitFragment(stores, batch.fragment, { runId: batch.runId, nearDupThreshold: cfg.nearDupThreshold, commit: sha, retireReason: `evidence changed in ${sha.slice(0, 12)}` });
          const outcome: SourceOutcome = { ...batch.outcome, candidates: c.candidates, staged: c.staged, rejected: c.rejected, alreadyKnown: c.alreadyKnown, refreshed: c.refreshed, retired: c.retired };
          const counts = { candidates: c.candidates, staged: c.staged, rejected: c.rejected, alreadyKnown: c.alreadyKnown, refreshed: c.refreshed, retired: c.retired, nearDuplicates: c.nearDuplicates };
          await updateRunStats(stores, batch.runId, { ...counts, sources: [outcome] });
          dropFragments(cfg.dataDir, workflowIdOf(), batch.slice.index);
          const s = batch.summary;
          return { ...s, staged: c.staged, rejected: c.rejected, retired: c.retired, alreadyKnown: c.alreadyKnown, nearDuplicates: c.nearDuplicates, outcomes: formatOutcomes([outcome]), seconds: s.seconds + c.seconds };
        } finally {
          clearInterval(beat);
          stores.close();
        }
      });
    },

    /** Removes a backfill's staging fragments (after its last batch, or when it was cancelled). */
    async dropFragments(input: { flags: Partial<ConfigInput> }): Promise<void> {
      return asActivity(async () => dropFragments(config(input.flags).dataDir, workflowIdOf()));
    },

    /** What a batched backfill will read: the commit (fixed for every batch) and how many code files. */
    async planBackfill(input: { flags: Partial<ConfigInput> }): Promise<{ sha: string; codeFiles: number }> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const log = createLogger(cfg.logLevel);
        const repo = await resolveRepo(cfg.repo, cfg.rev, cfg.dataDir, log, { full: cfg.sources.includes('commits') }, cfg.github);
        const files = cfg.sources.includes('code') ? await listFiles(repo.path, repo.sha, cfg.include, cfg.exclude) : [];
        return { sha: repo.sha, codeFiles: files.length };
      });
    },

    /** After the last batch: the code cursor moves to the commit every batch read. */
    async finishBackfill(input: { flags: Partial<ConfigInput>; sha: string }): Promise<void> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const log = createLogger(cfg.logLevel);
        const repo = await resolveRepo(cfg.repo, input.sha, cfg.dataDir, log, {}, cfg.github);
        const stores = await Stores.openFor(cfg);
        try {
          await stores.setState({ [cursorKey('code', repo.repo)]: input.sha });
        } finally {
          stores.close();
        }
      });
    },

    /** Validated pairs waiting in staging: what the promotion threshold is compared with. */
    async stagedCount(input: { flags: Partial<ConfigInput> }): Promise<number> {
      return asActivity(async () => {
        const stores = await Stores.openFor(config(input.flags));
        try {
          return await stores.count('staging', "status = 'validated'");
        } finally {
          stores.close();
        }
      });
    },

    /** The quality gates on the staged batch; the verdict is recorded in the state table either way. */
    async checkGates(input: { flags: Partial<ConfigInput> }): Promise<GateResult> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.openFor(cfg);
        try {
          const r = await checkGates(stores, cfg.gates);
          await stores.setState({ [GATES_LAST_KEY]: JSON.stringify({ ...r, at: new Date().toISOString() }) });
          if (!r.passed) createLogger(cfg.logLevel).warn({ reasons: r.reasons }, 'quality gates failed: the batch stays staged');
          return r;
        } finally {
          stores.close();
        }
      });
    },

    /** Exports the corpus version just promoted (QA JSONL + card) under <data-dir>/snapshots/v<N>. */
    async snapshot(input: { flags: Partial<ConfigInput>; version: number }): Promise<{ path: string; files: string[]; rows: number }> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.openFor(cfg);
        try {
          const out = resolve(cfg.dataDir, 'snapshots', `v${input.version}`);
          const r = await exportCorpus(stores, { out, format: 'qa', version: input.version, splits: cfg.splits }, createLogger(cfg.logLevel));
          return { path: r.out, files: r.files, rows: r.rows };
        } finally {
          stores.close();
        }
      });
    },

    /** The configured fine-tune trigger (webhook, command or none), recorded with the corpus version. */
    async fineTune(input: { flags: Partial<ConfigInput>; version: number; active: number; promoted: number; snapshot: { path: string; files: string[] } }) {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.openFor(cfg);
        try {
          const repo = (await stores.stateWithPrefix(cursorPrefix('code'))) as Record<string, string>;
          const manifest: FineTuneManifest = {
            repo: Object.keys(repo)[0]?.slice(cursorPrefix('code').length) ?? null,
            corpus_version: input.version,
            active_pairs: input.active,
            promoted: input.promoted,
            snapshot: input.snapshot.path,
            files: input.snapshot.files,
            promoted_at: new Date().toISOString(),
          };
          const r = await triggerFineTune(cfg.fineTune, manifest, resolve(input.snapshot.path, 'manifest.json'));
          await stores.setState({ [fineTuneKey(input.version)]: JSON.stringify({ ...r, at: manifest.promoted_at }) });
          return r;
        } finally {
          stores.close();
        }
      });
    },

    /**
     * The eval gate on the version just promoted: scored with the retrieval eval; a drop past
     * gates.maxEvalDrop rolls the corpus back to the last accepted version. The verdict is kept in the
     * state table either way.
     */
    async evalGate(input: { flags: Partial<ConfigInput>; version: number; runId: string }): Promise<EvalGateResult> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.openFor(cfg);
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        try {
          const r = await runEvalGate(cfg, stores, createLogger(cfg.logLevel), input.version, input.runId);
          await stores.setState({ [GATES_EVAL_LAST_KEY]: JSON.stringify({ ...r, at: new Date().toISOString() }) });
          return r;
        } finally {
          clearInterval(beat);
          stores.close();
        }
      });
    },

    /** The feedback loop's first step: a proposed (or check-rejected) correction for each new flag. */
    async proposeCorrections(input: { flags: Partial<ConfigInput>; limit?: number }): Promise<ProposeResult> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const log = createLogger(cfg.logLevel);
        const stores = await Stores.openFor(cfg);
        const models = openChatModels(cfg);
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        try {
          return await proposeCorrections({ stores, models, limits: cfg.limits, judgeMinScore: cfg.models.judgeMinScore, log }, { limit: input.limit });
        } finally {
          clearInterval(beat);
          await models.close();
          stores.close();
        }
      });
    },

    /** Accepted corrections since the last retrain, against feedback.retrainAt. */
    async feedbackRetrainDue(input: { flags: Partial<ConfigInput> }): Promise<RetrainDue> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.openFor(cfg);
        try {
          const accepted = await acceptedCount(stores);
          const raw = await stores.getState(RETRAIN_KEY);
          const last = raw ? (JSON.parse(raw) as RetrainMark) : null;
          return { accepted, sinceRetrain: accepted - (last?.accepted ?? 0), retrainAt: cfg.feedback.retrainAt, last };
        } finally {
          stores.close();
        }
      });
    },

    /** Records a retrain of the feedback loop, so the count of accepted corrections starts again. */
    async recordRetrain(input: { flags: Partial<ConfigInput>; accepted: number; version: number | null; workflowId: string }): Promise<RetrainMark> {
      return asActivity(async () => {
        const stores = await Stores.openFor(config(input.flags));
        try {
          const mark: RetrainMark = { at: new Date().toISOString(), accepted: input.accepted, version: input.version, workflowId: input.workflowId };
          await stores.setState({ [RETRAIN_KEY]: JSON.stringify(mark) });
          return mark;
        } finally {
          stores.close();
        }
      });
    },

    async promote(input: { flags: Partial<ConfigInput>; runId: string }): Promise<{ promoted: number; version: number; active: number }> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.openFor(cfg);
        const beat = setInterval(() => Context.current().heartbeat(), 5000);
        try {
          const r = await promoteWithEmbeddings(cfg, stores, createLogger(cfg.logLevel), input.runId);
          return { promoted: r.promoted, version: r.version, active: r.active };
        } finally {
          clearInterval(beat);
          stores.close();
        }
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
