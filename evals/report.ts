// The corpus's health in one place, per version: provenance resolution on a sample, near-duplicate
// rate, coverage of public documented symbols, pairs by source kind and category, answer lengths,
// judge pass rates and reject reasons, split sizes and leakage, and retrieval hardness (the rank of a
// pair's own source when its question is searched: easy / medium / hard, stored on the pair).
import { clusterLeakage, splitClustersOf, type ClusterLeakage } from '../datasets/clusters.js';
import { samplePairs, storeStats, type Hardness } from '../datasets/curation.js';
import type { Split } from '../datasets/schemas.js';
import { searchCorpus, type SearchMode } from '../datasets/search.js';
import { assignSplit, type SplitRatios } from '../datasets/splits.js';
import { rowsToArrowTable } from '../datasets/arrow-rows.js';
import { SCHEMAS, sqlString, type Stores } from '../datasets/store.js';
import { SELF_INSTRUCT } from '../generators/self-instruct.js';
import { nearestRank } from './metrics.js';
import { verifyProvenance, type VerifyResult } from './verify.js';
import type { Embedder } from '../lib/models/types.js';
import type { Logger } from '../lib/log.js';


/** Own source first: easy; in the top 10: medium; not found in the top 10: hard. */
export const hardnessOf = (rank: number | null): Hardness => (rank === 1 ? 'easy' : rank !== null && rank <= HARDNESS_K ? 'medium' : 'hard');
const HARDNESS_K = 10;

interface Lengths {
  pairs: number;
  p50: number;
  p90: number;
  max: number;
}

export interface QualityReport {
  corpusVersion: number;
  pairs: { active: number; retired: number; bySourceKind: Record<string, number>; byCategory: Record<string, number> };
  answerChars: Record<string, Lengths>;
  nearDuplicates: { pairs: number; clusters: number; rate: number };
  provenance: (Pick<VerifyResult, 'checked' | 'resolved' | 'notCheckable' | 'byKind'> & { rate: number; failures: VerifyResult['failures'] }) | { skipped: string };
  coverage: { publicDocumentedSymbols: number; covered: number; rate: number; uncoveredExamples: string[] };
  judge: { modelPairs: number; judged: number; passed: number; passRate: number | null; rejectReasons: Record<string, number> };
  splits: { sizes: Record<Split, number>; byCluster: ClusterLeakage; byGroupOnly: ClusterLeakage };
  hardness: { sampled: number; mode: SearchMode; k: number; counts: Record<Hardness, number>; byKind: Record<string, Record<Hardness, number>> } | { skipped: string };
  seconds: Record<string, number>;
}

export interface ReportOptions {
  /** A checkout of the repository, for the provenance sample; null skips it. */
  repoPath: string | null;
  verifySample: number;
  hardnessSample: number;
  /** Null: hardness uses full-text search only when the mode needs no vectors, else it is skipped. */
  embedder: Embedder | null;
  mode: SearchMode;
  splits: SplitRatios;
  seed?: number;
}

export async function qualityReport(stores: Stores, opts: ReportOptions, log: Logger): Promise<QualityReport> {
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      seconds[name] = (performance.now() - t) / 1000;
    }
  };
  const stats = await storeStats(stores);
  const corpusVersion = stats.corpus.version;

  // One pass over the active corpus: kinds, lengths, near-duplicates, splits, which sources have pairs.
  const clusters = await timed('clusters', () => splitClustersOf(stores));
  const pass = await timed('corpus', async () => {
    const bySourceKind: Record<string, number> = {};
    const lengths: Record<string, number[]> = {};
    const dupClusters = new Map<string, number>();
    const sizes: Record<Split, number> = { train: 0, validation: 0, test: 0 };
    const byCluster = new Map<string, Split>();
    const byGroup = new Map<string, Split>();
    const sourcesWithPairs = new Set<string>();
    const livePaths = new Set<string>();
    for await (const rows of stores.scan('corpus', ['source_id', 'source_kind', 'answer', 'near_dup_cluster', 'split_group', 'path'], "status = 'active'"))
      for (const r of rows) {
        const kind = r.source_kind as string;
        bySourceKind[kind] = (bySourceKind[kind] ?? 0) + 1;
        (lengths[kind] ??= []).push((r.answer as string).length);
        if (r.near_dup_cluster) dupClusters.set(r.near_dup_cluster as string, (dupClusters.get(r.near_dup_cluster as string) ?? 0) + 1);
        const group = r.split_group as string;
        const split = assignSplit(clusters.rootOf(group), opts.splits);
        sizes[split]++;
        byCluster.set(group, split);
        byGroup.set(group, assignSplit(group, opts.splits));
        sourcesWithPairs.add(r.source_id as string);
        if (r.path) livePaths.add(r.path as string);
      }
    return { bySourceKind, lengths, dupClusters, sizes, byCluster, byGroup, sourcesWithPairs, livePaths };
  });
  const active = stats.corpus.active;
  const answerChars = Object.fromEntries(
    Object.entries(pass.lengths).map(([k, xs]) => {
      return [k, { pairs: xs.length, p50: nearestRank(xs, 0.5), p90: nearestRank(xs, 0.9), max: xs.reduce((a, b) => Math.max(a, b), 0) }];
    }),
  );
  const dupPairs = [...pass.dupClusters.values()].reduce((a, b) => a + b, 0);

  // Public documented symbols of files still in the corpus, and whether any active pair is drawn from them.
  const coverage = await timed('coverage', async () => {
    const symbols = new Map<string, boolean>();
    for await (const rows of stores.scan('sources', ['id', 'path', 'qualname', 'symbol_kind', 'record'], "kind = 'code_symbol' AND symbol_kind <> 'module'"))
      for (const r of rows) {
        if (!pass.livePaths.has(r.path as string)) continue;
        const code = (JSON.parse(r.record as string) as { code: { isPublic: boolean; docstring: string | null } | null }).code;
        if (!code?.isPublic || !code.docstring) continue;
        const key = `${r.path as string}:${r.qualname as string}`;
        symbols.set(key, (symbols.get(key) ?? false) || pass.sourcesWithPairs.has(r.id as string));
      }
    const uncovered = [...symbols].filter(([, c]) => !c).map(([k]) => k);
    const n = symbols.size;
    return { publicDocumentedSymbols: n, covered: n - uncovered.length, rate: n ? (n - uncovered.length) / n : 0, uncoveredExamples: uncovered.sort().slice(0, 10) };
  });

  const judge = await timed('judge', async () => {
    const modelWhere = `generator = ${sqlString(SELF_INSTRUCT.name)}`;
    const staged = await stores.count('staging', modelWhere);
    const rejected = await stores.count('rejected', modelWhere);
    const failedJudge = await stores.count('rejected', `${modelWhere} AND reasons LIKE '%judge%'`);
    const judged = staged + failedJudge;
    return { modelPairs: staged + rejected, judged, passed: staged, passRate: judged ? staged / judged : null, rejectReasons: stats.rejected.byReason };
  });

  const provenance: QualityReport['provenance'] = opts.repoPath
    ? await timed('provenance', async () => {
        const v = await verifyProvenance(stores, opts.repoPath!, opts.verifySample, { record: true });
        return { checked: v.checked, resolved: v.resolved, notCheckable: v.notCheckable, byKind: v.byKind, rate: v.checked ? v.resolved / v.checked : 0, failures: v.failures.slice(0, 10) };
      })
    : { skipped: 'no repository checkout' };

  const hardness: QualityReport['hardness'] =
    opts.mode !== 'fts' && !opts.embedder
      ? { skipped: `mode ${opts.mode} needs an embedder` }
      : await timed('hardness', () => retrievalHardness(stores, opts, corpusVersion, log));

  return {
    corpusVersion,
    pairs: { active, retired: stats.corpus.retired, bySourceKind: pass.bySourceKind, byCategory: stats.corpus.byCategory },
    answerChars,
    nearDuplicates: { pairs: dupPairs, clusters: pass.dupClusters.size, rate: active ? dupPairs / active : 0 },
    provenance,
    coverage,
    judge,
    splits: { sizes: pass.sizes, byCluster: clusterLeakage(clusters.rootOf, pass.byCluster), byGroupOnly: clusterLeakage(clusters.rootOf, pass.byGroup) },
    hardness,
    seconds,
  };
}

/** Searches a seeded sample of active pairs' questions; the rank of each pair's own source is its hardness, stored in `hardness`. */
async function retrievalHardness(stores: Stores, opts: ReportOptions, corpusVersion: number, log: Logger) {
  const sample = await samplePairs(stores, opts.hardnessSample, undefined, opts.seed ?? 1);
  const counts: Record<Hardness, number> = { easy: 0, medium: 0, hard: 0 };
  const byKind: Record<string, Record<Hardness, number>> = {};
  const rows: Record<string, unknown>[] = [];
  const now = new Date().toISOString();
  for (const p of sample) {
    const hits = await searchCorpus(stores, opts.mode === 'fts' ? null : opts.embedder, p.question, { k: HARDNESS_K, mode: opts.mode });
    const i = hits.findIndex((h) => h.sourceId === p.sourceId);
    const rank = i < 0 ? null : i + 1;
    const label = hardnessOf(rank);
    counts[label]++;
    (byKind[p.sourceKind] ??= { easy: 0, medium: 0, hard: 0 })[label]++;
    rows.push({ id: p.id, rank, label, mode: opts.mode, corpus_version: corpusVersion, computed_at: now });
  }
  if (rows.length)
    await (await stores.table('hardness')).mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rowsToArrowTable(rows, SCHEMAS.hardness));
  log.info({ sampled: sample.length, ...counts }, 'retrieval hardness labelled');
  return { sampled: sample.length, mode: opts.mode, k: HARDNESS_K, counts, byKind };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const kv = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k}=${v}`).join(' ') || '-';

export function formatReport(r: QualityReport): string {
  const lines = [
    `corpus version ${r.corpusVersion}: ${r.pairs.active} active pairs, ${r.pairs.retired} retired`,
    `by source kind   ${kv(r.pairs.bySourceKind)}`,
    `by category      ${kv(r.pairs.byCategory)}`,
    `answer chars     ${Object.entries(r.answerChars).map(([k, l]) => `${k} p50=${l.p50} p90=${l.p90} max=${l.max}`).join('; ')}`,
    `near-duplicates  ${r.nearDuplicates.pairs} pairs in ${r.nearDuplicates.clusters} clusters (${pct(r.nearDuplicates.rate)} of active)`,
    'skipped' in r.provenance
      ? `provenance       skipped: ${r.provenance.skipped}`
      : `provenance       ${r.provenance.resolved}/${r.provenance.checked} resolve (${pct(r.provenance.rate)}); ${r.provenance.notCheckable} PR/issue pairs not checkable here`,
    `coverage         ${r.coverage.covered}/${r.coverage.publicDocumentedSymbols} public documented symbols have a pair (${pct(r.coverage.rate)})`,
    `judge            ${r.judge.passed}/${r.judge.judged} model-written pairs passed the judge${r.judge.passRate === null ? '' : ` (${pct(r.judge.passRate)})`}; ${r.judge.modelPairs} written`,
    `rejected         ${kv(r.judge.rejectReasons)}`,
    `splits           ${kv(r.splits.sizes)}; ${r.splits.byCluster.clusters} clusters, across splits: ${r.splits.byCluster.clustersAcrossSplits} (by file alone it would be ${r.splits.byGroupOnly.clustersAcrossSplits})`,
    'skipped' in r.hardness
      ? `hardness         skipped: ${r.hardness.skipped}`
      : `hardness         ${r.hardness.sampled} sampled (${r.hardness.mode}, k=${r.hardness.k}): ${kv(r.hardness.counts)}`,
  ];
  return lines.join('\n');
}
