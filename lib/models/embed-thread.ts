// A local embedder that runs in a worker thread. onnxruntime-node's `run` is synchronous on the
// calling thread (a setImmediate around the native call), so on the main thread of `qaforge serve`
// every query embedding stopped every other request; in a thread of its own the event loop keeps
// serving (parsing, LanceDB's own threads, the journal) while a query is embedded.
import { Piscina } from 'piscina';
import type { LocalEmbedderSpec } from './config.js';
import type { EmbedTask } from './embed-thread-worker.js';
import type { Embedder } from './types.js';

export async function createThreadedEmbedder(open: EmbedTask['open'] & { spec: LocalEmbedderSpec }): Promise<Embedder> {
  const pool = new Piscina({
    filename: new URL('./embed-thread-worker.ts', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    // Workers load TypeScript through tsx, whatever loaded the main thread.
    execArgv: ['--import', 'tsx'],
  });
  const run = (texts: string[], kind?: EmbedTask['kind']) => pool.run({ open, texts, kind } satisfies EmbedTask) as Promise<Float32Array[]>;
  // Opened now, so that a missing model file fails the start and the first query is not the slow one.
  await run(['warm up'], 'query');
  return {
    backend: 'local',
    model: open.spec.name,
    dimensions: open.spec.dimensions,
    embed: (texts, o) => run(texts, o?.kind),
    close: () => pool.destroy(),
  };
}
