// Search over the active corpus: by vector (the embedder's view of the query), by full text (BM25
// over question + answer), or hybrid — both, fused with reciprocal-rank fusion.
import { UserError } from '../lib/errors.js';
import type { Embedder } from '../lib/models/types.js';
import { sqlString, type Stores } from './store.js';

export const SEARCH_MODE_NAMES = ['hybrid', 'vector', 'fts'] as const;
export type SearchMode = (typeof SEARCH_MODE_NAMES)[number];

export interface SearchHit {
  rank: number;
  /** Cosine distance (vector), BM25 score (fts), or fused relevance (hybrid). */
  score: number;
  id: string;
  /** The source record the pair was drawn from. */
  sourceId: string;
  question: string;
  answer: string;
  category: string;
  sourceKind: string;
  repo: string;
  path: string | null;
  startLine: number | null;
  endLine: number | null;
  url: string | null;
  commit: string;
  /** Where the evidence was first seen: for a commit pair, its commit. */
  commitFirstSeen: string;
  /** Symbol qualname for code; heading path ("A > B") for docs. */
  qualname: string | null;
  prNumber: number | null;
  issueNumber: number | null;
  /** Cosine similarity of the query and the pair's vector, when asked for (`similarity`): what abstention compares. */
  similarity: number | null;
  /** The text the pair was drawn from, and the parts of it the answer asserts (from the pair's record). */
  context: string;
  evidence: string[];
}

export interface SearchFilters {
  sourceKind?: string;
  /** Pairs whose path starts with this. */
  pathPrefix?: string;
}

export interface SearchOptions {
  k: number;
  mode: SearchMode;
  filters?: SearchFilters;
  /** Also return each hit's cosine similarity to the query (the query is embedded in fts mode too). */
  similarity?: boolean;
  /** Filled with where the time went (milliseconds), for benchmarks. */
  timings?: SearchTimings;
}

export interface SearchTimings {
  embed: number;
  /** The ranking legs (both, concurrently, for hybrid) and the fusion. */
  rank: number;
  /** Reading the k winners' columns. */
  take: number;
}

const COLUMNS = ['id', 'source_id', 'question', 'answer', 'context', 'category', 'source_kind', 'repo', 'path', 'start_line', 'end_line', 'url', 'commit_last_verified', 'commit_first_seen', 'qualname', 'record'];
const ACTIVE = "status = 'active'";

/** The active pairs the filters allow, as a LanceDB (DataFusion SQL) predicate. */
export function filterPredicate(f: SearchFilters = {}): string {
  const parts = [ACTIVE];
  if (f.sourceKind) parts.push(`source_kind = ${sqlString(f.sourceKind)}`);
  if (f.pathPrefix) parts.push(`starts_with(path, ${sqlString(f.pathPrefix)})`);
  return parts.join(' AND ');
}

interface Ranked {
  rowId: bigint;
  /** Cosine distance (vector), BM25 (fts) or the fused score (hybrid). */
  score: number;
}

/** RRF's constant, LanceDB's RRFReranker default: a hit at 0-based rank r adds 1 / (r + RRF_K). */
const RRF_K = 60;

/**
 * Reciprocal-rank fusion of ranked lists of row ids, as LanceDB's RRFReranker scores it; ties keep
 * the order of first appearance, the text list first (LanceDB breaks ties arbitrarily; with text first
 * the peft eval figures on the 100k-pair corpus came out the same as through its hybrid query). Written here rather than run through LanceDB's
 * hybrid query so that each leg reads ids only.
 */
export function reciprocalRankFusion(lists: bigint[][]): Ranked[] {
  const score = new Map<bigint, number>();
  for (const list of lists) list.forEach((id, rank) => score.set(id, (score.get(id) ?? 0) + 1 / (rank + RRF_K)));
  return [...score].map(([rowId, s]) => ({ rowId, score: s })).sort((a, b) => b.score - a.score);
}

const dot = (a: Float32Array, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * (b[i] ?? 0);
  return s;
};
/**
 * IVF partitions probed (of √active, 149 on peft's 22,194 pairs). LanceDB's default 20 lost recall:
 * on the peft eval set vector recall@10 was 0.533 at 20 and 0.571 at 60, the same as exhaustive search.
 */
const NPROBES = 60;
/** Hybrid fuses the top HYBRID_POOL of each leg, then keeps k: fusing only each leg's top 10 ranked fewer gold pairs (peft recall@10 0.674 → 0.692). */
const HYBRID_POOL = 50;

export async function searchCorpus(stores: Stores, embedder: Embedder | null, query: string, opts: SearchOptions): Promise<SearchHit[]> {
  const corpus = await stores.table('corpus');
  const wantVector = opts.mode !== 'fts' || (opts.similarity === true && embedder !== null);
  const made = wantVector ? await stores.corpusVectors() : null;
  if (made && made.model !== embedder!.model)
    throw new UserError(`the corpus's vectors were made by ${made.model}, not ${embedder!.model}: search with models.embedder.model set to it, or use --mode fts`);
  let t = performance.now();
  const lap = (part: keyof SearchTimings) => {
    const now = performance.now();
    if (opts.timings) opts.timings[part] = now - t;
    t = now;
  };
  const vector = wantVector ? (await embedder!.embed([query], { kind: 'query' }))[0]! : null;
  lap('embed');
  const where = filterPredicate(opts.filters);
  // Ranking reads only ids and scores; the k winners' columns are then taken by row id in one read.
  // (Fetching every column inside the legs, and LanceDB's own hybrid query, read the heavy columns
  // of every pooled row: on 100k pairs that tripled hybrid latency.)
  const vectorLeg = (limit: number) =>
    corpus.query().nearestTo(vector!).distanceType('cosine').nprobes(NPROBES).where(where).select(['id', '_distance']).withRowId().limit(limit).toArray();
  const ftsLeg = (limit: number) => corpus.query().fullTextSearch(query).where(where).select(['id', '_score']).withRowId().limit(limit).toArray();
  let ranked: Ranked[];
  if (opts.mode === 'fts') ranked = (await ftsLeg(opts.k)).map((r) => ({ rowId: r._rowid as bigint, score: Number(r._score) }));
  else if (opts.mode === 'vector') ranked = (await vectorLeg(opts.k)).map((r) => ({ rowId: r._rowid as bigint, score: Number(r._distance) }));
  else {
    const pool = Math.max(opts.k, HYBRID_POOL);
    const [byVector, byText] = await Promise.all([vectorLeg(pool), ftsLeg(pool)]);
    ranked = reciprocalRankFusion([byText.map((r) => r._rowid as bigint), byVector.map((r) => r._rowid as bigint)]).slice(0, opts.k);
  }
  lap('rank');
  if (!ranked.length) return [];
  const columns = opts.similarity && vector ? [...COLUMNS, 'vector'] : COLUMNS;
  const taken = await corpus.takeRowIds(ranked.map((r) => r.rowId)).select(columns).withRowId().toArray();
  lap('take');
  const byRowId = new Map(taken.map((r) => [BigInt(r._rowid as bigint), r as Record<string, unknown>]));
  const rows: (Record<string, unknown> & { _score_of_mode: number })[] = ranked.flatMap((r) => {
    const row = byRowId.get(BigInt(r.rowId));
    return row ? [{ ...row, _score_of_mode: r.score }] : [];
  });
  return rows.map((r, i) => {
    // PR and issue numbers travel in the pair's JSON record.
    const extra = JSON.parse(r.record as string) as { pr?: number | null; issue?: number | null; evidence?: string[] };
    const v = r.vector as ArrayLike<number> | null | undefined;
    return {
      rank: i + 1,
      score: r._score_of_mode,
      id: r.id as string,
      sourceId: r.source_id as string,
      question: r.question as string,
      answer: r.answer as string,
      category: r.category as string,
      sourceKind: r.source_kind as string,
      repo: r.repo as string,
      path: (r.path ?? null) as string | null,
      startLine: (r.start_line ?? null) as number | null,
      endLine: (r.end_line ?? null) as number | null,
      url: (r.url ?? null) as string | null,
      commit: r.commit_last_verified as string,
      commitFirstSeen: r.commit_first_seen as string,
      qualname: (r.qualname ?? null) as string | null,
      prNumber: extra.pr ?? null,
      issueNumber: extra.issue ?? null,
      similarity: vector && v ? dot(vector, (v as { toArray?: () => ArrayLike<number> }).toArray?.() ?? v) : null,
      context: (r.context ?? '') as string,
      evidence: extra.evidence ?? [],
    };
  });
}
