// The dashboard's JSON API, a Fastify plugin registered by `qaforge serve`: GET /api/dashboard/corpus,
// quality, retraining, online, drift (one panel each), /rows?panel=&key= (the rows behind a bar or a
// point, paged) and /pair/:id (a pair with its provenance and its cited lines). Every route needs an
// admin key (or `serve --dev` on loopback); every route takes the same filters (dashboard/schema.ts).
// Figures come from dashboard/engine.ts, warmed in the background when a table's version changes while the dashboard is in use.
import type { EventEmitter } from 'node:events';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { findPair } from '../datasets/curation.js';
import { squash } from '../lib/text.js';
import { sqlString, type Stores } from '../datasets/store.js';
import type { Logger } from '../lib/log.js';
import type { Embedder } from '../lib/models/types.js';
import { permalink } from '../serve/answer.js';
import { HttpError } from '../serve/app.js';
import { HARDNESS_LABELS } from './data.js';
import { DashboardEngine, DashboardRequestError } from './engine.js';
import { DashboardFilters, FILTER_NAMES, RowsQuery, type PairDetail } from './schema.js';


/** The background warm-up runs while a dashboard request came within this long. */
const IDLE_MS = 10 * 60_000;
export interface DashboardApiOptions {
  stores: Stores;
  embedder: Embedder | null;
  log: Logger;
  /** How often the background warm-up looks for new table versions (ms); 0: never. */
  warmMs?: number;
  /** Emits `open` when the page is served: the indexes are read then, ahead of the first request. */
  opened?: EventEmitter;
}

/** An error the client caused, in the service's {error: {message, code}} shape. */
const ClientError = HttpError;

/** The filters of a query string: the first problem as a 400 that names the filter. */
export function parseFilters(query: unknown, extra: string[] = []): DashboardFilters {
  const q = { ...(query as Record<string, unknown>) };
  for (const k of extra) delete q[k];
  for (const [k, v] of Object.entries(q)) {
    if (Array.isArray(v)) throw new ClientError(400, 'invalid_filter', `${k}: given more than once`);
    if (v === '' || v === undefined) delete q[k];
  }
  const r = DashboardFilters.safeParse(q);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  if (i.code === 'unrecognized_keys') {
    const keys = (i as { keys: string[] }).keys;
    throw new ClientError(400, 'invalid_filter', `${keys.join(', ')}: unknown filter (filters: ${FILTER_NAMES.join(', ')})`);
  }
  throw new ClientError(400, 'invalid_filter', `${i.path.join('.') || 'filters'}: ${i.message}`);
}

const admin = { config: { role: 'admin' as const } };

export const dashboardApi: FastifyPluginAsync<DashboardApiOptions> = async (app: FastifyInstance, opts) => {
  const engine = new DashboardEngine(opts.stores, opts.embedder, opts.log);
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    lastAsked = Date.now();
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DashboardRequestError) throw new ClientError(e.status, e.code, e.message);
      throw e;
    }
  };

  // Precompute while the dashboard is in use (asked within IDLE_MS): when a table changes (a promotion, a
  // log flush), the default panels are rebuilt before the page asks again. A service nobody watches
  // pays nothing: under query load the log changes every flush, and a warm-up would re-read it and
  // embed its questions on the cores that answer queries.
  let warming: Promise<void> | null = null;
  let closing = false;
  let lastAsked = -Infinity;
  const warmMs = opts.warmMs ?? 2000;
  let prefetched = false;
  const warm = (opened = false) => {
    if (warming || closing || (!opened && Date.now() - lastAsked > IDLE_MS)) return;
    const t0 = performance.now();
    warming = engine
      .warm({ backlog: !opened })
      .then(() => {
        if (opened && !closing) opts.log.info({ ms: Math.round(performance.now() - t0) }, 'dashboard: panels computed on page open');
      })
      .catch((e) => {
        if (!closing) opts.log.warn({ err: (e as Error).message }, 'dashboard warm-up failed; the next request computes its figures');
      })
      .finally(() => (warming = null));
  };
  const timer = warmMs ? setInterval(warm, warmMs) : null;
  timer?.unref();
  // The first page load reads the indexes and computes the default panels, once, without embedding the
  // log's questions: a page nobody logs into costs one read, never a warm-up loop.
  const onOpen = () => {
    if (prefetched || !warmMs) return;
    prefetched = true;
    warm(true);
  };
  opts.opened?.on('open', onOpen);
  // Before the service closes its embedder: the warm-up stops between batches and is waited for.
  app.addHook('onClose', async () => {
    closing = true;
    opts.opened?.off('open', onOpen);
    if (timer) clearInterval(timer);
    engine.stop();
    await warming;
    engine.close();
  });

  app.get('/api/dashboard/corpus', admin, async (req) => run(() => engine.corpus(parseFilters(req.query))));
  app.get('/api/dashboard/quality', admin, async (req) => run(() => engine.quality(parseFilters(req.query))));
  app.get('/api/dashboard/retraining', admin, async (req) => run(() => engine.retraining(parseFilters(req.query))));
  app.get('/api/dashboard/online', admin, async (req) => run(() => engine.online(parseFilters(req.query))));
  app.get('/api/dashboard/drift', admin, async (req) => run(() => engine.drift(parseFilters(req.query))));

  app.get('/api/dashboard/rows', admin, async (req) => {
    const page = RowsQuery.safeParse(req.query ?? {});
    if (!page.success) {
      const i = page.error.issues[0]!;
      throw new ClientError(400, 'invalid_field', `${i.path.join('.') || 'query'}: ${i.message}`);
    }
    const filters = parseFilters(req.query, ['panel', 'key', 'limit', 'offset']);
    return run(() => engine.rows(filters, page.data.panel, page.data.key, page.data.limit, page.data.offset));
  });

  app.get<{ Params: { id: string } }>('/api/dashboard/pair/:id', admin, async (req) => {
    if (!/^[0-9a-f]{32}$/.test(req.params.id)) throw new ClientError(400, 'invalid_field', 'id: a pair id is 32 hex characters');
    parseFilters(req.query);
    const found = await findPair(opts.stores, req.params.id);
    const f = found.find((x) => x.where === 'corpus') ?? found.find((x) => x.where === 'staging') ?? found[0];
    if (!f) throw new ClientError(404, 'unknown_pair', `no pair ${req.params.id} in the corpus, staging or rejected`);
    const p = f.pair;
    const commit = p.sourceKind === 'commit' ? p.provenance.commitFirstSeen : p.provenance.commitLastVerified;
    const h = engine.attrs.map.get(p.id);
    const detail: PairDetail = {
      id: p.id,
      table: f.where,
      status: f.status,
      retired_reason: f.where === 'corpus' && f.status === 'retired' ? f.detail : null,
      reasons: f.reasons,
      question: p.question,
      answer: p.answer,
      category: p.category,
      source_kind: p.sourceKind,
      provenance: {
        repo: p.provenance.repo,
        commit_first_seen: p.provenance.commitFirstSeen,
        commit_last_verified: p.provenance.commitLastVerified,
        path: p.provenance.path,
        start_line: p.provenance.startLine,
        end_line: p.provenance.endLine,
        qualname: p.provenance.qualname,
        url: p.provenance.url,
        pr: p.provenance.prNumber,
        issue: p.provenance.issueNumber,
        comment: p.provenance.commentId,
      },
      commit,
      permalink: permalink({
        repo: p.provenance.repo,
        sourceKind: p.sourceKind,
        commit: p.provenance.commitLastVerified,
        commitFirstSeen: p.provenance.commitFirstSeen,
        path: p.provenance.path,
        startLine: p.provenance.startLine,
        endLine: p.provenance.endLine,
        url: p.provenance.url,
      }),
      lines: sourceLines(p.context, p.evidence, p.provenance.startLine, p.provenance.endLine, await sourceText(opts.stores, p.sourceId)),
      evidence: p.evidence,
      generator: { name: p.generator.name, version: p.generator.version, model: p.generator.model, prompt_version: p.generator.promptVersion },
      verdicts: p.verdicts.map((v) => ({ check: v.check, pass: v.pass, reason: v.reason, detail: v.detail })),
      quality: p.quality ? { score: p.quality.score, reasons: p.quality.reasons } : null,
      hardness: h !== undefined && engine.attrs.hardness[h]! >= 0 ? HARDNESS_LABELS[engine.attrs.hardness[h]!]! : null,
      provenance_check: await provenanceCheck(opts.stores, p.id),
      feedback: p.feedback ? { query_id: p.feedback.queryId, feedback_id: p.feedback.feedbackId, origin: p.feedback.origin, cited: p.feedback.cited } : null,
    };
    return detail;
  });
};

/** A pair's last recorded provenance check (`qaforge verify`, `qaforge report`), or null. */
async function provenanceCheck(stores: Stores, id: string): Promise<PairDetail['provenance_check']> {
  for await (const rows of stores.scan('provenance_checks', ['resolved', 'reason', 'commit', 'checked_at'], `id = ${sqlString(id)}`))
    for (const r of rows) return { resolved: Boolean(r.resolved), reason: (r.reason as string | null) ?? null, commit: r.commit as string, checked_at: r.checked_at as string };
  return null;
}

/**
 * The stored text of a pair's source record, and how many of its first lines are the file's lines from
 * the record's start line verbatim: a code symbol's header (decorators, signature, docstring: up to
 * headerEndLine; a class's text goes on with its methods' signature lines, not contiguous), else all of
 * them when they are as many as the record's span.
 */
async function sourceText(stores: Stores, sourceId: string): Promise<{ text: string; verbatim: number } | null> {
  for await (const rows of stores.scan('sources', ['record', 'start_line', 'end_line'], `id = ${sqlString(sourceId)}`))
    for (const r of rows) {
      try {
        const x = JSON.parse(r.record as string) as { text?: string; code?: { headerEndLine?: number } | null };
        if (typeof x.text !== 'string') return null;
        const lines = x.text.split('\n').length;
        const start = r.start_line as number | null;
        const end = r.end_line as number | null;
        const verbatim = start === null ? 0 : x.code?.headerEndLine ? Math.min(lines, x.code.headerEndLine - start + 1) : end !== null && end - start + 1 === lines ? lines : 0;
        return { text: x.text, verbatim };
      } catch {
        return null;
      }
    }
  return null;
}

/**
 * The stored context line by line, numbered where its place in the file is known: a context line that
 * is one of the source record's verbatim lines is numbered from the pair's start line (its current
 * place: lines move between commits, the text does not); a context of exactly the lines start–end is
 * numbered too; else a line is unnumbered. A line is cited when it is part of an evidence string, or holds one.
 */
export function sourceLines(context: string, evidence: string[], start: number | null, end: number | null, source: { text: string; verbatim: number } | null): PairDetail['lines'] {
  const lines = context.split('\n');
  const n: (number | null)[] = lines.map(() => null);
  if (start !== null) {
    const at = source ? source.text.indexOf(context) : -1;
    if (source && at >= 0 && (at === 0 || source.text[at - 1] === '\n')) {
      const first = source.text.slice(0, at).split('\n').length - 1;
      lines.forEach((_, i) => (n[i] = first + i < source.verbatim ? start + first + i : null));
    } else if (source) {
      const src = source.text.split('\n');
      for (let i = 0; i < lines.length && i < source.verbatim && lines[i] === src[i]; i++) n[i] = start + i;
    } else if (end !== null && end - start + 1 === lines.length) lines.forEach((_, i) => (n[i] = start + i));
  }
  const ev = evidence.map(squash).filter((e) => e.length >= 3);
  return lines.map((text, i) => {
    const s = squash(text);
    const cited = s.length >= 3 && ev.some((e) => e.includes(s) || s.includes(e));
    return { n: n[i]!, text, cited };
  });
}
