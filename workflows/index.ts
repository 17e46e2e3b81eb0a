// Workflows: deterministic orchestration only. Every step that touches git, GitHub or LanceDB is an
// activity (activities/temporal.ts); what passes between them is small (flags, counts, ids).
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, SourcesSummary } from '../activities/temporal.js';
import type { ConfigInput } from '../lib/config.js';

const { runSources, stagedCount, promote } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['UserError'] },
});

export interface PipelineInput {
  flags: Partial<ConfigInput>;
  /** Promote when at least this many validated pairs wait in staging (0: always). */
  promoteAt: number;
}

export interface PipelineResult {
  run: SourcesSummary;
  staged: number;
  promoted: { promoted: number; version: number; active: number } | null;
}

async function pipeline(input: PipelineInput, incremental: boolean): Promise<PipelineResult> {
  const run = await runSources({ flags: input.flags, incremental });
  const staged = await stagedCount({ flags: input.flags });
  const promoted = staged > 0 && staged >= input.promoteAt ? await promote({ flags: input.flags, runId: `${workflowInfo().workflowId}/${run.runId}` }) : null;
  return { run, staged, promoted };
}

/** One incremental pass over all sources from the cursors, then promotion past the threshold. */
export async function ingestWorkflow(input: PipelineInput): Promise<PipelineResult> {
  return pipeline(input, true);
}

/** A whole backfill of the chosen sources, then promotion. */
export async function backfillWorkflow(input: PipelineInput): Promise<PipelineResult> {
  return pipeline(input, false);
}
