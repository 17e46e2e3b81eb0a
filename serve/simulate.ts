// Synthetic load for `qaforge serve` (`qaforge simulate`): eval-set questions sent as an open-model
// Poisson stream, and feedback on a seeded share of the answers as a user who knows the gold would give it.
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { z } from 'zod';
import { unitInterval, seededRandom } from '../lib/hash.js';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { startProgress } from '../lib/progress.js';
import { nearestRank } from '../evals/metrics.js';
import { coversGold, type RetrievedProvenance } from '../evals/relevance.js';
import type { EvalItem, GoldLocator } from '../evals/set.js';

export { SEARCH_MODE_NAMES as SIMULATE_MODES } from '../datasets/search.js';
export { ANSWER_MODES as SIMULATE_ANSWERS } from './answer.js';
import type { SEARCH_MODE_NAMES } from '../datasets/search.js';
import type { ANSWER_MODES } from './answer.js';
export type SimulateMode = (typeof SEARCH_MODE_NAMES)[number];
export type SimulateAnswer = (typeof ANSWER_MODES)[number];

/** The header that marks a request synthetic in the server's query and feedback logs. */
export const SYNTHETIC_HEADER = 'x-qaforge-synthetic';
const K = 10;

// --- durations -------------------------------------------------------------------------------------

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "500ms", "60s", "2m", "1h" → milliseconds; anything else is a UserError naming the forms. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
  if (!(ms > 0)) throw new UserError(`duration ${JSON.stringify(text)} is not like 500ms, 60s, 2m or 1h`);
  return ms;
}

// --- where requests may go -------------------------------------------------------------------------

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** The service's base URL, refused when its host is not loopback unless remote load is asked for. */
export function checkTargetUrl(url: string, allowRemote = false): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`--url ${JSON.stringify(url)} is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`--url ${url}: only http and https are supported`);
  if (!LOOPBACK.has(u.hostname.toLowerCase()) && !allowRemote)
    throw new UserError(`refusing to send synthetic load to ${u.host}: not a loopback host (127.0.0.1, ::1, localhost); pass --allow-remote to do it anyway`);
  return u;
}

const endpoint = (base: URL, path: string) => `${base.href.replace(/\/+$/, '')}${path}`;

// --- the arrival schedule --------------------------------------------------------------------------

/** An independent, reproducible stream per purpose, so drawing more of one never shifts the others. */
export const streamFor = (seed: number, purpose: string) => seededRandom(Math.floor(unitInterval(String(seed), purpose) * 0x1_0000_0000));

/** Poisson arrivals: offsets in ms from the start, exponential gaps of mean 1000/rate ms, for ever. */
export function* poissonArrivals(rate: number, random: () => number): Generator<number> {
  let at = 0;
  // 1 - u lies in (0, 1]: the log is finite.
  for (;;) yield (at += (-Math.log(1 - random()) / rate) * 1000);
}

export interface ArrivalSchedule {
  /** Send times in ms from the start, ascending. */
  at: number[];
  /** What ended it: the count (--max) or the time (--duration). */
  endedBy: 'max' | 'duration';
}

export function arrivalSchedule(o: { rate: number; durationMs: number; max?: number; seed: number }): ArrivalSchedule {
  const at: number[] = [];
  const max = o.max ?? Infinity;
  for (const t of poissonArrivals(o.rate, streamFor(o.seed, 'arrivals'))) {
    if (at.length >= max) return { at, endedBy: 'max' };
    if (t >= o.durationMs) return { at, endedBy: 'duration' };
    at.push(t);
  }
  throw new Error('unreachable');
}

export interface PlannedQuery {
  at: number;
  item: EvalItem;
  /** Feedback follows this query when it is answered (200). */
  feedback: boolean;
}

/**
 * The whole run decided up front from the seed: when each query goes, which question it asks (drawn
 * with replacement) and whether its answer gets feedback, so the order responses come back in changes nothing.
 */
export function planSimulation(items: EvalItem[], o: { rate: number; durationMs: number; max?: number; seed: number; feedbackRate: number }): { queries: PlannedQuery[]; endedBy: ArrivalSchedule['endedBy'] } {
  if (!items.length) throw new UserError('no questions to ask');
  const schedule = arrivalSchedule(o);
  const pick = streamFor(o.seed, 'questions');
  const share = streamFor(o.seed, 'feedback');
  const queries = schedule.at.map((at) => ({ at, item: items[Math.floor(pick() * items.length)]!, feedback: share() < o.feedbackRate }));
  return { queries, endedBy: schedule.endedBy };
}

// --- what the service answers ----------------------------------------------------------------------

export const CitationBody = z.object({
  pair_id: z.string(),
  source_kind: z.string(),
  repo: z.string(),
  sha: z.string(),
  path: z.string().nullable(),
  start_line: z.number().int().nullable(),
  end_line: z.number().int().nullable(),
  url: z.string().nullable(),
  quote: z.string(),
  score: z.number(),
  verified: z.boolean(),
});
export type CitationBody = z.infer<typeof CitationBody>;

export const QueryResponse = z.object({
  query_id: z.string().min(1),
  answer: z.string().nullable(),
  abstained: z.boolean(),
  citations: z.array(CitationBody),
  corpus_version: z.number().int(),
  model: z.string(),
  latency_ms: z.object({ retrieve: z.number(), generate: z.number(), total: z.number() }),
});
export type QueryResponse = z.infer<typeof QueryResponse>;

export const FeedbackResponse = z.object({ feedback_id: z.string().min(1), duplicate: z.boolean().optional() });

/**
 * A response the service acknowledged: a query answered (200, its query_id) or feedback taken (201,
 * its feedback_id). The service journals both durably before answering, so each must be in its log.
 */
export type Acknowledged =
  | { type: 'query'; query_id: string; question: string; at_ms: number }
  | { type: 'feedback'; feedback_id: string; query_id: string; rating: 'up' | 'down'; duplicate: boolean; at_ms: number };

const ErrorBody = z.object({ error: z.object({ message: z.string(), code: z.string().optional() }) });

// --- feedback as the eval set would give it --------------------------------------------------------

/** What the eval relevance rule reads, from a citation: PR and issue numbers come from the URL. */
export function provenanceOfCitation(c: CitationBody): RetrievedProvenance {
  const m = /\/(pull|issues)\/(\d+)(?:[/?#]|$)/.exec(c.url ?? '');
  return {
    sourceKind: c.source_kind,
    path: c.path,
    startLine: c.start_line,
    endLine: c.end_line,
    commitFirstSeen: c.sha,
    // A citation carries no heading path: see citationCoversGold.
    qualname: null,
    prNumber: m?.[1] === 'pull' ? Number(m[2]) : null,
    issueNumber: m?.[1] === 'issues' ? Number(m[2]) : null,
  };
}

/**
 * The eval set's relevance rule (evals/relevance.ts) over a citation. A heading locator matches any
 * section of the same doc file, since a citation names the file and lines but not the heading.
 */
export function citationCoversGold(c: CitationBody, gold: GoldLocator): boolean {
  if ('heading' in gold) return c.source_kind === 'doc_section' && c.path === gold.path;
  return coversGold(provenanceOfCitation(c), gold);
}

export interface FeedbackVerdict {
  rating: 'up' | 'down';
  reason?: 'wrong' | 'unhelpful';
  /** Why, in the simulator's words (for tests and the log; not sent). */
  why: 'cites_gold' | 'misses_gold' | 'abstained_in_scope' | 'answered_out_of_scope' | 'abstained_out_of_scope';
}

export function feedbackVerdict(r: Pick<QueryResponse, 'abstained' | 'citations'>, item: Pick<EvalItem, 'gold' | 'out_of_scope'>): FeedbackVerdict {
  if (item.out_of_scope) return r.abstained ? { rating: 'up', why: 'abstained_out_of_scope' } : { rating: 'down', reason: 'wrong', why: 'answered_out_of_scope' };
  if (r.abstained) return { rating: 'down', reason: 'unhelpful', why: 'abstained_in_scope' };
  const cites = r.citations.some((c) => item.gold.some((g) => citationCoversGold(c, g)));
  return cites ? { rating: 'up', why: 'cites_gold' } : { rating: 'down', reason: 'wrong', why: 'misses_gold' };
}

// --- the summary -----------------------------------------------------------------------------------

/** An HTTP status, 'network' (no response: refused, reset, timed out) or 'invalid_body' (a 200 that is not a query response). */
export type Outcome = number | 'network' | 'invalid_body';

export interface QueryOutcome {
  outcome: Outcome;
  /** Client-side, from sending to the end of the body; null without a response. */
  latencyMs: number | null;
  abstained?: boolean;
}

export interface FeedbackOutcome {
  rating: 'up' | 'down';
  outcome: Outcome;
}

export interface SimulationSummary {
  sent: number;
  ok: number;
  errors: Record<string, number>;
  abstentions: number;
  feedback: { sent: number; up: number; down: number; errors: Record<string, number> };
  /** Of the answered (200) queries. */
  latency_ms: { p50: number; p95: number; p99: number; max: number };
  achieved_rate: number;
  offered_rate: number;
  seconds: number;
  delayed_by_cap: number;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

const countBy = <T>(xs: T[], key: (x: T) => string | null) => {
  const out: Record<string, number> = {};
  for (const x of xs) {
    const k = key(x);
    if (k !== null) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};

export function summarizeSimulation(
  queries: QueryOutcome[],
  feedback: FeedbackOutcome[],
  o: { offeredRate: number; seconds: number; delayedByCap: number },
): SimulationSummary {
  const ok = queries.filter((q) => q.outcome === 200);
  const latencies = ok.map((q) => q.latencyMs!);
  const q = (p: number) => round(nearestRank(latencies, p), 1);
  // The rate from the seconds as printed, so the two agree.
  const seconds = round(o.seconds, 3);
  return {
    sent: queries.length,
    ok: ok.length,
    errors: countBy(queries, (x) => (x.outcome === 200 ? null : String(x.outcome))),
    abstentions: ok.filter((x) => x.abstained).length,
    feedback: {
      sent: feedback.length,
      up: feedback.filter((f) => f.rating === 'up').length,
      down: feedback.filter((f) => f.rating === 'down').length,
      errors: countBy(feedback, (f) => (f.outcome === 201 ? null : String(f.outcome))),
    },
    latency_ms: { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: round(latencies.length ? Math.max(...latencies) : 0, 1) },
    achieved_rate: seconds > 0 ? round(queries.length / seconds, 3) : 0,
    offered_rate: o.offeredRate,
    seconds,
    delayed_by_cap: o.delayedByCap,
  };
}

/** One line for a person. */
export function formatSimulationLine(s: SimulationSummary): string {
  const errs = Object.entries(s.errors).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
  return (
    `simulate: sent ${s.sent} in ${s.seconds.toFixed(1)} s (${s.achieved_rate.toFixed(2)}/s of ${s.offered_rate}/s offered, ${s.delayed_by_cap} delayed by the cap), ` +
    `ok ${s.ok} (${s.abstentions} abstained), errors ${errs}, feedback ${s.feedback.sent} (up ${s.feedback.up}, down ${s.feedback.down}), ` +
    `latency p50 ${s.latency_ms.p50} p95 ${s.latency_ms.p95} p99 ${s.latency_ms.p99} max ${s.latency_ms.max} ms`
  );
}

// --- the run ---------------------------------------------------------------------------------------

export interface SimulationOptions {
  /** Base URL of the service: /v1/query and /v1/feedback go below it. */
  url: string;
  key: string;
  items: EvalItem[];
  /** Offered load, requests per second. */
  rate: number;
  durationMs: number;
  max?: number;
  seed: number;
  /** Share of answered queries that get feedback, in [0, 1]. */
  feedbackRate: number;
  mode: SimulateMode;
  answer: SimulateAnswer;
  allowRemote?: boolean;
  /** Requests (queries and feedback) in flight at most; a query over it waits and is counted. */
  concurrencyCap: number;
  /** Per request, client side. */
  timeoutMs?: number;
  /** Progress every few seconds and one warning per error status, when given. */
  log?: Logger;
  /** Called for every acknowledged response, as it arrives (at_ms from the start of the run). */
  onAcknowledged?: (a: Acknowledged) => void;
  /** Stops sending: queries planned after it aborts are not sent (nor counted); those already sent or held by the cap go out and finish. */
  signal?: AbortSignal;
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Sends one request; every failure becomes an outcome, never a throw. */
async function postJson(fetchImpl: FetchLike, url: string, key: string, body: unknown, timeoutMs: number) {
  const started = performance.now();
  try {
    const res = await fetchImpl(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', [SYNTHETIC_HEADER]: '1' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Always read the body: an unread one keeps its connection.
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // An error page that is not JSON: the status says enough.
    }
    return { status: res.status, json, latencyMs: performance.now() - started };
  } catch (e) {
    // fetch's own message is "fetch failed"; the cause says what failed (ECONNREFUSED, a reset, …).
    const err = e as Error & { cause?: Error & { code?: string } };
    const error = err.name === 'TimeoutError' ? `no response in ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
    return { status: 'network' as const, json: null, latencyMs: null, error };
  }
}

export async function runSimulation(opts: SimulationOptions, fetchImpl: FetchLike = fetch): Promise<SimulationSummary> {
  const base = checkTargetUrl(opts.url, opts.allowRemote);
  if (!(opts.rate > 0)) throw new UserError('--rate must be above 0');
  if (!(opts.feedbackRate >= 0 && opts.feedbackRate <= 1)) throw new UserError('--feedback-rate must be in [0, 1]');
  if (!(opts.concurrencyCap >= 1)) throw new UserError('--concurrency-cap must be at least 1');
  const timeoutMs = opts.timeoutMs ?? 35_000;
  const plan = planSimulation(opts.items, opts);
  const queryUrl = endpoint(base, '/v1/query');
  const feedbackUrl = endpoint(base, '/v1/feedback');
  const limit = pLimit(opts.concurrencyCap);
  const progress = opts.log ? startProgress('simulate', plan.queries.length, opts.log, 'queries') : null;
  const warned = new Set<string>();
  const warnOnce = (what: string, outcome: Outcome, detail: string | undefined) => {
    const key = `${what} ${outcome}`;
    if (warned.has(key)) return;
    warned.add(key);
    opts.log?.warn({ what, outcome, detail }, `simulate: ${what} got ${outcome}${detail ? `: ${detail}` : ''}`);
  };
  const queries: QueryOutcome[] = [];
  const feedback: FeedbackOutcome[] = [];
  let delayedByCap = 0;
  let answered = 0;

  const sendFeedback = async (r: QueryResponse, item: EvalItem) => {
    const v = feedbackVerdict(r, item);
    const body = { query_id: r.query_id, rating: v.rating, ...(v.reason ? { reason: v.reason } : {}), comment: `simulated: eval item ${item.id}` };
    const res = await limit(() => postJson(fetchImpl, feedbackUrl, opts.key, body, timeoutMs));
    let outcome: Outcome = res.status;
    if (res.status === 201) {
      const f = FeedbackResponse.safeParse(res.json);
      if (f.success)
        opts.onAcknowledged?.({ type: 'feedback', feedback_id: f.data.feedback_id, query_id: r.query_id, rating: v.rating, duplicate: f.data.duplicate ?? false, at_ms: performance.now() - started });
      else outcome = 'invalid_body';
    }
    feedback.push({ rating: v.rating, outcome });
    if (outcome !== 201) warnOnce('feedback', outcome, outcome === 'invalid_body' ? 'not a feedback response' : errorDetail(res));
  };

  const sendQuery = async (p: PlannedQuery) => {
    const res = await postJson(fetchImpl, queryUrl, opts.key, { question: p.item.question, mode: opts.mode, answer: opts.answer, k: K }, timeoutMs);
    let outcome: Outcome = res.status;
    let parsed: QueryResponse | null = null;
    if (res.status === 200) {
      const r = QueryResponse.safeParse(res.json);
      if (r.success) parsed = r.data;
      else outcome = 'invalid_body';
    }
    queries.push({ outcome, latencyMs: res.latencyMs, ...(parsed ? { abstained: parsed.abstained } : {}) });
    if (outcome !== 200) warnOnce('query', outcome, outcome === 'invalid_body' ? 'not a query response' : errorDetail(res));
    else {
      answered++;
      opts.onAcknowledged?.({ type: 'query', query_id: parsed!.query_id, question: p.item.question, at_ms: performance.now() - started });
    }
    progress?.tick(1, `ok ${answered}, errors ${queries.length - answered}`);
    return parsed;
  };

  const started = performance.now();
  let lastSent = started;
  const inFlight: Promise<void>[] = [];
  let stopped = false;
  for (const p of plan.queries) {
    const wait = started + p.at - performance.now();
    if (wait > 0) await sleep(wait, undefined, { signal: opts.signal }).catch(() => undefined);
    if (opts.signal?.aborted) {
      stopped = true;
      break;
    }
    // Open model: never wait for earlier responses; only the cap holds a query back.
    if (limit.activeCount + limit.pendingCount >= opts.concurrencyCap) delayedByCap++;
    inFlight.push(
      limit(() => {
        lastSent = performance.now();
        return sendQuery(p);
      }).then(async (r) => {
        if (r && p.feedback) await sendFeedback(r, p.item);
      }),
    );
  }
  await Promise.all(inFlight);
  // The sending window: the whole duration when time ended the schedule, else up to the last send
  // (later than planned when the cap held queries back).
  const seconds = (Math.max(lastSent, plan.endedBy === 'duration' && !stopped ? started + opts.durationMs : started) - started) / 1000;
  progress?.stop();
  return summarizeSimulation(queries, feedback, { offeredRate: opts.rate, seconds, delayedByCap });
}

function errorDetail(res: { json: unknown; error?: string }): string | undefined {
  if (res.error) return res.error;
  const e = ErrorBody.safeParse(res.json);
  return e.success ? `${e.data.error.code ? `${e.data.error.code}: ` : ''}${e.data.error.message}` : undefined;
}
