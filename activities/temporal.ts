// The pipeline's steps as Temporal activities: each takes a small descriptor (config flags, a data
// dir), calls the same functions the CLI calls, and returns a small summary — never record batches.
// Bad input (a UserError) fails the activity for good; anything else is retried by Temporal.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { promoteStaged } from '../datasets/promote.js';
import { Stores } from '../datasets/store.js';
import { loadConfig, type ConfigInput } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { formatOutcomes, runBackfill, runIngest } from './backfill.js';

export interface SourcesInput {
  /** Config values on top of the worker's file and environment (repo, dataDir, sources…). */
  flags: Partial<ConfigInput>;
  /** ingest (from the cursors) or a whole backfill. */
  incremental: boolean;
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
          const r = await (input.incremental ? runIngest(cfg, log, 'ingest:temporal') : runBackfill(cfg, log, 'backfill:temporal'));
          const { runId, files, bytes, symbols, staged, rejected, retired, alreadyKnown, nearDuplicates, seconds } = r;
          return { runId, repo: r.repo.repo, sha: r.repo.sha, files, bytes, symbols, staged, rejected, retired, alreadyKnown, nearDuplicates, outcomes: formatOutcomes(r.sources), seconds };
        } finally {
          clearInterval(beat);
        }
      });
    },

    /** Validated pairs waiting in staging: what the promotion threshold is compared with. */
    async stagedCount(input: { flags: Partial<ConfigInput> }): Promise<number> {
      return asActivity(async () => {
        const stores = await Stores.open(config(input.flags).dataDir);
        try {
          return await stores.count('staging', "status = 'validated'");
        } finally {
          stores.close();
        }
      });
    },

    async promote(input: { flags: Partial<ConfigInput>; runId: string }): Promise<{ promoted: number; version: number; active: number }> {
      return asActivity(async () => {
        const cfg = config(input.flags);
        const stores = await Stores.open(cfg.dataDir);
        try {
          const r = await promoteStaged(stores, createLogger(cfg.logLevel), input.runId);
          return { promoted: r.promoted, version: r.version, active: r.active };
        } finally {
          stores.close();
        }
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
