// Git access: resolve a --repo (local path or URL) to a repository and commit, list its files,
// and stream blobs through one `git cat-file --batch` process.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import picomatch from 'picomatch';
import { simpleGit } from 'simple-git';
import type { RepoRef } from '../extractors/code-records.js';
import { UserError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';

export interface ResolvedRepo extends RepoRef {
  /** Local git directory or work tree that git commands run in. */
  path: string;
  /** The --repo value as given. */
  spec: string;
}

/** A URL without its user:password@ part: safe to log, store and name folders after. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, '$1');
}

const looksLikeUrl = (s: string) => /^(https?|ssh|git|file):\/\//.test(s) || /^[\w.-]+@[\w.-]+:/.test(s);

/** owner/name from a GitHub remote URL, or null. */
export function githubSlug(url: string): string | null {
  const m = /github\.com[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url.trim());
  return m ? `${m[1]}/${m[2]}` : null;
}

/**
 * The name a repository goes by in everything exported or served: owner/name from GitHub, else the
 * last two parts of a remote URL (`https://gitlab.com/acme/shapes.git` → `acme/shapes`), else the
 * clone's directory name — never a path of the machine that read it.
 */
export function repoLabel(origin: string, clonePath: string): string {
  const gh = origin ? githubSlug(origin) : null;
  if (gh) return gh;
  if (origin && looksLikeUrl(origin)) {
    const parts = origin.replace(/^[a-z]+:\/\/[^/]*\/?|^[\w.-]+@[\w.-]+:/i, '').replace(/\.git\/?$|\/$/, '').split('/').filter(Boolean);
    if (parts.length >= 2) return parts.slice(-2).join('/');
    if (parts.length === 1) return parts[0]!;
  }
  return basename(resolve(clonePath)) || 'repository';
}

async function cloneOrUpdate(url: string, dataDir: string, log: Logger, full: boolean): Promise<string> {
  const safeUrl = withoutCredentials(url);
  const slug = githubSlug(safeUrl) ?? safeUrl.replace(/^[a-z]+:\/\//, '').replace(/[^\w.-]+/g, '_');
  const dest = resolve(dataDir, 'repos', slug.replace('/', '__'));
  mkdirSync(resolve(dataDir, 'repos'), { recursive: true });
  try {
    if (existsSync(join(dest, '.git'))) {
      const git = simpleGit(dest);
      const partial = (await git.raw(['config', '--get', 'remote.origin.partialclonefilter']).catch(() => '')).trim();
      if (full && partial) {
        // History diffs of a blobless clone fetch blobs one round-trip at a time: fetch them all once.
        log.info({ url: safeUrl, dest }, 'commit history asked for: fetching the blobs of the blobless clone');
        await git.raw(['config', '--unset', 'remote.origin.partialclonefilter']);
        await git.fetch(['--refetch', '--tags', 'origin']);
      } else {
        log.info({ url: safeUrl, dest }, 'updating existing clone');
        await git.fetch([...(partial ? ['--filter=blob:none'] : []), '--tags', 'origin']);
      }
      await git.raw(['reset', '--hard', 'FETCH_HEAD']);
    } else {
      log.info({ url: safeUrl, dest }, full ? 'cloning (full: commit history asked for)' : 'cloning (blobless)');
      await simpleGit().clone(url, dest, full ? [] : ['--filter=blob:none']);
    }
  } catch (e) {
    const msg = withoutCredentials((e as Error).message);
    if (/Could not resolve host|unable to access|Network is unreachable|Connection refused|timed out|Failed to connect/i.test(msg))
      throw new UserError(`cannot clone ${safeUrl}: the network is unreachable from here; clone it elsewhere and pass the local path: --repo <path>`);
    throw new UserError(`cannot clone ${safeUrl}: ${msg.split('\n').find((l) => l.trim()) ?? msg}`);
  }
  return dest;
}

/**
 * A --repo (local path or URL; URLs are cloned under the data dir, blobless unless `full`) at a
 * revision. Its label is owner/name: from `github` (--github) when given, else from a GitHub origin.
 */
export async function resolveRepo(
  spec: string,
  rev: string,
  dataDir: string,
  log: Logger,
  opts: { full?: boolean } = {},
  github?: string,
): Promise<ResolvedRepo> {
  let path: string;
  if (looksLikeUrl(spec)) path = await cloneOrUpdate(spec, dataDir, log, opts.full ?? false);
  else {
    path = resolve(spec);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw new UserError(`repository not found: ${spec} (give a local git repository path or a git URL)`);
  }
  const git = simpleGit(path);
  let sha: string;
  try {
    await git.raw(['rev-parse', '--git-dir']);
  } catch {
    throw new UserError(`not a git repository: ${spec}`);
  }
  // In a clone, a branch other than the default one exists only as origin/<branch>.
  const candidates = looksLikeUrl(spec) ? [rev, `origin/${rev}`] : [rev];
  let found: string | null = null;
  for (const r of candidates) {
    try {
      found = (await git.raw(['rev-parse', '--verify', '--end-of-options', `${r}^{commit}`])).trim();
      break;
    } catch {
      // try the next candidate
    }
  }
  if (!found) throw new UserError(`revision not found in ${withoutCredentials(spec)}: ${rev}`);
  sha = found;
  let origin = looksLikeUrl(spec) ? withoutCredentials(spec) : '';
  if (!origin) {
    try {
      origin = withoutCredentials((await git.raw(['config', '--get', 'remote.origin.url'])).trim());
    } catch {
      origin = '';
    }
  }
  const slug = github ?? (origin ? githubSlug(origin) : null);
  return { path, spec: withoutCredentials(spec), sha, repo: slug ?? repoLabel(origin, path), webUrl: slug ? `https://github.com/${slug}` : null };
}

export interface TreeEntry {
  path: string;
  oid: string;
  size: number;
}

/** A tree entry that matches the sources' paths but is no file to read: a symbolic link or a submodule. */
export interface NotAFile {
  path: string;
  reason: 'symlink' | 'submodule';
  detail: string;
}

/** Blobs of a commit's tree whose paths match include and not exclude (symlinks and submodules left out). */
export async function listFiles(repoPath: string, sha: string, include: string[], exclude: string[]): Promise<TreeEntry[]> {
  return (await listTree(repoPath, sha, include, exclude)).files;
}

/** listFiles, and the matching entries that are symlinks or submodules, so they can be recorded as skipped. */
export async function listTree(repoPath: string, sha: string, include: string[], exclude: string[]): Promise<{ files: TreeEntry[]; notFiles: NotAFile[] }> {
  const out = await simpleGit(repoPath).raw(['ls-tree', '-r', '-z', '--long', '--full-tree', sha]);
  const isIncluded = picomatch(include, { dot: true });
  const isExcluded = exclude.length ? picomatch(exclude, { dot: true }) : () => false;
  const files: TreeEntry[] = [];
  const notFiles: NotAFile[] = [];
  for (const rec of out.split('\0')) {
    if (!rec) continue;
    // "<mode> SP <type> SP <oid> SP+ <size> TAB <path>"
    const tab = rec.indexOf('\t');
    const [mode, type, oid, size] = rec.slice(0, tab).split(/\s+/);
    const path = rec.slice(tab + 1);
    if (!isIncluded(path) || isExcluded(path)) continue;
    if (type === 'commit') notFiles.push({ path, reason: 'submodule', detail: `a submodule at commit ${oid}: its files belong to another repository` });
    else if (mode === '120000') notFiles.push({ path, reason: 'symlink', detail: 'a symbolic link: the file it points to is read under its own path, if at all' });
    else if (type === 'blob') files.push({ path, oid: oid!, size: Number(size) });
  }
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  files.sort(byPath);
  notFiles.sort(byPath);
  return { files, notFiles };
}

/** Reads blobs by oid, pipelined through one long-lived `git cat-file --batch`. */
export class BlobReader {
  private proc: ChildProcessWithoutNullStreams;
  private pending: { oid: string; resolve: (b: Buffer<ArrayBufferLike>) => void; reject: (e: Error) => void }[] = [];
  private buf: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  private want: { size: number } | null = null;
  // Body chunks of the blob being read, joined once it is complete (not on every chunk).
  private parts: Buffer<ArrayBufferLike>[] = [];
  private partBytes = 0;
  private failed: Error | null = null;

  constructor(repoPath: string) {
    this.proc = spawn('git', ['cat-file', '--batch'], { cwd: repoPath, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    let stderr = '';
    this.proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    this.proc.on('close', (code) => this.fail(new Error(`git cat-file exited (${code}): ${stderr.trim()}`)));
    this.proc.on('error', (e) => this.fail(e));
    this.proc.stdin.on('error', (e) => this.fail(e));
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (!this.want) {
        const nl = this.buf.indexOf(10);
        if (nl < 0) return;
        const header = this.buf.subarray(0, nl).toString();
        this.buf = this.buf.subarray(nl + 1);
        if (header.endsWith(' missing')) {
          this.pending.shift()?.reject(new Error(`blob missing: ${header.split(' ')[0]}`));
          continue;
        }
        this.want = { size: Number(header.split(' ')[2]) };
      }
      // Body bytes (plus the trailing newline) may span many chunks.
      const need = this.want.size + 1 - this.partBytes;
      if (this.buf.length < need) {
        this.parts.push(this.buf);
        this.partBytes += this.buf.length;
        this.buf = Buffer.alloc(0);
        return;
      }
      this.parts.push(this.buf.subarray(0, need));
      this.buf = this.buf.subarray(need);
      const whole = Buffer.concat(this.parts, this.want.size + 1);
      this.parts = [];
      this.partBytes = 0;
      this.want = null;
      this.pending.shift()?.resolve(whole.subarray(0, whole.length - 1));
    }
  }

  read(oid: string): Promise<Buffer<ArrayBufferLike>> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.push({ oid, resolve, reject });
      this.proc.stdin.write(`${oid}\n`);
    });
  }

  close(): void {
    this.proc.removeAllListeners('close');
    this.proc.stdin.end();
  }
}

/** The licence of the repository at a commit, as an SPDX-like name, from its top-level LICENSE file. */
export async function detectLicense(repoPath: string, sha: string): Promise<{ license: string; path: string | null }> {
  const top = await simpleGit(repoPath).raw(['ls-tree', '--name-only', sha]);
  const file = top.split('\n').find((f) => /^(LICEN[CS]E|COPYING)(\.(md|txt|rst))?$/i.test(f));
  if (!file) return { license: 'unknown', path: null };
  const text = await simpleGit(repoPath).raw(['show', `${sha}:${file}`]);
  const head = text.slice(0, 4000);
  const license = /Apache License[\s\S]*Version 2\.0/i.test(head)
    ? 'Apache-2.0'
    : /MIT License|Permission is hereby granted, free of charge/i.test(head)
      ? 'MIT'
      : /GNU LESSER GENERAL PUBLIC LICENSE/i.test(head)
        ? 'LGPL'
        : /GNU GENERAL PUBLIC LICENSE/i.test(head)
          ? 'GPL'
          : /Redistribution and use in source and binary forms/i.test(head)
            ? 'BSD'
            : `see ${file}`;
  return { license, path: file };
}
