// The PR and issue sources: fetch the three repo-wide listings (activities/github.ts), then rebuild
// the records of every issue and PR that got a new or changed item in this pass (or an earlier pass
// that did not finish), from all stored items of that number, joined locally. Merged PRs yield PR
// and review-thread records; closed issues yield a record when their resolution is known (a merged
// PR that says "Fixes #n", a merged PR or a commit the thread names as the fix, or an answer the
// thread settles on); the others are recorded as `unresolved` skips with why.
import { simpleGit } from 'simple-git';
import { githubItemsOf, githubItemVersions, githubNumbersStoredAfter } from '../datasets/queries.js';
import { prNumberFromSubject } from '../extractors/commits.js';
import { fixReferences, GhIssue, GhIssueComment, GhReviewComment, issueRecords, linkedIssueNumbers, pullRequestRecords, type ClosingPr, type FixCommit } from '../extractors/github.js';
import { issueQuestions, pullRequestQuestions } from '../generators/github-rules.js';
import { failpoint } from '../lib/failpoint.js';
import { stage, type RunContext } from './context.js';
import { extractUnit, type Source, type SourcePlan, type UnitResult } from './source.js';
import { drainListing, githubClient, githubRepoOf, LISTINGS, rateLimit, type FetchStats } from './github.js';
import { githubBuiltSeqKey } from '../datasets/state-keys.js';

const BUILD_CHUNK = 200;

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

interface GithubPlan extends SourcePlan {
  /** The owner/name the listings come from, or null (with `note` saying why) when there is none. */
  target: { owner: string; repo: string } | null;
  want: { prs: boolean; issues: boolean };
  note: string | null;
  seq: number;
  fetch: Record<string, FetchStats>;
  requests: number;
}

/** What the last run of a GitHub source fetched. */
export interface GithubFetch {
  requests: number;
  listings: Record<string, FetchStats>;
}

/**
 * The PR and issue source: one source with two outcome rows (`prs`, `issues`), because the PRs
 * built first link the issues they fix. `fetched()` says what its last run fetched.
 */
export function githubSource(want: { prs: boolean; issues: boolean }): Source<GithubPlan> & { fetched(): GithubFetch | null } {
  let last: GithubPlan | null = null;
  const rows = (['prs', 'issues'] as const).filter((s) => want[s]);
  return {
    name: 'prs',
    fetched: () => (last ? { requests: last.requests, listings: last.fetch } : null),
    async plan(run) {
      const { cfg, repo, stores } = run;
      const target = githubRepoOf(cfg, repo.repo);
      const slug = target ? `${target.owner}/${target.repo}` : null;
      const cursor = slug ? ((await stores.getState(`github:${slug}:cursor:issues`)) ?? null) : null;
      last = {
        from: cursor,
        to: cursor,
        total: 0,
        unitName: 'items',
        rows,
        target,
        want,
        note: target ? null : 'no GitHub repository: the origin remote is not on github.com; pass --github <owner/name>',
        seq: Date.now(),
        fetch: {},
        requests: 0,
        retire: target ? { commit: repo.sha, why: (g) => `discussion of ${g.replace(':', ' #')} changed` } : undefined,
        cursor: null,
      };
      if (!target) run.log.warn(`PRs and issues skipped: ${last.note}`);
      return last;
    },
    read: (run, plan) => readGithub(run, plan),
    async finish(run, plan) {
      if (!plan.target || plan.requests === 0) return;
      failpoint('github.before-built');
      await run.stores.setState({ [githubBuiltSeqKey(`${plan.target.owner}/${plan.target.repo}`)]: String(plan.seq) }, run.runId);
    },
    // The pair counts are for both rows together: PR and issue pairs go through one sink pass.
    note: (plan, _done, row) => plan.note ?? (row === rows[0] ? `${plan.requests} API requests${rows.length > 1 ? '; pair counts for PRs and issues together' : ''}` : null),
  };
}

async function* readGithub(run: RunContext, plan: GithubPlan): AsyncGenerator<UnitResult> {
  const { cfg, repo, log, stores } = run;
  const { target, want } = plan;
  if (!target) return;
  const slug = `${target.owner}/${target.repo}`;
  const octokit = githubClient(cfg, log);
  if (!cfg.githubToken)
    log.warn('no GITHUB_TOKEN: GitHub allows 60 requests per hour without one (304s included); qaforge waits for the reset when the limit is reached. Set GITHUB_TOKEN for 5,000 per hour.');
  const limit = await rateLimit(octokit);
  plan.requests = 1;
  if (limit && 'unreachable' in limit) {
    plan.note = `GitHub API ${cfg.githubApiUrl} unreachable (${limit.unreachable}); set --github-api-url or leave prs,issues out of --sources`;
    plan.retire = undefined;
    plan.requests = 0;
    log.warn(`PRs and issues skipped: ${plan.note}`);
    yield { units: 0, skips: [{ stage: null, skip: { path: `github:${slug}`, reason: 'api_error', detail: plan.note } }], checkpoint: {} };
    return;
  }
  if (limit) log.info({ api: cfg.githubApiUrl, repo: slug, ...limit }, `GitHub rate limit: ${limit.remaining}/${limit.limit} left`);

  // Fetch: each listing stores its pages and moves its own cursor. The fetch is shared by both rows,
  // so its stage is `github.fetch`; a page or item that failed is recorded as a skip.
  const stFetch = stage(run, 'github.fetch');
  const seq = plan.seq;
  const versions = await githubItemVersions(stores, slug);
  const fetchSkips: UnitResult['skips'] = [];
  for (const spec of LISTINGS) {
    const t = performance.now();
    const s = await drainListing(
      {
        octokit,
        stores,
        log,
        owner: target.owner,
        repo: target.repo,
        runId: run.runId,
        seq,
        versions,
        since: cfg.since ? new Date(cfg.since).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined,
        fromCursor: run.incremental,
        skip: (skip) => fetchSkips.push({ stage: null, skip }),
      },
      spec,
    );
    plan.fetch[spec.name] = s;
    stFetch.seen += s.items;
    stFetch.kept += s.newOrChanged;
    if (s.malformedItems) stFetch.reject('malformed_item', s.malformedItems);
    if (s.failed) stFetch.reject('api_error');
    stFetch.seconds += (performance.now() - t) / 1000;
    log.info({ listing: spec.name, ...s }, `GitHub ${spec.name}: ${s.newOrChanged} new or changed of ${s.items} items in ${s.requests} requests`);
  }
  plan.requests = Object.values(plan.fetch).reduce((a, s) => a + s.requests, 0);
  plan.to = (await stores.getState(`github:${slug}:cursor:issues`)) ?? null;
  if (fetchSkips.length) yield { units: 0, skips: fetchSkips, checkpoint: {} };
  failpoint('github.fetched');

  // Build: every number with an item stored after the last finished build.
  const builtSeq = Number((await stores.getState(githubBuiltSeqKey(slug))) ?? '0');
  const touched = await githubNumbersStoredAfter(stores, slug, builtSeq);
  const shas = touched.size ? await mergeShas(repo.path, repo.sha) : new Map<number, string>();
  const ref = { repo: slug, sha: repo.sha, webUrl: `https://github.com/${slug}` };

  const load = async (numbers: number[]) => {
    const byNumber = new Map<number, { issue: GhIssue | null; comments: GhIssueComment[]; reviews: GhReviewComment[]; links: ClosingPr[] }>();
    for (const n of numbers) byNumber.set(n, { issue: null, comments: [], reviews: [], links: [] });
    for await (const r of githubItemsOf(stores, slug, numbers)) {
      const e = byNumber.get(r.number)!;
      const json = JSON.parse(r.json);
      if (r.kind === 'issue') e.issue = GhIssue.parse(json);
      else if (r.kind === 'issue_comment') e.comments.push(GhIssueComment.parse(json));
      else if (r.kind === 'review_comment') e.reviews.push(GhReviewComment.parse(json));
      else if (r.kind === 'link') e.links.push(json as ClosingPr);
    }
    return byNumber;
  };

  // PRs first: a merged PR that says "Fixes #n" links issue n, which is then rebuilt too.
  const issueNumbers = new Set<number>();
  const numbers = [...touched].sort((a, b) => a - b);
  for (let i = 0; i < numbers.length; i += BUILD_CHUNK) {
    const chunk = await load(numbers.slice(i, i + BUILD_CHUNK));
    const links: Parameters<typeof stores.upsertGithubItems>[0] = [];
    const built: UnitResult[] = [];
    for (const [n, e] of chunk) {
      if (!e.issue) continue; // comments of an open issue or PR: kept until it closes
      if (!e.issue.pull_request) {
        issueNumbers.add(n);
        continue;
      }
      const mergedAt = e.issue.pull_request.merged_at ?? null;
      if (!mergedAt) {
        if (want.prs) built.push({ row: 'prs', skips: [{ stage: 'read', skip: { path: `github:${slug}/pull/${n}`, reason: 'not_merged', detail: `PR #${n} was closed without a merge` } }] });
        continue;
      }
      const mergeSha = shas.get(n) ?? null;
      const info: ClosingPr = { number: n, title: e.issue.title, body: e.issue.body ?? null, mergeSha, mergedAt };
      for (const issue of linkedIssueNumbers(e.issue.body ?? null, { owner: target.owner, name: target.repo })) {
        issueNumbers.add(issue);
        links.push({ key: `link:${n}:${issue}`, kind: 'link', repo: slug, number: issue, updated_at: e.issue.updated_at, seq, json: JSON.stringify(info) });
      }
      if (want.prs)
        built.push({
          row: 'prs',
          watch: { kind: 'pull_request', group: `pr:${n}` },
          ...extractUnit(`pr:${n}`, repo.sha, () => pullRequestRecords({ pr: e.issue!, comments: e.comments, reviewComments: e.reviews, mergeSha, ref }), pullRequestQuestions),
        });
    }
    await stores.upsertGithubItems(links);
    yield* built;
  }
  if (!want.issues) return;
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
      // Watched whatever its state: a reopened issue's pairs are retired.
      const watch = { kind: 'issue' as const, group: `issue:${n}` };
      const path = `github:${slug}/issue/${n}`;
      if (e.issue.state !== 'closed') {
        yield { row: 'issues', watch, skips: [{ stage: 'read', skip: { path, reason: 'open', detail: `issue #${n} is open` } }] };
        continue;
      }
      let unresolved: string | null = null;
      const r = refs.get(n)!;
      const out = extractUnit(
        `issue:${n}`,
        repo.sha,
        () => {
          const x = issueRecords({
            issue: e.issue!,
            comments: e.comments,
            closingPrs: e.links,
            referencedPrs: r.prs.flatMap((p) => knownPrs.get(p) ?? []),
            referencedCommits: knownCommits.filter((c) => r.shas.some((s) => c.sha.startsWith(s))),
            ref,
          });
          unresolved = x.unresolved;
          return x.records;
        },
        issueQuestions,
      );
      if (unresolved !== null) out.skips = [...(out.skips ?? []), { stage: 'extract', skip: { path, reason: 'unresolved', detail: unresolved } }];
      yield { row: 'issues', watch, ...out };
    }
  }
}
