// Content hashes for ids: sha256 over NUL-separated parts, cut to 128 bits.
import { createHash, hash } from 'node:crypto';

export function contentId(...parts: (string | number | null)[]): string {
  let joined = '';
  for (const p of parts) joined += `${p === null ? '\u0001null' : String(p)}\u0000`;
  // One-shot hashing: far cheaper per call than createHash().update()… for many small ids.
  return hash('sha256', joined, 'hex').slice(0, 32);
}

/** The hex sha256 of a text: the content hash of a source record. */
export const sha256Hex = (s: string): string => hash('sha256', s, 'hex');

/** A stable number in [0, 1) from a string, for split assignment. */
export function unitInterval(key: string, salt = ''): number {
  const h = createHash('sha256').update(salt).update('\u0000').update(key).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000;
}

/** A reproducible stream of numbers in [0, 1) for a seed (xorshift32): samples and bootstraps that repeat. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}
