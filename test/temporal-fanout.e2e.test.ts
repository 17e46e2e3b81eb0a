// Fan-out of a backfill's code batches across workers, on the real dev server: two `qaforge worker`
// processes share one backfillWorkflow, their batch activities overlap in time, and staging ends as
// the in-process backfill's — the same ids, statuses and rejected reasons, including the pairs that
// are rejected because of a pair of another batch. Then the engineers' commands: `--detach`, `runs
// list|status|cancel`, and `ingest` without --repo.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stores } from '../datasets/store.js';
import { startDevServer, type DevServer } from '../lib/temporal-server.js';
import { BIN, qaforge, qaforgeJson } from './cli.js';
import { makeRepo, tempDir, until, type FixtureRepo } from './fixtures.js';

/** A module with a class and functions whose docstrings make pairs; `n` names them apart. */
const moduleSource = (n: number) => `"""Geometry helpers for shape number ${n}: areas, perimeters and scaling."""


class Shape${n}:
    """A shape of kind ${n} with a width and a height.

    Args:
        width: the horizontal extent in metres.
        height: the vertical extent in metres.
    """

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height

    def area_${n}(self) -> float:
        """Return the area of the shape in square metres.

        Raises:
            ValueError: if the width or the height is negative.
        """
        if self.width < 0 or self.height < 0:
            raise ValueError("negative extent")
        return self.width * self.height


def scale_${n}(shape: Shape${n}, factor: float = 2.0) -> Shape${n}:
    """Return a new shape whose sides are multiplied by the factor, leaving the original untouched."""
    return Shape${n}(shape.width * factor, shape.height * factor)
`;

/** The same test file under several names: its usage examples ask the same questions, answered from another file. */
const USAGE_TEST = `from pkg.mod_00 import Shape0, scale_0


def test_area():
    shape = Shape0(width=3.0, height=4.0)
    assert shape.area_0() == 12.0


def test_scale():
    assert scale_0(Shape0(1.0, 2.0), factor=3.0).width == 3.0
`;

const MODULES = 24;
const TESTS = 6;
const BATCH_FILES = 4;
// pkg/__init__.py, 24 modules, 6 test files, in path order; batch b holds the files whose index i has i % 8 === b.
const FILES = 1 + MODULES + TESTS;
const BATCHES = Math.ceil(FILES / BATCH_FILES);

let server: DevServer;
let repo: FixtureRepo;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startDevServer({ dbFile: join(tempDir('qaforge-fanout-'), 'dev.db') });
  const files: Record<string, string> = { 'pkg/__init__.py': '"""Shapes."""\n' };
  for (let i = 0; i < MODULES; i++) files[`pkg/mod_${String(i).padStart(2, '0')}.py`] = moduleSource(i);
  // Test files at path indices 25…30: batches 1…6, the first of them in the lowest batch, as in path order.
  for (let i = 0; i < TESTS; i++) files[`tests/test_use_${i}.py`] = USAGE_TEST;
  repo = await makeRepo(files);
}, 60_000);

afterAll(async () => {
  await Promise.all(children.map(stopWorker));
  await server?.stop();
});

const startWorker = (dataDir: string, queue: string): ChildProcess => {
  const w = spawn(process.execPath, [BIN, '--data-dir', dataDir, 'worker'], { env: { ...process.env, TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: queue, QAFORGE_LOG_LEVEL: 'warn', QAFORGE_WORKERS: '1' }, stdio: 'ignore' });
  children.push(w);
  return w;
};

const exited = (w: ChildProcess) => w.exitCode !== null || w.signalCode !== null;

const stopWorker = async (w: ChildProcess) => {
  if (exited(w)) return;
  const done = new Promise((ok) => w.once('exit', ok));
  w.kill('SIGTERM');
  await done;
};

/** Pollers of a task queue's activity tasks: worker identities. */
async function activityPollers(connection: Connection, queue: string): Promise<string[]> {
  const r = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: 2 });
  return (r.pollers ?? []).map((p) => p.identity ?? '');
}

/** What staging, rejected, sources and skipped hold: ids with their status, reasons, or paths. */
async function tables(dir: string) {
  const stores = await Stores.open(dir);
  const rows = async (table: 'staging' | 'rejected' | 'sources' | 'skipped', cols: string[]) => {
    const out: string[] = [];
    for await (const b of stores.scan(table, cols)) out.push(...b.map((r) => cols.map((c) => String(r[c])).join(' ')));
    return out.sort();
  };
  try {
    return {
      staging: await rows('staging', ['id', 'status']),
      rejected: await rows('rejected', ['id', 'reasons']),
      sources: await rows('sources', ['id']),
      skipped: await rows('skipped', ['path', 'reason']),
    };
  } finally {
    stores.close();
  }
}

/**
 * The same repository backfilled in one process, the reference the Temporal runs are held to: run once
 * for the file (the repository does not change until the last test commits to it, after its reference).
 */
let referenceRun: Promise<{ dir: string; local: any }> | undefined;
const reference = () =>
  (referenceRun ??= (async () => {
    const dir = tempDir();
    return { dir, local: await qaforgeJson(['--data-dir', dir, 'backfill', '--repo', repo.dir, '--sources', 'code', '--json']) };
  })());

describe('fan-out', () => {
  it('shares one backfill between two worker processes: batch activities of both overlap, and staging is the in-process backfill’s', async () => {
    const d = tempDir();
    const queue = 'qaforge-fanout';
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    startWorker(d, queue);
    startWorker(d, queue);
    try {
      // Both workers poll the batch queue before the backfill starts.
      await until('two workers polling the batch queue', async () => new Set(await activityPollers(connection, `${queue}-batches`)).size === 2, 60_000, 250);
      const workflowId = `fanout-${Date.now()}`;
      const handle = await client.workflow.start('backfillWorkflow', {
        taskQueue: queue,
        workflowId,
        args: [{ flags: { repo: repo.dir, dataDir: d, sources: ['code'] }, promoteAt: 1e9, batchFiles: BATCH_FILES, concurrentBatches: 4, batchTaskQueue: `${queue}-batches` }],
      });
      // The progress query while it runs: never more batches in flight than the bound.
      let maxInFlight = 0;
      const polling = (async () => {
        for (;;) {
          const p = (await handle.query('progress').catch(() => null)) as { phase: string; batchesInFlight?: number } | null;
          if (p) maxInFlight = Math.max(maxInFlight, p.batchesInFlight ?? 0);
          if (p?.phase === 'done') return;
          await new Promise((ok) => setTimeout(ok, 200));
        }
      })();
      const r = (await handle.result()) as any;
      await polling;
      expect(maxInFlight).toBeGreaterThanOrEqual(1);
      expect(maxInFlight).toBeLessThanOrEqual(4);
      expect(r.run.files).toBe(FILES);
      expect(await handle.query('progress')).toMatchObject({ phase: 'done', batchesDone: BATCHES, batches: BATCHES, batchesInFlight: 0, batchesExtracted: 0, staged: r.run.staged });

      // The history: one extractBatch and one commitBatch per batch; extractions of the two workers overlapped.
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name!]));
      const ms = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + Math.round((e.eventTime!.nanos ?? 0) / 1e6);
      const started = new Map(events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => [String(e.activityTaskStartedEventAttributes!.scheduledEventId), { identity: e.activityTaskStartedEventAttributes!.identity!, at: ms(e) }]));
      const spans = events
        .filter((e) => e.activityTaskCompletedEventAttributes)
        .map((e) => {
          const id = String(e.activityTaskCompletedEventAttributes!.scheduledEventId);
          return { type: scheduled.get(id)!, ...started.get(id)!, end: ms(e) };
        });
      const count = (t: string) => spans.filter((s) => s.type === t).length;
      expect([count('planBackfill'), count('extractBatch'), count('commitBatch'), count('finishBackfill'), count('dropFragments'), count('runSources')]).toEqual([1, BATCHES, BATCHES, 1, 1, 0]);
      const extracts = spans.filter((s) => s.type === 'extractBatch');
      const identities = new Set(extracts.map((s) => s.identity));
      expect(identities.size).toBe(2);
      const overlapping = extracts.flatMap((a) => extracts.filter((b) => a.identity !== b.identity && a.at < b.end && b.at < a.end));
      expect(overlapping.length).toBeGreaterThan(0);
      // Commits run one at a time.
      const commits = spans.filter((s) => s.type === 'commitBatch').sort((a, b) => a.at - b.at);
      for (let i = 1; i < commits.length; i++) expect(commits[i]!.at).toBeGreaterThanOrEqual(commits[i - 1]!.end);
      // No fragment is left in the data dir.
      expect(existsSync(join(d, 'fragments'))).toBe(true);
      expect(readdirSync(join(d, 'fragments'))).toEqual([]);

      // The fan-out path replays deterministically from its own history.
      Runtime.install({ logger: new DefaultLogger('WARN') });
      await Worker.runReplayHistory({ workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)) }, await handle.fetchHistory(), workflowId);

      // The same repository backfilled in one process.
      const { dir: ref, local } = await reference();
      expect(r.run.staged).toBe(local.staged);
      expect(r.run.rejected).toBe(local.rejected);
      const [got, want] = [await tables(d), await tables(ref)];
      // Cross-batch rejections exist: the three usage examples of each of five test files repeat the first one’s questions.
      expect(got.rejected.filter((x) => x.endsWith(' ambiguous'))).toHaveLength(3 * (TESTS - 1));
      expect(got.staging.length).toBe(local.staged);
      expect(got).toEqual(want);
    } finally {
      await connection.close();
      for (const c of children.splice(0)) await stopWorker(c);
    }
  }, 300_000);
});

describe('a worker killed while it commits a batch', () => {
  it('is replaced: the commit runs again on another worker, and staging is the in-process backfill’s', async () => {
    const d = tempDir();
    const queue = 'qaforge-fanout-crash';
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    // The first worker kills itself (SIGKILL) in its first commit, after the batch's rows are written and before anything else.
    const first = spawn(process.execPath, [BIN, '--data-dir', d, 'worker'], {
      env: { ...process.env, TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: queue, QAFORGE_LOG_LEVEL: 'warn', QAFORGE_WORKERS: '1', QAFORGE_FAILPOINT: 'fragments.after-flush' },
      stdio: 'ignore',
    });
    children.push(first);
    try {
      const handle = await client.workflow.start('backfillWorkflow', {
        taskQueue: queue,
        workflowId: `fanout-crash-${Date.now()}`,
        args: [{ flags: { repo: repo.dir, dataDir: d, sources: ['code'] }, promoteAt: 1e9, batchFiles: BATCH_FILES, heartbeatSeconds: 10, batchTaskQueue: `${queue}-batches` }],
      });
      const [code, signal] = (await once(first, 'exit')) as [number | null, string | null];
      expect(code === null ? signal : code).toBe('SIGKILL');
      startWorker(d, queue);
      const r = (await handle.result()) as any;
      expect(r.run.files).toBe(FILES);
      const events = (await handle.fetchHistory()).events ?? [];
      const typeOf = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name]));
      const commitAttempts = events.filter((e) => e.activityTaskStartedEventAttributes && typeOf.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) === 'commitBatch').map((e) => e.activityTaskStartedEventAttributes!.attempt);
      // The first batch's commit ran twice: killed after writing its rows, then again on the second worker.
      expect(commitAttempts).toHaveLength(BATCHES);
      expect(commitAttempts[0]).toBe(2);
      expect(await tables(d)).toEqual(await tables((await reference()).dir));
    } finally {
      await connection.close();
      for (const c of children.splice(0)) await stopWorker(c);
    }
  }, 300_000);
});

describe('engineers’ commands', () => {
  it('backfill --via-temporal --detach prints the workflow id and returns; runs list and status follow it to its result; ingest without --repo continues the repository', async () => {
    const d = tempDir();
    const queue = 'qaforge-detach';
    const env = { TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: queue };
    const start = await qaforge(['--data-dir', d, 'backfill', '--repo', repo.dir, '--sources', 'code', '--via-temporal', '--detach', '--batch-files', '8', '--concurrent-batches', '2'], { env });
    expect(start.code).toBe(0);
    const lines = start.stdout.trim().split('\n');
    const m = /^started backfillWorkflow (qaforge-backfill-\d+) on (\S+) \(task queue (\S+)\)$/.exec(lines[0]!);
    expect(m).not.toBeNull();
    const [, id, address, q] = m!;
    expect([address, q]).toEqual([server.address, queue]);
    expect(lines.slice(1)).toEqual([
      `it needs a worker: nothing runs until one polls task queue ${queue}. Start one (or N, to share the work) with:`,
      `  qaforge --data-dir ${d} worker`,
      `progress: qaforge --data-dir ${d} runs status ${id}`,
    ]);
    // No worker yet: the run waits, and its status says nobody answers the progress query.
    const waiting = await qaforgeJson(['--data-dir', d, 'runs', 'status', id!, '--json'], { env });
    expect(waiting).toMatchObject({ workflowId: id, type: 'backfillWorkflow', status: 'RUNNING', close: null, progress: null });
    expect(waiting.note).toBe('no worker answered the progress query within 5 s: is a `qaforge worker` running on this task queue?');
    const listed = await qaforgeJson(['--data-dir', d, 'runs', 'list', '--json'], { env });
    expect(listed.find((r: any) => r.workflowId === id)).toMatchObject({ type: 'backfillWorkflow', status: 'RUNNING', close: null, runs: 1 });

    const worker = startWorker(d, queue);
    try {
      // While it runs, the progress query answers (unless it is already done).
      const seen = await until(
        'a progress answer or the end',
        async () => {
          const s = await qaforgeJson(['--data-dir', d, 'runs', 'status', id!, '--json'], { env });
          return s.progress?.phase === 'code' || s.status !== 'RUNNING' ? s : null;
        },
        120_000,
        300,
      );
      if (seen.status === 'RUNNING') {
        expect(seen.progress).toMatchObject({ phase: 'code', sha: repo.sha, batches: Math.ceil(FILES / 8) });
        expect(seen.progress.batchesInFlight).toBeLessThanOrEqual(2);
      }
      const done = await until(
        'the detached backfill to complete',
        async () => {
          const s = await qaforgeJson(['--data-dir', d, 'runs', 'status', id!, '--json'], { env });
          return s.status === 'COMPLETED' ? s : null;
        },
        180_000,
        1000,
      );
      const { local } = await reference();
      const version = (await qaforgeJson(['--data-dir', d, 'versions', '--json'])).at(-1).version;
      expect(done.result).toEqual({ files: FILES, staged: local.staged, rejected: local.rejected, retired: 0, alreadyKnown: 0, promoted: local.staged, version, gates: [] });
      const text = await qaforge(['--data-dir', d, 'runs', 'status', id!], { env });
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`result   ${FILES} files, ${local.staged} staged, ${local.rejected} rejected, 0 known, 0 retired; promoted ${local.staged} → corpus version ${version}`);
      const table = await qaforge(['--data-dir', d, 'runs', 'list'], { env });
      const row = table.stdout.split('\n').find((l) => l.startsWith(id!))!;
      expect(row.split(/\s+/).slice(0, 3)).toEqual([id, 'backfill', 'COMPLETED']);

      // ingest without --repo: the repository this data dir was backfilled from, said in one line.
      await repo.commit({ 'pkg/mod_99.py': moduleSource(99) }, 'Add the shape of kind 99 with its area and scaling');
      const ing = await qaforge(['--data-dir', d, 'ingest', '--sources', 'code', '--json'], { env: { QAFORGE_REPO: '' } });
      expect(ing.code).toBe(0);
      expect(ing.stderr.trim().split('\n')).toContain(`qaforge ingest: continuing acme/shapes from ${repo.dir}, the repository ${d} was backfilled from`);
      const run = JSON.parse(ing.stdout);
      expect(run.repo).toEqual({ repo: 'acme/shapes', sha: repo.sha });
      expect(run.sources[0]).toMatchObject({ source: 'code', units: 1, note: '1 changed files' });
      // A data dir with no backfill: one line, exit 1.
      const empty = await qaforge(['--data-dir', tempDir(), 'ingest', '--sources', 'code'], { env: { QAFORGE_REPO: '' } });
      expect(empty.code).toBe(1);
      expect(empty.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^qaforge: no --repo given, and the data dir \S+ holds no backfill to continue: run `qaforge backfill --repo <path\|url>` first$/)]);
    } finally {
      await stopWorker(worker);
    }
  }, 400_000);

  it('runs cancel stops a backfill between batches and leaves no fragments; status, cancel and unknown ids answer with exit codes', async () => {
    const d = tempDir();
    const queue = 'qaforge-cancel';
    const env = { TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: queue };
    const start = await qaforgeJson(['--data-dir', d, 'backfill', '--repo', repo.dir, '--sources', 'code', '--via-temporal', '--detach', '--batch-files', '1', '--concurrent-batches', '1', '--json'], { env });
    expect(start).toMatchObject({ workflow: 'backfillWorkflow', address: server.address, taskQueue: queue, devServer: null });
    const id = start.workflowId as string;
    const worker = startWorker(d, queue);
    try {
      // Once a batch is committed, cancel: the batch in flight ends, then the fragments are dropped.
      // Watched with the progress query in this process: a CLI call per poll takes seconds on a loaded
      // machine, long enough for the backfill to pass its 20th batch and continue as new before the cancel.
      const watch = await Connection.connect({ address: server.address });
      try {
        const handle = new Client({ connection: watch }).workflow.getHandle(id);
        await until(
          'a committed batch',
          async () => {
            const p = (await handle.query('progress').catch(() => null)) as { batchesDone?: number } | null;
            return (p?.batchesDone ?? 0) >= 1;
          },
          120_000,
          50,
        );
      } finally {
        await watch.close();
      }
      const c = await qaforge(['--data-dir', d, 'runs', 'cancel', id], { env });
      expect(c.code).toBe(0);
      expect(c.stdout.trim()).toBe(`${id} CANCELLED`);
      const s = await qaforgeJson(['--data-dir', d, 'runs', 'status', id, '--json'], { env });
      expect(s).toMatchObject({ status: 'CANCELLED', result: null });
      expect(readdirSync(join(d, 'fragments'))).toEqual([]);
      // Staging holds whole batches only: the files of the batches committed (one file each, in path order), no other.
      // The commits of every run: a backfill continues as new after 20 batches, and a slow poll can cancel it after that.
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection });
      let committed = 0;
      for (let runId: string | undefined; ; ) {
        const events = (await client.workflow.getHandle(id, runId).fetchHistory()).events ?? [];
        const commitIds = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'commitBatch').map((e) => String(e.eventId)));
        committed += events.filter((e) => e.activityTaskCompletedEventAttributes && commitIds.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId))).length;
        runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
        if (!runId) break;
      }
      await connection.close();
      expect(committed).toBeGreaterThanOrEqual(1);
      expect(committed).toBeLessThan(FILES);
      const stores = await Stores.open(d);
      const paths = new Set<string>();
      for await (const b of stores.scan('sources', ['path'])) for (const r of b) paths.add(r.path as string);
      stores.close();
      const all = ['pkg/__init__.py', ...Array.from({ length: MODULES }, (_, i) => `pkg/mod_${String(i).padStart(2, '0')}.py`), ...Array.from({ length: TESTS }, (_, i) => `tests/test_use_${i}.py`)];
      expect([...paths].sort()).toEqual(all.slice(0, committed));
      const again = await qaforge(['--data-dir', d, 'runs', 'cancel', id], { env });
      expect(again.code).toBe(1);
      expect(again.stderr.trim()).toBe(`qaforge: ${id} is not running: it is CANCELLED`);
      const unknown = await qaforge(['--data-dir', d, 'runs', 'status', 'no-such-run'], { env });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr.trim()).toBe(`qaforge: no workflow no-such-run on ${server.address} (\`qaforge runs list\` shows the recent ones)`);
      const noServer = await qaforge(['--data-dir', tempDir(), 'runs', 'list'], { env: { TEMPORAL_ADDRESS: '' } });
      expect(noServer.code).toBe(1);
      expect(noServer.stderr.trim()).toMatch(/^qaforge: qaforge runs needs a Temporal server: set TEMPORAL_ADDRESS/);
    } finally {
      await stopWorker(worker);
    }
  }, 300_000);
});
