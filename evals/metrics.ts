// Retrieval metrics over gold locators. A query's ranking is the list, per rank, of the gold
// locators the pair there is the first to cover: a gold counts once, at the first rank that covers it
// (later pairs of the same symbol add nothing), so a question with one gold scores like a hit at its
// first relevant rank. Recall@k = golds covered in the top k / golds; MRR@k = 1 / first covering rank
// (0 past k); nDCG@k = binary gains at the covering ranks over the ideal (every gold at the top).
import { seededRandom } from '../lib/hash.js';

/** For each rank (1-based position i+1), the indices of the gold locators that the pair there overlaps. */
export type Ranking = number[][];

export interface QueryMetrics {
  recall_at_1: number;
  recall_at_5: number;
  recall_at_10: number;
  mrr_at_10: number;
  ndcg_at_10: number;
}
export type MetricName = keyof QueryMetrics;
export const METRICS: MetricName[] = ['recall_at_1', 'recall_at_5', 'recall_at_10', 'mrr_at_10', 'ndcg_at_10'];

/** Ranks (1-based) at which each gold is first covered; golds never covered are absent. */
export function firstCoveringRanks(ranking: Ranking): Map<number, number> {
  const first = new Map<number, number>();
  ranking.forEach((golds, i) => {
    for (const g of golds) if (!first.has(g)) first.set(g, i + 1);
  });
  return first;
}

/** The ranks that bring a gold not covered above them: the ranks with gain 1. */
function gainRanks(ranking: Ranking): number[] {
  const seen = new Set<number>();
  const ranks: number[] = [];
  ranking.forEach((golds, i) => {
    const fresh = golds.filter((g) => !seen.has(g));
    if (!fresh.length) return;
    for (const g of fresh) seen.add(g);
    // A pair covering two new golds at once still holds one rank: one gain, as a ranked list of documents would.
    ranks.push(i + 1);
  });
  return ranks;
}

export function recallAt(ranking: Ranking, golds: number, k: number): number {
  if (!golds) return 0;
  let covered = 0;
  for (const rank of firstCoveringRanks(ranking).values()) if (rank <= k) covered++;
  return covered / golds;
}

export function mrrAt(ranking: Ranking, k: number): number {
  const i = ranking.slice(0, k).findIndex((golds) => golds.length > 0);
  return i < 0 ? 0 : 1 / (i + 1);
}

export function ndcgAt(ranking: Ranking, golds: number, k: number): number {
  if (!golds) return 0;
  let dcg = 0;
  for (const r of gainRanks(ranking)) if (r <= k) dcg += 1 / Math.log2(r + 1);
  let ideal = 0;
  for (let r = 1; r <= Math.min(golds, k); r++) ideal += 1 / Math.log2(r + 1);
  return dcg / ideal;
}

/** All five metrics of one query. A query with no results has an empty ranking and scores 0. */
export function queryMetrics(ranking: Ranking, golds: number): QueryMetrics {
  return {
    recall_at_1: recallAt(ranking, golds, 1),
    recall_at_5: recallAt(ranking, golds, 5),
    recall_at_10: recallAt(ranking, golds, 10),
    mrr_at_10: mrrAt(ranking, 10),
    ndcg_at_10: ndcgAt(ranking, golds, 10),
  };
}

export interface Estimate {
  mean: number;
  /** Percentile bootstrap 95 % interval over queries. */
  low: number;
  high: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * The mean of per-query values with a percentile bootstrap 95 % interval: `resamples` draws of n
 * queries with replacement, seeded, so the same values give the same interval. Written here rather
 * than taken from a library: it is a dozen lines, and no npm package does a seeded percentile bootstrap.
 */
export function bootstrapMean(values: number[], resamples = 1000, seed = 1): Estimate {
  const n = values.length;
  if (!n) return { mean: 0, low: 0, high: 0 };
  const rand = seededRandom(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rand() * n)]!;
    means[b] = s / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))]!;
  return { mean: mean(values), low: at(0.025), high: at(0.975) };
}

export type Summary = Record<MetricName, Estimate>;

/** The means of a summary, without their intervals. */
export const meansOf = (s: Summary): QueryMetrics => Object.fromEntries(METRICS.map((m) => [m, s[m].mean])) as unknown as QueryMetrics;

/** The nearest-rank q-quantile of values (0 for none): latency p50/p95, answer-length p50/p90. */
export function nearestRank(values: number[], q: number): number {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

export function summarize(perQuery: QueryMetrics[], resamples = 1000, seed = 1): Summary {
  return Object.fromEntries(METRICS.map((m) => [m, bootstrapMean(perQuery.map((q) => q[m]), resamples, seed)])) as Summary;
}
