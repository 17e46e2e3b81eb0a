// Benchmark: the query service on a corpus of real pairs (about 100,000 from huggingface/peft and
// huggingface/diffusers). Builds the corpus when the data dir has too few active pairs (rules-only
// backfills of code, docs and commits: peft, diffusers at HEAD and at an older commit, then one
// promotion), calibrates the abstention threshold on the peft sets, starts `qaforge serve` as a child
// process, and measures over HTTP on 127.0.0.1:
//   - in-process search (no HTTP, the same function the service calls) per mode: the baseline, with
//     where its time goes (embed, rank, take) and what 16 concurrent searches reach in one process;
//   - sequential requests per mode with answer "none": client p50/p95 and the server's retrieve part;
//   - requests/s at concurrency 16 (autocannon) per mode with answer "none", and extractive hybrid;
//     /healthz at the same concurrency as the HTTP ceiling of this machine;
//   - a few generative answers with the local generator model;
//   - durability: SIGKILL under simulated load, then a restart; acknowledged ids found in the log.
// Prints JSON.
//
//   npm run bench:serve -- --data <dir> [--peft <clone> --diffusers <clone>] [--min-pairs 100000] [--seconds 10]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Command } from 'commander';
import { runBackfill } from '../activities/backfill.js';
import { promoteWithEmbeddings } from '../datasets/promote.js';
import { searchCorpus, SEARCH_MODE_NAMES, type SearchMode, type SearchTimings } from '../datasets/search.js';
import { Stores } from '../datasets/store.js';
import { calibrateAbstention, recordAbstention } from '../evals/abstention.js';
import { nearestRank } from '../evals/metrics.js';
import { loadEvalSet } from '../evals/set.js';
import { loadConfig, type ConfigInput } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { openEmbedder } from '../lib/models/index.js';
import { killUnderLoad, startServeProcess, stopServeProcess } from '../serve/durability.js';
import { createKey } from '../serve/keys.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
/** The older diffusers commit (2024-06) whose changed evidence adds pairs HEAD no longer has. */
const DIFFUSERS_OLD = 'bc108e15333cb0e8a092647320cbb4d70d6d0f03';

const opts = new Command()
  .requiredOption('--data <dir>', 'data dir of the benchmark corpus (built when it has fewer than --min-pairs active pairs)')
  .option('--peft <path>', 'a clone of huggingface/peft (to build the corpus)')
  .option('--diffusers <path>', 'a full clone of huggingface/diffusers (to build the corpus)')
  .option('--min-pairs <n>', 'active pairs the corpus must hold', '100000')
  .option('--seconds <n>', 'seconds per concurrency run', '10')
  .option('--connections <n>', 'concurrent connections', '16')
  .option('--generative <n>', 'generative answers to time (local model)', '5')
  .option('--skip-durability', 'leave out the SIGKILL run')
  .parse()
  .opts<{ data: string; peft?: string; diffusers?: string; minPairs: string; seconds: string; connections: string; generative: string; skipDurability?: boolean }>();

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const dataDir = resolve(opts.data);
mkdirSync(dataDir, { recursive: true });
const log = createLogger('warn');
// Pairs of every quality (rules only, so no judge score) and no rate limit in the way of the load.
const configFile = join(dataDir, 'bench-serve.config.json');
writeFileSync(configFile, JSON.stringify({ limits: { minQuality: 0 }, serve: { rateLimit: { max: 10_000_000, windowMs: 60_000 }, maxEventLoopDelayMs: 10_000 } }, null, 2));
const cfgFor = (flags: Partial<ConfigInput> = {}) => loadConfig({ configPath: configFile, flags: { dataDir, ...flags } });
const cfg = cfgFor();
const out: Record<string, unknown> = { data: opts.data, cores: availableParallelism(), load_average_at_start: loadavg().map((x) => round(x, 2)) };

// 1. The corpus.
const activePairs = async () => {
  const stores = await Stores.openFor(cfg);
  try {
    return await stores.count('corpus', "status = 'active'");
  } finally {
    stores.close();
  }
};
let active = await activePairs();
const minPairs = Number(opts.minPairs);
if (active < minPairs) {
  if (!opts.peft || !opts.diffusers) throw new Error(`${opts.data} holds ${active} active pairs (< ${minPairs}): pass --peft and --diffusers clones to build the corpus`);
  const build: Record<string, number> = {};
  const backfill = { sources: ['code', 'docs', 'commits'], models: { llmSample: 0 } } as Partial<ConfigInput>;
  for (const [name, flags] of [
    ['peft', { repo: resolve(opts.peft) }],
    ['diffusers', { repo: resolve(opts.diffusers) }],
    ['diffusers_2024_06', { repo: resolve(opts.diffusers), rev: DIFFUSERS_OLD }],
  ] as const) {
    const t = performance.now();
    const r = await runBackfill(cfgFor({ ...backfill, ...flags }), log, `bench:serve ${name}`);
    build[`${name}_staged`] = r.staged;
    build[`${name}_seconds`] = round((performance.now() - t) / 1000);
  }
  const t = performance.now();
  const stores = await Stores.openFor(cfg);
  const p = await promoteWithEmbeddings(cfg, stores, log).finally(() => stores.close());
  build.promote_seconds = round((performance.now() - t) / 1000);
  build.promoted = p.promoted;
  out.build = build;
  active = await activePairs();
}
out.corpus = { active_pairs: active };

// 2. Questions: the hand-written peft sets (the simulator's questions too); the threshold calibrated on them.
const sets = [loadEvalSet(join(root, 'evals/sets/peft.jsonl')), loadEvalSet(join(root, 'evals/sets/peft-abstention.jsonl'))];
const questions = sets.flatMap((s) => s.items.map((x) => x.question));
const inProcess: Record<string, unknown> = {};
{
  const stores = await Stores.openFor(cfg);
  const embedder = await openEmbedder(cfg);
  try {
    const t = performance.now();
    const c = await calibrateAbstention(stores, embedder, sets, { k: 10, mode: 'hybrid' });
    await recordAbstention(stores, c);
    out.abstention = { threshold: c.threshold, answered: round(c.answered, 3), abstained: round(c.abstained, 3), balanced_accuracy: round(c.balancedAccuracy, 3), counts: c.counts, missed_abstained: round(c.missedAbstained, 3), seconds: round((performance.now() - t) / 1000) };
    // The baseline: the search the service runs, called in this process (embedding included).
    for (const mode of SEARCH_MODE_NAMES) {
      for (const q of questions.slice(0, 10)) await searchCorpus(stores, embedder, q, { k: 10, mode, similarity: true });
      const ms: number[] = [];
      const parts: Record<keyof SearchTimings, number[]> = { embed: [], rank: [], take: [] };
      for (const q of questions) {
        const timings: SearchTimings = { embed: 0, rank: 0, take: 0 };
        const t1 = performance.now();
        await searchCorpus(stores, embedder, q, { k: 10, mode, similarity: true, timings });
        ms.push(performance.now() - t1);
        for (const k of Object.keys(parts) as (keyof SearchTimings)[]) parts[k].push(timings[k]);
      }
      // The same search, 16 at a time in this process for as long as each HTTP run: the ceiling the service can reach.
      let done = 0;
      const until = performance.now() + Number(opts.seconds) * 1000;
      await Promise.all(
        Array.from({ length: Number(opts.connections) }, async (_, w) => {
          for (let i = w; performance.now() < until; i += Number(opts.connections)) {
            await searchCorpus(stores, embedder, questions[i % questions.length]!, { k: 10, mode, similarity: true });
            done++;
          }
        }),
      );
      inProcess[mode] = {
        p50: round(nearestRank(ms, 0.5)),
        p95: round(nearestRank(ms, 0.95)),
        parts_p50: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(nearestRank(v, 0.5))])),
        rps_at_concurrency: round(done / Number(opts.seconds)),
      };
    }
  } finally {
    await embedder.close();
    stores.close();
  }
}
out.in_process_search_ms = inProcess;

// 3. The service.
const key = await (async () => {
  const stores = await Stores.openFor(cfg);
  try {
    return (await createKey(stores, `bench-${Date.now()}`, 'admin')).key;
  } finally {
    stores.close();
  }
})();
const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-qaforge-synthetic': '1' };

// Generative answers are timed as generated, not from the reply cache of an earlier run.
rmSync(join(dataDir, 'model-cache'), { recursive: true, force: true });
const t0 = performance.now();
const server = await startServeProcess({ cliArgs: ['--config', configFile, '--data-dir', dataDir], timeoutMs: 120_000 });
out.startup_ms = round(performance.now() - t0);
const url = server.url;

const post = async (body: Record<string, unknown>) => {
  const t = performance.now();
  const res = await fetch(`${url}/v1/query`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
  const json = (await res.json()) as { latency_ms?: { retrieve: number; generate: number; total: number }; abstained?: boolean; citations?: { verified: boolean }[] };
  if (res.status !== 200) throw new Error(`POST /v1/query answered ${res.status}: ${JSON.stringify(json)}`);
  return { ms: performance.now() - t, json };
};

// 3a. Sequential: one request at a time, per mode, answer "none"; a first pass warms the caches.
const sequential: Record<string, unknown> = {};
for (const mode of SEARCH_MODE_NAMES) {
  for (const q of questions.slice(0, 10)) await post({ question: q, mode, answer: 'none' });
  const client: number[] = [];
  const retrieve: number[] = [];
  for (const q of questions) {
    const r = await post({ question: q, mode, answer: 'none' });
    client.push(r.ms);
    retrieve.push(r.json.latency_ms!.retrieve);
  }
  sequential[mode] = { n: client.length, p50: round(nearestRank(client, 0.5)), p95: round(nearestRank(client, 0.95)), server_retrieve_p50: round(nearestRank(retrieve, 0.5)), server_retrieve_p95: round(nearestRank(retrieve, 0.95)) };
}
out.sequential_ms = sequential;

// 3b. Concurrency: closed-loop connections, each request a question of the sets in turn.
async function load(path: string, method: 'GET' | 'POST', bodyOf?: (i: number) => Record<string, unknown>) {
  let i = 0;
  const r = await autocannon({
    url: `${url}${path}`,
    connections: Number(opts.connections),
    duration: Number(opts.seconds),
    headers: auth,
    requests: [{ method, setupRequest: (req) => (bodyOf ? { ...req, body: JSON.stringify(bodyOf(i++)) } : req) }],
  });
  return {
    rps: round(r.requests.average),
    latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p97_5: r.latency.p97_5, p99: r.latency.p99 },
    requests: r.requests.total,
    non_2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}
const concurrency: Record<string, unknown> = { connections: Number(opts.connections), seconds: Number(opts.seconds) };
concurrency.healthz = await load('/healthz', 'GET');
for (const mode of SEARCH_MODE_NAMES) concurrency[`${mode}_none`] = await load('/v1/query', 'POST', (i) => ({ question: questions[i % questions.length], mode, answer: 'none' }));
concurrency.hybrid_extractive = await load('/v1/query', 'POST', (i) => ({ question: questions[i % questions.length], mode: 'hybrid' satisfies SearchMode, answer: 'extractive' }));
out.concurrency = concurrency;

// 3c. Generative answers with the local generator model (sequential; what it is on 2 cores).
{
  const n = Number(opts.generative);
  const total: number[] = [];
  const generate: number[] = [];
  let abstained = 0;
  let verified = 0;
  for (const q of sets[0]!.items.filter((x) => !x.out_of_scope).slice(0, n)) {
    const r = await post({ question: q.question, mode: 'hybrid', answer: 'generative' });
    total.push(r.ms);
    generate.push(r.json.latency_ms!.generate);
    if (r.json.abstained) abstained++;
    verified += (r.json.citations ?? []).filter((c) => c.verified).length;
  }
  out.generative = { n, model: cfg.models.generator.model, total_ms_p50: round(nearestRank(total, 0.5)), generate_ms_p50: round(nearestRank(generate, 0.5)), abstained, verified_citations: verified };
}

await stopServeProcess(server);

// 4. Durability: SIGKILL under simulated load, restart, every acknowledged id in the log.
if (!opts.skipDurability) {
  // Arrivals above what the service answers (so requests are in flight at the kill); killed once 150
  // answers and 20 feedbacks are acknowledged, or after 20 s.
  out.durability = await killUnderLoad({
    configFile,
    dataDir,
    key,
    questions: join(root, 'evals/sets/peft.jsonl'),
    load: { rate: 60, max: 2000, durationMs: 40_000, feedbackRate: 0.3 },
    killAfterAcks: { queries: 150, feedback: 20 },
    killAfterMs: 20_000,
  });
}

out.load_average_at_end = loadavg().map((x) => round(x, 2));
console.log(JSON.stringify(out, null, 2));
process.exit(0);
