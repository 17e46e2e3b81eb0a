// The worker pool for code batches, how files are cut into batches, and the loop that reads each
// batch's blobs, runs it, and hands results back in submission order. Shared by the backfill and
// the extraction benchmark. A worker that dies (heap limit, crash, timeout) takes down only its
// task: the task's files are run again one by one, and a file that still fails comes back as a skip.
import { Piscina } from 'piscina';
import { workerEntry } from '../lib/paths.js';
import {
  extractCodeBatch,
  mergeCodeOutputs,
  processCodeBatch,
  reportsFile,
  type CodeBatchFile,
  type CodeBatchInput,
  type CodeBatchOutput,
  type ExtractOnlyOutput,
  type FilePart,
} from './code-batch.js';
import type { BlobReader, TreeEntry } from './repo.js';

/** A file of a batch, or one share of a file too large to be one task. */
export type FileTask = TreeEntry & { part?: FilePart };

/** Bytes of a large file per share: a share of a dense generated module is then ~10,000 pairs. */
const SHARE_BYTES = 128 * 1024;

/**
 * Cuts the file list into worker tasks of at most `taskBytes`. A file over twice that is cut into
 * ⌈size / SHARE_BYTES⌉ shares, each a task of its own: what a task returns grows with the symbols it
 * covers (a generated 4 MB module of 50,000 functions made 300 MB of pairs), and a worker's heap is bounded.
 */
export function batchFiles(files: TreeEntry[], taskBytes: number): FileTask[][] {
  const batches: FileTask[][] = [];
  let cur: FileTask[] = [];
  let bytes = 0;
  for (const f of files) {
    if (f.size > 2 * taskBytes) {
      const count = Math.ceil(f.size / SHARE_BYTES);
      for (let index = 0; index < count; index++) batches.push([{ ...f, part: { index, count } }]);
      continue;
    }
    if (cur.length && bytes + f.size > taskBytes) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(f);
    bytes += f.size;
  }
  if (cur.length) batches.push(cur);
  return batches;
}

export type BatchRunner = {
  /** Never rejects for a dead worker: what could not be run comes back as `extract_error` skips. */
  run(input: CodeBatchInput): Promise<CodeBatchOutput>;
  extract(input: CodeBatchInput): Promise<ExtractOnlyOutput>;
  close(): Promise<void>;
};

/** Why a worker task failed, as the skip records it. */
export function workerFailureCause(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/memory limit|heap out of memory/i.test(msg)) return `worker heap limit: ${msg}`;
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) return `timeout: ${msg}`;
  return `worker crash: ${msg}`;
}

/**
 * Runs `input` with `attempt`; when that fails, each file again alone, and a file that fails alone
 * becomes a skip with the cause. One bad file costs its task a second run, never the run itself.
 */
export async function runOrRetryAlone(input: CodeBatchInput, attempt: (input: CodeBatchInput) => Promise<CodeBatchOutput>): Promise<CodeBatchOutput> {
  try {
    return await attempt(input);
  } catch (e) {
    if (input.files.length === 1) return failedFileOutput(input.files[0]!, workerFailureCause(e));
    return mergeCodeOutputs(
      await Promise.all(input.files.map((f) => attempt({ ...input, files: [f] }).catch((e2: unknown) => failedFileOutput(f, workerFailureCause(e2))))),
    );
  }
}

function failedFileOutput(f: CodeBatchFile, cause: string): CodeBatchOutput {
  const first = reportsFile(f);
  const share = f.part ? ` (share ${f.part.index + 1} of ${f.part.count})` : '';
  return {
    ...mergeCodeOutputs([]),
    files: first ? 1 : 0,
    bytes: first ? f.data.byteLength : 0,
    skips: [{ path: f.path, reason: 'extract_error', detail: `${cause}${share}` }],
  };
}

/**
 * Runs code batches on `workers` threads (piscina), or inline when workers is 1. A task that runs
 * longer than `taskTimeoutMs` is stopped (piscina ends its worker) and counts as failed.
 */
export function batchRunner(workers: number, opts: { taskTimeoutMs?: number } = {}): BatchRunner {
  if (workers <= 1)
    return { run: async (input) => processCodeBatch(input), extract: async (input) => extractCodeBatch(input), close: async () => undefined };
  const newPool = (threads: number) =>
    new Piscina({
      // Workers load what this module is: TypeScript through tsx, or the compiled copy as it is.
      ...workerEntry(import.meta.url, 'code-worker'),
      minThreads: threads,
      maxThreads: threads,
      // A batch needs a few tens of MB; a bounded old generation makes V8 collect instead of growing.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
  const pool = newPool(workers);
  // Shares of large files go through one thread of their own: each such file is parsed once, by
  // that thread, and only one large parse tree is in memory at a time.
  let large: Piscina | null = null;
  const poolFor = (input: CodeBatchInput) => (input.files.length === 1 && input.files[0]!.part ? (large ??= newPool(1)) : pool);
  const transferList = (input: CodeBatchInput) => input.files.map((f) => f.data.buffer as ArrayBuffer);
  const signal = () => (opts.taskTimeoutMs ? AbortSignal.timeout(opts.taskTimeoutMs) : undefined);
  return {
    // Copied to the worker, not transferred: a retry needs the bytes again.
    run: (input) => runOrRetryAlone(input, (i) => poolFor(i).run(i, { signal: signal() }) as Promise<CodeBatchOutput>),
    extract: (input) => pool.run({ ...input, extractOnly: true }, { transferList: transferList(input) }),
    close: async () => {
      await pool.destroy();
      await large?.destroy();
    },
  };
}

export interface InOrderOptions<T> {
  /** Batches in flight at most. */
  window: number;
  submit(files: CodeBatchFile[]): Promise<T>;
  /** Called with each result in submission order, so results never depend on thread timing. */
  consume(out: T): Promise<void>;
  /** A file whose blob could not be read; the batch goes on without it. */
  unreadable(file: TreeEntry, error: Error): void;
}

/** One batch's result, in submission order, with the files whose blobs could not be read and the seconds reading took. */
export interface BatchDone<T> {
  out: T;
  unreadable: { file: TreeEntry; error: Error }[];
  readSeconds: number;
}

/** Reads and runs every batch, `window` in flight; yields each result in submission order. */
export async function* batchesInOrder<T>(batches: FileTask[][], reader: BlobReader, o: Pick<InOrderOptions<T>, 'window' | 'submit'>): AsyncGenerator<BatchDone<T>> {
  const inFlight: { task: Promise<T>; unreadable: BatchDone<T>['unreadable']; readSeconds: number }[] = [];
  const next = async () => {
    const b = inFlight.shift()!;
    return { out: await b.task, unreadable: b.unreadable, readSeconds: b.readSeconds };
  };
  for (const batch of batches) {
    const t = performance.now();
    const data = await Promise.all(batch.map((f) => reader.read(f.oid).catch((e: Error) => e)));
    const readSeconds = (performance.now() - t) / 1000;
    const files: CodeBatchFile[] = [];
    const unreadable: BatchDone<T>['unreadable'] = [];
    batch.forEach((f, i) => {
      const d = data[i]!;
      if (d instanceof Error) unreadable.push({ file: f, error: d });
      // Its own ArrayBuffer (small Buffers share a pool), so it can be transferred to a worker.
      else files.push({ path: f.path, data: new Uint8Array(d), ...(f.part ? { part: f.part } : {}) });
    });
    const task = o.submit(files);
    // Awaited in order below; until then a failure must not count as an unhandled rejection.
    task.catch(() => undefined);
    inFlight.push({ task, unreadable, readSeconds });
    if (inFlight.length >= o.window) yield await next();
  }
  while (inFlight.length) yield await next();
}

/** Reads and runs every batch; returns the seconds spent reading blobs. */
export async function runBatchesInOrder<T>(batches: FileTask[][], reader: BlobReader, o: InOrderOptions<T>): Promise<number> {
  let readSeconds = 0;
  for await (const b of batchesInOrder(batches, reader, o)) {
    readSeconds += b.readSeconds;
    for (const u of b.unreadable) o.unreadable(u.file, u.error);
    await o.consume(b.out);
  }
  return readSeconds;
}
