// Benchmark: the retrieval eval on a real repository (e.g. a clone of huggingface/peft with the set
// evals/sets/peft.jsonl). Backfills code, docs and commits (rules only), promotes with the default
// embedder, and scores the set in every mode on the whole corpus: recall@1/5/10, MRR@10, nDCG@10 with
// intervals, the eval's own time, and search latency p50/p95 per mode. Then compares embedders and
// embedded texts on one sub-corpus — every pair of the gold evidence plus a seeded sample of the rest
// (re-embedding the whole corpus per candidate takes ~10 min each here) — on recall@10 and on recall@10
// per second of embedding. Prints JSON.
//
//   npm run bench:eval -- --repo <peft clone> [--set evals/sets/peft.jsonl] [--data <dir>] [--distractors 2000]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runBackfill } from '../activities/backfill.js';
import { promoteStaged } from '../datasets/promote.js';
import { pairFromRow, columnsOf, Stores } from '../datasets/store.js';
import { evalRetrieval, SEARCH_MODES, type ModeResult } from '../evals/retrieval.js';
import { coversGold } from '../evals/relevance.js';
import { loadEvalSet } from '../evals/set.js';
import { loadConfig } from '../lib/config.js';
import { seededRandom } from '../lib/hash.js';
import { createLogger } from '../lib/log.js';
import { openEmbedder } from '../lib/models/index.js';
import { LOCAL_EMBEDDERS, type EmbeddingTextVariant } from '../lib/models/config.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .requiredOption('--repo <path>', 'a clone of the repository the set is about')
  .option('--set <file>', 'eval set', join(root, 'evals/sets/peft.jsonl'))
  .option('--data <dir>', 'reuse this data dir (backfilled and promoted when empty)')
  .option('--distractors <n>', 'pairs besides the gold evidence in the comparison sub-corpus', '2000')
  .option('--embedders <list>', 'local embedders to compare (default: every one whose files are installed)')
  .option('--texts <list>', 'embedded texts to compare', 'question,question_answer,question_answer_context')
  .parse()
  .opts<{ repo: string; set: string; data?: string; distractors: string; embedders?: string; texts: string }>();

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const log = createLogger('warn');
const set = loadEvalSet(resolve(opts.set));
const dataDir = opts.data ? resolve(opts.data) : mkdtempSync(join(tmpdir(), 'qaforge-bench-eval-'));
const baseCfg = loadConfig({ flags: { dataDir, repo: resolve(opts.repo), sources: ['code', 'docs', 'commits'], models: { llmSample: 0 } } });

const brief = (r: ModeResult) => ({
  mode: r.mode,
  embedder: r.embedder,
  questions: r.questions,
  recall_at_1: round(r.overall.recall_at_1.mean),
  recall_at_5: round(r.overall.recall_at_5.mean),
  recall_at_10: round(r.overall.recall_at_10.mean),
  recall_at_10_ci: [round(r.overall.recall_at_10.low), round(r.overall.recall_at_10.high)],
  mrr_at_10: round(r.overall.mrr_at_10.mean),
  ndcg_at_10: round(r.overall.ndcg_at_10.mean),
  ndcg_at_10_ci: [round(r.overall.ndcg_at_10.low), round(r.overall.ndcg_at_10.high)],
  by_kind: Object.fromEntries(Object.entries(r.byKind).map(([k, s]) => [k, { n: s!.questions, recall_at_10: round(s!.recall_at_10.mean), ndcg_at_10: round(s!.ndcg_at_10.mean) }])),
  eval_seconds: round(r.seconds, 2),
  search_ms: { p50: round(r.latencyMs.p50, 1), p95: round(r.latencyMs.p95, 1) },
});

// 1. The whole corpus, default embedder and text.
let stores = await Stores.openFor(baseCfg);
const build: Record<string, number> = {};
if (!(await stores.count('staging'))) {
  const t = performance.now();
  await runBackfill(baseCfg, log, 'bench:eval');
  build.backfill_seconds = round((performance.now() - t) / 1000, 1);
}
if (!(await stores.count('corpus', "status = 'active'"))) {
  const embedder = await openEmbedder(baseCfg);
  const p = await promoteStaged(stores, log, { embedder, text: baseCfg.models.embedder.text });
  await embedder.close();
  build.promote_seconds = round(p.seconds, 1);
  build.embed_seconds = round(p.embedSeconds, 1);
}
const active = await stores.count('corpus', "status = 'active'");
const embedder = await openEmbedder(baseCfg);
const t0 = performance.now();
const full = await evalRetrieval(stores, set, { modes: SEARCH_MODES, k: 10, embedder, record: true });
const fullSeconds = (performance.now() - t0) / 1000;
await embedder.close();

// 2. The comparison sub-corpus: every active pair covering a gold locator, and a seeded sample of the rest.
const gold = set.items.flatMap((x) => x.gold);
const rows: Record<string, unknown>[] = [];
const others: Record<string, unknown>[] = [];
for await (const batch of stores.scan('corpus', columnsOf('staging', ['status']), "status = 'active'"))
  for (const row of batch) {
    const p = pairFromRow(row);
    const prov = { ...p.provenance, sourceKind: p.sourceKind, commitFirstSeen: p.provenance.commitFirstSeen };
    (gold.some((g) => coversGold(prov, g)) ? rows : others).push(row);
  }
const goldPairs = rows.length;
const rand = seededRandom(7);
const want = Math.min(Number(opts.distractors), others.length);
for (let i = 0; i < want; i++) {
  const j = i + Math.floor(rand() * (others.length - i));
  [others[i], others[j]] = [others[j]!, others[i]!];
  rows.push(others[i]!);
}
stores.close();

const installed = Object.entries(LOCAL_EMBEDDERS)
  .filter(([, s]) => existsSync(join(root, baseCfg.models.modelsDir, s.file)))
  .map(([k]) => k);
const embedders = opts.embedders ? opts.embedders.split(',') : installed;
const texts = opts.texts.split(',') as EmbeddingTextVariant[];
const comparison: Record<string, unknown>[] = [];
for (const model of embedders) {
  for (const text of texts) {
    const dir = mkdtempSync(join(tmpdir(), 'qaforge-bench-eval-sub-'));
    const cfg = loadConfig({ flags: { dataDir: dir, models: { embedder: { model, dimensions: LOCAL_EMBEDDERS[model as keyof typeof LOCAL_EMBEDDERS].dimensions, text } } } });
    const sub = await Stores.openFor(cfg);
    await sub.add('staging', rows.map((r) => ({ ...r, status: 'validated' })));
    const e = await openEmbedder(cfg);
    const p = await promoteStaged(sub, log, { embedder: e, text });
    const results = await evalRetrieval(sub, set, { modes: ['vector', 'hybrid'], k: 10, embedder: e, record: false });
    await e.close();
    sub.close();
    rmSync(dir, { recursive: true, force: true });
    const [vector, hybrid] = results.map(brief);
    comparison.push({
      embedder: model,
      text,
      pairs: p.embedded,
      embed_seconds: round(p.embedSeconds, 1),
      texts_per_s: round(p.embedded / p.embedSeconds, 1),
      vector: { recall_at_10: vector!.recall_at_10, ndcg_at_10: vector!.ndcg_at_10 },
      hybrid: { recall_at_10: hybrid!.recall_at_10, ndcg_at_10: hybrid!.ndcg_at_10 },
      // Recall per second of embedding the sub-corpus: what the default is chosen by.
      hybrid_recall_at_10_per_embed_s: round(hybrid!.recall_at_10 / p.embedSeconds, 5),
    });
    process.stderr.write(`${model} / ${text}: ${JSON.stringify(comparison.at(-1))}\n`);
  }
}

const result = {
  machine: { cores: availableParallelism(), node: process.version },
  set: { id: set.id, hash: set.hash.slice(0, 12), questions: set.items.filter((x) => !x.out_of_scope).length, out_of_scope: set.items.filter((x) => x.out_of_scope).length },
  corpus: { active, ...build },
  full_corpus: { default_embedder: full[0]?.embedder, text: baseCfg.models.embedder.text, eval_seconds_all_modes: round(fullSeconds, 1), modes: full.map(brief) },
  comparison: { corpus: { pairs: rows.length, gold_pairs: goldPairs, distractors: want, seed: 7 }, installed, results: comparison },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (!opts.data) rmSync(dataDir, { recursive: true, force: true });
