// Workflows: deterministic orchestration only. Every step that touches git, GitHub or LanceDB is an
// activity (activities/temporal.ts); what passes between them is small (flags, counts, ids).
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, SourcesSummary } from '../activities/temporal.js';
import type { GateResult } from '../datasets/gates.js';
import type { ConfigInput } from '../lib/config.js';

const RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['UserError'] };

/** Activities with a heartbeat: a worker that dies is noticed within `heartbeatSeconds` and the step retried elsewhere. */
const activities = (heartbeatSeconds: number) =>
  proxyActivities<Activities>({ startToCloseTimeout: '2 hours', heartbeatTimeout: `${heartbeatSeconds} seconds`, retry: RETRY });
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
  snapshot: { path: string; files: string[]; rows: number } | null;
  fineTune: { kind: string; detail: string } | null;
}

export interface PipelineResult extends PromotionOutcome {
  run: SourcesSummary;
  staged: number;
  /** Kept for callers of the first version: the promotion, or null when it did not happen. */
  promoted: { promoted: number; version: number; active: number } | null;
}

/** Gates → promote (merge-insert, full-text re-index) → snapshot export → fine-tune trigger. */
async function promoteSteps(flags: Partial<ConfigInput>, runId: string): Promise<PromotionOutcome> {
  const gates = await quick.checkGates({ flags });
  if (!gates.passed) return { gates, promotion: null, snapshot: null, fineTune: null };
  const promotion = await quick.promote({ flags, runId });
  if (!promotion.promoted) return { gates, promotion, snapshot: null, fineTune: null };
  const snapshot = await quick.snapshot({ flags, version: promotion.version });
  const fineTune = await quick.fineTune({ flags, version: promotion.version, active: promotion.active, promoted: promotion.promoted, snapshot });
  return { gates, promotion, snapshot, fineTune };
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

/** A whole backfill of the chosen sources, then promotion. */
export async function backfillWorkflow(input: PipelineInput): Promise<PipelineResult> {
  return pipeline(input, false);
}
