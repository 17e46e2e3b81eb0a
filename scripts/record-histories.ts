// Records one history of each workflow into test/histories/, for the replay test that guards
// workflow determinism. Re-run it only when a workflow changes on purpose (and say so in the commit):
//
//   node --import tsx scripts/record-histories.ts [name …]   (names: backfill-workflow, …; default all)
//
// It starts the installed dev server, a fixture repository and a worker in a temp dir; temp paths
// in the recorded payloads are replaced by a fixed placeholder so the files carry no machine paths.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { Runtime, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/temporal.js';
import { writeCorrections } from '../datasets/corrections.js';
import { Stores } from '../datasets/store.js';
import { startDevServer, TEMPORAL_BIN } from '../lib/temporal-server.js';
import { makeRepo } from '../test/fixtures.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const out = join(root, 'test', 'histories');
const PLACEHOLDER = '/tmp/qaforge-history';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const work = mkdtempSync(join(tmpdir(), 'qaforge-record-'));
const server = await startDevServer({ dbFile: join(work, 'dev.db') });
const repo = await makeRepo({
  'pkg/ops.py': 'def double(x: int) -> int:\n    """Return twice the given integer."""\n    return 2 * x\n',
  'docs/guide.md': '# Guide\n\nCall double with an integer to get twice its value back.\n',
});
const dataDir = join(work, 'data');
const taskQueue = 'qaforge-record';
const worker = await Worker.create({
  connection: await NativeConnection.connect({ address: server.address }),
  // The default identity names the host: a fixed one keeps the recorded files free of it.
  identity: 'qaforge-recorder',
  taskQueue,
  workflowsPath: join(root, 'workflows', 'index.ts'),
  activities: createActivities(),
});
const running = worker.run();
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection, identity: 'qaforge-recorder' });
const flags = { repo: repo.dir, dataDir, sources: ['code', 'docs', 'commits'] };

/** The history as JSON with every temp path (also inside base64 payloads) replaced by the placeholder. */
function sanitized(json: string, paths: string[]): string {
  const clean = (s: string) => paths.reduce((acc, p) => acc.split(p).join(PLACEHOLDER), s);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.data === 'string' && o.metadata) return { ...o, data: Buffer.from(clean(Buffer.from(o.data, 'base64').toString('utf8'))).toString('base64') };
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]));
    }
    return typeof v === 'string' ? clean(v) : v;
  };
  return `${JSON.stringify(walk(JSON.parse(json)), null, 1)}\n`;
}

/** One accepted correction and nothing staged: feedbackWorkflow reaches its gated promotion, whose gates stop it. */
async function seedAcceptedCorrection(): Promise<void> {
  const stores = await Stores.open(dataDir);
  try {
    const at = '2026-12-02T10:00:00.000Z';
    await writeCorrections(stores, [{ feedback_id: 'f1', query_id: 'q1', status: 'accepted', origin: 'manual', pair_id: null, pair: null, disputed: '[]', detail: JSON.stringify({ failed: [], candidates: [], source_pair: null, quotes: [], models: null, accepted_at: at }), updated_at: at, promoted_version: null }]);
  } finally {
    stores.close();
  }
}

const only = process.argv.slice(2);
try {
  for (const [name, workflow, args] of [
    ['backfill-workflow', 'backfillWorkflow', { flags, promoteAt: 0 }],
    ['ingest-workflow', 'ingestWorkflow', { flags, promoteAt: 1 }],
    ['promote-workflow', 'promoteWorkflow', { flags }],
    ['feedback-workflow', 'feedbackWorkflow', { flags: { dataDir, feedback: { retrainAt: 1 } } }],
  ] as const) {
    if (only.length && !only.includes(name)) continue;
    if (workflow === 'feedbackWorkflow') await seedAcceptedCorrection();
    const handle = await client.workflow.start(workflow, { taskQueue, workflowId: `record-${name}`, args: [args] });
    await handle.result();
    // The Temporal CLI writes histories in the JSON form every Temporal tool reads.
    const json = execFileSync(TEMPORAL_BIN, ['workflow', 'show', '--address', server.address, '--workflow-id', handle.workflowId, '--output', 'json'], { encoding: 'utf8' });
    writeFileSync(join(out, `${name}.json`), sanitized(json, [repo.dir, work]));
    process.stdout.write(`recorded ${name}\n`);
  }
} finally {
  await connection.close();
  worker.shutdown();
  await running;
  await server.stop();
  rmSync(work, { recursive: true, force: true });
  rmSync(repo.dir, { recursive: true, force: true });
}
