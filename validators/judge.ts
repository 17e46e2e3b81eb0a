// The judge: a second model (never the generator's, unless none can be had) rates each model-written
// pair — supported / partially / unsupported, a 1–5 score, one sentence why. A self-instruct pair is
// rated against its context; a paraphrase only on whether it asks what the original question asked,
// so that the rule's answer answers it (a yes or no). Repository text is fenced as data with an instruction to
// ignore instructions inside it: issue and PR text is untrusted. A reply that is not valid JSON (after
// one repair) fails the pair with that reason.
import { z } from 'zod';
import type { QAPair, Verdict } from '../datasets/schemas.js';
import { askForJson } from '../lib/models/json-reply.js';
import { clipForPrompt, fenceContent, loadPrompt, type PromptTemplate } from '../lib/models/prompt-template.js';
import type { ChatMessage, ChatModel } from '../lib/models/types.js';
import { projectFile } from '../lib/paths.js';

export const judgePrompt = (): PromptTemplate => loadPrompt(projectFile('validators/prompts/judge.v1.md'));
export const paraphraseJudgePrompt = (): PromptTemplate => loadPrompt(projectFile('validators/prompts/paraphrase-judge.v2.md'));

export const JudgeReply = z.object({
  verdict: z.enum(['supported', 'partially', 'unsupported']),
  score: z.number().int().min(1).max(5),
  rationale: z.string().trim().min(1),
});
export type JudgeReply = z.infer<typeof JudgeReply>;

const JUDGE_SCHEMA = {
  type: 'object',
  // The rationale comes first: a small model that has written down what the context says rates better.
  properties: {
    rationale: { type: 'string', maxLength: 200 },
    verdict: { enum: ['supported', 'partially', 'unsupported'] },
    score: { enum: [1, 2, 3, 4, 5] },
  },
  required: ['rationale', 'verdict', 'score'],
  additionalProperties: false,
};

export interface JudgeResult {
  verdict: Verdict;
  reply: JudgeReply | null;
}

export interface JudgeDeps {
  chat: ChatModel;
  prompt: PromptTemplate;
  repo: string;
  minScore: number;
  signal?: AbortSignal;
}

/** Rates one pair. The verdict (check "judge") carries the model, the rating and the rationale. */
export function judgePair(pair: QAPair, deps: JudgeDeps): Promise<JudgeResult> {
  return rate(deps.prompt.render({ repo: deps.repo, context: fenceContent(pair.context), question: pair.question, answer: pair.answer }), deps);
}

/** How much of a paraphrase's answer its generator and judge see: enough to say what is asked, little enough for a fast call. */
export const PARAPHRASE_ANSWER_CHARS = 400;

/**
 * A paraphrase judge's reply: one yes or no. A model of a few hundred million parameters asked for a
 * 1–5 score gave good rewordings 1/5; a yes/no it can give. Mapped onto the judge's verdict and score
 * (yes: supported, 5; no: unsupported, 1) so that reports and models.judgeMinScore read the same.
 */
export const ParaphraseJudgeReply = z.object({ same_question: z.enum(['yes', 'no']) });
const PARAPHRASE_JUDGE_SCHEMA = {
  type: 'object',
  properties: { same_question: { enum: ['yes', 'no'] } },
  required: ['same_question'],
  additionalProperties: false,
};

/**
 * Rates a paraphrase: does `pair.question` ask what `original` asked, so that the pair's answer (the
 * rule's) answers it? The same verdict shape as judgePair's.
 */
export async function judgeParaphrase(pair: QAPair, original: string, deps: JudgeDeps): Promise<JudgeResult> {
  const answer = clipForPrompt(pair.answer, PARAPHRASE_ANSWER_CHARS);
  const messages = deps.prompt.render({ repo: deps.repo, original: fenceContent(original), answer: fenceContent(answer), question: pair.question });
  const r = await askForJson(
    deps.chat,
    { messages, schema: PARAPHRASE_JUDGE_SCHEMA, promptVersion: deps.prompt.version, maxTokens: 20, temperature: 0, seed: 0 },
    ParaphraseJudgeReply,
    deps.signal,
  );
  if (!r.ok) return { verdict: { check: 'judge', pass: false, reason: 'judge', detail: `${deps.chat.model}: ${r.detail}` }, reply: null };
  const same = r.value.same_question === 'yes';
  const reply: JudgeReply = { verdict: same ? 'supported' : 'unsupported', score: same ? 5 : 1, rationale: `same question: ${r.value.same_question}` };
  const pass = same && reply.score >= deps.minScore;
  return { verdict: { check: 'judge', pass, reason: pass ? null : 'judge', detail: `${deps.chat.model}: ${reply.verdict}, ${reply.score}/5: ${reply.rationale}` }, reply };
}

async function rate(messages: ChatMessage[], deps: JudgeDeps): Promise<JudgeResult> {
  const r = await askForJson(
    deps.chat,
    { messages, schema: JUDGE_SCHEMA, promptVersion: deps.prompt.version, maxTokens: 200, temperature: 0, seed: 0 },
    JudgeReply,
    deps.signal,
  );
  if (!r.ok) return { verdict: { check: 'judge', pass: false, reason: 'judge', detail: `${deps.chat.model}: ${r.detail}` }, reply: null };
  const { verdict, score, rationale } = r.value;
  const pass = verdict === 'supported' && score >= deps.minScore;
  return {
    verdict: { check: 'judge', pass, reason: pass ? null : 'judge', detail: `${deps.chat.model}: ${verdict}, ${score}/5: ${rationale}` },
    reply: r.value,
  };
}
