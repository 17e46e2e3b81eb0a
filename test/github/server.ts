// A GitHub-shaped REST server on 127.0.0.1 for the tests and the benchmark: serves a fixture with
// GitHub's pagination (Link header), conditional requests (ETag / 304), primary rate limits per
// credential, and injected faults (secondary limits, 429, 502, truncated or wrongly shaped bodies).
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { PULL_DETAIL_KEYS, type GhIssue, type GhIssueComment, type GhPull, type GhReviewComment, type GithubFixture } from './fixture.js';

export type FaultKind = 'secondary' | '429' | 'primary' | '502' | 'truncated' | 'malformed';

export interface FaultSpec {
  /** Matched against path + query; a string matches as a substring. Absent: any request. */
  path?: RegExp | string;
  kind: FaultKind;
  times?: number;
  /** Seconds: the retry-after header, or how long a 'primary' fault exhausts the bucket. */
  retryAfter?: number;
}

export interface GithubServerOptions {
  unauthenticatedLimit?: number;
  authenticatedLimit?: number;
  resetSeconds?: number;
}

export interface RequestLogEntry {
  method: string;
  url: string;
  /** e.g. 'GET /issues', 'GET /pulls/:number', 'GET /rate_limit'; 'unmatched' for unknown paths. */
  route: string;
  status: number;
  conditional: boolean;
  authenticated: boolean;
  fault: FaultKind | null;
  /** Date.now() when the response was sent. */
  at: number;
}

export interface GithubServerStats {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<number, number>;
  notModified: number;
  log: RequestLogEntry[];
}

export interface GithubServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:PORT: Octokit's baseUrl. */
  url: string;
  fixture: GithubFixture;
  /** Mutated in place: a reference taken before resetStats() stays live. */
  stats: GithubServerStats;
  injectFault(fault: FaultSpec): void;
  /** Faults injected and not yet consumed (counting `times`). */
  pendingFaults(): number;
  resetStats(): void;
  /** Refill every rate-limit bucket. */
  resetRateLimits(): void;
  close(): Promise<void>;
}

export const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' };
export const SECONDARY_LIMIT = {
  message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
  documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
};
const RATE_DOCS = 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting';
export function primaryLimitBody(who: { ip: string } | { userId: number }) {
  return {
    message:
      'userId' in who
        ? `API rate limit exceeded for user ID ${who.userId}.`
        : `API rate limit exceeded for ${who.ip}. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)`,
    documentation_url: RATE_DOCS,
  };
}
export const BAD_GATEWAY_HTML = '<html><body><h1>502 Bad Gateway</h1></body></html>';

const JSON_TYPE = 'application/json; charset=utf-8';

type Result = { status: 200; body: unknown; link?: string } | { status: 404 | 422; body: unknown };
interface Bucket {
  limit: number;
  used: number;
  resetAt: number; // ms
}
interface Ctx {
  url: URL;
  params: Record<string, string>;
  bucket: Bucket;
}

const notFound = (): Result => ({ status: 404, body: NOT_FOUND });
const invalid = (field: string, docs: string): Result => ({
  status: 422,
  body: { message: 'Validation Failed', errors: [{ resource: 'Issue', field, code: 'invalid' }], documentation_url: docs },
});

// Weak ETags are compared by their opaque part; `*` matches anything.
function etagMatches(header: string, etag: string): boolean {
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
}

function parseToken(header: string | undefined): string | null {
  const m = header?.match(/^(?:token|bearer)\s+(\S+)\s*$/i);
  return m ? m[1]! : null;
}

// GitHub timestamps ('YYYY-MM-DDTHH:MM:SSZ') order as strings, which is far cheaper than parsing tens of
// thousands of them per request; any other form (say, set by hand with milliseconds) is normalized first.
function tkey(iso: string | null | undefined): string {
  if (!iso) return '';
  return iso.length === 20 && iso.endsWith('Z') ? iso : `${new Date(Date.parse(iso)).toISOString().slice(0, 19)}Z`;
}

interface SortMemo {
  items: unknown[];
  keys: (string | number)[];
  ids: number[];
  result: unknown[];
}

/**
 * Stable order by a key, ties by id in the same direction. A benchmark pages through tens of thousands
 * of items, each page re-sorting them all: the last order per `memoKey` is reused while the input
 * (same objects, keys and ids, in the same order) is unchanged, which an O(n) check proves.
 */
function ordered<T extends { id: number }>(memo: Map<string, SortMemo>, memoKey: string, items: T[], key: (x: T) => string | number, dir: 'asc' | 'desc'): T[] {
  const keys = items.map(key);
  const hit = memo.get(memoKey);
  if (hit && hit.items.length === items.length && items.every((x, i) => x === hit.items[i] && keys[i] === hit.keys[i] && x.id === hit.ids[i])) {
    return hit.result as T[];
  }
  const sign = dir === 'asc' ? 1 : -1;
  const idx = items.map((_, i) => i);
  idx.sort((a, b) => {
    const ka = keys[a]!;
    const kb = keys[b]!;
    return sign * (ka < kb ? -1 : ka > kb ? 1 : items[a]!.id - items[b]!.id);
  });
  const result = idx.map((i) => items[i]!);
  if (memo.size > 100) memo.clear();
  // A copy: `items` may be the fixture's own array, which a mutator can push to.
  memo.set(memoKey, { items: items.slice(), keys, ids: items.map((x) => x.id), result });
  return result;
}

export async function startGithubServer(fixture: GithubFixture, opts: GithubServerOptions = {}): Promise<GithubServer> {
  const unauthLimit = opts.unauthenticatedLimit ?? 60;
  const authLimit = opts.authenticatedLimit ?? 5000;
  const resetMs = (opts.resetSeconds ?? 3600) * 1000;
  const app = Fastify({ logger: false });
  let base = '';

  const stats: GithubServerStats = { requests: 0, byRoute: {}, byStatus: {}, notModified: 0, log: [] };
  const faults: (FaultSpec & { left: number })[] = [];
  const buckets = new Map<string, Bucket>();
  const userIds = new Map<string, number>();
  let requestSeq = 0;

  function bucketFor(token: string | null, ip: string): Bucket {
    const key = token ? `token:${token}` : `ip:${ip}`;
    const now = Date.now();
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { limit: token ? authLimit : unauthLimit, used: 0, resetAt: now + resetMs }));
    else if (now >= b.resetAt) {
      b.used = 0;
      b.resetAt = now + resetMs;
    }
    return b;
  }

  function takeFault(url: string): FaultSpec | null {
    const i = faults.findIndex((f) => {
      if (f.path === undefined) return true;
      if (typeof f.path === 'string') return url.includes(f.path);
      f.path.lastIndex = 0;
      return f.path.test(url);
    });
    if (i < 0) return null;
    const f = faults[i]!;
    if (--f.left <= 0) faults.splice(i, 1);
    return f;
  }

  const memo = new Map<string, SortMemo>();
  // One memo slot per listing and its filters; the page does not change the order.
  const memoKey = (url: URL) => {
    const q = new URLSearchParams(url.searchParams);
    q.delete('page');
    q.delete('per_page');
    q.sort();
    return `${url.pathname.toLowerCase()}?${q.toString()}`;
  };

  const sameRepo = (p: Record<string, string>) =>
    p.owner?.toLowerCase() === fixture.owner.toLowerCase() && p.repo?.toLowerCase() === fixture.repo.toLowerCase();

  // GitHub's Link header: prev, next, last, first; no next/last on the last page, no prev/first on page 1.
  function page<T>(items: T[], url: URL): { status: 200; body: T[]; link?: string } {
    const rawPer = Number.parseInt(url.searchParams.get('per_page') ?? '', 10);
    const per = Number.isNaN(rawPer) || rawPer < 1 ? 30 : Math.min(rawPer, 100);
    const rawPage = Number.parseInt(url.searchParams.get('page') ?? '', 10);
    const n = Number.isNaN(rawPage) || rawPage < 1 ? 1 : rawPage;
    const last = Math.max(1, Math.ceil(items.length / per));
    const body = items.slice((n - 1) * per, n * per);
    const at = (p: number) => {
      const q = new URLSearchParams(url.searchParams);
      q.set('page', String(p));
      return `<${base}${url.pathname}?${q.toString()}>`;
    };
    const links: string[] = [];
    if (n > 1) links.push(`${at(n - 1)}; rel="prev"`);
    if (n < last) links.push(`${at(n + 1)}; rel="next"`, `${at(last)}; rel="last"`);
    if (n > 1) links.push(`${at(1)}; rel="first"`);
    return links.length ? { status: 200, body, link: links.join(', ') } : { status: 200, body };
  }

  // `since` keeps items updated at or after it. Fixture times are whole seconds, so a fractional
  // `since` rounds up to the next second.
  function since<T extends { updated_at: string }>(items: T[], url: URL): T[] | null {
    const raw = url.searchParams.get('since');
    if (raw === null) return items;
    const t = Date.parse(raw);
    if (Number.isNaN(t)) return null;
    const from = tkey(new Date(Math.ceil(t / 1000) * 1000).toISOString());
    return items.filter((x) => tkey(x.updated_at) >= from);
  }

  function enumParam<T extends string>(url: URL, name: string, allowed: readonly T[], fallback: T): T | null {
    const v = url.searchParams.get(name);
    if (v === null) return fallback;
    return (allowed as readonly string[]).includes(v) ? (v as T) : null;
  }

  const issueNumber = (p: Record<string, string>) => (/^\d+$/.test(p.number ?? '') ? Number(p.number) : NaN);
  const findIssue = (p: Record<string, string>): GhIssue | undefined => fixture.issues.find((i) => i.number === issueNumber(p));
  const findPull = (p: Record<string, string>): GhPull | undefined => fixture.pulls.find((x) => x.number === issueNumber(p));
  const numberOf = (apiUrl: string) => Number(apiUrl.slice(apiUrl.lastIndexOf('/') + 1));

  // Repo-wide and per-thread comment listings: ascending by creation; `direction` is ignored without `sort`, as on GitHub.
  function commentList<T extends GhIssueComment | GhReviewComment>(all: T[], url: URL, docs: string): Result {
    const sort = enumParam(url, 'sort', ['created', 'updated'] as const, 'created');
    if (!sort) return invalid('sort', docs);
    const dir = url.searchParams.has('sort') ? enumParam(url, 'direction', ['asc', 'desc'] as const, 'asc') : 'asc';
    if (!dir) return invalid('direction', docs);
    const items = since(all, url);
    if (!items) return invalid('since', docs);
    return page(ordered(memo, memoKey(url), items, (c) => tkey(sort === 'created' ? c.created_at : c.updated_at), dir), url);
  }

  const ISSUES_DOCS = 'https://docs.github.com/rest/issues/issues#list-repository-issues';
  const PULLS_DOCS = 'https://docs.github.com/rest/pulls/pulls#list-pull-requests';
  const handlers: [string, string, (c: Ctx) => Result][] = [
    ['/repos/:owner/:repo/issues', 'GET /issues', ({ url }) => {
      const state = enumParam(url, 'state', ['open', 'closed', 'all'] as const, 'open');
      if (!state) return invalid('state', ISSUES_DOCS);
      const sort = enumParam(url, 'sort', ['created', 'updated', 'comments'] as const, 'created');
      if (!sort) return invalid('sort', ISSUES_DOCS);
      const dir = enumParam(url, 'direction', ['asc', 'desc'] as const, 'desc');
      if (!dir) return invalid('direction', ISSUES_DOCS);
      const items = since(fixture.issues.filter((i) => state === 'all' || i.state === state), url);
      if (!items) return invalid('since', ISSUES_DOCS);
      const key = sort === 'comments' ? (i: GhIssue) => i.comments : sort === 'updated' ? (i: GhIssue) => tkey(i.updated_at) : (i: GhIssue) => tkey(i.created_at);
      return page(ordered(memo, memoKey(url), items, key, dir), url);
    }],
    ['/repos/:owner/:repo/issues/comments', 'GET /issues/comments', ({ url }) =>
      commentList(fixture.issueComments, url, 'https://docs.github.com/rest/issues/comments#list-issue-comments-for-a-repository')],
    ['/repos/:owner/:repo/issues/:number', 'GET /issues/:number', ({ params }) => {
      const issue = findIssue(params);
      return issue ? { status: 200, body: issue } : notFound();
    }],
    ['/repos/:owner/:repo/issues/:number/comments', 'GET /issues/:number/comments', ({ url, params }) => {
      const issue = findIssue(params);
      if (!issue) return notFound();
      const items = since(fixture.issueComments.filter((c) => numberOf(c.issue_url) === issue.number), url);
      if (!items) return invalid('since', 'https://docs.github.com/rest/issues/comments#list-issue-comments');
      return page(ordered(memo, memoKey(url), items, (c) => tkey(c.created_at), 'asc'), url);
    }],
    ['/repos/:owner/:repo/pulls', 'GET /pulls', ({ url }) => {
      const state = enumParam(url, 'state', ['open', 'closed', 'all'] as const, 'open');
      if (!state) return invalid('state', PULLS_DOCS);
      const sort = enumParam(url, 'sort', ['created', 'updated', 'popularity', 'long-running'] as const, 'created');
      if (!sort) return invalid('sort', PULLS_DOCS);
      // GitHub: desc when sort is created or absent, otherwise asc.
      const dir = enumParam(url, 'direction', ['asc', 'desc'] as const, sort === 'created' ? 'desc' : 'asc');
      if (!dir) return invalid('direction', PULLS_DOCS);
      const key = sort === 'updated' ? (p: GhPull) => tkey(p.updated_at) : sort === 'popularity' ? (p: GhPull) => p.comments : (p: GhPull) => tkey(p.created_at);
      const items = ordered(memo, memoKey(url), fixture.pulls.filter((p) => state === 'all' || p.state === state), key, dir);
      const res = page(items, url);
      // The list carries pull-request-simple objects: no merge state or counts.
      const simple = res.body.map((p) => {
        const copy: Record<string, unknown> = { ...p };
        for (const k of PULL_DETAIL_KEYS) delete copy[k];
        return copy;
      });
      return { ...res, body: simple };
    }],
    ['/repos/:owner/:repo/pulls/comments', 'GET /pulls/comments', ({ url }) =>
      commentList(fixture.reviewComments, url, 'https://docs.github.com/rest/pulls/comments#list-review-comments-in-a-repository')],
    ['/repos/:owner/:repo/pulls/:number', 'GET /pulls/:number', ({ params }) => {
      const pull = findPull(params);
      return pull ? { status: 200, body: pull } : notFound();
    }],
    ['/repos/:owner/:repo/pulls/:number/comments', 'GET /pulls/:number/comments', ({ url, params }) => {
      const pull = findPull(params);
      if (!pull) return notFound();
      return commentList(
        fixture.reviewComments.filter((c) => numberOf(c.pull_request_url) === pull.number),
        url,
        'https://docs.github.com/rest/pulls/comments#list-review-comments-on-a-pull-request',
      );
    }],
  ];

  function rateLimitBody(b: Bucket) {
    const core = { limit: b.limit, used: b.used, remaining: Math.max(0, b.limit - b.used), reset: Math.ceil(b.resetAt / 1000), resource: 'core' };
    const other = (name: string, limit: number) => ({ limit, used: 0, remaining: limit, reset: Math.ceil((Date.now() + 3_600_000) / 1000), resource: name });
    return { resources: { core, search: other('search', 30), graphql: other('graphql', 5000) }, rate: core };
  }

  function serve(req: FastifyRequest, reply: FastifyReply, route: string, produce: ((c: Ctx) => Result) | null): FastifyReply {
    const rawUrl = req.url;
    const url = new URL(rawUrl, base);
    const params = (req.params ?? {}) as Record<string, string>;
    const token = parseToken(req.headers.authorization);
    const bucket = bucketFor(token, req.ip);
    const inm = req.headers['if-none-match'];
    const conditional = typeof inm === 'string' && inm.length > 0;
    const free = route === 'GET /rate_limit';
    const count = () => {
      if (!free) bucket.used = Math.min(bucket.limit, bucket.used + 1);
    };
    const run = (): Result => {
      if (!produce) return notFound();
      if (route !== 'GET /rate_limit' && !sameRepo(params)) return notFound();
      return produce({ url, params, bucket });
    };
    const limited = () => primaryLimitBody(token ? { userId: userIdFor(token) } : { ip: req.ip });

    const fault = takeFault(rawUrl);
    let status = 500;
    let payload: string | undefined;
    let type = JSON_TYPE;
    if (fault) {
      const after = fault.retryAfter ?? 1;
      switch (fault.kind) {
        case 'secondary':
        case '429':
          count();
          status = fault.kind === '429' ? 429 : 403;
          reply.header('retry-after', String(after));
          payload = JSON.stringify(SECONDARY_LIMIT);
          break;
        case 'primary':
          bucket.used = bucket.limit;
          bucket.resetAt = Date.now() + after * 1000;
          status = 403;
          payload = JSON.stringify(limited());
          break;
        case '502':
          status = 502;
          type = 'text/html; charset=utf-8';
          payload = BAD_GATEWAY_HTML;
          break;
        case 'truncated': {
          const r = run();
          count();
          if (r.status === 200 && r.link) reply.header('link', r.link);
          const full = JSON.stringify(r.body);
          status = 200;
          payload = full.slice(0, Math.floor(full.length / 2));
          break;
        }
        case 'malformed': {
          const r = run();
          count();
          if (r.status === 200 && r.link) reply.header('link', r.link);
          // Search-API shape where a list (or an object) is expected.
          const items = Array.isArray(r.body) ? r.body : [r.body];
          payload = JSON.stringify({ total_count: items.length, incomplete_results: false, items });
          status = 200;
          reply.header('etag', weakEtag(payload));
          break;
        }
      }
    } else if (!free && bucket.used >= bucket.limit) {
      status = 403;
      payload = JSON.stringify(limited());
    } else {
      let r: Result | null = null;
      try {
        r = run();
      } catch (err) {
        // A bug in a handler must show up in the test as a 500, not as a hung client.
        status = 500;
        payload = JSON.stringify({ message: `Server Error: ${(err as Error).message}` });
        count();
      }
      if (r?.status === 200) {
        payload = JSON.stringify(r.body);
        const etag = weakEtag(payload);
        reply.header('etag', etag);
        if (r.link) reply.header('link', r.link);
        if (conditional && etagMatches(inm, etag)) {
          // GitHub: a 304 is free only when the request is authenticated.
          status = 304;
          payload = undefined;
          if (!token) count();
        } else {
          status = 200;
          count();
        }
      } else if (r) {
        status = r.status;
        payload = JSON.stringify(r.body);
        count();
      }
    }

    reply.header('x-ratelimit-limit', String(bucket.limit));
    reply.header('x-ratelimit-remaining', String(Math.max(0, bucket.limit - bucket.used)));
    reply.header('x-ratelimit-used', String(bucket.used));
    reply.header('x-ratelimit-reset', String(Math.ceil(bucket.resetAt / 1000)));
    reply.header('x-ratelimit-resource', 'core');
    reply.header('x-github-media-type', 'github.v3; format=json');
    reply.header('x-github-request-id', `0000:${(++requestSeq).toString(16).toUpperCase().padStart(6, '0')}:127001`);

    stats.requests += 1;
    stats.byRoute[route] = (stats.byRoute[route] ?? 0) + 1;
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    if (status === 304) stats.notModified += 1;
    stats.log.push({ method: req.method, url: rawUrl, route, status, conditional, authenticated: token !== null, fault: fault?.kind ?? null, at: Date.now() });

    reply.code(status);
    if (payload === undefined) return reply.send();
    return reply.header('content-type', type).send(payload);
  }

  function userIdFor(token: string): number {
    let id = userIds.get(token);
    if (id === undefined) userIds.set(token, (id = userIds.size + 1));
    return id;
  }

  for (const [path, route, produce] of handlers) app.get(path, (req, reply) => serve(req, reply, route, produce));
  app.get('/rate_limit', (req, reply) => serve(req, reply, 'GET /rate_limit', ({ bucket }) => ({ status: 200, body: rateLimitBody(bucket) })));
  app.setNotFoundHandler((req, reply) => serve(req, reply, 'unmatched', null));

  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as AddressInfo;
  base = `http://127.0.0.1:${addr.port}`;

  return {
    url: base,
    fixture,
    stats,
    injectFault(f) {
      faults.push({ ...f, left: f.times ?? 1 });
    },
    pendingFaults: () => faults.reduce((n, f) => n + f.left, 0),
    resetStats() {
      stats.requests = 0;
      stats.notModified = 0;
      for (const k of Object.keys(stats.byRoute)) delete stats.byRoute[k];
      for (const k of Object.keys(stats.byStatus)) delete stats.byStatus[Number(k)];
      stats.log.length = 0;
    },
    resetRateLimits() {
      buckets.clear();
    },
    close: () => app.close(),
  };
}

function weakEtag(payload: string): string {
  return `W/"${createHash('sha256').update(payload).digest('hex')}"`;
}
