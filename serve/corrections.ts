// The review of flagged answers: list and show the down-rated feedback with its review status,
// propose corrections (a model quotes the cited sources, then revises the answer from the quotes; the
// user's own correction is a candidate too), take a reviewer's correction, accept (the corrections
// source stages the corrected pair) or reject. Every candidate passes the same deterministic checks
// and judge as any model-written pair; one that fails is recorded with its reasons and never staged.
// Question, comment and correction are untrusted text: screened, fenced, never instructions.
import { z } from 'zod';
import { runCorrections } from '../activities/corrections-source.js';
import { CorrectionRow, readCorrections, writeCorrections, type CorrectionOrigin, type ReviewStatus } from '../datasets/corrections.js';
import { QAPair, type FeedbackProvenance, type Verdict } from '../datasets/schemas.js';
import { columnsOf, pairFromRow, sourceFromRow, sqlString, type Stores } from '../datasets/store.js';
import { correctionGenerator, correctionPair, MAX_SOURCES, researchPrompt, researchQuotes, revisePrompt, reviseAnswer, type CorrectionDeps } from '../generators/correction.js';
import { UserError } from '../lib/errors.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { BudgetExhausted } from '../lib/models/cache.js';
import type { ChatModel } from '../lib/models/types.js';
import { questionKey } from '../validators/ambiguity.js';
import { failedReasons, normalizeForMatch, type LengthLimits } from '../validators/checks.js';
import { qaKey } from '../validators/dedup.js';
import { checkNoInjection, describeHits, screenInjection } from '../validators/injection.js';
import { judgePair, judgePrompt } from '../validators/judge.js';
import { checkModelPair } from '../validators/model-pair.js';

export const FEEDBACK_REASONS = ['wrong', 'unhelpful', 'outdated', 'other'] as const;
export const REVIEW_STATUSES = ['pending', 'proposed', 'accepted', 'rejected'] as const satisfies readonly ReviewStatus[];

// The server's rows, parsed at the boundary: its journal is another program's output.
const FeedbackRow = z.object({
  feedback_id: z.string().min(1),
  query_id: z.string().min(1),
  key_name: z.string(),
  at: z.string(),
  rating: z.enum(['up', 'down']),
  reason: z.enum(FEEDBACK_REASONS).nullable(),
  comment: z.string().nullable(),
  correction: z.string().nullable(),
  synthetic: z.boolean(),
});
type FeedbackRow = z.infer<typeof FeedbackRow>;

const CitationJson = z.object({ pair_id: z.string().min(1) }).loose();
const QueryRow = z.object({
  query_id: z.string(),
  question: z.string(),
  answer: z.string().nullable(),
  abstained: z.boolean(),
  citations: z.string(),
  retrieved: z.string(),
});
type QueryRow = z.infer<typeof QueryRow>;

const nullish = (r: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, r[k] ?? null]));
function parseFeedback(r: Record<string, unknown>): FeedbackRow {
  const p = FeedbackRow.safeParse({ ...r, ...nullish(r, ['reason', 'comment', 'correction']) });
  if (p.success) return p.data;
  const issue = p.error.issues[0]!;
  throw new UserError(`feedback row ${String(r.feedback_id)} is malformed (${issue.path.join('.')}: ${issue.message}): the server's journal wrote what this qaforge cannot read`);
}
const parseQuery = (r: Record<string, unknown>) => QueryRow.parse({ ...r, answer: r.answer ?? null });

/** The pair ids an answer cited, in citation order, each once. */
export function citedPairIds(citationsJson: string): string[] {
  const parsed = z.array(CitationJson).safeParse(JSON.parse(citationsJson || '[]'));
  return parsed.success ? [...new Set(parsed.data.map((c) => c.pair_id))] : [];
}

/** The pair ids retrieval returned, best first. */
function retrievedPairIds(retrievedJson: string): string[] {
  const parsed = z.array(z.object({ id: z.string().min(1) }).loose()).safeParse(JSON.parse(retrievedJson || '[]'));
  return parsed.success ? parsed.data.map((r) => r.id) : [];
}

/** A down-rated feedback's review status: its corrections row's, or pending without one. */
export const reviewStatusOf = (c: CorrectionRow | undefined): ReviewStatus => c?.status ?? 'pending';

export interface FeedbackItem {
  feedback_id: string;
  query_id: string;
  at: string;
  key_name: string;
  reason: FeedbackRow['reason'];
  comment: string | null;
  has_correction: boolean;
  synthetic: boolean;
  status: ReviewStatus;
  origin: CorrectionOrigin | null;
  pair_id: string | null;
  question: string | null;
  updated_at: string | null;
}

export interface ListFilter {
  status?: ReviewStatus[];
  reason?: (typeof FEEDBACK_REASONS)[number][];
  /** Include feedback marked synthetic (load simulations); default false. */
  synthetic?: boolean;
}

async function downRated(stores: Stores, where?: string): Promise<FeedbackRow[]> {
  const out: FeedbackRow[] = [];
  const filter = `rating = 'down'${where ? ` AND ${where}` : ''}`;
  for await (const rows of stores.scan('feedback', columnsOf('feedback'), filter)) for (const r of rows) out.push(parseFeedback(r));
  return out.sort((a, b) => (a.at === b.at ? (a.feedback_id < b.feedback_id ? -1 : 1) : a.at < b.at ? -1 : 1));
}

async function queriesById(stores: Stores, ids: string[]): Promise<Map<string, QueryRow>> {
  const out = new Map<string, QueryRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    if (!part.length) continue;
    for await (const rows of stores.scan('queries', ['query_id', 'question', 'answer', 'abstained', 'citations', 'retrieved'], `query_id IN (${part.map(sqlString).join(',')})`))
      for (const r of rows) out.set(r.query_id as string, parseQuery(r));
  }
  return out;
}

/** The flagged answers (down-rated feedback), oldest first, with their review status. */
export async function listFeedback(stores: Stores, filter: ListFilter = {}): Promise<FeedbackItem[]> {
  const flags = (await downRated(stores)).filter((f) => (filter.synthetic || !f.synthetic) && (!filter.reason?.length || (f.reason !== null && filter.reason.includes(f.reason))));
  const corrections = await readCorrections(stores);
  const chosen = flags.filter((f) => !filter.status?.length || filter.status.includes(reviewStatusOf(corrections.get(f.feedback_id))));
  const queries = await queriesById(stores, [...new Set(chosen.map((f) => f.query_id))]);
  return chosen.map((f) => {
    const c = corrections.get(f.feedback_id);
    return {
      feedback_id: f.feedback_id,
      query_id: f.query_id,
      at: f.at,
      key_name: f.key_name,
      reason: f.reason,
      comment: f.comment,
      has_correction: Boolean(f.correction?.trim()),
      synthetic: f.synthetic,
      status: reviewStatusOf(c),
      origin: c?.origin ?? null,
      pair_id: c?.pair_id ?? null,
      question: queries.get(f.query_id)?.question ?? null,
      updated_at: c?.updated_at ?? null,
    };
  });
}

/** Review counts of the flagged answers (synthetic ones left out). */
export async function correctionCounts(stores: Stores): Promise<Record<ReviewStatus, number>> {
  const out: Record<ReviewStatus, number> = { pending: 0, proposed: 0, accepted: 0, rejected: 0 };
  for (const f of await listFeedback(stores)) out[f.status]++;
  return out;
}

export interface FeedbackDetail {
  feedback_id: string;
  query_id: string;
  at: string;
  key_name: string;
  rating: 'up' | 'down';
  reason: FeedbackRow['reason'];
  comment: string | null;
  correction: string | null;
  synthetic: boolean;
  question: string | null;
  answer: string | null;
  abstained: boolean | null;
  citations: unknown[];
  status: ReviewStatus;
  origin: CorrectionOrigin | null;
  /** The candidate: the one proposed or accepted, or the one that failed. */
  pair: QAPair | null;
  pair_id: string | null;
  disputed: string[];
  detail: CorrectionDetail | null;
  updated_at: string | null;
  promoted_version: number | null;
}

async function feedbackById(stores: Stores, id: string): Promise<FeedbackRow> {
  for await (const rows of stores.scan('feedback', columnsOf('feedback'), `feedback_id = ${sqlString(id)}`)) if (rows.length) return parseFeedback(rows[0]!);
  throw new UserError(`no feedback ${id} (see \`qaforge feedback list\`)`);
}

/** One feedback with its question, answer, citations, the user's comment and correction, and its review. */
export async function showFeedback(stores: Stores, id: string): Promise<FeedbackDetail> {
  const f = await feedbackById(stores, id);
  const q = (await queriesById(stores, [f.query_id])).get(f.query_id) ?? null;
  const c = (await readCorrections(stores, `feedback_id = ${sqlString(id)}`)).get(id);
  return {
    ...f,
    question: q?.question ?? null,
    answer: q?.answer ?? null,
    abstained: q?.abstained ?? null,
    citations: q ? (JSON.parse(q.citations || '[]') as unknown[]) : [],
    status: f.rating === 'down' ? reviewStatusOf(c) : 'pending',
    origin: c?.origin ?? null,
    pair: c?.pair ? QAPair.parse(JSON.parse(c.pair)) : null,
    pair_id: c?.pair_id ?? null,
    disputed: c ? (JSON.parse(c.disputed) as string[]) : q ? citedPairIds(q.citations) : [],
    detail: c ? (JSON.parse(c.detail) as CorrectionDetail) : null,
    updated_at: c?.updated_at ?? null,
    promoted_version: c?.promoted_version ?? null,
  };
}

/** One failed check of a candidate, as the detail records it. */
export interface FailedCheck {
  origin: CorrectionOrigin | null;
  check: string;
  reason: string;
  detail: string | null;
}

export interface CandidateRecord {
  origin: CorrectionOrigin;
  pair_id: string;
  answer: string;
  passed: boolean;
  failed: FailedCheck[];
  judge: string | null;
}

/** The `detail` column of a corrections row. */
export interface CorrectionDetail {
  /** check: every candidate failed (or none could be made); reviewer: `feedback reject`. */
  rejected_by?: 'check' | 'reviewer';
  /** The reviewer's reason, when a reviewer rejected it. */
  reason?: string | null;
  /** Every failed check, by candidate; what a rejection by check was rejected by. */
  failed: FailedCheck[];
  candidates: CandidateRecord[];
  /** The research step: the cited pair whose context the quotes come from, and the quotes. */
  source_pair: string | null;
  quotes: string[];
  /** The models: who quoted, wrote and judged. */
  models: { generator: string; judge: string } | null;
  accepted_at?: string;
  /** Set when an identical pair was already staged (by another feedback): nothing was staged again. */
  already_staged?: boolean;
}

export interface ReviewDeps {
  stores: Stores;
  /** The generator (quotes and revises) and the judge: a different model, as for every model-written pair. */
  models: { generator: ChatModel; judge: ChatModel };
  limits: LengthLimits;
  /** models.judgeMinScore. */
  judgeMinScore: number;
  log?: Logger;
}

/** A flag with what its review needs: the feedback and the answered query. */
interface Flag {
  feedback: FeedbackRow;
  query: QueryRow;
}

/** What the live staged pairs hold, so a candidate is not a duplicate of one or ambiguous with one. */
interface LiveIndex {
  byQaKey: Map<string, string>;
  byQuestion: Map<string, { id: string; qaKey: string }[]>;
}

async function liveIndex(stores: Stores): Promise<LiveIndex> {
  const idx: LiveIndex = { byQaKey: new Map(), byQuestion: new Map() };
  for await (const rows of stores.scan('staging', ['id', 'qa_key', 'question'], "status <> 'retired'"))
    for (const r of rows) {
      const id = r.id as string;
      const key = r.qa_key as string;
      idx.byQaKey.set(key, id);
      const q = questionKey(r.question as string);
      idx.byQuestion.set(q, [...(idx.byQuestion.get(q) ?? []), { id, qaKey: key }]);
    }
  return idx;
}

/**
 * Check "dedup" / "ambiguity" against the live staged pairs, the disputed ones aside (they are to be
 * retired): the same question and answer as a live pair is a duplicate; the same question with
 * another answer is ambiguous.
 */
export function checkAgainstLive(pair: QAPair, live: LiveIndex, disputed: Set<string>): Verdict[] {
  const key = qaKey(pair.question, pair.answer);
  const same = live.byQaKey.get(key);
  if (same && !disputed.has(same)) return [{ check: 'dedup', pass: false, reason: 'duplicate', detail: `same question and answer as ${same}` }];
  const other = (live.byQuestion.get(questionKey(pair.question)) ?? []).find((p) => p.qaKey !== key && !disputed.has(p.id));
  return [
    { check: 'dedup', pass: true, reason: null, detail: null },
    other
      ? { check: 'ambiguity', pass: false, reason: 'ambiguous', detail: `same question as ${other.id} with a different answer` }
      : { check: 'ambiguity', pass: true, reason: null, detail: null },
  ];
}

/**
 * The deterministic layers of a correction: those of every model-written pair (per-pair checks,
 * answer support, injection screening of the context), injection screening of the question and
 * answer (a user's or a model's text), and duplicates/ambiguity against the live pairs.
 */
export function checkCorrection(pair: QAPair, limits: LengthLimits, live: LiveIndex, disputed: Set<string>): QAPair {
  const checked = checkModelPair(pair, limits);
  const userText = checkNoInjection(`${checked.question}\n${checked.answer}`);
  checked.verdicts.push({ ...userText, check: 'injection_user_text' });
  checked.verdicts.push(...checkAgainstLive(checked, live, disputed));
  return checked;
}

const failedOf = (pair: QAPair, origin: CorrectionOrigin | null): FailedCheck[] =>
  pair.verdicts.filter((v) => !v.pass).map((v) => ({ origin, check: v.check, reason: v.reason ?? 'failed', detail: v.detail }));

/** The review of one flag: what goes in its corrections row. */
interface Review {
  status: 'proposed' | 'rejected';
  origin: CorrectionOrigin;
  pair: QAPair | null;
  passed: boolean;
  disputed: string[];
  detail: CorrectionDetail;
}

interface ReviewContext extends ReviewDeps {
  correction: CorrectionDeps;
  judge: ReturnType<typeof judgePrompt>;
  live: LiveIndex;
}

function openReview(deps: ReviewDeps, live: LiveIndex): ReviewContext {
  return { ...deps, correction: { chat: deps.models.generator, research: researchPrompt(), revise: revisePrompt(), repo: '' }, judge: judgePrompt(), live };
}

/** Corpus pairs by id, any status (a cited pair may have been retired since the answer). */
async function corpusPairs(stores: Stores, ids: string[]): Promise<Map<string, QAPair>> {
  const out = new Map<string, QAPair>();
  if (!ids.length) return out;
  for await (const rows of stores.scan('corpus', columnsOf('corpus'), `id IN (${ids.map(sqlString).join(',')})`)) for (const r of rows) out.set(r.id as string, pairFromRow(r));
  return out;
}

const quoteIn = (quote: string, context: string) => {
  const q = normalizeForMatch(quote);
  return q.length > 0 && normalizeForMatch(context).includes(q);
};

/**
 * Reviews one flag: the cited contexts, screening of the user's text, research (quotes), then the
 * candidates — a manual answer alone, or the model's revision and the user's own correction — each
 * checked and, if every check passes, judged. The first that passes (the user's before the model's)
 * is proposed; when none does, the review is rejected and says by which checks.
 */
async function reviewFlag(ctx: ReviewContext, flag: Flag, manual: string | null): Promise<Review> {
  const { feedback: f, query: q } = flag;
  const cited = citedPairIds(q.citations);
  const disputed = cited;
  // An abstention cited nothing: its retrieved pairs are where an answer would have come from.
  const sourceIds = (cited.length ? cited : retrievedPairIds(q.retrieved)).slice(0, MAX_SOURCES);
  const found = await corpusPairs(ctx.stores, sourceIds);
  const contexts = sourceIds.map((id) => found.get(id)).filter((p): p is QAPair => Boolean(p));
  const models = { generator: ctx.models.generator.model, judge: ctx.models.judge.model };
  const base = { candidates: [] as CandidateRecord[], source_pair: null as string | null, quotes: [] as string[], models };
  const rejected = (failed: FailedCheck, pair: QAPair | null = null): Review => ({
    status: 'rejected',
    origin: manual !== null ? 'manual' : 'model',
    pair,
    passed: false,
    disputed,
    detail: { ...base, rejected_by: 'check', failed: [failed] },
  });
  if (!contexts.length) return rejected({ origin: null, check: 'contexts', reason: 'ungrounded', detail: sourceIds.length ? `none of the pairs ${sourceIds.join(', ')} is in the corpus` : 'the answer cited no pair and retrieved none' });
  // Untrusted text that speaks to a model is never shown to one.
  for (const [field, text] of [['question', q.question], ['comment', f.comment ?? '']] as const) {
    const s = screenInjection(text);
    if (s.flagged) return rejected({ origin: null, check: 'injection_user_text', reason: 'prompt_injection', detail: `${s.version}: the ${field} was not sent to a model: ${describeHits(s.hits)}`.slice(0, 400) });
  }
  const deps: CorrectionDeps = { ...ctx.correction, repo: contexts[0]!.provenance.repo };
  const research = await researchQuotes({ key: f.feedback_id, question: q.question, comment: f.comment, contexts: contexts.map((p) => p.context) }, deps);
  if (research.kind === 'invalid') return rejected({ origin: null, check: 'model_output', reason: 'schema', detail: `${deps.chat.model}, research: ${research.detail}; reply: ${research.raw.slice(0, 200)}` });
  if (!research.quotes.length) return rejected({ origin: null, check: 'research', reason: 'ungrounded', detail: `${deps.chat.model}: no cited source answers the question` });
  const source = contexts[research.source]!;
  base.source_pair = source.id;
  base.quotes = research.quotes;
  const rec = await sourceRecord(ctx.stores, source.sourceId);
  if (!rec) return rejected({ origin: null, check: 'contexts', reason: 'ungrounded', detail: `the source record ${source.sourceId} of pair ${source.id} is not stored` });
  const feedback = (origin: CorrectionOrigin): FeedbackProvenance => ({ queryId: q.query_id, feedbackId: f.feedback_id, origin, cited });
  // A person's answer is held to the quotes that are in the context: the model's misquote is not theirs.
  const verified = research.quotes.filter((x) => quoteIn(x, source.context));
  const written: { origin: CorrectionOrigin; answer: string; evidence: string[] }[] = [];
  const failed: FailedCheck[] = [];
  if (manual !== null) written.push({ origin: 'manual', answer: manual, evidence: verified.length ? verified : research.quotes });
  else {
    if (f.correction?.trim()) written.push({ origin: 'user', answer: f.correction.trim(), evidence: verified.length ? verified : research.quotes });
    const revised = await reviseAnswer({ key: f.feedback_id, question: q.question, quotes: research.quotes }, deps);
    if (revised.kind === 'answer') written.push({ origin: 'model', answer: revised.answer, evidence: research.quotes });
    else failed.push({ origin: 'model', check: 'model_output', reason: 'schema', detail: `${deps.chat.model}, revise: ${revised.detail}; reply: ${revised.raw.slice(0, 200)}` });
  }
  const disputedSet = new Set(disputed);
  let chosen: { origin: CorrectionOrigin; pair: QAPair } | null = null;
  let fallback: { origin: CorrectionOrigin; pair: QAPair } | null = null;
  for (const w of written) {
    const pair = correctionPair(rec, source, { question: q.question, answer: w.answer, evidence: w.evidence, feedback: feedback(w.origin) }, correctionGenerator(deps, w.origin));
    const checked = checkCorrection(pair, ctx.limits, ctx.live, disputedSet);
    let judge: string | null = null;
    if (!failedReasons(checked).length) {
      const j = await judgePair(checked, { chat: ctx.models.judge, prompt: ctx.judge, repo: deps.repo, minScore: ctx.judgeMinScore });
      checked.verdicts.push(j.verdict);
      judge = j.verdict.detail;
    }
    const passed = !failedReasons(checked).length;
    failed.push(...failedOf(checked, w.origin));
    base.candidates.push({ origin: w.origin, pair_id: checked.id, answer: checked.answer, passed, failed: failedOf(checked, w.origin), judge });
    if (passed && !chosen) chosen = { origin: w.origin, pair: checked };
    if (!fallback || w.origin === 'model') fallback = { origin: w.origin, pair: checked };
  }
  if (chosen) return { status: 'proposed', origin: chosen.origin, pair: chosen.pair, passed: true, disputed, detail: { ...base, failed } };
  return {
    status: 'rejected',
    origin: fallback?.origin ?? (manual !== null ? 'manual' : 'model'),
    pair: fallback?.pair ?? null,
    passed: false,
    disputed,
    detail: { ...base, rejected_by: 'check', failed },
  };
}

async function sourceRecord(stores: Stores, id: string) {
  for await (const rows of stores.scan('sources', columnsOf('sources'), `id = ${sqlString(id)}`)) if (rows.length) return sourceFromRow(rows[0]!);
  return null;
}

function rowOf(flag: Flag, r: Review): CorrectionRow {
  return {
    feedback_id: flag.feedback.feedback_id,
    query_id: flag.query.query_id,
    status: r.status,
    origin: r.origin,
    pair_id: r.passed ? r.pair!.id : null,
    pair: r.pair ? JSON.stringify(r.pair) : null,
    disputed: JSON.stringify(r.disputed),
    detail: JSON.stringify(r.detail),
    updated_at: new Date().toISOString(),
    promoted_version: null,
  };
}

export interface ProposeResult {
  /** Pending flags looked at (up to --limit). */
  looked: number;
  proposed: string[];
  rejected: string[];
  /** Flags whose query is not in the log yet: left pending for a later run. */
  waiting: string[];
  /** Left pending because the token budget ran out. */
  leftByBudget: number;
  /** Failed checks across every candidate, by check. */
  byCheck: Record<string, number>;
}

/**
 * For each pending down-rated feedback (oldest first, synthetic ones left out, at most `limit`):
 * research, revise, check, judge; one corrections row each, written as it is reviewed, so a run
 * stopped midway resumes with the rest (and its model calls come from the cache).
 */
export async function proposeCorrections(deps: ReviewDeps, opts: { limit?: number } = {}): Promise<ProposeResult> {
  const { stores } = deps;
  const corrections = await readCorrections(stores);
  const pending = (await downRated(stores)).filter((f) => !f.synthetic && !corrections.has(f.feedback_id)).slice(0, opts.limit ?? Infinity);
  const out: ProposeResult = { looked: pending.length, proposed: [], rejected: [], waiting: [], leftByBudget: 0, byCheck: {} };
  if (!pending.length) return out;
  const queries = await queriesById(stores, [...new Set(pending.map((f) => f.query_id))]);
  const ctx = openReview(deps, await liveIndex(stores));
  for (let i = 0; i < pending.length; i++) {
    const f = pending[i]!;
    const query = queries.get(f.query_id);
    if (!query) {
      out.waiting.push(f.feedback_id);
      continue;
    }
    let review: Review;
    try {
      review = await reviewFlag(ctx, { feedback: f, query }, null);
    } catch (e) {
      if (!(e instanceof BudgetExhausted)) throw e;
      out.leftByBudget = pending.length - i;
      deps.log?.warn({ left: out.leftByBudget }, `feedback propose stopped: token budget reached; ${out.leftByBudget} left pending`);
      break;
    }
    await writeCorrections(stores, [rowOf({ feedback: f, query }, review)]);
    (review.status === 'proposed' ? out.proposed : out.rejected).push(f.feedback_id);
    for (const x of review.detail.failed) out.byCheck[x.check] = (out.byCheck[x.check] ?? 0) + 1;
    // A proposal's question is now taken: a second flag of the same question is checked against it.
    if (review.passed) rememberLive(ctx.live, review.pair!);
  }
  deps.log?.info({ looked: out.looked, proposed: out.proposed.length, rejected: out.rejected.length, waiting: out.waiting.length }, `feedback: ${out.proposed.length} proposed, ${out.rejected.length} rejected`);
  return out;
}

function rememberLive(live: LiveIndex, pair: QAPair): void {
  const key = qaKey(pair.question, pair.answer);
  live.byQaKey.set(key, pair.id);
  const q = questionKey(pair.question);
  live.byQuestion.set(q, [...(live.byQuestion.get(q) ?? []), { id: pair.id, qaKey: key }]);
}

async function flagFor(stores: Stores, id: string): Promise<{ flag: Flag; correction: CorrectionRow | undefined }> {
  const feedback = await feedbackById(stores, id);
  if (feedback.rating !== 'down') throw new UserError(`feedback ${id} rates its answer up: only flagged (down-rated) answers are reviewed`);
  const query = (await queriesById(stores, [feedback.query_id])).get(feedback.query_id);
  if (!query) throw new UserError(`the query ${feedback.query_id} of feedback ${id} is not in the query log yet: try again once the server has written it`);
  return { flag: { feedback, query }, correction: (await readCorrections(stores, `feedback_id = ${sqlString(id)}`)).get(id) };
}

/** A reviewer's corrected answer: a candidate like the others (origin manual), checked and judged; proposed only if it passes. */
export async function correctManually(deps: ReviewDeps, id: string, answer: string): Promise<FeedbackDetail> {
  const text = answer.trim();
  if (!text) throw new UserError('--answer must not be empty');
  const { flag, correction } = await flagFor(deps.stores, id);
  if (correction?.status === 'accepted') throw new UserError(`feedback ${id} is already accepted (pair ${correction.pair_id}): retire that pair with \`qaforge retire\` to take it back`);
  const review = await reviewFlag(openReview(deps, await liveIndex(deps.stores)), flag, text);
  await writeCorrections(deps.stores, [rowOf(flag, review)]);
  return showFeedback(deps.stores, id);
}

export interface AcceptResult {
  feedback_id: string;
  status: 'accepted';
  pair_id: string;
  /** False when the identical pair was already staged (another feedback's correction). */
  staged: boolean;
  /** The pairs to retire when the correction is promoted. */
  disputed: string[];
}

/**
 * Marks the review accepted, then runs the corrections source (activities/corrections-source.ts),
 * which stages the pair through the sink (validated) with any accepted correction an earlier accept
 * left unstaged; its disputed pairs go at promotion.
 */
export async function acceptCorrection(stores: Stores, id: string, run: { cfg: Config; log: Logger; runId?: string }): Promise<AcceptResult> {
  const { correction: c } = await flagFor(stores, id);
  const status = reviewStatusOf(c);
  if (status === 'pending') throw new UserError(`feedback ${id} is pending: no candidate to accept (run \`qaforge feedback propose\`, or \`qaforge feedback correct ${id} --answer …\`)`);
  if (status === 'accepted') throw new UserError(`feedback ${id} is already accepted (pair ${c!.pair_id})`);
  const detail = JSON.parse(c!.detail) as CorrectionDetail;
  if (status === 'rejected') {
    const by = detail.rejected_by === 'reviewer' ? `by a reviewer${detail.reason ? ` (${detail.reason})` : ''}` : `by check ${[...new Set(detail.failed.map((x) => x.check))].join(', ')}`;
    throw new UserError(`feedback ${id} was rejected ${by}: no candidate passed to accept (give one with \`qaforge feedback correct ${id} --answer …\`)`);
  }
  const pair = QAPair.parse(JSON.parse(c!.pair!));
  const inStaging = async () => (await stores.count('staging', `id = ${sqlString(pair.id)}`)) > 0;
  const already = await inStaging();
  const now = new Date().toISOString();
  await writeCorrections(stores, [{ ...c!, status: 'accepted', updated_at: now, detail: JSON.stringify({ ...detail, accepted_at: now, ...(already ? { already_staged: true } : {}) }) }]);
  await runCorrections(stores, run.cfg, run.log, run.runId ?? `feedback-accept-${id}`);
  const staged = !already && (await inStaging());
  // Checked against the live pairs when it was proposed, the pair may since meet one asking its question.
  if (!already && !staged) run.log.warn({ feedback: id, pair: pair.id }, `feedback ${id}: the corrected pair was rejected at staging (see \`qaforge show ${pair.id}\`)`);
  return { feedback_id: id, status: 'accepted', pair_id: pair.id, staged, disputed: JSON.parse(c!.disputed) as string[] };
}

/** Rejects a flag's review (pending or proposed): nothing is staged; the reason is kept. */
export async function rejectCorrection(stores: Stores, id: string, reason: string | null): Promise<FeedbackDetail> {
  const { flag, correction: c } = await flagFor(stores, id);
  if (c?.status === 'accepted') throw new UserError(`feedback ${id} is already accepted (pair ${c.pair_id}): retire that pair with \`qaforge retire\` instead`);
  const detail: CorrectionDetail = c ? (JSON.parse(c.detail) as CorrectionDetail) : { failed: [], candidates: [], source_pair: null, quotes: [], models: null };
  await writeCorrections(stores, [
    {
      feedback_id: id,
      query_id: flag.query.query_id,
      status: 'rejected',
      origin: c?.origin ?? 'manual',
      pair_id: null,
      pair: c?.pair ?? null,
      disputed: c?.disputed ?? JSON.stringify(citedPairIds(flag.query.citations)),
      detail: JSON.stringify({ ...detail, rejected_by: 'reviewer', reason }),
      updated_at: new Date().toISOString(),
      promoted_version: null,
    },
  ]);
  return showFeedback(stores, id);
}

/** Accepted corrections in all (what the feedback workflow counts toward a retrain). */
export const acceptedCount = (stores: Stores): Promise<number> => stores.count('corrections', "status = 'accepted'");
