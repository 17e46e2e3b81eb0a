// Benchmark: tree-sitter extraction alone and the whole backfill, against the Python `ast` extractor
// on the same repository in the same run. Prints JSON (files, bytes, symbols, pairs, seconds, MB/s,
// peak RSS, ratios) and checks symbol parity with Python's ast on every file Python can parse.
//
//   npm run bench:extract -- --repo <path> [--runs 3] [--workers N] [--out bench.json]
//
// Each part runs --runs times, interleaved (python, extract, backfill, python, …) so machine noise
// hits all three alike; the figures are medians, the ratios are of medians.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { runBackfill } from '../activities/backfill.js';
import { batchFiles, batchRunner, runBatchesInOrder } from '../activities/code-pool.js';
import type { ExtractOnlyOutput } from '../activities/code-batch.js';
import { BlobReader, listFiles, resolveRepo } from '../activities/repo.js';
import { loadConfig } from '../lib/config.js';
import { DEFAULT_LIMITS } from '../validators/checks.js';
import { createLogger } from '../lib/log.js';

const here = fileURLToPath(import.meta.url);
const root = resolve(here, '../..');

const opts = new Command()
  .requiredOption('--repo <path>', 'local git repository to benchmark on')
  .option('--workers <n>', 'worker threads', (v) => Number(v), availableParallelism())
  .option('--runs <n>', 'measured runs of each part (medians are reported)', (v) => Number(v), 3)
  .option('--out <file>', 'also write the JSON here')
  .option('--child <mode>', 'internal: run one measured part (extract | backfill) in this process')
  .option('--dump <file>', 'internal: where the extract child writes symbols')
  .parse()
  .opts<{ repo: string; workers: number; runs: number; out?: string; child?: 'extract' | 'backfill'; dump?: string }>();

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 102.4) / 10;

async function childExtract(): Promise<unknown> {
  const log = createLogger('warn', false);
  const t0 = performance.now();
  const repo = await resolveRepo(opts.repo, 'HEAD', tmpdir(), log);
  const files = await listFiles(repo.path, repo.sha, ['**/*.py'], []);
  const runner = batchRunner(opts.workers);
  const reader = new BlobReader(repo.path);
  const dump = createWriteStream(opts.dump!);
  const counts = { module: 0, class: 0, function: 0, method: 0 };
  let bytes = 0;
  let parseErrors = 0;
  const consume = async (out: ExtractOnlyOutput) => {
    bytes += out.bytes;
    parseErrors += out.skips.filter((s) => s.reason === 'syntax_error').length;
    for (const f of out.symbols) {
      for (const s of f.list) counts[s[0]] += 1;
      if (!dump.write(`${JSON.stringify(f)}\n`)) await once(dump, 'drain');
    }
  };
  await runBatchesInOrder(batchFiles(files, 512 * 1024), reader, {
    window: opts.workers * 2,
    submit: (blobs) => runner.extract({ files: blobs, ref: repo, limits: DEFAULT_LIMITS }),
    consume,
    unreadable: (f, e) => {
      throw new Error(`cannot read ${f.path}: ${e.message}`);
    },
  });
  reader.close();
  await runner.close();
  dump.end();
  await once(dump, 'close');
  const seconds = (performance.now() - t0) / 1000;
  return { files: files.length, bytes, symbols: counts, parse_errors: parseErrors, seconds: round(seconds), mb_per_s: round(bytes / 1e6 / seconds), peak_rss_mb: peakRssMb(), workers: opts.workers };
}

async function childBackfill(): Promise<unknown> {
  const dataDir = mkdtempSync(join(tmpdir(), 'qaforge-bench-'));
  try {
    // Rules only: the model step has its own benchmark (bench:models) and would swamp this one.
    const cfg = loadConfig({ env: { QAFORGE_LLM_SAMPLE: '0' }, flags: { repo: opts.repo, dataDir, workers: opts.workers, logLevel: 'silent', sources: ['code'] } });
    const r = await runBackfill(cfg, createLogger('silent', false), 'bench');
    return {
      files: r.files,
      bytes: r.bytes,
      symbols: r.symbols,
      source_records: r.sourceRecords,
      pairs: { candidates: r.candidates, staged: r.staged, rejected: r.rejected, near_duplicates: r.nearDuplicates },
      seconds: round(r.seconds),
      mb_per_s: round(r.bytes / 1e6 / r.seconds),
      peak_rss_mb: peakRssMb(),
      stages: r.stages,
      workers: opts.workers,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

type Sym = [string, string, number, number, string | null, string];

/** Symbol-by-symbol comparison with Python's ast on the files Python parsed. */
function parity(astJsonl: string, tsJsonl: string, failed: Set<string>) {
  const key = (path: string, s: Sym) => `${path}\u0000${s[0]}\u0000${s[1]}\u0000${s[2]}\u0000${s[3] ?? ''}`;
  const py = new Map<string, { doc: string | null; params: string }>();
  const pyCounts: Record<string, number> = { class: 0, function: 0, method: 0 };
  for (const line of readFileSync(astJsonl, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    if (r.kind === 'module') continue;
    pyCounts[r.kind] = (pyCounts[r.kind] ?? 0) + 1;
    py.set(key(r.path, [r.kind, r.qualname, r.start_line, r.end_line, null, '']), { doc: r.docstring, params: (r.params as string[]).join(',') });
  }
  const tsCounts: Record<string, number> = { class: 0, function: 0, method: 0 };
  let spanMismatch = 0;
  let docMismatch = 0;
  let paramMismatch = 0;
  const examples: string[] = [];
  for (const line of readFileSync(tsJsonl, 'utf8').split('\n')) {
    if (!line) continue;
    const f = JSON.parse(line) as { path: string; list: Sym[] };
    if (failed.has(f.path)) continue;
    for (const s of f.list) {
      if (s[0] === 'module') continue;
      tsCounts[s[0]]!++;
      const k = key(f.path, [s[0], s[1], s[2], s[3], null, '']);
      const p = py.get(k);
      if (!p) {
        spanMismatch++;
        if (examples.length < 5) examples.push(`${f.path}: ${s[0]} ${s[1]} ${s[2]}-${s[3]}`);
        continue;
      }
      if (p.doc !== s[4]) docMismatch++;
      if (p.params !== s[5]) paramMismatch++;
    }
  }
  const equal = ['class', 'function', 'method'].every((k) => pyCounts[k] === tsCounts[k]);
  return { counts_equal: equal, python: pyCounts, tree_sitter: tsCounts, symbols_without_identical_ast_span: spanMismatch, docstrings_differing: docMismatch, parameter_lists_differing: paramMismatch, examples };
}

async function main() {
  if (opts.child) {
    const r = opts.child === 'extract' ? await childExtract() : await childBackfill();
    process.stdout.write(JSON.stringify(r));
    return;
  }
  const repoPath = resolve(opts.repo);
  const tmp = mkdtempSync(join(tmpdir(), 'qaforge-bench-'));
  const self = ['--import', 'tsx', here, '--repo', repoPath, '--workers', String(opts.workers)];
  const runs: { python: any; extract: any; backfill: any }[] = [];
  for (let i = 0; i < opts.runs; i++) {
    process.stderr.write(`bench: run ${i + 1}/${opts.runs}\n`);
    runs.push({
      python: JSON.parse(await run('python3', [join(root, 'scripts/py_ast_extract.py'), repoPath, '--out', join(tmp, 'ast.jsonl')])),
      extract: JSON.parse(await run(process.execPath, [...self, '--child', 'extract', '--dump', join(tmp, 'ts.jsonl')])),
      backfill: JSON.parse(await run(process.execPath, [...self, '--child', 'backfill'])),
    });
  }
  // The run with the median time of each part stands for it; every run's seconds are listed too.
  const median = (part: 'python' | 'extract' | 'backfill') => {
    const sorted = runs.map((r) => r[part]).sort((a, b) => a.seconds - b.seconds);
    return { ...sorted[Math.floor(sorted.length / 2)], seconds_all_runs: runs.map((r) => r[part].seconds) };
  };
  const python = median('python');
  const extract = median('extract');
  const backfill = median('backfill');
  const failed = new Set<string>((python.failed as { path: string }[]).map((f) => f.path));
  const result = {
    repo: repoPath.split('/').slice(-1)[0],
    machine: { cores: availableParallelism(), node: process.version },
    runs: opts.runs,
    python_ast: { ...python, failed: python.failed.length, failed_files: python.failed.slice(0, 10) },
    extract,
    backfill,
    ratios: {
      extract_throughput_vs_python: round(extract.mb_per_s / python.mb_per_s),
      backfill_throughput_vs_python: round(backfill.mb_per_s / python.mb_per_s),
    },
    targets: {
      extract_ge_1_5x: extract.mb_per_s / python.mb_per_s >= 1.5,
      backfill_ge_1x: backfill.mb_per_s / python.mb_per_s >= 1,
      peak_rss_lt_1gib: Math.max(...runs.map((r) => Math.max(r.extract.peak_rss_mb, r.backfill.peak_rss_mb))) < 1024,
    },
    parity: parity(join(tmp, 'ast.jsonl'), join(tmp, 'ts.jsonl'), failed),
  };
  rmSync(tmp, { recursive: true, force: true });
  const json = JSON.stringify(result, null, 2);
  if (opts.out) writeFileSync(opts.out, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

await main();
