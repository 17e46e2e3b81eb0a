// Remote sentence embeddings through @huggingface/inference: a TEI server (endpointUrl, POSTed as is) or
// HF Inference Providers (HF_TOKEN + model id). Answers are checked with zod and L2-normalised here.
import { InferenceClient, InferenceClientProviderOutputError } from '@huggingface/inference';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { callRemote } from './remote.js';
import type { Embedder } from './types.js';

export function createHfEmbedder(opts: {
  model: string;
  endpointUrl?: string;
  accessToken?: string;
  dimensions: number;
  /** Texts per request; TEI's default max_client_batch_size is 32. */
  batchSize?: number;
  timeoutMs?: number;
  retries?: number;
  /** First back-off between retries (doubling); small in tests. */
  retryBaseMs?: number;
  /** Put before each query, resp. passage, before it is sent (models such as E5 are trained with them). */
  queryPrefix?: string;
  passagePrefix?: string;
}): Embedder {
  if (!opts.endpointUrl && !opts.accessToken)
    throw new UserError('HF_TOKEN is not set: set it to embed with HF Inference Providers, or pass --endpoint-url for your own TEI server');
  const batchSize = opts.batchSize ?? 32;
  const retry = { retries: opts.retries ?? 4, retryBaseMs: opts.retryBaseMs ?? 1000, timeoutMs: opts.timeoutMs ?? 120_000 };
  const target = opts.endpointUrl ?? `HF Inference Providers (${opts.model})`;
  const client = new InferenceClient(opts.accessToken);
  const route = opts.endpointUrl ? { endpointUrl: opts.endpointUrl } : { provider: 'hf-inference' as const };

  async function request(inputs: string[]): Promise<Float32Array[]> {
    const raw = await callRemote({ ...retry, target }, async (signal, fetchFn) => {
      // The provider lookup (no endpoint) is a request of its own: it gets the same timeout.
      const underTimeout: typeof fetch = (input, init) => fetchFn(input, { ...init, signal: init?.signal ?? signal });
      try {
        // retry_on_error: false, or the client itself re-sends every 503 at once, without back-off.
        return await client.featureExtraction({ ...route, model: opts.model, inputs, truncate: true }, { signal, fetch: underTimeout, retry_on_error: false });
      } catch (e) {
        if (e instanceof InferenceClientProviderOutputError) throw new UserError(`${target} sent a malformed embeddings body: not an array of number arrays`);
        throw e;
      }
    });
    const shape = z.array(z.array(z.number()).length(opts.dimensions)).length(inputs.length);
    const parsed = shape.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UserError(
        `${target} sent malformed embeddings: expected ${inputs.length} vectors of ${opts.dimensions} numbers (${issue?.path.join('.') || 'body'}: ${issue?.message}); is models.embedder.dimensions right for ${opts.model}?`,
      );
    }
    return parsed.data.map(normalise);
  }

  return {
    backend: 'hf',
    model: opts.model,
    dimensions: opts.dimensions,
    async embed(texts, o) {
      const prefix = (o?.kind === 'query' ? opts.queryPrefix : opts.passagePrefix) ?? '';
      const inputs = prefix ? texts.map((t) => prefix + t) : texts;
      const out: Float32Array[] = [];
      for (let i = 0; i < inputs.length; i += batchSize) {
        const batch = inputs.slice(i, i + batchSize);
        out.push(...(await request(batch)));
        o?.onProgress?.(batch.length);
      }
      return out;
    },
    async close() {},
  };
}

function normalise(v: number[]): Float32Array {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  // An all-zero vector stays zero rather than becoming NaN.
  return Float32Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}
