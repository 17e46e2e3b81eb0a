// The one way a rule turns (record, question, answer, evidence) into a candidate QAPair.
import type { Category, GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import { contentId, unitInterval } from '../lib/hash.js';

export interface Candidate {
  category: Category;
  question: string;
  answer: string;
  /** Substrings of the context that the answer states; the grounding check holds the answer to them. */
  evidence: string[];
  /** Defaults to the record's text. */
  context?: string;
}

/**
 * The split group keeps everything drawn from one unit on one side of a split: the path for code
 * and docs, the sha for commits, the number for PRs and issues.
 */
export function splitGroupOf(rec: SourceRecord): string {
  const v = rec.provenance;
  if (rec.kind === 'commit') return `commit:${v.commitFirstSeen}`;
  if (rec.kind === 'pull_request') return `pr:${v.prNumber}`;
  if (rec.kind === 'issue') return `issue:${v.issueNumber}`;
  return v.path ?? rec.id;
}

/** A candidate before validation: verdicts empty, no near-duplicate cluster yet. Id = hash(q, a, context). */
export function candidatePair(rec: SourceRecord, generator: GeneratorInfo, c: Candidate): QAPair {
  const context = c.context ?? rec.text;
  return {
    id: contentId(c.question, c.answer, context),
    question: c.question,
    answer: c.answer,
    context,
    evidence: c.evidence,
    category: c.category,
    sourceId: rec.id,
    sourceKind: rec.kind,
    symbolKind: rec.code?.symbolKind ?? null,
    variant: rec.code?.variant ?? null,
    provenance: rec.provenance,
    generator,
    splitGroup: splitGroupOf(rec),
    verdicts: [],
    nearDupCluster: null,
  };
}

/**
 * One of several phrasings of a question, chosen by a stable hash of what the question is about (a
 * record id or locator): the same evidence always gets the same wording, so pair ids stay stable,
 * while the corpus as a whole does not fall into a handful of templates.
 */
export function phrasing<T>(key: string, options: readonly T[]): T {
  if (!options.length) throw new Error('phrasing: no options');
  return options[Math.floor(unitInterval(key, 'phrasing') * options.length)]!;
}
