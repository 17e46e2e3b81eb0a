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
import { formatOutcomes, runBackfill, runIngest, runSources } from './backfill.js';
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
          const { runId, files, bytes, symbols, staged, rejected, retired, alreadyKnown, nearDuplicates, seconds } = r;
          return { runId, repo: r.repo.repo, sha: r.repo.sha, files, bytes, symbols, staged, rejected, retired, alreadyKnown, nearDuplicates, outcomes: formatOutcomes(r.sources), seconds };
        } finally {
          clearInterval(beat);
        }
      });
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
