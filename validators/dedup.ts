// Duplicates judged on question + answer together: exact copies are dropped, near-duplicates
// (MinHash signatures + LSH banding) are clustered and recorded, never dropped.
//
// MinHash is written here rather than taken from npm on purpose: the `minhash` package computes
// (a·h + b) mod p in float64 past 2^53 and underestimated a true Jaccard of 0.86 as 0.70 on our
// pairs; bloom-filters' MinHash draws unseeded random permutations, so signatures made on two
// worker threads cannot be compared. This one uses exact 32-bit integer arithmetic.
import { createHash } from 'node:crypto';
import { contentId } from '../lib/hash.js';
import { failedReasons, normalizeForMatch } from './checks.js';
import type { QAPair } from '../datasets/schemas.js';

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
 * worker, or the main thread for the other sources); the sink takes them as they are. A pair that
 * already failed a check is never compared with others: it needs only its exact key (what the sink
 * stores with it), and its signature and bands are zeros.
 */
export function dedupKeys(checked: Pick<QAPair, 'question' | 'answer' | 'verdicts'>): DedupKeys {
  const q = normalizeForMatch(checked.question);
  const a = normalizeForMatch(checked.answer);
  const qaKey = qaKeyNormalized(q, a);
  if (failedReasons(checked).length) return { qaKey, signature: NO_SIGNATURE, bands: NO_BANDS };
  const signature = qaSignatureNormalized(signatureText(q, a));
  return { qaKey, signature, bands: bandKeys(signature) };
}

const NO_SIGNATURE = new Uint32Array(NUM_PERM);
const NO_BANDS: readonly number[] = new Array<number>(BANDS).fill(0);

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

/**
 * A map of byte strings (or unsigned 32-bit integers) to byte strings, where the duplicate and
 * question indexes keep what they remember: in memory by default, on disk for a run's pair sink
 * (datasets/known-index.ts), so their size is not bounded by the heap.
 */
export interface ByteMap {
  get(k: Uint8Array | number): Uint8Array | undefined;
  /** Like get, but the bytes may be overwritten by the next call on any map: read them at once. */
  peek(k: Uint8Array | number): Uint8Array | undefined;
  has(k: Uint8Array | number): boolean;
  put(k: Uint8Array | number, v?: Uint8Array): void;
  delete(k: Uint8Array | number): void;
}

/** Keys of bytes or of 32-bit unsigned integers (`int`), or small dense indexes (`index`); values of at most `maxValue` bytes, usually. */
export interface MapOptions {
  keys?: 'bytes' | 'int' | 'index';
  maxValue?: number;
}

export interface ByteMaps {
  map(name: string, opts?: MapOptions): ByteMap;
}

const EMPTY = new Uint8Array(0);

/** ByteMaps on the heap: what an index uses when it is given no store. */
export class MemoryMaps implements ByteMaps {
  map(_name: string): ByteMap {
    const m = new Map<string | number, Uint8Array>();
    const key = (k: Uint8Array | number) => (typeof k === 'number' ? k : Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1'));
    return {
      get: (k) => m.get(key(k)),
      peek: (k) => m.get(key(k)),
      has: (k) => m.has(key(k)),
      put: (k, v = EMPTY) => void m.set(key(k), v),
      delete: (k) => void m.delete(key(k)),
    };
  }
}

const HEX_ID = /^[0-9a-f]{32}$/;

/**
 * A key as bytes, one to one: a 32-hex-digit content id (every pair, record and qa key) as a 0 byte
 * and its 16 bytes, anything else as a 1 byte and its UTF-8, or a 2 byte and its SHA-256 when that
 * is too long for a key (a skip key with a long path).
 */
export function packKey(s: string): Buffer {
  if (s.length === 32 && HEX_ID.test(s)) return Buffer.from(`00${s}`, 'hex');
  const b = Buffer.from(`\u0001${s}`, 'utf8');
  return b.length <= 400 ? b : Buffer.concat([Buffer.from([2]), createHash('sha256').update(b).digest()]);
}

/** An id as a value, given back exactly by unpackId. */
export function packId(s: string): Buffer {
  if (s.length === 32 && HEX_ID.test(s)) return Buffer.from(`00${s}`, 'hex');
  return Buffer.from(`\u0001${s}`, 'utf8');
}

export function unpackId(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return b[0] === 0 ? buf.toString('hex', 1) : buf.toString('utf8', 1);
}

export const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

// A pair's entry, by its index: its signature, its cluster's index (-1: none), its id.
const SIG_BYTES = NUM_PERM * 4;

/**
 * Exact and near-duplicate tracking across a run (and the stores' existing keys). What it remembers
 * lives in `maps`: exact keys, one entry per pair (signature, cluster, id) and the LSH buckets.
 */
export class DuplicateIndex {
  private exact: ByteMap;
  private entries: ByteMap;
  // Most buckets hold one pair; a bucket holds at most MAX_BUCKET indexes (int32, little-endian).
  private buckets: ByteMap;
  private n = 0;
  private readonly maxMismatches: number;
  nearDuplicates = 0;

  constructor(threshold = 0.8, maps: ByteMaps = new MemoryMaps()) {
    this.maxMismatches = Math.floor((1 - threshold) * NUM_PERM + 1e-9);
    this.exact = maps.map('dedup.exact', { maxValue: 17 });
    this.entries = maps.map('dedup.entries', { keys: 'index', maxValue: SIG_BYTES + 4 + 17 });
    this.buckets = maps.map('dedup.buckets', { keys: 'int', maxValue: MAX_BUCKET * 4 });
  }

  /**
   * Registers an existing pair's key (from the stores) so a copy of it counts as a duplicate; the
   * first id registered for a key holds it, or with `replace` the last.
   */
  rememberExact(key: string, id: string, replace = false): void {
    const k = packKey(key);
    if (replace || !this.exact.has(k)) this.exact.put(k, packId(id));
  }

  /** Forgets a stored pair about to be re-judged (its evidence is read again), unless another id holds the key. */
  forgetExact(key: string, id: string): void {
    const k = packKey(key);
    const held = this.exact.peek(k);
    if (held && sameBytes(held, packId(id))) this.exact.delete(k);
  }

  /** Jaccard estimate ≥ threshold, stopping as soon as too many positions differ. */
  private similar(a: Uint8Array, b: Uint8Array): boolean {
    let mismatches = 0;
    const va = new DataView(a.buffer, a.byteOffset, SIG_BYTES);
    const vb = new DataView(b.buffer, b.byteOffset, SIG_BYTES);
    for (let i = 0; i < SIG_BYTES; i += 4) {
      if (va.getUint32(i, true) !== vb.getUint32(i, true) && ++mismatches > this.maxMismatches) return false;
    }
    return true;
  }

  private entry(signature: ArrayLike<number>, cluster: number, id: Buffer): Uint8Array {
    const e = Buffer.allocUnsafe(SIG_BYTES + 4 + id.length);
    for (let i = 0; i < NUM_PERM; i++) e.writeUInt32LE(signature[i]! >>> 0, i * 4);
    e.writeInt32LE(cluster, SIG_BYTES);
    id.copy(e, SIG_BYTES + 4);
    return e;
  }

  check(id: string, key: string, signature: ArrayLike<number>, bands: ArrayLike<number> = bandKeys(signature)): DedupOutcome {
    const k = packKey(key);
    const prior = this.exact.get(k);
    const pid = packId(id);
    if (prior !== undefined && !sameBytes(prior, pid)) return { kind: 'duplicate', of: unpackId(prior) };
    this.exact.put(k, pid);
    const idx = this.n++;
    const mine = this.entry(signature, -1, pid);
    this.entries.put(idx, mine);
    // Candidates are the members of every bucket this signature falls in, each compared once;
    // buckets are capped, so templated pairs that crowd one keep the cost flat.
    let found = -1;
    let compared = 0;
    const seen = new Set<number>();
    for (let b = 0; b < bands.length; b++) {
      const band = bands[b]!;
      const entry = this.buckets.peek(band);
      if (entry === undefined) {
        this.buckets.put(band, int32s([idx]));
        continue;
      }
      const members = readInt32s(entry);
      if (found < 0) {
        for (const m of members) {
          if (seen.has(m) || compared >= MAX_COMPARISONS) continue;
          seen.add(m);
          compared++;
          const other = this.entries.peek(m)!;
          if (this.similar(other, mine)) {
            const c = new DataView(other.buffer, other.byteOffset, other.byteLength).getInt32(SIG_BYTES, true);
            found = c >= 0 ? c : m;
            break;
          }
        }
      }
      if (members.length < MAX_BUCKET) this.buckets.put(band, int32s([...members, idx]));
    }
    if (found < 0) return { kind: 'unique', nearDupCluster: null };
    this.entries.put(idx, this.entry(signature, found, pid));
    this.nearDuplicates++;
    return { kind: 'unique', nearDupCluster: unpackId(this.entries.peek(found)!.subarray(SIG_BYTES + 4)) };
  }
}

function int32s(xs: number[]): Uint8Array {
  const b = Buffer.allocUnsafe(xs.length * 4);
  xs.forEach((x, i) => b.writeInt32LE(x, i * 4));
  return b;
}

function readInt32s(b: Uint8Array): number[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.byteLength; i += 4) out.push(v.getInt32(i, true));
  return out;
}
