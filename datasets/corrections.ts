// The corrections table: the review state of each flagged answer (no row: pending), written by the
// feedback commands and workflow only. And what promotion does for an accepted correction once its
// pair is in the corpus: the pairs the flagged answer cited are retired (kept, marked disputed by the
// feedback) and the correction records the version that promoted it.
import { z } from 'zod';
import { rowsToArrowTable } from './arrow-rows.js';
import { SCHEMAS, sqlString, type Stores } from './store.js';

export const ReviewStatus = z.enum(['pending', 'proposed', 'accepted', 'rejected']);
export type ReviewStatus = z.infer<typeof ReviewStatus>;

export const CorrectionOrigin = z.enum(['model', 'user', 'manual']);
export type CorrectionOrigin = z.infer<typeof CorrectionOrigin>;

/** One row of `corrections`, as stored. */
export const CorrectionRow = z.object({
  feedback_id: z.string().min(1),
  query_id: z.string().min(1),
  status: ReviewStatus.exclude(['pending']),
  origin: CorrectionOrigin,
  pair_id: z.string().nullable(),
  /** JSON QAPair of the candidate (the one proposed, or the one that failed when none passed). */
  pair: z.string().nullable(),
  /** JSON array of the pair ids the flagged answer cited. */
  disputed: z.string(),
  /** JSON: quotes, every candidate's failed checks, who rejected it and why. */
  detail: z.string(),
  updated_at: z.string(),
  promoted_version: z.number().int().nullable(),
});
export type CorrectionRow = z.infer<typeof CorrectionRow>;

const COLUMNS = SCHEMAS.corrections.fields.map((f) => f.name);

/** Corrections rows by feedback id (all, or those a filter picks). */
export async function readCorrections(stores: Stores, where?: string): Promise<Map<string, CorrectionRow>> {
  const out = new Map<string, CorrectionRow>();
  for await (const rows of stores.scan('corrections', COLUMNS, where))
    for (const r of rows) {
      const row = CorrectionRow.parse({ ...r, pair_id: r.pair_id ?? null, pair: r.pair ?? null, promoted_version: r.promoted_version ?? null });
      out.set(row.feedback_id, row);
    }
  return out;
}

/** Writes correction rows, one per feedback id: a later review of the same feedback replaces the earlier. */
export async function writeCorrections(stores: Stores, rows: CorrectionRow[]): Promise<void> {
  if (!rows.length) return;
  const t = await stores.table('corrections');
  await t.mergeInsert('feedback_id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rowsToArrowTable(rows.map((r) => CorrectionRow.parse(r)), SCHEMAS.corrections));
}

export const disputedReason = (feedbackId: string) => `disputed by feedback ${feedbackId}`;

export interface PromotedCorrections {
  /** Feedback ids whose corrected pair is now active in the corpus (promoted_version still to be set). */
  feedbackIds: string[];
  /** Corpus rows retired as disputed. */
  retired: number;
}

const inList = (ids: string[]) => ids.map(sqlString).join(',');

/**
 * For every accepted correction whose pair is active in the corpus and that no version has recorded
 * yet: retires the pairs its flagged answer cited, in the corpus (status retired, the feedback as the
 * reason) and in staging, so no later run stages them again. Rows are kept, never deleted.
 */
export async function retireDisputed(stores: Stores, now: string): Promise<PromotedCorrections> {
  const open = [...(await readCorrections(stores, "status = 'accepted' AND promoted_version IS NULL")).values()].filter((c) => c.pair_id);
  if (!open.length) return { feedbackIds: [], retired: 0 };
  const active = new Set<string>();
  for await (const rows of stores.scan('corpus', ['id'], `status = 'active' AND id IN (${inList(open.map((c) => c.pair_id!))})`)) for (const r of rows) active.add(r.id as string);
  const corpus = await stores.table('corpus');
  const staging = await stores.table('staging');
  const feedbackIds: string[] = [];
  let retired = 0;
  for (const c of open) {
    if (!active.has(c.pair_id!)) continue;
    feedbackIds.push(c.feedback_id);
    const ids = (JSON.parse(c.disputed) as string[]).filter((id) => id !== c.pair_id);
    if (!ids.length) continue;
    const r = await corpus.update({ where: `status = 'active' AND id IN (${inList(ids)})`, values: { status: 'retired', retired_reason: disputedReason(c.feedback_id), retired_at: now } });
    retired += (r as { rowsUpdated?: number }).rowsUpdated ?? 0;
    await staging.update({ where: `status <> 'retired' AND id IN (${inList(ids)})`, values: { status: 'retired' } });
  }
  return { feedbackIds, retired };
}

/** Records the dataset version that promoted these corrections. */
export async function markCorrectionsPromoted(stores: Stores, feedbackIds: string[], version: number): Promise<void> {
  if (!feedbackIds.length) return;
  await (await stores.table('corrections')).update({ where: `feedback_id IN (${inList(feedbackIds)})`, values: { promoted_version: version, updated_at: new Date().toISOString() } });
}
