// Feedback fixtures shared by the review tests: query-log and feedback rows shaped as the server
// writes them, and a scripted generator and judge for the correction prompts (and for the service's
// generative answer, when the flagged answer comes from a running qaforge serve).
import type { QAPair } from '../datasets/schemas.js';
import type { ChatCall } from './openai/server.js';

export const GENERATOR = 'Qwen/Qwen2.5-7B-Instruct';
export const JUDGE = 'meta-llama/Llama-3.1-8B-Instruct';

/**
 * What the scripted generator says for a question: the research step's reply (`source`, 1-based;
 * without it, the first source holding quotes[0], else 1), then the revision's; `served` is the
 * service's generative answer, which cites every source it was given, quoting its first line.
 */
export type CorrectionScript = Record<string, { source?: number; quotes: string[]; answer?: string; served?: string }>;

/** Which prompt a call carries: the judge's, the correction's research or revise step, or the service's answer. */
export function roleOf(c: ChatCall): 'judge' | 'research' | 'revise' | 'answer' | 'other' {
  const system = c.messages[0]!.content;
  if (system.includes('strict reviewer')) return 'judge';
  if (system.includes('flagged as wrong or unhelpful')) return 'research';
  if (system.includes('from quoted passages')) return 'revise';
  if (system.includes('You answer questions about a codebase from the numbered sources only')) return 'answer';
  return 'other';
}

/** The numbered source texts of a research prompt. */
const researchSources = (user: string) => [...user.matchAll(/Source (\d+):\n<context>\n([\s\S]*?)\n<\/context>/g)].map((m) => ({ n: Number(m[1]), text: m[2]! }));

/** The service's reply citing every source of its grounded prompt ("[n] kind path:lines" then the context), each by its first line. */
function servedReply(user: string, answer: string): string {
  const sources = user.split('\nSources:\n')[1] ?? '';
  const citations = sources
    .split(/\n\n(?=\[\d+\] )/)
    .map((block) => {
      const [header, ...body] = block.split('\n');
      const quote = body.map((l) => l.trim()).find((l) => l.length > 3);
      return { source: Number(/^\[(\d+)\]/.exec(header ?? '')?.[1]), quote: quote ?? '' };
    })
    .filter((c) => c.source > 0 && c.quote);
  return JSON.stringify({ answer, citations });
}

/** A chat handler answering from `script` (keyed by the question the prompt holds); the judge approves everything. */
export function scriptedCorrections(script: CorrectionScript): (c: ChatCall) => string {
  return (c) => {
    const role = roleOf(c);
    if (role === 'judge') return JSON.stringify({ rationale: 'The context states it.', verdict: 'supported', score: 5 });
    const user = c.messages[1]!.content;
    const question = Object.keys(script).find((q) => user.includes(q));
    const s = question === undefined ? undefined : script[question];
    if (!s || role === 'other' || (role === 'answer' && s.served === undefined)) throw new Error(`unscripted ${role} call: ${user.slice(0, 200)}`);
    if (role === 'answer') return servedReply(user, s.served!);
    const source = s.source ?? researchSources(user).find((x) => s.quotes[0] !== undefined && x.text.includes(s.quotes[0]))?.n ?? 1;
    return JSON.stringify(role === 'research' ? { source, quotes: s.quotes } : { answer: s.answer });
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
