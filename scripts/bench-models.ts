// Benchmark: the model layer on this machine's local models. Prints JSON.
//
//   npm run bench:models -- --repo <path> [--records 6] [--queries 100]
//
// 1. Generation: self-instruct with SmolLM2-135M on a few source records of the repo (no cache):
//    prompt and completion tokens per second. Judge: Gemma 3 270M rating those pairs, calls per second.
// 2. Embeddings at promotion (MiniLM-L6 int8, onnxruntime-node) in pairs per second, against raw
//    onnxruntime inference on the same texts in the same run (padded batches of 32), with the tokens
//    per text. Target: the pipeline reaches ≥ 80 % of the raw rate.
// 3. Search latency over the promoted corpus: p50/p95 of hybrid, vector and full-text queries.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { embeddingText, promoteStaged } from '../datasets/promote.js';
import { searchCorpus, type SearchMode } from '../datasets/search.js';
import { sourceFromRow, Stores } from '../datasets/store.js';
import { loadSeedPool } from '../generators/seeds.js';
import { selfInstructPair, selfInstructPrompt } from '../generators/self-instruct.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { createLocalChat } from '../lib/models/chat-local.js';
import { LOCAL_MODELS } from '../lib/models/config.js';
import { createLocalEmbedder, loadTokenizer, openSession, rawOnnxEmbed } from '../lib/models/embed-local.js';
import { EMBED_MAX_TOKENS, modelsDir } from '../lib/models/index.js';
import type { ChatModel } from '../lib/models/types.js';
import { judgePair, judgePrompt } from '../validators/judge.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .requiredOption('--repo <path>', 'a local git repository (e.g. a clone of huggingface/peft)')
  .option('--records <n>', 'source records to generate for', (v) => Number(v), 6)
  .option('--queries <n>', 'search queries per mode', (v) => Number(v), 100)
  .parse()
  .opts<{ repo: string; records: number; queries: number }>();

const note = (msg: string) => process.stderr.write(`[bench:models ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const dataDir = mkdtempSync(join(tmpdir(), 'qaforge-bench-models-'));
const cfg = loadConfig({ flags: { dataDir } });
const models = modelsDir(cfg);
const log = createLogger('warn');

// The corpus: a rules-only backfill of the repository's code and docs, as a user runs it.
const backfill = spawnSync(process.execPath, [join(root, 'bin/qaforge.mjs'), '--data-dir', dataDir, 'backfill', '--repo', resolve(opts.repo), '--sources', 'code,docs', '--llm-sample', '0', '--json'], {
  encoding: 'utf8',
  env: { ...process.env, QAFORGE_LOG_LEVEL: 'warn' },
  maxBuffer: 1 << 28,
});
if (backfill.status !== 0) throw new Error(`backfill failed: ${backfill.stderr}`);
const staged = JSON.parse(backfill.stdout).staged as number;
note(`backfill: ${staged} pairs staged`);

const stores = await Stores.open(dataDir);

// 1. Generation and judging, uncached: every call is a real model call.
const records = [];
for await (const rows of stores.scan('sources', ['id', 'kind', 'repo', 'path', 'qualname', 'start_line', 'end_line', 'commit_first_seen', 'commit_last_verified', 'record'])) records.push(...rows.map(sourceFromRow));
const sample = [...records.filter((r) => r.kind === 'code_symbol' && r.code?.docstring).slice(0, Math.ceil(opts.records / 2)), ...records.filter((r) => r.kind === 'doc_section').slice(0, Math.floor(opts.records / 2))];
function metered(chat: ChatModel) {
  const m = { calls: 0, seconds: 0, promptTokens: 0, completionTokens: 0 };
  const wrapped: ChatModel = {
    ...chat,
    backend: chat.backend,
    model: chat.model,
    async complete(req, signal) {
      const t = performance.now();
      const r = await chat.complete(req, signal);
      m.seconds += (performance.now() - t) / 1000;
      m.calls++;
      m.promptTokens += r.promptTokens;
      m.completionTokens += r.completionTokens;
      return r;
    },
  };
  return { chat: wrapped, m };
}
const gen = metered(createLocalChat(join(models, LOCAL_MODELS.generator)));
const judge = metered(createLocalChat(join(models, LOCAL_MODELS.judge)));
const seeds = loadSeedPool();
const outcomes: Record<string, number> = {};
let judged = { passed: 0, failed: 0 };
for (const rec of sample) {
  note(`generating for ${rec.kind} ${rec.provenance.path}${rec.provenance.qualname ? `:${rec.provenance.qualname}` : ''}`);
  const out = await selfInstructPair(rec, [], { chat: gen.chat, prompt: selfInstructPrompt(), seeds, poolQuestions: seeds.map((s) => s.question), repo: 'bench' });
  outcomes[out.kind] = (outcomes[out.kind] ?? 0) + 1;
  if (out.kind === 'pair' || out.kind === 'near_duplicate') {
    const r = await judgePair(out.pair, { chat: judge.chat, prompt: judgePrompt(), repo: 'bench', minScore: 4 });
    judged = r.verdict.pass ? { ...judged, passed: judged.passed + 1 } : { ...judged, failed: judged.failed + 1 };
  }
}
await gen.chat.close();
await judge.chat.close();
const rate = (m: typeof gen.m) => ({
  calls: m.calls,
  seconds: round(m.seconds),
  promptTokens: m.promptTokens,
  completionTokens: m.completionTokens,
  secondsPerCall: round(m.seconds / m.calls),
  callsPerSecond: round(m.calls / m.seconds, 3),
  // Whole calls: prompt evaluation included, so this is the rate a run sees.
  completionTokensPerSecond: round(m.completionTokens / m.seconds),
});

// 2. Embeddings: the promotion as the pipeline runs it, then raw onnxruntime on the same texts.
const texts: string[] = [];
for await (const rows of stores.scan('staging', ['question', 'answer', 'context'], "status = 'validated'")) for (const r of rows) texts.push(embeddingText(r as never));
note(`embedding ${texts.length} texts at promotion`);
const embedder = await createLocalEmbedder({ modelPath: join(models, LOCAL_MODELS.embedder), tokenizerPath: join(models, LOCAL_MODELS.tokenizer), maxTokens: EMBED_MAX_TOKENS });
const tokens = embedder.tokenCounts(texts);
const promotion = await promoteStaged(stores, log, { runId: 'bench', embedder });
await embedder.close();
note(`promotion: ${promotion.embedded} embedded in ${round(promotion.embedSeconds)} s; raw onnxruntime next`);
const session = await openSession(join(models, LOCAL_MODELS.embedder));
const tokenizer = loadTokenizer(join(models, LOCAL_MODELS.tokenizer));
const t0 = performance.now();
await rawOnnxEmbed(session, tokenizer, texts, EMBED_MAX_TOKENS);
const rawSeconds = (performance.now() - t0) / 1000;
await session.release();
const pipelineRate = promotion.embedded / promotion.embedSeconds;
const rawRate = texts.length / rawSeconds;

// 3. Search latency over the promoted corpus (the embedder loaded once, as a query API would).
note(`raw: ${round(rawSeconds)} s; search next`);
const searcher = await createLocalEmbedder({ modelPath: join(models, LOCAL_MODELS.embedder), tokenizerPath: join(models, LOCAL_MODELS.tokenizer), maxTokens: EMBED_MAX_TOKENS });
const queries = texts.filter((_, i) => i % Math.max(1, Math.floor(texts.length / opts.queries)) === 0).slice(0, opts.queries).map((t) => t.split('\n')[0]!);
const search: Record<string, { p50Ms: number; p95Ms: number }> = {};
for (const mode of ['hybrid', 'vector', 'fts'] as SearchMode[]) {
  const times: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    await searchCorpus(stores, searcher, q, { k: 10, mode });
    times.push(performance.now() - t);
  }
  search[mode] = { p50Ms: round(pct(times, 50), 1), p95Ms: round(pct(times, 95), 1) };
}
await searcher.close();
stores.close();

console.log(
  JSON.stringify(
    {
      repo: resolve(opts.repo).split('/').pop(),
      machine: { cores: (await import('node:os')).availableParallelism() },
      generation: { model: LOCAL_MODELS.generator, records: sample.length, outcomes, ...rate(gen.m) },
      judge: { model: LOCAL_MODELS.judge, ...judged, ...rate(judge.m) },
      embeddings: {
        model: 'all-MiniLM-L6-v2 int8 ONNX',
        texts: texts.length,
        corpusStaged: staged,
        tokensPerText: { mean: round(tokens.reduce((a, b) => a + b, 0) / tokens.length, 1), p50: pct(tokens, 50), max: Math.max(...tokens) },
        pipelinePairsPerSecond: round(pipelineRate, 1),
        rawOnnxTextsPerSecond: round(rawRate, 1),
        ratio: round(pipelineRate / rawRate, 3),
        promotionSeconds: round(promotion.seconds),
        vectorIndex: promotion.vectorIndex,
      },
      search: { corpus: promotion.active, queries: queries.length, k: 10, ...search },
    },
    null,
    2,
  ),
);
