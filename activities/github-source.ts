// The PR and issue sources: fetch the three repo-wide listings (activities/github.ts), then rebuild
// the records of every issue and PR that got a new or changed item in this pass (or an earlier pass
// that did not finish), from all stored items of that number, joined locally. Merged PRs yield PR
// and review-thread records; closed issues yield a record when their resolution is known (a merged
// PR that says "Fixes #n", a merged PR or a commit the thread names as the fix, or an answer the
// thread settles on); the others are recorded as `unresolved` skips with why.
import { simpleGit } from 'simple-git';
import type { SourceRecord } from '../datasets/schemas.js';
import { sqlString } from '../datasets/store.js';
import { prNumberFromSubject } from '../extractors/commits.js';
import { fixReferences, GhIssue, GhIssueComment, GhReviewComment, issueRecords, linkedIssueNumbers, pullRequestRecords, type ClosingPr, type FixCommit } from '../extractors/github.js';
import { issueQuestions, pullRequestQuestions } from '../generators/github-rules.js';
import { failpoint } from '../lib/failpoint.js';
import { addRecordsAndPairs, sinkDelta, stage, watchGroups, reconcile, type RunContext, type SourceOutcome } from './context.js';
import { drainListing, githubClient, githubRepoOf, LISTINGS, rateLimit, storedVersions, type FetchStats } from './github.js';
import { githubBuiltSeqKey } from '../datasets/state-keys.js';

const BUILD_CHUNK = 200;

export interface GithubOutcome {
  outcomes: SourceOutcome[];
  fetch: Record<string, FetchStats>;
  requests: number;
}

/** Merge commit of each squash-merged PR, from "(#n)" at the end of first-parent subjects. */
async function mergeShas(repoPath: string, sha: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const log = await simpleGit(repoPath).raw(['log', '--first-parent', '--format=%H%x00%s', sha]);
  for (const line of log.split('\n')) {
    const [h, subject] = line.split('\0');
    const n = subject ? prNumberFromSubject(subject) : null;
    if (h && n && !out.has(n)) out.set(n, h);
  }
  return out;
}

/**
 * The commits of HEAD's history that `shas` (full or abbreviated, as comments write them) name, with
 * subject and body; unknown or unreachable ones are left out.
 */
async function fixCommits(repoPath: string, head: string, shas: Iterable<string>): Promise<FixCommit[]> {
  const git = simpleGit(repoPath);
  const out: FixCommit[] = [];
  for (const sha of shas) {
    try {
      const [full, subject, body] = (await git.raw(['log', '-1', '--format=%H%x00%s%x00%b', `${sha}^{commit}`, '--'])).split('\0');
      if (!full || !/^[0-9a-f]{40}$/.test(full)) continue;
      await git.raw(['merge-base', '--is-ancestor', full, head]);
      out.push({ sha: full, subject: subject ?? '', body: body?.trim() || null });
    } catch {
      // Not a commit of this repository, or not in HEAD's history.
    }
  }
  return out;
}

const emptyOutcome = (source: 'prs' | 'issues', note: string): SourceOutcome => ({
  source,
  from: null,
  to: null,
  units: 0,
  records: 0,
  candidates: 0,
  staged: 0,
  rejected: 0,
  alreadyKnown: 0,
  retired: 0,
  refreshed: 0,
  note,
  seconds: 0,
});

export async function githubSource(ctx: RunContext, want: { prs: boolean; issues: boolean }): Promise<GithubOutcome> {
  const t0 = performance.now();
  const { cfg, repo, sink, log, stores } = ctx;
  const target = githubRepoOf(cfg, repo.repo);
  const sources = (['prs', 'issues'] as const).filter((s) => want[s]);
  if (!target) {
    const note = 'no GitHub repository: the origin remote is not on github.com; pass --github <owner/name>';
    log.warn(`PRs and issues skipped: ${note}`);
    return { outcomes: sources.map((s) => emptyOutcome(s, note)), fetch: {}, requests: 0 };
  }
  const slug = `${target.owner}/${target.repo}`;
  await sink.ready();
  const octokit = githubClient(cfg, log);
  if (!cfg.githubToken)
    log.warn('no GITHUB_TOKEN: GitHub allows 60 requests per hour without one (304s included); qaforge waits for the reset when the limit is reached. Set GITHUB_TOKEN for 5,000 per hour.');
  const limit = await rateLimit(octokit);
  if (limit && 'unreachable' in limit) {
    const note = `GitHub API ${cfg.githubApiUrl} unreachable (${limit.unreachable}); set --github-api-url or leave prs,issues out of --sources`;
    log.warn(`PRs and issues skipped: ${note}`);
    sink.addSkip({ path: `github:${slug}`, reason: 'api_error', detail: note }, repo.sha);
    await sink.flush(true);
    return { outcomes: sources.map((s) => emptyOutcome(s, note)), fetch: {}, requests: 1 };
  }
  if (limit) log.info({ api: cfg.githubApiUrl, repo: slug, ...limit }, `GitHub rate limit: ${limit.remaining}/${limit.limit} left`);

  // Fetch: each listing stores its pages and moves its own cursor.
  const stFetch = stage(ctx, 'github.fetch');
  const seq = Date.now();
  const fetch: Record<string, FetchStats> = {};
  const cursorsBefore = await stores.stateWithPrefix(`github:${slug}:cursor:`);
  const versions = await storedVersions(stores, slug);
  for (const spec of LISTINGS) {
    const t = performance.now();
    const s = await drainListing(
      {
        octokit,
        stores,
        log,
        owner: target.owner,
        repo: target.repo,
        runId: ctx.runId,
        seq,
        versions,
        since: cfg.since ? new Date(cfg.since).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined,
        fromCursor: ctx.incremental,
        skip: (k) => sink.addSkip(k, repo.sha),
      },
      spec,
    );
    fetch[spec.name] = s;
    stFetch.seen += s.items;
    stFetch.kept += s.newOrChanged;
    if (s.malformedItems) stFetch.reject('malformed_item', s.malformedItems);
    if (s.failed) stFetch.reject('api_error');
    stFetch.seconds += (performance.now() - t) / 1000;
    log.info({ listing: spec.name, ...s }, `GitHub ${spec.name}: ${s.newOrChanged} new or changed of ${s.items} items in ${s.requests} requests`);
  }
  await sink.flush(true);
  failpoint('github.fetched');

  // Build: every number with an item stored after the last finished build.
  const builtKey = githubBuiltSeqKey(slug);
  const builtSeq = Number((await stores.getState(builtKey)) ?? '0');
  const touched = new Set<number>();
  for await (const rows of stores.scan('github_items', ['number'], `repo = ${sqlString(slug)} AND seq > ${builtSeq}`)) for (const r of rows) touched.add(r.number as number);
  const shas = touched.size ? await mergeShas(repo.path, repo.sha) : new Map<number, string>();
  const ref = { repo: slug, sha: repo.sha, webUrl: `https://github.com/${slug}` };
  const stPrs = stage(ctx, 'prs.extract');
  const stIssues = stage(ctx, 'issues.extract');
  const before = { ...sink.counts };
  const counts = { prs: { units: 0, records: 0 }, issues: { units: 0, records: 0 } };

  const load = async (numbers: number[]) => {
    const byNumber = new Map<number, { issue: GhIssue | null; comments: GhIssueComment[]; reviews: GhReviewComment[]; links: ClosingPr[] }>();
    for (const n of numbers) byNumber.set(n, { issue: null, comments: [], reviews: [], links: [] });
    const where = `repo = ${sqlString(slug)} AND number IN (${numbers.join(',')})`;
    for await (const rows of stores.scan('github_items', ['kind', 'number', 'json'], where))
      for (const r of rows) {
        const e = byNumber.get(r.number as number)!;
        const json = JSON.parse(r.json as string);
        if (r.kind === 'issue') e.issue = GhIssue.parse(json);
        else if (r.kind === 'issue_comment') e.comments.push(GhIssueComment.parse(json));
        else if (r.kind === 'review_comment') e.reviews.push(GhReviewComment.parse(json));
        else if (r.kind === 'link') e.links.push(json as ClosingPr);
      }
    return byNumber;
  };
  const addRecords = (unit: string, recs: () => SourceRecord[], questions: (r: SourceRecord) => ReturnType<typeof pullRequestQuestions>) =>
    addRecordsAndPairs(ctx, {}, { path: unit, commit: repo.sha }, recs, questions, performance.now());

  // PRs first: a merged PR that says "Fixes #n" links issue n, which is then rebuilt too.
  const issueNumbers = new Set<number>();
  const numbers = [...touched].sort((a, b) => a - b);
  for (let i = 0; i < numbers.length; i += BUILD_CHUNK) {
    const chunk = await load(numbers.slice(i, i + BUILD_CHUNK));
    const links: Parameters<typeof stores.upsertGithubItems>[0] = [];
    for (const [n, e] of chunk) {
      if (!e.issue) continue; // comments of an open issue or PR: kept until it closes
      if (!e.issue.pull_request) {
        issueNumbers.add(n);
        continue;
      }
      counts.prs.units++;
      stPrs.seen++;
      const mergedAt = e.issue.pull_request.merged_at ?? null;
      if (!mergedAt) {
        stPrs.reject('not_merged');
        continue;
      }
      const mergeSha = shas.get(n) ?? null;
      const info: ClosingPr = { number: n, title: e.issue.title, body: e.issue.body ?? null, mergeSha, mergedAt };
      for (const issue of linkedIssueNumbers(e.issue.body ?? null, { owner: target.owner, name: target.repo })) {
        issueNumbers.add(issue);
        links.push({ key: `link:${n}:${issue}`, kind: 'link', repo: slug, number: issue, updated_at: e.issue.updated_at, seq, json: JSON.stringify(info) });
      }
      if (want.prs) {
        await watchGroups(ctx, ['pull_request'], [`pr:${n}`]);
        const added = addRecords(`pr:${n}`, () => pullRequestRecords({ pr: e.issue!, comments: e.comments, reviewComments: e.reviews, mergeSha, ref }), pullRequestQuestions);
        if (added === null) continue;
        stPrs.kept++;
        counts.prs.records += added;
      }
    }
    await stores.upsertGithubItems(links);
    await sink.flush();
  }
  if (want.issues) {
    const list = [...issueNumbers].sort((a, b) => a - b);
    const repoName = { owner: target.owner, name: target.repo };
    for (let i = 0; i < list.length; i += BUILD_CHUNK) {
      const chunk = await load(list.slice(i, i + BUILD_CHUNK));
      // What the threads name as their fix ("fixed in #N", "closed by <sha>"): the merged PRs the
      // source has stored, and the commits of HEAD's history.
      const refs = new Map([...chunk].map(([n, e]) => [n, fixReferences(e.comments, repoName)]));
      const prNumbers = [...new Set([...refs.values()].flatMap((r) => r.prs))];
      const knownPrs = new Map<number, ClosingPr>();
      for (const [n, e] of prNumbers.length ? await load(prNumbers) : []) {
        const mergedAt = e.issue?.pull_request?.merged_at;
        if (e.issue && mergedAt) knownPrs.set(n, { number: n, title: e.issue.title, body: e.issue.body ?? null, mergeSha: shas.get(n) ?? null, mergedAt });
      }
      const knownCommits = await fixCommits(repo.path, repo.sha, new Set([...refs.values()].flatMap((r) => r.shas)));
      for (const [n, e] of chunk) {
        if (!e.issue || e.issue.pull_request) continue;
        counts.issues.units++;
        stIssues.seen++;
        await watchGroups(ctx, ['issue'], [`issue:${n}`]);
        let unresolved: string | null = null;
        const r = refs.get(n)!;
        const added = addRecords(
          `issue:${n}`,
          () => {
            const out = issueRecords({
              issue: e.issue!,
              comments: e.comments,
              closingPrs: e.links,
              referencedPrs: r.prs.flatMap((p) => knownPrs.get(p) ?? []),
              referencedCommits: knownCommits.filter((c) => r.shas.some((s) => c.sha.startsWith(s))),
              ref,
            });
            unresolved = out.unresolved;
            return out.records;
          },
          issueQuestions,
        );
        if (e.issue.state !== 'closed') {
          stIssues.reject('open');
          continue;
        }
        if (unresolved !== null) {
          stIssues.reject('unresolved');
          sink.addSkip({ path: `github:${slug}/issue/${n}`, reason: 'unresolved', detail: unresolved }, repo.sha);
          continue;
        }
        if (added === null) continue;
        stIssues.kept++;
        counts.issues.records += added;
      }
      await sink.flush();
    }
  }
  const retired = await reconcile(ctx, repo.sha, (g) => `discussion of ${g.replace(':', ' #')} changed`);
  failpoint('github.before-built');
  await stores.setState({ [builtKey]: String(seq) }, ctx.runId);
  const cursorsAfter = await stores.stateWithPrefix(`github:${slug}:cursor:`);
  const delta = sinkDelta(sink, before);
  const requests = Object.values(fetch).reduce((a, s) => a + s.requests, 0);
  const seconds = (performance.now() - t0) / 1000;
  const cursor = (m: Record<string, string>) => m[`github:${slug}:cursor:issues`] ?? null;
  const outcomes = sources.map((s) => ({
    source: s,
    from: cursor(cursorsBefore),
    to: cursor(cursorsAfter),
    units: counts[s].units,
    records: counts[s].records,
    // The pair counts are for both together: PR and issue pairs go through one sink pass.
    ...(s === sources[0] ? { ...delta, retired } : { candidates: 0, staged: 0, rejected: 0, alreadyKnown: 0, refreshed: 0, retired: 0 }),
    note: s === sources[0] ? `${requests} API requests${sources.length > 1 ? '; pair counts for PRs and issues together' : ''}` : null,
    seconds: s === sources[0] ? seconds : 0,
  }));
  return { outcomes, fetch, requests };
}
