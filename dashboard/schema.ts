// The dashboard's JSON API (`/api/dashboard/*`, served by `qaforge serve`, admin key): the filter query
// string and every response, as zod schemas with their inferred types. The page codes against these;
// the API parses its query string with `DashboardFilters` and its responses are built to these shapes
// (the tests parse every response with them).
//
// Filters (all optional) and how each applies to each kind of row:
//   source_kind  pairs: their source kind. Queries (and their feedback): the source kind of their top
//                citation (a query without citations is left out while the filter is set). Versions:
//                the pairs added/retired/active per version are counted over that kind only (the recorded
//                all-kind figures stay beside them). Evals: the per-kind figures of the eval
//                (code_symbol→code, doc_section→docs, commit, pull_request→pr, issue). Runs: the pairs
//                of that kind a run staged/retired. Skips: not applicable (a skipped file has no kind).
//   from / to    every row by its own time: a corpus pair by promoted_at, staging and rejected pairs by
//                updated_at, a query/feedback by `at`, a run (and its skips) by finished_at, a version
//                by its time, an eval by created_at, a correction by updated_at. `from` is inclusive,
//                `to` exclusive. A date alone (2026-01-31) is that day's 00:00 UTC.
//   version      the dataset as of that version: pair tables read at the LanceDB versions the version
//                recorded; versions, evals, fine-tune triggers up to it; queries (and feedback) answered
//                by the corpus while it was that version (corpus_version from it to the next version).
//                Drift compares the batch that version promoted with the corpus before it.
//   min_score /  the pair's quality score (validators/value.ts, 0–1; a pair without one is left out while
//   max_score    either is set). Queries: their top citation's score. Both inclusive.
//   hardness     the pair's retrieval hardness label (`qaforge report`; an unlabelled pair is left out
//                while it is set). Queries: their top citation's label.
//   traffic      queries and feedback: real (not marked x-qaforge-synthetic), synthetic, or all (the
//                default). Corrections: those of real/synthetic feedback. Not applicable to pairs.
// Every panel answers with `applied`: the filters that restricted at least one of its figures; a filter
// that is set but not in `applied` does not concern that panel's rows.
import { z } from 'zod';
import { Category, SourceKind } from '../datasets/schemas.js';

export const HARDNESS = ['easy', 'medium', 'hard'] as const;
export const TRAFFIC = ['real', 'synthetic', 'all'] as const;
/** The PSI over which a mix is drifting. */
export const PSI_THRESHOLD = 0.2;
/** Drill-down page size cap. */
export const MAX_ROWS_LIMIT = 200;

const isoTime = z.union([z.iso.datetime({ offset: true }), z.iso.date()], { error: 'an ISO time (2026-01-31 or 2026-01-31T12:00:00Z)' });
const score = z.coerce.number().min(0).max(1);
const sourceKinds = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(SourceKind).min(1, 'at least one source kind'));

/** The filter query string, as the page puts it in its own URL and sends to every endpoint. */
export const DashboardFilters = z
  .object({
    /** Comma list of source kinds: code_symbol,doc_section. */
    source_kind: sourceKinds.optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    /** A dataset (corpus) version number, as `qaforge versions` lists them. */
    version: z.coerce.number().int().min(0).optional(),
    min_score: score.optional(),
    max_score: score.optional(),
    hardness: z.enum(HARDNESS).optional(),
    traffic: z.enum(TRAFFIC).optional(),
  })
  .strict()
  .refine((f) => f.min_score === undefined || f.max_score === undefined || f.min_score <= f.max_score, { message: 'min_score is above max_score', path: ['min_score'] })
  .refine((f) => !f.from || !f.to || Date.parse(f.from) < Date.parse(f.to), { message: 'from is not before to', path: ['from'] });
export type DashboardFilters = z.infer<typeof DashboardFilters>;
export type FilterName = keyof DashboardFilters;
export const FILTER_NAMES = ['source_kind', 'from', 'to', 'version', 'min_score', 'max_score', 'hardness', 'traffic'] as const satisfies readonly FilterName[];

/** One bar: its key (what /rows?key= takes) and its count. */
export const Bar = z.object({ key: z.string(), count: z.number().int().min(0) });
export type Bar = z.infer<typeof Bar>;

const rate = z.number().min(0).max(1).nullable();

/** What every panel carries. */
const PanelBase = z.object({
  /** The number of rows the panel was computed from (across the tables it read, after the filters). */
  rows: z.number().int().min(0),
  /** The filters as parsed. */
  filters: z.record(z.string(), z.unknown()),
  /** Filters that restricted at least one figure of this panel. */
  applied: z.array(z.enum(FILTER_NAMES)),
  /** LanceDB version of each table read: the cache key, and what the figures are as of. */
  table_versions: z.record(z.string(), z.number().int()),
  computed_ms: z.number().min(0),
  cached: z.boolean(),
});

/** A chart with the rows it was computed from and the drill-down panel id its bars open. */
const chart = <T extends z.ZodType>(item: T) => z.object({ rows: z.number().int().min(0), drill: z.string().nullable(), items: z.array(item) });
const bars = chart(Bar);

// ---------------------------------------------------------------- corpus
export const CorpusPanel = PanelBase.extend({
  /** Active pairs (the corpus as of `version` when set). */
  active: z.number().int().min(0),
  retired: z.number().int().min(0),
  /** The corpus's LanceDB version these figures are of. */
  corpus_version: z.number().int(),
  by_source_kind: bars, // drill: corpus.source_kind
  by_category: bars, // drill: corpus.category
  /** Active pairs by source kind × category (stacked bars): key `source_kind/category`. */
  by_kind_category: bars, // drill: corpus.kind_category
  /** Per dataset version: pairs of the filtered set added/retired by it and active after it, and the versions table's own (all-kind) figures. */
  growth_by_version: chart(
    z.object({
      key: z.string(), // the version number
      version: z.number().int(),
      at: z.string(),
      kind: z.enum(['promotion', 'rollback']),
      added: z.number().int().min(0),
      retired: z.number().int().min(0),
      active: z.number().int().min(0),
      recorded: z.object({ inserted: z.number(), retired: z.number(), active: z.number() }),
    }),
  ), // drill: corpus.version (pairs a version added)
  /** Active pairs by day of promotion (UTC), with the running total. */
  growth_by_day: chart(z.object({ key: z.string(), count: z.number().int().min(0), cumulative: z.number().int().min(0) })), // drill: corpus.day
  /** Per run (oldest first): pairs it staged and pairs it retired. */
  runs: chart(
    z.object({ key: z.string(), run_id: z.string(), command: z.string(), finished_at: z.string(), added: z.number().int().min(0), retired: z.number().int().min(0), rejected: z.number().int().min(0) }),
  ), // drill: corpus.run_added, corpus.run_retired
  staging_by_status: bars, // drill: staging.status
  /** Unretired staging pairs by source kind (`qaforge stats` pairsByKind). */
  staging_by_source_kind: bars, // drill: staging.source_kind
});
export type CorpusPanel = z.infer<typeof CorpusPanel>;

// ---------------------------------------------------------------- quality
const Histogram = chart(z.object({ key: z.string(), lo: z.number(), hi: z.number(), count: z.number().int().min(0) }));
const OverTime = chart(z.object({ key: z.string(), counts: z.record(z.string(), z.number().int().min(0)), total: z.number().int().min(0) }));

export const QualityPanel = PanelBase.extend({
  judge: z.object({
    /** Pairs the judge model saw (staging and rejected). */
    judged: z.number().int().min(0),
    verdicts: bars, // supported | partially | unsupported; drill: quality.judge_verdict
    /** Judge scores 1–5. */
    scores: bars, // drill: quality.judge_score
  }),
  /** Quality (value) score histogram of the active corpus, ten bins of 0.1. */
  quality_scores: Histogram, // drill: quality.score (key: the bin's lower bound, 0.0 … 0.9)
  model_written: z.object({
    /** Model-written pairs: staged (unretired) plus rejected. */
    total: z.number().int().min(0),
    passed: z.number().int().min(0),
    pass_rate: rate,
    /** Rejected as unsupported_claim, ungrounded or by the judge. */
    hallucinations_caught: z.number().int().min(0),
    hallucination_detection_rate: rate,
    reject_reasons: bars, // drill: quality.model_reject_reason
  }),
  /** Rejected pairs by reason (a pair counts once per reason), and by day. */
  reject_reasons: bars, // drill: quality.reject_reason
  reject_reasons_by_day: OverTime,
  /** Skipped files by reason, and by the day of their run. */
  skip_reasons: bars, // no drill (skips are files, not pairs)
  skip_reasons_by_day: OverTime,
  near_duplicates: z.object({ rows: z.number().int().min(0), in_clusters: z.number().int().min(0), clusters: z.number().int().min(0), rate }), // drill: quality.near_dup
  /**
   * The last recorded provenance check (qaforge verify / report) of the staged pairs shown: resolved or
   * not_resolved; rate is null with a note when none of them was checked.
   */
  provenance: bars.extend({
    checked: z.number().int().min(0),
    resolved: z.number().int().min(0),
    rate,
    note: z.string().nullable(),
  }), // drill: quality.provenance
  hardness: bars, // drill: quality.hardness
  feedback: z.object({
    rows: z.number().int().min(0),
    by_rating: bars, // drill: quality.feedback_rating (queries)
    by_reason: bars, // drill: quality.feedback_reason (queries)
  }),
  corrections: z.object({
    rows: z.number().int().min(0),
    /** Review state of the down-rated feedback: pending | proposed | accepted | rejected. */
    by_status: bars, // drill: quality.correction_status (queries)
    proposed: z.number().int().min(0),
    accepted: z.number().int().min(0),
  }),
});
export type QualityPanel = z.infer<typeof QualityPanel>;

// ---------------------------------------------------------------- retraining
const EvalFigures = z.object({ recall_at_10: z.number(), mrr_at_10: z.number(), ndcg_at_10: z.number() });

export const RetrainingPanel = PanelBase.extend({
  versions: chart(
    z.object({
      key: z.string(),
      version: z.number().int(),
      at: z.string(),
      kind: z.enum(['promotion', 'rollback']),
      run_id: z.string(),
      /** Recorded, all kinds. */
      inserted: z.number(),
      retired: z.number(),
      active: z.number(),
      /** Of the filtered pairs (equal to the recorded ones without pair filters, rollbacks aside). */
      added_filtered: z.number().int().min(0),
      retired_filtered: z.number().int().min(0),
      active_filtered: z.number().int().min(0),
      tags: z.array(z.string()),
      rolled_back_to: z.number().int().nullable(),
      undone_by: z.number().int().nullable(),
      reason: z.string().nullable(),
      /** The eval summary recorded with the version (the eval gate's), or null. */
      eval: EvalFigures.extend({ set_id: z.string(), mode: z.string() }).nullable(),
      finetune: z.object({ kind: z.string(), detail: z.string(), at: z.string().nullable() }).nullable(),
    }),
  ), // drill: corpus.version
  /** Fine-tune triggers (state finetune:v<N>) and the feedback-retrain mark. */
  finetunes: chart(z.object({ key: z.string(), version: z.number().int(), kind: z.string(), outcome: z.enum(['triggered', 'not_configured']), detail: z.string(), at: z.string().nullable() })),
  last_retrain: z.object({ at: z.string(), accepted: z.number(), version: z.number().nullable() }).nullable(),
  /** The last quality gate before a promotion (state gates:last) and the last eval gate after one (gates:eval:last), as recorded. */
  gates: z.object({
    promotion: z.object({ at: z.string().nullable(), passed: z.boolean(), reasons: z.array(z.string()) }).nullable(),
    eval: z.object({ at: z.string().nullable(), passed: z.boolean(), version: z.number().int().nullable(), reason: z.string().nullable(), rolled_back: z.boolean() }).nullable(),
  }),
  /** Eval rows (evals table), oldest first, with the change from the previous version's eval of the same set and mode. */
  evals: chart(
    EvalFigures.extend({
      key: z.string(), // `${corpus_version}/${set_id}/${mode}`
      corpus_version: z.number().int(),
      set_id: z.string(),
      mode: z.string(),
      embedder: z.string(),
      questions: z.number().int(),
      created_at: z.string(),
      /** The figures are the eval's per-kind ones (source_kind filter of one kind). */
      kind: z.string().nullable(),
      delta: EvalFigures.nullable(),
      before_version: z.number().int().nullable(),
    }),
  ),
});
export type RetrainingPanel = z.infer<typeof RetrainingPanel>;

// ---------------------------------------------------------------- online
const Pcts = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });
const Latency = z.object({ retrieve: Pcts, generate: Pcts, total: Pcts });

export const Cluster = z.object({
  key: z.string(), // cluster id: drill online.cluster
  count: z.number().int().min(0),
  previous: z.number().int().min(0),
  /** (count − previous) / previous; null when the previous window had none of it. */
  growth: z.number().nullable(),
  example: z.string(),
});
export type Cluster = z.infer<typeof Cluster>;

export const Trending = z.object({
  rows: z.number().int().min(0),
  drill: z.string(),
  window: z.object({ from: z.string(), to: z.string() }).nullable(),
  previous: z.object({ from: z.string(), to: z.string() }).nullable(),
  /** The model the questions were embedded with, or `lexical` when the service has none. */
  embedder: z.string(),
  /** Cosine similarity at which a question joins a cluster. */
  threshold: z.number(),
  /** Questions of the windows past the embedding cap, not clustered. */
  unclustered: z.number().int().min(0),
  items: z.array(Cluster),
});
export type Trending = z.infer<typeof Trending>;

export const OnlinePanel = PanelBase.extend({
  totals: z.object({
    requests: z.number().int().min(0),
    errors: z.number().int().min(0),
    error_rate: rate,
    abstained: z.number().int().min(0),
    abstention_rate: rate,
    synthetic: z.number().int().min(0),
    real: z.number().int().min(0),
    latency: Latency,
  }),
  /** Milliseconds per bucket of `series` (1 min when the traffic spans ≤ 2 h, wider beyond). */
  bucket_ms: z.number().int().positive(),
  series: chart(
    z.object({
      key: z.string(), // bucket start, ISO
      requests: z.number().int().min(0),
      per_minute: z.number().min(0),
      errors: z.number().int().min(0),
      abstained: z.number().int().min(0),
      synthetic: z.number().int().min(0),
      real: z.number().int().min(0),
      latency: Latency,
    }),
  ), // drill: online.bucket
  by_status: bars, // drill: online.status
  by_route: bars, // drill: online.route
  trending: Trending,
});
export type OnlinePanel = z.infer<typeof OnlinePanel>;

// ---------------------------------------------------------------- drift
export const PsiBin = z.object({ key: z.string(), actual: z.number().int().min(0), expected: z.number().int().min(0), actual_share: z.number(), expected_share: z.number(), contribution: z.number() });
export const Psi = z.object({
  psi: z.number().nullable(),
  threshold: z.number(),
  drifting: z.boolean(),
  /** Bins whose own contribution is over threshold / bins, or whose share grew or shrank most: named. */
  drifting_keys: z.array(z.string()),
  actual_rows: z.number().int().min(0),
  expected_rows: z.number().int().min(0),
  bins: z.array(PsiBin),
});
export type Psi = z.infer<typeof Psi>;

export const DriftPanel = PanelBase.extend({
  epsilon: z.number(),
  /** The newest batch (the pairs the given or latest version added) against the corpus before it. */
  batch: z.object({
    version: z.number().int().nullable(),
    against_version: z.number().int().nullable(),
    source_kind: Psi,
    category: Psi, // drill: drift.category (pairs of the batch)
    drifting_categories: z.array(z.string()),
  }),
  /** Topic clusters of the recent window against the previous window. */
  topics: z.object({ window: Trending.shape.window, previous: Trending.shape.previous, psi: Psi, drifting_topics: z.array(z.object({ key: z.string(), example: z.string() })) }),
});
export type DriftPanel = z.infer<typeof DriftPanel>;

// ---------------------------------------------------------------- drill-down
export const RowsQuery = z
  .object({
    panel: z.string().min(1).max(64),
    key: z.string().max(200).default(''),
    limit: z.coerce.number().int().min(1).max(MAX_ROWS_LIMIT).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .loose();
export type RowsQuery = z.infer<typeof RowsQuery>;

export const PairRowOut = z.object({
  id: z.string(),
  table: z.enum(['corpus', 'staging', 'rejected']),
  status: z.string(),
  question: z.string(),
  category: Category,
  source_kind: SourceKind,
  path: z.string().nullable(),
  start_line: z.number().int().nullable(),
  end_line: z.number().int().nullable(),
  quality_score: z.number().nullable(),
  hardness: z.enum(HARDNESS).nullable(),
  at: z.string().nullable(),
  reasons: z.array(z.string()).nullable(),
});
export type PairRowOut = z.infer<typeof PairRowOut>;

export const QueryRowOut = z.object({
  query_id: z.string(),
  at: z.string(),
  route: z.string(),
  question: z.string(),
  abstained: z.boolean(),
  status: z.number().int(),
  synthetic: z.boolean(),
  latency_total: z.number(),
  corpus_version: z.number().int().nullable(),
  top_pair_id: z.string().nullable(),
  top_source_kind: z.string().nullable(),
  rating: z.enum(['up', 'down']).nullable(),
  reason: z.string().nullable(),
});
export type QueryRowOut = z.infer<typeof QueryRowOut>;

const RowsBase = z.object({ panel: z.string(), key: z.string(), total: z.number().int().min(0), offset: z.number().int(), limit: z.number().int(), filters: z.record(z.string(), z.unknown()) });
export const RowsResponse = z.discriminatedUnion('kind', [RowsBase.extend({ kind: z.literal('pairs'), items: z.array(PairRowOut) }), RowsBase.extend({ kind: z.literal('queries'), items: z.array(QueryRowOut) })]);
export type RowsResponse = z.infer<typeof RowsResponse>;

/** Drill-down panel ids and the rows each returns. */
export const DRILL_PANELS = {
  'corpus.source_kind': 'pairs',
  'corpus.category': 'pairs',
  'corpus.kind_category': 'pairs',
  'corpus.version': 'pairs',
  'corpus.day': 'pairs',
  'corpus.run_added': 'pairs',
  'corpus.run_retired': 'pairs',
  'corpus.active': 'pairs',
  'staging.status': 'pairs',
  'staging.source_kind': 'pairs',
  'quality.judge_verdict': 'pairs',
  'quality.judge_score': 'pairs',
  'quality.score': 'pairs',
  'quality.model_reject_reason': 'pairs',
  'quality.reject_reason': 'pairs',
  'quality.near_dup': 'pairs',
  'quality.hardness': 'pairs',
  'quality.provenance': 'pairs',
  'quality.feedback_rating': 'queries',
  'quality.feedback_reason': 'queries',
  'quality.correction_status': 'queries',
  'online.bucket': 'queries',
  'online.status': 'queries',
  'online.route': 'queries',
  'online.cluster': 'queries',
  'online.all': 'queries',
  'drift.category': 'pairs',
  'drift.source_kind': 'pairs',
} as const satisfies Record<string, 'pairs' | 'queries'>;
export type DrillPanel = keyof typeof DRILL_PANELS;

export const SourceLine = z.object({ n: z.number().int().nullable(), text: z.string(), cited: z.boolean() });

export const PairDetail = z.object({
  id: z.string(),
  table: z.enum(['corpus', 'staging', 'rejected']),
  status: z.string(),
  retired_reason: z.string().nullable(),
  reasons: z.array(z.string()).nullable(),
  question: z.string(),
  answer: z.string(),
  category: Category,
  source_kind: SourceKind,
  provenance: z.object({
    repo: z.string(),
    commit_first_seen: z.string(),
    commit_last_verified: z.string(),
    path: z.string().nullable(),
    start_line: z.number().int().nullable(),
    end_line: z.number().int().nullable(),
    qualname: z.string().nullable(),
    url: z.string().nullable(),
    pr: z.number().int().nullable(),
    issue: z.number().int().nullable(),
    comment: z.number().int().nullable(),
  }),
  /** The commit the lines are at (last verified; a commit pair's own). */
  commit: z.string(),
  /** GitHub permalink to the lines at that commit (or the stored URL); null when the repo is not owner/name. */
  permalink: z.string().nullable(),
  /** The stored context, line by line, numbered from start_line when the context is those lines; `cited` marks lines holding the answer's evidence. */
  lines: z.array(SourceLine),
  evidence: z.array(z.string()),
  generator: z.object({ name: z.string(), version: z.string(), model: z.string().nullable(), prompt_version: z.string().nullable() }),
  verdicts: z.array(z.object({ check: z.string(), pass: z.boolean(), reason: z.string().nullable(), detail: z.string().nullable() })),
  quality: z.object({ score: z.number(), reasons: z.array(z.string()) }).nullable(),
  hardness: z.enum(HARDNESS).nullable(),
  /** The pair's last recorded provenance check, null when never checked. */
  provenance_check: z.object({ resolved: z.boolean(), reason: z.string().nullable(), commit: z.string(), checked_at: z.string() }).nullable(),
  feedback: z.object({ query_id: z.string(), feedback_id: z.string(), origin: z.string(), cited: z.array(z.string()) }).nullable(),
});
export type PairDetail = z.infer<typeof PairDetail>;

export const DashboardError = z.object({ error: z.object({ message: z.string(), code: z.string() }) });
