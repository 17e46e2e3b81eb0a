// A Temporal worker for qaforge's workflows and activities, and the one place a run goes through
// Temporal: against TEMPORAL_ADDRESS when set, else against the dev server the project installs
// (state in <data-dir>/temporal/dev.db). N workers on one task queue share the work.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Config, ConfigInput } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { portFree, startDevServer, type DevServer } from '../lib/temporal-server.js';
import type { BackfillProgress, PipelineInput, PipelineResult, PromotionOutcome } from '../workflows/index.js';
import { UserError } from '../lib/errors.js';
import { createActivities } from '../activities/temporal.js';

const WORKFLOWS = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
let runtimeQuiet = false;

export async function createWorker(cfg: Config, address: string, configPath?: string): Promise<Worker> {
  if (!runtimeQuiet) {
    // The Rust core logs to stderr at WARN by default; qaforge's own logger says what matters.
    Runtime.install({ logger: new (await import('@temporalio/worker')).DefaultLogger('ERROR') });
    runtimeQuiet = true;
  }
  const connection = await NativeConnection.connect(connectionOptions(cfg, address));
  return Worker.create({
    connection,
    namespace: cfg.temporalNamespace,
    taskQueue: cfg.taskQueue,
    workflowsPath: WORKFLOWS,
    activities: createActivities({ configPath }),
  });
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
  let address = cfg.temporalAddress;
  if (!address) {
    // The Web UI on its usual port when that is free.
    const uiPort = opts.ui && (await portFree(8233)) ? 8233 : undefined;
    server = await startDevServer({ dbFile: resolve(cfg.dataDir, 'temporal', 'dev.db'), ui: opts.ui ?? false, uiPort });
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
  opts: { promoteAt: number; ui?: boolean; configPath?: string },
): Promise<PipelineResult & { workflowId: string; address: string; uiUrl: string | null }> {
  return withTemporal(cfg, log, opts, async (client, address, uiUrl) => {
    const workflowId = `qaforge-${workflow.replace('Workflow', '')}-${Date.now()}`;
    const input: PipelineInput = { flags: { ...flags, dataDir: resolve(cfg.dataDir) }, promoteAt: opts.promoteAt };
    log.info({ workflowId, taskQueue: cfg.taskQueue }, `${workflow} started`);
    const handle = await client.workflow.start<(i: PipelineInput) => Promise<PipelineResult>>(workflow, { taskQueue: cfg.taskQueue, workflowId, args: [input] });
    // A backfill says where it is (the workflow's `progress` query) every few seconds.
    const timer =
      workflow === 'backfillWorkflow'
        ? setInterval(() => {
            handle
              .query<BackfillProgress>('progress')
              .then((p) => log.info(p, `backfill ${p.phase}: ${p.batchesDone}/${p.batches} code batches, ${p.staged} staged`))
              .catch(() => undefined);
          }, 5000)
        : null;
    const result = await handle.result().finally(() => timer && clearInterval(timer));
    return { ...result, workflowId, address, uiUrl };
  });
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
