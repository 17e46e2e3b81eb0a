// The docs source: Markdown/MDX files at HEAD → sections → rule pairs. An ingest re-reads only the
// docs changed since the docs cursor; sections of changed docs that were not produced again (edited
// or deleted sections, deleted or renamed docs) are retired.
import picomatch from 'picomatch';
import { docSectionRecords } from '../extractors/docs.js';
import { docQuestions } from '../generators/doc-rules.js';
import { startProgress } from '../lib/progress.js';
import { decodeSource } from './code-batch.js';
import { changeSet, type ChangeSet } from './code-source.js';
import { advanceCursor, readMode, reconcile, sinkDelta, stage, watchGroups, type RunContext, type SourceOutcome } from './context.js';
import { BlobReader, listFiles } from './repo.js';

export async function docsSource(ctx: RunContext): Promise<SourceOutcome> {
  const t0 = performance.now();
  const { cfg, repo, sink, log } = ctx;
  const before = { ...sink.counts };
  const stRead = stage(ctx, 'docs.read');
  const stExtract = stage(ctx, 'docs.extract');
  const stGenerate = stage(ctx, 'docs.generate');
  const { mode, cursor, behind } = await readMode(ctx, 'docs');
  const from = mode === 'diff' ? cursor : null;
  let files = await listFiles(repo.path, repo.sha, cfg.docsInclude, cfg.exclude);
  let changes: ChangeSet | null = null;
  if (from === repo.sha) files = [];
  else if (from) {
    const isIncluded = picomatch(cfg.docsInclude, { dot: true });
    const isExcluded = cfg.exclude.length ? picomatch(cfg.exclude, { dot: true }) : () => false;
    changes = await changeSet(repo.path, from, repo.sha, (p) => isIncluded(p) && !isExcluded(p));
    files = files.filter((f) => changes!.paths.has(f.path));
  }
  if (files.length) await sink.ready();
  if (!behind) await watchGroups(ctx, ['doc_section'], changes ? changes.groups : files.map((f) => f.path));
  const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
  const reader = new BlobReader(repo.path);
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
      try {
        const recs = docSectionRecords(f.path, decoded.text, ref);
        const now = performance.now();
        stExtract.seconds += (now - t) / 1000;
        stExtract.kept += recs.length;
        records += recs.length;
        sink.addRecords(recs);
        t = now;
        const candidates = recs.flatMap(docQuestions);
        stGenerate.seen += recs.length;
        stGenerate.kept += candidates.length;
        stGenerate.seconds += (performance.now() - t) / 1000;
        t = performance.now();
        sink.addCandidates(candidates, cfg.limits);
        stage(ctx, 'validate').seconds += (performance.now() - t) / 1000;
      } catch (e) {
        sink.addSkip({ path: f.path, reason: 'extract_error', detail: (e as Error).message.slice(0, 300) }, repo.sha);
        stExtract.reject('extract_error');
      }
      await sink.flush();
    }
  } finally {
    progress.stop();
    reader.close();
  }
  const retired = await reconcile(ctx, repo.sha, changes ? changes.why : () => `evidence changed in ${repo.sha.slice(0, 12)}`);
  if (!behind) await advanceCursor(ctx, 'docs', repo.sha);
  return {
    source: 'docs',
    from,
    to: repo.sha,
    units: files.length,
    records,
    ...sinkDelta(sink, before),
    retired,
    note: from === repo.sha ? 'nothing new' : from ? `${files.length} changed docs` : null,
    seconds: (performance.now() - t0) / 1000,
  };
}
