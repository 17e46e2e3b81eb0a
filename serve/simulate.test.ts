import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { UserError } from '../lib/errors.js';
import { EvalItem } from '../evals/set.js';
import { qaforge } from '../test/cli.js';
import { tempDir } from '../test/fixtures.js';
import {
  arrivalSchedule,
  checkTargetUrl,
  feedbackVerdict,
  parseDuration,
  planSimulation,
  provenanceOfCitation,
  runSimulation,
  summarizeSimulation,
  type Acknowledged,
  type CitationBody,
  type QueryResponse,
} from './simulate.js';

const SHA = 'a'.repeat(40);
const item = (id: string, question: string, gold: unknown[]): EvalItem =>
  EvalItem.parse({ id, repo: 'o/r', question, answer: 'a reference answer', kind: 'code', gold, difficulty: 'easy', commit: SHA, out_of_scope: gold.length === 0 });

const cite = (over: Partial<CitationBody>): CitationBody => ({
  pair_id: 'p1',
  source_kind: 'code_symbol',
  repo: 'o/r',
  sha: SHA,
  path: 'src/a.py',
  start_line: 10,
  end_line: 20,
  url: null,
  quote: 'def f():',
  score: 0.8,
  verified: true,
  ...over,
});

const answered = (citations: CitationBody[]): Pick<QueryResponse, 'abstained' | 'citations'> => ({ abstained: false, citations });
const abstained = { abstained: true, citations: [] };

describe('parseDuration', () => {
  it('reads ms, s, m and h and refuses the rest', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    for (const bad of ['60', '0s', 's', '-1s', '2 days', '']) expect(() => parseDuration(bad), bad).toThrow(UserError);
  });
});

describe('arrivalSchedule', () => {
  it('repeats for a seed and differs for another', () => {
    const a = arrivalSchedule({ rate: 5, durationMs: 60_000, max: 50, seed: 3 });
    expect(arrivalSchedule({ rate: 5, durationMs: 60_000, max: 50, seed: 3 })).toEqual(a);
    expect(arrivalSchedule({ rate: 5, durationMs: 60_000, max: 50, seed: 4 }).at).not.toEqual(a.at);
    expect(a.at.every((t, i) => i === 0 || t > a.at[i - 1]!)).toBe(true);
  });

  it('has mean gap 1/rate within 4 standard errors of the exponential', () => {
    const rate = 5;
    const n = 100_000;
    const { at } = arrivalSchedule({ rate, durationMs: Infinity, max: n, seed: 11 });
    expect(at).toHaveLength(n);
    const meanGapS = at[n - 1]! / 1000 / n;
    // An exponential gap has mean 1/rate and variance 1/rate²: the mean of n has standard error 1/(rate √n).
    const se = 1 / (rate * Math.sqrt(n));
    expect(Math.abs(meanGapS - 1 / rate)).toBeLessThan(4 * se);
  });

  it('stops at --max or at --duration, whichever comes first', () => {
    const byMax = arrivalSchedule({ rate: 1000, durationMs: 60_000, max: 10, seed: 1 });
    expect(byMax.at).toHaveLength(10);
    expect(byMax.endedBy).toBe('max');
    const byTime = arrivalSchedule({ rate: 1000, durationMs: 1000, seed: 1 });
    expect(byTime.endedBy).toBe('duration');
    expect(Math.max(...byTime.at)).toBeLessThan(1000);
    // A Poisson count over 1 s at 1000/s: mean 1000, variance 1000.
    expect(Math.abs(byTime.at.length - 1000)).toBeLessThan(4 * Math.sqrt(1000));
    expect(arrivalSchedule({ rate: 1000, durationMs: 1000, max: 5000, seed: 1 })).toEqual(byTime);
  });
});

describe('planSimulation', () => {
  const items = [item('a', 'question number one?', [{ sha: SHA }]), item('b', 'question number two?', [])];
  it('samples questions with replacement and picks the feedback share from the seed', () => {
    const o = { rate: 100, durationMs: Infinity, max: 10_000, seed: 5, feedbackRate: 0.1 };
    const plan = planSimulation(items, o);
    expect(planSimulation(items, o)).toEqual(plan);
    const share = plan.queries.filter((q) => q.feedback).length / plan.queries.length;
    // A binomial share: standard error √(p(1-p)/n).
    expect(Math.abs(share - 0.1)).toBeLessThan(4 * Math.sqrt((0.1 * 0.9) / 10_000));
    const aShare = plan.queries.filter((q) => q.item.id === 'a').length / plan.queries.length;
    expect(Math.abs(aShare - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / 10_000));
    // The arrivals are the schedule's, whatever the questions and feedback draws.
    expect(plan.queries.map((q) => q.at)).toEqual(arrivalSchedule(o).at);
  });
});

describe('feedbackVerdict', () => {
  const code = item('code', 'how is the scaling computed?', [{ path: 'src/a.py', start_line: 12, end_line: 14 }]);
  const commit = item('commit', 'why was the cache dropped?', [{ sha: 'b'.repeat(40) }]);
  const docs = item('docs', 'how do I install the package?', [{ path: 'docs/install.md', heading: 'From source' }]);
  const pr = item('pr', 'what did the fix for the loader change?', [{ pr: 12 }]);
  const issue = item('issue', 'what was the crash on save about?', [{ issue: 7 }]);
  const oos = item('oos', 'what is the capital of France?', []);

  it('up when a citation overlaps the gold, down wrong when none does', () => {
    expect(feedbackVerdict(answered([cite({ path: 'src/b.py' }), cite({ start_line: 14, end_line: 30 })]), code)).toEqual({ rating: 'up', why: 'cites_gold' });
    expect(feedbackVerdict(answered([cite({ start_line: 15, end_line: 30 }), cite({ path: 'src/b.py' })]), code)).toEqual({ rating: 'down', reason: 'wrong', why: 'misses_gold' });
    // Lines of a commit pair are not a code span.
    expect(feedbackVerdict(answered([cite({ source_kind: 'commit' })]), code).rating).toBe('down');
    expect(feedbackVerdict(answered([]), code)).toEqual({ rating: 'down', reason: 'wrong', why: 'misses_gold' });
  });

  it('matches commits by sha, docs by file, PRs and issues by the number in the URL', () => {
    expect(feedbackVerdict(answered([cite({ source_kind: 'commit', sha: 'b'.repeat(40), path: null })]), commit).rating).toBe('up');
    expect(feedbackVerdict(answered([cite({ source_kind: 'commit', sha: 'c'.repeat(40) })]), commit).rating).toBe('down');
    expect(feedbackVerdict(answered([cite({ source_kind: 'doc_section', path: 'docs/install.md', start_line: 40, end_line: 60 })]), docs).rating).toBe('up');
    expect(feedbackVerdict(answered([cite({ source_kind: 'doc_section', path: 'docs/usage.md' })]), docs).rating).toBe('down');
    const prCite = cite({ source_kind: 'pull_request', path: null, start_line: null, end_line: null, url: 'https://github.com/o/r/pull/12#discussion_r1' });
    expect(provenanceOfCitation(prCite)).toMatchObject({ prNumber: 12, issueNumber: null });
    expect(feedbackVerdict(answered([prCite]), pr).rating).toBe('up');
    expect(feedbackVerdict(answered([{ ...prCite, url: 'https://github.com/o/r/pull/123' }]), pr).rating).toBe('down');
    const issueCite = cite({ source_kind: 'issue', path: null, url: 'https://github.com/o/r/issues/7' });
    expect(feedbackVerdict(answered([issueCite]), issue).rating).toBe('up');
    expect(feedbackVerdict(answered([{ ...issueCite, source_kind: 'pull_request' }]), issue).rating).toBe('down');
  });

  it('abstaining is unhelpful in scope and right out of scope; answering out of scope is wrong', () => {
    expect(feedbackVerdict(abstained, code)).toEqual({ rating: 'down', reason: 'unhelpful', why: 'abstained_in_scope' });
    expect(feedbackVerdict(abstained, oos)).toEqual({ rating: 'up', why: 'abstained_out_of_scope' });
    expect(feedbackVerdict(answered([cite({})]), oos)).toEqual({ rating: 'down', reason: 'wrong', why: 'answered_out_of_scope' });
  });
});

describe('checkTargetUrl', () => {
  it('takes loopback hosts and refuses others unless remote load is allowed', () => {
    for (const u of ['http://127.0.0.1:8080', 'http://[::1]:8080/', 'http://localhost:1', 'https://LOCALHOST']) expect(checkTargetUrl(u).href).toMatch(/^https?:/);
    for (const u of ['http://example.com:8080', 'http://10.0.0.1', 'http://127.0.0.2', 'http://localhost.example.com']) {
      expect(() => checkTargetUrl(u), u).toThrow(UserError);
      expect(() => checkTargetUrl(u), u).toThrow(/not a loopback host .* pass --allow-remote/);
      expect(checkTargetUrl(u, true).hostname).not.toBe('');
    }
    expect(() => checkTargetUrl('not a url')).toThrow(UserError);
    expect(() => checkTargetUrl('ftp://127.0.0.1')).toThrow(/only http and https/);
  });

  it('runSimulation refuses before sending anything', async () => {
    let calls = 0;
    const fetchSpy = async () => {
      calls++;
      return new Response('{}');
    };
    await expect(
      runSimulation({ url: 'http://example.com', key: 'k', items: [item('a', 'question number one?', [{ sha: SHA }])], rate: 10, durationMs: 1000, seed: 1, feedbackRate: 0, mode: 'hybrid', answer: 'extractive', concurrencyCap: 8 }, fetchSpy),
    ).rejects.toThrow(/refusing to send synthetic load to example\.com/);
    expect(calls).toBe(0);
  });
});

describe('summarizeSimulation', () => {
  it('counts outcomes and takes nearest-rank latencies of the answered queries', () => {
    const s = summarizeSimulation(
      [
        { outcome: 200, latencyMs: 10, abstained: false },
        { outcome: 200, latencyMs: 30, abstained: true },
        { outcome: 200, latencyMs: 20, abstained: false },
        { outcome: 429, latencyMs: 1 },
        { outcome: 'network', latencyMs: null },
      ],
      [
        { rating: 'up', outcome: 201 },
        { rating: 'down', outcome: 404 },
      ],
      { offeredRate: 5, seconds: 2, delayedByCap: 1 },
    );
    expect(s).toEqual({
      sent: 5,
      ok: 3,
      errors: { '429': 1, network: 1 },
      abstentions: 1,
      feedback: { sent: 2, up: 1, down: 1, errors: { '404': 1 } },
      latency_ms: { p50: 20, p95: 30, p99: 30, max: 30 },
      achieved_rate: 2.5,
      offered_rate: 5,
      seconds: 2,
      delayed_by_cap: 1,
    });
  });
});

describe('runSimulation against a local HTTP server', () => {
  const questions = {
    gold: 'How is the LoRA scaling factor computed?',
    miss: 'Where are adapter weights merged into the base?',
    abstain: 'What does the prefix encoder project to?',
    oosAnswered: 'What is the best pizza topping in Naples?',
    oosAbstained: 'Who won the football world cup in 1998?',
    limited: 'Which function loads an adapter from the hub?',
    reset: 'Which config field selects the target modules?',
  };
  const items = [
    item('gold', questions.gold, [{ path: 'src/a.py', start_line: 10, end_line: 20 }]),
    item('miss', questions.miss, [{ path: 'src/b.py', start_line: 1, end_line: 5 }]),
    item('abstain', questions.abstain, [{ path: 'src/c.py', start_line: 1, end_line: 5 }]),
    item('oos-answered', questions.oosAnswered, []),
    item('oos-abstained', questions.oosAbstained, []),
    item('limited', questions.limited, [{ path: 'src/a.py', start_line: 1, end_line: 12 }]),
    item('reset', questions.reset, [{ path: 'src/d.py', start_line: 1, end_line: 5 }]),
  ];
  const KEY = 'qf_test-key';
  const received: { route: string; headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
  const questionOf = new Map<string, string>();
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    app = Fastify();
    let queryN = 0;
    let limitedOnce = false;
    app.post('/v1/query', async (req, reply) => {
      const body = req.body as { question: string };
      received.push({ route: 'query', headers: req.headers, body: req.body as Record<string, unknown> });
      if (body.question === questions.reset) {
        // No response at all: the client sees the connection drop.
        reply.hijack();
        req.raw.socket.destroy();
        return;
      }
      if (body.question === questions.limited && !limitedOnce) {
        limitedOnce = true;
        return reply.code(429).header('retry-after', '1').send({ error: { message: 'rate limit exceeded', code: 'rate_limited' } });
      }
      const query_id = `q-${++queryN}`;
      questionOf.set(query_id, body.question);
      const isAbstain = body.question === questions.abstain || body.question === questions.oosAbstained;
      const citation = cite({ path: body.question === questions.miss ? 'src/z.py' : 'src/a.py', start_line: 11, end_line: 13 });
      return {
        query_id,
        answer: isAbstain ? null : 'an answer',
        abstained: isAbstain,
        citations: isAbstain ? [] : [citation],
        corpus_version: 3,
        model: 'extractive',
        latency_ms: { retrieve: 1, generate: 0, total: 1 },
      };
    });
    let feedbackN = 0;
    app.post('/v1/feedback', async (req, reply) => {
      received.push({ route: 'feedback', headers: req.headers, body: req.body as Record<string, unknown> });
      return reply.code(201).send({ feedback_id: `f-${++feedbackN}` });
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => app.close());

  it('sends the planned queries with the synthetic header and rates every answer by its gold', async () => {
    const opts = { url, key: KEY, items, rate: 400, durationMs: 10_000, max: 60, seed: 1, feedbackRate: 1, mode: 'hybrid' as const, answer: 'extractive' as const, concurrencyCap: 256 };
    const plan = planSimulation(items, opts);
    const n = (id: string) => plan.queries.filter((q) => q.item.id === id).length;
    // The seed's draws (each question at least twice, so one 429 leaves the rest answered).
    expect(Object.fromEntries(items.map((i) => [i.id, n(i.id)]))).toEqual({ gold: 9, miss: 11, abstain: 7, 'oos-answered': 8, 'oos-abstained': 8, limited: 8, reset: 9 });

    const started = performance.now();
    const s = await runSimulation(opts);
    expect(performance.now() - started).toBeLessThan(5000);

    const queries = received.filter((r) => r.route === 'query');
    const feedback = received.filter((r) => r.route === 'feedback');
    expect(queries).toHaveLength(60);
    for (const r of [...queries, ...feedback]) {
      expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-qaforge-synthetic']).toBe('1');
    }
    expect(queries.map((r) => r.body).sort((a, b) => String(a.question).localeCompare(String(b.question)))).toEqual(
      plan.queries.map((q) => ({ question: q.item.question, mode: 'hybrid', answer: 'extractive', k: 10 })).sort((a, b) => a.question.localeCompare(b.question)),
    );

    // Every answered query got exactly one rating, the one its question calls for.
    const ok = 60 - 1 - 9; // less the 429 and the dropped connections
    expect(feedback).toHaveLength(ok);
    expect(new Set(feedback.map((f) => f.body.query_id)).size).toBe(ok);
    const expected: Record<string, object> = {
      [questions.gold]: { rating: 'up' },
      [questions.limited]: { rating: 'up' },
      [questions.oosAbstained]: { rating: 'up' },
      [questions.miss]: { rating: 'down', reason: 'wrong' },
      [questions.oosAnswered]: { rating: 'down', reason: 'wrong' },
      [questions.abstain]: { rating: 'down', reason: 'unhelpful' },
    };
    for (const f of feedback) {
      const q = questionOf.get(String(f.body.query_id))!;
      const id = items.find((i) => i.question === q)!.id;
      expect(f.body).toEqual({ query_id: f.body.query_id, ...expected[q], comment: `simulated: eval item ${id}` });
    }

    expect(s).toMatchObject({
      sent: 60,
      ok,
      errors: { '429': 1, network: 9 },
      abstentions: 7 + 8,
      // up: gold, limited after its 429, out of scope abstained; down: miss, out of scope answered, abstain.
      feedback: { sent: ok, up: 9 + 7 + 8, down: 11 + 8 + 7, errors: {} },
      offered_rate: 400,
      delayed_by_cap: 0,
    });
    expect(s.latency_ms.p50).toBeGreaterThan(0);
    expect(s.latency_ms.p50).toBeLessThanOrEqual(s.latency_ms.p95);
    expect(s.latency_ms.p95).toBeLessThanOrEqual(s.latency_ms.p99);
    expect(s.latency_ms.p99).toBeLessThanOrEqual(s.latency_ms.max);
    // Ended by --max: the window runs to the last send, at least the last planned arrival.
    expect(s.seconds).toBeGreaterThanOrEqual(plan.queries.at(-1)!.at / 1000 - 0.001);
    expect(s.achieved_rate).toBeCloseTo(60 / s.seconds, 2);
  });
});

describe('runSimulation under the concurrency cap', () => {
  it('sends on schedule without waiting for responses, holding back only what the cap delays', async () => {
    const items = [item('a', 'question number one?', [{ sha: SHA }])];
    const opts = { url: 'http://127.0.0.1:9', key: 'k', items, rate: 1000, durationMs: 10_000, max: 5, seed: 2, feedbackRate: 0, mode: 'fts' as const, answer: 'none' as const };
    // All five arrive within the first slow response.
    expect(planSimulation(items, { ...opts, feedbackRate: 0 }).queries.at(-1)!.at).toBeLessThan(15);
    let inFlight = 0;
    let most = 0;
    const slowFetch = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 40));
      inFlight--;
      return new Response(JSON.stringify({ query_id: 'q', answer: null, abstained: true, citations: [], corpus_version: 1, model: 'm', latency_ms: { retrieve: 0, generate: 0, total: 0 } }), { status: 200 });
    };
    const capped = await runSimulation({ ...opts, concurrencyCap: 1 }, slowFetch);
    expect(most).toBe(1);
    expect(capped).toMatchObject({ sent: 5, ok: 5, abstentions: 5, delayed_by_cap: 4 });
    // Held back, the last query went out after four slow responses.
    expect(capped.seconds).toBeGreaterThanOrEqual(0.15);

    most = 0;
    const open = await runSimulation({ ...opts, concurrencyCap: 256 }, slowFetch);
    expect(most).toBe(5);
    expect(open).toMatchObject({ sent: 5, ok: 5, delayed_by_cap: 0 });
    expect(open.seconds).toBeLessThan(0.04);
  });
});

describe('acknowledged responses', () => {
  const items = [item('gold', 'How is the LoRA scaling factor computed?', [{ path: 'src/a.py', start_line: 10, end_line: 20 }]), item('oos', 'Who won the football world cup in 1998?', [])];
  const answer = (query_id: string) => ({ query_id, answer: 'an answer', abstained: false, citations: [cite({ start_line: 11, end_line: 13 })], corpus_version: 1, model: 'extractive', latency_ms: { retrieve: 1, generate: 0, total: 1 } });

  /**
   * A service that answers the first `answering` queries (every third with 429) and holds the later
   * ones unanswered; takes feedback (the first with a body that is not a feedback response); and dies
   * when feedback number `dieAt` arrives. What dies when is decided by what arrived, not by timing.
   */
  async function dyingService(answering: number, dieAt = Infinity) {
    const app = Fastify();
    const sent = { queries: new Map<string, string>(), feedback: new Map<string, string>() };
    const held = new Set<() => void>();
    let n = 0;
    let f = 0;
    let dead = false;
    const drop = (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      req.raw.socket.destroy();
    };
    app.post('/v1/query', async (req, reply) => {
      const k = ++n;
      if (dead) return drop(req, reply);
      if (k > answering) {
        // Held until the service dies: in flight when it does.
        await new Promise<void>((r) => held.add(r));
        return drop(req, reply);
      }
      if (k % 3 === 0) return reply.code(429).send({ error: { message: 'slow down', code: 'rate_limited' } });
      await new Promise((r) => setTimeout(r, 5));
      const id = `q-${k}`;
      sent.queries.set(id, (req.body as { question: string }).question);
      return answer(id);
    });
    app.post('/v1/feedback', async (req, reply) => {
      const k = ++f;
      if (dead || k >= dieAt) {
        if (!dead) {
          dead = true;
          // Nothing listening any more, every open connection dropped: what a SIGKILL leaves the client with.
          app.server.close();
          for (const release of held) release();
          app.server.closeAllConnections();
        }
        return drop(req, reply);
      }
      const id = `f-${k}`;
      if (k === 1) return reply.code(201).send({ id });
      sent.feedback.set(id, (req.body as { query_id: string }).query_id);
      return reply.code(201).send({ feedback_id: id, duplicate: false });
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, sent, close: () => app.close() };
  }

  it('reports every 200 and 201 as it arrives and survives the service dying mid-run', async () => {
    // 12 queries answered (4 of them 429), the rest held; it dies when the fourth feedback arrives.
    const svc = await dyingService(12, 4);
    const acks: Acknowledged[] = [];
    try {
      const s = await runSimulation({ url: svc.url, key: 'k', items, rate: 300, durationMs: 10_000, max: 80, seed: 3, feedbackRate: 1, mode: 'hybrid', answer: 'extractive', concurrencyCap: 256, timeoutMs: 5000, onAcknowledged: (a) => acks.push(a) });
      const queries = acks.filter((a) => a.type === 'query');
      const feedback = acks.filter((a) => a.type === 'feedback');
      // Each acknowledged id is one the service sent, with the question it was sent for, reported once.
      expect(queries.length).toBe(s.ok);
      expect(new Set(queries.map((a) => a.query_id)).size).toBe(queries.length);
      for (const a of queries) expect(svc.sent.queries.get(a.query_id)).toBe(a.question);
      expect(feedback.length).toBe(s.feedback.sent - Object.values(s.feedback.errors).reduce((x, y) => x + y, 0));
      for (const a of feedback) {
        expect(svc.sent.feedback.get(a.feedback_id)).toBe(a.query_id);
        // The gold question's answer cites its gold; answering the out-of-scope one is wrong.
        expect(a).toMatchObject({ rating: svc.sent.queries.get(a.query_id) === items[0]!.question ? 'up' : 'down', duplicate: false });
      }
      expect(acks.every((a, i) => i === 0 || a.at_ms >= acks[i - 1]!.at_ms)).toBe(true);
      // The run went on after the service died: the held and later queries counted as network errors, no throw.
      expect(s.sent).toBe(80);
      expect(s.ok).toBeGreaterThanOrEqual(4);
      expect(s.ok).toBeLessThanOrEqual(8);
      expect(s.errors.network).toBeGreaterThanOrEqual(80 - 12);
      expect(s.ok + (s.errors['429'] ?? 0) + s.errors.network!).toBe(80);
      expect(Object.keys(s.errors).filter((k) => k !== '429' && k !== 'network')).toEqual([]);
      // A 201 that is not a feedback response is not an acknowledgement; the feedback that met the death failed.
      expect(s.feedback.errors.invalid_body).toBe(1);
      expect(s.feedback.errors.network).toBeGreaterThanOrEqual(1);
    } finally {
      await svc.close();
    }
  });

  it('qaforge simulate --record writes one line per acknowledged response', async () => {
    const svc = await dyingService(1000);
    const dir = tempDir('qaforge-record-');
    const set = join(dir, 'set.jsonl');
    writeFileSync(set, items.map((i) => JSON.stringify(i)).join('\n'));
    const record = join(dir, 'acks.jsonl');
    try {
      const r = await qaforge(['simulate', '--url', svc.url, '--key', 'k', '--questions', set, '--rate', '200', '--max', '12', '--feedback-rate', '1', '--record', record, '--json']);
      expect(r.stderr).toMatch(/simulate: sent 12/);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout);
      const lines = readFileSync(record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Acknowledged);
      const queries = lines.filter((a) => a.type === 'query');
      expect(queries.map((a) => a.query_id).sort()).toEqual([...svc.sent.queries.keys()].sort());
      for (const a of queries) expect(a.question).toBe(svc.sent.queries.get(a.query_id));
      const feedback = lines.filter((a) => a.type === 'feedback');
      expect(feedback.map((a) => [a.feedback_id, a.query_id]).sort()).toEqual([...svc.sent.feedback].sort());
      expect(s).toMatchObject({ sent: 12, ok: queries.length, errors: { '429': 12 - queries.length } });
    } finally {
      await svc.close();
    }
  }, 60_000);
});

describe('runSimulation stopped by its signal', () => {
  it('sends nothing planned after the abort and counts only what it sent', async () => {
    const items = [item('a', 'question number one?', [{ sha: SHA }])];
    const stop = new AbortController();
    let calls = 0;
    const fetchStub = async () => {
      if (++calls === 3) stop.abort();
      return new Response(JSON.stringify({ query_id: `q${calls}`, answer: null, abstained: true, citations: [], corpus_version: 1, model: 'm', latency_ms: { retrieve: 0, generate: 0, total: 0 } }), { status: 200 });
    };
    const acks: Acknowledged[] = [];
    // 100 planned over about 2 s; the stop comes with the third.
    const s = await runSimulation(
      { url: 'http://127.0.0.1:9', key: 'k', items, rate: 50, durationMs: 60_000, max: 100, seed: 4, feedbackRate: 0, mode: 'fts', answer: 'none', concurrencyCap: 8, signal: stop.signal, onAcknowledged: (a) => acks.push(a) },
      fetchStub,
    );
    expect(s.sent).toBe(calls);
    expect(s.sent).toBeGreaterThanOrEqual(3);
    expect(s.sent).toBeLessThan(100);
    expect(s).toMatchObject({ ok: s.sent, errors: {} });
    expect(acks.map((a) => (a.type === 'query' ? a.query_id : null))).toEqual(Array.from({ length: s.sent }, (_, i) => `q${i + 1}`));
    // The window ends at the last send, not at --duration.
    expect(s.seconds).toBeLessThan(60);
  });
});
