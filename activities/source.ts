// One shape for every source of a run (code, docs, commits, PRs and issues, the model step) and
// the one runner that does what is the same for all of them: stage stats (seen / kept / rejected by
// reason / seconds), writing skips, handing records and pairs to the sink, watching and retiring a
// group's pairs, moving the cursor, the outcome line. A source only says what its units are and
// what each one yields. A pipeline is a list of sources (activities/backfill.ts).
import type { QAPair, SkipRecord, SourceKind, SourceRecord } from '../datasets/schemas.js';
import { failpoint } from '../lib/failpoint.js';
import { StageStats, startProgress } from '../lib/progress.js';
import { validateCandidate } from '../validators/checks.js';
import type { DedupKeys } from '../validators/dedup.js';
import { extractError } from './code-batch.js';
import { advanceCursor, forgetPairs, reconcile, sinkDelta, stage, watchGroups, type RunContext, type SourceOutcome } from './context.js';
import type { SourceName } from '../lib/config.js';

/** The stages a unit passes through; a skip names the one that dropped it (or a part of it). */
export type UnitStage = 'read' | 'extract' | 'generate' | 'judge';

/** What a source reads this run, decided before it reads anything. */
export interface SourcePlan {
  /** Cursor before and after: a sha for git sources, an update time for GitHub listings. */
  from: string | null;
  to: string | null;
  /** Units this run looks at (the progress bar's total), and what they are called. */
  total: number;
  unitName: string;
  /** The outcome rows this source reports (a row's stages are `<row>.read`, …); default its name. */
  rows?: string[];
  /**
   * Stage names of the first row, where they are not `<row>.<stage>`; null: not a stage of this
   * source. The model step has one stage named for its task (`paraphrase`) and `judge`.
   */
  stageNames?: Partial<Record<UnitStage, string | null>>;
  /** Groups whose live pairs are watched from the first unit on: those not produced again are retired. */
  watch?: { kinds: SourceKind[]; groups: Set<string> };
  /** When set, the watched pairs that vanished are retired at the end, at `commit`, with `why(group)`. */
  retire?: { commit: string; why: (group: string) => string };
  /** The cursor moved once everything the run covers is staged (null: it stays). */
  cursor: { name: SourceName; value: string } | null;
}

/** What a source made of one unit — or of a batch of units, for code read on worker threads. */
export interface UnitResult {
  /** The outcome row it counts for (PRs or issues); default the source's first row. */
  row?: string;
  /** How many units it covers (default 1). */
  units?: number;
  /**
   * Skips, each recorded under `commit` (default HEAD) and counted as a rejection of its stage;
   * one at `read` drops its unit. `stage: null` is recorded only (a cut diff: the unit is kept).
   */
  skips?: { stage: UnitStage | null; skip: SkipRecord; commit?: string }[];
  /** Rejections counted without a skip row (the pair itself is kept in `rejected`, a budget ran out). */
  rejects?: { stage: UnitStage; reason: string; n?: number }[];
  /** Records extracted (absent for a source that has no extract stage: the model step). */
  records?: SourceRecord[];
  /** Candidate pairs, checked by the runner. */
  candidates?: QAPair[];
  /**
   * Pairs checked where they were made (a worker thread, a judge), with their duplicate keys if
   * computed; `rejected` names a generate-stage rejection (too close to a seed): the pair still goes
   * to the sink, to be kept in `rejected`.
   */
  checked?: { pair: QAPair; keys?: DedupKeys; rejected?: string }[];
  /** Pairs of this result the judge saw and passed (the `judge` stage). */
  judged?: { seen: number; kept: number };
  seconds?: Partial<Record<UnitStage | 'validate', number>>;
  /** A group watched before this unit's pairs go in (PRs and issues, one number at a time). */
  watch?: { kind: SourceKind; group: string };
  /**
   * Ids of stored pairs this unit's pairs replace, retired elsewhere (the pairs a feedback correction
   * disputes, at promotion): its pairs are neither duplicates of them nor ambiguous with them.
   */
  replaces?: string[];
  /** Once this unit is staged (flushed), the cursor may move here, or these state keys may be written. */
  checkpoint?: { cursor?: string; state?: Record<string, string> };
}

/** One source of a run. */
export interface Source<P extends SourcePlan = SourcePlan> {
  /** The progress bar's label, and the prefix of its failpoints. */
  name: string;
  plan(run: RunContext): Promise<P>;
  /** The units' results, in order. */
  read(run: RunContext, plan: P): AsyncIterable<UnitResult>;
  /** After its pairs are staged and retired, before the cursor moves (say, GitHub's "built" mark). */
  finish?(run: RunContext, plan: P): Promise<void>;
  /** An outcome line's note, from what the run did (the first row: all rows' units and records). */
  note?(plan: P, done: { units: number; records: number }, row: string): string | null;
}

/** Runs one source through the sink; one outcome per row. */
export async function runSource<P extends SourcePlan>(run: RunContext, source: Source<P>): Promise<SourceOutcome[]> {
  const t0 = performance.now();
  const { sink } = run;
  const before = { ...sink.counts };
  const plan = await source.plan(run);
  const rowNames = plan.rows ?? [source.name];
  const rows = new Map(rowNames.map((r) => [r, { units: 0, records: 0 }]));
  // Every stage of every row is in the table, with zeros on a pass with nothing new.
  rowNames.forEach((row, i) => {
    const names = i === 0 ? (plan.stageNames ?? {}) : {};
    for (const s of ['read', 'extract', 'generate', 'judge'] as const) {
      const name = names[s];
      if (name !== null && (s !== 'judge' || name)) stage(run, name ?? `${row}.${s}`);
    }
  });
  // What the stores hold loads while the first unit is read; its result waits for it.
  if (plan.watch?.groups.size) sink.ready().catch(() => undefined);
  let prepared: Promise<void> | null = null;
  const prepare = () =>
    (prepared ??= (async () => {
      await sink.ready();
      if (plan.watch?.groups.size) await watchGroups(run, plan.watch.kinds, plan.watch.groups);
    })());
  const progress = plan.total ? startProgress(source.name, plan.total, run.log, plan.unitName) : null;
  try {
    for await (const r of source.read(run, plan)) {
      await prepare();
      if (r.watch) await watchGroups(run, [r.watch.kind], [r.watch.group]);
      if (r.replaces?.length) await forgetPairs(run, r.replaces);
      const row = r.row ?? rowNames[0]!;
      const counts = rows.get(row)!;
      counts.units += r.units ?? 1;
      counts.records += r.records?.length ?? 0;
      addResult(run, row, row === rowNames[0] ? (plan.stageNames ?? {}) : {}, r);
      progress?.tick(r.units ?? 1, `${sink.counts.staged} staged`);
      if (r.checkpoint) await checkpoint(run, plan.cursor?.name ?? source.name, r.checkpoint);
      else await sink.flush();
    }
  } finally {
    progress?.stop();
  }
  if (plan.watch?.groups.size) await prepare();
  const retired = plan.retire ? await reconcile(run, plan.retire.commit, plan.retire.why) : (await sink.flush(true), 0);
  await source.finish?.(run, plan);
  if (plan.cursor) await checkpoint(run, plan.cursor.name, { cursor: plan.cursor.value });
  const delta = sinkDelta(sink, before);
  const units = [...rows.values()].reduce((a, c) => a + c.units, 0);
  const records = [...rows.values()].reduce((a, c) => a + c.records, 0);
  const none = { candidates: 0, staged: 0, rejected: 0, alreadyKnown: 0, refreshed: 0, retired: 0 };
  // The pair counts go to the first row: rows of one source go through one sink pass.
  return rowNames.map((name, i) => ({
    source: name as SourceOutcome['source'],
    from: plan.from,
    to: plan.to,
    units: rows.get(name)!.units,
    records: rows.get(name)!.records,
    ...(i === 0 ? { ...delta, retired } : none),
    note: source.note?.(plan, i === 0 ? { units, records } : rows.get(name)!, name) ?? null,
    seconds: i === 0 ? (performance.now() - t0) / 1000 : 0,
  }));
}

/** The stats, skips, records and pairs of one result. */
function addResult(run: RunContext, row: string, names: Partial<Record<UnitStage, string | null>>, r: UnitResult): void {
  const { sink } = run;
  const st = (s: UnitStage) => {
    const name = names[s];
    return name === null ? new StageStats(s) : stage(run, name ?? `${row}.${s}`);
  };
  const units = r.units ?? 1;
  let dropped = 0;
  for (const { stage: s, skip, commit } of r.skips ?? []) {
    sink.addSkip(skip, commit ?? run.repo.sha);
    if (s === null) continue;
    st(s).reject(skip.reason);
    if (s === 'read') dropped++;
  }
  for (const { stage: s, reason, n } of r.rejects ?? []) {
    st(s).reject(reason, n ?? 1);
    if (s === 'read') dropped += n ?? 1;
  }
  const read = st('read');
  read.seen += units;
  read.kept += units - dropped;
  read.seconds += r.seconds?.read ?? 0;
  const pairs = (r.candidates?.length ?? 0) + (r.checked?.length ?? 0);
  const generate = st('generate');
  if (r.records) {
    const extract = st('extract');
    extract.seen += units - dropped;
    extract.kept += r.records.length;
    extract.seconds += r.seconds?.extract ?? 0;
    generate.seen += r.records.length;
    // The facts were the generators'; the sink keeps (and stores) records without them.
    sink.addRecords(r.records.map(({ facts: _facts, ...rec }) => rec));
  } else generate.seen += units - dropped;
  for (const c of r.checked ?? []) if (c.rejected) generate.reject(c.rejected);
  generate.kept += pairs - (r.checked ?? []).filter((c) => c.rejected).length;
  generate.seconds += r.seconds?.generate ?? 0;
  if (r.judged) {
    const judge = st('judge');
    judge.seen += r.judged.seen;
    judge.kept += r.judged.kept;
    judge.seconds += r.seconds?.judge ?? 0;
  }
  const t = performance.now();
  for (const c of r.candidates ?? []) sink.add(validateCandidate(c, run.cfg.limits));
  for (const c of r.checked ?? []) sink.add(c.pair, c.keys);
  stage(run, 'validate').seconds += (r.seconds?.validate ?? 0) + (performance.now() - t) / 1000;
}

/** Everything so far is staged first, then the cursor moves (or the marks are written). */
async function checkpoint(run: RunContext, name: string, c: NonNullable<UnitResult['checkpoint']>): Promise<void> {
  await run.sink.flush(true);
  if (c.state && Object.keys(c.state).length) {
    failpoint(`${name}.before-marks`);
    await run.stores.setState(c.state, run.runId);
  }
  if (c.cursor) {
    failpoint(`${name}.before-cursor`);
    await advanceCursor(run, name as SourceName, c.cursor);
  }
}

/**
 * A unit read on the main thread (a doc, a commit, a PR, an issue): its records, and the candidate
 * pairs drawn from each, timed per stage. A unit whose extraction or rules throw is an
 * `extract_error` skip under `unit` and adds nothing: it never ends the run.
 */
export function extractUnit(
  unit: string,
  commit: string,
  records: () => SourceRecord[],
  questions: (r: SourceRecord) => QAPair[],
): Pick<UnitResult, 'records' | 'candidates' | 'skips' | 'seconds'> {
  const t0 = performance.now();
  try {
    const recs = records();
    const t1 = performance.now();
    const candidates = recs.flatMap(questions);
    return { records: recs, candidates, seconds: { extract: (t1 - t0) / 1000, generate: (performance.now() - t1) / 1000 } };
  } catch (e) {
    const skip = extractError(unit, e);
    return { records: [], skips: [{ stage: 'extract', skip: { ...skip, detail: skip.detail.slice(0, 300) }, commit }] };
  }
}
