// The query service's durable log: answered queries and accepted feedback are appended to a JSONL
// segment and fsync'd before the response is sent (acknowledged means durable); a background flusher
// moves closed segments into their LanceDB table in batches (merge on the row's key, so a segment
// flushed twice — a crash between the write and the unlink — adds nothing) and deletes them. On
// start, the segments a killed server left are replayed first. Appends that arrive while a write is
// in flight share the next fsync (group commit), so durability costs one fsync per batch, not per row.
// A row journaled twice (two racing requests with one key) is moved in once: the first line stands.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { rowsToArrowTable } from '../datasets/arrow-rows.js';
import { SCHEMAS, type Stores, type TableName } from '../datasets/store.js';
import type { Logger } from '../lib/log.js';

export interface JournalStats {
  appended: number;
  fsyncs: number;
  flushedRows: number;
  flushes: number;
  /** Lines that did not parse when a segment was replayed: a write torn by a crash (never acknowledged). */
  tornLines: number;
  pendingRows: number;
}

interface Waiter {
  key: string;
  row: unknown;
  line: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * The rows of one segment, the first of each key, and the lines that did not parse: only a crash
 * mid-write leaves a partial line (the last one), and its request was never answered.
 */
export function readSegment<Row extends Record<string, unknown>>(path: string, key: keyof Row & string): { rows: Row[]; torn: number } {
  const byKey = new Map<string, Row>();
  let torn = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    let row: Row;
    try {
      row = JSON.parse(line) as Row;
    } catch {
      torn++;
      continue;
    }
    const k = row?.[key];
    if (typeof k !== 'string') torn++;
    else if (!byKey.has(k)) byKey.set(k, row);
  }
  return { rows: [...byKey.values()], torn };
}

/** Rows of one table, journaled: `key` is the column rows merge on. */
export class Journal<Row extends Record<string, unknown>> {
  private fh: FileHandle | null = null;
  private segment = '';
  private segmentRows = 0;
  /** Bytes of the open segment that were written whole: a failed write is cut back to this. */
  private segmentBytes = 0;
  private seq = 0;
  private queue: Waiter[] = [];
  private draining = false;
  /** Writes and segment rotation never interleave. */
  private readonly lock = pLimit(1);
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Rows appended and not yet in the table, by key: reads see them before a flush. */
  private readonly pending = new Map<string, Row>();
  readonly stats: JournalStats = { appended: 0, fsyncs: 0, flushedRows: 0, flushes: 0, tornLines: 0, pendingRows: 0 };

  constructor(
    private readonly dir: string,
    private readonly table: TableName,
    private readonly key: keyof Row & string,
    private readonly stores: Stores,
    private readonly log: Logger,
    private readonly opts: { flushMs: number; segmentRows?: number } = { flushMs: 1000 },
  ) {}

  /** Replays what a previous process left, then opens a fresh segment. */
  async open(): Promise<{ replayed: number }> {
    mkdirSync(this.dir, { recursive: true });
    const before = this.stats.flushedRows;
    await this.moveClosedSegments();
    await this.rotate();
    return { replayed: this.stats.flushedRows - before };
  }

  /** Flushes every `flushMs` (and sooner when a segment fills up). */
  start(): void {
    this.timer = setInterval(() => void this.flush().catch((e) => this.log.error({ err: (e as Error).message, table: this.table }, 'journal flush failed; will retry')), this.opts.flushMs);
    this.timer.unref();
  }

  /** Resolves once the row is on disk (fsync'd). */
  append(row: Row): Promise<void> {
    const key = row[this.key] as string;
    // The first row of a key stands, as in the table.
    if (!this.pending.has(key)) this.pending.set(key, row);
    this.stats.appended++;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ key, row, line: `${JSON.stringify(row)}\n`, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        void this.lock(() => this.drain());
      }
    });
  }

  /** A row appended by this process and not yet flushed. */
  get(key: string): Row | undefined {
    return this.pending.get(key);
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0);
      const bytes = Buffer.from(batch.map((w) => w.line).join(''));
      try {
        // A write may take part of the buffer (a regular file rarely does): write the rest.
        for (let at = 0; at < bytes.length; ) at += (await this.fh!.write(bytes, at)).bytesWritten;
        await this.fh!.datasync();
        this.stats.fsyncs++;
        this.segmentRows += batch.length;
        this.segmentBytes += bytes.length;
        for (const w of batch) w.resolve();
      } catch (e) {
        // A half-written line (disk full) would swallow the next batch's first line on replay: cut it off.
        await this.fh?.truncate(this.segmentBytes).catch(() => undefined);
        for (const w of batch) {
          // Not logged: not pending either (a read must not find it, a retry may log it).
          if (this.pending.get(w.key) === w.row) this.pending.delete(w.key);
          w.reject(e as Error);
        }
      }
    }
    // No await between the empty check and this: an append after it starts a new drain.
    this.draining = false;
    if (this.segmentRows >= (this.opts.segmentRows ?? 5000)) void this.flush().catch((e) => this.log.error({ err: (e as Error).message, table: this.table }, 'journal flush failed; will retry'));
  }

  /** Closes the current segment (when it holds rows) and opens the next; the directory entry is fsync'd. */
  private async rotate(): Promise<void> {
    if (this.fh && this.segmentRows === 0) return;
    await this.fh?.close();
    this.segment = join(this.dir, `${this.table}-${Date.now()}-${String(this.seq++).padStart(6, '0')}-${process.pid}.jsonl`);
    this.fh = await open(this.segment, 'a');
    this.segmentRows = 0;
    this.segmentBytes = 0;
    const d = openSync(this.dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  }

  /** Moves everything appended so far into the table. One flush at a time; callers share a running one. */
  flush(): Promise<void> {
    if (!this.flushing)
      this.flushing = (async () => {
        await this.lock(() => this.rotate());
        await this.moveClosedSegments();
      })().finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private async moveClosedSegments(): Promise<void> {
    const files = readdirSync(this.dir)
      .filter((f) => f.startsWith(`${this.table}-`) && f.endsWith('.jsonl') && join(this.dir, f) !== this.segment)
      .sort();
    for (const f of files) {
      const path = join(this.dir, f);
      const { rows, torn } = readSegment<Row>(path, this.key);
      this.stats.tornLines += torn;
      if (rows.length) {
        const t = await this.stores.table(this.table);
        await t.mergeInsert(this.key).whenNotMatchedInsertAll().execute(rowsToArrowTable(rows, SCHEMAS[this.table]));
      }
      unlinkSync(path);
      for (const r of rows) this.pending.delete(r[this.key] as string);
      this.stats.flushedRows += rows.length;
      this.stats.flushes++;
    }
    this.stats.pendingRows = this.pending.size;
  }

  /** Waits for writes in flight, moves everything into the table, and closes the segment. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.lock(async () => undefined);
    // A flush already running (the timer's) may have rotated before the last rows came: let it end,
    // then run one of our own, which takes the current segment too.
    await this.flushing?.catch(() => undefined);
    await this.flush();
    await this.lock(async () => {
      await this.fh?.close();
      this.fh = null;
      // The empty segment rotate() left open is not needed.
      if (this.segment && this.segmentRows === 0) unlinkSync(this.segment);
    });
  }
}
