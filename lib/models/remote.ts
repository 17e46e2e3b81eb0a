// Calls to remote model endpoints: each attempt has a timeout; 429 and 5xx are retried with
// exponential back-off (honouring Retry-After); anything else fails at once with one clear line.
// The token never appears in an error: only the endpoint and the status do.
import pRetry, { AbortError } from 'p-retry';
import { InferenceClientHubApiError, InferenceClientProviderApiError } from '@huggingface/inference';
import { UserError } from '../errors.js';

export interface RetryOptions {
  retries: number;
  retryBaseMs: number;
  timeoutMs: number;
  /** Names the endpoint in errors: a URL or "HF Inference Providers (<model>)". */
  target: string;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Runs `attempt` with a fresh timeout signal and a fetch that notes Retry-After, retrying what is
 * worth retrying. Returns the attempt's value.
 */
export async function callRemote<T>(opts: RetryOptions, attempt: (signal: AbortSignal, fetchFn: typeof fetch) => Promise<T>): Promise<T> {
  let retryAfterMs = 0;
  const noting: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const h = res.headers.get('retry-after');
    retryAfterMs = h && /^\d+(\.\d+)?$/.test(h) ? Number(h) * 1000 : 0;
    return res;
  };
  return pRetry(
    async () => {
      const signal = AbortSignal.timeout(opts.timeoutMs);
      try {
        return await attempt(signal, noting);
      } catch (e) {
        throw classify(e, opts, signal.aborted);
      }
    },
    {
      retries: opts.retries,
      minTimeout: opts.retryBaseMs,
      factor: 2,
      randomize: opts.retryBaseMs > 0,
      onFailedAttempt: async () => {
        // p-retry waits its own back-off too; a server's Retry-After adds to it, capped at a minute.
        if (retryAfterMs) await new Promise((r) => setTimeout(r, Math.min(retryAfterMs, 60_000)));
      },
    },
  ).catch((e: unknown) => {
    throw e instanceof RemoteError ? new UserError(e.message) : e;
  });
}

/** A failure worth retrying keeps its message for the final error. */
class RemoteError extends Error {}

function classify(e: unknown, opts: RetryOptions, timedOut: boolean): Error {
  if (timedOut) return new RemoteError(`${opts.target}: no answer within ${opts.timeoutMs} ms (after ${opts.retries + 1} attempts; raise models.timeoutMs?)`);
  if (e instanceof InferenceClientProviderApiError || e instanceof InferenceClientHubApiError) {
    const status = e.httpResponse.status;
    const msg = `${opts.target} answered HTTP ${status}: ${detailOf(e.httpResponse.body)}`;
    if (status === 401 || status === 403) return new AbortError(new UserError(`${msg} (check HF_TOKEN)`));
    return RETRYABLE.has(status) ? new RemoteError(msg) : new AbortError(new UserError(msg));
  }
  if ((e as Error)?.name === 'TimeoutError') return new RemoteError(`${opts.target}: no answer within ${opts.timeoutMs} ms (raise models.timeoutMs?)`);
  const cause = (e as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code ?? (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new AbortError(new UserError(`${opts.target} is unreachable (${code}): check the endpoint URL, or unset it to use the local models`));
  // A body that is not JSON (cut off mid-stream) is worth another attempt.
  if (code === 'UND_ERR_SOCKET') return new RemoteError(`${opts.target} closed the connection mid-answer`);
  if (e instanceof SyntaxError) return new RemoteError(`${opts.target} sent a malformed body: ${(e as Error).message}`);
  return new AbortError(e as Error);
}

function detailOf(body: unknown): string {
  const m = (body as { error?: { message?: string } | string })?.error;
  const s = typeof m === 'string' ? m : (m?.message ?? (typeof body === 'string' ? body : JSON.stringify(body)));
  return s.slice(0, 200);
}
