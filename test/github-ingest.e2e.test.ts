// PR and issue ingestion through the real CLI and the real Octokit, against the GitHub-shaped server
// on 127.0.0.1: every fault GitHub produces is retried or recorded, no item is lost or stored twice,
// cursors never pass what was not stored, and a pass with nothing new only asks conditionally.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvalSet } from '../evals/set.js';
import { Stores, SCHEMAS, type TableName } from '../datasets/store.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';
import { addIssueComment, addPull, makeGithubFixture, type GithubFixture } from './github/fixture.js';
import { startGithubServer, type GithubServer } from './github/server.js';

type Rows = Record<TableName, Record<string, unknown>[]>;

async function rows(dataDir: string, names: TableName[]): Promise<Rows> {
  const stores = await Stores.open(dataDir);
  const out = {} as Rows;
  for (const name of names) {
    out[name] = [];
    for await (const batch of stores.scan(name, SCHEMAS[name].fields.map((f) => f.name))) out[name].push(...batch);
  }
  stores.close();
  return out;
}

/** The keys qaforge must hold after a complete pass: every closed issue and PR, every comment. */
function expectedKeys(fx: GithubFixture): string[] {
  return [
    ...fx.issues.filter((i) => i.state === 'closed').map((i) => `issue:${i.id}`),
    ...fx.issueComments.map((c) => `issue_comment:${c.id}`),
    ...fx.reviewComments.map((c) => `review_comment:${c.id}`),
  ].sort();
}

const maxUpdated = (items: { updated_at: string }[]) => items.reduce((m, i) => (i.updated_at > m ? i.updated_at : m), '');

const ENV = { GITHUB_TOKEN: 'test-token-not-a-secret', QAFORGE_GITHUB_RETRY_BASE_MS: '20' };

let fx: GithubFixture;
let server: GithubServer;
let repo: FixtureRepo;
let data: string;
let first: any;
let after: Rows;
const mergeShas = new Map<number, string>();
const args = () => ['--data-dir', data, 'ingest', '--repo', repo.dir, '--sources', 'prs,issues', '--github', 'acme/shapes', '--github-api-url', server.url, '--json'];

beforeAll(async () => {
  fx = makeGithubFixture({ owner: 'acme', repo: 'shapes', seed: 11, issues: 140, openIssues: 10, prs: 90, openPrs: 5 });
  // A malformed item among real ones: an issue whose title is not a string.
  fx.issues.push({ ...fx.issues.find((i) => i.state === 'closed' && !i.pull_request)!, id: 999_999_999, number: 9_999, title: null as unknown as string, updated_at: '2020-01-01T00:00:00Z' });
  server = await startGithubServer(fx);
  // Squash-merged PRs leave "(#n)" on first-parent subjects: the merge commit of two of them.
  const merged = fx.issues.filter((i) => i.pull_request?.merged_at && i.user?.type !== 'Bot').slice(0, 2);
  repo = await makeRepo({ 'README.md': '# shapes\n' });
  for (const m of merged) mergeShas.set(m.number, await repo.commit({ [`pkg/m${m.number}.py`]: 'x = 1\n' }, `${m.title} (#${m.number})`));
  data = tempDir();
  // Every fault kind once, on different listings and pages.
  server.injectFault({ path: /\/issues\?.*page=2/, kind: 'secondary', retryAfter: 1 });
  server.injectFault({ path: '/issues/comments', kind: '429', retryAfter: 1 });
  server.injectFault({ path: /\/issues\/comments\?.*page=3/, kind: 'truncated' });
  server.injectFault({ path: '/pulls/comments', kind: '502' });
  server.injectFault({ path: '/pulls/comments', kind: 'malformed' });
  server.injectFault({ path: /\/issues\?.*page=3/, kind: 'primary', retryAfter: 1 });
  first = await qaforgeJson(args(), { env: ENV });
  after = await rows(data, ['github_items', 'sources', 'staging', 'skipped', 'state']);
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('PR and issue ingestion', () => {
  it('stores every closed issue and PR and every comment exactly once, through every fault', () => {
    expect(server.pendingFaults()).toBe(0);
    const keys = after.github_items.filter((r) => r.kind !== 'link').map((r) => r.key as string).sort();
    const want = expectedKeys(fx).filter((k) => k !== 'issue:999999999');
    expect(keys).toEqual(want);
    expect(new Set(keys).size).toBe(keys.length);
    // The faulted requests were answered with what GitHub sends, and then retried.
    expect(server.stats.byStatus).toMatchObject({ 403: 2, 429: 1, 502: 1 });
    expect(after.skipped.filter((s) => s.reason === 'api_error')).toEqual([]);
  });

  it('records the malformed item with its reason and goes on', () => {
    const bad = after.skipped.filter((s) => s.reason === 'malformed_item');
    expect(bad.map((s) => s.path)).toEqual(['github:acme/shapes/issue/999999999']);
    expect(bad[0]!.detail).toMatch(/^title: /);
  });

  it('leaves each cursor at the newest update it stored', () => {
    const state = Object.fromEntries(after.state.map((r) => [r.key, r.value]));
    const closed = fx.issues.filter((i) => i.state === 'closed');
    expect(state['github:acme/shapes:cursor:issues']).toBe(maxUpdated(closed));
    expect(state['github:acme/shapes:cursor:issue_comments']).toBe(maxUpdated(fx.issueComments));
    expect(state['github:acme/shapes:cursor:review_comments']).toBe(maxUpdated(fx.reviewComments));
  });

  it('makes a PR record for every merged PR not opened by a bot, with its merge commit when git has it', () => {
    const prs = after.sources.filter((r) => r.kind === 'pull_request' && r.path === null);
    const want = fx.issues.filter((i) => i.state === 'closed' && i.pull_request?.merged_at && i.user?.type !== 'Bot').map((i) => i.number);
    const numbers = prs.map((r) => JSON.parse(r.record as string).text.match(/^PR #(\d+):/)[1]).map(Number);
    expect(numbers.sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b));
    // The squash-merge commits found in git; the other PRs carry the HEAD they were read at.
    expect(mergeShas.size).toBe(2);
    for (const r of prs) {
      const n = Number(JSON.parse(r.record as string).text.match(/^PR #(\d+):/)[1]);
      expect(r.commit_first_seen, `PR #${n}`).toBe(mergeShas.get(n) ?? repo.sha);
    }
  });

  it('makes an issue record for every issue a merged PR fixes, grounded in that PR', () => {
    const fixed = new Map<number, number>();
    for (const pr of fx.issues.filter((i) => i.pull_request?.merged_at && i.user?.type !== 'Bot'))
      for (const m of (pr.body ?? '').matchAll(/\bFixes #(\d+)/g)) if (!fixed.has(Number(m[1]))) fixed.set(Number(m[1]), pr.number);
    expect(fixed.size).toBeGreaterThan(3);
    const issuePairs = after.staging.filter((r) => r.source_kind === 'issue' && r.category === 'issue_resolution');
    for (const [issue, pr] of fixed) {
      const target = fx.issues.find((i) => i.number === issue)!;
      if (target.state_reason !== 'completed') continue;
      const pairs = issuePairs.filter((r) => r.split_group === `issue:${issue}`);
      expect(pairs.length, `issue #${issue}`).toBeGreaterThan(0);
      expect(pairs.some((p) => (p.answer as string).includes(`PR #${pr}`))).toBe(true);
    }
  });

  it('stays within 1.2 × the pagination floor of API calls, faults aside', () => {
    const closed = fx.issues.filter((i) => i.state === 'closed').length;
    const floor = Math.ceil((closed + fx.issueComments.length + fx.reviewComments.length) / 100);
    const calls = server.stats.log.filter((r) => r.route !== 'GET /rate_limit' && r.fault === null).length;
    expect(first.github.requests).toBeGreaterThanOrEqual(floor);
    expect(calls).toBeLessThanOrEqual(Math.ceil(1.2 * floor) + 3);
  });

  it('asks only conditionally and stages nothing when nothing is new', async () => {
    server.resetStats();
    const again = await qaforgeJson(args(), { env: ENV });
    const calls = server.stats.log.filter((r) => r.route !== 'GET /rate_limit');
    expect(calls).toHaveLength(3);
    expect(calls.every((r) => r.conditional && r.status === 304)).toBe(true);
    expect(again.staged).toBe(0);
    expect(again.candidates).toBe(0);
  });

  it('answers the hand-written PR and issue questions (evals/sets/github-fixture.jsonl) from the promoted corpus', async () => {
    expect((await qaforge(['--data-dir', data, 'promote'])).code).toBe(0);
    const setPath = fileURLToPath(new URL('../evals/sets/github-fixture.jsonl', import.meta.url));
    const set = loadEvalSet(setPath);
    // The set was written against this fixture: every PR and issue it names has active pairs.
    const stores = await Stores.open(data);
    try {
      for (const g of set.items.flatMap((x) => x.gold)) {
        const group = 'pr' in g ? `pr:${g.pr}` : 'issue' in g ? `issue:${g.issue}` : null;
        expect(group, JSON.stringify(g)).not.toBeNull();
        expect(await stores.count('corpus', `status = 'active' AND split_group = '${group}'`), group!).toBeGreaterThan(0);
      }
    } finally {
      stores.close();
    }
    const [fts] = await qaforgeJson(['--data-dir', data, 'eval', 'retrieval', '--set', setPath, '--mode', 'fts', '--json']);
    expect(fts).toMatchObject({ setId: 'github-fixture', mode: 'fts', questions: 12, outOfScope: { questions: 0 } });
    expect(Object.keys(fts.byKind).sort()).toEqual(['issue', 'pr']);
    // BM25 over templated, near-duplicate issues: most, not all, are found in the top 10.
    expect(fts.overall.recall_at_10.mean).toBeGreaterThanOrEqual(0.5);
  });

  it('rebuilds only what changed: a maintainer answer and a newly merged fix', async () => {
    const unresolved = fx.issues.find(
      (i) =>
        i.state === 'closed' &&
        !i.pull_request &&
        i.state_reason === 'completed' &&
        i.user?.login !== 'mira-okafor' &&
        !after.staging.some((r) => r.split_group === `issue:${i.number}`),
    )!;
    addIssueComment(fx, unresolved.number, 'This happens because the cache key ignores the dtype. Clearing the cache with `reset_cache()` before loading fixes it, and the next release keys the cache on dtype too.');
    const target = fx.issues.find((i) => i.state === 'closed' && !i.pull_request && i.state_reason === 'completed' && i.number !== unresolved.number && !after.staging.some((r) => r.split_group === `issue:${i.number}`))!;
    const { issue: pr } = addPull(fx, {
      title: 'Keep the padding side when resizing embeddings',
      body: `The resize dropped the tokenizer's padding side, so batched generation padded on the wrong side.\n\nFixes #${target.number}`,
      state: 'merged',
    });
    server.resetStats();
    const r = await qaforgeJson(args(), { env: ENV });
    const now = await rows(data, ['staging']);
    const groups = new Set(now.staging.filter((x) => x.run_id === r.runId).map((x) => x.split_group));
    expect(groups).toEqual(new Set([`issue:${unresolved.number}`, `issue:${target.number}`, `pr:${pr.number}`]));
    expect(now.staging.find((x) => x.split_group === `issue:${unresolved.number}`)!.answer).toContain('cache key ignores the dtype');
    expect(server.stats.log.filter((x) => x.route !== 'GET /rate_limit').length).toBeLessThanOrEqual(8);
  });
});

describe('failures GitHub can cause', () => {
  it('records a listing that keeps failing, keeps its cursor, and completes on the next ingest', async () => {
    const f = makeGithubFixture({ owner: 'acme', repo: 'shapes', seed: 5, issues: 30, prs: 20 });
    const s = await startGithubServer(f);
    const d = tempDir();
    try {
      const a = ['--data-dir', d, 'ingest', '--repo', repo.dir, '--sources', 'prs,issues', '--github', 'acme/shapes', '--github-api-url', s.url, '--json'];
      s.injectFault({ path: '/pulls/comments', kind: '502', times: 10 });
      const broken = await qaforgeJson(a, { env: ENV });
      expect(broken.github.listings.review_comments.failed).toBe(true);
      const r1 = await rows(d, ['github_items', 'skipped', 'state']);
      expect(r1.skipped.filter((x) => x.reason === 'api_error').map((x) => x.path)).toEqual(['github:acme/shapes/review_comments?since=']);
      expect(r1.state.find((x) => x.key === 'github:acme/shapes:cursor:review_comments')).toBeUndefined();
      expect(r1.github_items.filter((x) => x.kind === 'review_comment')).toHaveLength(0);
      // GitHub recovers: the faults left are used up by plain requests.
      while (s.pendingFaults()) await fetch(`${s.url}/repos/acme/shapes/pulls/comments`);
      await qaforgeJson(a, { env: ENV });
      const r2 = await rows(d, ['github_items']);
      expect(r2.github_items.filter((x) => x.kind !== 'link').map((x) => x.key as string).sort()).toEqual(expectedKeys(f));
    } finally {
      await s.close();
    }
  }, 120_000);

  it('without a token, says the limit is 60 an hour and waits for the reset', async () => {
    const f = makeGithubFixture({ owner: 'acme', repo: 'shapes', seed: 6, issues: 20, prs: 10 });
    const s = await startGithubServer(f, { unauthenticatedLimit: 2, resetSeconds: 2 });
    const d = tempDir();
    try {
      const r = await qaforge(['--data-dir', d, 'ingest', '--repo', repo.dir, '--sources', 'prs,issues', '--github', 'acme/shapes', '--github-api-url', s.url, '--json'], {
        env: { GITHUB_TOKEN: '', QAFORGE_GITHUB_RETRY_BASE_MS: '20', QAFORGE_LOG_LEVEL: 'warn' },
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('60 requests per hour');
      expect(r.stderr).toContain('rate limit reached');
      expect(s.stats.byStatus[403]).toBeGreaterThan(0);
      const got = await rows(d, ['github_items']);
      expect(got.github_items.filter((x) => x.kind !== 'link').map((x) => x.key as string).sort()).toEqual(expectedKeys(f));
    } finally {
      await s.close();
    }
  }, 120_000);

  it.each(['github.issue_comments.page-stored', 'github.fetched', 'github.before-built'])('loses and duplicates nothing when killed at %s', async (fp) => {
    const f = makeGithubFixture({ owner: 'acme', repo: 'shapes', seed: 8, issues: 60, prs: 30 });
    const s = await startGithubServer(f);
    try {
      const run = (d: string, env: NodeJS.ProcessEnv = {}) =>
        qaforge(['--data-dir', d, 'ingest', '--repo', repo.dir, '--sources', 'prs,issues', '--github', 'acme/shapes', '--github-api-url', s.url], { env: { ...ENV, ...env } });
      const d = tempDir();
      const crashed = await run(d, { QAFORGE_FAILPOINT: fp });
      expect(crashed.stderr).toContain(`failpoint ${fp}`);
      expect((await run(d)).code).toBe(0);
      const ref = tempDir();
      expect((await run(ref)).code).toBe(0);
      const [got, want] = [await rows(d, ['github_items', 'staging', 'sources']), await rows(ref, ['github_items', 'staging', 'sources'])];
      const keys = (r: Rows) => r.github_items.map((x) => x.key as string).sort();
      expect(keys(got)).toEqual(keys(want));
      expect(got.staging.map((x) => x.id).sort()).toEqual(want.staging.map((x) => x.id).sort());
      expect(got.sources.map((x) => x.id).sort()).toEqual(want.sources.map((x) => x.id).sort());
    } finally {
      await s.close();
    }
  }, 120_000);
});
