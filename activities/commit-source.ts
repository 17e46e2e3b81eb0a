// The commits source: first-parent history from the commit cursor (or the start, or --since) to
// HEAD, oldest first, filtered (each commit left out is a skip with why), each kept commit →
// records → rule pairs. History is append-only, so nothing here is retired; the cursor advances
// every few hundred commits, once they are staged.
import { commitFilter, commitFilterSkip, commitRecords, commitSkips, symbolChanges } from '../extractors/commits.js';
import { changePairFiles, commitQuestions } from '../generators/commit-rules.js';
import { readMode } from './context.js';
import { countCommits, readCommits } from './git-history.js';
import { extractUnit, type Source, type SourcePlan, type UnitResult } from './source.js';

const CURSOR_EVERY = 500;

interface CommitPlan extends SourcePlan {
  /** A backfill of a revision older than the cursor: the cursor stays. */
  behind: boolean;
  /** Nothing to read: an ingest whose cursor is HEAD. */
  upToDate: boolean;
}

export const commitSource: Source<CommitPlan> = {
  name: 'commits',
  async plan(run) {
    const { repo, cfg } = run;
    // A cursor that is not an ancestor of HEAD (history rewritten) reads the whole history again:
    // ids already stored are skipped, so that costs time, not duplicates.
    const { mode, cursor, behind } = await readMode(run, 'commits');
    const from = mode === 'diff' ? cursor : null;
    const upToDate = cursor === repo.sha && run.incremental;
    const total = upToDate ? 0 : await countCommits(repo.path, { from, to: repo.sha, since: cfg.since ? new Date(cfg.since) : undefined });
    return { from, to: repo.sha, total, unitName: 'commits', behind, upToDate, cursor: behind ? null : { name: 'commits', value: repo.sha } };
  },
  note: (_plan, done) => (done.units ? `${done.units} commits` : 'nothing new'),
  async *read(run, plan) {
    if (plan.upToDate) return;
    const { cfg, repo } = run;
    const ref = { repo: repo.repo, sha: repo.sha, webUrl: repo.webUrl };
    let units = 0;
    let t = performance.now();
    for await (const c of readCommits(repo.path, { from: plan.from, to: repo.sha, since: cfg.since ? new Date(cfg.since) : undefined, maxDiffBytes: cfg.maxDiffBytes })) {
      const read = (performance.now() - t) / 1000;
      units++;
      const verdict = commitFilter(c);
      let out: UnitResult;
      if (!verdict.keep) out = { skips: [{ stage: 'read', skip: commitFilterSkip(c, verdict), commit: c.sha }] };
      else {
        const unit = `commit:${c.sha}`;
        const notes: UnitResult['skips'] = [];
        if (c.truncated)
          notes.push({ stage: null, commit: c.sha, skip: { path: unit, reason: 'diff_truncated', detail: `diff of ${c.diffBytes} bytes cut to ${cfg.maxDiffBytes}; the commit is kept with the first part` } });
        if (c.nonUtf8) notes.push({ stage: null, commit: c.sha, skip: { path: unit, reason: 'not_utf8', detail: 'diff is not valid UTF-8: kept, decoded with replacement characters' } });
        let changes: ReturnType<typeof symbolChanges> = [];
        let changeFiles = new Set<string>();
        out = extractUnit(
          unit,
          c.sha,
          () => {
            // Per file: blobs git could not read, diffs cut at the per-file cap.
            for (const skip of commitSkips(c)) notes.push({ stage: null, commit: c.sha, skip });
            changes = symbolChanges(c);
            const recs = commitRecords(c, ref);
            changeFiles = changePairFiles(recs);
            return recs;
          },
          (r) => commitQuestions(r, changes, changeFiles),
        );
        out.skips = [...notes, ...(out.skips ?? [])];
      }
      out.seconds = { ...out.seconds, read };
      if (units % CURSOR_EVERY === 0 && !plan.behind) {
        out.checkpoint = { cursor: c.sha };
        run.log.info({ commits: units }, `commits: ${units} read`);
      }
      yield out;
      t = performance.now();
    }
  },
};
