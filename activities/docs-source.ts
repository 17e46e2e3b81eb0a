// The docs source: Markdown/MDX files at HEAD → sections → rule pairs. An ingest re-reads only the
// docs changed since the docs cursor; sections of changed docs that were not produced again (edited
// or deleted sections, deleted or renamed docs) are retired.
import type { SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { docSectionRecords } from '../extractors/docs.js';
import { docUsageExamples } from '../extractors/usage.js';
import { docCitationSkip, docQuestions } from '../generators/doc-rules.js';
import { withUsageExamples } from '../generators/usage-rules.js';
import { decodeSource } from './code-batch.js';
import { repoPackages } from './code-source.js';
import { filePlanNote, notFileSkips, planFiles, tooLargeSkip, type FilePlan } from './file-plan.js';
import { BlobReader } from './repo.js';
import { extractUnit, type Source, type UnitResult } from './source.js';

export const docsSource: Source<FilePlan> = {
  name: 'docs',
  plan: (run) => planFiles(run, 'docs', 'doc_section', run.cfg.docsInclude),
  note: filePlanNote,
  async *read(run, plan) {
    const { cfg, repo } = run;
    const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
    const packages = plan.files.length ? await repoPackages(repo.path, repo.sha) : [];
    const reader = new BlobReader(repo.path);
    try {
      for (const f of plan.files) {
        if (f.size > cfg.maxFileBytes) {
          yield { skips: [tooLargeSkip(f, cfg.maxFileBytes)] };
          continue;
        }
        const t = performance.now();
        let data: Buffer;
        try {
          data = await reader.read(f.oid);
        } catch (e) {
          yield { skips: [{ stage: 'read', skip: { path: f.path, reason: 'read_error', detail: (e as Error).message } }] };
          continue;
        }
        const decoded = decodeSource(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        const read = (performance.now() - t) / 1000;
        if (!('text' in decoded)) {
          yield { skips: [{ stage: 'read', skip: { path: f.path, reason: decoded.reason, detail: decoded.detail } }], seconds: { read } };
          continue;
        }
        // A citation (a "Citation" section, a BibTeX block) makes no pairs: it is recorded as a skip.
        const citations: SkipRecord[] = [];
        const questions = (r: SourceRecord) => {
          const skip = docCitationSkip(r);
          if (skip) citations.push(skip);
          return docQuestions(r);
        };
        // The sections' records and pairs, and the usage examples of the page's Python code blocks.
        const unit = withUsageExamples(() => docSectionRecords(f.path, decoded.text, ref), () => docUsageExamples(f.path, decoded.text, packages, ref), questions);
        const out: UnitResult = extractUnit(f.path, repo.sha, unit.records, unit.questions);
        out.skips = [...(out.skips ?? []), ...citations.map((skip) => ({ stage: 'generate' as const, skip }))];
        out.seconds = { ...out.seconds, read };
        yield out;
      }
      yield* notFileSkips(plan);
    } finally {
      reader.close();
    }
  },
};
