import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chooseThreshold } from './abstention.js';
import { loadEvalSet } from './set.js';

describe('chooseThreshold', () => {
  it('puts the threshold in the gap when the scores separate', () => {
    const c = chooseThreshold([0.62, 0.7, 0.55, 0.81], [0.2, 0.31, 0.4]);
    expect(c.threshold).toBe(0.475);
    expect(c).toMatchObject({ answered: 1, abstained: 1, balancedAccuracy: 1 });
  });

  it('weighs both groups equally, whatever their sizes', () => {
    // One negative at 0.6 above most positives: abstaining on it would cost three of four answers.
    const c = chooseThreshold([0.5, 0.52, 0.54, 0.9], [0.1, 0.2, 0.6]);
    expect(c.threshold).toBe(0.35);
    expect(c.answered).toBe(1);
    expect(c.abstained).toBeCloseTo(2 / 3, 10);
  });

  it('takes the lowest of equally good thresholds', () => {
    const c = chooseThreshold([0.5, 0.3], [0.4, 0.2]);
    // 0.25 (answer both, abstain on 0.2) and 0.45 (answer 0.5, abstain on both) both score 0.75.
    expect(c.threshold).toBe(0.25);
    expect(c.balancedAccuracy).toBe(0.75);
  });

  it('needs both groups', () => {
    expect(() => chooseThreshold([0.5], [])).toThrow(/should abstain/);
    expect(() => chooseThreshold([], [0.5])).toThrow(/should be answered/);
  });
});

describe('the abstention set', () => {
  it('is 30 out-of-scope questions about peft', () => {
    const set = loadEvalSet(fileURLToPath(new URL('./sets/peft-abstention.jsonl', import.meta.url)));
    expect(set.items).toHaveLength(30);
    expect(set.items.every((x) => x.out_of_scope && x.gold.length === 0 && x.repo === 'huggingface/peft')).toBe(true);
  });
});
