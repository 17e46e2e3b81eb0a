// Export: the active corpus (optionally at a past version) as JSONL train/validation/test splits in
// QA or chat format, plus a dataset card.
import { createWriteStream, mkdirSync, renameSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { resolve } from 'node:path';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { ExportedChat, ExportedQA, type Split } from './schemas.js';
import { assignSplit, type SplitRatios } from './splits.js';
import { columnsOf, pairFromRow, type Stores } from './store.js';

export type ExportFormat = 'qa' | 'chat';

export interface ExportOptions {
  out: string;
  format: ExportFormat;
  version?: number;
  splits: SplitRatios;
}

export interface ExportResult {
  out: string;
  format: ExportFormat;
  version: number;
  rows: number;
  bySplit: Record<Split, number>;
  byCategory: Record<string, number>;
  bySourceKind: Record<string, number>;
  files: string[];
}

const SPLITS: Split[] = ['train', 'validation', 'test'];
const COLUMNS = columnsOf('corpus');

export function systemPrompt(repo: string): string {
  return `You answer questions about the ${repo} codebase. Answer only from the given context and say which file or symbol the answer comes from.`;
}

async function writeLine(stream: WriteStream, line: string): Promise<void> {
  // once() rejects if the stream errors while we wait.
  if (!stream.write(`${line}\n`)) await once(stream, 'drain');
}

export async function exportCorpus(stores: Stores, opts: ExportOptions, log: Logger): Promise<ExportResult> {
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
    bySplit: { train: 0, validation: 0, test: 0 },
    byCategory: {},
    bySourceKind: {},
    files: SPLITS.map((s) => `${s}.jsonl`),
  };
  const repos = new Set<string>();
  const commits = new Set<string>();
  const generators = new Set<string>();
  try {
    const q = corpus.query().where("status = 'active'").select(COLUMNS);
    for await (const batch of q) {
      for (const r of batch.toArray() as { toJSON(): Record<string, unknown> }[]) {
        const row = r.toJSON();
        const pair = pairFromRow(row);
        const split = assignSplit(pair.splitGroup, opts.splits);
        const v = pair.provenance;
        const qa = ExportedQA.parse({
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
        });
        let line: string;
        if (opts.format === 'qa') line = JSON.stringify(qa);
        else {
          const { id, question, answer, context, split: _s, ...metadata } = qa;
          line = JSON.stringify(
            ExportedChat.parse({
              id,
              split,
              messages: [
                { role: 'system', content: systemPrompt(v.repo) },
                { role: 'user', content: `Context:\n${context}\n\nQuestion: ${question}` },
                { role: 'assistant', content: answer },
              ],
              metadata,
            }),
          );
        }
        await writeLine(streams[split], line);
        result.rows++;
        result.bySplit[split]++;
        result.byCategory[pair.category] = (result.byCategory[pair.category] ?? 0) + 1;
        result.bySourceKind[pair.sourceKind] = (result.bySourceKind[pair.sourceKind] ?? 0) + 1;
        repos.add(v.repo);
        commits.add(v.commitLastVerified);
        generators.add(`${pair.generator.name}@${pair.generator.version}${pair.generator.model ? ` (model ${pair.generator.model}, prompt ${pair.generator.promptVersion})` : ''}`);
      }
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
  for (const s of SPLITS) renameSync(resolve(out, `${s}.jsonl.tmp`), resolve(out, `${s}.jsonl`));
  const licenses = new Map<string, string>();
  for await (const rows of stores.scan('runs', ['repo', 'license', 'finished_at']))
    for (const r of rows) licenses.set(r.repo as string, r.license as string);
  writeFileSync(resolve(out, 'README.md'), datasetCard(result, [...repos], [...commits], [...generators], licenses));
  log.info({ out, rows: result.rows, bySplit: result.bySplit, version }, `exported ${result.rows} pairs`);
  return result;
}

function table(counts: Record<string, number>): string {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return ['| value | pairs |', '|---|---:|', ...rows.map(([k, n]) => `| ${k} | ${n} |`)].join('\n');
}

function datasetCard(r: ExportResult, repos: string[], commits: string[], generators: string[], licenses: Map<string, string>): string {
  const license = repos.map((repo) => licenses.get(repo) ?? 'unknown');
  const hfLicense = license.length === 1 && /^[A-Za-z0-9.-]+$/.test(license[0]!) ? license[0]!.toLowerCase() : 'other';
  return `---
license: ${hfLicense}
task_categories:
- question-answering
configs:
- config_name: default
  data_files:
${SPLITS.map((s) => `  - split: ${s}\n    path: ${s}.jsonl`).join('\n')}
---
# qaforge corpus export

Grounded question–answer pairs about ${repos.map((x) => `\`${x}\``).join(', ') || '(no repository)'}, built by qaforge.
Every pair carries its provenance (repository, commit, path, line span, symbol) and the exact context it
was drawn from; splits are assigned by a stable hash of the source file, so no file spans two splits.

- format: \`${r.format}\` (${r.format === 'qa' ? 'question, answer, context + provenance fields' : '`messages`: system / user (context + question) / assistant'})
- corpus version: ${r.version}
- repository: ${repos.join(', ') || '-'}
- commit(s): ${commits.sort().join(', ') || '-'}
- source licence: ${repos.map((x, i) => `${x}: ${license[i]}`).join('; ') || '-'} — the pairs quote the source; its licence applies.
- generators: ${generators.sort().join(', ') || '-'}
- rows: ${r.rows}

## Splits
${table(r.bySplit)}

## Categories
${table(r.byCategory)}

## Source kinds
${table(r.bySourceKind)}
`;
}
