// The feedback loop through a real Temporal dev server and the real CLI: a corpus built from a
// repository made here, flags seeded in the query and feedback logs, a scripted generator and judge on
// 127.0.0.1. feedbackWorkflow proposes, a reviewer accepts with `qaforge feedback accept`, the next
// run reaches feedback.retrainAt and runs the gated promotion, which puts the corrected pair in the
// corpus and retires the pairs the flagged answer cited; then on a Schedule.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QAPair } from '../datasets/schemas.js';
import { columnsOf, pairFromRow, Stores } from '../datasets/store.js';
import { startDevServer, type DevServer } from '../lib/temporal-server.js';
import { BIN, qaforge, qaforgeJson } from './cli.js';
import { feedbackRow, queryRow, roleOf, scriptedCorrections } from './feedback-cases.js';
import { makeRepo, SHAPES_PY, tempDir } from './fixtures.js';
import { startModelServer, type ModelServer } from './openai/server.js';

const Q1 = 'How do I get a shape by its registered name?';
const Q2 = 'Does fetch_shape download shapes over the network?';
const ANSWER = 'Call `fetch_shape(name)`: it fetches the shape registered under that name from the registry.';
const SCRIPT = {
  [Q1]: { source: 2, quotes: ['Fetch a shape by name from the registry.'], answer: ANSWER },
  [Q2]: { source: 1, quotes: ['Fetch a shape from the remote server over HTTP.'], answer: 'It fetches a shape from the remote server over HTTP.' },
};

let temporal: DevServer;
let models: ModelServer;
let worker: ChildProcess;
let connection: Connection;
let client: Client;
let data: string;
let config: string;
const QUEUE = 'qaforge-feedback-test';
const env = () => ({ TEMPORAL_ADDRESS: temporal.address, QAFORGE_TASK_QUEUE: QUEUE, HF_TOKEN: '' });
const cli = (...args: string[]) => qaforge(['--config', config, '--data-dir', data, ...args], { env: env() });
const cliJson = (...args: string[]) => qaforgeJson(['--config', config, '--data-dir', data, ...args], { env: env() });
let setter: QAPair;
let fetchPair: QAPair;

beforeAll(async () => {
  [temporal, models] = await Promise.all([startDevServer({ dbFile: join(tempDir('qaforge-temporal-'), 'dev.db') }), startModelServer({ chat: scriptedCorrections(SCRIPT), maxRequests: 100 })]);
  const repo = await makeRepo({ 'shapes/core.py': SHAPES_PY });
  data = tempDir();
  config = join(tempDir('qaforge-config-'), 'qaforge.config.json');
  writeFileSync(config, JSON.stringify({ models: { endpointUrl: models.url, retries: 1, retryBaseMs: 5, timeoutMs: 5000, embedder: { dimensions: 8 } }, feedback: { retrainAt: 1 } }));
  await cliJson('backfill', '--repo', repo.dir, '--sources', 'code', '--json');
  await cliJson('promote');
  const stores = await Stores.open(data, { vectorDimensions: 8 });
  try {
    const purpose: QAPair[] = [];
    for await (const rows of stores.scan('corpus', columnsOf('corpus'), "category = 'purpose'")) purpose.push(...rows.map(pairFromRow));
    setter = purpose.find((p) => p.provenance.qualname === 'Circle.diameter' && p.variant === 'property setter')!;
    fetchPair = purpose.find((p) => p.provenance.qualname === 'fetch_shape')!;
    await stores.add('queries', [queryRow('q1', Q1, 'Set the radius from a diameter value.', [setter, fetchPair]), queryRow('q2', Q2, 'It fetches a shape by name.', [fetchPair])]);
    await stores.add('feedback', [feedbackRow('f1', 'q1', 1), feedbackRow('f2', 'q2', 2)]);
  } finally {
    stores.close();
  }
  worker = spawn(process.execPath, [BIN, '--config', config, '--data-dir', data, 'worker'], { env: { ...process.env, ...env(), QAFORGE_LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection });
}, 120_000);

afterAll(async () => {
  worker?.kill('SIGTERM');
  await connection?.close();
  await Promise.all([temporal?.stop(), models?.close()]);
});

const runFeedback = async (n: number) => {
  const workflowId = `feedback-${n}-${Date.now()}`;
  const result = (await client.workflow.execute('feedbackWorkflow', { taskQueue: QUEUE, workflowId, args: [{ flags: { dataDir: data } }] })) as any;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const activities = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
  return { workflowId, result, activities };
};

const corpusRow = async (id: string) => {
  const found = (await cliJson('show', id)) as { where: string; status: string; detail: string | null }[];
  return found.find((f) => f.where === 'corpus') ?? null;
};

describe('feedbackWorkflow', () => {
  it('proposes, waits for an accepted correction, then promotes it behind the gates and retires what it disputes', async () => {
    const first = await runFeedback(1);
    expect(first.activities).toEqual(['proposeCorrections', 'feedbackRetrainDue']);
    expect(first.result).toMatchObject({ proposals: { looked: 2, proposed: ['f1'], rejected: ['f2'], waiting: [] }, accepted: 0, sinceRetrain: 0, retrainAt: 1, last: null, steps: null, retrain: null });
    expect(models.calls.map(roleOf)).toEqual(['research', 'revise', 'judge', 'research', 'revise']);

    const listed = await cliJson('feedback', 'list', '--json');
    expect(listed.map((f: any) => [f.feedback_id, f.status, f.origin])).toEqual([
      ['f1', 'proposed', 'model'],
      ['f2', 'rejected', 'model'],
    ]);
    const shown = await cliJson('feedback', 'show', 'f2', '--json');
    expect(shown.detail.failed.map((x: any) => x.check)).toEqual(['grounded', 'support']);
    const f2 = await cli('feedback', 'accept', 'f2');
    expect(f2.code).toBe(1);
    expect(f2.stderr.trim()).toBe('qaforge: feedback f2 was rejected by check grounded, support: no candidate passed to accept (give one with `qaforge feedback correct f2 --answer …`)');
    const unknown = await cli('feedback', 'show', 'f9');
    expect(unknown.stderr.trim()).toBe('qaforge: no feedback f9 (see `qaforge feedback list`)');

    const accepted = await cliJson('feedback', 'accept', 'f1');
    expect(accepted).toMatchObject({ feedback_id: 'f1', status: 'accepted', staged: true, disputed: [setter.id, fetchPair.id] });

    const second = await runFeedback(2);
    expect(second.activities).toEqual(['proposeCorrections', 'feedbackRetrainDue', 'checkGates', 'promote', 'evalGate', 'snapshot', 'fineTune', 'recordRetrain']);
    const r = second.result;
    expect(r).toMatchObject({ proposals: { looked: 0, proposed: [], rejected: [] }, accepted: 1, sinceRetrain: 1 });
    expect(r.steps.gates.passed).toBe(true);
    expect(r.steps.promotion).toMatchObject({ promoted: 1 });
    expect(r.steps.fineTune).toEqual({ kind: 'none', detail: 'no fine-tune trigger configured' });
    expect(r.retrain).toMatchObject({ accepted: 1, version: r.steps.promotion.version, workflowId: second.workflowId });

    // The corrected pair is active; the pairs the flagged answer cited are retired, kept, with the reason.
    expect(await corpusRow(accepted.pair_id)).toMatchObject({ status: 'active', pair: { category: 'feedback_correction', answer: ANSWER, feedback: { feedbackId: 'f1', queryId: 'q1', origin: 'model' } } });
    expect(await corpusRow(setter.id)).toMatchObject({ status: 'retired', detail: 'disputed by feedback f1' });
    expect(await corpusRow(fetchPair.id)).toMatchObject({ status: 'retired', detail: 'disputed by feedback f1' });
    expect((await cliJson('feedback', 'show', 'f1', '--json')).promoted_version).toBe(r.steps.promotion.version);
    const stats = await cliJson('stats', '--json');
    expect(stats.corpus.byCategory.feedback_correction).toBe(1);

    // The count starts again: nothing more to retrain on.
    const third = await runFeedback(3);
    expect(third.activities).toEqual(['proposeCorrections', 'feedbackRetrainDue']);
    expect(third.result).toMatchObject({ accepted: 1, sinceRetrain: 0, steps: null, retrain: null, last: { accepted: 1, workflowId: second.workflowId } });
  }, 180_000);

  it('runs on a Temporal Schedule with --workflow feedback', async () => {
    const sched = (action: string, ...more: string[]) => cliJson('schedule', action, '--workflow', 'feedback', ...more);
    const created = await sched('create', '--every', '1h');
    expect(created).toMatchObject({ id: 'qaforge-feedback', workflow: 'feedbackWorkflow', paused: false, every: ['3600s'] });
    await sched('trigger');
    let workflowId: string | undefined;
    for (const end = Date.now() + 30_000; !workflowId && Date.now() < end; await new Promise((ok) => setTimeout(ok, 500))) workflowId = (await sched('describe')).recent[0]?.workflowId;
    expect(workflowId).toMatch(/^qaforge-feedback-run/);
    const result = (await client.workflow.getHandle(workflowId!).result()) as any;
    expect(result).toMatchObject({ proposals: { looked: 0 }, accepted: 1, sinceRetrain: 0, steps: null });
    expect(await sched('delete')).toEqual({ id: 'qaforge-feedback', deleted: true });
  }, 120_000);
});
