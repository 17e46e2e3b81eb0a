// The worker pool for code batches, how files are cut into batches, and the loop that reads each
// batch's blobs, runs it, and hands results back in submission order. Shared by the backfill and
// the extraction benchmark.
import { Piscina } from 'piscina';
import { extractCodeBatch, processCodeBatch, type CodeBatchFile, type CodeBatchInput, type CodeBatchOutput, type ExtractOnlyOutput } from './code-batch.js';
import type { BlobReader, TreeEntry } from './repo.js';

/** Cuts the file list into worker tasks of at most `taskBytes` (one file may exceed it alone). */
export function batchFiles(files: TreeEntry[], taskBytes: number): TreeEntry[][] {
  const batches: TreeEntry[][] = [];
  let cur: TreeEntry[] = [];
  let bytes = 0;
  for (const f of files) {
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
  run(input: CodeBatchInput): Promise<CodeBatchOutput>;
  extract(input: CodeBatchInput): Promise<ExtractOnlyOutput>;
  close(): Promise<void>;
};

/** Runs code batches on `workers` threads (piscina), or inline when workers is 1. */
export function batchRunner(workers: number): BatchRunner {
  if (workers <= 1)
    return { run: async (input) => processCodeBatch(input), extract: async (input) => extractCodeBatch(input), close: async () => undefined };
  const pool = new Piscina({
    filename: new URL('./code-worker.ts', import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
    // Workers load TypeScript through tsx, whatever loaded the main thread.
    execArgv: ['--import', 'tsx'],
    // A batch needs a few tens of MB; a bounded old generation makes V8 collect instead of growing.
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  });
  const transferList = (input: CodeBatchInput) => input.files.map((f) => f.data.buffer as ArrayBuffer);
  return {
    run: (input) => pool.run(input, { transferList: transferList(input) }),
    extract: (input) => pool.run({ ...input, extractOnly: true }, { transferList: transferList(input) }),
    close: () => pool.destroy(),
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

/** Reads and runs every batch; returns the seconds spent reading blobs. */
export async function runBatchesInOrder<T>(batches: TreeEntry[][], reader: BlobReader, o: InOrderOptions<T>): Promise<number> {
  let readSeconds = 0;
  const inFlight: Promise<T>[] = [];
  for (const batch of batches) {
    const t = performance.now();
    const data = await Promise.all(batch.map((f) => reader.read(f.oid).catch((e: Error) => e)));
    readSeconds += (performance.now() - t) / 1000;
    const files: CodeBatchFile[] = [];
    batch.forEach((f, i) => {
      const d = data[i]!;
      if (d instanceof Error) o.unreadable(f, d);
      // Its own ArrayBuffer (small Buffers share a pool), so it can be transferred to a worker.
      else files.push({ path: f.path, data: new Uint8Array(d) });
    });
    const task = o.submit(files);
    // Awaited in order below; until then a failure must not count as an unhandled rejection.
    task.catch(() => undefined);
    inFlight.push(task);
    if (inFlight.length >= o.window) await o.consume(await inFlight.shift()!);
  }
  for (const task of inFlight.splice(0)) await o.consume(await task);
  return readSeconds;
}
