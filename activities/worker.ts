// A Temporal worker for qaforge's workflows and activities, and the one place a run goes through
// Temporal: against TEMPORAL_ADDRESS when set, else against the dev server the project installs
// (state in <data-dir>/temporal/dev.db). N workers on one task queue share the work.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Config, ConfigInput } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { portFree, startDevServer, type DevServer } from '../lib/temporal-server.js';
import type { BackfillProgress, PipelineInput, PipelineResult } from '../workflows/index.js';
import { createActivities } from './temporal.js';

const WORKFLOWS = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
let runtimeQuiet = false;

export async function createWorker(cfg: Config, address: string, configPath?: string): Promise<Worker> {
  if (!runtimeQuiet) {
    // The Rust core logs to stderr at WARN by default; qaforge's own logger says what matters.
    Runtime.install({ logger: new (await import('@temporalio/worker')).DefaultLogger('ERROR') });
    runtimeQuiet = true;
  }
  const connection = await NativeConnection.connect({ address });
  return Worker.create({
    connection,
    namespace: cfg.temporalNamespace,
    taskQueue: cfg.taskQueue,
    workflowsPath: WORKFLOWS,
    activities: createActivities({ configPath }),
  });
}

/**
 * Runs one workflow to its end with a worker in this process: on TEMPORAL_ADDRESS if set (other
 * workers may share the task queue), else on a dev server started for the run and stopped after.
 */
export async function runViaTemporal(
  cfg: Config,
  log: Logger,
  workflow: 'ingestWorkflow' | 'backfillWorkflow',
  flags: Partial<ConfigInput>,
  opts: { promoteAt: number; ui?: boolean; configPath?: string },
): Promise<PipelineResult & { workflowId: string; address: string; uiUrl: string | null }> {
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
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
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
    await connection.close();
    return { ...result, workflowId, address, uiUrl: server?.uiUrl ?? null };
  } finally {
    worker.shutdown();
    await running;
    await server?.stop();
  }
}
