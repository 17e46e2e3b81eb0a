// GitHub, politely: three repo-wide listings (closed issues + PRs, issue comments, review comments),
// each sorted by update time and resumed from its own `since` cursor, paged 100 at a time and joined
// locally — about (items + comments) / 100 calls instead of one per issue. A listing with nothing
// new costs one conditional request (an authenticated 304 is free of rate limit).
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { z } from 'zod';
import type { SkipRecord } from '../datasets/schemas.js';
import type { Stores } from '../datasets/store.js';
import { commentTargetNumber, GhIssue, GhIssueComment, GhReviewComment } from '../extractors/github.js';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import { failpoint } from '../lib/failpoint.js';
import { githubEtagKey, listingCursorKey } from '../datasets/state-keys.js';

const ThrottledOctokit = Octokit.plugin(throttling, retry);
export type GithubClient = InstanceType<typeof ThrottledOctokit>;

/** How many times a rate-limited request is retried (after waiting what GitHub asks) before the listing stops. */
const RATE_LIMIT_RETRIES = 4;
/** How many times a page that is not a JSON array (a cut or garbled body) is fetched again. */
const MALFORMED_PAGE_RETRIES = 3;

export function githubClient(cfg: Config, log: Logger): GithubClient {
  const quiet = { debug: () => undefined, info: () => undefined, warn: (m: string) => log.debug(m), error: (m: string) => log.debug(m) };
  return new ThrottledOctokit({
    baseUrl: cfg.githubApiUrl.replace(/\/+$/, ''),
    ...(cfg.githubToken ? { auth: cfg.githubToken } : {}),
    userAgent: 'qaforge',
    log: quiet,
    retry: { retryAfterBaseValue: cfg.githubRetryBaseMs },
    throttle: {
      onRateLimit: (retryAfter, options, _o, retryCount) => {
        log.warn({ url: (options as { url?: string }).url, retryAfter, retryCount }, `GitHub rate limit reached: waiting ${retryAfter} s for the reset`);
        return retryCount < RATE_LIMIT_RETRIES;
      },
      onSecondaryRateLimit: (retryAfter, options, _o, retryCount) => {
        log.warn({ url: (options as { url?: string }).url, retryAfter, retryCount }, `GitHub secondary rate limit: waiting ${retryAfter} s`);
        return retryCount < RATE_LIMIT_RETRIES;
      },
    },
  });
}

export type ListingName = 'issues' | 'issue_comments' | 'review_comments';

interface ListingSpec {
  name: ListingName;
  route: string;
  params: Record<string, string>;
  schema: z.ZodType<{ id: number; updated_at: string }>;
  /** The issue/PR number an item belongs to. */
  numberOf(item: Record<string, unknown>): number | null;
}

export const LISTINGS: ListingSpec[] = [
  {
    name: 'issues',
    route: 'GET /repos/{owner}/{repo}/issues',
    params: { state: 'closed' },
    schema: GhIssue as unknown as ListingSpec['schema'],
    numberOf: (i) => (typeof i.number === 'number' ? i.number : null),
  },
  {
    name: 'issue_comments',
    route: 'GET /repos/{owner}/{repo}/issues/comments',
    params: {},
    schema: GhIssueComment as unknown as ListingSpec['schema'],
    numberOf: (c) => commentTargetNumber(c as { issue_url?: string }),
  },
  {
    name: 'review_comments',
    route: 'GET /repos/{owner}/{repo}/pulls/comments',
    params: {},
    schema: GhReviewComment as unknown as ListingSpec['schema'],
    numberOf: (c) => commentTargetNumber(c as { pull_request_url?: string }),
  },
];

const ITEM_KIND: Record<ListingName, string> = { issues: 'issue', issue_comments: 'issue_comment', review_comments: 'review_comment' };

export interface FetchStats {
  requests: number;
  notModified: number;
  pages: number;
  items: number;
  newOrChanged: number;
  malformedItems: number;
  malformedPages: number;
  failed: boolean;
}

export interface FetchContext {
  octokit: GithubClient;
  stores: Stores;
  log: Logger;
  owner: string;
  repo: string;
  runId: string;
  /** This pass's sequence number: items stored now carry it, so the build step finds them. */
  seq: number;
  /** key → updated_at of the items already stored (datasets/queries.ts githubItemVersions), kept up to date as pages are stored. */
  versions: Map<string, string>;
  /** Lower bound for a listing that has no cursor yet (--since). */
  since?: string;
  /** ingest: resume from the cursor; backfill: from `since` or the start (the cursor only moves forward). */
  fromCursor: boolean;
  skip(s: SkipRecord): void;
}


class MalformedPage extends Error {}

/**
 * One listing, drained: pages from the cursor on, each stored before the cursor moves past it; then
 * again from the new cursor until a pass brings nothing new, whose ETag is kept so the next ingest
 * asks conditionally. Returns what it did; failures are recorded as skips and leave the cursor where
 * everything before it is stored.
 */
export async function drainListing(ctx: FetchContext, spec: ListingSpec): Promise<FetchStats> {
  const slug = `${ctx.owner}/${ctx.repo}`;
  const stats: FetchStats = { requests: 0, notModified: 0, pages: 0, items: 0, newOrChanged: 0, malformedItems: 0, malformedPages: 0, failed: false };
  const ckey = listingCursorKey(slug, spec.name);
  let stored = await ctx.stores.getState(ckey);
  let cursor = (ctx.fromCursor ? stored : null) ?? ctx.since ?? '';
  let malformedRetries = 0;
  for (;;) {
    const since = cursor;
    const etag = await ctx.stores.getState(githubEtagKey(slug, spec.name, since));
    let changed = 0;
    let firstPage = true;
    let onePage = false;
    let firstEtag: string | null = null;
    try {
      const iterator = ctx.octokit.paginate.iterator(spec.route as 'GET /repos/{owner}/{repo}/issues', {
        owner: ctx.owner,
        repo: ctx.repo,
        ...spec.params,
        sort: 'updated',
        direction: 'asc',
        per_page: 100,
        ...(since ? { since } : {}),
        ...(etag ? { headers: { 'if-none-match': etag } } : {}),
      });
      for await (const page of iterator) {
        stats.requests++;
        stats.pages++;
        const data = page.data as unknown;
        if (!Array.isArray(data)) throw new MalformedPage(`page ${stats.pages} of ${spec.name} is not a JSON array (${describe(data)})`);
        if (firstPage) {
          firstEtag = (page.headers.etag as string | undefined) ?? null;
          onePage = !/rel="next"/.test((page.headers.link as string | undefined) ?? '');
          firstPage = false;
        }
        changed += await storePage(ctx, spec, data, stats);
        failpoint(`github.${spec.name}.page-stored`);
        // Items come oldest update first: everything up to the newest one here is stored.
        const newest = data.reduce<string>((m, i) => (typeof i?.updated_at === 'string' && i.updated_at > m ? i.updated_at : m), cursor);
        if (newest !== cursor) {
          cursor = newest;
          if (!stored || cursor > stored) {
            stored = cursor;
            await ctx.stores.setState({ [ckey]: cursor }, ctx.runId);
          }
        }
      }
      malformedRetries = 0;
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 304) {
        stats.requests++;
        stats.notModified++;
        return stats;
      }
      if (e instanceof MalformedPage || e instanceof TypeError) {
        // Octokit hands back a cut JSON body as a string; paging on from it is impossible.
        stats.malformedPages++;
        if (++malformedRetries <= MALFORMED_PAGE_RETRIES) {
          ctx.log.warn({ listing: spec.name, attempt: malformedRetries }, `${(e as Error).message}: fetching again from the cursor`);
          continue;
        }
      }
      stats.failed = true;
      const why = e instanceof MalformedPage || e instanceof TypeError ? 'malformed page' : `HTTP ${status ?? '?'}`;
      ctx.skip({ path: `github:${slug}/${spec.name}?since=${since}`, reason: 'api_error', detail: `${why}: ${(e as Error).message.slice(0, 300)}; cursor left at ${cursor || '(start)'}` });
      ctx.log.error({ listing: spec.name, cursor }, `GitHub listing ${spec.name} stopped: ${(e as Error).message.slice(0, 200)}`);
      return stats;
    }
    if (!changed) {
      // Nothing new since the cursor: keep this response's ETag for a conditional request next time.
      if (onePage && firstEtag) await ctx.stores.setState({ [githubEtagKey(slug, spec.name, since)]: firstEtag }, ctx.runId);
      return stats;
    }
  }
}

const describe = (v: unknown) => (typeof v === 'string' ? `${v.length} chars of text` : v === null ? 'null' : typeof v === 'object' ? `an object with keys ${Object.keys(v as object).slice(0, 5).join(', ')}` : typeof v);

/** Validates and stores one page's items; returns how many were new or changed. */
async function storePage(ctx: FetchContext, spec: ListingSpec, items: unknown[], stats: FetchStats): Promise<number> {
  const kind = ITEM_KIND[spec.name];
  const slug = `${ctx.owner}/${ctx.repo}`;
  const rows: Parameters<Stores['upsertGithubItems']>[0] = [];
  const parsed: { key: string; updated_at: string; number: number; json: string }[] = [];
  for (const raw of items) {
    stats.items++;
    const r = spec.schema.safeParse(raw);
    const number = r.success ? spec.numberOf(raw as Record<string, unknown>) : null;
    if (!r.success || number === null) {
      stats.malformedItems++;
      const id = (raw as { id?: unknown })?.id;
      const why = r.success ? 'no issue/PR number in it' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      ctx.skip({ path: `github:${slug}/${kind}/${typeof id === 'number' ? id : '?'}`, reason: 'malformed_item', detail: why.slice(0, 300) });
      continue;
    }
    parsed.push({ key: `${kind}:${r.data.id}`, updated_at: r.data.updated_at, number, json: JSON.stringify(raw) });
  }
  if (!parsed.length) return 0;
  // Items already stored with the same update time are not new: a re-listed boundary item is not work.
  // New items are appended; changed ones replace their stored copy.
  const added: typeof rows = [];
  for (const p of parsed) {
    const stored = ctx.versions.get(p.key);
    if (stored === p.updated_at) continue;
    (stored === undefined ? added : rows).push({ key: p.key, kind, repo: slug, number: p.number, updated_at: p.updated_at, seq: ctx.seq, json: p.json });
  }
  await ctx.stores.add('github_items', added);
  await ctx.stores.upsertGithubItems(rows);
  for (const r of [...added, ...rows]) ctx.versions.set(r.key, r.updated_at);
  stats.newOrChanged += added.length + rows.length;
  return added.length + rows.length;
}

/**
 * Rate-limit state, from the free /rate_limit endpoint; `unreachable` when the API cannot be reached
 * at all (no route, DNS, refused): then nothing else is tried.
 */
export async function rateLimit(octokit: GithubClient): Promise<{ limit: number; remaining: number; reset: number } | { unreachable: string } | null> {
  try {
    const r = await octokit.request('GET /rate_limit', { request: { retries: 0 } });
    return (r.data as { resources?: { core?: { limit: number; remaining: number; reset: number } } }).resources?.core ?? null;
  } catch (e) {
    const err = e as { status?: number; message: string; cause?: unknown };
    // Octokit reports a failed fetch (refused, no route, DNS) as status 500 caused by fetch's TypeError.
    if (err.status === 500 && err.cause instanceof TypeError) return { unreachable: err.message };
    return null;
  }
}

/** owner/name to read issues and PRs from: --github, else the clone's GitHub origin. */
export function githubRepoOf(cfg: Config, repoLabel: string): { owner: string; repo: string } | null {
  const slug = cfg.github ?? (/^[\w.-]+\/[\w.-]+$/.test(repoLabel) ? repoLabel : null);
  if (!slug) return null;
  const [owner, repo] = slug.split('/') as [string, string];
  return { owner, repo };
}
