// The GitHub test server over real HTTP: pagination, since/sort, ETags, rate limits, faults, and the
// real Octokit client (with the throttling and retry plugins) against it.
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addIssue,
  addIssueComment,
  addPull,
  addReviewComment,
  closeIssue,
  editComment,
  makeGithubFixture,
  nextTimestamp,
  type GhIssue,
  type GithubFixture,
} from './fixture.js';
import { BAD_GATEWAY_HTML, NOT_FOUND, SECONDARY_LIMIT, startGithubServer, type GithubServer } from './server.js';

const REPO = '/repos/huggingface/transformers';
const AUTH = { authorization: 'token test-token' };
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const t = (iso: string | null | undefined) => Date.parse(iso ?? '');

async function get(server: GithubServer, path: string, headers: Record<string, string> = AUTH) {
  const res = await fetch(server.url + path, { headers });
  const text = await res.text();
  return { res, status: res.status, text, h: (name: string) => res.headers.get(name), json: () => JSON.parse(text) };
}

function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(', ').filter(Boolean)) {
    const m = part.match(/^<([^>]+)>; rel="(\w+)"$/);
    if (!m) throw new Error(`bad Link part: ${part}`);
    out[m[2]!] = m[1]!;
  }
  return out;
}

/** Follow rel="next" from `path`; every item of every page, and the number of requests. */
async function collect<T>(server: GithubServer, path: string): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let url: string | undefined = server.url + path;
  let pages = 0;
  while (url) {
    const res: Response = await fetch(url, { headers: AUTH });
    expect(res.status).toBe(200);
    items.push(...((await res.json()) as T[]));
    pages += 1;
    url = links(res.headers.get('link')).next;
  }
  return { items, pages };
}

const byKeyThenId = <T extends { id: number }>(xs: T[], key: (x: T) => number, dir: 1 | -1) =>
  [...xs].sort((a, b) => dir * (key(a) - key(b) || a.id - b.id));
const numberOf = (url: string) => Number(url.split('/').pop());

const OPTS = { seed: 7, issues: 150, openIssues: 20, prs: 100, mergedShare: 0.8, fixesShare: 0.3 };
let fx: GithubFixture;
let server: GithubServer;

beforeAll(async () => {
  fx = makeGithubFixture(OPTS);
  server = await startGithubServer(fx);
});
afterAll(async () => {
  await server.close();
});

describe('fixture', () => {
  it('numbers issues and PRs in one sequence, with the requested mix of states', () => {
    expect(fx.owner).toBe('huggingface');
    expect(fx.repo).toBe('transformers');
    expect(fx.issues.map((i) => i.number)).toEqual(Array.from({ length: 270 }, (_, i) => i + 1));
    const prItems = fx.issues.filter((i) => i.pull_request);
    expect(prItems.map((i) => i.number)).toEqual(fx.pulls.map((p) => p.number));
    expect(fx.pulls).toHaveLength(100);
    expect(fx.pulls.filter((p) => p.merged_at !== null && p.merged)).toHaveLength(80);
    expect(fx.pulls.every((p) => p.state === 'closed' && p.closed_at !== null)).toBe(true);
    const plain = fx.issues.filter((i) => !i.pull_request);
    expect(plain.filter((i) => i.state === 'closed')).toHaveLength(150);
    expect(plain.filter((i) => i.state === 'open' && i.closed_at === null && i.state_reason === null)).toHaveLength(20);
    expect(new Set(plain.filter((i) => i.state === 'closed').map((i) => i.state_reason))).toEqual(new Set(['completed', 'not_planned']));
    for (const p of fx.pulls) {
      const issue = fx.issues.find((i) => i.number === p.number)!;
      expect(issue.pull_request!.merged_at).toBe(p.merged_at);
      expect(issue.html_url).toBe(`https://github.com/huggingface/transformers/pull/${p.number}`);
      expect(issue.updated_at).toBe(p.updated_at);
      expect(p.merge_commit_sha).toMatch(/^[0-9a-f]{40}$/);
      expect(p.head.sha).toMatch(/^[0-9a-f]{40}$/);
    }
    expect(plain[0]!.html_url).toBe(`https://github.com/huggingface/transformers/issues/${plain[0]!.number}`);
    expect(plain[0]!.url).toBe(`https://api.github.com/repos/huggingface/transformers/issues/${plain[0]!.number}`);
    // Round(80 × 0.3) merged PRs say "Fixes #n" for a closed issue opened before them.
    const fixes = fx.pulls.filter((p) => /\bFixes #\d+/.test(p.body ?? ''));
    expect(fixes).toHaveLength(24);
    for (const p of fixes) {
      const target = fx.issues.find((i) => i.number === Number(p.body!.match(/Fixes #(\d+)/)![1]))!;
      expect([p.merged, target.pull_request, target.state, target.number < p.number]).toEqual([true, undefined, 'closed', true]);
    }
  });

  it('keeps counts, timestamps and ids consistent the way GitHub does', () => {
    const ts = [
      ...fx.issues.flatMap((i) => [i.created_at, i.updated_at, ...(i.closed_at ? [i.closed_at] : [])]),
      ...fx.issueComments.flatMap((c) => [c.created_at, c.updated_at]),
      ...fx.reviewComments.flatMap((c) => [c.created_at, c.updated_at]),
    ];
    expect(ts.every((s) => ISO.test(s))).toBe(true);
    const group = <T>(xs: T[], key: (x: T) => number) => {
      const m = new Map<number, T[]>();
      for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
      return m;
    };
    const commentsOf = group(fx.issueComments, (c) => numberOf(c.issue_url));
    const reviewsOf = group(fx.reviewComments, (c) => numberOf(c.pull_request_url));
    // Collect violations and compare once: thousands of expect() calls would dominate the run time.
    const bad: string[] = [];
    for (const issue of fx.issues) {
      const comments = commentsOf.get(issue.number) ?? [];
      const reviews = reviewsOf.get(issue.number) ?? [];
      const [lo, hi, maxReviews] = issue.pull_request ? [0, 4, 5] : [3, 10, 0];
      if (comments.length !== issue.comments) bad.push(`#${issue.number} comments ${issue.comments} ≠ ${comments.length}`);
      if (issue.comments < lo || issue.comments > hi || reviews.length > maxReviews) bad.push(`#${issue.number} counts out of range`);
      const latest = Math.max(t(issue.created_at), t(issue.closed_at) || 0, ...[...comments, ...reviews].map((c) => t(c.updated_at)));
      if (t(issue.updated_at) !== latest) bad.push(`#${issue.number} updated_at is not its latest activity`);
      for (const c of comments) {
        if (c.html_url !== `${issue.html_url}#issuecomment-${c.id}`) bad.push(c.html_url);
        if (t(c.created_at) <= t(issue.created_at)) bad.push(`comment ${c.id} before its issue`);
      }
      const pull = fx.pulls.find((p) => p.number === issue.number);
      if (pull && pull.review_comments !== reviews.length) bad.push(`#${issue.number} review_comments`);
    }
    const byId = new Map(fx.reviewComments.map((r) => [r.id, r]));
    for (const r of fx.reviewComments) {
      if (r.html_url !== `https://github.com/huggingface/transformers/pull/${numberOf(r.pull_request_url)}#discussion_r${r.id}`) bad.push(r.html_url);
      if (r.in_reply_to_id === undefined) continue;
      const parent = byId.get(r.in_reply_to_id);
      if (!parent || parent.pull_request_url !== r.pull_request_url || parent.path !== r.path || parent.line !== r.line || parent.id > r.id) bad.push(`reply ${r.id}`);
    }
    expect(bad).toEqual([]);
    // Comment ids grow with creation time; all ids are unique.
    const sorted = [...fx.issueComments].sort((a, b) => t(a.created_at) - t(b.created_at) || a.id - b.id);
    expect(sorted.map((c) => c.id)).toEqual(fx.issueComments.map((c) => c.id));
    expect(new Set(fx.issueComments.map((c) => c.id)).size).toBe(fx.issueComments.length);
    expect(new Set(fx.reviewComments.map((c) => c.id)).size).toBe(fx.reviewComments.length);
    expect(new Set(fx.issues.map((i) => i.id)).size).toBe(270);
    expect(fx.reviewComments.some((r) => r.in_reply_to_id !== undefined)).toBe(true);
  });

  it('looks like transformers activity: null and code bodies, bots, and maintainers answering last', () => {
    const plain = fx.issues.filter((i) => !i.pull_request);
    expect(plain.some((i) => i.body === null)).toBe(true);
    expect(plain.some((i) => i.body?.includes('```python\n'))).toBe(true);
    expect(new Set(fx.issues.map((i) => i.title)).size).toBeGreaterThan(150);
    const last = (i: GhIssue) => fx.issueComments.filter((c) => numberOf(c.issue_url) === i.number).at(-1);
    const answered = plain.filter((i) => i.state_reason === 'completed' && last(i)?.author_association === 'MEMBER');
    expect(answered.length).toBeGreaterThan(50);
    expect(plain.some((i) => last(i)?.user.login === 'github-actions[bot]' && last(i)?.user.type === 'Bot')).toBe(true);
    expect(fx.pulls.some((p) => p.user.login === 'dependabot[bot]')).toBe(true);
    expect(new Set(fx.issueComments.map((c) => c.author_association))).toEqual(new Set(['MEMBER', 'CONTRIBUTOR', 'NONE', 'COLLABORATOR', 'FIRST_TIME_CONTRIBUTOR']));
  });

  it('is deterministic per seed', () => {
    const again = makeGithubFixture(OPTS);
    expect(again.issues.map((i) => [i.id, i.title, i.updated_at])).toEqual(fx.issues.map((i) => [i.id, i.title, i.updated_at]));
    expect(JSON.stringify(again)).toBe(JSON.stringify(fx));
    const other = makeGithubFixture({ ...OPTS, seed: 8 });
    expect(other.issues.map((i) => i.title)).not.toEqual(fx.issues.map((i) => i.title));
  });
});

describe('listing', () => {
  it('pages 250 closed items at per_page=100 with exact rel links, each item once', async () => {
    const q = `${server.url}${REPO}/issues?state=closed&per_page=100`;
    const p1 = await get(server, `${REPO}/issues?state=closed&per_page=100`);
    expect(p1.status).toBe(200);
    expect(p1.h('content-type')).toBe('application/json; charset=utf-8');
    expect(p1.h('link')).toBe(`<${q}&page=2>; rel="next", <${q}&page=3>; rel="last"`);
    const p2 = await get(server, `${REPO}/issues?state=closed&per_page=100&page=2`);
    expect(p2.h('link')).toBe(`<${q}&page=1>; rel="prev", <${q}&page=3>; rel="next", <${q}&page=3>; rel="last", <${q}&page=1>; rel="first"`);
    const p3 = await get(server, `${REPO}/issues?state=closed&per_page=100&page=3`);
    expect(p3.h('link')).toBe(`<${q}&page=2>; rel="prev", <${q}&page=1>; rel="first"`);
    const pages = [p1.json(), p2.json(), p3.json()] as GhIssue[][];
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    const all = pages.flat();
    const expected = byKeyThenId(fx.issues.filter((i) => i.state === 'closed'), (i) => t(i.created_at), -1);
    expect(all.map((i) => i.number)).toEqual(expected.map((i) => i.number));
    expect(new Set(all.map((i) => i.number)).size).toBe(250);
    expect(all.filter((i) => i.pull_request)).toHaveLength(100);
    // Served as stored.
    expect(all[0]).toEqual(expected[0]);

    const past = await get(server, `${REPO}/issues?state=closed&per_page=100&page=4`);
    expect([past.status, past.text]).toEqual([200, '[]']);
    // Over-large per_page is capped at 100; a single page has no Link header.
    expect(links((await get(server, `${REPO}/issues?state=closed&per_page=500`)).h('link')).last).toContain('page=3');
    const open = await get(server, `${REPO}/issues`);
    expect([open.json().length, open.h('link')]).toEqual([20, null]);
  });

  it('filters by since (updated_at ≥ since) and rejects a bad since', async () => {
    const ups = fx.issues.map((i) => i.updated_at).sort();
    const since = ups[Math.floor(ups.length / 2)]!;
    const expected = fx.issues.filter((i) => t(i.updated_at) >= t(since));
    const { items, pages } = await collect<GhIssue>(server, `${REPO}/issues?state=all&since=${since}&per_page=50`);
    expect(items.map((i) => i.number).sort((a, b) => a - b)).toEqual(expected.map((i) => i.number));
    expect(items.some((i) => i.updated_at === since)).toBe(true);
    expect(pages).toBe(Math.ceil(expected.length / 50));
    const cs = fx.issueComments.filter((c) => t(c.updated_at) >= t(since));
    const got = await collect<{ id: number }>(server, `${REPO}/issues/comments?since=${since}&per_page=100`);
    expect(got.items.map((c) => c.id)).toEqual(cs.map((c) => c.id));
    const bad = await get(server, `${REPO}/issues?since=yesterday`);
    expect([bad.status, bad.json().message]).toEqual([422, 'Validation Failed']);
  });

  it('orders by sort and direction, ties by id', async () => {
    const all = (await collect<GhIssue>(server, `${REPO}/issues?state=all&sort=updated&direction=asc&per_page=100`)).items;
    expect(all.map((i) => i.number)).toEqual(byKeyThenId(fx.issues, (i) => t(i.updated_at), 1).map((i) => i.number));
    const byComments = (await collect<GhIssue>(server, `${REPO}/issues?state=all&sort=comments&per_page=100`)).items;
    expect(byComments.map((i) => i.id)).toEqual(byKeyThenId(fx.issues, (i) => i.comments, -1).map((i) => i.id));
    expect(new Set(fx.issues.map((i) => i.comments)).size).toBeLessThan(20); // many ties to break

    // Repo-wide comments: ascending by default; direction is ignored without sort, as on GitHub.
    const asc = byKeyThenId(fx.issueComments, (c) => t(c.created_at), 1).map((c) => c.id);
    expect((await collect<{ id: number }>(server, `${REPO}/issues/comments?per_page=100`)).items.map((c) => c.id)).toEqual(asc);
    expect((await get(server, `${REPO}/issues/comments?direction=desc&per_page=5`)).json().map((c: { id: number }) => c.id)).toEqual(asc.slice(0, 5));
    const upd = (await get(server, `${REPO}/issues/comments?sort=updated&direction=desc&per_page=7`)).json();
    expect(upd.map((c: { id: number }) => c.id)).toEqual(byKeyThenId(fx.issueComments, (c) => t(c.updated_at), -1).slice(0, 7).map((c) => c.id));
    const reviews = await collect<{ id: number }>(server, `${REPO}/pulls/comments?per_page=100`);
    expect(reviews.items.map((c) => c.id)).toEqual(byKeyThenId(fx.reviewComments, (c) => t(c.created_at), 1).map((c) => c.id));
    expect(reviews.pages).toBe(Math.ceil(fx.reviewComments.length / 100));
  });

  it('serves one thread, pulls and single PRs', async () => {
    const issue = fx.issues.find((i) => !i.pull_request && i.comments >= 6)!;
    const thread = await get(server, `${REPO}/issues/${issue.number}/comments?per_page=4`);
    expect(thread.json().map((c: { id: number }) => c.id)).toEqual(fx.issueComments.filter((c) => numberOf(c.issue_url) === issue.number).slice(0, 4).map((c) => c.id));
    expect(links(thread.h('link')).next).toBe(`${server.url}${REPO}/issues/${issue.number}/comments?per_page=4&page=2`);
    expect((await get(server, `${REPO}/issues/99999/comments`)).status).toBe(404);

    const pulls = await collect<Record<string, unknown>>(server, `${REPO}/pulls?state=closed&per_page=100`);
    expect(pulls.items.map((p) => p.number)).toEqual(byKeyThenId(fx.pulls, (p) => t(p.created_at), -1).map((p) => p.number));
    expect('merged' in pulls.items[0]! || 'review_comments' in pulls.items[0]!).toBe(false);
    expect((await get(server, `${REPO}/pulls`)).text).toBe('[]'); // no open PRs
    const pr = fx.pulls.find((p) => p.review_comments > 1)!;
    expect((await get(server, `${REPO}/pulls/${pr.number}`)).json()).toEqual(pr);
    const prComments = (await get(server, `${REPO}/pulls/${pr.number}/comments`)).json();
    expect(prComments.map((c: { id: number }) => c.id)).toEqual(fx.reviewComments.filter((c) => numberOf(c.pull_request_url) === pr.number).map((c) => c.id));
    expect((await get(server, `${REPO}/pulls/${issue.number}`)).status).toBe(404);
  });

  it('answers 404 for an unknown repository, and matches names case-insensitively', async () => {
    const r = await get(server, '/repos/huggingface/nope/issues');
    expect([r.status, r.json(), r.h('content-type')]).toEqual([404, NOT_FOUND, 'application/json; charset=utf-8']);
    expect(r.text).toBe('{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}');
    expect((await get(server, '/repos/HuggingFace/Transformers/issues?per_page=1')).status).toBe(200);
    expect((await get(server, '/repos/huggingface/transformers/wiki')).status).toBe(404);
  });
});

describe('conditional requests', () => {
  it('answers 304 to a matching If-None-Match, free only when authenticated', async () => {
    const path = `${REPO}/issues?state=closed&per_page=10`;
    const first = await get(server, path);
    const etag = first.h('etag')!;
    expect(etag).toMatch(/^W\/"[0-9a-f]{64}"$/);
    const before = Number(first.h('x-ratelimit-remaining'));
    const hit = await get(server, path, { ...AUTH, 'if-none-match': etag });
    expect([hit.status, hit.text, hit.h('etag'), Number(hit.h('x-ratelimit-remaining'))]).toEqual([304, '', etag, before]);
    const miss = await get(server, path, { ...AUTH, 'if-none-match': 'W/"0000"' });
    expect([miss.status, Number(miss.h('x-ratelimit-remaining'))]).toEqual([200, before - 1]);

    const anon = await get(server, path, {});
    expect(anon.h('etag')).toBe(etag);
    const anonBefore = Number(anon.h('x-ratelimit-remaining'));
    const anonHit = await get(server, path, { 'if-none-match': etag });
    expect([anonHit.status, Number(anonHit.h('x-ratelimit-remaining')), anonHit.h('x-ratelimit-limit')]).toEqual([304, anonBefore - 1, '60']);
    expect(server.stats.log.at(-1)).toMatchObject({ status: 304, conditional: true, authenticated: false, route: 'GET /issues' });
  });
});

// These two wait for real resets on their own servers: run them side by side.
describe.concurrent('limits and faults', () => {
  it('refuses at the limit with 403 per credential, and refills after the reset', async ({ expect }) => {
    // A 2 s window: short enough to wait out, long enough not to roll over mid-test on a busy machine.
    const s = await startGithubServer(fx, { unauthenticatedLimit: 3, authenticatedLimit: 2, resetSeconds: 2 });
    try {
      const path = `${REPO}/issues?per_page=1`;
      const seen = [];
      for (let i = 0; i < 3; i++) {
        const r = await get(s, path, {});
        seen.push([r.status, r.h('x-ratelimit-remaining'), r.h('x-ratelimit-used')]);
      }
      expect(seen).toEqual([[200, '2', '1'], [200, '1', '2'], [200, '0', '3']]);
      const over = await get(s, path, {});
      expect([over.status, over.h('x-ratelimit-remaining'), over.h('x-ratelimit-resource')]).toEqual([403, '0', 'core']);
      expect(over.json()).toEqual({
        message: "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
        documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
      });
      const reset = Number(over.h('x-ratelimit-reset'));
      expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
      expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 2);
      // /rate_limit is free and reports the bucket.
      const rl = await get(s, '/rate_limit', {});
      expect([rl.status, rl.json().rate]).toEqual([200, { limit: 3, used: 3, remaining: 0, reset, resource: 'core' }]);
      // The token has its own bucket.
      expect((await get(s, path)).h('x-ratelimit-remaining')).toBe('1');
      await get(s, path);
      const authOver = await get(s, path);
      expect([authOver.status, authOver.json().message]).toEqual([403, 'API rate limit exceeded for user ID 1.']);

      await sleep(reset * 1000 - Date.now() + 50);
      const again = await get(s, path, {});
      expect([again.status, again.h('x-ratelimit-remaining')]).toEqual([200, '2']);
      expect(s.stats.byStatus).toEqual({ 200: 7, 403: 2 });
      expect(s.stats.byRoute).toEqual({ 'GET /issues': 8, 'GET /rate_limit': 1 });
    } finally {
      await s.close();
    }
  });

  it('injects each fault kind once, in FIFO order among matching requests', async ({ expect }) => {
    const s = await startGithubServer(fx, { resetSeconds: 60 });
    try {
      const path = `${REPO}/issues?state=closed&per_page=20`;
      const ok = await get(s, path);
      const full = ok.text;
      let remaining = Number(ok.h('x-ratelimit-remaining'));

      s.injectFault({ path: '/issues/comments', kind: 'secondary', retryAfter: 7 });
      s.injectFault({ kind: '429', retryAfter: 2 });
      // The secondary fault waits for its path; the 429 takes the next request.
      const tooMany = await get(s, path);
      expect([tooMany.status, tooMany.h('retry-after'), tooMany.json()]).toEqual([429, '2', SECONDARY_LIMIT]);
      expect(Number(tooMany.h('x-ratelimit-remaining'))).toBe(--remaining);
      expect(s.pendingFaults()).toBe(1);
      const secondary = await get(s, `${REPO}/issues/comments?per_page=1`);
      expect([secondary.status, secondary.h('retry-after'), secondary.json()]).toEqual([403, '7', SECONDARY_LIMIT]);
      expect(Number(secondary.h('x-ratelimit-remaining'))).toBe(--remaining);
      expect((await get(s, `${REPO}/issues/comments?per_page=1`)).status).toBe(200);
      remaining--;

      s.injectFault({ path: /state=closed/, kind: '502', times: 2 });
      for (let i = 0; i < 2; i++) {
        const bad = await get(s, path);
        expect([bad.status, bad.h('content-type'), bad.text]).toEqual([502, 'text/html; charset=utf-8', BAD_GATEWAY_HTML]);
        expect(Number(bad.h('x-ratelimit-remaining'))).toBe(remaining); // not counted
      }

      s.injectFault({ kind: 'truncated' });
      const cut = await get(s, path);
      expect([cut.status, cut.h('content-type'), cut.h('etag'), cut.text]).toEqual([200, 'application/json; charset=utf-8', null, full.slice(0, Math.floor(full.length / 2))]);
      expect(() => cut.json()).toThrow(SyntaxError);

      s.injectFault({ kind: 'malformed' });
      const odd = await get(s, path);
      expect(odd.status).toBe(200);
      expect(odd.json()).toEqual({ total_count: 20, incomplete_results: false, items: JSON.parse(full) });

      s.injectFault({ kind: 'primary', retryAfter: 1 });
      const primary = await get(s, path);
      expect([primary.status, primary.h('x-ratelimit-remaining'), primary.json().message]).toEqual([403, '0', 'API rate limit exceeded for user ID 1.']);
      const reset = Number(primary.h('x-ratelimit-reset'));
      expect(reset - Date.now() / 1000).toBeLessThanOrEqual(2);
      expect((await get(s, path)).status).toBe(403); // the bucket really is empty
      await sleep(reset * 1000 - Date.now() + 50);
      const back = await get(s, path);
      expect([back.status, back.text]).toEqual([200, full]);

      expect(s.pendingFaults()).toBe(0);
      expect(s.stats.log.map((e) => [e.status, e.fault])).toEqual([
        [200, null], [429, '429'], [403, 'secondary'], [200, null], [502, '502'], [502, '502'],
        [200, 'truncated'], [200, 'malformed'], [403, 'primary'], [403, null], [200, null],
      ]);
      expect(s.stats.byStatus).toEqual({ 200: 5, 403: 3, 429: 1, 502: 2 });
      s.resetStats();
      expect([s.stats.requests, s.stats.log.length, s.stats.byRoute]).toEqual([0, 0, {}]);
    } finally {
      await s.close();
    }
  });
});

describe('Octokit', () => {
  it('paginates every closed issue and PR with the real client', async () => {
    server.resetStats();
    const octokit = new Octokit({ baseUrl: server.url, auth: 'test-token', log: silent });
    const items = await octokit.paginate('GET /repos/{owner}/{repo}/issues', { owner: 'huggingface', repo: 'transformers', state: 'closed', per_page: 100 });
    expect(items).toHaveLength(250);
    expect(new Set(items.map((i) => i.number)).size).toBe(250);
    expect(server.stats.log.map((e) => [e.route, e.status, e.authenticated])).toEqual([
      ['GET /issues', 200, true], ['GET /issues', 200, true], ['GET /issues', 200, true],
    ]);
  });

  it('recovers through the throttling and retry plugins from a secondary limit and a 502', async () => {
    const s = await startGithubServer(fx);
    try {
      const secondary: number[] = [];
      const Client = Octokit.plugin(throttling, retry);
      const octokit = new Client({
        baseUrl: s.url,
        auth: 'test-token',
        log: silent,
        // Scaled-down waits: the plugins multiply retry-after seconds by these milliseconds.
        throttle: { retryAfterBaseValue: 20, onRateLimit: () => true, onSecondaryRateLimit: (after: number) => (secondary.push(after), true) },
        retry: { retryAfterBaseValue: 5 },
      });
      s.injectFault({ path: 'page=2', kind: 'secondary', retryAfter: 3 });
      s.injectFault({ path: 'page=3', kind: '502' });
      const comments = await octokit.paginate('GET /repos/{owner}/{repo}/pulls/comments', { owner: 'huggingface', repo: 'transformers', per_page: 100 });
      expect(comments.map((c) => c.id)).toEqual(fx.reviewComments.map((c) => c.id));
      expect(secondary).toEqual([3]);
      expect(s.stats.log.map((e) => [e.status, e.fault])).toEqual([
        [200, null], [403, 'secondary'], [200, null], [502, '502'], [200, null], ...Array(Math.ceil(fx.reviewComments.length / 100) - 3).fill([200, null]),
      ]);
    } finally {
      await s.close();
    }
  });
});

describe('simulated activity', () => {
  it('mutators bump updated_at, counts and ETags, and the server serves the change at once', async () => {
    const small = makeGithubFixture({ seed: 3, issues: 10, openIssues: 3, prs: 5 });
    const s = await startGithubServer(small);
    try {
      const open = small.issues.find((i) => i.state === 'open')!;
      const pr = small.pulls[0]!;
      const before = await get(s, `${REPO}/issues?state=all&per_page=100`);
      const stamp = nextTimestamp(small);
      expect(stamp).toMatch(ISO);

      const c = addIssueComment(small, open.number, 'Fixed on main, please try `pip install -U transformers`.', undefined, 'mira-okafor');
      expect([c.created_at, c.updated_at, open.updated_at, open.comments]).toEqual([stamp, stamp, stamp, 1 + Number(before.json().find((i: GhIssue) => i.number === open.number).comments)]);
      expect([c.user.login, c.author_association]).toEqual(['mira-okafor', 'MEMBER']);
      const after = await get(s, `${REPO}/issues?state=all&per_page=100`, { ...AUTH, 'if-none-match': before.h('etag')! });
      expect(after.status).toBe(200);
      expect(after.h('etag')).not.toBe(before.h('etag'));
      const changed = await get(s, `${REPO}/issues?state=all&since=${stamp}`);
      expect(changed.json().map((i: GhIssue) => i.number)).toEqual([open.number]);
      expect((await get(s, `${REPO}/issues/comments?since=${stamp}`)).json()).toEqual([c]);

      const r = addReviewComment(small, pr.number, 'Could this use `torch.finfo(dtype).min`?');
      expect(t(r.updated_at)).toBeGreaterThan(t(stamp));
      expect([pr.updated_at, small.issues.find((i) => i.number === pr.number)!.updated_at]).toEqual([r.updated_at, r.updated_at]);
      expect((await get(s, `${REPO}/pulls/comments?since=${r.updated_at}`)).json()).toEqual([r]);
      const reply = addReviewComment(small, pr.number, 'Done.', undefined, { inReplyTo: r.id, login: pr.user.login });
      expect([reply.in_reply_to_id, reply.path, reply.line]).toEqual([r.id, r.path, r.line]);

      const edited = editComment(small, c.id, 'Fixed by #999.');
      expect(t(edited.updated_at)).toBeGreaterThan(t(reply.updated_at));
      expect([edited.created_at, open.updated_at]).toEqual([stamp, edited.updated_at]);
      closeIssue(small, open.number, 'completed');
      expect([open.state, open.state_reason, t(open.closed_at)]).toEqual(['closed', 'completed', t(open.updated_at)]);

      const fresh = addIssue(small, { title: 'Tokenizer crashes on empty input', body: '```python\ntok("")\n```', labels: ['bug'] });
      expect(fresh.number).toBe(19);
      const list = (await get(s, `${REPO}/issues?per_page=1`)).json();
      expect([list[0].number, list[0].state, list[0].labels[0].name, list[0].comments]).toEqual([19, 'open', 'bug', 0]);
      const { pull } = addPull(small, { title: 'Fix tokenizer crash on empty input', body: `Fixes #${fresh.number}` });
      expect(pull.number).toBe(20);
      const served = (await get(s, `${REPO}/pulls/20`)).json();
      expect([served.merged, served.merged_at, served.body]).toEqual([true, pull.merged_at, 'Fixes #19']);
      expect((await get(s, `${REPO}/pulls?state=closed&per_page=1`)).json()[0].number).toBe(20);
      expect(() => addReviewComment(small, open.number, 'x')).toThrow(/is an issue, not a pull request/);
    } finally {
      await s.close();
    }
  });
});
