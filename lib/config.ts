// Effective configuration: qaforge.config.json < environment < CLI flags, validated with zod.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from './errors.js';
import { ModelsConfig } from './models/config.js';

/** Quality gates on the staged batch before a promotion, and the eval gate after it (datasets/gates.ts checks them). */
export const GateConfig = z
  .object({
    /** At least this many validated pairs waiting. */
    minValidated: z.number().int().nonnegative().default(1),
    /** Rejected / (validated + rejected) of the batch at most this. */
    maxRejectRate: z.number().min(0).max(1).default(0.5),
    /** Exact duplicates / (validated + rejected) of the batch at most this. */
    maxDuplicateRate: z.number().min(0).max(1).default(0.5),
    /** After a promotion: the eval set scored (default: the one under evals/sets/ about the corpus's repository). */
    evalSet: z.string().min(1).optional(),
    /** Search mode the eval gate scores. */
    evalMode: z.enum(['vector', 'fts', 'hybrid']).default('hybrid'),
    /** A promotion whose recall@10 falls more than this below the last accepted version's is rolled back. */
    maxEvalDrop: z.number().min(0).max(1).default(0.02),
  })
  .prefault({});
export type GateConfig = z.infer<typeof GateConfig>;

/** The fine-tune trigger after a promotion (datasets/gates.ts runs it). */
export const FineTuneConfig = z
  .object({
    /** POST the manifest here (JSON). */
    webhook: z.url().optional(),
    /** Or run this command with QAFORGE_MANIFEST=<manifest file> in its environment. */
    command: z.string().min(1).optional(),
  })
  .prefault({});
export type FineTuneConfig = z.infer<typeof FineTuneConfig>;


export const DEFAULT_REPO = 'https://github.com/huggingface/transformers';

export const SOURCES = ['code', 'commits', 'docs', 'prs', 'issues'] as const;
export const SourceName = z.enum(SOURCES);
export type SourceName = z.infer<typeof SourceName>;

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO date such as 2025-01-31 or 2025-01-31T12:00:00Z');

export const Config = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    repo: z.string().min(1).default(DEFAULT_REPO),
    rev: z.string().min(1).default('HEAD'),
    /** Which sources a backfill or ingest reads. PRs and issues need a GitHub repository (origin or --github). */
    sources: z.array(SourceName).min(1).default([...SOURCES]),
    /** Only history after this date: commits, PRs, issues, comments (a first backfill's lower bound). */
    since: isoDate.optional(),
    include: z.array(z.string().min(1)).min(1).default(['**/*.py']),
    docsInclude: z.array(z.string().min(1)).min(1).default(['**/*.md', '**/*.mdx']),
    exclude: z.array(z.string().min(1)).default([]),
    maxFileBytes: z.number().int().positive().default(10 * 1024 * 1024),
    /** A code file with a longer line is data or minified code: skipped (too_large) unparsed. */
    maxLineChars: z.number().int().positive().default(100_000),
    workers: z.number().int().min(1).max(64).default(Math.max(1, availableParallelism())),
    /** Files handed to a worker thread at once, bounded by bytes too. */
    taskBytes: z.number().int().positive().default(512 * 1024),
    /** A code task running longer is stopped and its files retried alone (then recorded as skipped). */
    taskTimeoutMs: z.number().int().positive().default(10 * 60 * 1000),
    limits: z
      .object({
        minQuestionChars: z.number().int().nonnegative().default(12),
        maxQuestionChars: z.number().int().positive().default(400),
        minAnswerChars: z.number().int().nonnegative().default(2),
        maxAnswerChars: z.number().int().positive().default(4000),
        maxContextChars: z.number().int().positive().default(32000),
        /** Pairs with a lower value score (validators/value.ts) are rejected as low_value. */
        minQuality: z.number().min(0).max(1).default(0.5),
      })
      .prefault({}),
    nearDupThreshold: z.number().min(0).max(1).default(0.8),
    /** Per commit: diffs are cut beyond this many bytes (the cut is recorded). */
    maxDiffBytes: z.number().int().positive().default(64 * 1024),
    /** owner/name on GitHub; read from the clone's origin remote when unset. */
    github: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name')
      .optional(),
    githubApiUrl: z.url().default('https://api.github.com'),
    /** Base of the retry back-off for GitHub 5xx responses (Octokit's default is 1 s). */
    githubRetryBaseMs: z.number().int().nonnegative().default(1000),
    splits: z
      .object({
        train: z.number().min(0).max(1).default(0.9),
        validation: z.number().min(0).max(1).default(0.05),
        test: z.number().min(0).max(1).default(0.05),
        salt: z.string().default('qaforge-splits-v1'),
      })
      .prefault({})
      .refine((s) => Math.abs(s.train + s.validation + s.test - 1) < 1e-9, 'splits.train + validation + test must be 1'),
    /** Quality gates a staged batch must pass before a workflow promotes it. */
    gates: GateConfig,
    /** What runs after a promotion: a webhook or a command given the snapshot's manifest. */
    fineTune: FineTuneConfig,
    /** host:port of a Temporal frontend; unset: runs through Temporal start the installed dev server. */
    temporalAddress: z.string().min(1).optional(),
    temporalNamespace: z.string().min(1).default('default'),
    /** mTLS to a Temporal cluster: PEM file paths (a client certificate and key, optionally a CA). */
    temporalTls: z
      .object({ cert: z.string().min(1).optional(), key: z.string().min(1).optional(), ca: z.string().min(1).optional(), serverName: z.string().min(1).optional() })
      .prefault({}),
    taskQueue: z.string().min(1).default('qaforge'),
    /** Generator, judge and embedder: local weights by default, HF Inference / an endpoint at scale. */
    models: ModelsConfig,
    /** `qaforge serve`: where it listens and the limits every request meets. */
    serve: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Larger bodies are refused with 413. */
        bodyLimitBytes: z.number().int().positive().default(64 * 1024),
        /** A request not received and answered in this time is ended (408 while receiving, 504 while answering). */
        requestTimeoutMs: z.number().int().positive().default(30_000),
        /** Requests per key per window; more get 429 with Retry-After. */
        rateLimit: z.object({ max: z.number().int().positive().default(600), windowMs: z.number().int().positive().default(60_000) }).prefault({}),
        /** Event-loop lag past this sheds load with 503 (@fastify/under-pressure). */
        maxEventLoopDelayMs: z.number().int().positive().default(1000),
        /** An answer whose best retrieval score is under this abstains; unset: the calibrated value (`qaforge eval abstention`), else DEFAULT_ABSTAIN_THRESHOLD. */
        abstainThreshold: z.number().min(-1).max(1).optional(),
        /** How often the journal of answered queries and feedback is moved into LanceDB. */
        flushMs: z.number().int().positive().default(1000),
        /** How often revoked keys and new corpus versions are picked up. */
        refreshMs: z.number().int().positive().default(5000),
      })
      .prefault({}),
    /** The feedback loop: corrections of flagged answers, and when they trigger a retrain. */
    feedback: z
      .object({
        /** Accepted corrections since the last retrain that trigger the gated promotion and fine-tune. */
        retrainAt: z.number().int().positive().default(50),
      })
      .prefault({}),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
    githubToken: z.string().min(1).optional(),
    hfToken: z.string().min(1).optional(),
  })
  .strict();
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

const SECRET_KEYS = new Set(['githubToken', 'hfToken']);

/** Environment variables and the config keys they set. */
const ENV: Record<string, { key: keyof ConfigInput; parse?: (v: string) => unknown }> = {
  QAFORGE_DATA_DIR: { key: 'dataDir' },
  QAFORGE_REPO: { key: 'repo' },
  QAFORGE_REV: { key: 'rev' },
  QAFORGE_SOURCES: { key: 'sources', parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  QAFORGE_SINCE: { key: 'since' },
  QAFORGE_GITHUB: { key: 'github' },
  GITHUB_API_URL: { key: 'githubApiUrl' },
  TEMPORAL_ADDRESS: { key: 'temporalAddress' },
  QAFORGE_FINETUNE_WEBHOOK: { key: 'fineTune', parse: (v) => ({ webhook: v }) },
  QAFORGE_FINETUNE_COMMAND: { key: 'fineTune', parse: (v) => ({ command: v }) },
  TEMPORAL_NAMESPACE: { key: 'temporalNamespace' },
  TEMPORAL_TLS_CERT: { key: 'temporalTls', parse: (v) => ({ cert: v }) },
  TEMPORAL_TLS_KEY: { key: 'temporalTls', parse: (v) => ({ key: v }) },
  TEMPORAL_TLS_CA: { key: 'temporalTls', parse: (v) => ({ ca: v }) },
  QAFORGE_TASK_QUEUE: { key: 'taskQueue' },
  QAFORGE_GITHUB_RETRY_BASE_MS: { key: 'githubRetryBaseMs', parse: Number },
  QAFORGE_INCLUDE: { key: 'include', parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  QAFORGE_EXCLUDE: { key: 'exclude', parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  QAFORGE_MAX_FILE_BYTES: { key: 'maxFileBytes', parse: Number },
  QAFORGE_MAX_LINE_CHARS: { key: 'maxLineChars', parse: Number },
  QAFORGE_WORKERS: { key: 'workers', parse: Number },
  QAFORGE_TASK_TIMEOUT_MS: { key: 'taskTimeoutMs', parse: Number },
  QAFORGE_LOG_LEVEL: { key: 'logLevel' },
  QAFORGE_SERVE_HOST: { key: 'serve', parse: (v) => ({ host: v }) },
  QAFORGE_SERVE_PORT: { key: 'serve', parse: (v) => ({ port: Number(v) }) },
  GITHUB_TOKEN: { key: 'githubToken' },
  HF_TOKEN: { key: 'hfToken' },
  QAFORGE_ENDPOINT_URL: { key: 'models', parse: (v) => ({ endpointUrl: v }) },
  QAFORGE_LLM_SAMPLE: { key: 'models', parse: (v) => ({ llmSample: v === 'all' ? v : Number(v) }) },
  QAFORGE_MODELS_BACKEND: { key: 'models', parse: (v) => ({ backend: v }) },
  QAFORGE_MODELS_TASK: { key: 'models', parse: (v) => ({ task: v }) },
  QAFORGE_BUDGET_TOKENS: { key: 'models', parse: (v) => ({ budgetTokens: Number(v) }) },
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

export interface ConfigSources {
  /** Path given by --config; when absent, ./qaforge.config.json is read if it exists. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Partial<ConfigInput>;
  cwd?: string;
}

export function loadConfig(src: ConfigSources = {}): Config {
  const cwd = src.cwd ?? process.cwd();
  const env = src.env ?? process.env;
  let fileValues: Record<string, unknown> = {};
  const path = src.configPath ? resolve(cwd, src.configPath) : resolve(cwd, 'qaforge.config.json');
  if (src.configPath && !existsSync(path)) throw new UserError(`config file not found: ${src.configPath}`);
  if (existsSync(path)) {
    try {
      fileValues = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new UserError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (!isPlainObject(fileValues)) throw new UserError(`config file ${path} must hold a JSON object`);
  }
  const envValues: Record<string, unknown> = {};
  for (const [name, { key, parse }] of Object.entries(ENV)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const value = parse ? parse(v) : v;
    // Several variables can fill one object (TEMPORAL_TLS_CERT and _KEY): they merge.
    const prev = envValues[key];
    envValues[key] = isPlainObject(prev) && isPlainObject(value) ? { ...prev, ...value } : value;
  }
  const merged = merge(merge(fileValues, envValues), (src.flags ?? {}) as Record<string, unknown>);
  const r = Config.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.join('.') || '(root)';
    throw new UserError(`invalid configuration at ${where}: ${issue.message} (file < env < flags; see \`qaforge config\`)`);
  }
  return r.data;
}

/** The configuration with secrets masked, for printing. */
export function maskedConfig(cfg: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) out[k] = SECRET_KEYS.has(k) ? (v ? '****(set)' : '(unset)') : v;
  for (const k of SECRET_KEYS) if (!(k in out)) out[k] = '(unset)';
  return out;
}
