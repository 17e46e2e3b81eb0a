// The OpenAI-compatible test server driven by the real @huggingface/inference client: the request that
// arrives, the reply the client returns, and exactly what the client throws for each injected fault
// (the retry logic in lib/models is written against these).
import { InferenceClient, InferenceClientError, InferenceClientProviderApiError } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens, hashEmbedding, startModelServer, type ChatCall, type ModelServer } from './server.js';

const SCHEMA = {
  type: 'object',
  properties: { answer: { type: 'string' } },
  required: ['answer'],
  additionalProperties: false,
};
const MESSAGES = [
  { role: 'system', content: 'Reply with JSON.' },
  { role: 'user', content: 'What does the tokenizer do?' },
];
// The handler echoes the last user message, so each reply is known in advance.
const answerFor = (call: ChatCall) => JSON.stringify({ answer: `re: ${call.messages.at(-1)?.content}` });
const EXPECTED = JSON.stringify({ answer: 're: What does the tokenizer do?' });

let server: ModelServer;
const client = new InferenceClient();
const args = () => ({
  endpointUrl: server.url,
  model: 'test-model',
  messages: MESSAGES,
  response_format: { type: 'json_schema' as const, json_schema: { name: 'x', schema: SCHEMA } },
  max_tokens: 50,
  temperature: 0,
  seed: 7,
});

/** The rejection of `p`, failing the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  server = await startModelServer({ chat: answerFor });
});
afterAll(async () => {
  await server.close();
});

// Each test is bounded: a hang in the client or the server fails fast instead of waiting out the default.
describe('chat completions', { timeout: 5_000 }, () => {
  it('answers the real client in OpenAI shape and records the request as sent', async () => {
    const before = server.calls.length;
    const out = await client.chatCompletion(args());
    expect(out.choices[0]?.message.content).toBe(EXPECTED);
    expect(out.choices[0]?.message.role).toBe('assistant');
    expect(out.choices[0]?.finish_reason).toBe('stop');
    expect(out.model).toBe('test-model');
    expect(out.object).toBe('chat.completion');
    expect(out.id).toMatch(/^chatcmpl-/);
    // Words: 'Reply with JSON.' (3) + 'What does the tokenizer do?' (5); the reply is 6 words.
    expect(out.usage).toEqual({ prompt_tokens: 8, completion_tokens: 6, total_tokens: 14 });
    expect(countTokens(EXPECTED)).toBe(6);

    expect(server.calls.length).toBe(before + 1);
    const call = server.calls[before]!;
    expect(call.model).toBe('test-model');
    expect(call.messages).toEqual(MESSAGES);
    expect(call.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'x', schema: SCHEMA } });
    expect(call.body).toMatchObject({ max_tokens: 50, temperature: 0, seed: 7 });
    // The client must not leak its own routing fields into the body.
    expect(call.body).not.toHaveProperty('endpointUrl');
    expect(call.body).not.toHaveProperty('accessToken');
    expect(server.log.at(-1)).toMatchObject({ method: 'POST', url: '/v1/chat/completions', status: 200, fault: null });
  });

  it('rejects a streaming request and malformed bodies with an OpenAI error, recording no call', async () => {
    const before = server.calls.length;
    const e = await rejection(client.chatCompletion({ ...args(), stream: true }));
    expect(e).toBeInstanceOf(InferenceClientProviderApiError);
    const api = e as InferenceClientProviderApiError;
    expect(api.httpResponse.status).toBe(400);
    expect(api.httpResponse.body).toMatchObject({ error: { type: 'invalid_request_error', param: 'stream' } });

    const post = (body: string) =>
      fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    for (const [body, param] of [
      [JSON.stringify({ messages: MESSAGES }), 'model'],
      [JSON.stringify({ model: 'm' }), 'messages'],
      [JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 3 }] }), 'messages.0.content'],
    ] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', param } });
    }
    const bad = await post('{"model": ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect(server.calls.length).toBe(before);
  });

  it('joins text parts in message content', async () => {
    const out = await client.chatCompletion({
      ...args(),
      messages: [{ role: 'user', content: [{ type: 'text', text: 'two ' }, { type: 'text', text: 'parts' }] }],
    });
    expect(out.choices[0]?.message.content).toBe(JSON.stringify({ answer: 're: two parts' }));
    expect(server.calls.at(-1)?.messages).toEqual([{ role: 'user', content: 'two parts' }]);
  });
});

describe('faults, as the real client sees them', { timeout: 5_000 }, () => {
  it('429 with retry-after: ProviderApiError with a generic message; the header only through a custom fetch', async () => {
    server.fault({ kind: 'status', status: 429, retryAfterSeconds: 3 });
    let retryAfter: string | null = null;
    const noting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      retryAfter = res.headers.get('retry-after');
      return res;
    };
    const e = await rejection(client.chatCompletion(args(), { fetch: noting }));
    expect(e).toBeInstanceOf(InferenceClientProviderApiError);
    expect(e).toBeInstanceOf(InferenceClientError);
    const api = e as InferenceClientProviderApiError;
    expect(api.name).toBe('ProviderApiError');
    // The client ignores OpenAI's {error: {message}} object for non-streaming calls: the text is only in the body.
    expect(api.message).toBe('Failed to perform inference: an HTTP error occurred when requesting the provider.');
    expect(api.httpResponse.status).toBe(429);
    expect(api.httpResponse.body).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded' } });
    expect(retryAfter).toBe('3');
    expect(server.log.at(-1)).toMatchObject({ status: 429, fault: 'status' });
    // The next request is served normally: a fault applies once.
    expect((await client.chatCompletion(args())).choices[0]?.message.content).toBe(EXPECTED);
  });

  it('500 and 502: ProviderApiError carrying the status', async () => {
    for (const status of [500, 502] as const) {
      server.fault({ kind: 'status', status });
      const e = await rejection(client.chatCompletion(args()));
      expect(e).toBeInstanceOf(InferenceClientProviderApiError);
      expect((e as InferenceClientProviderApiError).httpResponse.status).toBe(status);
      expect((e as InferenceClientProviderApiError).httpResponse.body).toMatchObject({ error: { type: 'server_error' } });
    }
  });

  it('503: the client retries at once by itself unless retry_on_error is false', async () => {
    const before = server.calls.length;
    server.fault({ kind: 'status', status: 503 });
    const out = await client.chatCompletion(args());
    expect(out.choices[0]?.message.content).toBe(EXPECTED);
    expect(server.calls.length).toBe(before + 2);
    expect(server.log.slice(-2).map((x) => x.status)).toEqual([503, 200]);

    server.fault({ kind: 'status', status: 503 });
    const e = await rejection(client.chatCompletion(args(), { retry_on_error: false }));
    expect(e).toBeInstanceOf(InferenceClientProviderApiError);
    expect((e as InferenceClientProviderApiError).httpResponse.status).toBe(503);
  });

  it('cut body: a plain SyntaxError from JSON parsing, not an InferenceClientError', async () => {
    server.fault({ kind: 'cut' });
    const e = await rejection(client.chatCompletion(args()));
    expect(e).toBeInstanceOf(SyntaxError);
    expect(e).not.toBeInstanceOf(InferenceClientError);
    expect((e as Error).message).toMatch(/JSON/);
    expect(server.log.at(-1)).toMatchObject({ status: 200, fault: 'cut' });
  });

  it('content: the client returns the given content verbatim, even when it is not JSON', async () => {
    server.fault({ kind: 'content', content: '{"answer": "unterminated' });
    const out = await client.chatCompletion(args());
    expect(out.choices[0]?.message.content).toBe('{"answer": "unterminated');
    expect(out.usage?.completion_tokens).toBe(2);
  });

  it('hang: an AbortSignal.timeout passed as `signal` rejects with a TimeoutError DOMException', async () => {
    const before = server.calls.length;
    server.fault({ kind: 'hang', ms: 3000 });
    const t0 = Date.now();
    const e = await rejection(client.chatCompletion(args(), { signal: AbortSignal.timeout(150) }));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(e).toBeInstanceOf(DOMException);
    expect((e as DOMException).name).toBe('TimeoutError');
    expect((e as DOMException).message).toBe('The operation was aborted due to timeout');
    // The request did reach the handler; the server stops waiting once the client hangs up.
    expect(server.calls.length).toBe(before + 1);
    await expect.poll(() => server.log.at(-1)).toMatchObject({ status: 0, fault: 'hang' });

    // A hang shorter than the timeout is only a slow answer.
    server.fault({ kind: 'hang', ms: 100 });
    const t1 = Date.now();
    const out = await client.chatCompletion(args(), { signal: AbortSignal.timeout(2000) });
    expect(out.choices[0]?.message.content).toBe(EXPECTED);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(90);
  });

  it('faults queue in order, one per request', async () => {
    server.fault({ kind: 'content', content: 'first' }, { kind: 'status', status: 500 }, { kind: 'content', content: 'third' });
    expect(server.pendingFaults()).toBe(3);
    expect((await client.chatCompletion(args())).choices[0]?.message.content).toBe('first');
    await rejection(client.chatCompletion(args()));
    expect((await client.chatCompletion(args())).choices[0]?.message.content).toBe('third');
    expect(server.pendingFaults()).toBe(0);
  });
});

describe('embeddings (TEI /embed)', { timeout: 5_000 }, () => {
  it('featureExtraction posts {inputs} to the exact URL and gets one deterministic unit vector per input', async () => {
    const before = server.embedCalls.length;
    const out = await client.featureExtraction({ endpointUrl: `${server.url}/embed`, inputs: ['alpha', 'beta', 'alpha'] });
    expect(server.embedCalls.slice(before)).toEqual([['alpha', 'beta', 'alpha']]);
    expect(server.log.at(-1)).toMatchObject({ url: '/embed', status: 200 });
    const vecs = out as number[][];
    expect(vecs).toHaveLength(3);
    expect(vecs[0]).toEqual(hashEmbedding('alpha'));
    expect(vecs[2]).toEqual(vecs[0]);
    expect(vecs[1]).not.toEqual(vecs[0]);
    for (const v of vecs) {
      expect(v).toHaveLength(8);
      expect(Math.hypot(...v)).toBeCloseTo(1, 12);
    }
    // One string in: TEI's [[...]] out.
    expect(await client.featureExtraction({ endpointUrl: `${server.url}/embed`, inputs: 'alpha' })).toEqual([hashEmbedding('alpha')]);
  });

  it('uses a custom embed function, and rejects bad inputs with TEI-style 422', async () => {
    const own = await startModelServer({ chat: answerFor, embed: (inputs) => inputs.map((s) => [s.length, 0]) });
    try {
      expect(await client.featureExtraction({ endpointUrl: `${own.url}/embed`, inputs: ['abc', 'de'] })).toEqual([[3, 0], [2, 0]]);
      const res = await fetch(`${own.url}/embed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [1]}' });
      expect(res.status).toBe(422);
      expect(await res.json()).toMatchObject({ error_type: 'Validation' });
      expect(own.embedCalls).toEqual([['abc', 'de']]);
    } finally {
      await own.close();
    }
  });
});

describe('housekeeping', { timeout: 5_000 }, () => {
  it('serves /health and answers unknown routes with an OpenAI 404', async () => {
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const res = await fetch(`${server.url}/v1/embeddings`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'unknown_url' } });
  });

  it('past maxRequests: 503s, then reset connections, so even the self-retrying client stops', async () => {
    const small = await startModelServer({ chat: answerFor, maxRequests: 2 });
    try {
      const a = { ...args(), endpointUrl: small.url };
      await client.chatCompletion(a);
      await client.chatCompletion(a);
      expect(small.overLimit).toBe(false);
      // The default client retries every 503 at once; the server cuts it off after ten.
      const e = await rejection(client.chatCompletion(a));
      expect(e).toBeInstanceOf(TypeError);
      expect((e as TypeError).message).toBe('fetch failed');
      expect(small.overLimit).toBe(true);
      const over = small.log.filter((x) => x.fault === 'over-limit');
      expect(over.map((x) => x.status)).toEqual([...Array<number>(10).fill(503), 0]);
      expect(small.calls).toHaveLength(2);
    } finally {
      await small.close();
    }
  });

  it('closes promptly while a request hangs', async () => {
    const own = await startModelServer({ chat: answerFor });
    own.fault({ kind: 'hang', ms: 10_000 });
    const pending = rejection(client.chatCompletion({ ...args(), endpointUrl: own.url }));
    while (own.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await own.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    const e = await pending;
    expect(e).toBeInstanceOf(TypeError);
    expect((e as TypeError & { cause?: { code?: string } }).cause?.code).toBe('UND_ERR_SOCKET');
  });
});
