// The feedback loop through a real Temporal dev server and the real CLI: a corpus built from a
// repository made here, a scripted generator and judge on 127.0.0.1, and the flags sent the way a user
// sends them: `qaforge serve --dev` answers two questions (POST /v1/query, generative), the user rates
// both down (POST /v1/feedback, one with a correction of their own), the server is stopped (its journal
// moved into the query and feedback tables). feedbackWorkflow proposes, a reviewer accepts with
// `qaforge feedback accept`, the next run reaches feedback.retrainAt and runs the gated promotion,
// which puts the corrected pair in the corpus and retires the pairs the flagged answer cited (their
// ids as the service's response gave them); then on a Schedule.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stores } from '../datasets/store.js';
import { startDevServer, type DevServer } from '../lib/temporal-server.js';
import { startServeProcess, stopServeProcess } from '../serve/durability.js';
import { QueryResponse } from '../serve/simulate.js';
import { BIN, qaforge, qaforgeJson } from './cli.js';
import { GENERATOR, roleOf, scriptedCorrections } from './feedback-cases.js';
import { makeRepo, SHAPES_PY, tempDir } from './fixtures.js';
import { startModelServer, type ModelServer } from './openai/server.js';

const Q1 = 'How do I get a shape by its registered name?';
const Q2 = 'Does fetch_shape download shapes over the network?';
const ANSWER = 'Call `fetch_shape(name)`: it fetches the shape registered under that name from the registry.';
/** What the user who flagged the first answer wrote as the right one. */
const USER_ANSWER = 'Use `fetch_shape(name)`: it fetches the shape registered under that name from the registry.';
const SERVED = { [Q1]: 'Set the radius from a diameter value.', [Q2]: 'It fetches a shape by name.' };
// The research step picks the cited source that holds its quote (Q2's quote is in none: it fails the grounding).
const SCRIPT = {
  [Q1]: { quotes: ['Fetch a shape by name from the registry.'], answer: ANSWER, served: SERVED[Q1] },
  [Q2]: { quotes: ['Fetch a shape from the remote server over HTTP.'], answer: 'It fetches a shape from the remote server over HTTP.', served: SERVED[Q2] },
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
/** The service's answers to Q1 and Q2, and the user's feedback ids for them. */
let served1: QueryResponse;
let served2: QueryResponse;
let f1: string;
let f2: string;
/** The pairs the flagged answer to Q1 cited, in citation order; an active pair it did not cite. */
let cited: string[];
let uncited: string;
/** Active pairs before the feedback loop. */
let activeBefore: number;

beforeAll(async () => {
  [temporal, models] = await Promise.all([startDevServer({ dbFile: join(tempDir('qaforge-temporal-'), 'dev.db') }), startModelServer({ chat: scriptedCorrections(SCRIPT), maxRequests: 100 })]);
  const repo = await makeRepo({ 'shapes/core.py': SHAPES_PY });
  data = tempDir();
  config = join(tempDir('qaforge-config-'), 'qaforge.config.json');
  writeFileSync(config, JSON.stringify({ models: { endpointUrl: models.url, retries: 1, retryBaseMs: 5, timeoutMs: 5000, embedder: { dimensions: 8 } }, feedback: { retrainAt: 1 }, serve: { abstainThreshold: -1 } }));
  await cliJson('backfill', '--repo', repo.dir, '--sources', 'code', '--json');
  await cliJson('promote');

  // The flags, as a user sends them: through the service (dev mode: no key, loopback only). Its
  // abstention threshold is off: the test embedder's hash vectors have no meaningful similarity.
  const server = await startServeProcess({ cliArgs: ['--config', config, '--data-dir', data], serveArgs: ['--dev'], env: env() });
  try {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as any };
    };
    const ask = async (question: string) => {
      const r = await post('/v1/query', { question, mode: 'fts', answer: 'generative', k: 5 });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      return QueryResponse.parse(r.json);
    };
    served1 = await ask(Q1);
    served2 = await ask(Q2);
    for (const [r, q] of [
      [served1, Q1],
      [served2, Q2],
    ] as const) {
      expect(r).toMatchObject({ answer: SERVED[q], abstained: false, model: GENERATOR });
      expect(r.citations.length).toBeGreaterThanOrEqual(2);
      expect(r.citations.every((c) => c.verified)).toBe(true);
    }
    cited = [...new Set(served1.citations.map((c) => c.pair_id))];
    const down1 = await post('/v1/feedback', { query_id: served1.query_id, rating: 'down', reason: 'wrong', correction: USER_ANSWER });
    const down2 = await post('/v1/feedback', { query_id: served2.query_id, rating: 'down', reason: 'wrong' });
    expect([down1.status, down2.status]).toEqual([201, 201]);
    expect([down1.json.duplicate, down2.json.duplicate]).toEqual([false, false]);
    [f1, f2] = [down1.json.feedback_id as string, down2.json.feedback_id as string];
    // Sent again, the same flag is the same feedback.
    expect(await post('/v1/feedback', { query_id: served1.query_id, rating: 'down', reason: 'wrong' })).toEqual({ status: 201, json: { feedback_id: f1, duplicate: true } });
  } finally {
    await stopServeProcess(server);
  }
  const stores = await Stores.open(data, { vectorDimensions: 8 });
  try {
    // The clean stop moved the journal into the tables: the two answers and the two flags, once each.
    const ids = async (table: 'queries' | 'feedback', column: string) => {
      const out: string[] = [];
      for await (const rows of stores.scan(table, [column])) out.push(...rows.map((r) => r[column] as string));
      return out.sort();
    };
    expect(await ids('queries', 'query_id')).toEqual([served1.query_id, served2.query_id].sort());
    expect(await ids('feedback', 'feedback_id')).toEqual([f1, f2].sort());
    activeBefore = await stores.count('corpus', "status = 'active'");
    for await (const rows of stores.scan('corpus', ['id'], "status = 'active' AND category = 'purpose'")) uncited ??= rows.map((r) => r.id as string).find((id) => !cited.includes(id))!;
  } finally {
    stores.close();
  }
  expect(uncited).toBeDefined();
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
    // The flag as the service logged it: the question, the answer and citations it gave, the user's correction.
    const flagged = await cliJson('feedback', 'show', f1, '--json');
    expect(flagged).toMatchObject({ feedback_id: f1, query_id: served1.query_id, key_name: 'dev', rating: 'down', reason: 'wrong', correction: USER_ANSWER, synthetic: false, question: Q1, answer: SERVED[Q1], status: 'pending', disputed: cited });
    expect(flagged.citations).toEqual(served1.citations);

    const first = await runFeedback(1);
    expect(first.activities).toEqual(['proposeCorrections', 'feedbackRetrainDue']);
    expect(first.result).toMatchObject({ proposals: { looked: 2, proposed: [f1], rejected: [f2], waiting: [] }, accepted: 0, sinceRetrain: 0, retrainAt: 1, last: null, steps: null, retrain: null });
    // The service's two answers, then f1: research, revise, the judge for the user's and the model's candidate; f2: research, revise.
    expect(models.calls.map(roleOf)).toEqual(['answer', 'answer', 'research', 'revise', 'judge', 'judge', 'research', 'revise']);

    const listed = await cliJson('feedback', 'list', '--json');
    expect(listed.map((f: any) => [f.feedback_id, f.status, f.origin, f.has_correction])).toEqual([
      [f1, 'proposed', 'user', true],
      [f2, 'rejected', 'model', false],
    ]);
    const proposal = await cliJson('feedback', 'show', f1, '--json');
    expect(proposal.detail.candidates.map((c: any) => [c.origin, c.answer, c.passed])).toEqual([
      ['user', USER_ANSWER, true],
      ['model', ANSWER, true],
    ]);
    const shown = await cliJson('feedback', 'show', f2, '--json');
    expect(shown.detail.failed.map((x: any) => x.check)).toEqual(['grounded', 'support']);
    const refused = await cli('feedback', 'accept', f2);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`qaforge: feedback ${f2} was rejected by check grounded, support: no candidate passed to accept (give one with \`qaforge feedback correct ${f2} --answer …\`)`);
    const unknown = await cli('feedback', 'show', 'f9');
    expect(unknown.stderr.trim()).toBe('qaforge: no feedback f9 (see `qaforge feedback list`)');

    const accepted = await cliJson('feedback', 'accept', f1);
    expect(accepted).toMatchObject({ feedback_id: f1, status: 'accepted', staged: true, disputed: cited });

    const second = await runFeedback(2);
    expect(second.activities).toEqual(['proposeCorrections', 'feedbackRetrainDue', 'checkGates', 'promote', 'evalGate', 'snapshot', 'fineTune', 'recordRetrain']);
    const r = second.result;
    expect(r).toMatchObject({ proposals: { looked: 0, proposed: [], rejected: [] }, accepted: 1, sinceRetrain: 1 });
    expect(r.steps.gates.passed).toBe(true);
    // One pair in, the cited ones out.
    expect(r.steps.promotion).toMatchObject({ promoted: 1, active: activeBefore + 1 - cited.length });
    expect(r.steps.fineTune).toEqual({ kind: 'none', detail: 'no fine-tune trigger configured' });
    expect(r.retrain).toMatchObject({ accepted: 1, version: r.steps.promotion.version, workflowId: second.workflowId });

    // The user's corrected pair is active; the pairs the flagged answer cited are retired, kept, with the reason; the rest stay.
    expect(await corpusRow(accepted.pair_id)).toMatchObject({
      status: 'active',
      pair: { category: 'feedback_correction', question: Q1, answer: USER_ANSWER, feedback: { feedbackId: f1, queryId: served1.query_id, origin: 'user', cited } },
    });
    for (const id of cited) expect(await corpusRow(id), id).toMatchObject({ status: 'retired', detail: `disputed by feedback ${f1}` });
    expect(await corpusRow(uncited)).toMatchObject({ status: 'active' });
    expect((await cliJson('feedback', 'show', f1, '--json')).promoted_version).toBe(r.steps.promotion.version);
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
