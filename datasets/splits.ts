// Split assignment by a stable hash of a key, so an item keeps its split as the corpus grows. The
// export hashes the root of a group's clone cluster (datasets/clusters.ts), so no group (file, commit,
// PR, issue) and no cluster of copied or near-duplicate groups ever spans two splits.
import { unitInterval } from '../lib/hash.js';
import type { Split } from './schemas.js';

export interface SplitRatios {
  train: number;
  validation: number;
  test: number;
  salt: string;
}

export function assignSplit(group: string, r: SplitRatios): Split {
  const u = unitInterval(group, r.salt);
  if (u < r.train) return 'train';
  if (u < r.train + r.validation) return 'validation';
  return 'test';
}
