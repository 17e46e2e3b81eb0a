// Every record qaforge stores or passes across a boundary, as one zod schema each; types are inferred.
import { z } from 'zod';

export const Sha = z.string().regex(/^[0-9a-f]{40}$/, 'a 40-hex git commit sha');

export const SymbolKind = z.enum(['module', 'class', 'function', 'method']);
export type SymbolKind = z.infer<typeof SymbolKind>;

export const SourceKind = z.enum(['code_symbol', 'commit', 'pull_request', 'issue', 'doc_section']);
export type SourceKind = z.infer<typeof SourceKind>;

/** Where a piece of evidence lives. Enough to open it again: (repo, sha, path, lines) or (PR/issue, comment). */
export const Provenance = z.object({
  repo: z.string().min(1), // owner/name when known, else the URL or path it was read from
  commitFirstSeen: Sha,
  commitLastVerified: Sha,
  path: z.string().nullable(),
  startLine: z.number().int().positive().nullable(),
  endLine: z.number().int().positive().nullable(),
  qualname: z.string().nullable(),
  url: z.string().nullable(),
  prNumber: z.number().int().positive().nullable().default(null),
  issueNumber: z.number().int().positive().nullable().default(null),
  commentId: z.number().int().positive().nullable().default(null),
});
export type Provenance = z.infer<typeof Provenance>;

/**
 * Where a pair or record points, as a person reads it: its URL when known, else path and lines,
 * else the issue, PR or commit (a commit of a local repository has neither URL nor path).
 */
export function provenanceLocation(v: Provenance): string {
  if (v.url) return v.url;
  if (v.path) return v.startLine ? `${v.path}:${v.startLine}-${v.endLine ?? v.startLine}` : v.path;
  if (v.issueNumber) return `issue #${v.issueNumber}`;
  if (v.prNumber) return `PR #${v.prNumber}`;
  return `commit ${v.commitFirstSeen.slice(0, 12)}`;
}

export const Param = z.object({
  name: z.string(),
  kind: z.enum(['positional_only', 'positional_or_keyword', 'var_positional', 'keyword_only', 'var_keyword']),
  annotation: z.string().nullable(),
  default: z.string().nullable(),
});
export type Param = z.infer<typeof Param>;

/** A `raise` in a function's own body (not in nested definitions), with the `if` it sits under. */
export const RaiseSite = z.object({
  /** The exception raised: `ValueError`, `errors.ConfigError`. */
  name: z.string(),
  line: z.number().int().positive(),
  /** The raise statement verbatim (its first 300 characters). */
  text: z.string(),
  /**
   * The condition of the `if`/`elif` whose branch holds the raise, verbatim and on one line; under
   * nested ifs their conditions joined with `and`; else null (unconditional, `else`, multi-line).
   */
  condition: z.string().nullable(),
  /** Under nested ifs: each joined condition verbatim, outermost first (what a quote of the source may hold). */
  parts: z.array(z.string()).optional(),
});
export type RaiseSite = z.infer<typeof RaiseSite>;

/** A code symbol as the Python extractor sees it. */
export const CodeSymbol = z.object({
  symbolKind: SymbolKind,
  name: z.string(),
  qualname: z.string(), // Python-style within the module: Outer.Inner.method, func.<locals>.helper
  module: z.string(), // dotted module path derived from the file path
  parent: z.string().nullable(),
  signature: z.string().nullable(), // "(self, x: int = 1) -> str"
  params: z.array(Param),
  returns: z.string().nullable(),
  decorators: z.array(z.string()),
  bases: z.array(z.string()),
  /** For classes: names of the public methods defined directly in the body. */
  publicMethods: z.array(z.string()),
  docstring: z.string().nullable(), // cleaned like inspect.cleandoc
  isAsync: z.boolean(),
  isPublic: z.boolean(),
  /** Set when several definitions share a qualname: "overload 2 of 3", "property setter", "definition 2 of 2". */
  variant: z.string().nullable(),
  /** 1-based line of the `def` / `class` keyword (startLine includes decorators). */
  defLine: z.number().int().positive(),
  /** 1-based line of the `:` that ends the def/class header. */
  signatureEndLine: z.number().int().positive(),
  /** 1-based line where the docstring ends, or signatureEndLine when there is none. */
  headerEndLine: z.number().int().positive(),
  /**
   * Module symbols only, when the file has any: the dotted targets of its `# Copied from
   * <package>.<module>.<Symbol>` comments (transformers, diffusers), each once, in file order.
   * Split assignment joins the file with the files they name (datasets/clusters.ts).
   */
  copiedFrom: z.array(z.string()).optional(),
  /** Functions and methods: the exceptions their body raises, in line order (absent when none). */
  raises: z.array(RaiseSite).optional(),
});
export type CodeSymbol = z.infer<typeof CodeSymbol>;

/** One hunk of a file's diff: its `@@` line, git's enclosing-definition guess, where it starts, its lines. */
export const DiffHunk = z.object({
  header: z.string(),
  section: z.string(),
  newStart: z.number().int(),
  lines: z.array(z.string()),
});

/** What a whole-commit record states: header, message (emails left out) and the files it lists. */
export const CommitFacts = z.object({
  type: z.literal('commit'),
  sha: z.string(),
  author: z.string(),
  date: z.string(),
  subject: z.string(),
  body: z.string(),
  files: z.array(z.object({ status: z.enum(['A', 'M', 'D', 'R', 'C', 'T']), path: z.string(), oldPath: z.string().nullable() })),
  /** All files the commit changed (the list stops at a bound). */
  fileCount: z.number().int().nonnegative(),
});
export type CommitFacts = z.infer<typeof CommitFacts>;

/** What a per-file commit record states: the change's header and its kept hunks. */
export const CommitFileFacts = z.object({
  type: z.literal('commit_file'),
  sha: z.string(),
  verb: z.string(),
  /** The source of a rename or copy. */
  oldPath: z.string().nullable(),
  additions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
  date: z.string(),
  subject: z.string(),
  hunks: z.array(DiffHunk),
  /** The diff was cut (at the per-file cap or the record's size bound). */
  truncated: z.boolean(),
});
export type CommitFileFacts = z.infer<typeof CommitFileFacts>;

/**
 * The per-kind structure of a record, as its extractor knew it, so generators read fields instead
 * of parsing the text back. Redacted like the text. Not stored: the stored record keeps the text
 * the facts were drawn from.
 */
export const PullRequestFacts = z.object({
  type: z.literal('pull_request'),
  number: z.number().int().positive(),
  title: z.string(),
  /** The description, cleaned and bounded as the record states it ('' when it has none). */
  body: z.string(),
});

/** One review thread of a merged PR: where it points, and its comments (root first). */
export const ReviewThreadFacts = z.object({
  type: z.literal('review_thread'),
  number: z.number().int().positive(),
  title: z.string(),
  /** The path and its lines as the record names them ("pkg/a.py lines 3-5"). */
  location: z.string(),
  /** The lines part of the location (" line 12", " lines 3-5", or ''). */
  lines: z.string(),
  comments: z.array(z.object({ association: z.string(), byAuthor: z.boolean(), body: z.string() })),
});

/** How a closed issue was resolved: the answer the thread settled on, and the PR or commit that fixed it. */
export const IssueFacts = z.object({
  type: z.literal('issue'),
  number: z.number().int().positive(),
  title: z.string(),
  /** The answer's heading as the record writes it ("Maintainer answer:"), and the answer. */
  answer: z.object({ heading: z.string(), body: z.string() }).nullable(),
  /** `what` is "PR #12" or "commit <sha>"; `detail` the fix's first paragraph, bounded. */
  fix: z.object({ what: z.string(), title: z.string(), detail: z.string().nullable() }).nullable(),
});

/** Headings, fenced code and paragraphs of a doc section's text; lines 0-based within the text. */
export const DocBlock = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('heading'), level: z.number().int(), title: z.string(), startLine: z.number().int(), endLine: z.number().int() }),
  z.object({ kind: z.literal('code'), lang: z.string().nullable(), code: z.string(), startLine: z.number().int(), endLine: z.number().int() }),
  z.object({ kind: z.literal('paragraph'), lines: z.array(z.string()), startLine: z.number().int(), endLine: z.number().int() }),
]);
export type DocBlock = z.infer<typeof DocBlock>;

/** A docs section: its enclosing headings (outermost first, its own last) and its blocks. */
export const DocSectionFacts = z.object({
  type: z.literal('doc_section'),
  headingPath: z.array(z.string()),
  blocks: z.array(DocBlock),
});

export const RecordFacts = z.discriminatedUnion('type', [CommitFacts, CommitFileFacts, PullRequestFacts, ReviewThreadFacts, IssueFacts, DocSectionFacts]);
export type RecordFacts = z.infer<typeof RecordFacts>;

/** One unit of evidence. Its id hashes kind + stable locator + content, never the HEAD sha. */
export const SourceRecord = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  kind: SourceKind,
  /** The evidence text pairs are drawn from (verbatim source lines for code). */
  text: z.string(),
  contentHash: z.string(),
  provenance: Provenance,
  code: CodeSymbol.nullable(),
  /** Kinds of secret-like strings redacted from this record before it was stored. */
  redactions: z.array(z.string()),
  facts: RecordFacts.optional(),
});
export type SourceRecord = z.infer<typeof SourceRecord>;

export const Category = z.enum([
  'purpose',
  'parameters',
  'returns',
  'raises',
  'location',
  'bases',
  'methods',
  'signature',
  'module_purpose',
  // commits
  'commit_why',
  'commit_files',
  'commit_change',
  'symbol_history',
  // docs
  'doc_section',
  'doc_example',
  // pull requests and issues
  'pr_summary',
  'review_comment',
  'issue_resolution',
  // code: how a public symbol is called, mined from tests and docs code blocks
  'usage_example',
  // written by a model from a seed pool, checked by a second model
  'self_instruct',
  // a rule pair's question as an engineer would ask it, written by a model; the answer stays the rule's
  'paraphrase',
  // a user's question whose served answer was flagged, answered again from the cited sources (serve/corrections.ts)
  'feedback_correction',
]);
export type Category = z.infer<typeof Category>;

export const GeneratorInfo = z.object({
  name: z.string(),
  version: z.string(),
  promptVersion: z.string().nullable(),
  model: z.string().nullable(),
});
export type GeneratorInfo = z.infer<typeof GeneratorInfo>;

export const RejectReason = z.enum([
  'schema',
  'ungrounded',
  'too_short',
  'too_long',
  'secret',
  'duplicate',
  'retired',
  // model-written pairs: too close to a question already in the pool (ROUGE-L), or failed by the judge
  'near_seed',
  'judge',
  // model-written pairs: a number, name or too many words of the answer are not in the context
  'unsupported_claim',
  // model-written pairs: the context holds instructions for a model (validators/injection-patterns.v1.json)
  'prompt_injection',
  // the value score (validators/value.ts) is under the threshold: correct but not worth training on
  'low_value',
  // the same normalised question as another pair with a different answer
  'ambiguous',
]);
export type RejectReason = z.infer<typeof RejectReason>;

export const Verdict = z.object({
  check: z.string(),
  pass: z.boolean(),
  reason: RejectReason.nullable(),
  detail: z.string().nullable(),
});
export type Verdict = z.infer<typeof Verdict>;

/** How much a pair is worth training on (validators/value.ts): a score in [0, 1] and why it lost points. */
export const Quality = z.object({
  score: z.number().min(0).max(1),
  reasons: z.array(z.string()),
});
export type Quality = z.infer<typeof Quality>;

/**
 * Where a feedback_correction pair comes from besides its evidence: the answered query, the feedback
 * that flagged it, who wrote the corrected answer, and the pairs the flagged answer cited.
 */
export const FeedbackProvenance = z.object({
  queryId: z.string().min(1),
  feedbackId: z.string().min(1),
  /** model: revised from the quoted contexts; user: the user's own correction; manual: a reviewer's. */
  origin: z.enum(['model', 'user', 'manual']),
  /** Pair ids the flagged answer cited (disputed, retired when the correction is promoted). */
  cited: z.array(z.string()),
});
export type FeedbackProvenance = z.infer<typeof FeedbackProvenance>;

export const QAPair = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/), // hash(question, answer, context): no sha in it
  question: z.string(),
  answer: z.string(),
  /** The exact text the pair was drawn from. */
  context: z.string(),
  /** Substrings of `context` the answer asserts; the grounding check holds the answer to them. */
  evidence: z.array(z.string()),
  category: Category,
  sourceId: z.string(),
  sourceKind: SourceKind,
  symbolKind: SymbolKind.nullable(),
  variant: z.string().nullable(),
  provenance: Provenance,
  generator: GeneratorInfo,
  /** Split assignment key: path for code and docs, sha for commits, number for PRs and issues. */
  splitGroup: z.string(),
  verdicts: z.array(Verdict),
  nearDupCluster: z.string().nullable(),
  /** Set by validation (validators/value.ts); absent on pairs stored before it existed. */
  quality: Quality.optional(),
  /** feedback_correction pairs only: the query, feedback and cited pairs it corrects. */
  feedback: FeedbackProvenance.optional(),
});
export type QAPair = z.infer<typeof QAPair>;

export const StagingStatus = z.enum(['pending', 'validated', 'promoted', 'retired']);
export type StagingStatus = z.infer<typeof StagingStatus>;

export const Split = z.enum(['train', 'validation', 'test']);
export type Split = z.infer<typeof Split>;

/** A file or API item that could not be turned into records, with why. */
export const SkipRecord = z.object({
  path: z.string(),
  reason: z.enum([
    'binary',
    'not_utf8',
    'too_large',
    // tree entries that match the source paths but are not files: never followed
    'symlink',
    'submodule',
    'syntax_error',
    'read_error',
    'extract_error',
    // commits: a diff over the size cap is cut, and the cut recorded
    'diff_truncated',
    // GitHub: a page or item that could not be fetched or parsed after retries
    'api_error',
    'malformed_item',
    // models: a reply that was not valid JSON after one repair retry (the record's pair is lost, not the run)
    'model_output',
    // models: a record whose text holds instructions for a model is never sent to one
    'prompt_injection',
    // commits that only restyle (lint, formatting, typos in comments): no pairs, recorded
    'style_only',
    // docs sections that hold a citation (BibTeX), not documentation
    'citation',
    // issues closed without a resolution the thread states
    'unresolved',
    // commits the filter leaves out (extractors/commits.ts commitFilter), each with why
    'merge',
    'bot',
    'merge_message',
    'version_bump',
    'revert',
    'short_message',
    'empty_diff',
    // PRs closed without a merge, issues still open
    'not_merged',
    'open',
  ]),
  detail: z.string(),
});
export type SkipRecord = z.infer<typeof SkipRecord>;

/**
 * Kinds of exported rows: the corpus's source kinds, plus `general` for rows an export mixes into
 * train from a user's general QA file (`export --mix`). Exports only: never a corpus SourceKind.
 */
export const ExportedSourceKind = z.enum([...SourceKind.options, 'general']);
export type ExportedSourceKind = z.infer<typeof ExportedSourceKind>;

/** Categories of exported rows: the corpus's, plus `general` for mixed-in rows (exports only). */
export const ExportedCategory = z.enum([...Category.options, 'general']);
export type ExportedCategory = z.infer<typeof ExportedCategory>;

const notBlank = (s: string) => s.trim().length > 0;

/** One line of a general QA file given to `export --mix`; other keys are ignored. */
export const GeneralQALine = z.object({
  question: z.string().refine(notBlank, 'must not be blank'),
  answer: z.string().refine(notBlank, 'must not be blank'),
  context: z.string().nullish(),
  id: z.string().refine(notBlank, 'must not be blank').nullish(),
  /** Where the row comes from (a dataset name, a URL); the mix file's name when absent. */
  source: z.string().nullish(),
  license: z.string().nullish(),
});
export type GeneralQALine = z.infer<typeof GeneralQALine>;

const ExportedQAFields = z.object({
  id: z.string(),
  question: z.string(),
  answer: z.string(),
  context: z.string(),
  category: ExportedCategory,
  source_kind: ExportedSourceKind,
  split: Split,
  // Provenance: set on every corpus pair, null on general rows.
  repo: z.string().nullable(),
  commit_first_seen: Sha.nullable(),
  commit_last_verified: Sha.nullable(),
  path: z.string().nullable(),
  start_line: z.number().int().nullable(),
  end_line: z.number().int().nullable(),
  qualname: z.string().nullable(),
  url: z.string().nullable(),
  generator: z.string(),
  generator_version: z.string(),
  // General rows only (null on corpus pairs): the line's source (else the mix file's name) and licence.
  general_source: z.string().nullable(),
  general_license: z.string().nullable(),
  /** Retrieval hardness from `qaforge report` (the rank of the pair's own source for its question): null when not sampled. */
  hardness: z.enum(['easy', 'medium', 'hard']).nullable(),
  /** The value score (validators/value.ts) and why it lost points: null on general rows and on pairs stored before scores. */
  quality_score: z.number().min(0).max(1).nullable(),
  quality_reasons: z.array(z.string()),
});

type RowKindFields = Pick<z.infer<typeof ExportedQAFields>, 'category' | 'source_kind' | 'split' | 'repo' | 'commit_first_seen' | 'commit_last_verified' | 'path' | 'start_line' | 'end_line' | 'qualname' | 'url' | 'general_source'>;

/** A general row is train-only and has no provenance; a corpus pair has its provenance and no general fields. */
function checkRowKind(r: RowKindFields, ctx: z.RefinementCtx): void {
  const issue = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (r.source_kind === 'general') {
    if (r.split !== 'train') issue('a general row belongs to train only');
    if (r.category !== 'general') issue('a general row has category general');
    const set = (['repo', 'commit_first_seen', 'commit_last_verified', 'path', 'start_line', 'end_line', 'qualname', 'url'] as const).filter((k) => r[k] !== null);
    if (set.length) issue(`a general row has no provenance (${set.join(', ')} set)`);
    if (r.general_source === null) issue('a general row names its source');
  } else {
    if (r.category === 'general') issue('only general rows have category general');
    if (r.repo === null || r.commit_first_seen === null || r.commit_last_verified === null) issue('a corpus pair has its repo and commits');
    if (r.general_source !== null) issue('a corpus pair has no general source');
  }
}

/** One line of an exported QA JSONL file. */
export const ExportedQA = ExportedQAFields.superRefine(checkRowKind);
export type ExportedQA = z.infer<typeof ExportedQA>;

const ChatMetadata = ExportedQAFields.omit({ question: true, answer: true, context: true, split: true, id: true });

/** One line of an exported chat JSONL file. */
export const ExportedChat = z
  .object({
    id: z.string(),
    split: Split,
    messages: z
      .array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() }))
      .length(3),
    metadata: ChatMetadata,
  })
  .superRefine((c, ctx) => checkRowKind({ ...c.metadata, split: c.split }, ctx));
export type ExportedChat = z.infer<typeof ExportedChat>;
