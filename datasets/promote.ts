// Promotion: validated staging pairs → corpus by merge-insert on id, each with its embedding
// (by default question + answer: models.embedder.text; computed here in batches); then the full-text and vector
// indexes are rebuilt and the resulting corpus version recorded. Running it again promotes nothing new.
// An accepted feedback correction that reaches the corpus retires the pairs its flagged answer cited.
import { availableParallelism } from 'node:os';
import * as lancedb from '@lancedb/lancedb';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { Config } from '../lib/config.js';
import { openEmbedder } from '../lib/models/index.js';
import { startProgress, type Progress } from '../lib/progress.js';
import { DEFAULT_EMBEDDING_TEXT, type EmbeddingTextVariant } from '../lib/models/config.js';
import type { Embedder } from '../lib/models/types.js';
import { markCorrectionsPromoted, retireDisputed } from './corrections.js';
import { columnsOf, sqlString, type Stores } from './store.js';
import { recordPromotion } from './versions.js';

export interface PromotionResult {
  promoted: number;
  inserted: number;
  updated: number;
  version: number;
  active: number;
  /** Pairs embedded, the seconds that took (part of `seconds`), and the rate. */
  embedded: number;
  embedSeconds: number;
  embedPairsPerSecond: number;
  /** The vector index: none while the corpus is small enough to search exhaustively. */
  vectorIndex: 'ivf_flat' | 'none';
  /** Accepted feedback corrections this promotion put in the corpus, and the pairs they retired as disputed. */
  corrections: number;
  disputedRetired: number;
  seconds: number;
}

export type PairText = { question: string; answer: string; context: string };

/**
 * What a pair's vector stands for, what a user's query is matched against (`models.embedder.text`): the
 * question alone, question + answer, or those and the first CONTEXT_EXCERPT characters of the context.
 */
export function embeddingTextFor(variant: EmbeddingTextVariant = DEFAULT_EMBEDDING_TEXT): (row: PairText) => string {
  switch (variant) {
    case 'question':
      return (row) => row.question;
    case 'question_answer':
      return (row) => `${row.question}\n${row.answer}`;
    case 'question_answer_context':
      return (row) => `${row.question}\n${row.answer}\n${row.context.slice(0, CONTEXT_EXCERPT)}`;
  }
}
/** The default text (models.embedder.text). */
export const embeddingText = embeddingTextFor(DEFAULT_EMBEDDING_TEXT);
// Embedding time grows with tokens (≈ 35 texts/s at 128 tokens on two cores). The excerpt added
// nothing measurable on the peft eval set and cost 40 % more embedding time (README: retrieval eval).
export const CONTEXT_EXCERPT = 150;
/** Below this many active pairs an exhaustive scan is fast (≈ 10 ms); above it an IVF_FLAT index is built. */
export const VECTOR_INDEX_MIN_ROWS = 10_000;

const PAIR_COLUMNS = columnsOf('staging', ['status']);
const CHUNK = 5000;

/** How far the embedding of a promotion is: pairs embedded of all to embed, and the rate so far. */
export type EmbedProgress = (p: { embedded: number; total: number; pairsPerSecond: number; secondsLeft: number }) => void;

export async function promoteStaged(
  stores: Stores,
  log: Logger,
  opts: { runId?: string; embedder: Embedder | null; text?: EmbeddingTextVariant; onEmbedProgress?: EmbedProgress },
): Promise<PromotionResult> {
  const t0 = performance.now();
  const runId = opts.runId ?? 'promote';
  const { embedder } = opts;
  const textOf = embeddingTextFor(opts.text);
  const corpus = await stores.table('corpus');
  const width = await stores.corpusVectorDimensions();
  if (embedder && width !== embedder.dimensions)
    throw new UserError(
      `the corpus holds ${width}-d vectors but ${embedder.model} gives ${embedder.dimensions}-d: set models.embedder.dimensions to match, or promote into a new --data-dir`,
    );
  const text = opts.text ?? DEFAULT_EMBEDDING_TEXT;
  const made = await stores.corpusVectors();
  if (embedder && made && (made.model !== embedder.model || made.text !== text))
    throw new UserError(
      `the corpus's vectors were made by ${made.model} from ${made.text}, not ${embedder.model} from ${text}: set models.embedder.model / .text back, or promote into a new --data-dir`,
    );
  let embedded = 0;
  let embedSeconds = 0;
  const staging = await stores.table('staging');
  const now = new Date().toISOString();
  let promoted = 0;
  let inserted = 0;
  let updated = 0;
  let chunk: Record<string, unknown>[] = [];
  // Embedding is most of a promotion's time: its progress, rate and time left, as the pairs are embedded.
  let progress: Progress | null = null;
  const toEmbed = embedder ? await staging.countRows("status = 'validated'") : 0;
  if (toEmbed) progress = startProgress('embedding', toEmbed, log, 'pairs');
  let chunkStart = 0;
  const embedProgress = (n: number) => {
    embedded += n;
    const rate = embedded / Math.max(embedSeconds + (performance.now() - chunkStart) / 1000, 1e-3);
    const left = Math.max(0, toEmbed - embedded) / rate;
    progress?.tick(n, `${rate.toFixed(1)} pairs/s, ${left < 90 ? `${Math.round(left)} s` : `${Math.round(left / 60)} min`} left`);
    opts.onEmbedProgress?.({ embedded, total: toEmbed, pairsPerSecond: rate, secondsLeft: left });
  };
  const write = async () => {
    if (!chunk.length) return;
    if (embedder) {
      chunkStart = performance.now();
      const before = embedded;
      const vectors = await embedder.embed(
        chunk.map((r) => textOf(r as PairText)),
        { onProgress: embedProgress },
      );
      chunk.forEach((r, i) => (r.vector = Array.from(vectors[i]!)));
      // An embedder that reports no progress (or not all of it) is counted here.
      if (embedded - before < chunk.length) embedProgress(chunk.length - (embedded - before));
      embedSeconds += (performance.now() - chunkStart) / 1000;
    }
    // A retired corpus row stays retired: only active rows are refreshed.
    const r = await corpus
      .mergeInsert('id')
      .whenMatchedUpdateAll({ where: "target.status = 'active'" })
      .whenNotMatchedInsertAll()
      .execute(chunk);
    inserted += r.numInsertedRows;
    updated += r.numUpdatedRows;
    // Exactly the rows merged are marked, and only if still validated: a pair staged or retired
    // meanwhile keeps its status.
    const ids = chunk.map((row) => sqlString(row.id as string)).join(',');
    await staging.update({ where: `status = 'validated' AND id IN (${ids})`, values: { status: 'promoted' } });
    chunk = [];
  };
  for await (const rows of stores.scan('staging', PAIR_COLUMNS, "status = 'validated'")) {
    for (const row of rows) {
      chunk.push({
        ...row,
        status: 'active',
        search_text: `${row.question as string}\n${row.answer as string}`,
        promoted_at: now,
        retired_reason: null,
        retired_at: null,
        vector: null,
      });
      promoted++;
      if (chunk.length >= CHUNK) await write();
    }
  }
  await write().finally(() => progress?.stop());
  if (embedder && embedded && !made) await stores.setCorpusVectors({ model: embedder.model, text });
  // Before the version is read: it holds the corrections and the retirement of what they dispute.
  const disputed = await retireDisputed(stores, now);
  let vectorIndex: PromotionResult['vectorIndex'] = 'none';
  const active = await corpus.countRows("status = 'active'");
  if (promoted) {
    await corpus.createIndex('search_text', { config: lancedb.Index.fts(), replace: true });
    // Every search filters on status: without this index that filter read the whole column per query
    // (about 10 ms per search leg on 100k pairs; 40 ms to build).
    await corpus.createIndex('status', { config: lancedb.Index.bitmap(), replace: true });
    // IVF_FLAT: exact distances inside the probed partitions, and seconds to build on two cores (PQ takes minutes).
    if (embedder && active >= VECTOR_INDEX_MIN_ROWS) {
      await corpus.createIndex('vector', { config: lancedb.Index.ivfFlat({ numPartitions: Math.round(Math.sqrt(active)), distanceType: 'cosine' }), replace: true });
      vectorIndex = 'ivf_flat';
    }
  } else if ((await corpus.listIndices()).some((i) => i.columns.includes('vector'))) vectorIndex = 'ivf_flat';
  const version = await corpus.version();
  if (promoted || disputed.retired) await recordPromotion(stores, { version, at: now, inserted, updated, active, runId });
  await markCorrectionsPromoted(stores, disputed.feedbackIds, version);
  const result = {
    promoted,
    inserted,
    updated,
    version,
    active,
    embedded,
    embedSeconds,
    embedPairsPerSecond: embedSeconds > 0 ? Math.round((embedded / embedSeconds) * 10) / 10 : 0,
    vectorIndex,
    corrections: disputed.feedbackIds.length,
    disputedRetired: disputed.retired,
    seconds: (performance.now() - t0) / 1000,
  };
  log.info(
    result,
    promoted
      ? `promoted ${promoted} pairs: corpus version ${version}${embedded ? `; embedded ${embedded} in ${embedSeconds.toFixed(1)} s (${result.embedPairsPerSecond} pairs/s)` : ''}`
      : 'nothing to promote',
  );
  return result;
}

/**
 * Promotion with the configured embedder (local MiniLM by default), opened for this promotion only: a
 * local model in one worker thread per core (README: Benchmarks, promotion).
 */
export async function promoteWithEmbeddings(cfg: Config, stores: Stores, log: Logger, runId?: string, opts: { onEmbedProgress?: EmbedProgress } = {}): Promise<PromotionResult> {
  const embedder = await openEmbedder(cfg, { workers: availableParallelism() });
  try {
    return await promoteStaged(stores, log, { runId, embedder, text: cfg.models.embedder.text, onEmbedProgress: opts.onEmbedProgress });
  } finally {
    await embedder.close();
  }
}
