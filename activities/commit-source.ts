// The commits source: first-parent history from the commit cursor (or the start, or --since) to
// HEAD, oldest first, filtered, each kept commit → records → rule pairs. History is append-only, so
// nothing here is retired; the cursor advances every few hundred commits, once they are staged.
import { commitFilter, commitRecords, commitSkips, symbolChanges } from '../extractors/commits.js';
import { changePairFiles, commitQuestions } from '../generators/commit-rules.js';
import { addRecordsAndPairs, advanceCursor, readMode, sinkDelta, stage, type RunContext, type SourceOutcome } from './context.js';
import { readCommits } from './git-history.js';
import { failpoint } from '../lib/failpoint.js';

const CURSOR_EVERY = 500;

export async function commitSource(ctx: RunContext): Promise<SourceOutcome> {
  const t0 = performance.now();
  const { cfg, repo, sink, log } = ctx;
  const before = { ...sink.counts };
  const stRead = stage(ctx, 'commits.read');
  const stExtract = stage(ctx, 'commits.extract');
  const stGenerate = stage(ctx, 'commits.generate');
  // A cursor that is not an ancestor of HEAD (history rewritten) reads the whole history again: ids
  // already stored are skipped, so that costs time, not duplicates.
  const { mode, cursor, behind } = await readMode(ctx, 'commits');
  const from = mode === 'diff' ? cursor : null;
  const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
  let records = 0;
  let units = 0;
  if (cursor !== repo.sha || !ctx.incremental) {
    let t = performance.now();
    for await (const c of readCommits(repo.path, { from, to: repo.sha, since: cfg.since ? new Date(cfg.since) : undefined, maxDiffBytes: cfg.maxDiffBytes })) {
      await sink.ready();
      const now = performance.now();
      stRead.seconds += (now - t) / 1000;
      t = now;
      units++;
      stRead.seen++;
      const verdict = commitFilter(c);
      if (!verdict.keep) {
        stRead.reject(verdict.reason);
        // A style-only commit looks like a change: it is kept as a skip, with the signal that caught it.
        if (verdict.skip) sink.addSkip(verdict.skip, c.sha);
      } else {
        stRead.kept++;
        stExtract.seen++;
        if (c.truncated)
          sink.addSkip({ path: `commit:${c.sha}`, reason: 'diff_truncated', detail: `diff of ${c.diffBytes} bytes cut to ${cfg.maxDiffBytes}; the commit is kept with the first part` }, c.sha);
        if (c.nonUtf8) sink.addSkip({ path: `commit:${c.sha}`, reason: 'not_utf8', detail: 'diff is not valid UTF-8: kept, decoded with replacement characters' }, c.sha);
        let changes: ReturnType<typeof symbolChanges> = [];
        let changeFiles = new Set<string>();
        const unit = { path: `commit:${c.sha}`, commit: c.sha };
        const recordsOf = () => {
          // Per file: blobs git could not read, diffs cut at the per-file cap.
          for (const s of commitSkips(c)) sink.addSkip(s, c.sha);
          changes = symbolChanges(c);
          const recs = commitRecords(c, ref);
          changeFiles = changePairFiles(recs);
          return recs;
        };
        records += addRecordsAndPairs(ctx, { extract: stExtract, generate: stGenerate }, unit, recordsOf, (r) => commitQuestions(r, changes, changeFiles), t) ?? 0;
      }
      if (units % CURSOR_EVERY === 0 && !behind) {
        await sink.flush(true);
        failpoint('commits.before-cursor');
        await advanceCursor(ctx, 'commits', c.sha);
        log.info({ commits: units, staged: sink.counts.staged }, `commits: ${units} read`);
      }
      t = performance.now();
    }
  }
  await sink.flush(true);
  failpoint('commits.before-cursor');
  if (!behind) await advanceCursor(ctx, 'commits', repo.sha);
  return {
    source: 'commits',
    from,
    to: repo.sha,
    units,
    records,
    ...sinkDelta(sink, before),
    retired: 0,
    refreshed: 0,
    note: units ? `${units} commits` : 'nothing new',
    seconds: (performance.now() - t0) / 1000,
  };
}
