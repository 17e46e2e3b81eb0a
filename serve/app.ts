// `qaforge serve`: the HTTP query service (Fastify). Routes: POST /v1/query, POST /v1/chat/completions
// (OpenAI-compatible, SSE streaming too), POST /v1/feedback, GET /v1/search, GET /v1/pairs/:id,
// GET /v1/queries/:id (admin), GET /healthz, /readyz, /metrics. Every /v1 route needs a bearer key;
// limits: per-key rate, body size, field sizes, request time, event-loop lag. Every answered request
// is journaled (fsync'd) before the response leaves, then moved into the `queries` table.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { z } from 'zod';
import { findPair } from '../datasets/curation.js';
import { SEARCH_MODE_NAMES } from '../datasets/search.js';
import { columnsOf, sqlString, Stores } from '../datasets/store.js';
import type { Config } from '../lib/config.js';
import { UserError } from '../lib/errors.js';
import { contentId } from '../lib/hash.js';
import type { Logger } from '../lib/log.js';
import { openChatModels, openEmbedder, type Models } from '../lib/models/index.js';
import type { ChatModel, Embedder } from '../lib/models/types.js';
import { ModelCallFailed, ABSTAIN_ANSWER, answerQuery, DEFAULT_ABSTAIN_THRESHOLD, QueryBody, type Answered, type QueryRequest } from './answer.js';
import { Journal } from './journal.js';
import { KeyRing, type Role } from './keys.js';
import { createMetrics } from './metrics.js';
import { scrub, scrubOrNull } from './scrub.js';
import { ABSTAIN_KEY } from '../datasets/state-keys.js';


export interface QueryLogRow extends Record<string, unknown> {
  query_id: string;
  at: string;
  key_name: string;
  route: 'query' | 'chat' | 'search';
  question: string;
  answer: string | null;
  abstained: boolean;
  mode: string;
  answer_mode: string;
  k: number;
  retrieved: string;
  citations: string;
  top_score: number | null;
  latency_retrieve: number;
  latency_generate: number;
  latency_total: number;
  model: string;
  corpus_version: number;
  status: number;
  synthetic: boolean;
  error: string | null;
}

export interface FeedbackRow extends Record<string, unknown> {
  feedback_id: string;
  query_id: string;
  key_name: string;
  at: string;
  rating: 'up' | 'down';
  reason: string | null;
  comment: string | null;
  correction: string | null;
  synthetic: boolean;
}

export const FeedbackBody = z
  .object({
    query_id: z.string().min(1).max(64),
    rating: z.enum(['up', 'down']),
    reason: z.enum(['wrong', 'unhelpful', 'outdated', 'other']).optional(),
    comment: z.string().max(2000).optional(),
    correction: z.string().min(1).max(4000).optional(),
  })
  .strict();

const ChatBody = z
  .object({
    model: z.string().max(200).optional(),
    messages: z
      .array(
        z
          .object({
            role: z.enum(['system', 'user', 'assistant', 'developer', 'tool']),
            content: z.union([z.string().max(8000), z.array(z.object({ type: z.string(), text: z.string().max(8000).optional() }).loose()).max(20), z.null()]),
          })
          .loose(),
      )
      .min(1)
      .max(50),
    stream: z.boolean().optional(),
  })
  .loose();

const SearchQuery = z
  .object({
    q: z.string().trim().min(1).max(2000),
    k: z.coerce.number().int().min(1).max(50).default(10),
    mode: z.enum(SEARCH_MODE_NAMES).default('hybrid'),
  })
  .strict();

/** An error a client caused: its status, a machine-readable code and a message. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The first zod issue as a 400 that names the field. */
function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const field = i.path.join('.') || (i.code === 'unrecognized_keys' ? (i as { keys: string[] }).keys.join(', ') : what);
  throw new HttpError(400, 'invalid_field', `${field}: ${i.message}`);
}

const newQueryId = () => `q_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: { name: string; role: Role } | null;
  }
  interface FastifyContextConfig {
    /** The role a route needs (admin routes); query routes take any key. */
    role?: Role;
    /** /healthz, /readyz, /metrics: no key. */
    open?: boolean;
  }
}

export interface ServeOptions {
  /** No key needed: only on a loopback host. */
  dev?: boolean;
  log: Logger;
}

export interface QueryService {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Opens the stores, the embedder and the journals, replays what a killed server left, and listens. */
export async function startQueryService(cfg: Config, opts: ServeOptions): Promise<QueryService> {
  const { host, port } = cfg.serve;
  if (opts.dev && !LOOPBACK.has(host)) throw new UserError(`--dev (no API keys) is allowed on a loopback host only, not ${host}: drop --dev and create a key with qaforge keys create`);
  const log = opts.log;
  const stores = await Stores.openFor(cfg);
  const keys = new KeyRing(stores);
  await keys.reload();
  if (!opts.dev && !keys.size) log.warn('no API keys yet: create one with `qaforge keys create --name <name>` (every /v1 route needs one)');
  const dir = journalDir(cfg);
  const queries = new Journal<QueryLogRow>(dir, 'queries', 'query_id', stores, log, { flushMs: cfg.serve.flushMs });
  const feedback = new Journal<FeedbackRow>(dir, 'feedback', 'feedback_id', stores, log, { flushMs: cfg.serve.flushMs });
  const replayed = { queries: (await queries.open()).replayed, feedback: (await feedback.open()).replayed };
  const tornLines = queries.stats.tornLines + feedback.stats.tornLines;
  if (replayed.queries || replayed.feedback || tornLines) log.info({ ...replayed, tornLines }, 'journal replayed into the query log');
  queries.start();
  feedback.start();

  const corpus = await stores.table('corpus');
  // In a thread of its own: query embedding would otherwise block the event loop (see lib/models/embed-thread.ts).
  const embedder: Embedder | null = (await stores.corpusVectors()) ? await openEmbedder(cfg, { thread: true }) : null;
  let models: Models | null = null;
  // Only the generator answers here: the judge is set to it, so a judge with no endpoint and no token
  // (models.generator.endpointUrl alone configured) is never opened, which would fail every generative request.
  const generator = async (): Promise<ChatModel> => (models ??= openChatModels({ ...cfg, models: { ...cfg.models, judge: cfg.models.generator } })).generator;
  const state = { version: await corpus.version(), active: await corpus.countRows("status = 'active'"), threshold: await abstainThreshold(stores, cfg) };
  const refresh = setInterval(() => {
    void (async () => {
      // Every table this process reads (the dashboard reads versions, evals, staging, …), not only these.
      await stores.refreshTables();
      state.version = await corpus.version();
      state.active = await corpus.countRows("status = 'active'");
      await keys.reload();
      state.threshold = await abstainThreshold(stores, cfg);
    })().catch((e) => log.warn({ err: (e as Error).message }, 'refresh of corpus and keys failed; will retry'));
  }, cfg.serve.refreshMs);
  refresh.unref();

  const metrics = createMetrics();
  const app = Fastify({
    logger: false,
    bodyLimit: cfg.serve.bodyLimitBytes,
    requestTimeout: cfg.serve.requestTimeoutMs,
    // Past the request deadline, so that an answer still being worked on at the deadline ends with its
    // 504 rather than a connection closed under it.
    connectionTimeout: cfg.serve.requestTimeoutMs + 5_000,
    // Ids in logs, never addresses: req.ip is not read anywhere.
    genReqId: () => randomBytes(6).toString('hex'),
    trustProxy: false,
  });
  app.decorateRequest('apiKey', null);

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err instanceof HttpError ? err.statusCode : (err.statusCode ?? 500);
    const code =
      err instanceof HttpError ? err.code : status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : status === 400 ? 'invalid_body' : status === 429 ? 'rate_limited' : status >= 500 ? 'internal' : (err.code ?? 'error');
    if (status >= 500) log.error({ route: req.routeOptions.url, err: scrub(err.message) }, 'request failed');
    const message = status >= 500 && !(err instanceof HttpError) ? 'internal error (logged)' : scrub(err.message);
    void reply.status(status).send({ error: { message, code } });
  });
  app.setNotFoundHandler((req, reply) => void reply.status(404).send({ error: { message: `no route ${req.method} ${scrub(req.url.split('?')[0]!)}`, code: 'not_found' } }));

  // Authentication first (the rate limit counts per key), then the per-key limit.
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.open || !req.routeOptions.url) return;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
    if (!m) {
      if (opts.dev) {
        req.apiKey = { name: 'dev', role: 'admin' };
        return;
      }
      throw new HttpError(401, 'unauthorized', 'missing API key: send Authorization: Bearer <key> (create one with qaforge keys create)');
    }
    const key = keys.check(m[1]!);
    if (!key) throw new HttpError(401, 'unauthorized', 'unknown or revoked API key');
    const need = req.routeOptions.config.role;
    if (need === 'admin' && key.role !== 'admin') throw new HttpError(403, 'forbidden', `this route needs an admin key; key ${key.name} has role ${key.role}`);
    req.apiKey = key;
  });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: cfg.serve.rateLimit.max,
    timeWindow: cfg.serve.rateLimit.windowMs,
    keyGenerator: (req) => req.apiKey?.name ?? 'anonymous',
    allowList: (req) => Boolean(req.routeOptions.config.open),
    errorResponseBuilder: (_req, ctx) => new HttpError(429, 'rate_limited', `rate limit of ${ctx.max} requests per ${ctx.after} for this key reached: retry after ${ctx.after}`),
  });
  await app.register(underPressure, {
    maxEventLoopDelay: cfg.serve.maxEventLoopDelayMs,
    retryAfter: 5,
    pressureHandler: (_req, reply, type, value) =>
      void reply
        .status(503)
        .header('retry-after', '5')
        .send({ error: { message: `overloaded (${type}${value !== undefined ? ` ${Math.round(Number(value))}` : ''}): retry after 5 s`, code: 'overloaded' } }),
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    if (reply.statusCode >= 400) metrics.errors.inc({ route, code: String(reply.statusCode) });
    log.debug({ id: req.id, route, method: req.method, status: reply.statusCode, ms: Math.round(reply.elapsedTime), key: req.apiKey?.name ?? null }, 'request');
  });

  const synthetic = (req: FastifyRequest) => /^(1|true|yes)$/i.test(String(req.headers['x-qaforge-synthetic'] ?? ''));
  const deadline = () => AbortSignal.timeout(cfg.serve.requestTimeoutMs);

  /** Answers, journals (durably), and measures one question; the row is what the log keeps. */
  async function answerAndLog(req: FastifyRequest, route: QueryLogRow['route'], q: QueryRequest): Promise<{ queryId: string; a: Answered; total: number; version: number }> {
    const t0 = performance.now();
    const queryId = newQueryId();
    const version = state.version;
    let a: Answered;
    try {
      a = await answerQuery({ stores, embedder, generator, threshold: () => state.threshold, signal: deadline() }, q);
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
      const status = timedOut ? 504 : e instanceof ModelCallFailed ? 502 : 500;
      await queries.append(logRow(req, route, q, queryId, version, null, performance.now() - t0, status, scrub((e as Error).message)));
      if (timedOut) throw new HttpError(504, 'timeout', `no answer within ${cfg.serve.requestTimeoutMs} ms`);
      if (e instanceof ModelCallFailed) {
        log.warn({ route, model: e.model, err: scrub(e.message) }, 'generator model failed');
        throw new HttpError(502, 'model_error', `the generator model ${e.model} did not answer (logged); retry, or ask with answer "extractive"`);
      }
      throw e;
    }
    const total = performance.now() - t0;
    await queries.append(logRow(req, route, q, queryId, version, a, total, 200, a.error));
    metrics.latency.observe({ route, part: 'retrieve' }, a.latency.retrieve / 1000);
    if (q.answer === 'generative') metrics.latency.observe({ route, part: 'generate' }, a.latency.generate / 1000);
    metrics.latency.observe({ route, part: 'total' }, total / 1000);
    if (a.abstained) metrics.abstentions.inc({ route, reason: a.abstainReason ?? 'unknown' });
    return { queryId, a, total, version };
  }

  function logRow(req: FastifyRequest, route: QueryLogRow['route'], q: QueryRequest, queryId: string, version: number, a: Answered | null, total: number, status: number, error: string | null): QueryLogRow {
    return {
      query_id: queryId,
      at: new Date().toISOString(),
      key_name: req.apiKey?.name ?? 'anonymous',
      route,
      question: scrub(q.question),
      answer: scrubOrNull(a?.answer),
      abstained: a?.abstained ?? false,
      mode: q.mode,
      answer_mode: q.answer,
      k: q.k,
      retrieved: JSON.stringify(a?.retrieved ?? []),
      citations: scrub(JSON.stringify(a?.citations ?? [])),
      top_score: a?.topScore ?? null,
      latency_retrieve: a?.latency.retrieve ?? 0,
      latency_generate: a?.latency.generate ?? 0,
      latency_total: total,
      model: a?.model ?? '',
      corpus_version: version,
      status,
      synthetic: synthetic(req),
      error: error ?? (a?.abstainReason ? `abstained: ${a.abstainReason}` : null),
    };
  }

  const body = (queryId: string, a: Answered, total: number, version: number) => ({
    query_id: queryId,
    answer: a.answer,
    abstained: a.abstained,
    citations: a.citations,
    corpus_version: version,
    model: a.model,
    latency_ms: { retrieve: round(a.latency.retrieve), generate: round(a.latency.generate), total: round(total) },
  });

  app.post('/v1/query', async (req, reply) => {
    const q = parseOr400(QueryBody, req.body, 'body');
    const { queryId, a, total, version } = await answerAndLog(req, 'query', q);
    void reply.header('x-qaforge-query-id', queryId);
    return body(queryId, a, total, version);
  });

  app.post('/v1/chat/completions', async (req, reply) => {
    const c = parseOr400(ChatBody, req.body, 'body');
    const last = [...c.messages].reverse().find((m) => m.role === 'user');
    const text = typeof last?.content === 'string' ? last.content : (last?.content ?? []).map((p) => p.text ?? '').join('\n');
    if (!text.trim()) throw new HttpError(400, 'invalid_field', 'messages: no user message with text');
    // model "qaforge" (or anything else) answers extractively; "qaforge-generative" with the generator model.
    const answerMode = c.model === 'qaforge-generative' ? 'generative' : 'extractive';
    const q = parseOr400(QueryBody, { question: text, answer: answerMode }, 'messages');
    const { queryId, a, total, version } = await answerAndLog(req, 'chat', q);
    const content = a.answer ?? ABSTAIN_ANSWER;
    const created = Math.floor(Date.now() / 1000);
    const id = `chatcmpl-${queryId}`;
    const model = c.model ?? 'qaforge';
    const extra = { query_id: queryId, citations: a.citations, abstained: a.abstained, corpus_version: version, latency_ms: body(queryId, a, total, version).latency_ms };
    const usage = { prompt_tokens: words(text), completion_tokens: words(content), total_tokens: words(text) + words(content) };
    void reply.header('x-qaforge-query-id', queryId);
    if (!c.stream)
      return { id, object: 'chat.completion', created, model, choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }], usage, ...extra };
    // Server-sent events as OpenAI streams them: role, content pieces, a final chunk with finish_reason, [DONE].
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-qaforge-query-id': queryId });
    const chunk = (delta: Record<string, unknown>, finish: string | null, more: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...more })}\n\n`);
    chunk({ role: 'assistant', content: '' }, null);
    for (const piece of content.match(/\S+\s*/g) ?? [content]) chunk({ content: piece }, null);
    chunk({}, 'stop', { ...extra, usage });
    res.end('data: [DONE]\n\n');
  });

  /** Runs `fn` after every earlier call for `id` has settled. */
  const turns = new Map<string, Promise<unknown>>();
  function oneAtATime<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const run = (turns.get(id) ?? Promise.resolve()).catch(() => undefined).then(fn);
    turns.set(id, run);
    void run
      .catch(() => undefined)
      .finally(() => {
        if (turns.get(id) === run) turns.delete(id);
      });
    return run;
  }

  app.post('/v1/feedback', async (req, reply) => {
    const f = parseOr400(FeedbackBody, req.body, 'body');
    const keyName = req.apiKey?.name ?? 'anonymous';
    if (!queries.get(f.query_id) && !(await stores.count('queries', `query_id = ${sqlString(f.query_id)}`)))
      throw new HttpError(404, 'unknown_query', `no query ${scrub(f.query_id)} in the query log`);
    const feedbackId = `f_${contentId(f.query_id, keyName).slice(0, 24)}`;
    // Idempotent per (query, key): the first feedback stands, a repeat gets its id back. Requests for
    // one id take turns, so a repeat sent while the first is being written sees it (not a second row).
    const known = await oneAtATime(feedbackId, async () => {
      const seen = Boolean(feedback.get(feedbackId)) || (await stores.count('feedback', `feedback_id = ${sqlString(feedbackId)}`)) > 0;
      if (seen) return true;
      await feedback.append({
        feedback_id: feedbackId,
        query_id: f.query_id,
        key_name: keyName,
        at: new Date().toISOString(),
        rating: f.rating,
        reason: f.reason ?? null,
        comment: scrubOrNull(f.comment),
        correction: scrubOrNull(f.correction),
        synthetic: synthetic(req),
      });
      metrics.feedback.inc({ rating: f.rating, reason: f.reason ?? 'none' });
      return false;
    });
    void reply.status(201);
    return { feedback_id: feedbackId, duplicate: known };
  });

  app.get('/v1/search', async (req, reply) => {
    const s = parseOr400(SearchQuery, req.query, 'query');
    const { queryId, a, total, version } = await answerAndLog(req, 'search', { question: s.q, k: s.k, mode: s.mode, answer: 'none' });
    void reply.header('x-qaforge-query-id', queryId);
    return { query_id: queryId, abstained: a.abstained, results: a.citations, corpus_version: version, latency_ms: body(queryId, a, total, version).latency_ms };
  });

  app.get<{ Params: { id: string } }>('/v1/pairs/:id', async (req) => {
    if (!/^[0-9a-f]{32}$/.test(req.params.id)) throw new HttpError(400, 'invalid_field', 'id: a pair id is 32 hex characters');
    const found = (await findPair(stores, req.params.id)).find((f) => f.where === 'corpus');
    if (!found) throw new HttpError(404, 'unknown_pair', `no pair ${req.params.id} in the corpus`);
    return { status: found.status, retired_reason: found.status === 'retired' ? found.detail : null, pair: found.pair };
  });

  app.get<{ Params: { id: string } }>('/v1/queries/:id', { config: { role: 'admin' } }, async (req) => {
    const pending = queries.get(req.params.id);
    if (pending) return pending;
    for await (const rows of stores.scan('queries', columnsOf('queries'), `query_id = ${sqlString(req.params.id)}`)) if (rows.length) return rows[0];
    throw new HttpError(404, 'unknown_query', `no query ${scrub(req.params.id)} in the query log`);
  });

  // The page being opened starts the API's first read of its indexes (once; the API's own warm-up
  // window starts only with an authorized request).
  const dashboardOpened = new EventEmitter();
  await app.register((await import('../dashboard/static.js')).dashboardStatic, { onOpen: () => dashboardOpened.emit('open') });
  await app.register((await import('../dashboard/api.js')).dashboardApi, { stores, embedder, log, opened: dashboardOpened });
  app.get('/healthz', { config: { open: true } }, async () => ({ ok: true }));
  app.get('/readyz', { config: { open: true } }, async (_req, reply) => {
    const ready = state.active > 0;
    void reply.status(ready ? 200 : 503);
    return { ready, corpus_version: state.version, active_pairs: state.active, embedder: embedder?.model ?? null, abstain_threshold: state.threshold, ...(ready ? {} : { reason: 'the corpus has no active pairs: run qaforge backfill, then qaforge promote' }) };
  });
  app.get('/metrics', { config: { open: true } }, async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const url = await app.listen({ host, port });
  log.info({ url, dev: Boolean(opts.dev), corpus_version: state.version, active: state.active, abstain_threshold: state.threshold }, `qaforge serve listening on ${url}${opts.dev ? ' (dev: no API key needed, loopback only)' : ''}`);
  return {
    app,
    url,
    async close() {
      clearInterval(refresh);
      await app.close();
      await queries.close();
      await feedback.close();
      await embedder?.close();
      await models?.close();
      stores.close();
    },
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
const words = (s: string) => (s.trim() ? s.trim().split(/\s+/).length : 0);

/** serve.abstainThreshold when set, else the calibrated one (`qaforge eval abstention`), else the default. */
export async function abstainThreshold(stores: Stores, cfg: Config): Promise<number> {
  if (cfg.serve.abstainThreshold !== undefined) return cfg.serve.abstainThreshold;
  const v = await stores.getState(ABSTAIN_KEY);
  if (v) {
    const t = (JSON.parse(v) as { threshold?: number }).threshold;
    if (typeof t === 'number') return t;
  }
  return DEFAULT_ABSTAIN_THRESHOLD;
}

export const journalDir = (cfg: Config) => join(resolve(cfg.dataDir), 'serve', 'journal');
