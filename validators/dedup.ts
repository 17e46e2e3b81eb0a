// Duplicates judged on question + answer together: exact copies are dropped, near-duplicates
// (MinHash + LSH from the `minhash` package) are clustered and recorded, never dropped.
import minhashLib from 'minhash';
import { contentId } from '../lib/hash.js';
import { normalizeForMatch } from './checks.js';

const { Minhash } = minhashLib as unknown as {
  Minhash: new (cfg: { numPerm: number; seed: number }) => MinhashLike;
};
interface MinhashLike {
  hashvalues: number[];
  permA: number[];
  permB: number[];
  prime: number;
  hash(s: string): number;
}

export const NUM_PERM = 64;
export const BAND_SIZE = 4;

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
let permutations: MinhashLike | null = null;

export function qaSignature(question: string, answer: string): number[] {
  // The package's permutations (seeded, shared by every signature) are built once; each shingle is
  // hashed once instead of once per permutation. Values equal Minhash.update's.
  const m = (permutations ??= new Minhash({ numPerm: NUM_PERM, seed: 1 }));
  const hv = new Array<number>(NUM_PERM).fill(2 ** 32 - 1);
  const { permA, permB, prime } = m;
  for (const sh of shingles(`${question} ${answer}`)) {
    const h = m.hash(sh);
    for (let i = 0; i < NUM_PERM; i++) {
      const v = (permA[i]! * h + permB[i]!) % prime;
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
      h = Math.imul(h ^ (signature[i]! >>> 0), 0x01000193) >>> 0;
      h = Math.imul(h ^ Math.floor(signature[i]! / 0x1_0000_0000), 0x01000193) >>> 0;
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
        for (const other of members) {
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
