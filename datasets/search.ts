// Search over the active corpus: by vector (the embedder's view of the query), by full text (BM25
// over question + answer), or hybrid — both, fused with reciprocal-rank fusion.
import * as lancedb from '@lancedb/lancedb';
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

let rrf: Promise<lancedb.rerankers.RRFReranker> | null = null;
/** One reranker for the process: creating one per query cost a native call each time. */
const reranker = () => (rrf ??= lancedb.rerankers.RRFReranker.create());

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
  const vector = wantVector ? (await embedder!.embed([query], { kind: 'query' }))[0]! : null;
  const where = filterPredicate(opts.filters);
  const columns = opts.similarity && vector ? [...COLUMNS, 'vector'] : COLUMNS;
  let rows: Record<string, unknown>[];
  if (opts.mode === 'fts') {
    rows = await corpus.query().fullTextSearch(query).where(where).select([...columns, '_score']).limit(opts.k).toArray();
  } else if (opts.mode === 'vector') {
    rows = await corpus.query().nearestTo(vector!).distanceType('cosine').nprobes(NPROBES).where(where).select([...columns, '_distance']).limit(opts.k).toArray();
  } else {
    rows = await corpus
      .query()
      .nearestTo(vector!)
      .distanceType('cosine')
      .nprobes(NPROBES)
      .fullTextSearch(query)
      .where(where)
      .select(columns)
      .rerank(await reranker())
      .limit(Math.max(opts.k, HYBRID_POOL))
      .toArray();
    rows = rows.slice(0, opts.k);
  }
  return rows.map((r, i) => {
    // PR and issue numbers travel in the pair's JSON record.
    const extra = JSON.parse(r.record as string) as { pr?: number | null; issue?: number | null; evidence?: string[] };
    const v = r.vector as ArrayLike<number> | null | undefined;
    return {
      rank: i + 1,
      score: Number((opts.mode === 'hybrid' ? r._relevance_score : opts.mode === 'vector' ? r._distance : r._score) ?? 0),
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
