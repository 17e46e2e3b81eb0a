// The docs source: Markdown/MDX files at HEAD → sections → rule pairs. An ingest re-reads only the
// docs changed since the docs cursor; sections of changed docs that were not produced again (edited
// or deleted sections, deleted or renamed docs) are retired.
import type { SourceRecord } from '../datasets/schemas.js';
import { docSectionRecords } from '../extractors/docs.js';
import { docUsageExamples } from '../extractors/usage.js';
import { docCitationSkip, docQuestions } from '../generators/doc-rules.js';
import { withUsageExamples } from '../generators/usage-rules.js';
import { startProgress } from '../lib/progress.js';
import { decodeSource } from './code-batch.js';
import { repoPackages } from './code-source.js';
import { addRecordsAndPairs, stage, type RunContext, type SourceOutcome } from './context.js';
import { finishFiles, planFiles, watchPlan } from './file-plan.js';
import { BlobReader } from './repo.js';

export async function docsSource(ctx: RunContext): Promise<SourceOutcome> {
  const { cfg, repo, sink, log } = ctx;
  const stRead = stage(ctx, 'docs.read');
  const stExtract = stage(ctx, 'docs.extract');
  const stGenerate = stage(ctx, 'docs.generate');
  const plan = await planFiles(ctx, 'docs', 'doc_section', cfg.docsInclude);
  const { files } = plan;
  await watchPlan(ctx, plan);
  const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
  const packages = files.length ? await repoPackages(repo.path, repo.sha) : [];
  const reader = new BlobReader(repo.path);
  // A citation (a "Citation" section, a BibTeX block) makes no pairs: it is recorded as a skip.
  const questions = (r: SourceRecord) => {
    const skip = docCitationSkip(r);
    if (skip) {
      sink.addSkip(skip, repo.sha);
      stGenerate.reject('citation');
    }
    return docQuestions(r);
  };
  const progress = startProgress('docs', files.length, log);
  let records = 0;
  try {
    for (const f of files) {
      stRead.seen++;
      progress.tick(1, `${sink.counts.staged} staged`);
      if (f.size > cfg.maxFileBytes) {
        sink.addSkip({ path: f.path, reason: 'too_large', detail: `${f.size} bytes > maxFileBytes ${cfg.maxFileBytes}` }, repo.sha);
        stRead.reject('too_large');
        continue;
      }
      let t = performance.now();
      let data: Buffer;
      try {
        data = await reader.read(f.oid);
      } catch (e) {
        sink.addSkip({ path: f.path, reason: 'read_error', detail: (e as Error).message }, repo.sha);
        stRead.reject('read_error');
        continue;
      }
      const decoded = decodeSource(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      stRead.seconds += (performance.now() - t) / 1000;
      if (!('text' in decoded)) {
        sink.addSkip({ path: f.path, reason: decoded.reason, detail: decoded.detail }, repo.sha);
        stRead.reject(decoded.reason);
        continue;
      }
      stRead.kept++;
      stExtract.seen++;
      t = performance.now();
      // The sections' records and pairs, and the usage examples of the page's Python code blocks.
      const unit = withUsageExamples(() => docSectionRecords(f.path, decoded.text, ref), () => docUsageExamples(f.path, decoded.text, packages, ref), questions);
      records += addRecordsAndPairs(ctx, { extract: stExtract, generate: stGenerate }, { path: f.path, commit: repo.sha }, unit.records, unit.questions, t) ?? 0;
      await sink.flush();
    }
  } finally {
    progress.stop();
    reader.close();
  }
  return finishFiles(ctx, plan, records, stRead);
}
