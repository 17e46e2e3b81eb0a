// Trending questions: the recent window's questions (and the previous window's) embedded with the
// service's embedder — each distinct question once, cached — and clustered greedily by cosine
// similarity, most asked first, so a cluster's seed is its most asked question. A cluster's key is a
// hash of its seed, stable across requests while the seed stays the most asked.
import { contentId } from '../lib/hash.js';
import type { Embedder } from '../lib/models/types.js';

/** Cosine similarity at which a question joins a cluster. */
export const CLUSTER_THRESHOLD = 0.8;
/**
 * At most this many new distinct questions are embedded and clustered while a request waits (the most
 * asked first); the background warm-up embeds the rest, most asked first, BACKLOG_BATCH at a time.
 */
export const REQUEST_EMBED = 32;
export const BACKLOG_BATCH = 64;
export const MAX_CLUSTERS = 64;
const LEXICAL_DIMS = 256;

export const normalizeQuestion = (q: string) => q.toLowerCase().replace(/\s+/g, ' ').trim();

/** Vectors of question texts, cached by text (a repeated question is embedded once, whatever its query id). */
export class QuestionVectors {
  private cache = new Map<string, Float32Array>();
  private pending: Promise<void> = Promise.resolve();
  constructor(private readonly embedder: Embedder | null) {}

  get model(): string {
    return this.embedder ? this.embedder.model : 'lexical';
  }

  has(text: string): boolean {
    return this.cache.has(text);
  }

  get(text: string): Float32Array | undefined {
    return this.cache.get(text);
  }

  /** Embeds the texts not cached yet (one embedding at a time across callers). */
  async ensure(texts: string[]): Promise<void> {
    const run = this.pending.then(async () => {
      const missing = [...new Set(texts.filter((t) => !this.cache.has(t)))];
      for (let i = 0; i < missing.length; i += 64) {
        const part = missing.slice(i, i + 64);
        const vs = this.embedder ? await this.embedder.embed(part, { kind: 'query' }) : part.map(lexicalVector);
        part.forEach((t, j) => this.cache.set(t, vs[j]!));
      }
    });
    this.pending = run.catch(() => undefined);
    await run;
  }
}

/** A hashed bag of words, L2-normalised: the fallback when the service has no embedder. */
export function lexicalVector(text: string): Float32Array {
  const v = new Float32Array(LEXICAL_DIMS);
  for (const w of text.toLowerCase().match(/[a-z0-9_]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % LEXICAL_DIMS]! += 1;
  }
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

export interface TopicCluster {
  key: string;
  /** The question it was started from (its first, most asked question). */
  seed: string;
}

/**
 * Topics of the query log, kept across requests and grown as questions arrive: a question (by text id)
 * joins the cluster whose mean vector is nearest when the cosine similarity is at least the threshold,
 * else starts a cluster (once MAX_CLUSTERS exist, it joins the nearest). Questions are given most asked
 * first, so a cluster's seed is its most asked question when it was made, and keys stay stable.
 */
export class TopicModel {
  readonly clusters: TopicCluster[] = [];
  private sums: Float32Array[] = [];
  private norms: number[] = [];
  /** Cluster index by text id; -1: not clustered yet. */
  readonly of: number[] = [];
  /** Texts clustered so far (answers that counted unclustered texts are recomputed when it grows). */
  assigned = 0;

  constructor(readonly threshold = CLUSTER_THRESHOLD) {}

  clusterOf(textId: number): number {
    return this.of[textId] ?? -1;
  }

  assign(textId: number, text: string, v: Float32Array): number {
    let best = -1;
    let bestSim = -Infinity;
    for (let c = 0; c < this.sums.length; c++) {
      const s = this.sums[c]!;
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i]! * s[i]!;
      const sim = dot / (this.norms[c]! || 1);
      if (sim > bestSim) {
        bestSim = sim;
        best = c;
      }
    }
    if (best < 0 || (bestSim < this.threshold && this.clusters.length < MAX_CLUSTERS)) {
      this.sums.push(Float32Array.from(v));
      let n = 0;
      for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
      this.norms.push(Math.sqrt(n));
      this.clusters.push({ key: `t_${contentId('topic', text).slice(0, 12)}`, seed: text });
      best = this.clusters.length - 1;
    } else {
      const s = this.sums[best]!;
      let n = 0;
      for (let i = 0; i < v.length; i++) {
        s[i]! += v[i]!;
        n += s[i]! * s[i]!;
      }
      this.norms[best] = Math.sqrt(n);
    }
    while (this.of.length <= textId) this.of.push(-1);
    this.of[textId] = best;
    this.assigned++;
    return best;
  }
}
