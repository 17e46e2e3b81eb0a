// The retrieval eval: every in-scope question of a set is searched in each mode; its hits are scored
// against its gold locators (evals/relevance.ts) with recall@1/5/10, MRR@10 and nDCG@10, overall and
// per kind, each with a bootstrap 95 % interval. Each (version, set, mode, embedder) result is a row of
// the `evals` table. Out-of-scope questions are searched too (their top score is kept for abstention)
// but never scored.
import { searchCorpus, type SearchMode } from '../datasets/search.js';
import type { Stores } from '../datasets/store.js';
import type { Embedder } from '../lib/models/types.js';
import { meansOf, METRICS, nearestRank, queryMetrics, summarize, type QueryMetrics, type Summary } from './metrics.js';
import { rankingOf } from './relevance.js';
import type { EvalKind, EvalSet } from './set.js';

export const SEARCH_MODES: SearchMode[] = ['vector', 'fts', 'hybrid'];

export interface QueryResult {
  id: string;
  kind: EvalKind;
  /** Rank (1-based) at which each gold was first covered, null when not in the top k. */
  goldRanks: (number | null)[];
  metrics: QueryMetrics;
  ms: number;
}

export interface ModeResult {
  mode: SearchMode;
  embedder: string;
  corpusVersion: number;
  setId: string;
  setHash: string;
  k: number;
  questions: number;
  overall: Summary;
  byKind: Partial<Record<EvalKind, { questions: number } & Summary>>;
  latencyMs: { p50: number; p95: number };
  /** Out of scope: questions searched, and the best score of each (for an abstention threshold later). */
  outOfScope: { questions: number; topScores: number[] };
  queries: QueryResult[];
  seconds: number;
}

export interface RetrievalEvalOptions {
  modes: SearchMode[];
  k: number;
  /** Needed for vector and hybrid modes. */
  embedder: Embedder | null;
  resamples?: number;
  /** Write each mode's result to the evals table (default true). */
  record?: boolean;
}

export async function evalRetrieval(stores: Stores, set: EvalSet, opts: RetrievalEvalOptions): Promise<ModeResult[]> {
  const corpusVersion = await (await stores.table('corpus')).version();
  const inScope = set.items.filter((x) => !x.out_of_scope);
  const outOfScope = set.items.filter((x) => x.out_of_scope);
  const results: ModeResult[] = [];
  for (const mode of opts.modes) {
    const t0 = performance.now();
    const embedder = mode === 'fts' ? null : opts.embedder;
    if (mode !== 'fts' && !embedder) throw new Error(`mode ${mode} needs an embedder`);
    const queries: QueryResult[] = [];
    for (const item of inScope) {
      const t = performance.now();
      const hits = await searchCorpus(stores, embedder, item.question, { k: opts.k, mode });
      const ms = performance.now() - t;
      const ranking = rankingOf(hits, item.gold);
      const goldRanks = item.gold.map((_, g) => {
        const i = ranking.findIndex((r) => r.includes(g));
        return i < 0 ? null : i + 1;
      });
      queries.push({ id: item.id, kind: item.kind, goldRanks, metrics: queryMetrics(ranking, item.gold.length), ms });
    }
    const topScores: number[] = [];
    for (const item of outOfScope) {
      const hits = await searchCorpus(stores, embedder, item.question, { k: 1, mode });
      topScores.push(hits[0]?.score ?? 0);
    }
    const byKind: ModeResult['byKind'] = {};
    for (const kind of [...new Set(queries.map((q) => q.kind))].sort()) {
      const of = queries.filter((q) => q.kind === kind);
      byKind[kind] = { questions: of.length, ...summarize(of.map((q) => q.metrics), opts.resamples) };
    }
    const ms = queries.map((q) => q.ms);
    results.push({
      mode,
      embedder: embedder?.model ?? 'none',
      corpusVersion,
      setId: set.id,
      setHash: set.hash,
      k: opts.k,
      questions: queries.length,
      overall: summarize(queries.map((q) => q.metrics), opts.resamples),
      byKind,
      latencyMs: { p50: nearestRank(ms, 0.5), p95: nearestRank(ms, 0.95) },
      outOfScope: { questions: outOfScope.length, topScores },
      queries,
      seconds: (performance.now() - t0) / 1000,
    });
  }
  if (opts.record ?? true) await recordEvals(stores, results);
  return results;
}

export async function recordEvals(stores: Stores, results: ModeResult[]): Promise<void> {
  const now = new Date().toISOString();
  await stores.add(
    'evals',
    results.map((r) => ({
      corpus_version: r.corpusVersion,
      set_id: r.setId,
      set_hash: r.setHash,
      mode: r.mode,
      embedder: r.embedder,
      k: r.k,
      questions: r.questions,
      ...meansOf(r.overall),
      seconds: r.seconds,
      created_at: now,
      detail: JSON.stringify({ overall: r.overall, byKind: r.byKind, latencyMs: r.latencyMs, outOfScope: r.outOfScope, queries: r.queries.map(({ id, goldRanks }) => ({ id, goldRanks })) }),
    })),
  );
}

export interface StoredEval {
  corpusVersion: number;
  setId: string;
  setHash: string;
  mode: string;
  embedder: string;
  k: number;
  questions: number;
  metrics: Record<(typeof METRICS)[number], number>;
  createdAt: string;
}

/** The stored evals, oldest first, optionally of one set hash and mode. */
export async function storedEvals(stores: Stores, filter: { setHash?: string; mode?: string } = {}): Promise<StoredEval[]> {
  const out: StoredEval[] = [];
  for await (const rows of stores.scan('evals', ['corpus_version', 'set_id', 'set_hash', 'mode', 'embedder', 'k', 'questions', ...METRICS, 'created_at']))
    for (const r of rows) {
      if (filter.setHash && r.set_hash !== filter.setHash) continue;
      if (filter.mode && r.mode !== filter.mode) continue;
      out.push({
        corpusVersion: r.corpus_version as number,
        setId: r.set_id as string,
        setHash: r.set_hash as string,
        mode: r.mode as string,
        embedder: r.embedder as string,
        k: r.k as number,
        questions: r.questions as number,
        metrics: Object.fromEntries(METRICS.map((m) => [m, r[m] as number])) as StoredEval['metrics'],
        createdAt: r.created_at as string,
      });
    }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
}

const cell = (e: { mean: number; low: number; high: number }) => `${e.mean.toFixed(3)} [${e.low.toFixed(2)},${e.high.toFixed(2)}]`;

/** The results as a fixed-width table: one line per mode, then one per kind under it. */
export function formatEvalTable(results: ModeResult[]): string {
  const head = ['mode', 'kind', 'n', 'recall@1', 'recall@5', 'recall@10', 'MRR@10', 'nDCG@10'];
  const rows: string[][] = [];
  for (const r of results) {
    rows.push([r.mode, 'all', String(r.questions), ...METRICS.map((m) => cell(r.overall[m]))]);
    for (const [kind, s] of Object.entries(r.byKind)) rows.push(['', kind, String(s!.questions), ...METRICS.map((m) => cell(s![m]))]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const first = results[0];
  const footer = results.map((r) => `${r.mode}: ${r.seconds.toFixed(1)} s, search p50 ${r.latencyMs.p50.toFixed(0)} ms, p95 ${r.latencyMs.p95.toFixed(0)} ms`);
  return [
    first ? `eval set ${first.setId} (${first.setHash.slice(0, 12)}) on corpus version ${first.corpusVersion}, embedder ${results.find((r) => r.embedder !== 'none')?.embedder ?? 'none'}, k=${first.k}; [95 % bootstrap interval]` : 'no results',
    line(head),
    ...rows.map(line),
    ...footer,
  ].join('\n');
}
