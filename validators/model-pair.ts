// The deterministic layers a model-written pair passes before a judge sees it: the per-pair checks,
// answer support (validators/support.ts) and injection screening (validators/injection.ts); for a
// paraphrase, checks that the new question is a question, names what the original names, still asks
// what its rule's category asks, and is not a copy of it. No single model output decides: a pair is staged only when every layer and then the
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
 * A rewording this close to the original (ROUGE-L F1, case-folded, each name one word) is a copy, not
 * a new way to ask. Dropping two filler words ("What does the function `f` in `m.py` do?" → "What
 * does `f` in `m.py` do?") scores 0.88; a real rewording, "What is `f` in `m.py` used for?", 0.59.
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

/** The question with the original's names (delimiters included) as one word each: wording compared, not names. */
function withoutNames(text: string, names: string[]): string {
  let out = text;
  for (const n of [...names].sort((a, b) => b.length - a.length)) out = out.split(`\`${n}\``).join(' N ').split(`"${n}"`).join(' N ').split(n).join(' N ');
  return out;
}

/**
 * Check "paraphrase_novelty": the rewording is not the original with a word or two changed. Compared
 * with every name as one word: a file path is a dozen ROUGE tokens, and two questions sharing
 * `peft.tuners.lora.layer.LoraLayer` in `src/peft/tuners/lora/layer.py` would look alike whatever they ask.
 */
export function checkParaphraseNovelty(question: string, original: string): Verdict {
  const names = keyNames(original);
  const score = rougeL(withoutNames(question, names), withoutNames(original, names), { beta: 1, caseSensitive: false });
  const detail = `ROUGE-L ${score.toFixed(2)} against the original question, names aside`;
  if (score >= PARAPHRASE_COPY_ROUGE_L) return verdict('paraphrase_novelty', false, 'near_seed', `${detail} (>= ${PARAPHRASE_COPY_ROUGE_L}): a copy, not a rewording`);
  return verdict('paraphrase_novelty', true, null, detail);
}

// What a rule question of a category asks about, as words any rewording of it keeps in some form.
const ASKS: Record<string, { about: string; cue: RegExp }> = {
  returns: { about: 'what it returns', cue: /\b(returns?|returned|return value|get back|comes? back|result|output|give)\b/i },
  raises: { about: 'the errors it raises', cue: /\b(raise[sd]?|raising|errors?|exceptions?|throws?|fail(s|ure)?)\b/i },
  parameters: { about: 'its parameters', cue: /\b(param(eter)?s?|arguments?|args|inputs?|options?|accepts?|pass|takes?|expects?)\b/i },
  signature: { about: 'its signature', cue: /\b(signature|declared|declaration|defined|def|arguments?|parameters?|call)\b/i },
  bases: { about: 'its base classes', cue: /\b(base|bases|parents?|inherits?|inheriting|extends?|subclass(es)?|derives?|builds? on)\b/i },
  methods: { about: 'its methods', cue: /\b(methods?|call)\b/i },
  location: { about: 'where it is defined', cue: /\b(where|file|lines?|located|location|defined|definition|source|lives?)\b/i },
  usage_example: { about: 'an example of its use', cue: /\b(examples?|use[ds]?|using|usage|calls?|calling|show)\b/i },
};
// Asking about one of these when the original did not is asking something else, unless it is what
// the rule's category asks (a returns question worded "What result does `f` give?" may say return).
const OTHER_ASKS: Record<string, RegExp> = {
  returns: /\b(returns?|returned|return value)\b/i,
  raises: /\b(raise[sd]?|exceptions?|throws?)\b/i,
  bases: /\b(base class(es)?|parent class(es)?|inherits?)\b/i,
};

/**
 * Check "paraphrase_intent": the rewording still asks what a question of its rule's category asks
 * (a `returns` question still says return, result, get back…) and asks about none of returns, errors
 * or base classes when the original did not. Deterministic, so that a rewording that asks something
 * else ("What happens if `f` is not found?" for "What does `f` return?") fails whatever a judge says.
 */
export function checkParaphraseIntent(question: string, original: string, category: string): Verdict {
  const names = keyNames(original);
  const q = withoutNames(question, names);
  const o = withoutNames(original, names);
  const own = ASKS[category];
  if (own && !own.cue.test(q)) return verdict('paraphrase_intent', false, 'ungrounded', `no longer asks about ${own.about} (a ${category} question)`);
  const other = Object.entries(OTHER_ASKS).find(([c, cue]) => c !== category && cue.test(q) && !cue.test(o));
  if (other) return verdict('paraphrase_intent', false, 'ungrounded', `asks about ${ASKS[other[0]]!.about}, the original does not`);
  return verdict('paraphrase_intent', true, null, own ? `asks about ${own.about}` : null);
}

/**
 * The deterministic layers of a paraphrase of `original` (the rule pair): the per-pair checks, the
 * four above, and injection screening of the new question with its context. Answer
 * support is not run: the answer is the rule's, already held to its evidence.
 */
export function checkParaphrasePair(pair: QAPair, original: QAPair, limits: LengthLimits, maxChars: number): QAPair {
  const checked = validateCandidate(pair, limits);
  checked.verdicts.push(
    checkParaphraseForm(checked.question, maxChars),
    checkParaphraseNames(checked.question, original.question),
    checkParaphraseNovelty(checked.question, original.question),
    checkParaphraseIntent(checked.question, original.question, original.category),
    checkNoInjection(`${checked.question}\n${checked.context}`),
  );
  return checked;
}
