// Export: the active corpus (optionally at a past version) as JSONL train/validation/test splits in
// QA or chat format, plus a Hugging Face dataset card; optionally with general QA rows mixed into train.
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { basename, resolve } from 'node:path';
import { UserError } from '../lib/errors.js';
import { contentId } from '../lib/hash.js';
import type { Logger } from '../lib/log.js';
import { ExportedChat, ExportedQA, GeneralQALine, type QAPair, type Split } from './schemas.js';
import { assignSplit, type SplitRatios } from './splits.js';
import { hardnessLabels, type Hardness } from './curation.js';
import { clusterLeakage, splitClustersOf, type ClusterLeakage, type ClusterStats } from './clusters.js';
import { columnsOf, pairFromRow, type Stores } from './store.js';

export type ExportFormat = 'qa' | 'chat';

/** General QA to mix into train: `ratio` × the corpus's train rows, chosen by a stable hash of each row. */
export interface MixOptions {
  path: string;
  ratio: number;
}

export interface ExportOptions {
  out: string;
  format: ExportFormat;
  version?: number;
  splits: SplitRatios;
  mix?: MixOptions;
  /** Only pairs whose value score is at least this (pairs stored before scores count as 1). */
  minQuality?: number;
}

export type MixSkipReason = 'not_utf8' | 'invalid_json' | 'schema' | 'duplicate' | 'in_eval_split';

export interface MixResult {
  /** The mix file's name (no directory). */
  file: string;
  ratio: number;
  /** Non-blank lines read. */
  lines: number;
  /** Lines that could be mixed in: valid, not a duplicate, not a validation/test question of the corpus. */
  usable: number;
  /** round(ratio × corpus train rows). */
  requested: number;
  /** Rows written to train: min(requested, usable). */
  rows: number;
  /** True when the file held fewer usable lines than requested. */
  capped: boolean;
  skipped: number;
  skippedByReason: Partial<Record<MixSkipReason, number>>;
  /** The first MAX_SKIPPED_LISTED skipped lines (1-based line numbers); the counts above cover all. */
  skippedLines: { line: number; reason: MixSkipReason; detail: string }[];
}

export interface ExportResult {
  out: string;
  format: ExportFormat;
  version: number;
  /** Every row written: corpus pairs plus general rows. */
  rows: number;
  corpusRows: number;
  /** Active pairs left out by `minQuality`. */
  belowMinQuality: number;
  /** Rows per split as written (train includes the general rows). */
  bySplit: Record<Split, number>;
  byCategory: Record<string, number>;
  bySourceKind: Record<string, number>;
  /** The split files written: only splits that have rows. */
  files: string[];
  /** Clone clusters of the exported groups (datasets/clusters.ts): splits are assigned by cluster root. */
  clusters?: ClusterLeakage & ClusterStats;
  mix: MixResult | null;
}

const SPLITS: Split[] = ['train', 'validation', 'test'];
const COLUMNS = columnsOf('corpus');
const MAX_SKIPPED_LISTED = 100;
/** The "generator" of general rows: they were written by whoever made the mix file, not by qaforge. */
export const GENERAL_MIX = { name: 'general-mix', version: '1.0.0' } as const;

export function systemPrompt(repo: string): string {
  return `You answer questions about the ${repo} codebase. Answer only from the given context and say which file or symbol the answer comes from.`;
}

export const GENERAL_SYSTEM_PROMPT = 'You answer questions accurately and concisely. When a context is given, answer from it.';

async function writeLine(stream: WriteStream, line: string): Promise<void> {
  // once() rejects if the stream errors while we wait.
  if (!stream.write(`${line}\n`)) await once(stream, 'drain');
}

function corpusRow(pair: QAPair, split: Split, hardness: Hardness | null): ExportedQA {
  const v = pair.provenance;
  return ExportedQA.parse({
    id: pair.id,
    question: pair.question,
    answer: pair.answer,
    context: pair.context,
    category: pair.category,
    source_kind: pair.sourceKind,
    split,
    repo: v.repo,
    commit_first_seen: v.commitFirstSeen,
    commit_last_verified: v.commitLastVerified,
    path: v.path,
    start_line: v.startLine,
    end_line: v.endLine,
    qualname: v.qualname,
    url: v.url,
    generator: pair.generator.name,
    generator_version: pair.generator.version,
    general_source: null,
    general_license: null,
    hardness,
    quality_score: pair.quality?.score ?? null,
    quality_reasons: pair.quality?.reasons ?? [],
  });
}

function generalRow(g: GeneralQALine, id: string, file: string): ExportedQA {
  return ExportedQA.parse({
    id,
    question: g.question,
    answer: g.answer,
    context: g.context ?? '',
    category: 'general',
    source_kind: 'general',
    split: 'train',
    repo: null,
    commit_first_seen: null,
    commit_last_verified: null,
    path: null,
    start_line: null,
    end_line: null,
    qualname: null,
    url: null,
    generator: GENERAL_MIX.name,
    generator_version: GENERAL_MIX.version,
    general_source: g.source ?? file,
    general_license: g.license ?? null,
    hardness: null,
    quality_score: null,
    quality_reasons: [],
  });
}

function formatLine(qa: ExportedQA, format: ExportFormat): string {
  if (format === 'qa') return JSON.stringify(qa);
  const { id, question, answer, context, split, ...metadata } = qa;
  const general = qa.source_kind === 'general';
  const user = general && !context ? question : `Context:\n${context}\n\nQuestion: ${question}`;
  return JSON.stringify(
    ExportedChat.parse({
      id,
      split,
      messages: [
        { role: 'system', content: general ? GENERAL_SYSTEM_PROMPT : systemPrompt(qa.repo!) },
        { role: 'user', content: user },
        { role: 'assistant', content: answer },
      ],
      metadata,
    }),
  );
}

/** The key under which a question counts as "the same question" for the eval-split overlap check. */
const questionKey = (q: string) => contentId(q.toLowerCase().replace(/\s+/g, ' ').trim());

export async function exportCorpus(stores: Stores, opts: ExportOptions, log: Logger): Promise<ExportResult> {
  if (opts.mix) {
    if (!Number.isFinite(opts.mix.ratio) || opts.mix.ratio < 0) throw new UserError(`--mix-ratio must be a number >= 0, got ${opts.mix.ratio}`);
    let isFile = false;
    try {
      isFile = statSync(opts.mix.path).isFile();
    } catch (e) {
      throw new UserError(`cannot read the mix file ${opts.mix.path}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (!isFile) throw new UserError(`the mix file ${opts.mix.path} is not a file`);
  }
  const corpus = await stores.table('corpus');
  const latest = await corpus.version();
  if (opts.version !== undefined) {
    if (opts.version < 1 || opts.version > latest) throw new UserError(`corpus version ${opts.version} does not exist (latest is ${latest})`);
    await corpus.checkout(opts.version);
  }
  const version = opts.version ?? latest;
  const out = resolve(opts.out);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot create export dir ${opts.out}: ${(e as NodeJS.ErrnoException).code}`);
  }
  // Written to .tmp files and renamed at the end: an export that fails leaves no half-written split.
  const streams = Object.fromEntries(SPLITS.map((s) => [s, createWriteStream(resolve(out, `${s}.jsonl.tmp`))])) as Record<Split, WriteStream>;
  let streamError: Error | null = null;
  for (const st of Object.values(streams)) st.on('error', (e) => (streamError ??= e));
  const result: ExportResult = {
    out,
    format: opts.format,
    version,
    rows: 0,
    corpusRows: 0,
    belowMinQuality: 0,
    bySplit: { train: 0, validation: 0, test: 0 },
    byCategory: {},
    bySourceKind: {},
    files: [],
    mix: null,
  };
  const count = (qa: ExportedQA) => {
    result.rows++;
    result.bySplit[qa.split]++;
    result.byCategory[qa.category] = (result.byCategory[qa.category] ?? 0) + 1;
    result.bySourceKind[qa.source_kind] = (result.bySourceKind[qa.source_kind] ?? 0) + 1;
  };
  const repos = new Set<string>();
  const commits = new Set<string>();
  const generators = new Set<string>();
  const generalLicenses = new Map<string, number>();
  // Questions of the validation and test pairs: a general row asking one of them would leak into evaluation.
  const evalQuestions = new Set<string>();
  try {
    const clusters = await splitClustersOf(stores);
    const hardness = await hardnessLabels(stores);
    const assigned = new Map<string, Split>();
    const q = corpus.query().where("status = 'active'").select(COLUMNS);
    for await (const batch of q) {
      for (const r of batch.toArray() as { toJSON(): Record<string, unknown> }[]) {
        const pair = pairFromRow(r.toJSON());
        if (opts.minQuality !== undefined && (pair.quality?.score ?? 1) < opts.minQuality) {
          result.belowMinQuality++;
          continue;
        }
        const split = assignSplit(clusters.rootOf(pair.splitGroup), opts.splits);
        assigned.set(pair.splitGroup, split);
        const qa = corpusRow(pair, split, hardness.get(pair.id) ?? null);
        await writeLine(streams[split], formatLine(qa, opts.format));
        count(qa);
        if (split !== 'train' && opts.mix) evalQuestions.add(questionKey(pair.question));
        repos.add(pair.provenance.repo);
        commits.add(pair.provenance.commitLastVerified);
        generators.add(`${pair.generator.name}@${pair.generator.version}${pair.generator.model ? ` (model ${pair.generator.model}, prompt ${pair.generator.promptVersion})` : ''}`);
      }
    }
    result.corpusRows = result.rows;
    result.clusters = { ...clusterLeakage(clusters.rootOf, assigned), ...clusters.stats };
    if (opts.mix) {
      const file = basename(opts.mix.path);
      const plan = await planMix(opts.mix, result.bySplit.train, evalQuestions);
      result.mix = plan.summary;
      let written = 0;
      for await (const { line, text } of fileLines(opts.mix.path)) {
        if (!plan.chosen.has(line)) continue;
        const g = GeneralQALine.parse(JSON.parse(text!));
        const qa = generalRow(g, generalId(g), file);
        await writeLine(streams.train, formatLine(qa, opts.format));
        count(qa);
        written++;
        const lic = qa.general_license ?? 'unknown';
        generalLicenses.set(lic, (generalLicenses.get(lic) ?? 0) + 1);
      }
      if (written !== plan.summary.rows) throw new UserError(`the mix file ${opts.mix.path} changed while it was exported (${written} of ${plan.summary.rows} chosen lines read back)`);
      if (written) generators.add(`${GENERAL_MIX.name}@${GENERAL_MIX.version}`);
    }
  } finally {
    await Promise.all(
      SPLITS.map((s) => {
        streams[s].end();
        return finished(streams[s]).catch(() => undefined);
      }),
    );
    if (opts.version !== undefined) await corpus.checkoutLatest();
  }
  if (streamError) throw new UserError(`cannot write the export to ${opts.out}: ${(streamError as NodeJS.ErrnoException).code ?? (streamError as Error).message}`);
  // An empty split is no file at all (HF `datasets` cannot load an empty JSONL file), and a split file
  // an earlier export left in this dir goes too, so the dir always holds exactly what the card lists.
  for (const s of SPLITS) {
    const tmp = resolve(out, `${s}.jsonl.tmp`);
    if (result.bySplit[s] > 0) {
      renameSync(tmp, resolve(out, `${s}.jsonl`));
      result.files.push(`${s}.jsonl`);
    } else {
      rmSync(tmp, { force: true });
      rmSync(resolve(out, `${s}.jsonl`), { force: true });
    }
  }
  const licenses = new Map<string, { license: string; commit: string }>();
  for await (const rows of stores.scan('runs', ['repo', 'license', 'commit']))
    for (const r of rows) licenses.set(r.repo as string, { license: r.license as string, commit: r.commit as string });
  writeFileSync(resolve(out, 'README.md'), datasetCard(result, [...repos], [...commits], [...generators], licenses, generalLicenses));
  if (result.mix?.skipped) log.warn({ skippedByReason: result.mix.skippedByReason, first: result.mix.skippedLines.slice(0, 5) }, `${result.mix.skipped} lines of the mix file skipped`);
  if (result.mix?.capped) log.warn({ requested: result.mix.requested, usable: result.mix.usable }, `the mix file holds only ${result.mix.usable} usable rows: mixed all of them`);
  log.info({ out, rows: result.rows, bySplit: result.bySplit, general: result.mix?.rows ?? 0, version }, `exported ${result.rows} rows`);
  return result;
}

/** A general row's id: the one its line gives, else a hash of its question and answer. */
const generalId = (g: GeneralQALine): string => g.id ?? contentId('general', g.question, g.answer);

/** Lines of a file as UTF-8 text, 1-based, blank lines left out; a line that is not UTF-8 comes as null text. */
async function* fileLines(path: string): AsyncGenerator<{ line: number; text: string | null }> {
  let n = 0;
  let rest: Buffer = Buffer.alloc(0);
  const emit = function* (bytes: Buffer) {
    n++;
    if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1);
    if (n === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (!isUtf8(bytes)) yield { line: n, text: null };
    else {
      const text = bytes.toString('utf8');
      if (text.trim()) yield { line: n, text };
    }
  };
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, start)) {
        yield* emit(buf.subarray(start, i));
        start = i + 1;
      }
      rest = buf.subarray(start);
    }
  } catch (e) {
    throw new UserError(`cannot read the mix file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (rest.length) yield* emit(rest);
}

/**
 * First pass over the mix file: checks every line, and chooses round(ratio × trainRows) of the usable
 * ones — those with the smallest hash of their id, so the same file and ratio always choose the same
 * rows, and a larger ratio chooses a superset. Keeps line numbers and hashes only, not the rows.
 */
async function planMix(mix: MixOptions, trainRows: number, evalQuestions: Set<string>): Promise<{ chosen: Set<number>; summary: MixResult }> {
  const summary: MixResult = {
    file: basename(mix.path),
    ratio: mix.ratio,
    lines: 0,
    usable: 0,
    requested: Math.round(mix.ratio * trainRows),
    rows: 0,
    capped: false,
    skipped: 0,
    skippedByReason: {},
    skippedLines: [],
  };
  const skip = (line: number, reason: MixSkipReason, detail: string) => {
    summary.skipped++;
    summary.skippedByReason[reason] = (summary.skippedByReason[reason] ?? 0) + 1;
    if (summary.skippedLines.length < MAX_SKIPPED_LISTED) summary.skippedLines.push({ line, reason, detail });
  };
  const ids = new Map<string, number>();
  const contents = new Map<string, number>();
  const candidates: { line: number; rank: string }[] = [];
  for await (const { line, text } of fileLines(mix.path)) {
    summary.lines++;
    if (text === null) {
      skip(line, 'not_utf8', 'the line is not valid UTF-8');
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      skip(line, 'invalid_json', (e as Error).message);
      continue;
    }
    const parsed = GeneralQALine.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      skip(line, 'schema', `${issue.path.join('.') || '(line)'}: ${issue.message}`);
      continue;
    }
    const g = parsed.data;
    const id = generalId(g);
    const content = contentId(g.question, g.answer);
    const sameContent = contents.get(content);
    const sameId = ids.get(id);
    if (sameContent !== undefined || sameId !== undefined) {
      skip(line, 'duplicate', sameContent !== undefined ? `same question and answer as line ${sameContent}` : `same id as line ${sameId}`);
      continue;
    }
    ids.set(id, line);
    contents.set(content, line);
    if (evalQuestions.has(questionKey(g.question))) {
      skip(line, 'in_eval_split', 'the question of a validation or test pair of the corpus');
      continue;
    }
    candidates.push({ line, rank: contentId(GENERAL_MIX.name, id) });
  }
  summary.usable = candidates.length;
  summary.rows = Math.min(summary.requested, summary.usable);
  summary.capped = summary.requested > summary.usable;
  candidates.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  return { chosen: new Set(candidates.slice(0, summary.rows).map((c) => c.line)), summary };
}

// --- the dataset card ------------------------------------------------------------------------------

/** Licence ids the Hugging Face Hub accepts in a card's `license` field (the common ones). */
const HUB_LICENSES = new Set([
  'apache-2.0', 'mit', 'bsd', 'bsd-2-clause', 'bsd-3-clause', 'bsd-3-clause-clear', 'isc', 'zlib', 'unlicense', 'wtfpl',
  'gpl', 'gpl-2.0', 'gpl-3.0', 'lgpl', 'lgpl-2.1', 'lgpl-3.0', 'agpl-3.0', 'mpl-2.0', 'epl-1.0', 'epl-2.0', 'eupl-1.2',
  'artistic-2.0', 'bsl-1.0', 'ecl-2.0', 'afl-3.0', 'osl-3.0', 'postgresql', 'ms-pl', 'ofl-1.1',
  'cc0-1.0', 'cc-by-2.0', 'cc-by-3.0', 'cc-by-4.0', 'cc-by-sa-3.0', 'cc-by-sa-4.0', 'cc-by-nc-4.0', 'cc-by-nc-sa-4.0',
  'cc-by-nd-4.0', 'cc-by-nc-nd-4.0', 'odc-by', 'odbl', 'pddl', 'cdla-permissive-1.0', 'cdla-permissive-2.0', 'cdla-sharing-1.0',
  'openrail', 'unknown',
]);

/** A licence name (SPDX-like: "Apache-2.0", "CC BY-SA 4.0", "GPL-3.0-only") as a Hub id, or null. */
export function hubLicenseId(name: string): string | null {
  const id = name.trim().toLowerCase().replace(/\s+/g, '-').replace(/-(only|or-later)$/, '');
  return HUB_LICENSES.has(id) ? id : null;
}

/** The Hub's size buckets. */
export function sizeCategory(rows: number): string {
  const buckets: [number, string][] = [
    [1e3, 'n<1K'], [1e4, '1K<n<10K'], [1e5, '10K<n<100K'], [1e6, '100K<n<1M'], [1e7, '1M<n<10M'],
    [1e8, '10M<n<100M'], [1e9, '100M<n<1B'], [1e10, '1B<n<10B'], [1e11, '10B<n<100B'], [1e12, '100B<n<1T'],
  ];
  return buckets.find(([limit]) => rows < limit)?.[1] ?? 'n>1T';
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'custom';

/** The card's licence fields: the licence of every source the rows quote (repositories and general rows). */
function cardLicense(repos: string[], licenses: Map<string, { license: string; commit: string }>, general: Map<string, number>): string[] {
  const sources = [
    ...repos.map((repo) => ({ name: licenses.get(repo)?.license ?? 'unknown', repo })),
    ...[...general.keys()].map((name) => ({ name, repo: null })),
  ];
  const ids = [...new Set(sources.map((s) => hubLicenseId(s.name) ?? 'other'))].sort();
  const lines = ids.length === 1 ? [`license: ${ids[0]}`] : ['license:', ...ids.map((id) => `- ${id}`)];
  const others = sources.filter((s) => hubLicenseId(s.name) === null);
  // The Hub takes one license_name / license_link, which only says something when one licence is `other`.
  if (new Set(others.map((s) => s.name)).size === 1) {
    const o = others[0]!;
    // detectLicense names a licence it does not know by its file: "see LICENSE".
    const file = /^see (\S+)$/.exec(o.name)?.[1];
    lines.push(`license_name: ${slug(file && o.repo ? `${o.repo}-license` : o.name)}`);
    const commit = o.repo ? licenses.get(o.repo)?.commit : undefined;
    if (file && o.repo && /^[\w.-]+\/[\w.-]+$/.test(o.repo) && commit) lines.push(`license_link: ${JSON.stringify(`https://github.com/${o.repo}/blob/${commit}/${file}`)}`);
  }
  return lines;
}

function table(counts: Record<string, number>): string {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return ['| value | rows |', '|---|---:|', ...rows.map(([k, n]) => `| ${k} | ${n} |`)].join('\n');
}

function datasetCard(
  r: ExportResult,
  repos: string[],
  commits: string[],
  generators: string[],
  licenses: Map<string, { license: string; commit: string }>,
  generalLicenses: Map<string, number>,
): string {
  const written = SPLITS.filter((s) => r.bySplit[s] > 0);
  // With no rows there is nothing to load: a `configs` entry without data files would not parse.
  const configs = written.length
    ? ['configs:', '- config_name: default', '  data_files:', ...written.flatMap((s) => [`  - split: ${s}`, `    path: ${s}.jsonl`])]
    : [];
  const front = [
    '---',
    ...cardLicense(repos, licenses, generalLicenses),
    'language:',
    '- en',
    'task_categories:',
    '- question-answering',
    ...(r.format === 'chat' ? ['- text-generation'] : []),
    'size_categories:',
    `- ${sizeCategory(r.rows)}`,
    'pretty_name: qaforge corpus export',
    ...configs,
    '---',
  ];
  const m = r.mix;
  const repoLicences = repos.map((x) => `${x}: ${licenses.get(x)?.license ?? 'unknown'}`).join('; ') || '-';
  const generalLicenceLine = [...generalLicenses].sort().map(([l, n]) => `${l} (${n} rows)`).join(', ');
  const mixLines = m
    ? [
        `- general QA mixed into train: ${m.rows} rows from ${m.file}, ratio ${m.ratio}` +
          (m.capped ? ` (${m.requested} asked for; the file holds ${m.usable} usable rows)` : ''),
        `  (ratio = general rows / corpus train rows, rounded; rows chosen by a stable hash of their id; ` +
          `${m.lines} lines read, ${m.skipped} skipped${m.skipped ? `: ${Object.entries(m.skippedByReason).map(([k, n]) => `${k} ${n}`).join(', ')}` : ''}). ` +
          'General rows are in train only: validation and test hold corpus pairs only.',
        ...(m.rows ? [`- general QA licence: ${generalLicenceLine} — as given by the mix file's lines.`] : []),
      ]
    : [];
  return `${front.join('\n')}
# qaforge corpus export

Grounded question–answer pairs about ${repos.map((x) => `\`${x}\``).join(', ') || '(no repository)'}, built by qaforge.
Every pair carries its provenance (repository, commit, path, line span, symbol) and the exact context it
was drawn from; splits are assigned by clone cluster — a source file (or commit, PR, issue) joined with the
files its \`# Copied from\` comments name, a modular file with the modeling file generated from it, and the
files of near-duplicate pairs — by a stable hash of the cluster's root, so no cluster spans two splits${
  r.clusters ? ` (${r.clusters.clusters} clusters; ${r.clusters.groupsInMultiGroupClusters} of ${r.clusters.groups} groups share a cluster; clusters across splits: ${r.clusters.clustersAcrossSplits})` : ''
}.
A split with no rows has no file and is not listed above.

- format: \`${r.format}\` (${r.format === 'qa' ? 'question, answer, context + provenance fields' : '`messages`: system / user (context + question) / assistant'})
- corpus version: ${r.version}
- repository: ${repos.join(', ') || '-'}
- commit(s): ${commits.sort().join(', ') || '-'}
- source licence: ${repoLicences} — the pairs quote the source; its licence applies.
- generators: ${generators.sort().join(', ') || '-'}
- rows: ${r.rows}${m ? ` (corpus pairs ${r.corpusRows}, general QA ${m.rows})` : ''}
${mixLines.join('\n')}${mixLines.length ? '\n' : ''}${written.length ? '' : '- no rows: nothing to load.\n'}
## Splits
${table(Object.fromEntries(written.map((s) => [s, r.bySplit[s]])))}

## Categories
${table(r.byCategory)}

## Source kinds
${table(r.bySourceKind)}
`;
}
