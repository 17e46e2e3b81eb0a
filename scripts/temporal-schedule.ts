// Schedules on a Temporal server: continuous ingestion (ingestWorkflow) or the feedback loop
// (feedbackWorkflow), started every interval, never two at once (an overlapping start is skipped).
// Workers (`qaforge worker`) do the work.
import { Client, Connection, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Config, ConfigInput } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import type { FeedbackInput, PipelineInput } from '../workflows/index.js';
import { connectionOptions } from './temporal-worker.js';

export type ScheduleAction = 'create' | 'pause' | 'unpause' | 'trigger' | 'describe' | 'delete';

export const SCHEDULED_WORKFLOWS = ['ingest', 'feedback'] as const;
export type ScheduledWorkflow = (typeof SCHEDULED_WORKFLOWS)[number];

/** A schedule's id when none is given: one per workflow. */
export const defaultScheduleId = (workflow: ScheduledWorkflow) => `qaforge-${workflow}`;

export interface ScheduleInfo {
  id: string;
  /** The workflow it starts: ingestWorkflow or feedbackWorkflow. */
  workflow: string | null;
  paused: boolean;
  every: string[];
  runs: number;
  recent: { workflowId: string; startedAt: string }[];
  next: string[];
}

export async function manageSchedule(
  cfg: Config,
  action: ScheduleAction,
  opts: { id: string; every: string; flags: Partial<ConfigInput>; promoteAt: number; workflow?: ScheduledWorkflow; limit?: number },
): Promise<ScheduleInfo | null> {
  if (!cfg.temporalAddress) throw new UserError('a Schedule needs a running Temporal server: set TEMPORAL_ADDRESS (host:port) and run `qaforge worker` against it');
  const connection = await Connection.connect(connectionOptions(cfg, cfg.temporalAddress));
  try {
    const client = new Client({ connection, namespace: cfg.temporalNamespace });
    const handle = client.schedule.getHandle(opts.id);
    if (action === 'create') {
      const feedback = opts.workflow === 'feedback';
      const input: PipelineInput | FeedbackInput = feedback ? { flags: opts.flags, ...(opts.limit ? { limit: opts.limit } : {}) } : { flags: opts.flags, promoteAt: opts.promoteAt };
      await client.schedule.create({
        scheduleId: opts.id,
        spec: { intervals: [{ every: opts.every as `${number}s` }] },
        action: { type: 'startWorkflow', workflowType: feedback ? 'feedbackWorkflow' : 'ingestWorkflow', taskQueue: cfg.taskQueue, args: [input], workflowId: `${opts.id}-run` },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      });
    } else if (action === 'pause') await handle.pause('paused with qaforge schedule pause');
    else if (action === 'unpause') await handle.unpause('unpaused with qaforge schedule unpause');
    else if (action === 'trigger') await handle.trigger(ScheduleOverlapPolicy.SKIP);
    else if (action === 'delete') {
      await handle.delete();
      return null;
    }
    const d = await handle.describe();
    return {
      id: opts.id,
      workflow: d.action.type === 'startWorkflow' ? String(d.action.workflowType) : null,
      paused: d.state.paused,
      every: (d.spec.intervals ?? []).map((i) => `${Number(i.every) / 1000}s`),
      runs: d.info.numActionsTaken,
      recent: d.info.recentActions.map((a) => ({ workflowId: a.action.workflow.workflowId, startedAt: a.takenAt.toISOString() })),
      next: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    };
  } catch (e) {
    if (e instanceof ScheduleNotFoundError) throw new UserError(`no schedule ${opts.id} on ${cfg.temporalAddress}: create it with \`qaforge schedule create\``);
    throw e;
  } finally {
    await connection.close();
  }
}
