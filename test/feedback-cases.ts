// Feedback fixtures shared by the review tests: query-log and feedback rows shaped as the server
// writes them, and a scripted generator and judge for the correction prompts.
import type { QAPair } from '../datasets/schemas.js';
import type { ChatCall } from './openai/server.js';

export const GENERATOR = 'Qwen/Qwen2.5-7B-Instruct';
export const JUDGE = 'meta-llama/Llama-3.1-8B-Instruct';

/** What the scripted generator says for a question: the research step's reply, then the revision's. */
export type CorrectionScript = Record<string, { source: number; quotes: string[]; answer?: string }>;

/** Which prompt a call carries: the judge's, or the correction's research or revise step. */
export function roleOf(c: ChatCall): 'judge' | 'research' | 'revise' | 'other' {
  const system = c.messages[0]!.content;
  if (system.includes('strict reviewer')) return 'judge';
  if (system.includes('flagged as wrong or unhelpful')) return 'research';
  if (system.includes('from quoted passages')) return 'revise';
  return 'other';
}

/** A chat handler answering from `script` (keyed by the question the prompt holds); the judge approves everything. */
export function scriptedCorrections(script: CorrectionScript): (c: ChatCall) => string {
  return (c) => {
    const role = roleOf(c);
    if (role === 'judge') return JSON.stringify({ rationale: 'The context states it.', verdict: 'supported', score: 5 });
    const question = Object.keys(script).find((q) => c.messages[1]!.content.includes(q));
    const s = question === undefined ? undefined : script[question];
    if (!s || role === 'other') throw new Error(`unscripted ${role} call: ${c.messages[1]!.content.slice(0, 200)}`);
    return JSON.stringify(role === 'research' ? { source: s.source, quotes: s.quotes } : { answer: s.answer });
  };
}

/** A citation as the server returns (and logs) it. */
export const citationOf = (p: QAPair) => ({
  pair_id: p.id,
  source_kind: p.sourceKind,
  repo: p.provenance.repo,
  sha: p.provenance.commitLastVerified,
  path: p.provenance.path,
  start_line: p.provenance.startLine,
  end_line: p.provenance.endLine,
  url: null,
  quote: p.evidence[0] ?? '',
  score: 0.5,
  verified: true,
});

/** One `queries` row: an answered request that cited `cited`. */
export function queryRow(id: string, question: string, answer: string, cited: QAPair[]) {
  return {
    query_id: id,
    at: '2026-12-02T10:00:00.000Z',
    key_name: 'alice',
    route: 'query',
    question,
    answer,
    abstained: false,
    mode: 'hybrid',
    answer_mode: 'generative',
    k: 5,
    retrieved: JSON.stringify(cited.map((p) => ({ id: p.id, score: 0.5 }))),
    citations: JSON.stringify(cited.map(citationOf)),
    top_score: 0.5,
    latency_retrieve: 1,
    latency_generate: 1,
    latency_total: 2,
    model: GENERATOR,
    corpus_version: 1,
    status: 200,
    synthetic: false,
    error: null,
  };
}

/** One `feedback` row, `minute` minutes into the hour (the review takes flags oldest first). */
export const feedbackRow = (
  id: string,
  queryId: string,
  minute: number,
  o: { rating?: 'up' | 'down'; reason?: string | null; comment?: string | null; correction?: string | null; synthetic?: boolean } = {},
) => ({
  feedback_id: id,
  query_id: queryId,
  key_name: 'alice',
  at: `2026-12-02T10:${String(minute).padStart(2, '0')}:00.000Z`,
  rating: o.rating ?? 'down',
  reason: o.reason === undefined ? 'wrong' : o.reason,
  comment: o.comment ?? null,
  correction: o.correction ?? null,
  synthetic: o.synthetic ?? false,
});
