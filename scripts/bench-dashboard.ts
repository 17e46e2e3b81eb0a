// Benchmark: the dashboard API (/api/dashboard/*) of `qaforge serve` on real sizes. Works on a COPY of
// the given data dir (never the original: the server writes its journal, keys and query log there):
//   --data <dir>      a data dir with a corpus (e.g. the 100,000-pair corpus of the serve benchmark);
//                     without it, a corpus of --pairs synthetic pairs in three versions is written
//                     (no vectors: trending then clusters by the lexical fallback);
//   --queries <n>     query-log rows synthesized into the copy's `queries` table (default 100,000), with
//                     feedback on 2 % of them, spread over the last 7 days, questions drawn from the
//                     corpus's, top citations from its pairs, 30 % marked synthetic.
// Then `qaforge serve` as a child process, and over HTTP on 127.0.0.1 per endpoint:
//   - cold: the first request after the start (the indexes are read then); then the time until the
//     background warm-up has embedded and clustered every question of the log (setup.backlog_embedded_s);
//   - uncached: a new filter combination each request (indexes warm, the answer computed);
//   - warm: the same request again (the cached answer);
//   - after_append: the first online/drift request after rows were added to the query log;
//   - page_open: after a restart, GET /dashboard (no key), the time until the default panels are
//     computed in the background, then the first corpus request;
// and, as the baseline in the same run, one full column-projected scan of the corpus (the columns the
// dashboard reads) and of the query log, in this process. Prints JSON (milliseconds).
//
//   node --import tsx scripts/bench-dashboard.ts [--data <dir>] [--pairs 100000] [--queries 100000] [--repeat 30] [--embed] [--keep]
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { Category, SourceKind } from '../datasets/schemas.js';
import { SCHEMAS, Stores } from '../datasets/store.js';
import { recordPromotion } from '../datasets/versions.js';
import { nearestRank } from '../evals/metrics.js';
import { contentId, seededRandom } from '../lib/hash.js';
import { startServeProcess, stopServeProcess } from '../serve/durability.js';
import { createKey } from '../serve/keys.js';
import { loadConfig } from '../lib/config.js';
import { openEmbedder } from '../lib/models/index.js';

const opts = new Command()
  .option('--data <dir>', 'data dir with a corpus (copied; the original is not touched)')
  .option('--pairs <n>', 'pairs of the synthetic corpus when no --data is given', (v) => Number(v), 100_000)
  .option('--queries <n>', 'query-log rows to synthesize into the copy', (v) => Number(v), 100_000)
  .option('--repeat <n>', 'requests per endpoint and measure', (v) => Number(v), 30)
  .option('--embed', 'the synthetic corpus says it was embedded by the configured embedder, so the service opens it and trending embeds the questions with it')
  .option('--keep', 'keep the copy (its path is printed)')
  .parse()
  .opts<{ data?: string; pairs: number; queries: number; repeat: number; keep?: boolean; embed?: boolean }>();

const ENDPOINTS = ['corpus', 'quality', 'retraining', 'online', 'drift', 'rows'] as const;
const DAY = 86_400_000;
const rand = seededRandom(7);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
const stat = (xs: number[]) => ({ n: xs.length, p50: round(nearestRank(xs, 0.5)), p95: round(nearestRank(xs, 0.95)), max: round(Math.max(...xs)) });
const round = (x: number) => Math.round(x * 10) / 10;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

/** A synthetic corpus: staging and corpus rows of every kind and category, promoted in three versions (the third retires 2 %). */
async function synthesizeCorpus(stores: Stores, n: number): Promise<void> {
  const kinds = SourceKind.options;
  const cats = Category.options;
  const sha = 'a'.repeat(40);
  const corpus = await stores.table('corpus');
  const batches = [0.6, 0.3, 0.1].map((share) => Math.round(share * n));
  let made = 0;
  for (const [b, size] of batches.entries()) {
    const at = new Date(Date.now() - (3 - b) * 2 * DAY).toISOString();
    for (let off = 0; off < size; off += 5000) {
      const rows = [];
      for (let i = off; i < Math.min(size, off + 5000); i++, made++) {
        const kind = b === 2 && rand() < 0.5 ? 'doc_section' : pick(kinds);
        const model = rand() < 0.1;
        const question = `What does symbol_${made % 5000} do in module ${made % 97}?`;
        const record = JSON.stringify({
          evidence: [`evidence ${made}`],
          passed: ['schema', 'grounding'],
          verdicts: model ? [{ check: 'judge', pass: true, reason: null, detail: `m: supported, ${3 + (made % 3)}/5: ok` }] : [],
          ...(model ? { prompt_version: 'v1', model: 'm' } : {}),
          quality: { score: Math.round(rand() * 100) / 100, reasons: [] },
        });
        rows.push({
          id: contentId('bench-pair', made), qa_key: contentId('qa', made), question, answer: `It does thing ${made}.`, context: `def symbol_${made}():\n    """evidence ${made}"""`,
          category: model ? 'self_instruct' : pick(cats), source_id: contentId('src', made), source_kind: kind, symbol_kind: null, variant: null, repo: 'acme/big', path: `pkg/mod_${made % 97}.py`,
          start_line: 1 + (made % 400), end_line: 3 + (made % 400), qualname: `symbol_${made}`, url: null, commit_first_seen: sha, commit_last_verified: sha, split_group: `pkg/mod_${made % 97}.py`,
          near_dup_cluster: rand() < 0.03 ? `c${made % 500}` : null, generator: model ? 'self-instruct' : 'rules', generator_version: '1', run_id: `bench-run-${b}`, updated_at: at, record,
          status: 'active', search_text: question, promoted_at: at, retired_reason: null, retired_at: null, retired_commit: null,
        });
      }
      await stores.add('staging', rows.map((r) => ({ ...Object.fromEntries(SCHEMAS.staging.fields.map((f) => [f.name, (r as Record<string, unknown>)[f.name] ?? null])), status: 'promoted' })));
      await corpus.add(rows.map((r) => ({ ...r, vector: null })));
    }
    if (b === 2) await corpus.update({ where: `promoted_at < '${at}' AND id < '05'`, values: { status: 'retired', retired_reason: 'changed', retired_at: at } });
    await recordPromotion(stores, { version: await corpus.version(), at, inserted: size, updated: 0, active: await corpus.countRows("status = 'active'"), runId: `bench-run-${b}` });
    await stores.add('runs', [{ run_id: `bench-run-${b}`, command: 'backfill', repo: 'acme/big', commit: sha, license: 'MIT', started_at: at, finished_at: at, stats: '{}' }]);
  }
}

/** Query-log rows (and feedback on 2 % of them) written straight into the tables, as the journal moves them in. */
async function synthesizeQueries(stores: Stores, n: number, spanMs = 7 * DAY, prefix = 'q_bench'): Promise<void> {
  const endAt = Date.now();
  const pool: { id: string; question: string; kind: string }[] = [];
  let seen = 0;
  for await (const rows of stores.scan('corpus', ['id', 'question', 'source_kind'], "status = 'active'"))
    for (const r of rows) {
      seen++;
      if (pool.length < 2000) pool.push({ id: r.id as string, question: r.question as string, kind: r.source_kind as string });
      else if (rand() < 2000 / seen) pool[Math.floor(rand() * 2000)] = { id: r.id as string, question: r.question as string, kind: r.source_kind as string };
    }
  if (!pool.length) throw new Error('the corpus has no active pairs to draw questions from');
  // Traffic concentrates on a few hundred questions (as real traffic does), some reworded.
  const hot = pool.slice(0, 300);
  for (let off = 0; off < n; off += 10_000) {
    const rows = [];
    const fb = [];
    for (let i = off; i < Math.min(n, off + 10_000); i++) {
      const p = rand() < 0.8 ? pick(hot) : pick(pool);
      const abstained = rand() < 0.05;
      const status = rand() < 0.01 ? 500 : 200;
      const at = new Date(endAt - rand() * spanMs).toISOString();
      const qid = `${prefix}${i.toString(36)}`;
      const citations = abstained || status !== 200 ? '[]' : JSON.stringify([{ pair_id: p.id, source_kind: p.kind, repo: 'acme/big', sha: 'a'.repeat(40), path: null, start_line: null, end_line: null, url: null, quote: 'q', score: 0.7, verified: true }]);
      const retrieve = 5 + rand() * 40;
      const generate = rand() < 0.2 ? 200 + rand() * 800 : 0;
      rows.push({
        query_id: qid, at, key_name: 'bench', route: pick(['query', 'query', 'chat', 'search']), question: rand() < 0.3 ? `${p.question} Please explain.` : p.question, answer: abstained ? null : 'answer',
        abstained, mode: 'hybrid', answer_mode: generate ? 'generative' : 'extractive', k: 5, retrieved: '[]', citations, top_score: abstained ? 0.2 : 0.7,
        latency_retrieve: retrieve, latency_generate: generate, latency_total: retrieve + generate + 1, model: 'extractive', corpus_version: 1, status, synthetic: rand() < 0.3, error: status === 500 ? 'boom' : null,
      });
      if (rand() < 0.02) fb.push({ feedback_id: `f_${qid}`, query_id: qid, key_name: 'bench', at, rating: rand() < 0.6 ? 'down' : 'up', reason: pick(['wrong', 'unhelpful', 'outdated', null]), comment: null, correction: null, synthetic: false });
    }
    await stores.add('queries', rows);
    await stores.add('feedback', fb);
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'qaforge-bench-dashboard-'));
  const data = join(work, 'data');
  try {
    if (opts.data) {
      const src = resolve(opts.data);
      if (!existsSync(join(src, 'lancedb'))) throw new Error(`${src} is not a qaforge data dir (no lancedb/ in it)`);
      log(`copying ${src} (the original is not touched)`);
      cpSync(src, data, { recursive: true });
      rmSync(join(data, 'serve'), { recursive: true, force: true });
    }
    const stores = await Stores.open(data);
    const setup: Record<string, number> = {};
    if (!opts.data) {
      log(`writing a synthetic corpus of ${opts.pairs} pairs`);
      setup.synthesize_corpus_s = round((await timed(() => synthesizeCorpus(stores, opts.pairs)))[1] / 1000);
      if (opts.embed) {
        const cfg = loadConfig({});
        const e = await openEmbedder(cfg);
        await stores.setCorpusVectors({ model: e.model, text: cfg.models.embedder.text });
        await e.close();
      }
    }
    if (opts.queries) {
      log(`writing ${opts.queries} query-log rows`);
      setup.synthesize_queries_s = round((await timed(() => synthesizeQueries(stores, opts.queries)))[1] / 1000);
    }
    const { key } = await createKey(stores, `bench-${Date.now().toString(36)}`, 'admin');
    const sizes = { active_pairs: await stores.count('corpus', "status = 'active'"), corpus_rows: await stores.count('corpus'), staging_rows: await stores.count('staging'), queries: await stores.count('queries'), feedback: await stores.count('feedback'), versions: await stores.count('versions') };

    // Baseline: one full projected scan of what the dashboard reads.
    const scan = async (table: 'corpus' | 'queries', cols: string[]) => {
      const t = await stores.table(table);
      const [rows, took] = await timed(async () => {
        let n = 0;
        for await (const b of t.query().select(cols)) n += b.numRows;
        return n;
      });
      return { rows, ms: round(took) };
    };
    const baseline = {
      corpus_scan: await scan('corpus', ['id', 'status', 'source_kind', 'category', 'promoted_at', 'retired_at', 'run_id', 'near_dup_cluster', 'record']),
      corpus_ids_scan: await scan('corpus', ['id', 'status']),
      queries_scan: await scan('queries', ['query_id', 'at', 'route', 'abstained', 'status', 'synthetic', 'latency_retrieve', 'latency_generate', 'latency_total', 'corpus_version', 'citations', 'question']),
    };
    const cfg = join(work, 'bench.config.json');
    writeFileSync(cfg, JSON.stringify({ serve: { rateLimit: { max: 1_000_000, windowMs: 60_000 }, maxEventLoopDelayMs: 60_000, requestTimeoutMs: 120_000 } }));
    log('starting qaforge serve');
    const served = await startServeProcess({ cliArgs: ['--config', cfg, '--data-dir', data], env: { QAFORGE_LLM_SAMPLE: '0' }, timeoutMs: 300_000 });
    const get = async (path: string) => {
      const [r, took] = await timed(async () => {
        const res = await fetch(`${served.url}${path}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(300_000) });
        const body = await res.text();
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 300)}`);
        return body;
      });
      return { body: r, ms: took };
    };
    const url = (e: (typeof ENDPOINTS)[number], qs: string) => (e === 'rows' ? `/api/dashboard/rows?panel=corpus.source_kind&key=code_symbol&limit=50${qs ? `&${qs}` : ''}` : `/api/dashboard/${e}${qs ? `?${qs}` : ''}`);
    const out: Record<string, Record<string, unknown>> = {};
    let stopped = false;
    try {
      // Cold: the first request of each endpoint after the start.
      for (const e of ENDPOINTS) out[e] = { cold_ms: round((await get(url(e, ''))).ms) };
      // The background warm-up embeds the log's questions (all of them, most asked first): measured until none is left.
      const [backlog, backlogMs] = await timed(async () => {
        for (const end = Date.now() + 900_000; Date.now() < end; await new Promise((ok) => setTimeout(ok, 1000))) {
          const t = (JSON.parse((await get(url('online', ''))).body) as { trending: { unclustered: number } }).trending;
          if (t.unclustered === 0) return 0;
        }
        return -1;
      });
      setup.backlog_embedded_s = round(backlogMs / 1000);
      if (backlog < 0) log('the trending backlog was not embedded within 15 min: measuring anyway');
      // Uncached: distinct filters each time (the answer is computed from warm indexes). One `now` for
      // all of them: filters(0) must be the same query string each time for the warm measure.
      const now = Date.now();
      const filters = (i: number) => {
        const f = [
          `min_score=${(i % 10) / 20}`,
          i % 3 === 0 ? 'source_kind=code_symbol' : i % 3 === 1 ? 'source_kind=doc_section,commit' : '',
          i % 2 ? 'traffic=real' : 'traffic=all',
          i % 4 === 0 ? `from=${new Date(now - ((i % 7) + 1) * DAY).toISOString()}` : '',
        ];
        return f.filter(Boolean).join('&');
      };
      for (const e of ENDPOINTS) {
        const xs: number[] = [];
        for (let i = 0; i < opts.repeat; i++) xs.push((await get(url(e, filters(i)))).ms);
        out[e]!.uncached = stat(xs);
        const ys: number[] = [];
        for (let i = 0; i < opts.repeat; i++) ys.push((await get(url(e, filters(0)))).ms);
        out[e]!.warm = stat(ys);
      }
      // After a log flush: 1000 rows of the last minute appended to the query log, then the next online and drift answers.
      const [, appendMs] = await timed(() => synthesizeQueries(stores, 1000, 60_000, 'q_flush'));
      await new Promise((ok) => setTimeout(ok, 150));
      for (const e of ['online', 'drift'] as const) out[e]!.after_append_ms = round((await get(url(e, ''))).ms);
      out.online!.append_1000_rows_ms = round(appendMs);
      const metrics = await (await fetch(`${served.url}/metrics`)).text();
      const rss = /process_resident_memory_bytes (\d+)/.exec(metrics);
      const online = JSON.parse((await get(url('online', ''))).body) as { trending: { embedder: string; unclustered: number; items: unknown[]; rows: number } };
      // A restart, then the page opened (as a user does) and the first corpus request once the
      // page-open warm-up has logged; the cold figures above are without the page.
      await stopServeProcess(served);
      stopped = true;
      const again = await startServeProcess({ cliArgs: ['--config', cfg, '--data-dir', data], env: { QAFORGE_LLM_SAMPLE: '0' }, timeoutMs: 300_000 });
      try {
        const t0 = performance.now();
        await (await fetch(`${again.url}/dashboard`)).text();
        for (const end = Date.now() + 300_000; Date.now() < end && !again.log().includes('dashboard: panels computed on page open'); ) await new Promise((ok) => setTimeout(ok, 20));
        const warmedMs = performance.now() - t0;
        const [, firstMs] = await timed(async () => (await fetch(`${again.url}${url('corpus', '')}`, { headers: { authorization: `Bearer ${key}` } })).text());
        out.corpus!.page_open = { panels_computed_ms: round(warmedMs), first_request_after_ms: round(firstMs) };
      } finally {
        await stopServeProcess(again);
      }
      const summary = {
        trending: { embedder: online.trending.embedder, questions: online.trending.rows, clusters: online.trending.items.length, unclustered: online.trending.unclustered },
        data: opts.data ? 'copy of --data' : `synthetic corpus of ${opts.pairs} pairs`,
        sizes,
        setup,
        baseline_ms: baseline,
        endpoints: out,
        server_rss_mb: rss ? Math.round(Number(rss[1]) / 1e6) : null,
        target: 'p95 < 200 ms (uncached and warm)',
        ...(opts.keep ? { kept: data } : {}),
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } finally {
      if (!stopped) await stopServeProcess(served).catch((e) => log(`stop: ${(e as Error).message}`));
      stores.close();
    }
  } finally {
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
  }
}

await main();
