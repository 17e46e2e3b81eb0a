import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { l as rougeL } from 'js-rouge';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEED_POOL, loadSeedPool, type SeedKind } from './seeds.js';

const pool = loadSeedPool();
const tmp = mkdtempSync(join(tmpdir(), 'qaforge-seeds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the real pool with one seed changed, written where loadSeedPool can read it. */
function poolFileWith(edit: (seeds: Record<string, unknown>[]) => void): string {
  const seeds = JSON.parse(readFileSync(DEFAULT_SEED_POOL, 'utf8')) as Record<string, unknown>[];
  edit(seeds);
  const file = join(tmp, `pool-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(seeds));
  return file;
}

describe('transformers seed pool', () => {
  it('has exactly 30 seeds with the planned mix of kinds', () => {
    expect(pool).toHaveLength(30);
    const counts: Partial<Record<SeedKind, number>> = {};
    for (const s of pool) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
    expect(counts).toEqual({ code_symbol: 10, doc_section: 6, commit: 5, pull_request: 5, issue: 4 });
    expect(new Set(pool.map((s) => s.id)).size).toBe(30);
  });

  it('quotes every evidence span verbatim from its context, within the size bounds', () => {
    for (const s of pool) {
      expect(s.context.includes(s.evidence), s.id).toBe(true);
      expect(s.evidence.length, s.id).toBeGreaterThanOrEqual(10);
      expect(s.evidence.length, s.id).toBeLessThanOrEqual(200);
      expect(s.context.length, s.id).toBeGreaterThanOrEqual(150);
      expect(s.context.length, s.id).toBeLessThanOrEqual(700);
    }
  });

  it('gives contexts the shape of the records they imitate', () => {
    const shape: Record<SeedKind, RegExp> = {
      code_symbol: /^(\s*@\w+.*\n)*\s*(def|class) \w+/,
      doc_section: /^# [^\n]+\n\n/,
      commit: /^commit [0-9a-f]{40}\nAuthor: .+\nDate: .+\n\n/,
      pull_request: /^PR #\d+: .+\n/,
      issue: /^Issue #\d+: .+\n\n[\s\S]*\n\n(Maintainer answer:|Resolved by PR #\d+:)/,
    };
    for (const s of pool) expect(s.context, s.id).toMatch(shape[s.kind]);
  });

  // Self-Instruct drops a generated instruction whose ROUGE-L against any pool member reaches 0.7;
  // seeds that close to each other would teach the model to produce rejects.
  it('has no two questions with ROUGE-L F >= 0.7', () => {
    const close: string[] = [];
    for (let i = 0; i < pool.length; i++) {
      for (let j = i + 1; j < pool.length; j++) {
        const f = rougeL(pool[i]!.question, pool[j]!.question, { caseSensitive: false });
        if (f >= 0.7) close.push(`${pool[i]!.id}~${pool[j]!.id}=${f.toFixed(2)}`);
      }
    }
    expect(close).toEqual([]);
  });

  it('rejects a seed whose evidence is not in its context with a one-line error naming the seed', () => {
    const file = poolFileWith((seeds) => {
      seeds[6]!.evidence = 'this sentence appears nowhere in the context';
    });
    let err: Error | undefined;
    try {
      loadSeedPool(file);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/seed-07: evidence is not a verbatim substring of context/);
    expect(err?.message).not.toContain('\n');
  });

  it('rejects repeated ids and schema errors, naming the seed', () => {
    const dup = poolFileWith((seeds) => {
      seeds[11]!.id = 'seed-03';
    });
    expect(() => loadSeedPool(dup)).toThrow(/seed-03: duplicate id/);
    const badKind = poolFileWith((seeds) => {
      seeds[4]!.kind = 'discussion';
    });
    expect(() => loadSeedPool(badKind)).toThrow(/seed-05: kind: /);
  });
});
