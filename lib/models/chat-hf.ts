// Remote chat models through @huggingface/inference: HF Inference Providers (HF_TOKEN + model id), or
// any TGI / vLLM / OpenAI-compatible server (endpointUrl; `model` is always sent). Replies are held to
// the request's JSON schema with `response_format`.
import { InferenceClient } from '@huggingface/inference';
import { UserError } from '../errors.js';
import { callRemote, type RetryOptions } from './remote.js';
import type { ChatModel, ChatRequest, ChatResult } from './types.js';

export function createHfChat(opts: { model: string; endpointUrl?: string; accessToken?: string } & Omit<RetryOptions, 'target'>): ChatModel {
  if (!opts.endpointUrl && !opts.accessToken)
    throw new UserError('HF_TOKEN is not set: set it to use HF Inference Providers, pass --endpoint-url for your own server, or use the local models (models.backend = local)');
  const client = new InferenceClient(opts.accessToken);
  const target = opts.endpointUrl ?? `HF Inference Providers (${opts.model})`;
  return {
    backend: 'hf',
    model: opts.model,
    async complete(req: ChatRequest): Promise<ChatResult> {
      const out = await callRemote({ ...opts, target }, (signal, fetchFn) =>
        client.chatCompletion(
          {
            ...(opts.endpointUrl ? { endpointUrl: opts.endpointUrl } : {}),
            model: opts.model,
            messages: req.messages,
            response_format: { type: 'json_schema', json_schema: { name: 'reply', schema: req.schema, strict: true } },
            max_tokens: req.maxTokens,
            temperature: req.temperature,
            seed: req.seed,
          },
          // Our own retry policy (back-off, Retry-After, a bound): the client's would resend a 503 at once, forever.
          { signal, fetch: fetchFn, retry_on_error: false },
        ),
      );
      const text = out.choices?.[0]?.message?.content;
      if (typeof text !== 'string') throw new UserError(`${target} sent a reply without message content`);
      return { text, promptTokens: out.usage?.prompt_tokens ?? 0, completionTokens: out.usage?.completion_tokens ?? 0, cached: false };
    },
    async close() {},
  };
}
