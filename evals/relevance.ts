// When a retrieved pair answers an eval question: its provenance overlaps one of the question's gold
// locators — same path and overlapping lines (code), same commit (commit pairs), same doc path with
// the gold heading on the pair's heading path (that section or one below it), same PR or issue.
import type { SearchHit } from '../datasets/search.js';
import type { GoldLocator } from './set.js';
import type { Ranking } from './metrics.js';

export type RetrievedProvenance = Pick<SearchHit, 'sourceKind' | 'path' | 'startLine' | 'endLine' | 'commitFirstSeen' | 'qualname' | 'prNumber' | 'issueNumber'>;

/** Heading paths are stored as "A > B > C"; a heading matches one of its parts, compared without case or extra spaces. */
const norm = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();

export function coversGold(hit: RetrievedProvenance, gold: GoldLocator): boolean {
  if ('sha' in gold) return hit.sourceKind === 'commit' && hit.commitFirstSeen === gold.sha;
  if ('pr' in gold) return hit.sourceKind === 'pull_request' && hit.prNumber === gold.pr;
  if ('issue' in gold) return hit.sourceKind === 'issue' && hit.issueNumber === gold.issue;
  if ('heading' in gold) {
    if (hit.sourceKind !== 'doc_section' || hit.path !== gold.path || !hit.qualname) return false;
    const want = norm(gold.heading);
    return hit.qualname.split(' > ').some((part) => norm(part.replace(/ \(\d+\)$/, '')) === want);
  }
  return (
    (hit.sourceKind === 'code_symbol' || hit.sourceKind === 'doc_section') &&
    hit.path === gold.path &&
    hit.startLine !== null &&
    hit.endLine !== null &&
    hit.startLine <= gold.end_line &&
    gold.start_line <= hit.endLine
  );
}

/** The ranking the metrics read: per hit, the indices of the golds it covers. */
export function rankingOf(hits: RetrievedProvenance[], gold: GoldLocator[]): Ranking {
  return hits.map((h) => gold.flatMap((g, i) => (coversGold(h, g) ? [i] : [])));
}
