// Duplicates judged on question + answer together: exact copies are dropped, near-duplicates
// (MinHash signatures + LSH banding) are clustered and recorded, never dropped.
//
// MinHash is written here rather than taken from npm on purpose: the `minhash` package computes
// (a·h + b) mod p in float64 past 2^53 and underestimated a true Jaccard of 0.86 as 0.70 on our
// pairs; bloom-filters' MinHash draws unseeded random permutations, so signatures made on two
// worker threads cannot be compared. This one uses exact 32-bit integer arithmetic.
import { contentId } from '../lib/hash.js';
import { normalizeForMatch } from './checks.js';

export const NUM_PERM = 64;
export const BAND_SIZE = 4;
export const BANDS = NUM_PERM / BAND_SIZE;
const MAX_BUCKET = 8;
// Signature comparisons per pair at most: templated pairs share many buckets without being alike.
const MAX_COMPARISONS = 24;

/** The key exact duplicates share: normalised question and answer. */
export const qaKey = (question: string, answer: string) => qaKeyNormalized(normalizeForMatch(question), normalizeForMatch(answer));

// FNV-1a with a seed over a string's UTF-16 code units.
function fnv1a(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// murmur3's finaliser: spreads bits so h1 + i·h2 behaves as an independent hash per i.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MinHash signature of the word 3-shingles of normalised question + answer, with NUM_PERM hash
 * functions made by double hashing. A shingle's hash combines its words' hashes, so no shingle
 * string is ever built.
 */
export function qaSignatureNormalized(normalizedText: string): Uint32Array {
  const w1: number[] = [];
  const w2: number[] = [];
  for (const w of normalizedText.split(' ')) {
    if (!w) continue;
    w1.push(fnv1a(w, 0));
    w2.push(fnv1a(w, 0x9e3779b9));
  }
  const hv = new Uint32Array(NUM_PERM).fill(0xffffffff);
  const n = Math.max(1, w1.length - 2);
  for (let s = 0; s < n; s++) {
    let h1 = 0x2545f491;
    let h2 = 0x68e31da4;
    for (let k = s; k < s + 3 && k < w1.length; k++) {
      h1 = fmix32((Math.imul(h1, 31) ^ w1[k]!) >>> 0);
      h2 = fmix32((Math.imul(h2, 37) ^ w2[k]!) >>> 0);
    }
    h2 |= 1;
    for (let i = 0; i < NUM_PERM; i++) {
      const v = fmix32((h1 + Math.imul(i, h2)) >>> 0);
      if (v < hv[i]!) hv[i] = v;
    }
  }
  return hv;
}

/**
 * The text a pair's near-duplicate signature is taken over, from normalised question and answer:
 * the question's code spans (what it is about) and the answer. Questions are worded several ways on
 * purpose (generators/pair.ts phrasing), so the wording around the names must not hide a duplicate.
 */
export function signatureText(question: string, answer: string): string {
  const names = [...question.matchAll(/`([^`]+)`/g)].map((m) => m[1]).join(' ');
  return `${names || question} ${answer}`;
}

export const qaSignature = (question: string, answer: string) => qaSignatureNormalized(signatureText(normalizeForMatch(question), normalizeForMatch(answer)));

/** The key exact duplicates share, from already-normalised question and answer. */
export const qaKeyNormalized = (question: string, answer: string) => contentId(question, answer);

/** What the duplicate checks need of a pair: its exact key, MinHash signature and LSH band keys. */
export interface DedupKeys {
  qaKey: string;
  signature: ArrayLike<number>;
  bands: ArrayLike<number>;
}

/**
 * The one place a pair's duplicate keys are computed, on whichever thread checked the pair (a code
 * worker, or the main thread for the other sources); the sink takes them as they are.
 */
export function dedupKeys(question: string, answer: string): DedupKeys {
  const q = normalizeForMatch(question);
  const a = normalizeForMatch(answer);
  const signature = qaSignatureNormalized(signatureText(q, a));
  return { qaKey: qaKeyNormalized(q, a), signature, bands: bandKeys(signature) };
}

/**
 * LSH band keys of a signature: one number per band of BAND_SIZE values, the band index mixed in.
 * Computed where the signature is, so the index only compares numbers; a rare collision between
 * bands only adds a candidate, which the signature comparison then rejects.
 */
export function bandKeys(signature: ArrayLike<number>): number[] {
  const keys: number[] = [];
  for (let b = 0; b * BAND_SIZE < signature.length; b++) {
    let h = Math.imul(0x811c9dc5 ^ b, 0x01000193);
    for (let i = b * BAND_SIZE; i < (b + 1) * BAND_SIZE && i < signature.length; i++) h = Math.imul(h ^ signature[i]!, 0x01000193);
    // 30 bits: a small integer V8 keeps unboxed, so a million bucket keys cost no heap numbers.
    keys.push((h ^ (h >>> 15)) & 0x3fffffff);
  }
  return keys;
}

export function estimatedJaccard(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

export type DedupOutcome = { kind: 'duplicate'; of: string } | { kind: 'unique'; nearDupCluster: string | null };

/** Exact and near-duplicate tracking across a run (and the stores' existing keys). */
export class DuplicateIndex {
  private exact = new Map<string, string>();
  // Internal index per pair: signatures packed in one array, clusters and visit stamps by index.
  private ids: string[] = [];
  private sigs = new Uint32Array(NUM_PERM * 1024);
  private cluster = new Int32Array(1024);
  private stamp = new Int32Array(1024);
  // Most buckets hold one pair: stored as a bare index, and as an array only from the second on.
  private buckets = new Map<number, number | number[]>();
  private readonly maxMismatches: number;
  nearDuplicates = 0;

  constructor(threshold = 0.8) {
    this.maxMismatches = Math.floor((1 - threshold) * NUM_PERM + 1e-9);
  }

  /** Registers an existing pair's key (from the stores) so a copy of it counts as a duplicate. */
  rememberExact(key: string, id: string): void {
    if (!this.exact.has(key)) this.exact.set(key, id);
  }

  /** Forgets a stored pair about to be re-judged (its evidence is read again), unless another id holds the key. */
  forgetExact(key: string, id: string): void {
    if (this.exact.get(key) === id) this.exact.delete(key);
  }

  private grow(n: number): void {
    if (n <= this.cluster.length) return;
    const size = Math.max(n, this.cluster.length * 2);
    const sigs = new Uint32Array(size * NUM_PERM);
    sigs.set(this.sigs);
    this.sigs = sigs;
    const cluster = new Int32Array(size);
    cluster.set(this.cluster);
    this.cluster = cluster;
    const stamp = new Int32Array(size);
    stamp.set(this.stamp);
    this.stamp = stamp;
  }

  /** Jaccard estimate ≥ threshold, stopping as soon as too many positions differ. */
  private similar(a: number, b: number): boolean {
    const s = this.sigs;
    let mismatches = 0;
    for (let i = 0, pa = a * NUM_PERM, pb = b * NUM_PERM; i < NUM_PERM; i++) {
      if (s[pa + i] !== s[pb + i] && ++mismatches > this.maxMismatches) return false;
    }
    return true;
  }

  check(id: string, key: string, signature: ArrayLike<number>, bands: ArrayLike<number> = bandKeys(signature)): DedupOutcome {
    const prior = this.exact.get(key);
    if (prior !== undefined && prior !== id) return { kind: 'duplicate', of: prior };
    this.exact.set(key, id);
    const idx = this.ids.length;
    this.ids.push(id);
    this.grow(idx + 1);
    this.sigs.set(signature as ArrayLike<number>, idx * NUM_PERM);
    this.cluster[idx] = -1;
    // Candidates are the members of every bucket this signature falls in, each compared once;
    // buckets are capped, so templated pairs that crowd one keep the cost flat.
    let found = -1;
    let compared = 0;
    for (let b = 0; b < bands.length; b++) {
      const band = bands[b]!;
      const entry = this.buckets.get(band);
      if (entry === undefined) {
        this.buckets.set(band, idx);
        continue;
      }
      const members = typeof entry === 'number' ? [entry] : entry;
      if (typeof entry === 'number') this.buckets.set(band, members);
      if (found < 0) {
        for (const m of members) {
          if (this.stamp[m] === idx + 1 || compared >= MAX_COMPARISONS) continue;
          this.stamp[m] = idx + 1;
          compared++;
          if (this.similar(m, idx)) {
            found = this.cluster[m]! >= 0 ? this.cluster[m]! : m;
            break;
          }
        }
      }
      if (members.length < MAX_BUCKET) members.push(idx);
    }
    if (found < 0) return { kind: 'unique', nearDupCluster: null };
    this.cluster[idx] = found;
    this.nearDuplicates++;
    return { kind: 'unique', nearDupCluster: this.ids[found]! };
  }
}
