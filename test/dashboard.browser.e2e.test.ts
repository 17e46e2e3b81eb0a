// The dashboard in a real browser (Debian's chromium via playwright-core; test/browser.ts): `qaforge
// serve` on a data dir built here by the real CLI (two backfills and promotions of a fixture repository,
// queries through POST /v1/query, real and marked synthetic, and feedback through POST /v1/feedback).
// The page must show the numbers /api/dashboard/* gives (and `qaforge stats` where they overlap), apply a
// filter to every panel and keep it in the URL, drill down from a bar to its rows and to a pair's source
// lines, ask for the admin key (again after a wrong one), make no request off 127.0.0.1 and log no
// console error. Screenshots of each panel go to .artifacts/ (gitignored).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnsOf, Stores } from '../datasets/store.js';
import { DASHBOARD_CSP } from '../dashboard/static.js';
import { createKey } from '../serve/keys.js';
import { artifact, launchBrowser, type Browser } from './browser.js';
import { BIN, qaforgeJson } from './cli.js';
import { type FixtureRepo, makeRepo, SHAPES_PY, tempDir, until } from './fixtures.js';

const PANELS = ['corpus', 'quality', 'retraining', 'online', 'drift'] as const;
type PanelName = (typeof PANELS)[number];
const GUIDE_MD = '# Guide\n\n## Install\n\nInstall the package with pip before you import anything from it.\n\n```bash\npip install shapes\n```\n\n## Configure\n\nSet the scale factor in the configuration file before you run anything.\n';
// The second commit moves every symbol two lines down and rewords two docstrings (pairs retire, new ones come).
const SHIFTED_PY = `# comment one\n# comment two\n${SHAPES_PY}`.replace('Used by the fixture tests.', 'Used by the fixture tests and nothing else.').replace('Radius of the circle, in units.', 'Radius of the circle, in metres.');
const REAL_QUESTIONS = ['What does fetch_shape return?', 'How do I scale a number by the global factor of two?', 'What is the diameter of a circle?', 'How do I install the package?'];
const SYNTHETIC_QUESTIONS = ['What does fetch_shape do with the name?', 'Which class is the base of every shape?', 'How is the area of a circle computed?'];

let repo: FixtureRepo;
let data: string;
let devData: string;
let cfgDir: string;
let config: string;
let adminKey = '';
let queryKey = '';
let served: Served;
let dev: Served;
let browser: Browser;

const env = { HF_TOKEN: '', QAFORGE_ENDPOINT_URL: '', QAFORGE_LLM_SAMPLE: '0' };
const cliJson = (...args: string[]) => qaforgeJson(['--config', config, '--data-dir', data, ...args], { env });

interface Served {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `qaforge serve --port 0` (with --dev: no key), resolved once it logs the URL it listens on. */
async function serve(dir: string, devMode = false): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, '--config', config, '--data-dir', dir, 'serve', '--port', '0', ...(devMode ? ['--dev'] : [])], { env: { ...process.env, ...env, QAFORGE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((ok) => proc.on('exit', (code) => ok(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`qaforge serve did not listen within 30 s: ${stderr}`)), 30_000);
    proc.stderr!.on('data', () => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`qaforge serve exited ${code}: ${stderr}`));
    });
  });
  return { proc, url, stderr: () => stderr, exited };
}

async function stop(s: Served | undefined) {
  if (s && s.proc.exitCode === null) {
    s.proc.kill('SIGTERM');
    await s.exited;
  }
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<any> {
  const r = await fetch(`${served.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${queryKey}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = await r.json();
  expect(r.status, JSON.stringify(json)).toBeLessThan(300);
  return json;
}

/** GET /api/dashboard/<path> with the admin key, as JSON. */
async function api(path: string, params: Record<string, string> | URLSearchParams = {}, base = served.url): Promise<any> {
  const qs = new URLSearchParams(params).toString();
  const r = await fetch(`${base}/api/dashboard/${path}${qs ? `?${qs}` : ''}`, { headers: { authorization: `Bearer ${adminKey}` } });
  const json = await r.json();
  expect(r.status, JSON.stringify(json)).toBe(200);
  return json;
}


async function tableCount(table: 'queries' | 'feedback'): Promise<number> {
  const stores = await Stores.open(data);
  try {
    let n = 0;
    for await (const rows of stores.scan(table, columnsOf(table).slice(0, 1))) n += rows.length;
    return n;
  } finally {
    stores.close();
  }
}

// ---------------------------------------------------------------- the page, read back

/** Waits until every panel has drawn the latest load (after `after`, the generation before an action). */
async function settled(page: Page, after = 0): Promise<void> {
  await page.waitForFunction((g) => ['ready', 'error'].includes((globalThis as any).document.body.dataset.state ?? '') && Number((globalThis as any).document.body.dataset.generation ?? 0) > g, after, { timeout: 20_000 });
}
const generation = (page: Page) => page.evaluate(() => Number((globalThis as any).document.body.dataset.generation ?? 0));

async function enterKey(page: Page, key: string): Promise<string> {
  await page.locator('#key-dialog[open]').waitFor({ timeout: 10_000 });
  const reason = (await page.locator('#key-reason').textContent()) ?? '';
  await page.locator('#key-input').fill(key);
  await page.locator('#key-input').press('Enter');
  return reason;
}

/** A chart's numbers, from its table: key → series → value; and the rows it says it was computed from. */
async function chartOf(page: Page, name: string): Promise<{ rows: number; values: Record<string, Record<string, number>> }> {
  return page.locator(`figure[data-chart="${name}"]`).evaluate((fig: any) => ({
    rows: Number(fig.dataset.rows),
    values: Object.fromEntries(
      [...fig.querySelectorAll('tbody tr')].map((tr) => [(tr as any).dataset.key!, Object.fromEntries([...tr.querySelectorAll('td[data-series]')].map((td) => [(td as any).dataset.series!, Number((td as any).dataset.value)]))]),
    ),
  }));
}
const metric = async (page: Page, panel: PanelName, name: string) => page.locator(`#panel-${panel} [data-metric="${name}"]`).getAttribute('data-value');
const panelRows = async (page: Page, panel: PanelName) => Number(await page.locator(`#panel-${panel}`).getAttribute('data-rows'));
const panelApplied = async (page: Page, panel: PanelName) => (await page.locator(`#panel-${panel}`).getAttribute('data-applied')) ?? '';
const num = (v: number | null) => (v === null ? '' : String(v));

const bars = (c: { rows: number; items: { key: string; count: number }[] }, series = 'count') => ({ rows: c.rows, values: Object.fromEntries(c.items.map((i) => [i.key, { [series]: i.count }])) });

/** Every panel of the page against the API's answers under the same filters. */
async function expectPanelsMatch(page: Page, filters: Record<string, string>): Promise<Record<PanelName, any>> {
  const d = Object.fromEntries(await Promise.all(PANELS.map(async (p) => [p, await api(p, filters)] as const))) as Record<PanelName, any>;
  for (const p of PANELS) {
    expect(await panelRows(page, p), `${p} rows`).toBe(d[p].rows);
    expect(await panelApplied(page, p), `${p} applied`).toBe(d[p].applied.join(','));
  }
  const c = d.corpus;
  expect(await metric(page, 'corpus', 'active')).toBe(String(c.active));
  expect(await metric(page, 'corpus', 'retired')).toBe(String(c.retired));
  expect(await metric(page, 'corpus', 'corpus_version')).toBe(String(c.corpus_version));
  expect(await chartOf(page, 'corpus.by_source_kind')).toEqual(bars(c.by_source_kind));
  expect(await chartOf(page, 'corpus.by_category')).toEqual(bars(c.by_category));
  expect(await chartOf(page, 'corpus.staging_by_status')).toEqual(bars(c.staging_by_status));
  expect(await chartOf(page, 'corpus.staging_by_source_kind')).toEqual(bars(c.staging_by_source_kind));
  const kc = await chartOf(page, 'corpus.by_kind_category');
  expect(kc.rows).toBe(c.by_kind_category.rows);
  const drawn = Object.entries(kc.values).flatMap(([kind, cats]) => Object.entries(cats).filter(([, n]) => n > 0).map(([cat, n]) => [`${kind}/${cat}`, n]));
  expect(Object.fromEntries(drawn)).toEqual(Object.fromEntries(c.by_kind_category.items.filter((i: any) => i.count > 0).map((i: any) => [i.key, i.count])));
  expect(await chartOf(page, 'corpus.growth_by_version')).toEqual({ rows: c.growth_by_version.rows, values: Object.fromEntries(c.growth_by_version.items.map((i: any) => [i.key, { added: i.added, retired: i.retired, active: i.active }])) });
  expect(await chartOf(page, 'corpus.growth_by_day')).toEqual({ rows: c.growth_by_day.rows, values: Object.fromEntries(c.growth_by_day.items.map((i: any) => [i.key, { promoted: i.count, cumulative: i.cumulative }])) });
  expect(await chartOf(page, 'corpus.runs')).toEqual({ rows: c.runs.rows, values: Object.fromEntries(c.runs.items.map((i: any) => [i.key, { added: i.added, retired: i.retired, rejected: i.rejected }])) });

  // One filtered set across the panel's figures and across panels.
  const sum = (items: { count: number }[]) => items.reduce((a, i) => a + i.count, 0);
  expect(sum(c.by_source_kind.items)).toBe(c.active);
  expect(sum(c.by_category.items)).toBe(c.active);
  expect(sum(c.by_kind_category.items)).toBe(c.active);
  if (!filters.from && !filters.to && !filters.version) {
    expect(d.retraining.versions.items.at(-1).active_filtered, 'active after the latest version').toBe(c.active);
    expect(c.growth_by_version.items.at(-1).active).toBe(c.active);
  }
  expect(d.online.totals.requests).toBe(d.online.totals.real + d.online.totals.synthetic);
  expect(sum(d.online.by_status.items)).toBe(d.online.totals.requests);

  const q = d.quality;
  expect(await metric(page, 'quality', 'judged')).toBe(String(q.judge.judged));
  expect(await metric(page, 'quality', 'model_written')).toBe(String(q.model_written.total));
  expect(await metric(page, 'quality', 'pass_rate')).toBe(num(q.model_written.pass_rate));
  expect(await metric(page, 'quality', 'hallucination_detection_rate')).toBe(num(q.model_written.hallucination_detection_rate));
  expect(await metric(page, 'quality', 'near_duplicate_rate')).toBe(num(q.near_duplicates.rate));
  expect(q.provenance.resolved).toBe(q.provenance.checked); // nothing in the fixture moved away from its lines
  expect(await metric(page, 'quality', 'provenance_rate')).toBe(num(q.provenance.rate));
  expect(await metric(page, 'quality', 'feedback')).toBe(String(q.feedback.rows));
  expect(await metric(page, 'quality', 'corrections_proposed')).toBe(String(q.corrections.proposed));
  expect(await metric(page, 'quality', 'corrections_accepted')).toBe(String(q.corrections.accepted));
  for (const [name, chart] of [
    ['quality.judge_verdicts', q.judge.verdicts],
    ['quality.judge_scores', q.judge.scores],
    ['quality.quality_scores', q.quality_scores],
    ['quality.hardness', q.hardness],
    ['quality.model_reject_reasons', q.model_written.reject_reasons],
    ['quality.reject_reasons', q.reject_reasons],
    ['quality.skip_reasons', q.skip_reasons],
    ['quality.feedback_by_rating', q.feedback.by_rating],
    ['quality.feedback_by_reason', q.feedback.by_reason],
    ['quality.corrections_by_status', q.corrections.by_status],
  ] as const)
    expect(await chartOf(page, name), name).toEqual(bars(chart));

  const r = d.retraining;
  expect(await chartOf(page, 'retraining.versions')).toEqual({ rows: r.versions.rows, values: Object.fromEntries(r.versions.items.map((i: any) => [i.key, { added: i.added_filtered, retired: i.retired_filtered, active: i.active_filtered }])) });
  expect(await chartOf(page, 'retraining.evals')).toEqual({ rows: r.evals.rows, values: Object.fromEntries(r.evals.items.map((i: any) => [i.key, { 'recall@10': i.recall_at_10, 'MRR@10': i.mrr_at_10, 'nDCG@10': i.ndcg_at_10 }])) });
  expect(await metric(page, 'retraining', 'versions')).toBe(String(r.versions.items.length));
  const gate = (g: any) => (g ? (g.passed ? 'passed' : 'failed') : '');
  expect(await metric(page, 'retraining', 'promotion_gate')).toBe(gate(r.gates.promotion));
  expect(await metric(page, 'retraining', 'eval_gate')).toBe(gate(r.gates.eval));
  expect(await page.locator('#panel-retraining table[data-table=versions] tbody tr').count()).toBe(r.versions.items.length);

  const o = d.online;
  for (const k of ['requests', 'errors', 'abstained', 'real', 'synthetic'] as const) expect(await metric(page, 'online', k), k).toBe(String(o.totals[k]));
  expect(await metric(page, 'online', 'error_rate')).toBe(num(o.totals.error_rate));
  expect(await metric(page, 'online', 'abstention_rate')).toBe(num(o.totals.abstention_rate));
  expect(await metric(page, 'online', 'latency_p95')).toBe(num(o.totals.latency.total.p95));
  expect(await chartOf(page, 'online.requests')).toEqual({ rows: o.series.rows, values: Object.fromEntries(o.series.items.map((i: any) => [i.key, { real: i.real, synthetic: i.synthetic, 'per minute': i.per_minute }])) });
  expect(await chartOf(page, 'online.by_status')).toEqual(bars(o.by_status));
  expect(await chartOf(page, 'online.by_route')).toEqual(bars(o.by_route));
  expect(await chartOf(page, 'online.trending')).toEqual({ rows: o.trending.rows, values: Object.fromEntries(o.trending.items.slice(0, 10).map((i: any) => [i.key, { count: i.count, 'previous window': i.previous }])) });
  expect(await page.locator('#panel-online table[data-table=trending] tbody tr').evaluateAll((trs) => trs.map((tr) => [(tr as any).dataset.key, Number(tr.querySelector('[data-series=count]')!.getAttribute('data-value'))]))).toEqual(o.trending.items.map((i: any) => [i.key, i.count]));

  const f = d.drift;
  const psiOf = async (name: string) => page.locator(`figure[data-chart="${name}"] .psi`).getAttribute('data-psi');
  expect(await psiOf('drift.source_kind')).toBe(num(f.batch.source_kind.psi));
  expect(await psiOf('drift.category')).toBe(num(f.batch.category.psi));
  expect(await psiOf('drift.topics')).toBe(num(f.topics.psi.psi));
  expect(await page.locator('#panel-drift [data-drifting-categories]').getAttribute('data-drifting-categories')).toBe(f.batch.drifting_categories.join(','));
  const shares = (p: any) => ({ rows: p.actual_rows + p.expected_rows, values: Object.fromEntries(p.bins.map((b: any) => [b.key, { new: b.actual_share, reference: b.expected_share }])) });
  expect(await chartOf(page, 'drift.category')).toEqual(shares(f.batch.category));
  expect(await chartOf(page, 'drift.source_kind')).toEqual(shares(f.batch.source_kind));
  return d;
}

async function openDashboard(page: Page, base: string, query = ''): Promise<void> {
  await page.goto(`${base}/dashboard${query}`);
}

// ---------------------------------------------------------------- the data dir

beforeAll(async () => {
  repo = await makeRepo({ 'shapes/core.py': SHAPES_PY, 'docs/guide.md': GUIDE_MD });
  data = tempDir();
  cfgDir = tempDir('qaforge-config-');
  config = join(cfgDir, 'qaforge.config.json');
  writeFileSync(config, JSON.stringify({ serve: { flushMs: 100, refreshMs: 250, rateLimit: { max: 1000, windowMs: 60_000 } }, models: { retries: 0, llmSample: 0 } }));
  // Two backfills and promotions: version 2 retires the pairs of the changed symbols and adds new ones.
  await cliJson('backfill', '--repo', repo.dir, '--sources', 'code,docs', '--json');
  await cliJson('promote');
  await repo.commit({ 'shapes/core.py': SHIFTED_PY }, 'Shift the module down and reword two docstrings');
  await cliJson('backfill', '--repo', repo.dir, '--sources', 'code,docs', '--json');
  await cliJson('promote');
  // `qaforge verify` records a provenance check per staged pair; the quality panel shows the rate.
  await cliJson('verify', '--repo', repo.dir, '--n', '1000', '--json');
  // Keys as `qaforge keys create` makes them (in-process: a CLI start costs seconds).
  const stores = await Stores.open(data);
  try {
    adminKey = (await createKey(stores, 'root', 'admin')).key;
    queryKey = (await createKey(stores, 'alice', 'query')).key;
  } finally {
    stores.close();
  }
  // The dev server (no key) gets a copy: its own journal and query log.
  devData = tempDir('qaforge-data-dev-');
  cpSync(data, devData, { recursive: true });
  [served, dev, browser] = await Promise.all([serve(data), serve(devData, true), launchBrowser()]);
  // Traffic: real questions (one flagged down with a reason, one up) and marked synthetic ones.
  const answered: string[] = [];
  for (const q of REAL_QUESTIONS) answered.push((await post('/v1/query', { question: q })).query_id);
  for (const q of SYNTHETIC_QUESTIONS) await post('/v1/query', { question: q }, { 'x-qaforge-synthetic': '1' });
  await post('/v1/feedback', { query_id: answered[0], rating: 'down', reason: 'wrong', comment: 'it returns a Shape' });
  await post('/v1/feedback', { query_id: answered[1], rating: 'up' });
  await until('the query log in its tables', async () => (await tableCount('queries')) === REAL_QUESTIONS.length + SYNTHETIC_QUESTIONS.length && (await tableCount('feedback')) === 2);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([stop(served), stop(dev)]);
  for (const dir of [data, devData, cfgDir, repo?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

describe('the dashboard page', () => {
  it('is served without a key with a strict CSP, loads its chart library from this server, and asks for the admin key (again after a wrong one)', async () => {
    const res = await fetch(`${served.url}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toMatch(/^default-src 'self';/);
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|https?:|\*/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const lib = await fetch(`${served.url}/dashboard/vendor/echarts.esm.min.mjs`);
    expect([lib.status, lib.headers.get('content-type')]).toEqual([200, expect.stringMatching(/javascript/)]);
    expect((await fetch(`${served.url}/dashboard/vendor/other.js`)).status).toBe(404);
    expect((await fetch(`${served.url}/dashboard/%2e%2e/package.json`)).status).toBe(404);
    // The API itself needs the admin key: none, and a query key, are refused.
    expect((await fetch(`${served.url}/api/dashboard/corpus`)).status).toBe(401);
    expect((await fetch(`${served.url}/api/dashboard/corpus`, { headers: { authorization: `Bearer ${queryKey}` } })).status).toBe(403);

    const page = browser.page;
    await openDashboard(page, served.url);
    const first = await enterKey(page, 'qf_not-a-real-key');
    expect(first).toMatch(/needs an admin key/);
    const second = await enterKey(page, queryKey);
    expect(second).toMatch(/refused/);
    const third = await enterKey(page, adminKey);
    expect(third).toMatch(/not an admin key/);
    await settled(page);
    expect(await page.evaluate(() => (globalThis as any).document.body.dataset.state)).toBe('ready');
    expect(await page.locator('#key-dialog').getAttribute('open')).toBeNull();
    // Kept in the tab's session storage, never in a URL.
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('qaforge.dashboard.key'))).toBe(adminKey);
    expect(await page.evaluate(() => (globalThis as any).localStorage.length)).toBe(0);
    for (const r of browser.requests) for (const k of [adminKey, queryKey]) expect(r.url).not.toContain(k.slice(3));
    // Sent to the API only, never with the page's own files.
    const withKey = browser.requests.filter((r) => r.auth);
    expect(withKey.length).toBeGreaterThan(0);
    for (const r of withKey) expect(new URL(r.url).pathname).toMatch(/^\/api\/dashboard\//);
    expect(await page.evaluate(() => (globalThis as any).qaforgeDashboard.charts.names().length)).toBeGreaterThan(0);
    expect(browser.requests.map((r) => new URL(r.url).pathname)).toContain('/dashboard/vendor/echarts.esm.min.mjs');
    // A reload of the tab keeps the key: no prompt.
    await page.reload();
    await settled(page);
    expect(await page.locator('#key-dialog').getAttribute('open')).toBeNull();
  });

  it('under serve --dev it opens without a key', async () => {
    const page = await browser.newPage();
    await openDashboard(page, dev.url);
    await settled(page);
    expect(await page.evaluate(() => (globalThis as any).document.body.dataset.state)).toBe('ready');
    expect(await page.locator('#key-dialog').getAttribute('open')).toBeNull();
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.length)).toBe(0);
    expect(await panelRows(page, 'corpus')).toBe((await api('corpus', {}, dev.url)).rows);
    await page.close();
  });
});

describe('the panels', () => {
  it('show the numbers the API gives, and qaforge stats where they overlap; a screenshot of each', async () => {
    const page = browser.page;
    await openDashboard(page, served.url);
    await settled(page);
    const d = await expectPanelsMatch(page, {});
    expect(d.quality.provenance.checked).toBeGreaterThan(0);
    const stats = await cliJson('stats', '--json');
    expect(d.corpus.active).toBe(stats.corpus.active);
    expect(d.corpus.retired).toBe(stats.corpus.retired);
    expect(Number(await metric(page, 'corpus', 'active'))).toBe(stats.corpus.active);
    expect(Number(await metric(page, 'corpus', 'corpus_version'))).toBe(stats.corpus.version);
    const byCategory = (await chartOf(page, 'corpus.by_category')).values;
    expect(Object.fromEntries(Object.entries(byCategory).filter(([, v]) => (v.count ?? 0) > 0).map(([k, v]) => [k, v.count ?? 0]))).toEqual(stats.corpus.byCategory);
    const stagedKinds = (await chartOf(page, 'corpus.staging_by_source_kind')).values;
    expect(Object.fromEntries(Object.entries(stagedKinds).filter(([, v]) => (v.count ?? 0) > 0).map(([k, v]) => [k, v.count ?? 0]))).toEqual(stats.pairsByKind);
    const staging = (await chartOf(page, 'corpus.staging_by_status')).values;
    for (const [s, n] of Object.entries(stats.staging as Record<string, number>)) expect(staging[s]?.count ?? 0, `staging ${s}`).toBe(n);
    const rejected = (await chartOf(page, 'quality.reject_reasons')).values;
    expect(Object.fromEntries(Object.entries(rejected).filter(([, v]) => (v.count ?? 0) > 0).map(([k, v]) => [k, v.count ?? 0]))).toEqual(stats.rejected.byReason);
    // What the test made: two versions, 7 questions (3 synthetic), 2 feedback.
    expect(d.retraining.versions.items.length).toBeGreaterThanOrEqual(2);
    expect(d.online.totals).toMatchObject({ requests: REAL_QUESTIONS.length + SYNTHETIC_QUESTIONS.length, synthetic: SYNTHETIC_QUESTIONS.length, real: REAL_QUESTIONS.length });
    expect(d.quality.feedback.rows).toBe(2);
    expect(d.corpus.retired).toBeGreaterThan(0);
    for (const p of PANELS) await artifact(page, `dashboard-${p}`, { selector: `#panel-${p}` });
    // The whole page for the README, drawn at half scale to keep the file small, in
    // a second browser (its own profile and tab: it asks for the key too).
    const small = await launchBrowser({ deviceScaleFactor: 0.5 });
    try {
      await openDashboard(small.page, served.url);
      await enterKey(small.page, adminKey);
      await settled(small.page);
      const full = await artifact(small.page, 'dashboard-full', { fullPage: true });
      expect(statSync(full).size).toBeGreaterThan(10_000);
      expect(statSync(full).size).toBeLessThan(300_000);
      if (process.env.QAFORGE_UPDATE_SCREENSHOT === '1' || !existsSync('docs/dashboard.png')) {
        mkdirSync('docs', { recursive: true });
        copyFileSync(full, 'docs/dashboard.png');
      }
      expect(small.blocked).toEqual([]);
      expect(small.pageErrors).toEqual([]);
      expect(small.unexpectedErrors([/Failed to load resource: the server responded with a status of 401/])).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('a filter applies to every panel, lands in the URL, and a reload restores it', async () => {
    const page = browser.page;
    await openDashboard(page, served.url);
    await settled(page);
    // Synthetic traffic only (a select applies at once).
    let g = await generation(page);
    await page.locator('select[name=traffic]').selectOption('synthetic');
    await settled(page, g);
    expect(new URL(page.url()).searchParams.get('traffic')).toBe('synthetic');
    let d = await expectPanelsMatch(page, { traffic: 'synthetic' });
    expect(d.online.totals).toMatchObject({ requests: SYNTHETIC_QUESTIONS.length, real: 0, synthetic: SYNTHETIC_QUESTIONS.length });
    expect(d.online.applied).toContain('traffic');
    // A panel the filter does not concern says so.
    expect(d.corpus.applied).not.toContain('traffic');
    expect(await page.locator('#panel-corpus .applied').textContent()).toBe('traffic: not applicable here');
    expect(await page.locator('#panel-online .applied').textContent()).toBe('filtered by traffic');
    // And code pairs only: both filters in the URL, every panel as the API gives it under both.
    g = await generation(page);
    await page.locator('input[name=source_kind][value=code_symbol]').check();
    await settled(page, g);
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({ source_kind: 'code_symbol', traffic: 'synthetic' });
    d = await expectPanelsMatch(page, { source_kind: 'code_symbol', traffic: 'synthetic' });
    const kinds = (await chartOf(page, 'corpus.by_source_kind')).values;
    for (const [k, v] of Object.entries(kinds)) if (k !== 'code_symbol') expect(v.count ?? 0, k).toBe(0);
    const unfiltered = await api('corpus');
    expect(d.corpus.active).toBeLessThan(unfiltered.active);
    expect(d.corpus.applied).toContain('source_kind');
    // A reload of the URL restores the filters, in the form and in every panel.
    await page.reload();
    await settled(page);
    expect(await page.locator('select[name=traffic]').inputValue()).toBe('synthetic');
    expect(await page.locator('input[name=source_kind][value=code_symbol]').isChecked()).toBe(true);
    expect(await page.locator('input[name=source_kind][value=doc_section]').isChecked()).toBe(false);
    await expectPanelsMatch(page, { source_kind: 'code_symbol', traffic: 'synthetic' });
    // The URL opened in a new tab (shared) shows the same, once the key is given there (session storage is per tab).
    const other = await browser.newPage();
    await other.goto(url.toString());
    await enterKey(other, adminKey);
    await settled(other);
    expect(new URL(other.url()).search).toBe(url.search);
    for (const p of PANELS) expect(await panelRows(other, p)).toBe(await panelRows(page, p));
    await other.close();
    // Back to no filters.
    g = await generation(page);
    await page.locator('#reset').click();
    await settled(page, g);
    expect(new URL(page.url()).search).toBe('');
    // A time range from a preset (the last hour: everything this test made) and a quality floor typed in.
    g = await generation(page);
    await page.locator('button[data-range="1h"]').click();
    await settled(page, g);
    const from = new URL(page.url()).searchParams.get('from')!;
    expect(Date.now() - Date.parse(from)).toBeGreaterThan(3_500_000);
    expect(Date.now() - Date.parse(from)).toBeLessThan(3_700_000);
    const hour = await expectPanelsMatch(page, { from });
    expect(hour.online.totals.requests).toBe(REAL_QUESTIONS.length + SYNTHETIC_QUESTIONS.length);
    expect(hour.online.applied).toContain('from');
    g = await generation(page);
    await page.locator('input[name=min_score]').fill('0.5');
    await page.locator('input[name=min_score]').press('Enter');
    await settled(page, g);
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ from, min_score: '0.5' });
    const better = await expectPanelsMatch(page, { from, min_score: '0.5' });
    expect(better.corpus.applied).toContain('min_score');
    expect(better.corpus.active).toBeLessThanOrEqual(hour.corpus.active);
    g = await generation(page);
    await page.locator('#reset').click();
    await settled(page, g);
    // The first corpus version, from the version list the page offers: every panel as of that version.
    const versions = (await api('retraining')).versions.items.map((v: any) => String(v.version));
    expect(await page.locator('select[name=version] option').evaluateAll((os) => os.map((o) => (o as any).value))).toEqual(['', ...[...versions].reverse()]);
    g = await generation(page);
    await page.locator('select[name=version]').selectOption(versions[0]);
    await settled(page, g);
    expect(Object.fromEntries(new URL(page.url()).searchParams)).toEqual({ version: versions[0] });
    const first = await expectPanelsMatch(page, { version: versions[0] });
    expect(first.corpus.active).toBeLessThanOrEqual(unfiltered.active);
    expect(first.corpus.applied).toContain('version');
    // History: back restores the previous (unfiltered) view.
    g = await generation(page);
    await page.goBack();
    await settled(page, g);
    expect(new URL(page.url()).search).toBe('');
    expect(await page.locator('select[name=version]').inputValue()).toBe('');
    await expectPanelsMatch(page, {});
  });

  it('says so when a filter leaves no rows, and when the API refuses a filter', async () => {
    const page = browser.page;
    await openDashboard(page, served.url, '?from=2099-01-01&source_kind=issue');
    await settled(page);
    const none = await expectPanelsMatch(page, { from: '2099-01-01', source_kind: 'issue' });
    expect(none.corpus.active).toBe(0);
    expect(none.online.totals.requests).toBe(0);
    expect(await page.locator('#panel-online .chart[data-chart="online.requests"] .empty').textContent()).toMatch(/no rows for these filters/);
    await openDashboard(page, served.url, '?min_score=0.9&max_score=0.1');
    await settled(page);
    expect(await page.evaluate(() => (globalThis as any).document.body.dataset.state)).toBe('error');
    await page.locator('#filter-error').waitFor({ state: 'visible' });
    expect(await page.locator('#filter-error').textContent()).toMatch(/min_score/);
    for (const p of PANELS) expect(await page.locator(`#panel-${p} .state.error`).getAttribute('data-error'), p).toBe('invalid_filter');
  });

  it('a click on a bar opens the rows behind it, and a row the pair with its source lines, commit and permalink', async () => {
    const page = browser.page;
    await openDashboard(page, served.url);
    await settled(page);
    const corpus = await api('corpus');
    const code = corpus.by_source_kind.items.find((i: any) => i.key === 'code_symbol');
    expect(code.count).toBeGreaterThan(0);
    const index = corpus.by_source_kind.items.indexOf(code);
    const at = await page.evaluate(([i]) => (globalThis as any).qaforgeDashboard.charts.pointOf('corpus.by_source_kind', 0, i), [index]);
    await page.locator('#panel-corpus figure[data-chart="corpus.by_source_kind"]').scrollIntoViewIfNeeded();
    const at2 = await page.evaluate(([i]) => (globalThis as any).qaforgeDashboard.charts.pointOf('corpus.by_source_kind', 0, i), [index]);
    expect(at).not.toBeNull();
    await page.mouse.click(at2.x, at2.y);
    await page.locator('#drill[open] table.rows-table[data-kind=pairs]').waitFor({ timeout: 10_000 });
    const rows = await api('rows', { panel: corpus.by_source_kind.drill, key: 'code_symbol', limit: '50', offset: '0' });
    expect(rows.total).toBe(code.count);
    expect(Number(await page.locator('#drill-body [data-total]').getAttribute('data-total'))).toBe(rows.total);
    const ids = await page.locator('#drill table.rows-table tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as any).dataset.pair));
    expect(ids).toEqual(rows.items.map((r: any) => r.id));
    expect(rows.items.every((r: any) => r.source_kind === 'code_symbol')).toBe(true);
    // A pair whose stored context is its source lines (numbered from its start line): they must be the
    // file's lines at the commit it was verified at.
    let target: any = null;
    for (const r of rows.items) if ((await api(`pair/${r.id}`)).lines.some((l: any) => l.n !== null)) {
      target = r;
      break;
    }
    expect(target, 'a pair with numbered source lines').not.toBeNull();
    await page.locator(`#drill tr[data-pair="${target.id}"]`).click();
    await page.locator(`#drill article.pair[data-pair="${target.id}"]`).waitFor({ timeout: 10_000 });
    const pair = await api(`pair/${target.id}`);
    expect(await page.locator('#drill .pair .question').textContent()).toBe(pair.question);
    expect(await page.locator('#drill .pair .commit').textContent()).toBe(pair.commit);
    expect(pair.commit).toBe(repo.sha);
    expect(await page.locator('#drill .pair a.permalink').getAttribute('href')).toBe(pair.permalink);
    expect(pair.permalink).toMatch(new RegExp(`^https://github\\.com/acme/shapes/blob/${repo.sha}/shapes/core\\.py#L\\d+(-L\\d+)?$`));
    const shown = await page.locator('#drill .source tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('.ln')!.textContent, tr.children[1]!.textContent, tr.classList.contains('cited')]));
    expect(shown).toEqual(pair.lines.map((l: any) => [l.n === null ? '' : String(l.n), l.text, l.cited]));
    const file = SHIFTED_PY.split('\n');
    const numbered = pair.lines.filter((l: any) => l.n !== null);
    expect(numbered.length).toBeGreaterThan(0);
    for (const l of numbered) expect(file[l.n - 1], `line ${l.n}`).toBe(l.text);
    expect(pair.lines.some((l: any) => l.cited)).toBe(true);
    await artifact(page, 'dashboard-drilldown', { selector: '#drill' });
    // Back to the rows, then closed.
    await page.locator('#drill button.back').first().click();
    await page.locator('#drill table.rows-table').waitFor();
    await page.locator('#drill-close').click();
    expect(await page.locator('#drill').getAttribute('open')).toBeNull();

    // The middle bar of a group (pairs a run retired, beside those it added): the pairs the second run retired.
    const run = corpus.runs.items.findIndex((r: any) => r.retired > 0);
    expect(run).toBeGreaterThanOrEqual(0);
    await page.locator('figure[data-chart="corpus.runs"]').scrollIntoViewIfNeeded();
    const rp = await page.evaluate(([j]) => (globalThis as any).qaforgeDashboard.charts.pointOf('corpus.runs', 1, j), [run]);
    await page.mouse.click(rp.x, rp.y);
    await page.locator('#drill[open] table.rows-table[data-kind=pairs]').waitFor({ timeout: 10_000 });
    const retired = await api('rows', { panel: 'corpus.run_retired', key: corpus.runs.items[run].key, limit: '50', offset: '0' });
    expect(retired.total).toBe(corpus.runs.items[run].retired);
    expect(Number(await page.locator('#drill-body [data-total]').getAttribute('data-total'))).toBe(retired.total);
    expect(await page.locator('#drill table.rows-table tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as any).dataset.pair))).toEqual(retired.items.map((r: any) => r.id));
    await page.keyboard.press('Escape');

    // A bar on the time axis of the traffic chart: the real queries of that minute.
    const online = await api('online');
    const i = online.series.items.findIndex((b: any) => b.real > 0);
    expect(i).toBeGreaterThanOrEqual(0);
    const bucket = online.series.items[i];
    await page.locator('figure[data-chart="online.requests"]').scrollIntoViewIfNeeded();
    const pt = await page.evaluate(([j]) => (globalThis as any).qaforgeDashboard.charts.pointOf('online.requests', 0, j), [i]);
    await page.mouse.click(pt.x, pt.y);
    await page.locator('#drill[open] table.rows-table[data-kind=queries]').waitFor({ timeout: 10_000 });
    const qs = await api('rows', { panel: online.series.drill, key: bucket.key, limit: '50', offset: '0' });
    expect(qs.kind).toBe('queries');
    expect(qs.total).toBe(bucket.requests);
    expect(Number(await page.locator('#drill-body [data-total]').getAttribute('data-total'))).toBe(qs.total);
    expect(await page.locator('#drill table.rows-table tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as any).dataset.query))).toEqual(qs.items.map((q: any) => q.query_id));
    // A query opens the pair it cited first.
    const cited = qs.items.find((q: any) => q.top_pair_id);
    expect(cited).toBeDefined();
    await page.locator(`#drill tr[data-query="${cited.query_id}"]`).click();
    await page.locator(`#drill article.pair[data-pair="${cited.top_pair_id}"]`).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Escape');
    expect(await page.locator('#drill').getAttribute('open')).toBeNull();
  });

  it('made no request off 127.0.0.1 and logged no console or page error', () => {
    expect(browser.requests.length).toBeGreaterThan(10);
    expect(browser.blocked).toEqual([]);
    for (const r of browser.requests) expect(new URL(r.url).hostname).toBe('127.0.0.1');
    expect(browser.pageErrors).toEqual([]);
    // The key prompt test starts from refused requests (401, 403) and one test sends a refused filter (400):
    // the browser reports each as a failed load. Nothing else.
    expect(browser.unexpectedErrors([/Failed to load resource: the server responded with a status of 40[013]/])).toEqual([]);
  });
});
