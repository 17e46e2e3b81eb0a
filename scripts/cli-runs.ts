// `qaforge runs list|status|cancel`: the backfill and ingest workflows on the Temporal server of a
// data dir (TEMPORAL_ADDRESS, or the dev server `--via-temporal --detach` left running), and
// `repoOfDataDir`: which repository `qaforge ingest` without --repo continues.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { Command } from 'commander';
import { Stores } from '../datasets/store.js';
import type { Config } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import type { BackfillProgress, PipelineResult } from '../workflows/index.js';
import { context, positiveInt, print } from './cli-common.js';

const TYPES = ['backfillWorkflow', 'ingestWorkflow'] as const;

export interface RunRow {
  workflowId: string;
  type: string;
  status: string;
  start: string;
  close: string | null;
  /** Workflow runs (executions) under this id: more than one when it continued as new. */
  runs: number;
}

// Temporal's client loads only when a `runs` command talks to the server: every other command starts faster.
const temporalClient = () => import('@temporalio/client');

async function withClient<T>(cfg: Config, fn: (client: Client, connection: Connection, address: string) => Promise<T>): Promise<T> {
  const { connectionOptions, temporalAddressOf } = await import('./temporal-worker.js');
  const address = await temporalAddressOf(cfg, 'qaforge runs');
  const { Client, Connection } = await temporalClient();
  const connection = await Connection.connect(connectionOptions(cfg, address)).catch((e: Error) => {
    throw new UserError(`cannot reach the Temporal server at ${address}: ${e.message}`);
  });
  try {
    return await fn(new Client({ connection, namespace: cfg.temporalNamespace }), connection, address);
  } finally {
    await connection.close();
  }
}

/** Recent backfill and ingest workflows, newest first; a workflow that continued as new is one row. */
export async function listRuns(client: Client, limit: number): Promise<RunRow[]> {
  const byId = new Map<string, { type: string; execs: { status: string; start: Date; close: Date | null }[] }>();
  const query = TYPES.map((t) => `WorkflowType = '${t}'`).join(' OR ');
  let seen = 0;
  for await (const w of client.workflow.list({ query })) {
    const g = byId.get(w.workflowId) ?? { type: w.type, execs: [] };
    g.execs.push({ status: w.status.name, start: w.startTime, close: w.closeTime ?? null });
    byId.set(w.workflowId, g);
    if (++seen >= limit * 25) break;
  }
  const rows = [...byId].map(([workflowId, g]): RunRow => {
    const execs = g.execs.sort((a, b) => a.start.getTime() - b.start.getTime());
    const last = execs.at(-1)!;
    return { workflowId, type: g.type, status: last.status, start: execs[0]!.start.toISOString(), close: last.close?.toISOString() ?? null, runs: execs.length };
  });
  return rows.sort((a, b) => b.start.localeCompare(a.start)).slice(0, limit);
}

const formatTable = (head: string[], rows: string[][]): string => {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join('  ').trimEnd()).join('\n');
};

export interface RunStatus {
  workflowId: string;
  type: string;
  status: string;
  start: string;
  close: string | null;
  /** A running backfill's progress query, with rate and ETA (null when no worker answered it). */
  progress: (BackfillProgress & { pairsPerSecond: number | null; batchesPerMinute: number | null; eta: string | null; etaSeconds: number | null }) | null;
  /** Why there is no progress: an ingest has no progress query, or no worker answered in time. */
  note: string | null;
  /** The activities running now (type, attempt). */
  pending: { activity: string; attempt: number }[];
  /** A completed run's result summary. */
  result: { files: number; staged: number; rejected: number; retired: number; alreadyKnown: number; promoted: number | null; version: number | null; gates: string[] } | null;
  /** A failed run's cause. */
  failure: string | null;
}

const innermost = async (e: unknown): Promise<string> => {
  const { WorkflowFailedError } = await temporalClient();
  let c: unknown = e instanceof WorkflowFailedError ? e.cause : e;
  while (c instanceof Error && c.cause) c = c.cause;
  return c instanceof Error ? c.message : String(c);
};

async function notFound<T>(id: string, address: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const { WorkflowNotFoundError } = await temporalClient();
    if (e instanceof WorkflowNotFoundError || (e instanceof Error && /not found/i.test(e.message))) throw new UserError(`no workflow ${id} on ${address} (\`qaforge runs list\` shows the recent ones)`);
    throw e;
  }
}

export async function runStatus(client: Client, connection: Connection, handle: WorkflowHandle, address: string, now = Date.now()): Promise<RunStatus> {
  const d = await notFound(handle.workflowId, address, () => handle.describe());
  const out: RunStatus = {
    workflowId: handle.workflowId,
    type: d.type,
    status: d.status.name,
    start: d.startTime.toISOString(),
    close: d.closeTime?.toISOString() ?? null,
    progress: null,
    note: null,
    pending: (d.raw.pendingActivities ?? []).map((a) => ({ activity: a.activityType?.name ?? '?', attempt: a.attempt ?? 1 })),
    result: null,
    failure: null,
  };
  if (d.status.name === 'RUNNING') {
    if (d.type !== 'backfillWorkflow') {
      out.note = `${d.type} has no progress query: its running activities are listed`;
      return out;
    }
    // A query is answered by a worker: without one it would wait, so it gets a few seconds.
    const p = await connection.withDeadline(now + 5000, () => handle.query<BackfillProgress>('progress')).catch(() => null);
    if (!p) {
      out.note = 'no worker answered the progress query within 5 s: is a `qaforge worker` running on this task queue?';
      return out;
    }
    const since = p.startedAt ?? d.startTime.getTime();
    const seconds = Math.max(1, (now - since) / 1000);
    const codeSeconds = p.codeStartedAt ? Math.max(1, (now - p.codeStartedAt) / 1000) : null;
    const batchesPerMinute = codeSeconds && p.batchesDone ? (p.batchesDone / codeSeconds) * 60 : null;
    const etaSeconds = batchesPerMinute && p.phase === 'code' ? Math.round(((p.batches - p.batchesDone) / batchesPerMinute) * 60) : null;
    out.progress = {
      ...p,
      pairsPerSecond: p.staged ? p.staged / seconds : null,
      batchesPerMinute,
      etaSeconds,
      eta: etaSeconds !== null ? new Date(now + etaSeconds * 1000).toISOString() : null,
    };
    return out;
  }
  if (d.status.name === 'COMPLETED') {
    const r = (await handle.result()) as PipelineResult;
    out.result = {
      files: r.run.files,
      staged: r.run.staged,
      rejected: r.run.rejected,
      retired: r.run.retired,
      alreadyKnown: r.run.alreadyKnown,
      promoted: r.promotion?.promoted ?? null,
      version: r.promotion?.version ?? null,
      gates: r.gates.passed ? [] : r.gates.reasons,
    };
  } else if (d.status.name === 'FAILED') {
    out.failure = await handle.result().then(
      () => null,
      (e) => innermost(e),
    );
  }
  return out;
}

const duration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`);

export function formatStatus(s: RunStatus): string {
  const lines = [`${s.workflowId}  ${s.type}  ${s.status}  started ${s.start}${s.close ? `  closed ${s.close}` : ''}`];
  const p = s.progress;
  if (p) {
    const code = p.batches ? `${p.batchesDone}/${p.batches} code batches committed, ${p.batchesInFlight ?? 0} extracting, ${p.batchesExtracted ?? 0} extracted and not committed yet` : 'no code batches';
    lines.push(`phase    ${p.phase}${p.sha ? ` at ${p.sha.slice(0, 12)}` : ''}: ${code}`);
    lines.push(`staged   ${p.staged} pairs${p.pairsPerSecond !== null ? ` (${p.pairsPerSecond.toFixed(1)} pairs/s)` : ''}`);
    lines.push(`rate     ${p.batchesPerMinute !== null ? `${p.batchesPerMinute.toFixed(2)} batches/min` : '-'}; ETA ${p.eta ? `${p.eta} (in ${duration(p.etaSeconds!)}, code batches)` : '-'}`);
  }
  if (s.pending.length) lines.push(`running  ${s.pending.map((a) => `${a.activity}${a.attempt > 1 ? ` (attempt ${a.attempt})` : ''}`).join(', ')}`);
  if (s.note) lines.push(`note     ${s.note}`);
  const r = s.result;
  if (r)
    lines.push(
      `result   ${r.files} files, ${r.staged} staged, ${r.rejected} rejected, ${r.alreadyKnown} known, ${r.retired} retired; ` +
        (r.promoted !== null ? `promoted ${r.promoted} → corpus version ${r.version}` : `not promoted${r.gates.length ? ` (${r.gates.join('; ')})` : ''}`),
    );
  if (s.failure) lines.push(`failure  ${s.failure}`);
  return lines.join('\n');
}

export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('backfill and ingest workflows on TEMPORAL_ADDRESS (or the dev server left running by --via-temporal --detach): list, status, cancel');

  runs
    .command('list')
    .description('recent backfill and ingest workflows, newest first: id, type, status, start, close')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 20)
    .option('--json', 'print JSON')
    .action(async (o: { limit: number; json?: boolean }, cmd: Command) => {
      const { cfg } = context(cmd);
      const rows = await withClient(cfg, (client) => listRuns(client, o.limit));
      if (o.json) return print(rows);
      if (!rows.length) return print('no backfill or ingest workflows yet (`qaforge backfill --via-temporal --detach` starts one)');
      print(formatTable(['id', 'type', 'status', 'start', 'close'], rows.map((r) => [r.workflowId, r.type.replace('Workflow', ''), r.status, r.start, r.close ?? '-'])));
    });

  runs
    .command('status <id>')
    .description("a workflow's state: a running backfill's progress (phase, batches committed of total, in flight, pairs staged, rate, ETA), a closed one's result")
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }, cmd: Command) => {
      const { cfg } = context(cmd);
      const s = await withClient(cfg, (client, connection, address) => runStatus(client, connection, client.workflow.getHandle(id), address));
      print(o.json ? s : formatStatus(s));
    });

  runs
    .command('cancel <id>')
    .description('cancel a running workflow (its running activities finish or stop; a backfill removes its staging fragments)')
    .option('--wait <seconds>', 'wait this long for it to close', positiveInt('--wait'), 30)
    .action(async (id: string, o: { wait: number }, cmd: Command) => {
      const { cfg } = context(cmd);
      await withClient(cfg, async (client, _c, address) => {
        const handle = client.workflow.getHandle(id);
        const d = await notFound(id, address, () => handle.describe());
        if (d.status.name !== 'RUNNING') throw new UserError(`${id} is not running: it is ${d.status.name}`);
        await handle.cancel();
        let status: string = d.status.name;
        for (const end = Date.now() + o.wait * 1000; status === 'RUNNING' && Date.now() < end; await new Promise((ok) => setTimeout(ok, 500))) status = (await handle.describe()).status.name;
        print(status === 'RUNNING' ? `cancel requested for ${id}: still RUNNING after ${o.wait} s (a worker closes it when it next runs the workflow)` : `${id} ${status}`);
      });
    });
}

/**
 * The repository a data dir was backfilled from: the latest run (the `runs` table) of a repository
 * that has a cursor (`cursor:<source>:<repo>`, datasets/state-keys.ts). A clone under the data dir
 * is continued from its origin URL (so it is fetched again), a local repository from its path.
 */
export async function repoOfDataDir(cfg: Config): Promise<{ label: string; spec: string; others: string[] }> {
  const stores = await Stores.openFor(cfg);
  try {
    const labels = new Set(Object.keys(await stores.stateWithPrefix('cursor:')).map((k) => k.split(':').slice(2).join(':')));
    let best: { label: string; path: string; at: string } | null = null;
    for await (const rows of stores.scan('runs', ['repo', 'finished_at', 'stats']))
      for (const r of rows) {
        const label = r.repo as string;
        if (labels.size && !labels.has(label)) continue;
        const at = r.finished_at as string;
        if (best && best.at >= at) continue;
        const path = (JSON.parse(r.stats as string) as { repo?: { path?: string } }).repo?.path;
        if (path) best = { label, path, at };
      }
    if (!best) throw new UserError(`no --repo given, and the data dir ${cfg.dataDir} holds no backfill to continue: run \`qaforge backfill --repo <path|url>\` first`);
    const others = [...labels].filter((l) => l !== best!.label);
    const dataDir = resolve(cfg.dataDir);
    if (!existsSync(best.path)) throw new UserError(`${best.label} was backfilled from ${best.path}, which is gone: give --repo`);
    if (best.path.startsWith(dataDir + sep)) {
      try {
        const origin = execFileSync('git', ['config', '--get', 'remote.origin.url'], { cwd: best.path, encoding: 'utf8' }).trim();
        if (origin) return { label: best.label, spec: origin, others };
      } catch {
        // no origin: continue from the clone itself
      }
    }
    return { label: best.label, spec: best.path, others };
  } finally {
    stores.close();
  }
}
