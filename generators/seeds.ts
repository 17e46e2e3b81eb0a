// The Self-Instruct seed pool: hand-written tasks shown to the generator model as few-shot examples.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SourceKind } from '../datasets/schemas.js';
import { projectFile } from '../lib/paths.js';

/** A seed's kind is the source-record kind whose context it imitates, so the two cannot drift apart. */
export const SeedKind = SourceKind;
export type SeedKind = z.infer<typeof SeedKind>;

export const SeedTask = z.object({
  id: z.string().regex(/^seed-\d{2,}$/, 'an id like seed-01'),
  kind: SeedKind,
  context: z.string().min(1),
  question: z.string().min(1),
  answer: z.string().min(1),
  /** Verbatim, case-sensitive substring of `context`: the model is asked to quote its evidence the same way. */
  evidence: z.string().min(1),
});
export type SeedTask = z.infer<typeof SeedTask>;

export const DEFAULT_SEED_POOL = projectFile('generators/seeds/transformers.v1.json');

/** The id of the seed a zod issue is about, when the raw entry has one. */
function seedIdAt(raw: unknown, path: readonly PropertyKey[]): string {
  const i = path[0];
  if (!Array.isArray(raw) || typeof i !== 'number') return 'pool';
  const id = (raw[i] as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : `entry ${i}`;
}

/**
 * Loads and checks a seed pool. Every failure is one line naming the file and the seed, so a broken
 * pool stops a generation run with a message that points at the entry to fix.
 */
export function loadSeedPool(path: string = DEFAULT_SEED_POOL): SeedTask[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`seed pool ${path}: cannot read JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = z.array(SeedTask).min(1).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.slice(1).join('.') || 'entry';
    throw new Error(`seed pool ${path}: ${seedIdAt(raw, issue.path)}: ${field}: ${issue.message.replace(/\s+/g, ' ')}`);
  }
  const seen = new Set<string>();
  for (const s of parsed.data) {
    if (seen.has(s.id)) throw new Error(`seed pool ${path}: ${s.id}: duplicate id`);
    seen.add(s.id);
    if (!s.context.includes(s.evidence)) {
      const shown = s.evidence.length > 60 ? `${s.evidence.slice(0, 60)}…` : s.evidence;
      throw new Error(`seed pool ${path}: ${s.id}: evidence is not a verbatim substring of context: ${JSON.stringify(shown)}`);
    }
  }
  return parsed.data;
}
