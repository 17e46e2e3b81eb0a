// Content hashes for ids: sha256 over NUL-separated parts, cut to 128 bits.
import { createHash } from 'node:crypto';

export function contentId(...parts: (string | number | null)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p === null ? '\u0001null' : String(p));
    h.update('\u0000');
  }
  return h.digest('hex').slice(0, 32);
}

/** A stable number in [0, 1) from a string, for split assignment. */
export function unitInterval(key: string, salt = ''): number {
  const h = createHash('sha256').update(salt).update('\u0000').update(key).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000;
}
