// Workflows: deterministic orchestration only. Every step that touches git, GitHub or LanceDB is an
// activity (activities/temporal.ts); what passes between them is small (flags, counts, ids).
import { ActivityCancellationType, CancellationScope, condition, continueAsNew, defineQuery, isCancellation, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities, ExtractedBatch, RetrainDue, RetrainMark, SourcesSummary } from '../activities/temporal.js';
import type { GateResult } from '../datasets/gates.js';
import type { EvalGateResult } from '../evals/gate.js';
import type { ConfigInput } from '../lib/config.js';
import type { ProposeResult } from '../serve/corrections.js';

const RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['UserError'] };

/** Activities with a heartbeat: a worker that dies is noticed within `heartbeatSeconds` and the step retried elsewhere. */
const activities = (heartbeatSeconds: number, more: { taskQueue?: string; cancellationType?: ActivityCancellationType } = {}) =>
  proxyActivities<Activities>({ startToCloseTimeout: '2 hours', heartbeatTimeout: `${heartbeatSeconds} seconds`, retry: RETRY, ...more });
const quick = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry: RETRY });

export interface PipelineInput {
  flags: Partial<ConfigInput>;
  /** Promote when at least this many validated pairs wait in staging (0: always). */
  promoteAt: number;
  /** Default 60. */
  heartbeatSeconds?: number;
}

export interface PromotionOutcome {
  gates: GateResult;
  promotion: { promoted: number; version: number; active: number } | null;
  /** The retrieval eval of the promoted version; a failed one has rolled the corpus back. */
  evalGate?: EvalGateResult | null;
  snapshot: { path: string; files: string[]; rows: number } | null;
  fineTune: { kind: string; detail: string } | null;
}

export interface PipelineResult extends PromotionOutcome {
  run: SourcesSummary;
  staged: number;
  /** Kept for callers of the first version: the promotion, or null when it did not happen. */
  promoted: { promoted: number; version: number; active: number } | null;
}

/**
 * Gates → promote (merge-insert with embeddings, full-text and vector re-index) → eval gate (rollback
 * on a regression) → snapshot export → fine-tune trigger.
 */
async function promoteSteps(flags: Partial<ConfigInput>, runId: string): Promise<PromotionOutcome> {
  const gates = await quick.checkGates({ flags });
  if (!gates.passed) return { gates, promotion: null, snapshot: null, fineTune: null };
  // Embedding a large batch takes longer than the quick steps: the promote activity heartbeats.
  const promotion = await activities(60).promote({ flags, runId });
  if (!promotion.promoted) return { gates, promotion, snapshot: null, fineTune: null };
  // Workflows started before the eval gate existed replay without it.
  const evalGate = patched('eval-gate') ? await activities(60).evalGate({ flags, version: promotion.version, runId }) : null;
  if (evalGate && !evalGate.passed) return { gates, promotion, evalGate, snapshot: null, fineTune: null };
  const snapshot = await quick.snapshot({ flags, version: promotion.version });
  const fineTune = await quick.fineTune({ flags, version: promotion.version, active: promotion.active, promoted: promotion.promoted, snapshot });
  return { gates, promotion, evalGate, snapshot, fineTune };
}

async function pipeline(input: PipelineInput, incremental: boolean): Promise<PipelineResult> {
  const run = await activities(input.heartbeatSeconds ?? 60).runSources({ flags: input.flags, incremental });
  const staged = await quick.stagedCount({ flags: input.flags });
  const steps: PromotionOutcome =
    staged > 0 && staged >= input.promoteAt
      ? await promoteSteps(input.flags, `${workflowInfo().workflowId}/${run.runId}`)
      : { gates: { passed: false, reasons: [`${staged} validated pairs waiting, fewer than promoteAt ${input.promoteAt}`], batch: { since: null, validated: staged, rejected: 0, duplicates: 0 } }, promotion: null, snapshot: null, fineTune: null };
  return { run, staged, ...steps, promoted: steps.promotion };
}

/** Promotion alone, behind the quality gates: what `qaforge promote --via-temporal` runs. */
export async function promoteWorkflow(input: { flags: Partial<ConfigInput> }): Promise<PromotionOutcome> {
  return promoteSteps(input.flags, workflowInfo().workflowId);
}

/** One incremental pass over all sources from the cursors, then promotion past the threshold. */
export async function ingestWorkflow(input: PipelineInput): Promise<PipelineResult> {
  return pipeline(input, true);
}

export interface FeedbackInput {
  flags: Partial<ConfigInput>;
  /** At most this many new flags reviewed per run (default: all). */
  limit?: number;
  /** Default 60. */
  heartbeatSeconds?: number;
}

export interface FeedbackResult extends RetrainDue {
  proposals: ProposeResult;
  /** The gated promotion, run once enough corrections were accepted since the last retrain; else null. */
  steps: PromotionOutcome | null;
  /** Set when this run retrained (promoted and triggered the fine-tune): the count starts again. */
  retrain: RetrainMark | null;
}

/**
 * The feedback loop: corrections proposed for new flags (checked and judged), then — once the
 * accepted corrections since the last retrain reach feedback.retrainAt — the same gated promotion
 * as ingestion (it retires what the corrections dispute), recorded as a retrain.
 */
export async function feedbackWorkflow(input: FeedbackInput): Promise<FeedbackResult> {
  const proposals = await activities(input.heartbeatSeconds ?? 60).proposeCorrections({ flags: input.flags, limit: input.limit });
  const due = await quick.feedbackRetrainDue({ flags: input.flags });
  if (due.sinceRetrain < due.retrainAt) return { proposals, ...due, steps: null, retrain: null };
  const { workflowId } = workflowInfo();
  const steps = await promoteSteps(input.flags, `${workflowId}/feedback`);
  // Gates failed, nothing promoted or the eval gate rolled it back: no retrain, the count goes on.
  const retrain = steps.fineTune ? await quick.recordRetrain({ flags: input.flags, accepted: due.accepted, version: steps.promotion?.version ?? null, workflowId }) : null;
  return { proposals, ...due, steps, retrain };
}

export interface BackfillProgress {
  phase: 'planning' | 'code' | 'other sources' | 'promotion' | 'done';
  sha: string | null;
  /** Code batches committed into staging, of `batches`. */
  batchesDone: number;
  batches: number;
  /** Code batches being extracted right now (on any workers), and extracted ones waiting for their commit. */
  batchesInFlight?: number;
  batchesExtracted?: number;
  /** Pairs staged so far. */
  staged: number;
  /** When the first run of this backfill started, and when its code phase did (epoch ms; for rate and ETA). */
  startedAt?: number;
  codeStartedAt?: number | null;
}

export const progressQuery = defineQuery<BackfillProgress>('progress');

export interface BackfillInput extends PipelineInput {
  /** Code files per batch (default 400). */
  batchFiles?: number;
  /** Batches per workflow run before it continues as new, keeping its history small (default 20). */
  batchesPerRun?: number;
  /**
   * Code batches extracted at once (default 4): each is an activity any worker of the task queue may
   * run, so N workers share a backfill. They write staging fragments; one commit at a time moves them
   * into staging in batch order, so the corpus is the one a single worker makes.
   */
  concurrentBatches?: number;
  /**
   * The task queue the code batches are extracted on (default: the workflow's). `qaforge worker`
   * polls `<task queue>-batches` with one batch at a time per worker (QAFORGE_WORKER_BATCHES), so the
   * batches spread over the workers instead of piling up on the first one; the CLI sets it.
   */
  batchTaskQueue?: string;
  /** Carried over by continueAsNew. */
  carry?: BackfillProgress;
  carryRun?: SourcesSummary;
}

/**
 * A whole backfill, cut into batches of code files — each one activity with heartbeats — then the
 * other sources, then promotion. Every `batchesPerRun` batches it continues as a new run, so its
 * history stays small; the `progress` query says where it is.
 */
export async function backfillWorkflow(input: BackfillInput): Promise<PipelineResult> {
  const progress: BackfillProgress = input.carry ?? { phase: 'planning', sha: null, batchesDone: 0, batches: 0, staged: 0 };
  setHandler(progressQuery, () => progress);
  const sources = input.flags.sources ?? ['code', 'commits', 'docs', 'prs', 'issues'];
  const act = activities(input.heartbeatSeconds ?? 60);
  if (!progress.sha) {
    const plan = await quick.planBackfill({ flags: input.flags });
    progress.sha = plan.sha;
    progress.batches = sources.includes('code') && plan.codeFiles ? Math.ceil(plan.codeFiles / (input.batchFiles ?? 400)) : 0;
    progress.phase = progress.batches ? 'code' : 'other sources';
  }
  const flags = { ...input.flags, rev: progress.sha };
  let total: SourcesSummary = input.carryRun ?? emptySummary(progress.sha);
  // Histories recorded before the fan-out replay the sequential loop below.
  const fanOut = progress.phase === 'code' && patched('fanout-batches');
  try {
    if (fanOut) {
      progress.startedAt ??= workflowInfo().runStartTime.getTime();
      progress.codeStartedAt ??= Date.now();
      const end = Math.min(progress.batches, progress.batchesDone + (input.batchesPerRun ?? 20));
      // A cancelled backfill waits for the batches in flight to end (so a batch is in staging whole or not at all).
      const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;
      const extract = activities(input.heartbeatSeconds ?? 60, { taskQueue: input.batchTaskQueue, cancellationType });
      const commit = activities(input.heartbeatSeconds ?? 60, { cancellationType });
      total = await fanOutBatches(progress, end, Math.max(1, input.concurrentBatches ?? 4), flags, { extract, commit }, total);
      if (progress.batchesDone < progress.batches) {
        // Let a query see the state before the new run starts.
        await condition(() => true);
        return continueAsNew<typeof backfillWorkflow>({ ...input, carry: progress, carryRun: total });
      }
    }
    let thisRun = 0;
    while (progress.phase === 'code' && progress.batchesDone < progress.batches) {
      if (thisRun === (input.batchesPerRun ?? 20)) {
        // Let a query see the state before the new run starts.
        await condition(() => true);
        return continueAsNew<typeof backfillWorkflow>({ ...input, carry: progress, carryRun: total });
      }
      const batch = await act.runSources({ flags: { ...flags, sources: ['code'] }, incremental: false, slice: { index: progress.batchesDone, count: progress.batches } });
      total = addSummary(total, batch);
      progress.staged += batch.staged;
      progress.batchesDone++;
      thisRun++;
    }
    if (progress.phase === 'code') {
      await quick.finishBackfill({ flags, sha: progress.sha });
      if (patched('fanout-batches')) await quick.dropFragments({ flags });
      progress.phase = 'other sources';
    }
  } catch (e) {
    // Cancelled anywhere in the code phase — batches in flight, between two runs, while finishing —
    // the backfill's fragments go with it.
    if (fanOut && isCancellation(e)) await CancellationScope.nonCancellable(() => quick.dropFragments({ flags }));
    throw e;
  }
  const others = sources.filter((s) => s !== 'code');
  if (others.length) {
    const rest = await act.runSources({ flags: { ...flags, sources: others }, incremental: false });
    total = addSummary(total, rest);
    progress.staged += rest.staged;
  }
  progress.phase = 'promotion';
  const staged = await quick.stagedCount({ flags });
  const steps: PromotionOutcome =
    staged > 0 && staged >= input.promoteAt ? await promoteSteps(flags, `${workflowInfo().workflowId}/backfill`) : { gates: { passed: false, reasons: [`${staged} validated pairs waiting, fewer than promoteAt ${input.promoteAt}`], batch: { since: null, validated: staged, rejected: 0, duplicates: 0 } }, promotion: null, snapshot: null, fineTune: null };
  progress.phase = 'done';
  return { run: total, staged, ...steps, promoted: steps.promotion };
}

/**
 * Code batches `progress.batchesDone` … `end - 1`: up to `limit` extracted at once (extractBatch, on
 * any worker), never more than 2 × `limit` ahead of the commits; each committed (commitBatch) as soon
 * as it and every batch before it are extracted, one at a time, in batch order.
 */
async function fanOutBatches(
  progress: BackfillProgress,
  end: number,
  limit: number,
  flags: Partial<ConfigInput>,
  act: { extract: ReturnType<typeof activities>; commit: ReturnType<typeof activities> },
  total: SourcesSummary,
): Promise<SourcesSummary> {
  const extracted = new Map<number, Promise<ExtractedBatch>>();
  let next = progress.batchesDone;
  let inFlight = 0;
  let waiting = 0;
  // Called whenever a slot may have opened: at the start, when an extraction ends, after a commit.
  const launch = (): void => {
    while (next < end && inFlight < limit && next < progress.batchesDone + 2 * limit) {
      const index = next++;
      inFlight++;
      const p = act.extract.extractBatch({ flags: { ...flags, sources: ['code'] }, slice: { index, count: progress.batches } });
      extracted.set(index, p);
      // A failed batch fails the workflow when its turn to commit comes; until then it is handled here.
      p.then(
        () => {
          waiting++;
        },
        () => undefined,
      ).finally(() => {
        inFlight--;
        progress.batchesExtracted = waiting;
        launch();
      });
    }
    progress.batchesInFlight = inFlight;
  };
  const committing = new Set<Promise<SourcesSummary>>();
  try {
    launch();
    while (progress.batchesDone < end) {
      const index = progress.batchesDone;
      const batch = await extracted.get(index)!;
      extracted.delete(index);
      const c = act.commit.commitBatch({ flags, batch });
      committing.add(c);
      const committed = await c;
      committing.delete(c);
      waiting--;
      total = addSummary(total, committed);
      progress.staged += committed.staged;
      progress.batchesDone++;
      progress.batchesExtracted = waiting;
      launch();
    }
    return total;
  } catch (e) {
    // The caller drops the fragments once the batches in flight have ended.
    if (isCancellation(e)) await CancellationScope.nonCancellable(() => Promise.allSettled([...extracted.values(), ...committing]));
    throw e;
  }
}

/** Two runs' summaries as one: counts added, the later run's id, repo and source lines appended. */
function addSummary(a: SourcesSummary, b: SourcesSummary): SourcesSummary {
  const symbols = { ...a.symbols };
  for (const [k, v] of Object.entries(b.symbols)) symbols[k] = (symbols[k] ?? 0) + v;
  const sum = (k: 'files' | 'bytes' | 'staged' | 'rejected' | 'retired' | 'alreadyKnown' | 'nearDuplicates' | 'seconds') => a[k] + b[k];
  return {
    runId: b.runId,
    repo: b.repo || a.repo,
    sha: b.sha || a.sha,
    symbols,
    files: sum('files'),
    bytes: sum('bytes'),
    staged: sum('staged'),
    rejected: sum('rejected'),
    retired: sum('retired'),
    alreadyKnown: sum('alreadyKnown'),
    nearDuplicates: sum('nearDuplicates'),
    seconds: sum('seconds'),
    outcomes: [a.outcomes, b.outcomes].filter(Boolean).join('\n'),
  };
}

const emptySummary = (sha: string): SourcesSummary => ({
  runId: '',
  repo: '',
  sha,
  files: 0,
  bytes: 0,
  symbols: {},
  staged: 0,
  rejected: 0,
  retired: 0,
  alreadyKnown: 0,
  nearDuplicates: 0,
  outcomes: '',
  seconds: 0,
});
