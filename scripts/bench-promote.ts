// Benchmark: embedding at promotion, the new path against the old in the same run. Prints JSON.
//
//   npm run bench:promote -- --repo <path> [--pairs 1000] [--runs 3] [--sources code,docs]
//   npm run bench:promote -- --data <dir>     (a data dir already backfilled: copied, then promoted)
//
// 1. A rules-only backfill of the repository into a fresh data dir: real pair texts, embedded as
//    promotion embeds them (models.embedder.text, the default question + answer).
// 2. `--pairs` of those texts (spread evenly over staging), embedded `--runs` times by each path,
//    interleaved in slices of 50 texts (each slice by every path in turn) so that load from other jobs
//    falls on all of them:
//    - old: what promotion did before — one in-process session with one ONNX thread per core, each text
//      its own run, graph optimisation `basic`;
//    - workers: what promotion does now — one worker thread per core, a one-thread session each, each
//      text its own run, with the graph optimisation of the pipeline (EMBED_GRAPH_OPTIMIZATION);
//    - workers, extended graph (when that is not the pipeline's): what fused kernels would add.
//    Medians of the runs, ratios to the old path (of the medians, and per run), CPU milliseconds per
//    pair (the process's, all threads), and the cosine of each path's vectors to the old ones.
// 3. The whole promotion of the staging through promoteWithEmbeddings (what `qaforge promote` runs),
//    with its pairs/s.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { embeddingTextFor, promoteWithEmbeddings } from '../datasets/promote.js';
import { Stores } from '../datasets/store.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { localEmbedder } from '../lib/models/config.js';
import { createLocalEmbedder, type GraphOptimization } from '../lib/models/embed-local.js';
import { createThreadedEmbedder } from '../lib/models/embed-thread.js';
import { EMBED_GRAPH_OPTIMIZATION, EMBED_MAX_TOKENS, modelsDir } from '../lib/models/index.js';
import type { Embedder } from '../lib/models/types.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .option('--repo <path>', 'a local git repository (e.g. a clone of huggingface/peft)')
  .option('--data <dir>', 'instead of a backfill: a copy of this data dir (its validated staging pairs)')
  .option('--pairs <n>', 'pair texts each path embeds per run', (v) => Number(v), 1000)
  .option('--runs <n>', 'runs per path (medians reported)', (v) => Number(v), 3)
  .option('--sources <list>', 'sources of the backfill', 'code,docs')
  .option('--no-promotion', 'skip the whole promotion (part 3)')
  .parse()
  .opts<{ repo?: string; data?: string; pairs: number; runs: number; sources: string; promotion: boolean }>();
if (!opts.repo === !opts.data) throw new Error('give one of --repo <path> and --data <dir>');

const note = (msg: string) => process.stderr.write(`[bench:promote ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const load = () => loadavg().map((x) => round(x));

const dataDir = mkdtempSync(join(tmpdir(), 'qaforge-bench-promote-'));
const cfg = loadConfig({ flags: { dataDir } });
const loadStart = load();

// 1. Real pair texts: a rules-only backfill, as a user runs it.
if (opts.data) cpSync(resolve(opts.data), dataDir, { recursive: true });
else {
  note(`backfill of ${opts.sources} into ${dataDir}`);
  const backfill = spawnSync(process.execPath, [join(root, 'bin/qaforge.mjs'), '--data-dir', dataDir, 'backfill', '--repo', resolve(opts.repo!), '--sources', opts.sources, '--llm-sample', '0', '--json'], {
    encoding: 'utf8',
    env: { ...process.env, QAFORGE_LOG_LEVEL: 'warn' },
    maxBuffer: 1 << 28,
  });
  if (backfill.status !== 0) throw new Error(`backfill failed: ${backfill.stderr}`);
}
const stores = await Stores.open(dataDir);
const textOf = embeddingTextFor(cfg.models.embedder.text);
const staged: string[] = [];
for await (const rows of stores.scan('staging', ['question', 'answer', 'context'], "status = 'validated'")) for (const r of rows) staged.push(textOf(r as never));
const step = Math.max(1, staged.length / Math.min(opts.pairs, staged.length));
const texts = Array.from({ length: Math.min(opts.pairs, staged.length) }, (_, i) => staged[Math.floor(i * step)]!);
note(`${staged.length} pairs staged; ${texts.length} texts per path and run`);

// 2. The paths on the same texts.
const spec = localEmbedder(cfg.models.embedder.model).spec;
const files = { modelPath: join(modelsDir(cfg), spec.file), tokenizerPath: join(modelsDir(cfg), spec.tokenizer), maxTokens: Math.min(spec.maxTokens, EMBED_MAX_TOKENS), spec };
const cores = availableParallelism();
interface PathSpec {
  name: string;
  open: () => Promise<Embedder>;
}
const workers = (optimization: GraphOptimization): PathSpec => ({
  name: `workers (${cores} × 1 ONNX thread, ${optimization} graph)${optimization === EMBED_GRAPH_OPTIMIZATION ? ': the pipeline' : ''}`,
  open: () => createThreadedEmbedder({ ...files, threads: 1, optimization }, { workers: cores }),
});
const paths: PathSpec[] = [
  { name: `old (in process, 1 session × ${cores} ONNX threads, basic graph)`, open: () => createLocalEmbedder({ ...files, threads: cores, optimization: 'basic' }) },
  workers(EMBED_GRAPH_OPTIMIZATION),
  ...(EMBED_GRAPH_OPTIMIZATION === 'extended' ? [] : [workers('extended')]),
];
const tokens = (await createLocalEmbedder(files).then(async (e) => [e.tokenCounts(texts), await e.close()]))[0] as number[];
// All paths open at once; each run passes over the texts in slices, every slice embedded by each path in
// turn (the order rotating), so that the other jobs' load on this shared machine falls on all of them.
// A path's seconds in a run are the sum of its slices'; CPU seconds are the whole process's (all threads).
const SLICE = 50;
const opened: Embedder[] = [];
const openSeconds: number[] = [];
for (const p of paths) {
  const t = performance.now();
  opened.push(await p.open());
  openSeconds.push((performance.now() - t) / 1000);
}
const seconds: number[][] = paths.map(() => []);
const cpuSeconds: number[][] = paths.map(() => []);
const vectors: Float32Array[][] = paths.map(() => []);
for (let run = 0; run < opts.runs; run++) {
  const wall = paths.map(() => 0);
  const cpu = paths.map(() => 0);
  for (let s = 0, turn = 0; s < texts.length; s += SLICE, turn++) {
    const slice = texts.slice(s, s + SLICE);
    for (let k = 0; k < paths.length; k++) {
      const i = (k + turn) % paths.length;
      const c = process.cpuUsage();
      const t = performance.now();
      const v = await opened[i]!.embed(slice);
      wall[i]! += (performance.now() - t) / 1000;
      const used = process.cpuUsage(c);
      cpu[i]! += (used.user + used.system) / 1e6;
      if (run === 0) vectors[i]!.push(...v);
    }
  }
  paths.forEach((_, i) => {
    seconds[i]!.push(wall[i]!);
    cpuSeconds[i]!.push(cpu[i]!);
  });
  note(`run ${run + 1}: ${paths.map((p, i) => `${p.name.split(' (')[0]} ${round(texts.length / wall[i]!, 1)}`).join(', ')} pairs/s (load ${load().join(' ')})`);
}
for (const e of opened) await e.close();
const oldRate = texts.length / median(seconds[0]!);
const measured = paths.map((p, i) => {
  const rate = texts.length / median(seconds[i]!);
  const cos = vectors[i]!.map((v, j) => dot(v, vectors[0]![j]!));
  return {
    path: p.name,
    pairsPerSecond: round(rate, 1),
    runsPairsPerSecond: seconds[i]!.map((x) => round(texts.length / x, 1)),
    ratioToOld: round(rate / oldRate, 2),
    runsRatioToOld: seconds[i]!.map((x, r) => round(seconds[0]![r]! / x, 2)),
    cpuMsPerPair: round((1000 * median(cpuSeconds[i]!)) / texts.length, 2),
    openSeconds: round(openSeconds[i]!),
    cosineToOld: { min: round(Math.min(...cos), 6), p01: round(pct(cos, 1), 6), mean: round(cos.reduce((x, y) => x + y, 0) / cos.length, 6) },
  };
});

// 3. The whole promotion as `qaforge promote` runs it.
let promotion: Record<string, unknown> | null = null;
if (opts.promotion) {
  note(`promotion of ${staged.length} pairs`);
  const p = await promoteWithEmbeddings(cfg, stores, createLogger('warn'), 'bench-promote');
  promotion = { pairs: p.promoted, embedded: p.embedded, embedSeconds: round(p.embedSeconds, 1), embedPairsPerSecond: p.embedPairsPerSecond, seconds: round(p.seconds, 1), vectorIndex: p.vectorIndex };
}
stores.close();

console.log(
  JSON.stringify(
    {
      repo: opts.repo ? resolve(opts.repo).split('/').pop() : null,
      sources: opts.repo ? opts.sources : `the staging of ${resolve(opts.data!).split('/').pop()}`,
      machine: { cores, loadAverage: { start: loadStart, end: load() } },
      embedder: spec.name,
      text: cfg.models.embedder.text,
      pipelineGraphOptimization: EMBED_GRAPH_OPTIMIZATION,
      texts: texts.length,
      runs: opts.runs,
      tokensPerText: { mean: round(tokens.reduce((a, b) => a + b, 0) / tokens.length, 1), p50: pct(tokens, 50), max: Math.max(...tokens) },
      paths: measured,
      pipeline: { pairsPerSecond: measured[1]!.pairsPerSecond, oldPairsPerSecond: measured[0]!.pairsPerSecond, ratio: measured[1]!.ratioToOld },
      promotion,
    },
    null,
    2,
  ),
);
