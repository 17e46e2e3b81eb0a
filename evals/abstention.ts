// Calibrating the query service's abstention threshold on hand-written eval sets. Every question is
// searched the way `qaforge serve` searches it; its score is the best cosine similarity of the query to
// a retrieved pair (what the service compares with the threshold). Questions the corpus can answer —
// in scope, with a gold locator among the hits — should be answered; out-of-scope questions should
// abstain. The threshold is the one that best separates the two (balanced accuracy); in-scope questions
// whose gold was not retrieved are reported, not fitted: for them either choice is defensible.
import { searchCorpus, type SearchMode } from '../datasets/search.js';
import type { Stores } from '../datasets/store.js';
import { UserError } from '../lib/errors.js';
import type { Embedder } from '../lib/models/types.js';
import { rankingOf } from './relevance.js';
import type { EvalSet } from './set.js';
import { ABSTAIN_KEY } from '../datasets/state-keys.js';

/** The state key `qaforge serve` reads the calibrated threshold from (JSON: AbstentionCalibration). */

export interface ThresholdChoice {
  threshold: number;
  /** Share of should-answer scores ≥ threshold, and of should-abstain scores under it. */
  answered: number;
  abstained: number;
  balancedAccuracy: number;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * The threshold with the best balanced accuracy between scores that should pass (≥ threshold) and
 * scores that should not (< threshold). Candidates are midpoints between neighbouring distinct scores
 * (and just outside both ends); ties go to the lowest threshold, so the service abstains only when
 * the data says so.
 */
export function chooseThreshold(answer: number[], abstain: number[]): ThresholdChoice {
  if (!answer.length || !abstain.length) throw new Error('calibration needs questions that should be answered and questions that should abstain');
  const all = [...new Set([...answer, ...abstain])].sort((a, b) => a - b);
  const candidates = [all[0]! - 1e-3, ...all.slice(1).map((s, i) => (s + all[i]!) / 2), all.at(-1)! + 1e-3];
  let best: ThresholdChoice | null = null;
  for (const t of candidates) {
    const answered = answer.filter((s) => s >= t).length / answer.length;
    const abstained = abstain.filter((s) => s < t).length / abstain.length;
    const balancedAccuracy = (answered + abstained) / 2;
    if (!best || balancedAccuracy > best.balancedAccuracy + 1e-12) best = { threshold: t, answered, abstained, balancedAccuracy };
  }
  return { ...best!, threshold: round4(best!.threshold) };
}

export interface ScoredQuestion {
  id: string;
  set: string;
  /** answerable: in scope and a gold among the hits; missed: in scope, no gold retrieved; out_of_scope. */
  group: 'answerable' | 'missed' | 'out_of_scope';
  score: number;
}

export interface AbstentionCalibration extends ThresholdChoice {
  sets: { id: string; hash: string }[];
  corpusVersion: number;
  embedder: string;
  mode: SearchMode;
  k: number;
  counts: { answerable: number; missed: number; outOfScope: number };
  /** Share of in-scope questions without retrieved gold that the threshold makes abstain. */
  missedAbstained: number;
  at: string;
  questions: ScoredQuestion[];
}

export async function calibrateAbstention(stores: Stores, embedder: Embedder, sets: EvalSet[], opts: { k: number; mode: SearchMode }): Promise<AbstentionCalibration> {
  const questions: ScoredQuestion[] = [];
  for (const set of sets)
    for (const item of set.items) {
      const hits = await searchCorpus(stores, embedder, item.question, { k: opts.k, mode: opts.mode, similarity: true });
      const sims = hits.map((h) => h.similarity).filter((s): s is number => s !== null);
      const score = sims.length ? Math.max(...sims) : 0;
      const group = item.out_of_scope ? 'out_of_scope' : rankingOf(hits, item.gold).some((r) => r.length) ? 'answerable' : 'missed';
      questions.push({ id: item.id, set: set.id, group, score: round4(score) });
    }
  const scores = (g: ScoredQuestion['group']) => questions.filter((q) => q.group === g).map((q) => q.score);
  const [answerable, outOfScope] = [scores('answerable').length, scores('out_of_scope').length];
  if (!answerable || !outOfScope)
    throw new UserError(
      `abstention is calibrated on both kinds of question: ${answerable} answerable in scope (a gold among the hits), ${outOfScope} out of scope; ${answerable ? 'add out-of-scope items (out_of_scope: true) to the sets' : 'no in-scope question had its gold retrieved: check the sets are about this corpus'}`,
    );
  const choice = chooseThreshold(scores('answerable'), scores('out_of_scope'));
  const missed = scores('missed');
  return {
    ...choice,
    sets: sets.map((s) => ({ id: s.id, hash: s.hash })),
    corpusVersion: await (await stores.table('corpus')).version(),
    embedder: embedder.model,
    mode: opts.mode,
    k: opts.k,
    counts: { answerable: scores('answerable').length, missed: missed.length, outOfScope: scores('out_of_scope').length },
    missedAbstained: missed.length ? missed.filter((s) => s < choice.threshold).length / missed.length : 0,
    at: new Date().toISOString(),
    questions,
  };
}

/** Stores the calibration where `qaforge serve` reads it (a running server picks it up on its next refresh). */
export async function recordAbstention(stores: Stores, c: AbstentionCalibration): Promise<void> {
  const { questions: _questions, ...kept } = c;
  await stores.setState({ [ABSTAIN_KEY]: JSON.stringify(kept) });
}

export function formatAbstention(c: AbstentionCalibration): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  return [
    `abstention threshold ${c.threshold} (best cosine similarity, ${c.mode} top ${c.k}, ${c.embedder}, corpus version ${c.corpusVersion})`,
    `  answerable in scope: ${c.counts.answerable} questions, ${pct(c.answered)} answered`,
    `  out of scope:        ${c.counts.outOfScope} questions, ${pct(c.abstained)} abstain`,
    `  in scope, gold not retrieved: ${c.counts.missed} questions, ${pct(c.missedAbstained)} abstain`,
    `  balanced accuracy ${c.balancedAccuracy.toFixed(3)} on ${c.sets.map((s) => s.id).join(', ')}`,
  ].join('\n');
}
