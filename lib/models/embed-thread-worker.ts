// The worker side of lib/models/embed-thread.ts: one local embedder per thread, opened on the first task.
import type { LocalEmbedderSpec } from './config.js';
import { createLocalEmbedder, type GraphOptimization, type LocalEmbedder } from './embed-local.js';
import type { EmbedKind } from './types.js';

export interface EmbedTask {
  open: { modelPath: string; tokenizerPath: string; maxTokens: number; spec: LocalEmbedderSpec; threads: number; optimization?: GraphOptimization };
  texts: string[];
  kind?: EmbedKind;
}

let embedder: Promise<LocalEmbedder> | null = null;

export default async function embed(task: EmbedTask): Promise<Float32Array[]> {
  embedder ??= createLocalEmbedder(task.open);
  return (await embedder).embed(task.texts, { kind: task.kind });
}
