// Self-instruct generation (Wang et al., 2023, adapted): a model is shown a few hand-written seed
// tasks and a few it wrote earlier, plus one source record's context, and writes one new task —
// question, answer, and the evidence line quoted from the context — as JSON. A new question too
// close to the pool (ROUGE-L ≥ 0.7) or quoting evidence that is not in the context is rejected.
import { l as rougeL } from 'js-rouge';
import { z } from 'zod';
import type { QAPair, SourceRecord } from '../datasets/schemas.js';
import { unitInterval } from '../lib/hash.js';
import type { ChatModel, ChatRequest, JsonSchema } from '../lib/models/types.js';
import { candidatePair } from './pair.js';
import { askForJson } from '../lib/models/json-reply.js';
import { fenceContent, loadPrompt, type PromptTemplate } from '../lib/models/prompt-template.js';
import type { SeedTask } from './seeds.js';
import { projectFile } from '../lib/paths.js';

export const SELF_INSTRUCT = { name: 'self-instruct', version: '1.0.0' } as const;
export const selfInstructPrompt = (): PromptTemplate => loadPrompt(projectFile('generators/prompts/self-instruct.v1.md'));

/** Self-Instruct's novelty filter: a question this close to one already in the pool adds nothing. */
export const ROUGE_L_MAX = 0.7;
/** What a small model's 4k-token context holds comfortably next to the examples. */
const MAX_CONTEXT_CHARS = 1200;
const QUOTABLE = { min: 12, max: 200, count: 64 };

export const SelfInstructReply = z.object({
  question: z.string().trim().min(1),
  answer: z.string().trim().min(1),
  evidence: z.string().min(1),
});
export type SelfInstructReply = z.infer<typeof SelfInstructReply>;

/** One example as the prompt shows it. */
export interface Example {
  kind: string;
  context: string;
  question: string;
  answer: string;
  evidence: string;
}

/** The context a model sees: the record's text, cut at a line end to fit a small model. */
export function modelContext(rec: SourceRecord): string {
  if (rec.text.length <= MAX_CONTEXT_CHARS) return rec.text;
  const cut = rec.text.lastIndexOf('\n', MAX_CONTEXT_CHARS);
  return rec.text.slice(0, cut > 0 ? cut : MAX_CONTEXT_CHARS);
}

/** Lines of the context a reply may quote as evidence (a grammar enum: a tiny model then cannot misquote). */
export function quotableLines(context: string): string[] {
  const seen = new Set<string>();
  for (const raw of context.split('\n')) {
    const line = raw.trim();
    if (line.length < QUOTABLE.min || line.length > QUOTABLE.max || !/[a-z]{3}/i.test(line)) continue;
    seen.add(line);
    if (seen.size >= QUOTABLE.count) break;
  }
  return [...seen];
}

export function replySchema(quotable: string[]): JsonSchema {
  return {
    type: 'object',
    properties: {
      question: { type: 'string', maxLength: 200 },
      answer: { type: 'string', maxLength: 400 },
      evidence: quotable.length ? { enum: quotable } : { type: 'string', maxLength: 200 },
    },
    required: ['question', 'answer', 'evidence'],
    additionalProperties: false,
  };
}

const KIND_LABEL: Record<SourceRecord['kind'], string> = {
  code_symbol: 'Python source with its docstring',
  doc_section: 'a documentation section',
  commit: 'a commit: message and diff',
  pull_request: 'a merged pull request',
  issue: 'a closed issue and its resolution',
};

/**
 * The examples a record's prompt shows: two seeds of its kind and one of another (chosen by a hash
 * of the record id, so a retry builds the same prompt), then up to two machine-written tasks.
 */
export function examplesFor(rec: SourceRecord, seeds: SeedTask[], machine: Example[]): Example[] {
  const rank = (s: { id: string }) => unitInterval(`${rec.id}:${s.id}`);
  const byRank = (a: SeedTask, b: SeedTask) => rank(a) - rank(b);
  const same = seeds.filter((s) => s.kind === rec.kind).sort(byRank).slice(0, 2);
  const other = seeds.filter((s) => s.kind !== rec.kind).sort(byRank).slice(0, 3 - same.length);
  return [...same, ...other, ...machine.slice(-2)];
}

export function renderExamples(examples: Example[]): string {
  return examples
    .map((e, i) =>
      [
        `Task ${i + 1} (${KIND_LABEL[e.kind as SourceRecord['kind']] ?? e.kind}):`,
        '<context>',
        fenceContent(e.context.length > 400 ? `${e.context.slice(0, 400)}…` : e.context),
        '</context>',
        JSON.stringify({ question: e.question, answer: e.answer, evidence: e.evidence }),
      ].join('\n'),
    )
    .join('\n\n');
}

export type SelfInstructOutcome =
  | { kind: 'pair'; pair: QAPair; reply: SelfInstructReply }
  | { kind: 'near_duplicate'; pair: QAPair; of: string; score: number }
  | { kind: 'invalid'; detail: string; raw: string }
  | { kind: 'no_quotable_lines' };

export interface SelfInstructDeps {
  chat: ChatModel;
  prompt: PromptTemplate;
  seeds: SeedTask[];
  /** Questions already in the pool (seeds, earlier model-written pairs): the novelty filter's reference. */
  poolQuestions: string[];
  repo: string;
  signal?: AbortSignal;
}

/** Asks the model for one task about `rec`; at most one repair retry when the reply is not valid JSON. */
export async function selfInstructPair(rec: SourceRecord, machine: Example[], deps: SelfInstructDeps): Promise<SelfInstructOutcome> {
  const context = modelContext(rec);
  const quotable = quotableLines(context);
  if (!quotable.length) return { kind: 'no_quotable_lines' };
  const messages = deps.prompt.render({
    repo: deps.repo,
    examples: renderExamples(examplesFor(rec, deps.seeds, machine)),
    kind: KIND_LABEL[rec.kind],
    context: fenceContent(context),
  });
  const req: ChatRequest = {
    messages,
    schema: replySchema(quotable),
    promptVersion: deps.prompt.version,
    maxTokens: 400,
    temperature: 0.7,
    seed: Math.floor(unitInterval(rec.id, 'self-instruct-seed') * 2 ** 31),
  };
  const parsed = await askForJson(deps.chat, req, SelfInstructReply, deps.signal);
  if (!parsed.ok) return { kind: 'invalid', detail: parsed.detail, raw: parsed.raw };
  const reply = parsed.value;
  const generator = { name: SELF_INSTRUCT.name, version: SELF_INSTRUCT.version, promptVersion: deps.prompt.version, model: deps.chat.model };
  const pair = candidatePair(rec, generator, { category: 'self_instruct', question: reply.question, answer: reply.answer, evidence: [reply.evidence], context });
  if (rec.kind === 'code_symbol' && context !== rec.text && pair.provenance.startLine)
    pair.provenance = { ...pair.provenance, endLine: pair.provenance.startLine + context.split('\n').length - 1 };
  let best = { score: 0, of: '' };
  for (const q of deps.poolQuestions) {
    const score = rougeL(reply.question, q, { beta: 1, caseSensitive: false });
    if (score > best.score) best = { score, of: q };
  }
  if (best.score >= ROUGE_L_MAX) return { kind: 'near_duplicate', pair, of: best.of, score: best.score };
  return { kind: 'pair', pair, reply };
}
