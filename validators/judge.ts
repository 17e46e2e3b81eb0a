// The judge: a second model (never the generator's, unless none can be had) rates each model-written
// pair against its context — supported / partially / unsupported, a 1–5 score, one sentence why.
// The context is fenced as data with an instruction to ignore instructions inside it: issue and PR
// text is untrusted. A reply that is not valid JSON (after one repair) fails the pair with that reason.
import { z } from 'zod';
import type { QAPair, Verdict } from '../datasets/schemas.js';
import { askForJson } from '../lib/models/json-reply.js';
import { fenceContent, loadPrompt, type PromptTemplate } from '../lib/models/prompt-template.js';
import type { ChatModel } from '../lib/models/types.js';

export const judgePrompt = (): PromptTemplate => loadPrompt(new URL('./prompts/judge.v1.md', import.meta.url));

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

/** Rates one pair. The verdict (check "judge") carries the model, the rating and the rationale. */
export async function judgePair(pair: QAPair, deps: { chat: ChatModel; prompt: PromptTemplate; repo: string; minScore: number; signal?: AbortSignal }): Promise<JudgeResult> {
  const messages = deps.prompt.render({ repo: deps.repo, context: fenceContent(pair.context), question: pair.question, answer: pair.answer });
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
