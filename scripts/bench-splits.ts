// Benchmark: leak-free splits on a real repository. Prints JSON.
//
//   npm run bench:splits -- --repo <path> [--sources code,docs]
//
// Backfills the repository (rules only, no model) into a temp data dir as a child process, as a user
// runs it; promotes without embeddings; exports QA JSONL. Reports the clone clusters (`# Copied from`
// links found and resolved, modular/modeling pairs, near-duplicate joins), how many clusters the raw
// path groups would spread over more than one split and how many the export does (0), and what the
// clustering costs next to the whole export.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { clusterLeakage, splitClustersOf } from '../datasets/clusters.js';
import { exportCorpus } from '../datasets/export.js';
import { promoteStaged } from '../datasets/promote.js';
import { assignSplit } from '../datasets/splits.js';
import { Stores } from '../datasets/store.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const opts = new Command()
  .requiredOption('--repo <path>', 'local git repository (e.g. a clone of huggingface/diffusers)')
  .option('--sources <list>', 'sources to backfill', 'code,docs')
  .option('--data-dir <dir>', 'data dir to use and keep (a second run backfills and promotes nothing new); default: a temp dir, removed')
  .parse()
  .opts<{ repo: string; sources: string; dataDir?: string }>();

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function backfill(data: string): Promise<any> {
  return new Promise((ok, fail) => {
    const args = [join(root, 'bin/qaforge.mjs'), '--data-dir', data, 'backfill', '--repo', opts.repo, '--sources', opts.sources, '--json'];
    const p = spawn(process.execPath, args, { cwd: root, env: { ...process.env, QAFORGE_LOG_LEVEL: 'warn', QAFORGE_LLM_SAMPLE: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('close', (code) => (code === 0 ? ok(JSON.parse(out)) : fail(new Error(`backfill exited ${code}: ${err.slice(-2000)}`))));
  });
}

const data = opts.dataDir ? resolve(opts.dataDir) : mkdtempSync(join(tmpdir(), 'qaforge-bench-splits-'));
const log = createLogger('warn');
const splits = loadConfig({ env: {} }).splits;
try {
  const b = await backfill(data);
  const stores = await Stores.open(data);
  try {
    const promotion = await promoteStaged(stores, log, { embedder: null });
    const t0 = performance.now();
    const exported = await exportCorpus(stores, { out: join(data, 'export'), format: 'qa', splits }, log);
    const exportSeconds = (performance.now() - t0) / 1000;
    // The same clusters again, to compare the export's assignment with the raw path groups'.
    const clusters = await splitClustersOf(stores);
    const pairsOf = new Map<string, number>();
    for await (const rows of stores.scan('corpus', ['split_group'], "status = 'active'"))
      for (const r of rows) pairsOf.set(r.split_group as string, (pairsOf.get(r.split_group as string) ?? 0) + 1);
    const groups = [...pairsOf.keys()];
    // The largest clusters: one that holds a large share of the pairs pushes its split off its ratio.
    const byRoot = new Map<string, { groups: number; pairs: number }>();
    for (const g of groups) {
      const c = byRoot.get(clusters.rootOf(g)) ?? { groups: 0, pairs: 0 };
      c.groups++;
      c.pairs += pairsOf.get(g)!;
      byRoot.set(clusters.rootOf(g), c);
    }
    const largest = [...byRoot].sort((a, b) => b[1].pairs - a[1].pairs).slice(0, 3).map(([root, c]) => ({ root, ...c, split: assignSplit(root, splits) }));
    const raw = groups.map((g) => [g, assignSplit(g, splits)] as const);
    const clustered = groups.map((g) => [g, assignSplit(clusters.rootOf(g), splits)] as const);
    const moved = raw.filter(([, s], i) => clustered[i]![1] !== s).length;
    const before = clusterLeakage(clusters.rootOf, raw);
    const after = clusterLeakage(clusters.rootOf, clustered);
    const c = exported.clusters!;
    console.log(
      JSON.stringify(
        {
          repo: opts.repo,
          commit: b.repo.sha,
          sources: opts.sources,
          backfill: { files: b.files, records: b.sourceRecords, staged: b.staged, seconds: round(b.seconds) },
          promoted: promotion.promoted,
          pairs: exported.corpusRows,
          splits: { ratios: `${splits.train}/${splits.validation}/${splits.test}`, rows: exported.bySplit },
          groups: c.groups,
          clusters: c.clusters,
          groups_in_multi_group_clusters: c.groupsInMultiGroupClusters,
          copied_from: c.copiedFrom,
          modular_pairs: c.modularPairs,
          joins: c.joins,
          largest_clusters: largest,
          clusters_across_splits: { raw_path_groups: before.clustersAcrossSplits, export: c.clustersAcrossSplits, recheck: after.clustersAcrossSplits },
          groups_moved_from_their_raw_split: moved,
          seconds: { clustering: round(c.seconds), export_total: round(exportSeconds), clustering_share: round(c.seconds / exportSeconds) },
        },
        null,
        2,
      ),
    );
  } finally {
    stores.close();
  }
} finally {
  if (!opts.dataDir) rmSync(data, { recursive: true, force: true });
}
