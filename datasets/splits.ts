// Split assignment by a stable hash of the source group, so an item keeps its split as the corpus
// grows and no group (file, commit, PR, issue) ever spans two splits.
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
