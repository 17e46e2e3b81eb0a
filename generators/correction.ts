// Corrections of flagged answers, research then revise: a model first picks the cited source that
// answers the user's question and copies the passages of it that do; then, from those quotes alone,
// it writes the revised answer. The quotes are the pair's evidence, so the grounding check holds the
// correction to text the corpus really has. A user's or a reviewer's own corrected answer is built
// into a pair the same way, with the same quotes as its evidence.
import { z } from 'zod';
import type { FeedbackProvenance, GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import { unitInterval } from '../lib/hash.js';
import { askForJson } from '../lib/models/json-reply.js';
import { clipForPrompt, loadPrompt, type PromptTemplate } from '../lib/models/prompt-template.js';
import type { ChatModel, JsonSchema } from '../lib/models/types.js';
import { candidatePair } from './pair.js';
import { projectFile } from '../lib/paths.js';

export const FEEDBACK_CORRECTION = { name: 'feedback-correction', version: '1.0.0' } as const;

export const researchPrompt = (): PromptTemplate => loadPrompt(projectFile('generators/prompts/correction-research.v1.md'));
export const revisePrompt = (): PromptTemplate => loadPrompt(projectFile('generators/prompts/correction-revise.v1.md'));

/** Sources shown to the research step, and how much of each (the grounding check reads the whole context). */
export const MAX_SOURCES = 4;
const SOURCE_CHARS = 1500;
const MAX_QUOTES = 4;
const QUOTE_CHARS = 300;

/**
 * Untrusted text fenced as data: no tag inside it can close the fence (or open another) early.
 * Stricter than fenceContent: the question and comment come from anyone who holds a key.
 */
export const fenceUntrusted = (s: string) => s.replace(/<(\/?)(context|source)\b/gi, '‹$1$2');

export const ResearchReply = z.object({
  source: z.number().int().min(1),
  quotes: z.array(z.string().trim().min(1)).max(MAX_QUOTES),
});
export type ResearchReply = z.infer<typeof ResearchReply>;

export const ReviseReply = z.object({ answer: z.string().trim().min(1) });

export function researchSchema(sources: number): JsonSchema {
  return {
    type: 'object',
    properties: {
      source: { enum: Array.from({ length: sources }, (_, i) => i + 1) },
      quotes: { type: 'array', items: { type: 'string', maxLength: QUOTE_CHARS }, maxItems: MAX_QUOTES },
    },
    required: ['source', 'quotes'],
    additionalProperties: false,
  };
}

const REVISE_SCHEMA: JsonSchema = {
  type: 'object',
  properties: { answer: { type: 'string', maxLength: 800 } },
  required: ['answer'],
  additionalProperties: false,
};

export interface CorrectionDeps {
  chat: ChatModel;
  research: PromptTemplate;
  revise: PromptTemplate;
  repo: string;
  signal?: AbortSignal;
}

/** What the research step made of one flagged answer: the source (0-based) and the quotes, or why not. */
export type ResearchOutcome = { kind: 'quotes'; source: number; quotes: string[]; raw: string } | { kind: 'invalid'; detail: string; raw: string };

/** A stable seed per feedback: a retry builds the same request and is answered from the cache. */
const seedOf = (key: string, salt: string) => Math.floor(unitInterval(key, salt) * 2 ** 31);

export function renderSources(contexts: string[]): string {
  return contexts.map((c, i) => `Source ${i + 1}:\n<context>\n${fenceUntrusted(clipForPrompt(c, SOURCE_CHARS))}\n</context>`).join('\n\n');
}

/** Step one: which cited source answers the question, and its passages that do, copied. */
export async function researchQuotes(
  input: { key: string; question: string; comment: string | null; contexts: string[] },
  deps: CorrectionDeps,
): Promise<ResearchOutcome> {
  const contexts = input.contexts.slice(0, MAX_SOURCES);
  const messages = deps.research.render({
    repo: deps.repo,
    question: fenceUntrusted(input.question),
    comment: fenceUntrusted(input.comment?.trim() || '(none)'),
    sources: renderSources(contexts),
  });
  const r = await askForJson(
    deps.chat,
    { messages, schema: researchSchema(contexts.length), promptVersion: deps.research.version, maxTokens: 500, temperature: 0, seed: seedOf(input.key, 'correction-research') },
    ResearchReply,
    deps.signal,
  );
  if (!r.ok) return { kind: 'invalid', detail: r.detail, raw: r.raw };
  if (r.value.source > contexts.length) return { kind: 'invalid', detail: `source ${r.value.source} of ${contexts.length}`, raw: r.raw };
  return { kind: 'quotes', source: r.value.source - 1, quotes: [...new Set(r.value.quotes)], raw: r.raw };
}

export type ReviseOutcome = { kind: 'answer'; answer: string; raw: string } | { kind: 'invalid'; detail: string; raw: string };

/** Step two: the revised answer, written from the quotes and the question alone. */
export async function reviseAnswer(input: { key: string; question: string; quotes: string[] }, deps: CorrectionDeps): Promise<ReviseOutcome> {
  const messages = deps.revise.render({
    repo: deps.repo,
    question: fenceUntrusted(input.question),
    quotes: fenceUntrusted(input.quotes.map((q) => `- ${q}`).join('\n')),
  });
  const r = await askForJson(
    deps.chat,
    { messages, schema: REVISE_SCHEMA, promptVersion: deps.revise.version, maxTokens: 400, temperature: 0, seed: seedOf(input.key, 'correction-revise') },
    ReviseReply,
    deps.signal,
  );
  if (!r.ok) return { kind: 'invalid', detail: r.detail, raw: r.raw };
  return { kind: 'answer', answer: r.value.answer, raw: r.raw };
}

/** Provenance of the generator: the prompts behind the quotes (and, for a model's answer, the revision). */
export function correctionGenerator(deps: Pick<CorrectionDeps, 'chat' | 'research' | 'revise'>, origin: FeedbackProvenance['origin']): GeneratorInfo {
  return {
    name: FEEDBACK_CORRECTION.name,
    version: FEEDBACK_CORRECTION.version,
    promptVersion: origin === 'model' ? `${deps.research.version}+${deps.revise.version}` : deps.research.version,
    // The model that quoted the evidence (and, for origin model, wrote the answer): the grounding
    // check then holds the quotes to the context and the judge the answer to the quotes.
    model: deps.chat.model,
  };
}

/**
 * A candidate feedback_correction pair: the user's question, a corrected answer, the quotes as
 * evidence, drawn from `cited` (the corpus pair whose context the quotes come from, and its source
 * record). The context, line span and split group are the cited pair's, so the correction stays on
 * the split of the evidence it rests on.
 */
export function correctionPair(
  rec: SourceRecord,
  cited: QAPair,
  c: { question: string; answer: string; evidence: string[]; feedback: FeedbackProvenance },
  generator: GeneratorInfo,
): QAPair {
  const pair = candidatePair(rec, generator, { category: 'feedback_correction', question: c.question, answer: c.answer, evidence: c.evidence, context: cited.context });
  return { ...pair, provenance: cited.provenance, splitGroup: cited.splitGroup, feedback: c.feedback };
}
