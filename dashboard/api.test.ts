// Unit tests of the dashboard API's pure parts: the filter query string, the PSI, time buckets, and the
// numbering of a pair's context lines.
import { describe, expect, it } from 'vitest';
import { parseFilters, sourceLines } from './api.js';
import { DashboardEngine, psiOf, PSI_EPSILON } from './engine.js';

const m = (o: Record<string, number>) => new Map(Object.entries(o));

describe('parseFilters', () => {
  it('parses every filter, drops empty ones, and names the first bad one', () => {
    expect(parseFilters({ source_kind: 'code_symbol,commit', from: '2026-01-01', to: '2026-02-01T00:00:00Z', version: '4', min_score: '0.2', max_score: '0.9', hardness: 'easy', traffic: 'real', colour: undefined })).toEqual({
      source_kind: ['code_symbol', 'commit'],
      from: '2026-01-01',
      to: '2026-02-01T00:00:00Z',
      version: 4,
      min_score: 0.2,
      max_score: 0.9,
      hardness: 'easy',
      traffic: 'real',
    });
    expect(parseFilters({ source_kind: '', traffic: '' })).toEqual({});
    const err = (q: Record<string, unknown>) => {
      try {
        parseFilters(q);
      } catch (e) {
        return [(e as { statusCode: number }).statusCode, (e as { code: string }).code, (e as Error).message];
      }
      return null;
    };
    expect(err({ colour: 'red' })).toEqual([400, 'invalid_filter', 'colour: unknown filter (filters: source_kind, from, to, version, min_score, max_score, hardness, traffic)']);
    expect(err({ traffic: ['real', 'synthetic'] })).toEqual([400, 'invalid_filter', 'traffic: given more than once']);
    expect(err({ from: '2026-02-01', to: '2026-01-01' })?.[2]).toBe('from: from is not before to');
    expect(err({ version: '-1' })?.[2]).toMatch(/^version: /);
  });
});

describe('psiOf', () => {
  it('is 0 for equal mixes, the sum of (a−e)·ln(a/e) otherwise, with empty shares floored at epsilon', () => {
    expect(psiOf(m({ a: 10, b: 30 }), m({ a: 1, b: 3 })).psi).toBe(0);
    const p = psiOf(m({ a: 50, b: 50 }), m({ a: 90, b: 10 }));
    expect(p.psi).toBeCloseTo((0.5 - 0.9) * Math.log(0.5 / 0.9) + (0.5 - 0.1) * Math.log(0.5 / 0.1), 3);
    expect(p.drifting).toBe(true);
    expect(p.drifting_keys).toEqual(['b', 'a']);
    const fresh = psiOf(m({ a: 9, new: 1 }), m({ a: 10 }));
    expect(fresh.bins.find((b) => b.key === 'new')!.contribution).toBeCloseTo((0.1 - PSI_EPSILON) * Math.log(0.1 / PSI_EPSILON), 3);
    expect(psiOf(m({ a: 1 }), new Map()).psi).toBeNull();
    expect(psiOf(m({ a: 1 }), new Map()).drifting).toBe(false);
    const small = psiOf(m({ a: 52, b: 48 }), m({ a: 50, b: 50 }));
    expect([small.drifting, small.drifting_keys, small.threshold]).toEqual([false, [], 0.2]);
  });
});

describe('time buckets', () => {
  it('are the smallest of 1 min … 1 day that make at most 120 buckets', () => {
    expect(DashboardEngine.bucketMs(0)).toBe(60_000);
    expect(DashboardEngine.bucketMs(2 * 3_600_000)).toBe(60_000);
    expect(DashboardEngine.bucketMs(3 * 3_600_000)).toBe(300_000);
    expect(DashboardEngine.bucketMs(7 * 86_400_000)).toBe(6 * 3_600_000);
    expect(DashboardEngine.bucketMs(60 * 86_400_000)).toBe(86_400_000);
  });
});

describe('sourceLines', () => {
  const header = 'def f(x):\n    """Double x."""';
  it('numbers the lines of a context found in the verbatim part of its source text, from the pair\'s start line', () => {
    expect(sourceLines(header, ['Double x.'], 40, 44, { text: header, verbatim: 2 })).toEqual([
      { n: 40, text: 'def f(x):', cited: false },
      { n: 41, text: '    """Double x."""', cited: true },
    ]);
    // A class: its header is verbatim, its methods' signature lines are not.
    const cls = 'class A:\n    """An A."""\n    def run(self):';
    expect(sourceLines(cls, ['An A.'], 10, 30, { text: cls, verbatim: 2 }).map((l) => l.n)).toEqual([10, 11, null]);
    // A context past the header (a raise line): the header lines only.
    expect(sourceLines(`${header}\n    raise ValueError`, [], 40, 44, { text: header, verbatim: 2 }).map((l) => l.n)).toEqual([40, 41, null]);
    // No source record: numbered only when it is exactly the span.
    expect(sourceLines('a\nb', [], 3, 4, null).map((l) => l.n)).toEqual([3, 4]);
    expect(sourceLines('a\nb', [], 3, 9, null).map((l) => l.n)).toEqual([null, null]);
    expect(sourceLines('a\nb', [], null, null, null).map((l) => l.n)).toEqual([null, null]);
  });
});
