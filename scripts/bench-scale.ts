// Benchmark: memory and throughput of a full local backfill as the repository grows. For each size
// N it builds a repository of N copies of the package (`src/<pkg>`, copy k renamed
// `src/<pkg>_copy<k>`) committed in one commit on top of the given clone's history, in a temporary
// clone, then runs a full local backfill (code, docs, commits; rules only, `--llm-sample 0`) into a
// fresh data dir in a child process. Prints JSON and a table: seconds, MB/s of Python source, pairs
// staged, peak RSS of the child (worker threads included) and its main thread's peak JS heap.
//
//   npm run bench:scale -- --repo <clone of huggingface/diffusers> --copies 1,2,4 [--package diffusers] [--out bench.json]
//
// The temporary clones and data dirs go under --work (default: the system temp dir) and are removed.
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { runBackfill } from '../activities/backfill.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';

const execFileAsync = promisify(execFile);
const here = fileURLToPath(import.meta.url);
const root = resolve(here, '../..');

const opts = new Command()
  .requiredOption('--repo <path>', 'local git repository whose package is copied (a clone of huggingface/diffusers)')
  .option('--copies <list>', 'sizes to run, as copies of the package', '1,2,4')
  .option('--package <name>', 'the package under src/ to copy', 'diffusers')
  .option('--workers <n>', 'worker threads', (v) => Number(v), availableParallelism())
  .option('--work <dir>', 'where temporary clones and data dirs go', tmpdir())
  .option('--out <file>', 'also write the JSON here')
  .option('--keep', 'keep the built repositories and data dirs')
  .option('--child', 'internal: run one backfill of --repo into --data-dir in this process')
  .option('--data-dir <dir>', 'internal: the child\'s data dir')
  .parse()
  .opts<{ repo: string; copies: string; package: string; workers: number; work: string; out?: string; keep?: boolean; child?: boolean; dataDir?: string }>();

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const git = (cwd: string, ...args: string[]) => execFileAsync('git', args, { cwd, maxBuffer: 64 * 1024 * 1024 });

/** The child: one full local backfill, with the main thread's memory sampled while it runs. */
async function child(): Promise<unknown> {
  const peak = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };
  const timer = setInterval(sample, 200);
  timer.unref();
  const cfg = loadConfig({
    env: { QAFORGE_LLM_SAMPLE: '0' },
    flags: { repo: opts.repo, dataDir: opts.dataDir!, workers: opts.workers, logLevel: 'silent', sources: ['code', 'docs', 'commits'] },
  });
  const r = await runBackfill(cfg, createLogger('silent', false), 'bench');
  clearInterval(timer);
  sample();
  const mb = (b: number) => Math.round(b / 1024 / 1024);
  return {
    files: r.files,
    bytes: r.bytes,
    sources: r.sources.map((o) => ({ source: o.source, units: o.units, records: o.records, staged: o.staged, rejected: o.rejected, seconds: round(o.seconds) })),
    pairs: { candidates: r.candidates, staged: r.staged, rejected: r.rejected, already_known: r.alreadyKnown, near_duplicates: r.nearDuplicates },
    seconds: round(r.seconds),
    peak_rss_mb: r.peakRssMb,
    main_thread_peak_mb: { heap_used: mb(peak.heapUsed), external: mb(peak.external), array_buffers: mb(peak.arrayBuffers) },
  };
}

/** A clone of `repo` with the package copied N times, committed in one commit on top of its history. */
async function buildRepo(repo: string, n: number, dir: string): Promise<{ commit: string }> {
  await execFileAsync('git', ['clone', '--quiet', '--no-hardlinks', repo, dir]);
  const src = join(dir, 'src', opts.package);
  if (!existsSync(src)) throw new Error(`${repo} has no src/${opts.package}`);
  for (let k = 2; k <= n; k++) cpSync(src, join(dir, 'src', `${opts.package}_copy${k}`), { recursive: true });
  if (n > 1) {
    await git(dir, 'add', '--', ...Array.from({ length: n - 1 }, (_, i) => `src/${opts.package}_copy${i + 2}`));
    await git(dir, '-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', 'commit', '--quiet', '-m', `${n} copies of ${opts.package}`);
  }
  const { stdout } = await git(dir, 'rev-parse', 'HEAD');
  return { commit: stdout.trim() };
}

function runChild(repo: string, dataDir: string): Promise<any> {
  return new Promise((ok, fail) => {
    const args = ['--import', 'tsx', here, '--child', '--repo', repo, '--data-dir', dataDir, '--workers', String(opts.workers)];
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('close', (code, signal) => (code === 0 ? ok(JSON.parse(out)) : fail(new Error(`backfill child exited ${code ?? signal}`))));
  });
}

async function main() {
  if (opts.child) {
    process.stdout.write(JSON.stringify(await child()));
    return;
  }
  const repo = resolve(opts.repo);
  const sizes = opts.copies.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--copies: a list of positive integers, not ${opts.copies}`);
  const runs: any[] = [];
  for (const n of sizes) {
    const work = mkdtempSync(join(opts.work, `qaforge-scale-${n}x-`));
    try {
      process.stderr.write(`bench:scale: building ${n}× repository…\n`);
      const { commit } = await buildRepo(repo, n, join(work, 'repo'));
      process.stderr.write(`bench:scale: backfill of ${n}× (${commit.slice(0, 12)})…\n`);
      const wall0 = performance.now();
      const r = await runChild(join(work, 'repo'), join(work, 'data'));
      const wall = (performance.now() - wall0) / 1000;
      runs.push({ copies: n, commit, ...r, wall_seconds: round(wall), python_mb: round(r.bytes / 1e6, 1), mb_per_s: round(r.bytes / 1e6 / r.seconds) });
    } finally {
      if (!opts.keep) rmSync(work, { recursive: true, force: true });
    }
  }
  const result = {
    repo: repo.split('/').slice(-1)[0],
    machine: { cores: availableParallelism(), node: process.version },
    workers: opts.workers,
    runs,
    targets: { peak_rss_le_1_5_gib: runs.every((r) => r.peak_rss_mb <= 1536) },
  };
  const json = JSON.stringify(result, null, 2);
  if (opts.out) writeFileSync(opts.out, `${json}\n`);
  process.stdout.write(`${json}\n`);
  const rows = [
    ['copies', 'python MB', 'seconds', 'MB/s', 'staged', 'peak RSS MB', 'main heap MB'],
    ...runs.map((r) => [`${r.copies}×`, String(r.python_mb), String(r.seconds), String(r.mb_per_s), String(r.pairs.staged), String(r.peak_rss_mb), String(r.main_thread_peak_mb.heap_used)]),
  ];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  process.stderr.write(`\n${rows.map((row) => row.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ')).join('\n')}\n`);
}

await main();
