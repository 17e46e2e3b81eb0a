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
const MAX_COMPARED_PER_BUCKET = 32;

/** The key exact duplicates share: normalised question and answer. */
export const qaKey = (question: string, answer: string) => contentId(normalizeForMatch(question), normalizeForMatch(answer));

function shingles(text: string, n = 3): Set<string> {
  const words = normalizeForMatch(text).split(' ').filter(Boolean);
  const out = new Set<string>();
  if (words.length < n) out.add(words.join(' '));
  for (let i = 0; i + n <= words.length; i++) out.add(words.slice(i, i + n).join(' '));
  return out;
}

/** MinHash signature of question + answer word 3-shingles. */
// FNV-1a with a seed: two independent 32-bit hashes of a shingle.
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

/** MinHash signature of question + answer word 3-shingles: NUM_PERM hash functions by double hashing. */
export function qaSignature(question: string, answer: string): number[] {
  const hv = new Array<number>(NUM_PERM).fill(0xffffffff);
  for (const sh of shingles(`${question} ${answer}`)) {
    const h1 = fnv1a(sh, 0);
    const h2 = fnv1a(sh, 0x9e3779b9) | 1;
    for (let i = 0; i < NUM_PERM; i++) {
      const v = fmix32((h1 + Math.imul(i, h2)) >>> 0);
      if (v < hv[i]!) hv[i] = v;
    }
  }
  return hv;
}

/**
 * LSH band keys of a signature: one number per band of BAND_SIZE values (band index in the high
 * bits). Computed where the signature is, so the index only compares numbers.
 */
export function bandKeys(signature: ArrayLike<number>): number[] {
  const keys: number[] = [];
  for (let b = 0; b * BAND_SIZE < signature.length; b++) {
    let h = 0x811c9dc5;
    for (let i = b * BAND_SIZE; i < (b + 1) * BAND_SIZE && i < signature.length; i++) {
      h = Math.imul(h ^ signature[i]!, 0x01000193) >>> 0;
    }
    keys.push(b * 0x1_0000_0000 + h);
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
  private buckets = new Map<number, string[]>();
  private signatures = new Map<string, Float64Array>();
  private clusterOf = new Map<string, string>();
  nearDuplicates = 0;

  constructor(private readonly threshold = 0.8) {}

  /** Registers an existing pair's key (from the stores) so a copy of it counts as a duplicate. */
  rememberExact(key: string, id: string): void {
    if (!this.exact.has(key)) this.exact.set(key, id);
  }

  check(id: string, key: string, signature: number[], bands: number[] = bandKeys(signature)): DedupOutcome {
    const prior = this.exact.get(key);
    if (prior !== undefined && prior !== id) return { kind: 'duplicate', of: prior };
    this.exact.set(key, id);
    let cluster: string | null = null;
    for (const band of bands) {
      const members = this.buckets.get(band);
      if (!members) {
        this.buckets.set(band, [id]);
        continue;
      }
      if (cluster === null) {
        // Only the first members of a bucket are compared, so a crowded bucket stays cheap.
        for (let i = 0; i < members.length && i < MAX_COMPARED_PER_BUCKET; i++) {
          const other = members[i]!;
          if (estimatedJaccard(signature, this.signatures.get(other)!) >= this.threshold) {
            cluster = this.clusterOf.get(other) ?? other;
            break;
          }
        }
      }
      members.push(id);
    }
    this.signatures.set(id, Float64Array.from(signature));
    if (cluster !== null) {
      this.clusterOf.set(id, cluster);
      this.nearDuplicates++;
    }
    return { kind: 'unique', nearDupCluster: cluster };
  }
}
