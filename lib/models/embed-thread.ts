// A local embedder that runs in worker threads. onnxruntime-node's `run` is synchronous on the
// calling thread (a setImmediate around the native call), so on the main thread of `qaforge serve`
// every query embedding stopped every other request; in a thread of its own the event loop keeps
// serving (parsing, LanceDB's own threads, the journal) while a query is embedded.
//
// With more than one worker it is also the bulk embedder of promotion: one single-threaded ONNX session
// per worker, each text still its own run (vectors as the in-process embedder gives them), tokenising in
// the workers too. On two cores two one-thread sessions embed 1.3× (idle machine) to 1.9× (loaded) what
// one two-thread session does: a text of ~80 tokens is too small a run for two threads to share well.
import { Piscina } from 'piscina';
import { workerEntry } from '../paths.js';
import type { LocalEmbedderSpec } from './config.js';
import type { EmbedTask } from './embed-thread-worker.js';
import type { Embedder } from './types.js';

/** Texts per task: small enough that both workers stay busy to the end and progress moves, large enough that a task's messaging costs nothing. */
export const EMBED_TASK_TEXTS = 32;

export async function createThreadedEmbedder(open: EmbedTask['open'] & { spec: LocalEmbedderSpec }, opts: { workers?: number } = {}): Promise<Embedder> {
  const workers = Math.max(1, opts.workers ?? 1);
  const pool = new Piscina({
    // Workers load what this module is: TypeScript through tsx (by absolute URL: a promotion run from
    // another working directory failed with ERR_MODULE_NOT_FOUND), or the compiled copy as it is.
    ...workerEntry(import.meta.url, 'embed-thread-worker'),
    minThreads: workers,
    maxThreads: workers,
  });
  const run = (texts: string[], kind?: EmbedTask['kind']) => pool.run({ open, texts, kind } satisfies EmbedTask) as Promise<Float32Array[]>;
  // Every worker opened now (a missing model file fails the start; the first texts are not the slow ones).
  await Promise.all(Array.from({ length: workers }, () => run(['warm up'], 'query')));
  return {
    backend: 'local',
    model: open.spec.name,
    dimensions: open.spec.dimensions,
    async embed(texts, o) {
      if (texts.length <= 1) {
        const out = texts.length ? await run(texts, o?.kind) : [];
        o?.onProgress?.(texts.length);
        return out;
      }
      // Each distinct text once; the tasks in parallel across the workers; the vectors back in input order.
      const times = new Map<string, number>();
      for (const t of texts) times.set(t, (times.get(t) ?? 0) + 1);
      const distinct = [...times.keys()];
      const tasks: Promise<Float32Array[]>[] = [];
      for (let i = 0; i < distinct.length; i += EMBED_TASK_TEXTS) {
        const part = distinct.slice(i, i + EMBED_TASK_TEXTS);
        tasks.push(
          run(part, o?.kind).then((v) => {
            // Progress counts the texts asked for, duplicates included.
            o?.onProgress?.(part.reduce((n, t) => n + times.get(t)!, 0));
            return v;
          }),
        );
      }
      const vectors = (await Promise.all(tasks)).flat();
      const byText = new Map(distinct.map((t, i) => [t, vectors[i]!]));
      // A duplicate gets its own copy: callers may change a vector in place.
      const seen = new Set<string>();
      return texts.map((t) => {
        const v = byText.get(t)!;
        if (seen.has(t)) return v.slice();
        seen.add(t);
        return v;
      });
    },
    close: () => pool.destroy(),
  };
}
