// Benchmark: a backfill of the hostile repository the robustness tests build (10,000-deep nesting, a
// 10 MB one-line file, 100,000 one-line functions, a 4 MB generated module of 50,000 documented
// functions, bad encodings, symlinks, a submodule, 50,000 Markdown headings) against a backfill of an
// ordinary repository (--baseline, e.g. a clone of huggingface/peft) in the same run. Prints JSON:
// seconds, pairs per second, peak RSS, skips by reason, and the throughput ratio.
//
//   npm run bench:robustness -- --baseline <clone> [--out bench.json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { simpleGit } from 'simple-git';
import { makeHostileRepo } from '../test/hostile.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .requiredOption('--baseline <path>', 'an ordinary git repository to compare with (code, docs, commits)')
  .option('--out <file>', 'also write the JSON here')
  .parse()
  .opts<{ baseline: string; out?: string }>();
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** A generated module of about 4 MB: 50,000 small documented functions. */
function generatedModule(): string {
  const parts = ['"""A generated module."""\n'];
  for (let i = 0; i < 50_000; i++) parts.push(`\ndef fn_${i}(x: int) -> int:\n    """Return x plus ${i}."""\n    return x + ${i}\n`);
  return parts.join('');
}

function backfill(repo: string): Promise<any> {
  const data = mkdtempSync(join(tmpdir(), 'qaforge-bench-robust-'));
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [join(root, 'bin/qaforge.mjs'), '--data-dir', data, 'backfill', '--repo', repo, '--sources', 'code,docs,commits', '--json'], {
      cwd: root,
      env: { ...process.env, QAFORGE_LOG_LEVEL: 'warn', QAFORGE_LLM_SAMPLE: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('close', (code) => {
      rmSync(data, { recursive: true, force: true });
      if (code !== 0) return fail(new Error(`backfill of ${repo} exited ${code}`));
      const r = JSON.parse(out);
      const skips: Record<string, number> = {};
      for (const s of r.stages) for (const [k, n] of Object.entries(s.rejected as Record<string, number>)) if (s.stage.endsWith('.read') || s.stage.endsWith('.extract')) skips[k] = (skips[k] ?? 0) + n;
      ok({ seconds: round(r.seconds), pairs_per_s: Math.round(r.staged / r.seconds), peak_rss_mb: r.peakRssMb, files: r.files, records: r.sourceRecords, staged: r.staged, skipped_by_reason: skips });
    });
  });
}

const hostile = await makeHostileRepo(true, { 'hostile/generated_4mb.py': generatedModule() });
const files = (await simpleGit(hostile.dir).raw(['ls-tree', '-r', '--name-only', 'HEAD'])).trim().split('\n').length;
const ordinary = await backfill(resolve(opts.baseline));
const withHostile = await backfill(hostile.dir);
const result = {
  machine: { cores: availableParallelism(), node: process.version },
  baseline: { repo: resolve(opts.baseline), ...ordinary },
  hostile: { ...withHostile, tree_entries: files },
  pairs_per_s_ratio: round(withHostile.pairs_per_s / ordinary.pairs_per_s),
};
const json = JSON.stringify(result, null, 2);
process.stdout.write(`${json}\n`);
if (opts.out) writeFileSync(opts.out, `${json}\n`);
rmSync(hostile.dir, { recursive: true, force: true });
