// Benchmark: the local embedders (LOCAL_EMBEDDERS) on the same real pair texts, so that the default can be
// chosen by measurement. Prints JSON.
//
//   npm run bench:embedders -- --repo <path> [--texts 300]
//
// (`npm run bench:embedders` first runs `scripts/setup.sh --embedders`, which fetches bge-small-en-v1.5 and
// e5-small-v2 next to MiniLM; an embedder whose files are absent is reported as not installed.)
//
// Texts: a rules-only backfill (code + docs, no model-written pairs) of the repository into a fresh data
// dir, as a user runs it; of its validated pairs, `--texts` picked evenly from the list sorted by id. Each
// pair is embedded in the three variants of `models.embedder.text` (embeddingTextFor): the question alone,
// question + answer, and question + answer + the first 150 characters of the context.
//
// For each installed embedder: first a check that it gives the vectors of an independent reference
// (Rust tokenizers + Python onnxruntime, pinned below; the run fails otherwise). Then for each variant the
// texts are embedded as passages the way promotion does (the pipeline's embedder, one text per run, at
// most EMBED_MAX_TOKENS tokens), after a warm-up, the embedders taking turns 25 texts at a time: wall
// seconds, texts/s and tokens/s, where tokens are those the model runs on (its prefix, [CLS] and [SEP]
// included, after the cut), CPU seconds, and the time relative to MiniLM's. Last, the questions embedded
// as search queries (the query prefix), one at a time as `qaforge search` does. On a shared machine
// compare the relative times and the CPU figures; the load averages printed say how shared it was.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { embeddingTextFor, type PairText } from '../datasets/promote.js';
import { Stores } from '../datasets/store.js';
import { loadConfig } from '../lib/config.js';
import { EMBEDDING_TEXTS, LOCAL_EMBEDDERS, type LocalEmbedderId } from '../lib/models/config.js';
import { createLocalEmbedder, type LocalEmbedder } from '../lib/models/embed-local.js';
import { EMBED_MAX_TOKENS, modelsDir } from '../lib/models/index.js';
import type { EmbedKind } from '../lib/models/types.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .requiredOption('--repo <path>', 'a local git repository (e.g. a clone of huggingface/peft)')
  .option('--texts <n>', 'pairs to embed', (v) => Number(v), 300)
  .parse()
  .opts<{ repo: string; texts: number }>();

const note = (msg: string) => process.stderr.write(`[bench:embedders ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The reference: 'How do I load a pretrained tokenizer?' embedded by Python `tokenizers` 0.23.3 +
// `onnxruntime` 1.32.0 (graph optimisation BASIC, batch of one) with each model's prefix and pooling,
// L2-normalised; dims 0-4, 100, 383. The full vectors agreed with this code's to cosine > 0.9999999.
const REF_TEXT = 'How do I load a pretrained tokenizer?';
const REF_DIMS = [0, 1, 2, 3, 4, 100, 383];
const REFERENCE: Record<LocalEmbedderId, Record<EmbedKind, number[]>> = {
  'all-minilm-l6-v2-q': {
    query: [-0.023107, -0.023169, 0.009567, 0.038979, -0.02846, -0.017968, -0.036728],
    passage: [-0.023107, -0.023169, 0.009567, 0.038979, -0.02846, -0.017968, -0.036728],
  },
  'bge-small-en-v1.5-q': {
    query: [-0.074005, -0.035546, 0.036279, -0.021596, -0.060962, -0.036803, -0.016789],
    passage: [-0.079664, -0.029222, 0.051163, -0.047952, -0.064332, -0.047197, -0.028837],
  },
  'e5-small-v2-q': {
    query: [-0.070221, 0.015253, 0.02604, 0.012314, -0.05445, 0.010236, 0.014404],
    passage: [-0.067454, 0.010887, 0.032413, 0.022628, -0.058548, 0.011332, 0.012109],
  },
};

async function checkReference(id: LocalEmbedderId, e: LocalEmbedder): Promise<number> {
  let worst = 0;
  for (const kind of ['query', 'passage'] as const) {
    const [v] = await e.embed([REF_TEXT], { kind });
    REF_DIMS.forEach((d, k) => (worst = Math.max(worst, Math.abs(v![d]! - REFERENCE[id][kind][k]!))));
  }
  if (worst > 1e-4) throw new Error(`${id} does not give the reference vectors (largest difference ${worst}): wrong pooling, prefix or model file`);
  return worst;
}

// The texts: validated pairs of a rules-only backfill.
const dataDir = mkdtempSync(join(tmpdir(), 'qaforge-bench-embedders-'));
const cfg = loadConfig({ flags: { dataDir } });
const models = modelsDir(cfg);
note(`backfilling ${opts.repo} (code, docs; rules only)`);
const backfill = spawnSync(process.execPath, [join(root, 'bin/qaforge.mjs'), '--data-dir', dataDir, 'backfill', '--repo', resolve(opts.repo), '--sources', 'code,docs', '--llm-sample', '0', '--json'], {
  encoding: 'utf8',
  env: { ...process.env, QAFORGE_LOG_LEVEL: 'warn' },
  maxBuffer: 1 << 28,
});
if (backfill.status !== 0) throw new Error(`backfill failed: ${backfill.stderr}`);
const stores = await Stores.open(dataDir);
const pairs: (PairText & { id: string })[] = [];
for await (const rows of stores.scan('staging', ['id', 'question', 'answer', 'context'], "status = 'validated'")) pairs.push(...(rows as unknown as (PairText & { id: string })[]));
stores.close();
rmSync(dataDir, { recursive: true, force: true });
pairs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const n = Math.min(opts.texts, pairs.length);
const sample = Array.from({ length: n }, (_, i) => pairs[Math.floor((i * pairs.length) / n)]!);
note(`${pairs.length} validated pairs; embedding ${n} of them`);
const variants = Object.fromEntries(EMBEDDING_TEXTS.map((v) => [v, sample.map(embeddingTextFor(v))])) as Record<(typeof EMBEDDING_TEXTS)[number], string[]>;
const questions = sample.map((p) => p.question);

// The embedders take turns, CHUNK texts each, so that load from other processes on this shared machine
// falls on all of them alike; wall and CPU time (onnxruntime's threads included) are summed per embedder.
const CHUNK = 25;
type Run = { id: LocalEmbedderId; e: LocalEmbedder; wall: number; cpu: number };
async function measure(runs: Run[], texts: string[], kind: EmbedKind) {
  for (const r of runs) {
    await r.e.embed(texts.slice(0, 10), { kind }); // warm-up
    r.wall = r.cpu = 0;
  }
  for (let i = 0; i < texts.length; i += CHUNK)
    for (const r of runs) {
      const chunk = texts.slice(i, i + CHUNK);
      const c = process.cpuUsage();
      const t = performance.now();
      await r.e.embed(chunk, { kind });
      r.wall += (performance.now() - t) / 1000;
      const dc = process.cpuUsage(c);
      r.cpu += (dc.user + dc.system) / 1e6;
    }
  const base = runs.find((r) => r.id === 'all-minilm-l6-v2-q');
  return Object.fromEntries(
    runs.map((r) => {
      const tokens = r.e.tokenCounts(texts, { kind });
      const total = tokens.reduce((s, x) => s + x, 0);
      return [
        r.id,
        {
          seconds: round(r.wall),
          textsPerSecond: round(texts.length / r.wall, 1),
          tokensPerSecond: Math.round(total / r.wall),
          cpuSeconds: round(r.cpu),
          textsPerCpuSecond: round(texts.length / r.cpu, 1),
          ...(base && base !== r ? { timeVsMiniLM: round(r.wall / base.wall) } : {}),
          tokensPerText: { mean: round(total / texts.length, 1), median: median(tokens), max: Math.max(...tokens) },
          atCut: tokens.filter((x) => x === EMBED_MAX_TOKENS).length,
        },
      ];
    }),
  );
}

const embedders: Record<string, unknown> = {};
const runs: Run[] = [];
for (const [id, spec] of Object.entries(LOCAL_EMBEDDERS) as [LocalEmbedderId, (typeof LOCAL_EMBEDDERS)[LocalEmbedderId]][]) {
  const modelPath = join(models, spec.file);
  const tokenizerPath = join(models, spec.tokenizer);
  if (!existsSync(modelPath) || !existsSync(tokenizerPath)) {
    embedders[id] = { installed: false, setup: spec.setup };
    note(`${id}: not installed (${spec.setup})`);
    continue;
  }
  const t = performance.now();
  const e = await createLocalEmbedder({ modelPath, tokenizerPath, spec, maxTokens: Math.min(spec.maxTokens, EMBED_MAX_TOKENS) });
  const loadSeconds = (performance.now() - t) / 1000;
  embedders[id] = {
    installed: true,
    name: spec.name,
    pooling: spec.pooling,
    queryPrefix: spec.queryPrefix,
    passagePrefix: spec.passagePrefix,
    modelMB: round(statSync(modelPath).size / 1e6, 1),
    loadSeconds: round(loadSeconds),
    referenceMaxAbsDiff: Number((await checkReference(id, e)).toExponential(1)),
  };
  runs.push({ id, e, wall: 0, cpu: 0 });
}
const loadBefore = loadavg().map((x) => round(x, 1));
const passages: Record<string, unknown> = {};
for (const v of EMBEDDING_TEXTS) {
  note(`${v} as passages`);
  passages[v] = await measure(runs, variants[v], 'passage');
}
note('questions as queries');
const queries = await measure(runs, questions, 'query');
for (const r of runs) await r.e.close();

console.log(
  JSON.stringify(
    {
      repo: resolve(opts.repo),
      texts: n,
      validatedPairs: pairs.length,
      maxTokens: EMBED_MAX_TOKENS,
      threads: availableParallelism(),
      // 1, 5 and 15 minute load averages before and after the timed part: other work on the machine.
      loadAverage: { before: loadBefore, after: loadavg().map((x) => round(x, 1)) },
      embedders,
      passages,
      queries,
    },
    null,
    2,
  ),
);
