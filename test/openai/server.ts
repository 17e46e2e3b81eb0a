// An OpenAI-compatible model server on 127.0.0.1 for the tests: `POST /v1/chat/completions` (the shape
// TGI and vLLM serve, which @huggingface/inference's chatCompletion calls with an endpointUrl),
// `POST /embed` (TEI's shape, for featureExtraction), `GET /health`, a request log, and queued faults.
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';

export interface ChatCall {
  model: string;
  messages: { role: string; content: string }[];
  /** The whole request body as received (response_format, max_tokens, seed, ...). */
  body: Record<string, unknown>;
}

export type Fault =
  | { kind: 'status'; status: 429 | 500 | 502 | 503; retryAfterSeconds?: number }
  | { kind: 'hang'; ms: number }
  | { kind: 'content'; content: string }
  | { kind: 'cut' };

export interface RequestLogEntry {
  method: string;
  url: string;
  status: number;
  /** The fault applied to this request, if any; 'over-limit' once maxRequests is spent. */
  fault: Fault['kind'] | 'over-limit' | null;
  /** Date.now() when the response was sent. */
  at: number;
}

export interface ModelServer {
  /** http://127.0.0.1:<port>, no trailing slash: the endpointUrl for chatCompletion. */
  url: string;
  /** Every valid chat request that reached the handler (faulted ones included), in order. */
  calls: ChatCall[];
  /** Every /embed request's inputs, in order. */
  embedCalls: string[][];
  /** Every request, any route, once answered (400s, 404s, over-limit answers); status 0 when the connection was dropped unanswered. */
  log: RequestLogEntry[];
  /** True once a request arrived after maxRequests had been served. */
  readonly overLimit: boolean;
  /** Queued: each fault applies to the next valid chat request. */
  fault(...faults: Fault[]): void;
  /** Faults queued and not yet applied. */
  pendingFaults(): number;
  close(): Promise<void>;
}

export interface ModelServerOptions {
  /** Answers a chat request with the assistant content (a JSON string usually). */
  chat: (call: ChatCall) => string | Promise<string>;
  /** Answers /embed: one vector per input (default: a deterministic 8-dim vector from a hash of the text). */
  embed?: (inputs: string[]) => number[][];
  /** Bound on requests served, so a runaway client fails the test instead of looping (default 500). */
  maxRequests?: number;
}

/** OpenAI's error envelope. */
export function openaiError(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

const STATUS_ERRORS: Record<429 | 500 | 502 | 503, ReturnType<typeof openaiError>> = {
  429: openaiError('Rate limit reached for requests. Please try again later.', 'requests', 'rate_limit_exceeded'),
  500: openaiError('The server had an error while processing your request. Sorry about that!', 'server_error'),
  502: openaiError('Bad gateway.', 'server_error', 'bad_gateway'),
  503: openaiError('The engine is currently overloaded, please try again later.', 'server_error', 'overloaded'),
};

// Over the limit the server answers 503 a few times, then resets connections: @huggingface/inference
// retries a 503 at once and without end (retry_on_error defaults to true), so 503s alone would spin.
const OVER_LIMIT_503S = 10;

/** Whitespace-split words: a deterministic stand-in for a tokenizer. */
export function countTokens(text: string): number {
  const t = text.trim();
  return t ? t.split(/\s+/).length : 0;
}

/** A unit-length 8-dim vector from sha256(text): equal texts embed equally, different ones differ. */
export function hashEmbedding(text: string): number[] {
  const bytes = createHash('sha256').update(text).digest();
  const v = Array.from(bytes.subarray(0, 8), (b) => b / 127.5 - 1);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; param: string };

function parseChat(body: unknown): Parsed<ChatCall> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, message: 'The request body must be a JSON object.', param: 'body' };
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || !b.model) return { ok: false, message: "you must provide a model parameter", param: 'model' };
  if (!Array.isArray(b.messages) || b.messages.length === 0) return { ok: false, message: "'messages' must be a non-empty array", param: 'messages' };
  if (b.stream === true) return { ok: false, message: 'This test server does not stream: send stream=false.', param: 'stream' };
  const messages: ChatCall['messages'] = [];
  for (const [i, m] of b.messages.entries()) {
    const role = (m as { role?: unknown })?.role;
    const content = (m as { content?: unknown })?.content;
    if (typeof role !== 'string') return { ok: false, message: `'messages.${i}.role' must be a string`, param: `messages.${i}.role` };
    // OpenAI also takes content as text parts; their texts are joined.
    if (typeof content === 'string') messages.push({ role, content });
    else if (Array.isArray(content) && content.every((p) => p?.type === 'text' && typeof p.text === 'string'))
      messages.push({ role, content: content.map((p: { text: string }) => p.text).join('') });
    else return { ok: false, message: `'messages.${i}.content' must be a string or text parts`, param: `messages.${i}.content` };
  }
  return { ok: true, value: { model: b.model, messages, body: b } };
}

function parseEmbed(body: unknown): Parsed<string[]> {
  const inputs = (body as { inputs?: unknown } | null)?.inputs;
  // TEI takes one string or a list of them.
  if (typeof inputs === 'string') return { ok: true, value: [inputs] };
  if (Array.isArray(inputs) && inputs.length > 0 && inputs.every((x) => typeof x === 'string')) return { ok: true, value: inputs };
  return { ok: false, message: '`inputs` must be a string or a non-empty list of strings', param: 'inputs' };
}

export async function startModelServer(opts: ModelServerOptions): Promise<ModelServer> {
  const maxRequests = opts.maxRequests ?? 500;
  const embed = opts.embed ?? ((inputs: string[]) => inputs.map(hashEmbedding));
  // Prompts carry retrieved context: allow bodies well past fastify's 1 MiB default.
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });

  const calls: ChatCall[] = [];
  const embedCalls: string[][] = [];
  const log: RequestLogEntry[] = [];
  const queue: Fault[] = [];
  const faultOf = new WeakMap<FastifyRequest, RequestLogEntry['fault']>();
  // Hanging requests, released on close so close() never waits for them.
  const hangs = new Set<() => void>();
  let served = 0;
  let overLimitCount = 0;
  let completionSeq = 0;

  app.addHook('onRequest', async (req, reply) => {
    served += 1;
    if (served <= maxRequests) return;
    overLimitCount += 1;
    if (overLimitCount > OVER_LIMIT_503S) {
      log.push({ method: req.method, url: req.url, status: 0, fault: 'over-limit', at: Date.now() });
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    faultOf.set(req, 'over-limit');
    // `connection: close` so a retry has to open a new connection.
    return reply
      .code(503)
      .header('connection', 'close')
      .send(openaiError(`test model server: more than ${maxRequests} requests (a runaway client?)`, 'server_error', 'request_limit'));
  });

  app.addHook('onResponse', async (req, reply) => {
    log.push({ method: req.method, url: req.url, status: reply.statusCode, fault: faultOf.get(req) ?? null, at: Date.now() });
  });

  // Fastify's own errors (bad JSON, wrong content type, too large) and handler bugs, in OpenAI's envelope.
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    const type = status < 500 ? 'invalid_request_error' : 'server_error';
    return reply.code(status).send(openaiError(status < 500 ? err.message : `Server Error: ${err.message}`, type));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(openaiError(`Unknown request URL: ${req.method} ${req.url}.`, 'invalid_request_error', 'unknown_url')),
  );

  function completion(model: string, content: string, promptTokens: number) {
    const completionTokens = countTokens(content);
    return {
      id: `chatcmpl-test-${++completionSeq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }

  function hang(req: FastifyRequest, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        hangs.delete(done);
        req.raw.socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      hangs.add(done);
      // A client that gave up (timeout, abort) closes the socket: stop waiting for nothing.
      req.raw.socket.once('close', done);
    });
  }

  app.post('/v1/chat/completions', async (req: FastifyRequest, reply: FastifyReply) => {
    const parsed = parseChat(req.body);
    if (!parsed.ok) return reply.code(400).send(openaiError(parsed.message, 'invalid_request_error', null, parsed.param));
    const call = parsed.value;
    calls.push(call);
    const fault = queue.shift();
    faultOf.set(req, fault?.kind ?? null);
    const promptTokens = call.messages.reduce((n, m) => n + countTokens(m.content), 0);

    if (fault?.kind === 'status') {
      if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
      return reply.code(fault.status).send(STATUS_ERRORS[fault.status]);
    }
    if (fault?.kind === 'hang') {
      await hang(req, fault.ms);
      if (req.raw.socket.destroyed) {
        // Nobody is listening; hijack so fastify does not try to answer, and log it here (no onResponse).
        reply.hijack();
        log.push({ method: req.method, url: req.url, status: 0, fault: 'hang', at: Date.now() });
        return;
      }
    }
    const content = fault?.kind === 'content' ? fault.content : await opts.chat(call);
    if (typeof content !== 'string') throw new Error(`the chat handler returned ${typeof content}, not a string`);
    const json = JSON.stringify(completion(call.model, content, promptTokens));
    if (fault?.kind === 'cut') {
      // A body that ends mid-object, with a content-length that matches what is sent.
      return reply.code(200).header('content-type', 'application/json').send(json.slice(0, Math.floor(json.length / 2)));
    }
    return reply.code(200).header('content-type', 'application/json').send(json);
  });

  app.post('/embed', async (req, reply) => {
    const parsed = parseEmbed(req.body);
    // TEI's error shape.
    if (!parsed.ok) return reply.code(422).send({ error: parsed.message, error_type: 'Validation' });
    embedCalls.push(parsed.value);
    const vectors = embed(parsed.value);
    if (vectors.length !== parsed.value.length) throw new Error(`embed returned ${vectors.length} vectors for ${parsed.value.length} inputs`);
    return reply.code(200).send(vectors);
  });

  app.get('/health', async (_req, reply) => reply.code(200).send());

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    embedCalls,
    log,
    get overLimit() {
      return overLimitCount > 0;
    },
    fault(...faults) {
      queue.push(...faults);
    },
    pendingFaults: () => queue.length,
    async close() {
      for (const release of [...hangs]) release();
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
