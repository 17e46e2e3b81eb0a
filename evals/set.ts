// Hand-written eval sets (evals/sets/*.jsonl): one question per line, each a zod-checked object with
// its reference answer and the evidence (gold locators) a good retrieval must bring back.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { z } from 'zod';
import { UserError } from '../lib/errors.js';
import { readJsonlRecords } from '../lib/jsonl.js';
import { Sha } from '../datasets/schemas.js';

export const EvalKind = z.enum(['code', 'docs', 'commit', 'pr', 'issue']);
export type EvalKind = z.infer<typeof EvalKind>;

/**
 * Where the answer lives. Exactly one shape per locator: lines of a file, a commit, a doc section
 * (path + heading: the section or any section below it), or a PR / issue number.
 */
export const GoldLocator = z.union([
  z.object({ path: z.string().min(1), start_line: z.number().int().positive(), end_line: z.number().int().positive() }).strict()
    .refine((g) => g.end_line >= g.start_line, 'end_line must be ≥ start_line'),
  z.object({ sha: Sha }).strict(),
  z.object({ path: z.string().min(1), heading: z.string().min(1) }).strict(),
  z.object({ pr: z.number().int().positive() }).strict(),
  z.object({ issue: z.number().int().positive() }).strict(),
]);
export type GoldLocator = z.infer<typeof GoldLocator>;

export const EvalItem = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, . _ -'),
    /** owner/name of the repository the question is about. */
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
    /** As an engineer would ask it, not a template. */
    question: z.string().min(8),
    /** A short reference answer. */
    answer: z.string().min(1),
    kind: EvalKind,
    /** Evidence that answers it; empty only when the question is out of scope. */
    gold: z.array(GoldLocator),
    difficulty: z.enum(['easy', 'medium', 'hard']),
    /** The commit the question was written at. */
    commit: Sha,
    /** The corpus cannot answer it (abstention): no gold, never counted in retrieval metrics. */
    out_of_scope: z.boolean().default(false),
  })
  .strict()
  .refine((x) => x.out_of_scope === (x.gold.length === 0), 'gold is empty exactly when out_of_scope is true');
export type EvalItem = z.infer<typeof EvalItem>;

export interface EvalSet {
  /** The file name without .jsonl. */
  id: string;
  /** sha256 of the file's bytes: a changed set is a different set. */
  hash: string;
  path: string;
  items: EvalItem[];
}

/** Reads and checks a set: every line must parse, ids must be unique; errors name the line. */
export function loadEvalSet(path: string): EvalSet {
  const { raw, records: items } = readJsonlRecords(path, EvalItem, 'eval set', 'item');
  if (!items.length) throw new UserError(`eval set ${path} holds no questions`);
  return { id: basename(path).replace(/\.jsonl$/, ''), hash: createHash('sha256').update(raw).digest('hex'), path, items };
}
