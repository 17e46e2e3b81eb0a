// Paraphrase generation: a model rewords a validated rule pair's question the way an engineer would
// ask it ("How do I …", "What happens if …"); the new pair keeps the rule's answer, context, evidence
// and provenance verbatim, so nothing it states comes from the model. A task the small local models
// do well, where self-instruct's grounded answers are beyond them.
import { z } from 'zod';
import type { GeneratorInfo, QAPair } from '../datasets/schemas.js';
import { readFileSync } from 'node:fs';
import { contentId, sha256Hex, unitInterval } from '../lib/hash.js';
import { askForJson } from '../lib/models/json-reply.js';
import { loadPrompt, type PromptTemplate } from '../lib/models/prompt-template.js';
import type { ChatMessage, ChatModel, ChatRequest, JsonSchema } from '../lib/models/types.js';
import { keyNames } from '../validators/model-pair.js';
import { projectFile } from '../lib/paths.js';

export const PARAPHRASE = { name: 'paraphrase', version: '2.0.0' } as const;

/** Rewordings shown before the question, by rule category: [masked question, masked rewording]. */
const ParaphraseExamples = z.record(z.string(), z.array(z.tuple([z.string(), z.string()])).min(1)).refine((x) => 'default' in x, 'needs a "default" list');
type ParaphraseExamples = z.infer<typeof ParaphraseExamples>;

export interface ParaphrasePrompt extends PromptTemplate {
  /** The example turns for a rule pair of `category` (its own list, else the default one). */
  examples(category: string): ChatMessage[];
}

/** The prompt and its examples; the version names both files' hashes, so editing either makes new cache keys. */
export function paraphrasePrompt(): ParaphrasePrompt {
  const template = loadPrompt(projectFile('generators/prompts/paraphrase.v2.md'));
  const text = readFileSync(projectFile('generators/prompts/paraphrase-examples.v2.json'), 'utf8');
  const examples: ParaphraseExamples = ParaphraseExamples.parse(JSON.parse(text));
  return {
    version: `${template.version}+${sha256Hex(text).slice(0, 8)}`,
    render: template.render,
    examples: (category) =>
      (examples[category] ?? examples.default!).flatMap(([q, r]): ChatMessage[] => [
        { role: 'user', content: `Question: ${q}` },
        { role: 'assistant', content: JSON.stringify({ question: r }) },
      ]),
  };
}

export const ParaphraseReply = z.object({ question: z.string().trim().min(1) });
export type ParaphraseReply = z.infer<typeof ParaphraseReply>;

/** The longest reworded question accepted (and, locally, the grammar's bound): twice the original, within the configured limit. */
export const maxParaphraseChars = (original: string, maxQuestionChars: number): number => Math.min(maxQuestionChars, Math.max(120, 2 * original.length));

export function paraphraseSchema(original: string, maxQuestionChars: number): JsonSchema {
  return {
    type: 'object',
    properties: { question: { type: 'string', maxLength: maxParaphraseChars(original, maxQuestionChars) } },
    required: ['question'],
    additionalProperties: false,
  };
}

/**
 * The reworded pair: the rule pair with a new question, category `paraphrase` (so exports and evals
 * can tell a model's wording from a template's), this generator, and no verdicts or value score yet.
 * Built from the rule pair rather than its source record: context, evidence and provenance (line
 * span included) are the rule's, whatever slice of the record the rule drew them from.
 */
export function paraphrasePair(rule: QAPair, question: string, generator: GeneratorInfo): QAPair {
  const { quality: _q, ...rest } = rule;
  return { ...rest, id: contentId(question, rule.answer, rule.context), question, category: 'paraphrase', generator, verdicts: [], nearDupCluster: null };
}

/** Placeholders for the names of a question, in order: one token each, easy for a small model to copy. */
const PLACEHOLDERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ'.split('');

export interface MaskedQuestion {
  /** The question with each name (and its backticks or quotes) replaced by `A`, `B`, … */
  text: string;
  /** Placeholder → the name as the question wrote it, delimiters included. */
  names: Map<string, string>;
}

// Names that together say one thing — a symbol and its file (`f` in `m.py`, `m` (`m.py`)), a doc page
// and its path ("Guide" doc page (`guide.md`)), a heading and its parent ("Setup" under "Install"),
// a list of keywords (`r`, `alpha` and `dropout`) — are masked as one: a tiny model that has to
// carry one placeholder keeps it, while two or four it drops, mixes up or leaves a spare one behind.
const SLOT = '\u0000(\\d+)\u0001';
const JOINED = new RegExp(`${SLOT}(?:(?:\\s+(?:in|under|of)\\s+|,\\s*|,?\\s+and\\s+)${SLOT}|(?:\\s+(?:doc page|page|documentation|docs))?\\s*\\(${SLOT}\\))+`, 'g');

/**
 * The question a model sees: its names (keyNames: code spans, quoted headings, commit ids) masked,
 * names that belong together as one (JOINED), #numbers left as they are, other double quotes made
 * single. A tiny model rewords "What does the function `A` do?" well and mangles long dotted paths;
 * the names are put back afterwards, exactly as written.
 */
export function maskNames(question: string): MaskedQuestion {
  const written: string[] = [];
  let text = question;
  for (const name of keyNames(question)) {
    if (name.startsWith('#')) continue;
    const w = [`\`${name}\``, `"${name}"`, name].find((x) => text.includes(x));
    if (!w) continue;
    text = text.split(w).join(`\u0000${written.length}\u0001`);
    written.push(w);
  }
  const slot = new RegExp(SLOT, 'g');
  const restore = (t: string) => t.replace(slot, (_, i: string) => written[Number(i)]!);
  const names = new Map<string, string>();
  const place = (phrase: string) => {
    const p = PLACEHOLDERS[names.size];
    if (!p) return restore(phrase);
    names.set(p, restore(phrase));
    return `\`${p}\``;
  };
  // Runs of joined names first, each as one placeholder; then the names left on their own.
  text = text.replace(new RegExp(`${JOINED.source}|${SLOT}`, 'g'), (m) => place(m));
  // A double quote left in the text (a commit's title) would end the reply's JSON string early.
  return { text: text.replace(/"([^"]*)"/g, '‘$1’'), names };
}

/**
 * The model's question with the names put back: each `A` becomes the name it stood for. A bare A is
 * left alone (it may be the article): the name is then missing, and the names check says so.
 */
export function unmaskNames(question: string, names: Map<string, string>): string {
  return question.replace(/`([A-Z])`/g, (m, p: string) => names.get(p) ?? m);
}

export type ParaphraseOutcome =
  | { kind: 'pair'; pair: QAPair }
  /** The model gave the original question back: not a new pair (its id would be the rule pair's). */
  | { kind: 'copy'; raw: string }
  | { kind: 'invalid'; detail: string; raw: string };

export interface ParaphraseDeps {
  chat: ChatModel;
  prompt: ParaphrasePrompt;
  repo: string;
  maxQuestionChars: number;
  signal?: AbortSignal;
}

/** The system message, the example turns, then the question. */
const withExamples = ([system, ...rest]: ChatMessage[], examples: ChatMessage[]): ChatMessage[] => [system!, ...examples, ...rest];

/** Asks the model to reword one rule pair's question; at most one repair retry when the reply is not valid JSON. */
export async function paraphraseRule(rule: QAPair, deps: ParaphraseDeps): Promise<ParaphraseOutcome> {
  const masked = maskNames(rule.question);
  const req: ChatRequest = {
    messages: withExamples(deps.prompt.render({ repo: deps.repo, question: masked.text }), deps.prompt.examples(rule.category)),
    schema: paraphraseSchema(masked.text, deps.maxQuestionChars),
    promptVersion: deps.prompt.version,
    maxTokens: 100,
    temperature: 0.6,
    seed: Math.floor(unitInterval(rule.id, 'paraphrase-seed') * 2 ** 31),
  };
  const parsed = await askForJson(deps.chat, req, ParaphraseReply, deps.signal);
  if (!parsed.ok) return { kind: 'invalid', detail: parsed.detail, raw: parsed.raw };
  const question = unmaskNames(parsed.value.question.replace(/\s+/g, ' '), masked.names);
  if (question === rule.question) return { kind: 'copy', raw: parsed.raw };
  const generator = { name: PARAPHRASE.name, version: PARAPHRASE.version, promptVersion: deps.prompt.version, model: deps.chat.model };
  return { kind: 'pair', pair: paraphrasePair(rule, question, generator) };
}
