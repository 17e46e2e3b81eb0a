// The threaded local embedder (what qaforge serve uses, so that embedding does not block its event loop):
// the same vectors as the in-process one; with a worker per core, promotion's bulk embedder.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { LOCAL_EMBEDDERS } from './config.js';
import { createLocalEmbedder } from './embed-local.js';
import { createThreadedEmbedder, EMBED_TASK_TEXTS } from './embed-thread.js';
import { EMBED_MAX_TOKENS, modelsDir, openEmbedder } from './index.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('openEmbedder(cfg, { thread: true })', () => {
  it('embeds queries and passages as the in-process embedder does, in order', async () => {
    const cfg = loadConfig({ env: {} });
    const [threaded, inline] = await Promise.all([openEmbedder(cfg, { thread: true }), openEmbedder(cfg)]);
    try {
      expect([threaded.backend, threaded.model, threaded.dimensions]).toEqual([inline.backend, inline.model, inline.dimensions]);
      const texts = ['How is the LoRA scaling factor computed?', 'def merge_and_unload(self): fold the adapter weights into the base layers'];
      for (const kind of ['query', 'passage'] as const) {
        const [a, b] = [await threaded.embed(texts, { kind }), await inline.embed(texts, { kind })];
        expect(a).toHaveLength(2);
        // One ONNX thread against two: the same vectors up to float rounding.
        a.forEach((v, i) => expect(dot(v, b[i]!)).toBeGreaterThan(0.99999));
      }
      // Many at once: each answered, in order.
      const many = Array.from({ length: 20 }, (_, i) => `question number ${i} about adapters`);
      const [all, one] = [await threaded.embed(many, { kind: 'query' }), await inline.embed([many[13]!], { kind: 'query' })];
      expect(all).toHaveLength(20);
      expect(dot(all[13]!, one[0]!)).toBeGreaterThan(0.99999);
      expect(dot(all[12]!, one[0]!)).toBeLessThan(0.99999);
    } finally {
      await Promise.all([threaded.close(), inline.close()]);
    }
  });
});

describe('openEmbedder(cfg, { workers: 2 }): the bulk embedder of promotion', () => {
  it('gives each text the vector one-by-one embedding gives it, in input order, each distinct text once, with progress', async () => {
    const cfg = loadConfig({ env: {} });
    const [pool, inline] = await Promise.all([openEmbedder(cfg, { workers: 2 }), openEmbedder(cfg)]);
    try {
      // Short and long texts mixed, more than one task's worth, and duplicates (of a short and a long text).
      const words = ['adapter', 'rank', 'alpha', 'dropout', 'merge', 'scaling', 'target', 'modules'];
      const texts = Array.from({ length: 3 * EMBED_TASK_TEXTS + 5 }, (_, i) =>
        i % 7 === 3 ? 'How is the LoRA scaling factor computed?' : i % 11 === 5 ? `long ${words.join(' ').repeat(20)}` : `${words.slice(0, 1 + (i % 8)).join(' ')} question ${i}`,
      );
      let reported = 0;
      const got = await pool.embed(texts, { onProgress: (n) => (reported += n) });
      expect(reported).toBe(texts.length);
      expect(got).toHaveLength(texts.length);
      const alone: Float32Array[] = [];
      for (const t of texts) alone.push((await inline.embed([t]))[0]!);
      // One ONNX thread against two, each text its own run in both: the same vectors up to float rounding.
      got.forEach((v, i) => expect(dot(v, alone[i]!)).toBeGreaterThan(0.99999));
      // In order: a vector is its own text's, not a neighbour's.
      expect(dot(got[4]!, alone[5]!)).toBeLessThan(0.99);
      // A duplicate gets an equal vector of its own (callers may change it in place).
      expect(got[10]).toEqual(got[3]);
      expect(got[10]).not.toBe(got[3]);
      expect(await pool.embed([])).toEqual([]);
    } finally {
      await Promise.all([pool.close(), inline.close()]);
    }
  });

  it('with the extended graph: within cosine 0.99 of the basic graph, texts of any length', async () => {
    const cfg = loadConfig({ env: {} });
    const spec = LOCAL_EMBEDDERS['all-minilm-l6-v2-q'];
    const dir = modelsDir(cfg);
    const files = { modelPath: join(dir, spec.file), tokenizerPath: join(dir, spec.tokenizer), maxTokens: EMBED_MAX_TOKENS, spec, threads: 1 };
    const [extended, basic] = await Promise.all([createThreadedEmbedder({ ...files, optimization: 'extended' }, { workers: 2 }), createLocalEmbedder({ ...files, optimization: 'basic' })]);
    try {
      const texts = ['LoRA', 'How is the LoRA scaling factor computed?\nlora_alpha divided by r', `merge ${'adapter weights into the base layer '.repeat(30)}`];
      const [a, b] = [await extended.embed(texts), await basic.embed(texts)];
      a.forEach((v, i) => expect(dot(v, b[i]!)).toBeGreaterThan(0.99));
    } finally {
      await Promise.all([extended.close(), basic.close()]);
    }
  });
});
