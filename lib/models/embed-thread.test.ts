// The threaded local embedder (what qaforge serve uses, so that embedding does not block its event loop):
// the same vectors as the in-process one.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { openEmbedder } from './index.js';

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
