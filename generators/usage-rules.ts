// Rule templates: a usage example (a real call of a library symbol, from a test or a docs code block)
// → one extractive candidate pair whose answer quotes the call verbatim.
import type { GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import { dedentCall, keywordSet, type UsageExample } from '../extractors/usage.js';
import { candidatePair, phrasing } from './pair.js';

export const USAGE_RULES: GeneratorInfo = { name: 'usage-rules', version: '1.0.0', promptVersion: null, model: null };

const code = (s: string) => `\`${s}\``;

/** `a`; `a` and `b`; `a`, `b` and `c`. */
function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Questions name at most this many keywords; the rest are counted. */
const MAX_LISTED = 6;

function keywordList(keywords: string[]): string {
  const names = keywords.map(code);
  if (names.length <= MAX_LISTED) return list(names);
  const rest = names.length - (MAX_LISTED - 1);
  return list([...names.slice(0, MAX_LISTED - 1), `${rest} other arguments`]);
}

// Wordings differ outside the backticked spans, so the corpus does not fall into a few templates.
const WITH_KEYWORDS: ((name: string, kws: string) => string)[] = [
  (n, k) => `How do I use ${n} with ${k}?`,
  (n, k) => `How do I pass ${k} to ${n}?`,
  (n, k) => `What does a call to ${n} with ${k} look like?`,
  (n, k) => `Can you show an example of calling ${n} with ${k}?`,
  (n, k) => `How is ${n} called when setting ${k}?`,
  (n, k) => `Is there an example of ${n} being given ${k}?`,
  (n, k) => `Show me how to set ${k} when calling ${n}.`,
];

const POSITIONAL_ONLY: ((name: string) => string)[] = [
  (n) => `How do I call ${n}?`,
  (n) => `What does a call to ${n} look like?`,
  (n) => `Can you show an example of calling ${n}?`,
  (n) => `How is ${n} used in practice?`,
  (n) => `Is there an example of ${n} being called?`,
  (n) => `Show me how to call ${n}.`,
];

// A docs page's example answers what the documentation shows: a question of its own, so the docs'
// call stands beside a test's call of the same keywords instead of being ambiguous with it.
const DOCS_WITH_KEYWORDS: ((name: string, kws: string) => string)[] = [
  (n, k) => `How do the docs use ${n} with ${k}?`,
  (n, k) => `What example of ${n} with ${k} does the documentation give?`,
  (n, k) => `How does the documentation pass ${k} to ${n}?`,
  (n, k) => `Where do the docs show ${n} called with ${k}, and how?`,
  (n, k) => `Which call of ${n} setting ${k} do the docs show?`,
  (n, k) => `In the documentation, how is ${n} given ${k}?`,
];

const DOCS_POSITIONAL_ONLY: ((name: string) => string)[] = [
  (n) => `How do the docs call ${n}?`,
  (n) => `What example of calling ${n} does the documentation give?`,
  (n) => `How does the documentation use ${n}?`,
  (n) => `Where do the docs show a call of ${n}, and how?`,
  (n) => `Which call of ${n} do the docs show?`,
  (n) => `In the documentation, how is ${n} called?`,
];

/**
 * The question for a usage example: the symbol and its keyword set (sorted), in one of several
 * wordings chosen by the symbol and the set. The same question then always means the same call shape,
 * so a second example of it anywhere in the corpus is an ambiguous pair, not a reworded copy.
 */
export function usageQuestion(ex: UsageExample): string {
  const { call } = ex;
  const name = code(call.name);
  const set = keywordSet(call);
  const docs = ex.origin === 'docs';
  const key = `${call.qualname}\0${set.join(',')}`;
  if (!set.length) return phrasing(key, docs ? DOCS_POSITIONAL_ONLY : POSITIONAL_ONLY)(name);
  return phrasing(key, docs ? DOCS_WITH_KEYWORDS : WITH_KEYWORDS)(name, keywordList(set));
}

const lines = (a: number, b: number) => (a === b ? `line ${a}` : `lines ${a}-${b}`);

/** The answer: who calls the module-qualified symbol with what, the call verbatim, and where it is. */
export function usageAnswer(ex: UsageExample): string {
  const { call } = ex;
  const path = ex.record.provenance.path!;
  const subject =
    ex.origin === 'docs' ? 'The documentation' : ex.origin === 'test' ? (call.enclosing ? `The test ${code(call.enclosing)}` : 'A test') : call.enclosing ? code(call.enclosing) : 'This code';
  const alias = call.callee.endsWith(call.name) ? '' : ` (as ${code(call.callee)})`;
  const args = call.keywords.length
    ? ` with ${list([...new Set(call.keywords)].map(code))}`
    : ` with ${call.positional} positional argument${call.positional === 1 ? '' : 's'}`;
  return [
    `${subject} calls ${code(call.qualname)}${alias}${args}:`,
    '',
    '```python',
    dedentCall(call.text, call.indent),
    '```',
    '',
    `(from ${code(path)}, ${lines(call.startLine, call.endLine)})`,
  ].join('\n');
}

/** The candidate pair of a usage example; its evidence is the call, verbatim in the record's text. */
export function usageExamplePair(ex: UsageExample): QAPair {
  return candidatePair(ex.record, USAGE_RULES, { category: 'usage_example', question: usageQuestion(ex), answer: usageAnswer(ex), evidence: [ex.call.text] });
}

/**
 * A unit's records with its usage examples' records after them, and one per-record question
 * function: the usage pair for a usage record, `questions` for the others (addRecordsAndPairs' shape).
 */
export function withUsageExamples(records: () => SourceRecord[], examples: () => UsageExample[], questions: (r: SourceRecord) => QAPair[]) {
  const byId = new Map<string, UsageExample>();
  return {
    records: (): SourceRecord[] => {
      const out = records();
      for (const e of examples()) {
        byId.set(e.record.id, e);
        out.push(e.record);
      }
      return out;
    },
    questions: (r: SourceRecord): QAPair[] => {
      const e = byId.get(r.id);
      return e ? [usageExamplePair(e)] : questions(r);
    },
  };
}
