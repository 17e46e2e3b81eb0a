// The deterministic layers a model-written pair passes before a judge sees it: the per-pair checks,
// answer support (validators/support.ts) and injection screening (validators/injection.ts); for a
// paraphrase, checks that the new question is a question, names what the original names, and is not
// a copy of it. No single model output decides: a pair is staged only when every layer and then the
// judge pass it.
import { l as rougeL } from 'js-rouge';
import type { QAPair, Verdict } from '../datasets/schemas.js';
import { validateCandidate, type LengthLimits } from './checks.js';
import { checkNoInjection } from './injection.js';
import { checkAnswerSupported } from './support.js';

export function checkModelPair(pair: QAPair, limits: LengthLimits): QAPair {
  const checked = validateCandidate(pair, limits);
  checked.verdicts.push(checkAnswerSupported(checked), checkNoInjection(checked.context));
  return checked;
}

/**
 * A rewording this close to the original (ROUGE-L F1, case-folded) is a copy, not a new way to ask.
 * Dropping two filler words ("What does the function `f` in `m.py` do?" → "What does `f` in `m.py`
 * do?") scores 0.90; a real rewording that keeps the names, "What is `f` in `m.py` used for?", 0.67.
 */
export const PARAPHRASE_COPY_ROUGE_L = 0.8;
/** Fewer words than this is not a question an engineer asks about code. */
const MIN_PARAPHRASE_WORDS = 4;

// A commit's or PR's quoted title right after its id: the id names it, so the title may be reworded.
const TITLE_AFTER_ID = /((?:\b[0-9a-f]{7,40}\b|#\d+)\s*\()"[^"]*"/g;
const SHA = /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b/g;

/**
 * What a question names and its rewording must keep: code spans (symbols, paths), quoted doc headings
 * and titles, commit ids, #numbers. A quoted span and a code span are read left to right, whichever
 * opens first, so a heading with code in it is one name and a code span with quotes in it another.
 */
export function keyNames(question: string): string[] {
  const names = new Set<string>();
  const rest = question.replace(TITLE_AFTER_ID, '$1');
  let prose = '';
  let last = 0;
  for (const m of rest.matchAll(/`([^`]+)`|"([^"]+)"/g)) {
    names.add((m[1] ?? m[2]!).trim());
    prose += `${rest.slice(last, m.index)} `;
    last = m.index + m[0].length;
  }
  prose += rest.slice(last);
  for (const m of prose.matchAll(/#\d+\b/g)) names.add(m[0]);
  for (const m of prose.matchAll(SHA)) names.add(m[0]);
  return [...names].filter(Boolean);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `name` in `text` as a whole name: `ops` is not in `ops.py`, nor `pad` in `pad_batch`. */
export function containsName(text: string, name: string): boolean {
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?<![\\p{L}\\p{N}_][./-])${escapeRegExp(name)}(?![\\p{L}\\p{N}_])(?![./-][\\p{L}\\p{N}_])`, 'u').test(text);
}

const verdict = (check: string, pass: boolean, reason: Verdict['reason'], detail: string | null): Verdict => ({ check, pass, reason: pass ? null : reason, detail });

/** Check "paraphrase_form": a non-empty question that ends with '?', of a few words, at most `maxChars` long. */
export function checkParaphraseForm(question: string, maxChars: number): Verdict {
  const q = question.trim();
  if (!q) return verdict('paraphrase_form', false, 'schema', 'empty question');
  if (!q.endsWith('?')) return verdict('paraphrase_form', false, 'schema', `does not end with "?": ${JSON.stringify(q.slice(-40))}`);
  const words = q.split(/\s+/).length;
  if (words < MIN_PARAPHRASE_WORDS) return verdict('paraphrase_form', false, 'too_short', `${words} words (< ${MIN_PARAPHRASE_WORDS})`);
  if (q.length > maxChars) return verdict('paraphrase_form', false, 'too_long', `${q.length} chars (> ${maxChars})`);
  return verdict('paraphrase_form', true, null, null);
}

/**
 * Check "paraphrase_names": every name of the original question occurs in the rewording as written,
 * and the rewording names no code the original does not (an invented name, a placeholder left over).
 */
export function checkParaphraseNames(question: string, original: string): Verdict {
  const names = keyNames(original);
  const flat = question.replace(/\s+/g, ' ');
  const missing = names.filter((n) => !containsName(flat, n.replace(/\s+/g, ' ')));
  const shown = (xs: string[]) => xs.map((n) => JSON.stringify(n)).join(', ');
  if (missing.length) return verdict('paraphrase_names', false, 'ungrounded', `drops ${shown(missing)} of the original question`);
  const added = [...flat.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.trim()).filter((c) => !original.includes(c));
  if (added.length) return verdict('paraphrase_names', false, 'ungrounded', `adds ${shown([...new Set(added)])}, not in the original question`);
  return verdict('paraphrase_names', true, null, names.length ? `keeps ${shown(names)}` : 'the original names nothing');
}

/** Check "paraphrase_novelty": the rewording is not the original with a word or two changed. */
export function checkParaphraseNovelty(question: string, original: string): Verdict {
  const score = rougeL(question, original, { beta: 1, caseSensitive: false });
  const detail = `ROUGE-L ${score.toFixed(2)} against the original question`;
  if (score >= PARAPHRASE_COPY_ROUGE_L) return verdict('paraphrase_novelty', false, 'near_seed', `${detail} (>= ${PARAPHRASE_COPY_ROUGE_L}): a copy, not a rewording`);
  return verdict('paraphrase_novelty', true, null, detail);
}

/**
 * The deterministic layers of a paraphrase of `original` (the rule pair's question): the per-pair
 * checks, the three above, and injection screening of the new question with its context. Answer
 * support is not run: the answer is the rule's, already held to its evidence.
 */
export function checkParaphrasePair(pair: QAPair, original: string, limits: LengthLimits, maxChars: number): QAPair {
  const checked = validateCandidate(pair, limits);
  checked.verdicts.push(
    checkParaphraseForm(checked.question, maxChars),
    checkParaphraseNames(checked.question, original),
    checkParaphraseNovelty(checked.question, original),
    checkNoInjection(`${checked.question}\n${checked.context}`),
  );
  return checked;
}
