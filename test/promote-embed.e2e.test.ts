// Promotion with the local embedder as `qaforge promote` runs it (a worker thread per core): every pair
// gets the vector one-by-one in-process embedding gives its text, the embedding's progress and rate are
// logged, and the result carries the embedded pairs per second.
import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackfill } from '../activities/backfill.js';
import { embeddingTextFor, promoteWithEmbeddings, type PromotionResult } from '../datasets/promote.js';
import { Stores } from '../datasets/store.js';
import { loadConfig, type Config } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { EMBED_TASK_TEXTS } from '../lib/models/embed-thread.js';
import { openEmbedder } from '../lib/models/index.js';
import { makeRepo, SHAPES_PY, tempDir } from './fixtures.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i]!, 0);

let cfg: Config;
let stores: Stores;
let result: PromotionResult;
const lines: Record<string, unknown>[] = [];
const seen: { embedded: number; total: number; pairsPerSecond: number; secondsLeft: number }[] = [];

beforeAll(async () => {
  const repo = await makeRepo({ 'shapes/core.py': SHAPES_PY });
  const data = tempDir();
  cfg = loadConfig({ cwd: data, env: { QAFORGE_LLM_SAMPLE: '0' }, flags: { dataDir: data, repo: repo.dir, sources: ['code'], logLevel: 'silent' } });
  await runBackfill(cfg, createLogger('silent'));
  stores = await Stores.openFor(cfg);
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  result = await promoteWithEmbeddings(cfg, stores, log, undefined, { onEmbedProgress: (p) => void seen.push(p) });
}, 120_000);
afterAll(() => stores?.close());

describe('promoteWithEmbeddings (local MiniLM, worker threads)', () => {
  it('embeds every pair as one-by-one embedding does, and reports the rate', async () => {
    expect(availableParallelism()).toBeGreaterThanOrEqual(1);
    expect(result.promoted).toBeGreaterThan(5);
    expect(result.embedded).toBe(result.promoted);
    expect(result.embedPairsPerSecond).toBeGreaterThan(0);
    expect(result.embedPairsPerSecond).toBeCloseTo(result.embedded / result.embedSeconds, 0);
    const rows: { question: string; answer: string; context: string; vector: ArrayLike<number> }[] = [];
    for await (const batch of stores.scan('corpus', ['question', 'answer', 'context', 'vector'], "status = 'active'")) rows.push(...(batch as never[]));
    expect(rows).toHaveLength(result.promoted);
    const inline = await openEmbedder(cfg);
    try {
      const textOf = embeddingTextFor(cfg.models.embedder.text);
      for (const r of rows) {
        const [alone] = await inline.embed([textOf(r)]);
        expect(dot(r.vector, alone!)).toBeGreaterThan(0.99999);
      }
    } finally {
      await inline.close();
    }
  });

  it('logs the embedding progress (pairs done / total, pairs/s, time left) and the rate in the result line', () => {
    const progress = lines.filter((l) => l.stage === 'embedding');
    expect(progress.length).toBeGreaterThan(0);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ done: result.embedded, total: result.embedded });
    expect(last.msg).toBe(`embedding: ${result.embedded}/${result.embedded} pairs`);
    expect(last.info).toMatch(/^\d+(\.\d)? pairs\/s, 0 s left$/);
    const done = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('promoted '))!;
    expect(done).toMatchObject({ embedded: result.embedded, embedPairsPerSecond: result.embedPairsPerSecond });
    expect(done.msg).toContain(`embedded ${result.embedded} in `);
    expect(done.msg).toContain(`(${result.embedPairsPerSecond} pairs/s)`);
  });

  it('tells a caller (a workflow activity, say) the same progress', () => {
    // Once per task of the workers at least (32 texts each).
    expect(seen.length).toBeGreaterThanOrEqual(Math.ceil(result.embedded / EMBED_TASK_TEXTS));
    expect(seen.map((p) => p.embedded)).toEqual([...seen.map((p) => p.embedded)].sort((a, b) => a - b));
    expect(seen.at(-1)).toMatchObject({ embedded: result.embedded, total: result.embedded, secondsLeft: 0 });
    for (const p of seen) expect(p.pairsPerSecond).toBeGreaterThan(0);
  });
});
