// Trending questions: the recent window's questions (and the previous window's) embedded with the
// service's embedder — each distinct question once, cached — and clustered greedily by cosine
// similarity, most asked first, so a cluster's seed is its most asked question. A cluster's key is a
// hash of its seed, stable across requests while the seed stays the most asked.
import { contentId } from '../lib/hash.js';
import type { Embedder } from '../lib/models/types.js';

/** Cosine similarity at which a question joins a cluster. */
export const CLUSTER_THRESHOLD = 0.8;
/** At most this many distinct questions are embedded and clustered per request (the most asked). */
export const MAX_DISTINCT = 1500;
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
  const n = Math.hypot(...v) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}

export interface TopicCluster {
  key: string;
  seed: string;
  /** Distinct normalised questions in it. */
  texts: Set<string>;
}

/** Greedy clustering of distinct texts (given most frequent first) into clusters by cosine similarity to each cluster's mean. */
export function clusterTexts(texts: string[], vec: (t: string) => Float32Array, threshold = CLUSTER_THRESHOLD): { clusters: TopicCluster[]; of: Map<string, number> } {
  const clusters: TopicCluster[] = [];
  const sums: Float32Array[] = [];
  const of = new Map<string, number>();
  for (const t of texts) {
    const v = vec(t);
    let best = -1;
    let bestSim = -Infinity;
    for (let c = 0; c < sums.length; c++) {
      const s = sums[c]!;
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < v.length; i++) {
        dot += v[i]! * s[i]!;
        norm += s[i]! * s[i]!;
      }
      const sim = dot / (Math.sqrt(norm) || 1);
      if (sim > bestSim) {
        bestSim = sim;
        best = c;
      }
    }
    if (best >= 0 && (bestSim >= threshold || clusters.length >= MAX_CLUSTERS)) {
      const s = sums[best]!;
      for (let i = 0; i < v.length; i++) s[i]! += v[i]!;
      clusters[best]!.texts.add(t);
      of.set(t, best);
    } else {
      sums.push(Float32Array.from(v));
      clusters.push({ key: `t_${contentId('topic', t).slice(0, 12)}`, seed: t, texts: new Set([t]) });
      of.set(t, clusters.length - 1);
    }
  }
  return { clusters, of };
}
