// A Temporal worker for qaforge's workflows and activities, and the one place a run goes through
// Temporal: against TEMPORAL_ADDRESS when set, else against the dev server the project installs
// (state in <data-dir>/temporal/dev.db). N workers on one task queue share the work.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApplicationFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Config, ConfigInput } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { portFree, runningDevServer, startDevServer, type DevServer } from '../lib/temporal-server.js';
import type { BackfillInput, BackfillProgress, PipelineInput, PipelineResult, PromotionOutcome } from '../workflows/index.js';
import { UserError } from '../lib/errors.js';
import { createActivities } from '../activities/temporal.js';
import { projectFile } from '../lib/paths.js';

const WORKFLOWS = projectFile('workflows/index.ts');
let runtimeQuiet = false;

/** The task queue a backfill's code batches are extracted on: `<task queue>-batches`. */
export const batchTaskQueue = (cfg: Config) => `${cfg.taskQueue}-batches`;

/** Code batches one worker extracts at once (QAFORGE_WORKER_BATCHES, default 1): more workers, more batches. */
const batchesPerWorker = () => {
  const n = Number(process.env.QAFORGE_WORKER_BATCHES ?? 1);
  return Number.isInteger(n) && n >= 1 ? n : 1;
};

/** A qaforge worker: the workflows and every activity on the task queue, and the code batches on their own queue. */
export interface QaforgeWorker {
  run(): Promise<void>;
  shutdown(): void;
}

export async function createWorker(cfg: Config, address: string, configPath?: string): Promise<QaforgeWorker> {
  if (!runtimeQuiet) {
    // The Rust core logs to stderr at WARN by default; qaforge's own logger says what matters.
    Runtime.install({ logger: new (await import('@temporalio/worker')).DefaultLogger('ERROR') });
    runtimeQuiet = true;
  }
  const connection = await NativeConnection.connect(connectionOptions(cfg, address));
  const activities = createActivities({ configPath });
  const main = await Worker.create({ connection, namespace: cfg.temporalNamespace, taskQueue: cfg.taskQueue, workflowsPath: WORKFLOWS, activities });
  // A worker takes a batch only when it has a free slot, so a backfill's batches spread over the workers.
  const batches = await Worker.create({ connection, namespace: cfg.temporalNamespace, taskQueue: batchTaskQueue(cfg), activities, maxConcurrentActivityTaskExecutions: batchesPerWorker() });
  const workers = [main, batches];
  return {
    async run() {
      try {
        await Promise.all(
          workers.map((w) =>
            w.run().catch((e) => {
              for (const o of workers) if (o !== w && o.getState() === 'RUNNING') o.shutdown();
              throw e;
            }),
          ),
        );
      } finally {
        await connection.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}

/** Connection options for TEMPORAL_ADDRESS: mTLS when a client certificate and key are configured. */
export function connectionOptions(cfg: Config, address: string) {
  const t = cfg.temporalTls;
  if (!t.cert && !t.key && !t.ca) return { address };
  if (!t.cert || !t.key) throw new UserError('Temporal mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (PEM file paths)');
  const read = (f: string) => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new UserError(`cannot read ${f} for Temporal TLS: ${(e as NodeJS.ErrnoException).code}`);
    }
  };
  return {
    address,
    tls: {
      clientCertPair: { crt: read(t.cert), key: read(t.key) },
      ...(t.ca ? { serverRootCACertificate: read(t.ca) } : {}),
      ...(t.serverName ? { serverNameOverride: t.serverName } : {}),
    },
  };
}

/** The dev server's state file for a data dir. */
export const devDbFile = (cfg: Config) => resolve(cfg.dataDir, 'temporal', 'dev.db');

/**
 * Where the runs of this data dir are: TEMPORAL_ADDRESS, else the dev server `--detach` left running
 * for it; a one-line error when there is neither.
 */
export async function temporalAddressOf(cfg: Config, what: string): Promise<string> {
  const address = cfg.temporalAddress ?? (await runningDevServer(devDbFile(cfg)))?.address;
  if (!address) throw new UserError(`${what} needs a Temporal server: set TEMPORAL_ADDRESS (host:port), or start a run with \`qaforge backfill --via-temporal --detach\`, which leaves the dev server of ${cfg.dataDir} running`);
  return address;
}

/**
 * Runs `fn` with a worker in this process and a client: on TEMPORAL_ADDRESS if set (other workers
 * may share the task queue), else on a dev server started for the run and stopped after.
 */
async function withTemporal<T>(
  cfg: Config,
  log: Logger,
  opts: { ui?: boolean; configPath?: string },
  fn: (client: Client, address: string, uiUrl: string | null) => Promise<T>,
): Promise<T> {
  let server: DevServer | null = null;
  // A dev server left running for this data dir (by --detach) is used, never a second one on its db file.
  let address = cfg.temporalAddress ?? (await runningDevServer(devDbFile(cfg)))?.address;
  if (!address) {
    // The Web UI on its usual port when that is free.
    const uiPort = opts.ui && (await portFree(8233)) ? 8233 : undefined;
    server = await startDevServer({ dbFile: devDbFile(cfg), ui: opts.ui ?? false, uiPort });
    address = server.address;
    log.info({ address, ui: server.uiUrl }, `Temporal dev server started${server.uiUrl ? `: workflows at ${server.uiUrl}` : ''}`);
  }
  const worker = await createWorker(cfg, address, opts.configPath);
  const running = worker.run();
  try {
    const connection = await Connection.connect(connectionOptions(cfg, address));
    try {
      return await fn(new Client({ connection, namespace: cfg.temporalNamespace }), address, server?.uiUrl ?? null);
    } catch (e) {
      throw workflowError(e);
    } finally {
      await connection.close();
    }
  } finally {
    worker.shutdown();
    await running;
    await server?.stop();
  }
}

/**
 * A failed workflow as the user should see it: the innermost cause (a bad repository, an unreachable
 * clone) as a one-line UserError when an activity failed for good on bad input, else with its message.
 */
function workflowError(e: unknown): unknown {
  if (!(e instanceof WorkflowFailedError)) return e;
  let cause: unknown = e.cause;
  while (cause instanceof Error && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure && cause.type === 'UserError') return new UserError(cause.message);
  return new Error(`${e.message}: ${cause instanceof Error ? cause.message : String(cause)}`);
}

/** Runs ingestWorkflow or backfillWorkflow to its end (see withTemporal); a backfill logs its progress. */
export async function runViaTemporal(
  cfg: Config,
  log: Logger,
  workflow: 'ingestWorkflow' | 'backfillWorkflow',
  flags: Partial<ConfigInput>,
  opts: { promoteAt: number; ui?: boolean; configPath?: string } & BatchOptions,
): Promise<PipelineResult & { workflowId: string; address: string; uiUrl: string | null }> {
  return withTemporal(cfg, log, opts, async (client, address, uiUrl) => {
    const workflowId = workflowIdFor(workflow);
    const input = workflowInput(cfg, workflow, flags, opts);
    log.info({ workflowId, taskQueue: cfg.taskQueue }, `${workflow} started`);
    const handle = await client.workflow.start<(i: PipelineInput) => Promise<PipelineResult>>(workflow, { taskQueue: cfg.taskQueue, workflowId, args: [input] });
    // A backfill says where it is (the workflow's `progress` query) every few seconds.
    const timer =
      workflow === 'backfillWorkflow'
        ? setInterval(() => {
            handle
              .query<BackfillProgress>('progress')
              .then((p) => log.info(p, `backfill ${p.phase}: ${p.batchesDone}/${p.batches} code batches committed, ${p.batchesInFlight ?? 0} extracting, ${p.staged} staged`))
              .catch(() => undefined);
          }, 5000)
        : null;
    const result = await handle.result().finally(() => timer && clearInterval(timer));
    return { ...result, workflowId, address, uiUrl };
  });
}

/** What a run started from the CLI is given: absolute paths (its workers may run elsewhere), and a backfill's batch queue. */
export interface BatchOptions {
  /** Code batches extracted at once across the workers (default 4), and files per batch (default 400). */
  concurrentBatches?: number;
  batchFiles?: number;
}

function workflowInput(cfg: Config, workflow: 'ingestWorkflow' | 'backfillWorkflow', flags: Partial<ConfigInput>, opts: { promoteAt: number } & BatchOptions): BackfillInput {
  // A local path, made absolute (URLs as activities/repo.ts tells them).
  const url = (r: string) => /^(https?|ssh|git|file):\/\//.test(r) || /^[\w.-]+@[\w.-]+:/.test(r);
  const repo = flags.repo && !url(flags.repo) ? { repo: resolve(flags.repo) } : {};
  const input: BackfillInput = { flags: { ...flags, ...repo, dataDir: resolve(cfg.dataDir) }, promoteAt: opts.promoteAt };
  if (workflow === 'backfillWorkflow') {
    input.batchTaskQueue = batchTaskQueue(cfg);
    if (opts.concurrentBatches) input.concurrentBatches = opts.concurrentBatches;
    if (opts.batchFiles) input.batchFiles = opts.batchFiles;
  }
  return input;
}

export const workflowIdFor = (workflow: 'ingestWorkflow' | 'backfillWorkflow') => `qaforge-${workflow.replace('Workflow', '')}-${Date.now()}`;

export interface DetachedStart {
  workflowId: string;
  workflow: string;
  address: string;
  taskQueue: string;
  /** Set when the dev server was started for this run (it keeps running: stop it with `kill <pid>`). */
  devServer: { pid: number; uiUrl: string | null; started: boolean } | null;
}

/**
 * Starts ingestWorkflow or backfillWorkflow and returns at once: its workers are `qaforge worker`
 * processes. On TEMPORAL_ADDRESS, else on the data dir's dev server — the one left running by an
 * earlier --detach, or one started now, detached, which outlives this process.
 */
export async function startDetached(
  cfg: Config,
  log: Logger,
  workflow: 'ingestWorkflow' | 'backfillWorkflow',
  flags: Partial<ConfigInput>,
  opts: { promoteAt: number } & BatchOptions,
): Promise<DetachedStart> {
  let address = cfg.temporalAddress;
  let devServer: DetachedStart['devServer'] = null;
  if (!address) {
    const running = await runningDevServer(devDbFile(cfg));
    if (running) {
      address = running.address;
      devServer = { pid: running.pid, uiUrl: running.uiUrl, started: false };
    } else {
      const uiPort = (await portFree(8233)) ? 8233 : undefined;
      const port = (await portFree(7233)) ? 7233 : undefined;
      const s = await startDevServer({ dbFile: devDbFile(cfg), ui: true, uiPort, port, detached: true });
      address = s.address;
      devServer = { pid: s.process.pid!, uiUrl: s.uiUrl, started: true };
      log.info({ address, ui: s.uiUrl, pid: s.process.pid }, 'Temporal dev server started (it keeps running)');
    }
  }
  const connection = await Connection.connect(connectionOptions(cfg, address));
  try {
    const workflowId = workflowIdFor(workflow);
    await new Client({ connection, namespace: cfg.temporalNamespace }).workflow.start(workflow, { taskQueue: cfg.taskQueue, workflowId, args: [workflowInput(cfg, workflow, flags, opts)] });
    return { workflowId, workflow, address, taskQueue: cfg.taskQueue, devServer };
  } finally {
    await connection.close();
  }
}

/** promoteWorkflow: gates → promote → snapshot → fine-tune trigger, through Temporal. */
export async function promoteViaTemporal(cfg: Config, log: Logger, opts: { configPath?: string }): Promise<PromotionOutcome & { workflowId: string }> {
  return withTemporal(cfg, log, opts, async (client) => {
    const workflowId = `qaforge-promote-${Date.now()}`;
    const r = await client.workflow.execute<(i: { flags: Partial<ConfigInput> }) => Promise<PromotionOutcome>>('promoteWorkflow', {
      taskQueue: cfg.taskQueue,
      workflowId,
      args: [{ flags: { dataDir: resolve(cfg.dataDir) } }],
    });
    return { ...r, workflowId };
  });
}
