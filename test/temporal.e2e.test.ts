// Runs through a real Temporal server: the dev server the project installs, started here on
// 127.0.0.1 with a SQLite file. The CLI's --via-temporal runs a worker and the workflow to its end.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { Stores } from '../datasets/store.js';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer, type DevServer } from '../lib/temporal-server.js';
import { BIN, qaforge, qaforgeJson } from './cli.js';
import { bigModule, makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

const OPS_PY = `def double(x: int) -> int:
    """Return twice the given integer."""
    return 2 * x
`;

let server: DevServer;
let repo: FixtureRepo;
let data: string;

beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ path: req.url!, body: JSON.parse(body) });
      res.writeHead(202).end();
    });
  }).listen(0, '127.0.0.1');
  await once(hook, 'listening');
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  server = await startDevServer({ dbFile: join(tempDir('qaforge-temporal-'), 'dev.db') });
  repo = await makeRepo({ 'pkg/ops.py': OPS_PY });
  data = tempDir();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  hook?.close();
});

// A fine-tune webhook listening on 127.0.0.1: what it received, in order.
const hooks: { path: string; body: any }[] = [];
let hook: Server;
let hookUrl: string;

const env = () => ({ TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: 'qaforge-test', QAFORGE_FINETUNE_WEBHOOK: `${hookUrl}/finetune` });
const ingest = () => qaforgeJson(['--data-dir', data, 'ingest', '--repo', repo.dir, '--sources', 'code,commits', '--via-temporal', '--json'], { env: env() });

describe('through Temporal', () => {
  it('runs ingestWorkflow on the server: sources, gates, promotion, snapshot, fine-tune webhook — recorded in the workflow history', async () => {
    const r = await ingest();
    expect(r.address).toBe(server.address);
    expect(r.run.sha).toBe(repo.sha);
    expect(r.run.staged).toBeGreaterThan(0);
    expect(r.promoted).toMatchObject({ promoted: r.run.staged, active: r.run.staged });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const handle = client.workflow.getHandle(r.workflowId);
    const desc = await handle.describe();
    expect(desc.type).toBe('ingestWorkflow');
    expect(desc.status.name).toBe('COMPLETED');
    const history = await handle.fetchHistory();
    const activities = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    expect(activities).toEqual(['runSources', 'stagedCount', 'checkGates', 'promote', 'evalGate', 'snapshot', 'fineTune']);
    await connection.close();
    // The webhook got the manifest of exactly this corpus version, and the snapshot is on disk.
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ path: '/finetune', body: { corpus_version: r.promoted.version, active_pairs: r.promoted.active, promoted: r.run.staged, repo: 'acme/shapes' } });
    const snapshot = hooks[0]!.body.snapshot as string;
    expect(snapshot).toBe(join(data, 'snapshots', `v${r.promoted.version}`));
    // Only splits with rows have a file.
    const lines = readdirSync(snapshot).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(snapshot, f), 'utf8').split('\n').filter(Boolean));
    expect(lines).toHaveLength(r.promoted.active);
    expect(JSON.parse(readFileSync(join(snapshot, 'manifest.json'), 'utf8'))).toEqual(hooks[0]!.body);
    expect(r.fineTune).toEqual({ kind: 'webhook', detail: `POST ${hookUrl}: 202` });
  }, 120_000);

  it('picks up a new commit on the next ingest, and promotes what it staged', async () => {
    await repo.commit({ 'pkg/ops.py': OPS_PY.replace('Return twice the given integer.', 'Return the integer multiplied by two.') }, 'Reword the summary of double\n\nThe old summary did not say the result is an integer, which the callers rely on.');
    const r = await ingest();
    expect(r.run.sha).toBe(repo.sha);
    expect(r.run.retired).toBeGreaterThan(0);
    // New pairs plus those produced again at their new lines: everything validated is promoted.
    expect(r.staged).toBeGreaterThanOrEqual(r.run.staged);
    expect(r.promoted.promoted).toBe(r.staged);
    const stats = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(stats.cursors['commits:acme/shapes']).toBe(repo.sha);
    expect(stats.corpus.retired).toBe(r.run.retired);
  }, 120_000);

  it('runs ingestWorkflow on a Schedule with a separate worker process, and picks up a new commit pushed later', async () => {
    const fresh = await makeRepo({ 'pkg/ops.py': OPS_PY });
    const d = tempDir();
    const e = { TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: 'qaforge-schedule' };
    const worker = spawn(process.execPath, [BIN, '--data-dir', d, 'worker'], { env: { ...process.env, ...e, QAFORGE_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    const sched = (action: string, ...more: string[]) => qaforgeJson(['--data-dir', d, 'schedule', action, ...more], { env: e });
    try {
      const created = await sched('create', '--every', '2s', '--repo', fresh.dir, '--sources', 'code,commits');
      expect(created).toMatchObject({ id: 'qaforge-ingest', paused: false, every: ['2s'] });
      // The cursor moves inside the ingest activity, the corpus grows in the promotion after it: wait for both.
      const promotedPast = async (sha: string, active: number) => {
        for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((ok) => setTimeout(ok, 1000))) {
          const stats = await qaforgeJson(['--data-dir', d, 'stats', '--json']).catch(() => null);
          if (stats?.cursors['commits:acme/shapes'] === sha && stats.corpus.active > active) return stats;
        }
        throw new Error(`no scheduled ingest reached ${sha} and promoted within 60 s`);
      };
      const first = await promotedPast(fresh.sha, 0);
      const next = await fresh.commit({ 'pkg/more.py': 'def triple(x: int) -> int:\n    """Return three times the given integer."""\n    return 3 * x\n' }, 'Add triple next to double for the scaling helpers');
      const second = await promotedPast(next, first.corpus.active);
      expect(second.corpus.byCategory.symbol_history).toBeGreaterThan(first.corpus.byCategory.symbol_history ?? 0);
      const described = await sched('describe');
      expect(described.runs).toBeGreaterThanOrEqual(2);
      expect((await sched('pause')).paused).toBe(true);
      expect(await sched('delete')).toEqual({ id: 'qaforge-ingest', deleted: true });
    } finally {
      worker.kill('SIGTERM');
    }
  }, 180_000);

  it('leaves a batch staged and says why when a quality gate fails', async () => {
    await repo.commit({ 'pkg/extra.py': 'def half(x: float) -> float:\n    """Return half of the given number."""\n    return x / 2\n' }, 'Add half for the scaling helpers');
    const cfgFile = join(tempDir('qaforge-cfg-'), 'qaforge.config.json');
    writeFileSync(cfgFile, JSON.stringify({ gates: { minValidated: 100000 } }));
    const before = hooks.length;
    const r = await qaforgeJson(['--config', cfgFile, '--data-dir', data, 'ingest', '--repo', repo.dir, '--sources', 'code,commits', '--via-temporal', '--json'], { env: env() });
    expect(r.run.staged).toBeGreaterThan(0);
    expect(r.gates.passed).toBe(false);
    expect(r.gates.reasons).toEqual([`${r.staged} validated pairs waiting, fewer than minValidated 100000`]);
    expect(r.promotion).toBeNull();
    expect(hooks.length).toBe(before);
    const stats = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(stats.staging.validated).toBe(r.staged);
    // With the default gates, promoteWorkflow promotes the waiting batch and triggers the fine-tune.
    const p = await qaforgeJson(['--data-dir', data, 'promote', '--via-temporal'], { env: env() });
    expect(p.gates.passed).toBe(true);
    expect(p.promotion.promoted).toBe(r.staged);
    expect(hooks.length).toBe(before + 1);
    expect(hooks.at(-1)!.body.corpus_version).toBe(p.promotion.version);
  }, 120_000);

  it('cuts a backfill into batches, continues as new to keep its history small, answers the progress query, and stages what one run would', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`pkg/m${i}.py`] = OPS_PY.replace('double', `double_${i}`);
    const fresh = await makeRepo(files);
    const d = tempDir();
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const queue = 'qaforge-batches';
    const worker = spawn(process.execPath, [BIN, '--data-dir', d, 'worker'], { env: { ...process.env, TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: queue, QAFORGE_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    try {
      const workflowId = `batches-${Date.now()}`;
      const flags = { repo: fresh.dir, dataDir: d, sources: ['code', 'commits'] as ('code' | 'commits')[] };
      const first = await client.workflow.start('backfillWorkflow', { taskQueue: queue, workflowId, args: [{ flags, promoteAt: 0, batchFiles: 1, batchesPerRun: 2 }] });
      const r = (await client.workflow.getHandle(workflowId).result()) as any;
      expect(r.run.files).toBe(5);
      expect(r.promotion.promoted).toBe(r.staged);
      // Five batches, two per run: three runs, the first two continued as new.
      const runs: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.status.name);
      expect(runs.sort()).toEqual(['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);
      expect(first.firstExecutionRunId).toBeTruthy();
      const progress = await client.workflow.getHandle(workflowId).query('progress');
      expect(progress).toMatchObject({ phase: 'done', batchesDone: 5, batches: 5, staged: r.run.staged });
      const ref = tempDir();
      const local = await qaforgeJson(['--data-dir', ref, 'backfill', '--repo', fresh.dir, '--sources', 'code,commits', '--json']);
      expect(r.run.staged).toBe(local.staged);
      const stats = await qaforgeJson(['--data-dir', d, 'stats', '--json']);
      expect(stats.cursors['code:acme/shapes']).toBe(fresh.sha);
    } finally {
      worker.kill('SIGTERM');
      await connection.close();
    }
  }, 180_000);

  it('says in one line that a worker needs a server, and what bad input failed a workflow', async () => {
    const r = await qaforge(['--data-dir', data, 'worker'], { env: { TEMPORAL_ADDRESS: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('qaforge: no Temporal server: set TEMPORAL_ADDRESS (host:port), or use --via-temporal, which starts the dev server');
    // Bad input inside a workflow fails it for good, and the user sees the one line, not a workflow error.
    const missing = join(data, 'no-such-repo');
    const bad = await qaforge(['--data-dir', data, 'backfill', '--repo', missing, '--via-temporal'], { env: env() });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n').at(-1)).toBe(`qaforge: repository not found: ${missing} (give a local git repository path or a git URL)`);
  });
});

describe('crashes', () => {
  it('finishes a backfill whose worker was killed mid-run on a second worker, with the corpus of an uninterrupted run', async () => {
    const fresh = await makeRepo({ 'pkg/ops.py': OPS_PY, 'docs/guide.md': '# Guide\n\nCall double with an integer to get twice its value back.\n' });
    await fresh.commit({ 'pkg/ops.py': OPS_PY.replace('Return twice', 'Return two times') }, 'Reword the summary of double so it reads naturally');
    const d = tempDir();
    const queue = 'qaforge-crash';
    const worker = (extra: NodeJS.ProcessEnv = {}) =>
      spawn(process.execPath, [BIN, '--data-dir', d, 'worker'], { env: { ...process.env, TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: queue, QAFORGE_LOG_LEVEL: 'warn', ...extra }, stdio: 'ignore' });
    // The first worker kills itself (SIGKILL) right after the code source flushed its pairs.
    const first = worker({ QAFORGE_FAILPOINT: 'reconcile.after-flush' });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const flags = { repo: fresh.dir, dataDir: d, sources: ['code', 'docs', 'commits'] as ('code' | 'docs' | 'commits')[] };
    const handle = await client.workflow.start('backfillWorkflow', { taskQueue: queue, workflowId: `crash-${Date.now()}`, args: [{ flags, promoteAt: 0, heartbeatSeconds: 3 }] });
    const [code, signal] = (await once(first, 'exit')) as [number | null, string | null];
    expect(code === null ? signal : code).toBe('SIGKILL');
    const second = worker();
    try {
      const r = (await handle.result()) as any;
      expect(r.promotion.promoted).toBeGreaterThan(0);
      const history = await handle.fetchHistory();
      // The code batch the first worker was extracting started again, on the second worker.
      const events = history.events ?? [];
      const typeOf = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name]));
      const attempts = events
        .filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => `${typeOf.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId))}:${e.activityTaskStartedEventAttributes!.attempt}`);
      expect(attempts[0]).toBe('planBackfill:1');
      expect(attempts[1]).toBe('extractBatch:2');
    } finally {
      second.kill('SIGTERM');
      await connection.close();
    }
    const ref = tempDir();
    await qaforgeJson(['--data-dir', ref, 'backfill', '--repo', fresh.dir, '--sources', 'code,docs,commits', '--json']);
    await qaforgeJson(['--data-dir', ref, 'promote']);
    const ids = async (dir: string, table: 'staging' | 'corpus' | 'sources') => {
      const stores = await Stores.open(dir);
      const out: string[] = [];
      for await (const rows of stores.scan(table, ['id'])) out.push(...rows.map((x) => x.id as string));
      stores.close();
      return out.sort();
    };
    for (const table of ['staging', 'corpus', 'sources'] as const) {
      const got = await ids(d, table);
      expect(new Set(got).size, `${table} has no duplicate ids`).toBe(got.length);
      expect(got, table).toEqual(await ids(ref, table));
    }
  }, 180_000);

  it('completes a backfill when the Temporal server restarts while its activity runs, and two workers give the corpus of one', async () => {
    // A server of its own, with a db file, so it can be stopped and started again on the same port.
    const dir = tempDir('qaforge-restart-');
    const port = await freePort();
    let own = await startDevServer({ dbFile: join(dir, 'dev.db'), port });
    const fresh = await makeRepo({ 'pkg/ops.py': OPS_PY, 'pkg/big.py': bigModule(12_000) });
    const d = tempDir();
    const queue = 'qaforge-restart';
    const env = { ...process.env, TEMPORAL_ADDRESS: own.address, QAFORGE_TASK_QUEUE: queue, QAFORGE_LOG_LEVEL: 'warn' };
    const workers = [0, 1].map(() => spawn(process.execPath, [BIN, '--data-dir', d, 'worker'], { env, stdio: 'ignore' }));
    try {
      let connection = await Connection.connect({ address: own.address });
      const workflowId = `restart-${Date.now()}`;
      await new Client({ connection }).workflow.start('backfillWorkflow', {
        taskQueue: queue,
        workflowId,
        args: [{ flags: { repo: fresh.dir, dataDir: d, sources: ['code', 'commits'] }, promoteAt: 0, heartbeatSeconds: 10 }],
      });
      // Wait until a worker runs the backfill activity, then restart the server under it.
      for (const end = Date.now() + 60_000; ; await new Promise((ok) => setTimeout(ok, 200))) {
        const events = (await new Client({ connection }).workflow.getHandle(workflowId).fetchHistory()).events ?? [];
        if (events.some((e) => e.activityTaskStartedEventAttributes)) break;
        if (Date.now() > end) throw new Error('the backfill activity never started');
      }
      await connection.close();
      await own.stop();
      own = await startDevServer({ dbFile: join(dir, 'dev.db'), port });
      connection = await Connection.connect({ address: own.address });
      const r = (await new Client({ connection }).workflow.getHandle(workflowId).result()) as any;
      await connection.close();
      expect(r.promotion.promoted).toBe(r.staged);
      const ref = tempDir();
      await qaforgeJson(['--data-dir', ref, 'backfill', '--repo', fresh.dir, '--sources', 'code,commits', '--json']);
      const ids = async (dir2: string) => {
        const stores = await Stores.open(dir2);
        const out: string[] = [];
        for await (const rows of stores.scan('staging', ['id'])) out.push(...rows.map((x) => x.id as string));
        stores.close();
        return out.sort();
      };
      const got = await ids(d);
      expect(new Set(got).size).toBe(got.length);
      expect(got).toEqual(await ids(ref));
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await own.stop();
    }
  }, 240_000);
});

describe('determinism', () => {
  it('replays the recorded histories of every workflow with the current workflow code', async () => {
    const dir = fileURLToPath(new URL('./histories/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    // The replay worker logs its state changes at INFO: keep the test output to what matters.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const history = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      await Worker.runReplayHistory({ workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)) }, history, f);
    }
  }, 120_000);
});
