// Staging fragments: how code batches of one backfill run at once on several workers and still give
// the corpus of one run. A batch does not write its pairs to the tables: it extracts, generates and
// checks them as usual, but its sink (FragmentSink) records every call the sources make on it —
// records, skips, checked pairs with their duplicate keys, watched live pairs, flushes, the end of a
// watch — in order, to a file under <data-dir>/fragments/<workflow id>/. One writer then replays the
// fragments in batch order through the normal PairSink (commitFragment), which loads what the
// stores hold when it starts, exactly as a sequential batch would: an exact duplicate of a pair from
// an earlier batch is rejected, an ambiguous question is caught, known ids are skipped, and the
// pairs of watched files that were not produced again are retired. Only that writer touches the
// pair tables, so no two processes merge into one table at once.
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { QAPair, SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { retirePairs, refreshPairs, type LivePair } from '../datasets/reconcile.js';
import { sqlString, type Stores } from '../datasets/store.js';
import { UserError } from '../lib/errors.js';
import { failpoint } from '../lib/failpoint.js';
import { StageStats } from '../lib/progress.js';
import { dedupKeys, type DedupKeys } from '../validators/dedup.js';
import { PairSink, type SinkCounts } from './pair-sink.js';

type Event =
  | { t: 'records'; records: SourceRecord[] }
  | { t: 'skip'; skip: SkipRecord; commit: string }
  | { t: 'add'; pair: QAPair; qaKey: string; signature: string | number[]; bands: number[] }
  | { t: 'watch'; live: [string, LivePair][] }
  | { t: 'flush'; force: boolean }
  | { t: 'endWatch' };

/** Where the fragments of one workflow live (one directory, removed when the backfill is done). */
export const fragmentDir = (dataDir: string, workflowId: string) => resolve(dataDir, 'fragments', workflowId.replace(/[^A-Za-z0-9._-]/g, '_'));
export const fragmentFile = (dataDir: string, workflowId: string, index: number, count: number) => join(fragmentDir(dataDir, workflowId), `batch-${String(index).padStart(6, '0')}-of-${count}.jsonl`);

const encodeSignature = (s: ArrayLike<number>): string | number[] =>
  s instanceof Uint32Array ? Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('base64') : Array.from(s);
const decodeSignature = (s: string | number[]): ArrayLike<number> => {
  if (Array.isArray(s)) return s;
  const b = Buffer.from(s, 'base64');
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * A sink that writes to a fragment file instead of the tables. It checks nothing against the stores
 * (ready() loads nothing, knows() is always false: batches of a backfill never ask), and its counts
 * say only how many candidates it recorded: what was staged is known once the fragment is committed.
 * The file is written under a temporary name; `finish()` renames it into place.
 */
export class FragmentSink extends PairSink {
  private out: WriteStream;
  private lines: string[] = [];
  private readonly tmp: string;

  constructor(
    stores: Stores,
    runId: string,
    validate: StageStats,
    stageStats: StageStats,
    readonly file: string,
  ) {
    super(stores, runId, 0.8, validate, stageStats);
    mkdirSync(dirname(file), { recursive: true });
    this.tmp = `${file}.tmp-${process.pid}-${runId}`;
    this.out = createWriteStream(this.tmp);
  }

  private push(e: Event): void {
    this.lines.push(JSON.stringify(e));
  }

  override ready(): Promise<void> {
    return Promise.resolve();
  }

  override get nearDuplicates(): number {
    return 0;
  }

  override watch(live: Map<string, LivePair>): void {
    this.push({ t: 'watch', live: [...live] });
  }

  override addRecords(records: SourceRecord[]): void {
    if (records.length) this.push({ t: 'records', records });
  }

  override addSkip(skip: SkipRecord, commit: string): void {
    this.push({ t: 'skip', skip, commit });
  }

  override knows(_id: string): boolean {
    return false;
  }

  override add(checked: QAPair, keys: DedupKeys = dedupKeys(checked)): void {
    this.counts.candidates++;
    this.push({ t: 'add', pair: checked, qaKey: keys.qaKey, signature: encodeSignature(keys.signature), bands: Array.from(keys.bands) });
  }

  override async flush(force = false): Promise<void> {
    this.push({ t: 'flush', force });
    const chunk = this.lines.length ? `${this.lines.join('\n')}\n` : '';
    this.lines = [];
    if (chunk && !this.out.write(chunk)) await new Promise<void>((ok) => this.out.once('drain', () => ok()));
  }

  /** The watch ends when the pairs are committed: nothing is retired or refreshed here. */
  override endWatch(): { vanished: LivePair[]; reproduced: QAPair[]; live: Map<string, LivePair> } {
    this.push({ t: 'endWatch' });
    return { vanished: [], reproduced: [], live: new Map() };
  }

  /** Writes what is left and moves the file into place (a retried batch writes the same file again). */
  async finish(): Promise<void> {
    const rest = this.lines.length ? `${this.lines.join('\n')}\n` : '';
    this.lines = [];
    await new Promise<void>((ok, fail) => {
      this.out.once('error', fail);
      this.out.end(rest, () => ok());
    });
    renameSync(this.tmp, this.file);
  }

  /** A batch that failed leaves no partial file behind. */
  discard(): void {
    this.out.destroy();
    rmSync(this.tmp, { force: true });
  }
}

export interface CommitResult extends SinkCounts {
  retired: number;
  nearDuplicates: number;
  seconds: number;
}

/**
 * Replays one fragment through the normal sink, as the batch would have written it: what the stores
 * hold is loaded first, then every recorded call in order; the end of a watch retires the watched
 * pairs not produced again (`retireReason`) and refreshes those that moved. The staged rows carry
 * the batch's run id.
 */
export async function commitFragment(stores: Stores, file: string, opts: { runId: string; nearDupThreshold: number; commit: string; retireReason: string }): Promise<CommitResult> {
  const t0 = performance.now();
  // Batches and their commit may run on different workers: they must all see the same data dir.
  if (!existsSync(file)) throw new UserError(`fragment ${file} is missing: every worker of a backfill must use the same data dir`);
  const sink = new PairSink(stores, opts.runId, opts.nearDupThreshold, new StageStats('validate'), new StageStats('stage'));
  await sink.ready();
  let retired = 0;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const e = JSON.parse(line) as Event;
    if (e.t === 'records') sink.addRecords(e.records);
    else if (e.t === 'skip') sink.addSkip(e.skip, e.commit);
    else if (e.t === 'add') sink.add(e.pair, { qaKey: e.qaKey, signature: decodeSignature(e.signature), bands: e.bands });
    else if (e.t === 'watch') sink.watch(new Map(e.live));
    else if (e.t === 'flush') await sink.flush(e.force);
    else if (e.t === 'endWatch') {
      // What the file sources' reconcile step does after a flush: retire what vanished, refresh what moved.
      await sink.flush(true);
      failpoint('fragments.after-flush');
      const { vanished, reproduced, live } = sink.endWatch();
      await retirePairs(stores, vanished.map((p) => p.id), opts.commit, opts.retireReason);
      await refreshPairs(stores, reproduced, live, opts.runId);
      retired += vanished.length;
    }
  }
  await sink.flush(true);
  sink.close();
  return { ...sink.counts, retired, nearDuplicates: sink.nearDuplicates, seconds: (performance.now() - t0) / 1000 };
}

/** Sets fields of a run's stats (the `runs` row a batch wrote when it extracted) to what its commit found. */
export async function updateRunStats(stores: Stores, runId: string, patch: Record<string, unknown>): Promise<void> {
  const runs = await stores.table('runs');
  const where = `run_id = ${sqlString(runId)}`;
  const rows = await runs.query().where(where).select(['stats']).toArray();
  if (!rows.length) return;
  const stats = { ...(JSON.parse(rows[0].stats as string) as Record<string, unknown>), ...patch };
  await runs.update({ where, values: { stats: JSON.stringify(stats) } });
}

/** Removes the fragments of batches before `index` (already committed), or all of them and their directory. */
export function dropFragments(dataDir: string, workflowId: string, before?: number): void {
  const dir = fragmentDir(dataDir, workflowId);
  if (!existsSync(dir)) return;
  if (before === undefined) return rmSync(dir, { recursive: true, force: true });
  for (const f of readdirSync(dir)) {
    const m = /^batch-(\d+)-of-\d+\.jsonl$/.exec(f);
    if (m && Number(m[1]) < before) rmSync(join(dir, f), { force: true });
  }
}
