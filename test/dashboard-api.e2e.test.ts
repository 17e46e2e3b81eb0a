// The dashboard API end to end over real HTTP on 127.0.0.1: `qaforge serve` as a child process on a
// data dir built here by the real CLI — a backfill of code and a promotion (v1), a commit that moves the
// code and adds docs, an ingest and a second promotion (v2, a batch of a new source kind) — with a few
// model-written pairs staged and rejected the way the validators store them, hardness labels, eval rows
// and a fine-tune record; queries and feedback sent to POST /v1/query, /v1/search and /v1/feedback (some
// marked x-qaforge-synthetic). Every figure is checked against an independent read of the tables and
// against `qaforge stats --json`; every drill-down against the count it opens. Embeddings come from the
// local model: nothing here depends on their digits (only identical questions share a cluster for sure).
import { cpSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { pairFromRow, columnsOf, SCHEMAS, Stores } from '../datasets/store.js';
import type { QAPair } from '../datasets/schemas.js';
import { contentId } from '../lib/hash.js';
import { rowsToArrowTable } from '../datasets/arrow-rows.js';
import { startServeProcess, stopServeProcess, type ServeProcess } from '../serve/durability.js';
import { createKey } from '../serve/keys.js';
import { CorpusPanel, DriftPanel, OnlinePanel, PairDetail, QualityPanel, RetrainingPanel, RowsResponse } from '../dashboard/schema.js';
import { qaforge, qaforgeJson } from './cli.js';
import { type FixtureRepo, makeRepo, SHAPES_PY, tempDir, until } from './fixtures.js';

const GUIDE_MD = '# Guide\n\n## Install\n\nInstall the package with pip before you import anything from it.\n\n```bash\npip install shapes\n```\n\n## Configure\n\nSet the scale factor in the configuration file before you run anything.\n';
const SHIFTED_PY = `# comment one\n# comment two\n${SHAPES_PY}`.replace('Used by the fixture tests.', 'Used by the fixture tests and nothing else.').replace('Radius of the circle, in units.', 'Radius of the circle, in metres.');

const Q_FETCH = 'What does fetch_shape return?';
const Q_SCALE = 'How do I scale a number by the global factor of two?';
const Q_OUT = 'What is the boiling point of ethanol at sea level?';
const MODEL = 'scripted-model';

let repo: FixtureRepo;
let data: string;
let config: string;
let served: ServeProcess;
let v1: number;
let v2: number;
let movedId: string;
let verified: { checked: number; resolved: number; failures: { id: string; reason: string }[] };
const keys = { root: '', alice: '' };
const env = { HF_TOKEN: '', QAFORGE_ENDPOINT_URL: '', QAFORGE_LLM_SAMPLE: '0' };
const cliJson = (...args: string[]) => qaforgeJson(['--config', config, '--data-dir', data, ...args], { env });
/** `qaforge stats --json` and `qaforge versions --json`, once each: nothing changes the pairs after the setup. */
let statsOnce: Promise<any> | null = null;
let versionsOnce: Promise<any> | null = null;
const stats = () => (statsOnce ??= cliJson('stats', '--json'));
const versionsJson = () => (versionsOnce ??= cliJson('versions', '--json'));

type Row = Record<string, any>;
async function withStores<T>(fn: (s: Stores) => Promise<T>): Promise<T> {
  const s = await Stores.open(data);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}
/** Every row of a table (at a LanceDB version, else the latest), read here independently of the API. */
const tableRows = (name: keyof typeof SCHEMAS, version?: number, cols?: string[]) =>
  withStores(async (s) => {
    const t = await s.db.openTable(name);
    try {
      if (version !== undefined) await t.checkout(version);
      return (await t.query().select(cols ?? columnsOf(name)).toArray()).map((r: { toJSON(): Row }) => r.toJSON());
    } finally {
      t.close();
    }
  });

const countBy = (rows: Row[], key: (r: Row) => string | null | undefined) => {
  const out: Record<string, number> = {};
  for (const r of rows) {
    const k = key(r);
    if (k !== null && k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};
const barMap = (items: { key: string; count: number }[]) => Object.fromEntries(items.filter((b) => b.count > 0).map((b) => [b.key, b.count]));
const qualityOf = (r: Row): number | null => (JSON.parse(r.record).quality?.score ?? null) as number | null;

interface Res {
  status: number;
  json: any;
}
async function get(path: string, key: string | null = keys.root): Promise<Res> {
  const r = await fetch(`${served.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(20_000) });
  return { status: r.status, json: await r.json() };
}
const PANELS = { corpus: CorpusPanel, quality: QualityPanel, retraining: RetrainingPanel, online: OnlinePanel, drift: DriftPanel } as const;
type PanelName = keyof typeof PANELS;
async function panel<P extends PanelName>(name: P, filters: Record<string, string | number> = {}): Promise<z.infer<(typeof PANELS)[P]>> {
  const qs = new URLSearchParams(Object.entries(filters).map(([k, v]) => [k, String(v)] as [string, string])).toString();
  const r = await get(`/api/dashboard/${name}${qs ? `?${qs}` : ''}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return PANELS[name].parse(r.json) as never;
}
async function drill(panelId: string, key: string, filters: Record<string, string | number> = {}, limit = 200): Promise<RowsResponse> {
  const qs = new URLSearchParams({ panel: panelId, key, limit: String(limit), ...Object.fromEntries(Object.entries(filters).map(([k, v]) => [k, String(v)])) }).toString();
  const r = await get(`/api/dashboard/rows?${qs}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return RowsResponse.parse(r.json);
}
async function post(path: string, body: unknown, synthetic = false): Promise<Res> {
  const r = await fetch(`${served.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.alice}`, 'content-type': 'application/json', ...(synthetic ? { 'x-qaforge-synthetic': '1' } : {}) },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

/** Model-written variants of a rule pair, as the self-instruct validators store them. */
function modelPair(base: QAPair, n: number, verdicts: QAPair['verdicts']): QAPair {
  const question = `${base.question} (asked another way, ${n})`;
  return { ...base, id: contentId('dashboard-model-pair', n), question, category: 'self_instruct', generator: { name: 'self-instruct', version: '1', promptVersion: 'si-v1', model: MODEL }, verdicts };
}
const judge = (pass: boolean, verdict: string, score: number) => ({ check: 'judge', pass, reason: pass ? null : ('judge' as const), detail: `${MODEL}: ${verdict}, ${score}/5: scripted` });

const sent = { real: 0, synthetic: 0, previous: 0, recent: 0, feedback: [] as { query_id: string; rating: string; reason: string | null; synthetic: boolean }[], queryIds: [] as string[] };

beforeAll(async () => {
  repo = await makeRepo({ 'pkg/shapes.py': SHAPES_PY });
  data = tempDir();
  const cfgDir = tempDir('qaforge-config-');
  config = join(cfgDir, 'qaforge.config.json');
  writeFileSync(config, JSON.stringify({ serve: { abstainThreshold: 0.3, flushMs: 200, refreshMs: 250, rateLimit: { max: 1000, windowMs: 60_000 } } }));
  await cliJson('backfill', '--repo', repo.dir, '--sources', 'code', '--json');
  v1 = (await cliJson('promote')).version;

  // Model-written pairs: one passes (staged, promoted with v2), three are rejected (by the judge, as an unsupported claim, as low value).
  await withStores(async (s) => {
    const rows: Row[] = [];
    for await (const b of s.scan('staging', columnsOf('staging'), "category = 'purpose' AND qualname = 'fetch_shape'")) rows.push(...b);
    const base = pairFromRow(rows[0]!);
    await s.stage([modelPair(base, 1, [judge(true, 'supported', 5)])], 'self-instruct-run');
    await s.reject(
      [
        { pair: modelPair(base, 2, [judge(false, 'unsupported', 1)]), reasons: ['judge'], detail: 'judge failed' },
        { pair: modelPair(base, 3, [judge(true, 'partially', 3), { check: 'answer_support', pass: false, reason: 'unsupported_claim', detail: 'a number not in the context' }]), reasons: ['unsupported_claim'], detail: 'claim' },
        { pair: modelPair(base, 4, [judge(true, 'supported', 4), { check: 'value', pass: false, reason: 'low_value', detail: 'low' }]), reasons: ['low_value'], detail: 'low' },
      ],
      'self-instruct-run',
    );
  });
  await repo.commit({ 'pkg/shapes.py': SHIFTED_PY, 'docs/guide.md': GUIDE_MD }, 'shift shapes, add a guide');
  await cliJson('ingest', '--sources', 'code,docs', '--repo', repo.dir, '--json');
  v2 = (await cliJson('promote')).version;

  await withStores(async (s) => {
    const active: Row[] = [];
    for await (const b of s.scan('corpus', ['id', 'category'], "status = 'active' AND source_kind = 'code_symbol'")) active.push(...b);
    const now = new Date().toISOString();
    await s.add('hardness', ['easy', 'medium', 'hard'].map((label, i) => ({ id: active[i]!.id, rank: i === 0 ? 1 : i === 1 ? 4 : null, label, mode: 'hybrid', corpus_version: v2, computed_at: now })));
    const est = (mean: number) => ({ mean, low: mean, high: mean });
    const evalRow = (version: number, r10: number, byKind: Record<string, number>) => ({
      corpus_version: version, set_id: 'shapes', set_hash: 'h1', mode: 'hybrid', embedder: 'm', k: 10, questions: 4,
      recall_at_1: r10 / 2, recall_at_5: r10, recall_at_10: r10, mrr_at_10: r10 - 0.1, ndcg_at_10: r10 - 0.05, seconds: 1, created_at: new Date(Date.now() + version).toISOString(),
      detail: JSON.stringify({ byKind: Object.fromEntries(Object.entries(byKind).map(([k, m]) => [k, { questions: 2, recall_at_10: est(m), mrr_at_10: est(m - 0.1), ndcg_at_10: est(m - 0.05) }])) }),
    });
    await s.add('evals', [evalRow(v1, 0.5, { code: 0.5 }), evalRow(v2, 0.75, { code: 0.5, docs: 1 })]);
    await s.setState({
      [`finetune:v${v2}`]: JSON.stringify({ kind: 'command', detail: 'fine-tune job 7 queued', at: now }),
      'gates:eval:last': JSON.stringify({ passed: true, skipped: null, version: v2, reason: null, rollback: null, at: now }),
    });
  });
  // A staged pair whose lines moved away from its evidence, then `qaforge verify`, which records each check.
  await withStores(async (s) => {
    const rows: Row[] = [];
    for await (const b of s.scan('staging', columnsOf('staging'), "category = 'purpose' AND qualname = 'fetch_shape' AND status <> 'retired'")) rows.push(...b);
    const p = pairFromRow(rows.find((r) => r.generator === 'rules') ?? rows[0]!);
    movedId = contentId('dashboard-moved-pair', 1);
    await s.stage([{ ...p, id: movedId, question: `${p.question} (moved)`, provenance: { ...p.provenance, startLine: p.provenance.startLine! + 8, endLine: p.provenance.endLine! + 8 } }], 'moved-run');
  });
  const vr = await qaforge(['--config', config, '--data-dir', data, 'verify', '--repo', repo.dir, '--n', '1000', '--json'], { env });
  expect(vr.code, vr.stderr).toBe(1); // a pair does not resolve
  verified = JSON.parse(vr.stdout);
  // Keys as `qaforge keys create` makes them (the serve tests create them through the CLI).
  await withStores(async (s) => {
    keys.root = (await createKey(s, 'root', 'admin')).key;
    keys.alice = (await createKey(s, 'alice', 'query')).key;
  });
  served = await startServeProcess({ cliArgs: ['--config', config, '--data-dir', data], env });

  // The previous window: scale questions (two synthetic), an out-of-scope one, a search; then a pause; the recent window: fetch_shape three times.
  const ask = async (question: string, synthetic = false) => {
    const r = await post('/v1/query', { question }, synthetic);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    sent[synthetic ? 'synthetic' : 'real']++;
    sent.queryIds.push(r.json.query_id);
    return r.json.query_id as string;
  };
  const s1 = await ask(Q_SCALE, true);
  await ask(Q_SCALE, true);
  const o1 = await ask(Q_OUT);
  const sr = await fetch(`${served.url}/v1/search?q=${encodeURIComponent(Q_SCALE)}&k=3`, { headers: { authorization: `Bearer ${keys.alice}` } });
  expect(sr.status).toBe(200);
  sent.real++;
  sent.previous = 4;
  await new Promise((ok) => setTimeout(ok, 1500));
  const f1 = await ask(Q_FETCH);
  const f2 = await ask(Q_FETCH);
  await ask(Q_FETCH);
  sent.recent = 3;
  for (const [query_id, rating, reason, synthetic] of [[f1, 'down', 'wrong', false], [f2, 'up', null, false], [s1, 'down', 'unhelpful', true], [o1, 'down', 'other', false]] as const) {
    const r = await post('/v1/feedback', { query_id, rating, ...(reason ? { reason } : {}) }, synthetic);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    sent.feedback.push({ query_id, rating, reason, synthetic });
  }
  // Both logs are in their tables once the journal flushes.
  await until('the query and feedback rows in their tables', async () => (await tableRows('queries', undefined, ['query_id'])).length === 7 && (await tableRows('feedback', undefined, ['feedback_id'])).length === 4);
}, 120_000);

afterAll(async () => {
  if (served) await stopServeProcess(served);
  for (const dir of [data, config && dirname(config), repo?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every drill-down of a panel's charts returns exactly as many rows as its bar counts. */
async function expectDrillsAgree(p: Row, filters: Record<string, string | number>) {
  const charts: { drill: string; items: Row[]; count: (x: Row) => number }[] = [];
  const visit = (o: Row) => {
    for (const v of Object.values(o)) {
      if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
      if (typeof v.drill === 'string' && Array.isArray(v.items)) charts.push({ drill: v.drill, items: v.items, count: (x) => x.count ?? x.added ?? x.added_filtered ?? x.requests });
      else visit(v);
    }
  };
  visit(p);
  // Drift: the batch's bins open the batch's pairs of that kind / category.
  if (p.batch) for (const [drillId, psi] of [['drift.source_kind', p.batch.source_kind], ['drift.category', p.batch.category]] as const) charts.push({ drill: drillId, items: psi.bins, count: (x) => x.actual });
  for (const c of charts)
    for (const item of c.items) {
      const r = await drill(c.drill, item.key, filters);
      expect(r.total, `${c.drill} ${item.key} ${JSON.stringify(filters)}`).toBe(c.count(item));
      expect(r.items.length).toBe(Math.min(200, r.total));
    }
  return charts.length;
}

describe('dashboard API', () => {
  it('needs an admin key: 401 without one, 403 for a query key; a bad filter is a 400 that names it', async () => {
    for (const p of ['corpus', 'quality', 'retraining', 'online', 'drift', 'rows?panel=corpus.active', `pair/${'0'.repeat(32)}`]) {
      const none = await get(`/api/dashboard/${p}`, null);
      expect([none.status, none.json.error.code]).toEqual([401, 'unauthorized']);
      const q = await get(`/api/dashboard/${p}`, keys.alice);
      expect([q.status, q.json.error.code]).toEqual([403, 'forbidden']);
    }
    const bad = async (qs: string, message: RegExp) => {
      const r = await get(`/api/dashboard/corpus?${qs}`);
      expect(r.status, JSON.stringify(r.json)).toBe(400);
      expect(r.json.error.code).toBe('invalid_filter');
      expect(r.json.error.message).toMatch(message);
    };
    await bad('source_kind=tweet', /^source_kind(\.0)?: /);
    await bad('from=yesterday', /^from: /);
    await bad('min_score=2', /^min_score: /);
    await bad('min_score=0.9&max_score=0.1', /^min_score: min_score is above max_score/);
    await bad('hardness=tough', /^hardness: /);
    await bad('traffic=bots', /^traffic: /);
    await bad('version=x', /^version: /);
    await bad('version=999', /^version: no dataset version 999 \(versions /);
    await bad('colour=red', /^colour: unknown filter/);
    const rows = await get('/api/dashboard/rows?panel=nope');
    expect([rows.status, rows.json.error.code]).toEqual([400, 'invalid_field']);
    expect(rows.json.error.message).toMatch(/^panel: unknown drill-down panel/);
    expect((await get('/api/dashboard/rows?panel=corpus.active&limit=201')).status).toBe(400);
    expect((await get('/api/dashboard/pair/xyz')).status).toBe(400);
    expect((await get(`/api/dashboard/pair/${'0'.repeat(32)}`)).json.error.code).toBe('unknown_pair');
  });

  it('corpus: agrees with qaforge stats --json and with the tables; growth per version matches the versions table', async () => {
    const st = await stats();
    const p = await panel('corpus');
    expect(p.active).toBe(st.corpus.active);
    expect(p.retired).toBe(st.corpus.retired);
    expect(p.corpus_version).toBe(st.corpus.version);
    expect(barMap(p.by_category.items)).toEqual(st.corpus.byCategory);
    expect(barMap(p.staging_by_status.items)).toEqual(Object.fromEntries(Object.entries(st.staging).filter(([, n]) => (n as number) > 0)));
    expect(barMap(p.staging_by_source_kind.items)).toEqual(st.pairsByKind);
    expect(p.runs.items.slice(-5).map((r) => r.run_id)).toEqual(st.runs.map((r: Row) => r.run_id));
    const corpus = await tableRows('corpus', undefined, ['id', 'status', 'source_kind', 'category', 'promoted_at', 'retired_at', 'record']);
    const active = corpus.filter((r) => r.status === 'active');
    expect(barMap(p.by_source_kind.items)).toEqual(countBy(active, (r) => r.source_kind));
    expect(p.rows).toBe(corpus.length + (await tableRows('staging', undefined, ['id'])).length);
    expect(p.by_source_kind.rows).toBe(active.length);
    expect(p.growth_by_day.items.at(-1)!.cumulative).toBe(active.length);
    // Versions: the pairs each added, retired and left active are the versions table's.
    const versions = await versionsJson();
    expect(p.growth_by_version.items.map((x) => [x.version, x.added, x.retired, x.active])).toEqual(versions.map((x: Row) => [x.version, x.inserted, x.retired, x.active]));
    expect(p.growth_by_version.items.map((x) => x.version)).toEqual([v1, v2]);
    expect(p.growth_by_version.items[1]!.added).toBeGreaterThan(0);
    expect(p.growth_by_version.items[1]!.retired).toBeGreaterThan(0);
    // The ingest retired corpus pairs: as many as the corpus rows retired within its run.
    const runs = await tableRows('runs', undefined, ['run_id', 'command', 'started_at', 'finished_at']);
    const ingest = runs.find((r) => r.command === 'ingest')!;
    const retiredInRun = corpus.filter((r) => r.retired_at && r.retired_at >= ingest.started_at && r.retired_at <= ingest.finished_at).length;
    expect(retiredInRun).toBeGreaterThan(0);
    expect(p.runs.items.find((r) => r.run_id === ingest.run_id)!.retired).toBe(retiredInRun);
    const staging = await tableRows('staging', undefined, ['run_id']);
    for (const r of p.runs.items) expect(r.added).toBe(staging.filter((x) => x.run_id === r.run_id).length);
    // A second identical request is served from the cache.
    expect((await panel('corpus')).cached).toBe(true);
  });

  it('quality: judge verdicts and scores, model-written pass and hallucination-detection rates, reasons as qaforge stats counts them, feedback and corrections', async () => {
    const st = await stats();
    const p = await panel('quality');
    expect(barMap(p.judge.verdicts.items)).toEqual({ supported: 2, partially: 1, unsupported: 1 });
    expect(barMap(p.judge.scores.items)).toEqual({ '1': 1, '3': 1, '4': 1, '5': 1 });
    expect(p.model_written).toMatchObject({ total: 4, passed: 1, pass_rate: 0.25, hallucinations_caught: 2, hallucination_detection_rate: 0.5 });
    expect(barMap(p.reject_reasons.items)).toEqual(st.rejected.byReason);
    expect(p.reject_reasons.rows).toBe(st.rejected.total);
    expect(barMap(p.skip_reasons.items)).toEqual(st.skipped);
    const active = (await tableRows('corpus', undefined, ['status', 'record', 'near_dup_cluster'])).filter((r) => r.status === 'active');
    const scores = active.map(qualityOf).filter((x): x is number => x !== null);
    expect(p.quality_scores.rows).toBe(scores.length);
    expect(p.quality_scores.items.map((b) => b.count)).toEqual(Array.from({ length: 10 }, (_, b) => scores.filter((s) => Math.min(9, Math.floor(s * 10)) === b).length));
    expect(p.near_duplicates.in_clusters).toBe(active.filter((r) => r.near_dup_cluster).length);
    expect(barMap(p.hardness.items)).toEqual({ easy: 1, medium: 1, hard: 1 });
    // Provenance: what `qaforge verify` checked and recorded, the moved pair the one that does not resolve.
    expect(verified.failures.map((x) => x.id)).toEqual([movedId]);
    const checks = await tableRows('provenance_checks');
    expect(checks.length).toBe(verified.checked);
    expect(checks.filter((c) => !c.resolved).map((c) => [c.id, c.reason])).toEqual([[movedId, verified.failures[0]!.reason]]);
    expect(p.provenance).toMatchObject({ checked: verified.checked, resolved: verified.resolved, rate: verified.resolved / verified.checked, note: null });
    expect(barMap(p.provenance.items)).toEqual({ resolved: verified.resolved, not_resolved: 1 });
    const bad = await drill('quality.provenance', 'not_resolved');
    expect(bad.kind === 'pairs' && bad.items.map((x) => x.id)).toEqual([movedId]);
    const moved = PairDetail.parse((await get(`/api/dashboard/pair/${movedId}`)).json);
    expect(moved.provenance_check).toMatchObject({ resolved: false, reason: verified.failures[0]!.reason });
    // Filters apply: the moved pair is a code pair staged after v2, so neither docs nor staging at v1 hold it.
    const notResolved = (q: { provenance: { items: { key: string; count: number }[] } }) => q.provenance.items.find((b) => b.key === 'not_resolved')?.count ?? 0;
    expect(notResolved(await panel('quality', { source_kind: 'doc_section' }))).toBe(0);
    expect(notResolved(await panel('quality', { version: v1 }))).toBe(0);
    expect(barMap(p.feedback.by_rating.items)).toEqual(countBy(sent.feedback, (f) => f.rating));
    expect(barMap(p.feedback.by_reason.items)).toEqual(countBy(sent.feedback, (f) => f.reason ?? 'none'));
    expect(barMap(p.corrections.by_status.items)).toEqual({ pending: 3 });
    // qaforge feedback's counts leave synthetic feedback out: the real traffic's are those.
    const real = await panel('quality', { traffic: 'real' });
    expect(real.feedback.rows).toBe(sent.feedback.filter((f) => !f.synthetic).length);
    expect(barMap(real.corrections.by_status.items)).toEqual({ pending: 2 });
    expect(real.applied).toEqual(['traffic']);
    expect(real.reject_reasons).toEqual(p.reject_reasons);
  });

  it('retraining: the versions timeline with eval figures before and after, the fine-tune trigger, per-kind evals under a source-kind filter', async () => {
    const p = await panel('retraining');
    expect(p.versions.items.map((v) => v.version)).toEqual([v1, v2]);
    expect(p.versions.items[1]!.finetune).toMatchObject({ kind: 'command', detail: 'fine-tune job 7 queued' });
    expect(p.finetunes.items).toMatchObject([{ version: v2, outcome: 'triggered' }]);
    expect(p.gates).toEqual({ promotion: null, eval: { at: expect.any(String), passed: true, version: v2, reason: null, rolled_back: false } });
    expect(p.evals.items.map((e) => [e.corpus_version, e.recall_at_10, e.before_version])).toEqual([
      [v1, 0.5, null],
      [v2, 0.75, v1],
    ]);
    expect(p.evals.items[1]!.delta).toEqual({ recall_at_10: 0.25, mrr_at_10: 0.25, ndcg_at_10: 0.25 });
    const docs = await panel('retraining', { source_kind: 'doc_section' });
    expect(docs.evals.items.map((e) => [e.corpus_version, e.recall_at_10, e.kind])).toEqual([[v2, 1, 'docs']]);
    const corpus = await tableRows('corpus', undefined, ['status', 'source_kind']);
    expect(docs.versions.items.map((v) => v.active_filtered)).toEqual([0, corpus.filter((r) => r.status === 'active' && r.source_kind === 'doc_section').length]);
    expect(docs.applied).toContain('source_kind');
    const at1 = await panel('retraining', { version: v1 });
    expect(at1.versions.items.map((v) => v.version)).toEqual([v1]);
    expect(at1.evals.items.map((e) => e.corpus_version)).toEqual([v1]);
    expect(at1.finetunes.items).toEqual([]);
    expect(at1.gates.eval).toBeNull();
  });

  it('online: requests, errors, abstentions, synthetic vs real, latency percentiles; trending clusters of the recent window against the previous', async () => {
    const p = await panel('online');
    const q = await tableRows('queries');
    expect(p.totals).toMatchObject({ requests: 7, real: sent.real, synthetic: sent.synthetic, errors: q.filter((r) => r.status >= 400).length, abstained: q.filter((r) => r.abstained).length });
    expect(p.totals.abstained).toBeGreaterThanOrEqual(1);
    expect(p.series.items.reduce((s, b) => s + b.requests, 0)).toBe(7);
    expect(p.bucket_ms).toBe(60_000);
    const totals = q.map((r) => r.latency_total as number).sort((a, b) => a - b);
    expect(p.totals.latency.total.p95).toBeCloseTo(totals[Math.ceil(0.95 * totals.length) - 1]!, 2);
    expect(barMap(p.by_route.items)).toEqual(countBy(q, (r) => r.route));
    // Trending: the three fetch_shape questions are one cluster of the recent window, new against the previous.
    const t = p.trending;
    expect(t.embedder).toMatch(/MiniLM/);
    expect(t.items.reduce((s, c) => s + c.count, 0)).toBe(sent.recent);
    expect(t.items.reduce((s, c) => s + c.previous, 0)).toBe(sent.previous);
    const fetchCluster = t.items.find((c) => c.example === Q_FETCH)!;
    expect(fetchCluster).toMatchObject({ count: 3, growth: null });
    const members = await drill('online.cluster', fetchCluster.key);
    expect(members.items.map((r) => r.question)).toEqual([Q_FETCH, Q_FETCH, Q_FETCH]);
    // Traffic: real and synthetic split the requests.
    const real = await panel('online', { traffic: 'real' });
    const synth = await panel('online', { traffic: 'synthetic' });
    expect([real.totals.requests, synth.totals.requests]).toEqual([sent.real, sent.synthetic]);
    expect(synth.totals.synthetic).toBe(sent.synthetic);
    // The version filter: all was answered by v2's corpus, none by v1's.
    expect((await panel('online', { version: v2 })).totals.requests).toBe(7);
    expect((await panel('online', { version: v1 })).totals.requests).toBe(0);
  });

  it('drift: the v2 batch brings a new source kind (docs) against the code-only corpus, and the topics moved between windows', async () => {
    const p = await panel('drift');
    expect(p.batch).toMatchObject({ version: v2, against_version: v1 });
    expect(p.batch.source_kind.threshold).toBe(0.2);
    expect(p.batch.source_kind.drifting).toBe(true);
    expect(p.batch.source_kind.drifting_keys).toContain('doc_section');
    expect(p.batch.drifting_categories.some((c) => c.startsWith('doc_'))).toBe(true);
    const docBin = p.batch.source_kind.bins.find((b) => b.key === 'doc_section')!;
    expect(docBin.expected).toBe(0);
    expect(docBin.actual).toBe((await drill('drift.source_kind', 'doc_section')).total);
    // PSI recomputed from the bins, with the epsilon floor.
    const e = p.epsilon;
    const psi = p.batch.category.bins.reduce((s, b) => {
      const a = Math.max(b.actual / p.batch.category.actual_rows, e);
      const x = Math.max(b.expected / p.batch.category.expected_rows, e);
      return s + (a - x) * Math.log(a / x);
    }, 0);
    expect(p.batch.category.psi).toBeCloseTo(psi, 2);
    // Topics: fetch_shape only in the recent window, scale only in the previous one.
    expect(p.topics.psi.drifting).toBe(true);
    expect(p.topics.psi.actual_rows).toBe(sent.recent);
    expect(p.topics.psi.expected_rows).toBe(sent.previous);
    // version=v1: the first batch has no corpus before it.
    const at1 = await panel('drift', { version: v1 });
    expect(at1.batch).toMatchObject({ version: v1, against_version: null });
    expect(at1.batch.source_kind.psi).toBeNull();
  });

  it('every filter changes every panel consistently with the tables', async () => {
    const corpus = await tableRows('corpus', undefined, ['id', 'status', 'source_kind', 'category', 'promoted_at', 'record']);
    const active = corpus.filter((r) => r.status === 'active');
    const queries = await tableRows('queries');
    const topKind = (r: Row) => (JSON.parse(r.citations)[0]?.source_kind ?? null) as string | null;
    const byId = new Map(active.map((r) => [r.id, r]));

    // source_kind: corpus counts are the code-only counts; queries by their top citation's kind.
    const code = await panel('corpus', { source_kind: 'code_symbol' });
    expect(code.active).toBe(active.filter((r) => r.source_kind === 'code_symbol').length);
    expect(barMap(code.by_category.items)).toEqual(countBy(active.filter((r) => r.source_kind === 'code_symbol'), (r) => r.category));
    expect(code.applied).toEqual(['source_kind']);
    const onCode = await panel('online', { source_kind: 'code_symbol' });
    expect(onCode.totals.requests).toBe(queries.filter((r) => topKind(r) === 'code_symbol').length);
    const docsQuality = await panel('quality', { source_kind: 'doc_section' });
    expect(docsQuality.model_written.total).toBe(0);
    const codeQuality = await panel('quality', { source_kind: 'code_symbol' });
    expect(codeQuality.model_written.total).toBe(4);
    expect(barMap((await panel('corpus', { source_kind: 'code_symbol,doc_section' })).by_source_kind.items)).toEqual(countBy(active, (r) => r.source_kind));

    // min_score / max_score: the quality score.
    const scores = active.map(qualityOf).filter((x): x is number => x !== null).sort((a, b) => a - b);
    const mid = scores[Math.floor(scores.length / 2)]!;
    const high = await panel('corpus', { min_score: mid });
    expect(high.active).toBe(scores.filter((s) => s >= mid).length);
    expect((await panel('corpus', { max_score: mid })).active).toBe(scores.filter((s) => s <= mid).length);
    const onHigh = await panel('online', { min_score: mid });
    expect(onHigh.totals.requests).toBe(queries.filter((r) => {
      const top = JSON.parse(r.citations)[0]?.pair_id;
      const s = top && byId.has(top) ? qualityOf(byId.get(top)!) : null;
      return s !== null && s >= mid;
    }).length);

    // hardness: one labelled pair each.
    for (const h of ['easy', 'medium', 'hard']) {
      const c = await panel('corpus', { hardness: h });
      expect(c.active).toBe(1);
      expect((await panel('quality', { hardness: h })).hardness.items.find((b) => b.key === h)!.count).toBe(1);
    }

    // from / to: pairs by their promotion time, queries by theirs.
    const versions = await versionsJson();
    const from = versions[1].at as string;
    const later = await panel('corpus', { from });
    expect(later.active).toBe(active.filter((r) => r.promoted_at >= from).length);
    expect((await panel('corpus', { to: from })).active).toBe(active.filter((r) => r.promoted_at < from).length);
    const firstQuery = [...queries].sort((a, b) => (a.at < b.at ? -1 : 1));
    const cut = firstQuery[4]!.at as string;
    expect((await panel('online', { from: cut })).totals.requests).toBe(queries.filter((r) => r.at >= cut).length);
    expect((await panel('online', { to: cut })).totals.requests).toBe(queries.filter((r) => r.at < cut).length);
    expect((await panel('retraining', { from })).versions.items.map((v) => v.version)).toEqual([v2]);

    // version: the dataset as of v1 (the corpus and staging at the LanceDB versions v1 recorded).
    const at1 = await panel('corpus', { version: v1 });
    expect(at1.corpus_version).toBe(v1);
    expect(at1.active).toBe(versions[0].active);
    const staging1 = await tableRows('staging', versions[0].tables.staging, ['status']);
    expect(barMap(at1.staging_by_status.items)).toEqual(countBy(staging1, (r) => r.status));
    expect(at1.growth_by_version.items.map((x) => x.version)).toEqual([v1]);
    expect((await panel('quality', { version: v1 })).model_written.total).toBe(0);

    // traffic does not concern pairs: the corpus panel is the same, and says traffic did not apply.
    const all = await panel('corpus');
    const realCorpus = await panel('corpus', { traffic: 'real' });
    expect(realCorpus.applied).toEqual([]);
    expect({ ...realCorpus, filters: {}, cached: false, computed_ms: 0 }).toEqual({ ...all, filters: {}, cached: false, computed_ms: 0 });
  });

  it('drill-downs return exactly the rows behind every count, under filters too, paged', async () => {
    let charts = 0;
    for (const filters of [{}, { source_kind: 'code_symbol' }, { traffic: 'real' }, { version: v1 }] as Record<string, string | number>[])
      for (const name of Object.keys(PANELS) as PanelName[]) charts += await expectDrillsAgree(await panel(name, filters), filters);
    expect(charts).toBeGreaterThan(40);
    // The rows are the pairs themselves: code pairs of the corpus, every one, with their fields.
    const corpus = (await tableRows('corpus', undefined, ['id', 'status', 'source_kind', 'question', 'path', 'start_line'])).filter((r) => r.status === 'active' && r.source_kind === 'code_symbol');
    const r = await drill('corpus.source_kind', 'code_symbol');
    if (r.kind !== 'pairs') throw new Error(`pairs expected, not ${r.kind}`);
    expect(new Set(r.items.map((x) => x.id))).toEqual(new Set(corpus.map((x) => x.id)));
    const one = r.items.find((x) => x.id === corpus[0]!.id)!;
    expect([one.question, one.path, one.start_line]).toEqual([corpus[0]!.question, corpus[0]!.path, corpus[0]!.start_line]);
    // Paging: pages of 5 cover the set once.
    const seen: string[] = [];
    for (let offset = 0; offset < r.total; offset += 5) {
      const page = RowsResponse.parse((await get(`/api/dashboard/rows?panel=corpus.source_kind&key=code_symbol&limit=5&offset=${offset}`)).json);
      seen.push(...page.items.map((x) => (x as { id: string }).id));
    }
    expect(seen.sort()).toEqual(r.items.map((x) => x.id).sort());
    // Queries behind the feedback bars.
    const down = await drill('quality.feedback_rating', 'down');
    expect(new Set(down.items.map((x) => (x as { query_id: string }).query_id))).toEqual(new Set(sent.feedback.filter((f) => f.rating === 'down').map((f) => f.query_id)));
  });

  it('pair detail: provenance, the cited lines numbered as in the file at the commit, and the GitHub permalink', async () => {
    const code = await drill('corpus.category', 'purpose', { source_kind: 'code_symbol' });
    const item = code.items.find((x) => (x as { path: string | null }).path === 'pkg/shapes.py' && (x as { start_line: number | null }).start_line !== null)! as { id: string };
    const r = await get(`/api/dashboard/pair/${item.id}`);
    expect(r.status).toBe(200);
    const d = PairDetail.parse(r.json);
    expect(d).toMatchObject({ table: 'corpus', status: 'active', source_kind: 'code_symbol', commit: repo.sha });
    const { start_line: start, end_line: end } = d.provenance;
    const file = readFileSync(join(repo.dir, 'pkg/shapes.py'), 'utf8').split('\n');
    // The context begins with the symbol's header: its lines from start_line, numbered as in the file at
    // the commit (a class's context goes on with its methods' signatures, unnumbered).
    const numbered = d.lines.filter((l) => l.n !== null);
    expect(numbered.length).toBeGreaterThan(0);
    expect(numbered.map((l) => l.n)).toEqual(Array.from({ length: numbered.length }, (_, i) => start! + i));
    expect(numbered.at(-1)!.n!).toBeLessThanOrEqual(end!);
    for (const l of numbered) expect(l.text).toBe(file[l.n! - 1]);
    for (const l of d.lines.filter((x) => x.cited)) expect(l.n).not.toBeNull();
    expect(d.lines.some((l) => l.cited)).toBe(true);
    // Every purpose pair of the file: its numbered lines are the file's.
    for (const x of code.items as { id: string; path: string | null }[]) {
      if (x.path !== 'pkg/shapes.py') continue;
      const p = PairDetail.parse((await get(`/api/dashboard/pair/${x.id}`)).json);
      for (const l of p.lines) if (l.n !== null) expect(l.text, `${p.provenance.qualname} line ${l.n}`).toBe(file[l.n - 1]);
      expect(p.lines[0]!.n).toBe(p.provenance.start_line);
    }
    const lines = start === end ? `#L${start}` : `#L${start}-L${end}`;
    expect(d.permalink).toBe(`https://github.com/acme/shapes/blob/${repo.sha}/pkg/shapes.py${lines}`);
    // A rejected model-written pair opens too, with its reasons.
    const rejected = await drill('quality.model_reject_reason', 'judge');
    expect(rejected.total).toBe(1);
    const rd = PairDetail.parse((await get(`/api/dashboard/pair/${(rejected.items[0] as { id: string }).id}`)).json);
    expect(rd).toMatchObject({ table: 'rejected', reasons: ['judge'], generator: { model: MODEL } });
  });
  it('a promotion while the server runs reaches every panel within serve.refreshMs', async () => {
    const before = await panel('retraining');
    expect(before.versions.items.map((v) => v.version).at(-1)).toBe(v2);
    await repo.commit({ 'docs/more.md': '# More\n\nShapes can also be scaled by a factor given in the configuration file.\n' }, 'add more docs');
    await cliJson('ingest', '--sources', 'docs', '--repo', repo.dir, '--json');
    const v3 = (await cliJson('promote')).version as number;
    expect(v3).toBeGreaterThan(v2);
    const after = await until('the new version on the retraining panel', async () => {
      const p = await panel('retraining');
      return p.versions.items.some((v) => v.version === v3) ? p : null;
    });
    expect(after.versions.items.map((v) => v.version)).toEqual([...before.versions.items.map((v) => v.version), v3]);
    const stats = (await cliJson('stats', '--json')) as { corpus: { active: number } };
    await until('the corpus panel at the new version', async () => ((await panel('corpus')).active === stats.corpus.active ? true : null));
  });

  it('opening the page computes the default panels before the first API request (once, no key needed)', async () => {
    // A second server on a copy of the data dir, so its engine starts cold.
    const copy = tempDir('qaforge-data-copy-');
    cpSync(data, copy, { recursive: true });
    rmSync(join(copy, 'serve'), { recursive: true, force: true });
    const fresh = await startServeProcess({ cliArgs: ['--config', config, '--data-dir', copy], env });
    try {
      const opened = () => fresh.log().split('\n').filter((l) => l.includes('"dashboard: panels computed on page open"')).length;
      expect(opened()).toBe(0);
      const page = await fetch(`${fresh.url}/dashboard`);
      expect(page.status).toBe(200);
      await page.text();
      await until('the page-open warm-up log line', async () => opened() === 1);
      const res = await fetch(`${fresh.url}/api/dashboard/corpus`, { headers: { authorization: `Bearer ${keys.root}` } });
      expect(res.status).toBe(200);
      const warm = CorpusPanel.parse(await res.json());
      expect(warm.cached).toBe(true);
      expect(warm.active).toBe((await panel('corpus')).active);
      // A second page load reads nothing again.
      await (await fetch(`${fresh.url}/dashboard`)).text();
      await new Promise((ok) => setTimeout(ok, 500));
      expect(opened()).toBe(1);
    } finally {
      await stopServeProcess(fresh);
      rmSync(copy, { recursive: true, force: true });
    }
  }, 90_000);
});
