// Commit history: first-parent `git log -p` streamed through one process and cut into RawCommits
// (extractors/git-log.ts parses) with bounded diffs, and `git diff --name-status` for incremental
// re-extraction.
import { spawn } from 'node:child_process';
import { simpleGit } from 'simple-git';
import { FILE_STATUS, GIT_LOG_FORMAT, LogParser, parseRawLine, PINNED_GIT_CONFIG, type FileStatus, type RawCommit } from '../extractors/git-log.js';

export interface ReadCommitsOptions {
  /** Exclusive cursor: commits reachable from it are left out. Null reads the whole history. */
  from: string | null;
  to: string;
  since?: Date;
  /** Cap on the kept diff of one commit. */
  maxDiffBytes: number;
  /** Cap on the kept diff of one file; defaults to maxDiffBytes. */
  maxFileDiffBytes?: number;
}

const checkRev = (rev: string) => {
  if (!rev || rev.startsWith('-')) throw new Error(`not a revision: ${JSON.stringify(rev)}`);
  return rev;
};

// Options shared by `git log` (history) and `git show` (one commit, shown even when a pathspec
// leaves its diff empty, where `git log -1` would skip to an older commit).
const DIFF_ARGS = [
  '--first-parent',
  '--diff-merges=first-parent',
  '--raw',
  '--no-color',
  '--no-ext-diff',
  '--no-textconv',
  '--encoding=UTF-8',
  `--format=${GIT_LOG_FORMAT}`,
];
const LOG_ARGS = [...PINNED_GIT_CONFIG, 'log', ...DIFF_ARGS];
const SHOW_ARGS = [...PINNED_GIT_CONFIG, 'show', ...DIFF_ARGS];

// Finished commits parsed ahead of the consumer: git keeps diffing while a batch is processed.
const READ_AHEAD = 64;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Feeds one git process's stdout through the parser line by line, yielding commits as they finish. */
async function* streamLog(repoPath: string, args: string[], parser: LogParser, lineCap: number): AsyncGenerator<RawCommit, { code: number | null; stderr: string }> {
  const proc = spawn('git', args, { cwd: repoPath, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => resolve(code));
  });
  exited.catch(() => undefined); // awaited below, unless the caller stops early
  // The line being assembled across chunks: its parts (up to lineCap) and its real length.
  let parts: Buffer[] = [];
  let partBytes = 0;
  let lineLength = 0;
  let streamDone = false;
  let streamError: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  proc.stdout.on('data', (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      lineLength += piece.length;
      if (partBytes < lineCap && piece.length) {
        const take = piece.subarray(0, lineCap - partBytes);
        parts.push(take);
        partBytes += take.length;
      }
      if (nl < 0) break;
      parser.line(parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes), lineLength);
      parts = [];
      partBytes = 0;
      lineLength = 0;
      start = nl + 1;
    }
    if (parser.done.length >= READ_AHEAD) proc.stdout.pause();
    notify();
  });
  proc.stdout.on('end', () => {
    streamDone = true;
    notify();
  });
  proc.stdout.on('error', (e) => {
    streamError = e;
    notify();
  });
  let ended = false;
  try {
    for (;;) {
      // Between the consumer's steps, let the reads that git's output has queued land.
      if (!streamDone && parser.done.length < READ_AHEAD) await nextTurn();
      const next = parser.done.shift();
      if (next) {
        if (proc.stdout.isPaused() && parser.done.length < READ_AHEAD / 2) proc.stdout.resume();
        yield next;
        continue;
      }
      if (streamError) throw streamError;
      if (streamDone) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (lineLength) parser.line(parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes), lineLength);
    const code = await exited;
    ended = true;
    // A commit cut short by a failing git is not reported as if it were whole.
    if (code === 0) {
      parser.finishCommit();
      yield* parser.done.splice(0);
    }
    return { code, stderr: stderr.trim() };
  } finally {
    if (!ended && proc.exitCode === null) proc.kill();
  }
}

/** All of one process's commits, or its failure. */
async function collectLog(
  repoPath: string,
  args: string[],
  opts: ReadCommitsOptions,
): Promise<{ commits: RawCommit[]; rawLines: string[]; code: number | null; stderr: string }> {
  const parser = new LogParser(opts.maxDiffBytes, opts.maxFileDiffBytes ?? opts.maxDiffBytes);
  const rawLines: string[] = [];
  parser.rawLines = rawLines;
  const gen = streamLog(repoPath, args, parser, lineCapOf(opts));
  const commits: RawCommit[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { commits, rawLines, ...r.value };
    commits.push(r.value);
  }
}

// Lines longer than any cap are never kept: past this length only their length is tracked.
const lineCapOf = (opts: ReadCommitsOptions) => Math.max(opts.maxDiffBytes + 1, 1 << 20);

const MAX_UNREADABLE_RETRIES = 8;

/**
 * One commit alone. When git cannot produce its patch (a blob missing from the object store), the
 * patch again with the unreadable files left out, and those files listed from the raw diff alone.
 */
async function readOne(repoPath: string, sha: string, opts: ReadCommitsOptions): Promise<RawCommit> {
  const whole = await collectLog(repoPath, [...SHOW_ARGS, '-p', '-M', '--end-of-options', sha, '--'], opts);
  if (whole.code === 0 && whole.commits[0]) return whole.commits[0];
  // The raw diff needs no blob contents when renames are not looked for.
  const listing = await collectLog(repoPath, [...SHOW_ARGS, '--no-renames', '--no-abbrev', '--end-of-options', sha, '--'], opts);
  const raw = listing.commits[0];
  if (!raw) throw new Error(`cannot read commit ${sha} in ${repoPath}: ${listing.stderr || whole.stderr}`);
  const oidPaths = new Map<string, string>();
  for (const line of listing.rawLines) {
    const r = parseRawLine(line);
    for (const oid of r?.oids ?? []) oidPaths.set(oid, r!.file.path);
  }
  const unreadable = new Set<string>();
  let error = whole.stderr;
  for (let i = 0; i < MAX_UNREADABLE_RETRIES; i++) {
    const missing = [...error.matchAll(/\b([0-9a-f]{40})\b/g)].map((m) => oidPaths.get(m[1]!)).filter((p): p is string => !!p && !unreadable.has(p));
    if (!missing.length) break;
    for (const p of missing) unreadable.add(p);
    const exclude = [...unreadable].map((p) => `:(exclude,literal)${p}`);
    const r = await collectLog(repoPath, [...SHOW_ARGS, '-p', '-M', '--end-of-options', sha, '--', '.', ...exclude], opts);
    if (r.code === 0 && r.commits[0]) {
      const c = r.commits[0];
      for (const f of raw.files) if (unreadable.has(f.path)) c.files.push({ ...f, diffTruncated: true });
      return { ...c, truncated: true, unreadable: [...unreadable].sort() };
    }
    error = r.stderr;
  }
  // Nothing better: the file list alone.
  return { ...raw, files: raw.files.map((f) => ({ ...f, diffTruncated: true })), truncated: true, unreadable: raw.files.map((f) => f.path) };
}

/** The oldest first-parent commit of from..to. */
async function firstCommitAfter(repoPath: string, from: string | null, opts: ReadCommitsOptions): Promise<string | null> {
  const args = ['rev-list', '--first-parent', '--reverse'];
  if (opts.since) args.push(`--since=${opts.since.toISOString()}`);
  args.push('--end-of-options', checkRev(opts.to));
  if (from) args.push(`^${checkRev(from)}`);
  const out = await simpleGit(repoPath).raw([...args, '--']);
  return out.slice(0, out.indexOf('\n')) || null;
}

/** How many first-parent commits of from..to readCommits reads (the progress bar's total). */
export async function countCommits(repoPath: string, opts: Pick<ReadCommitsOptions, 'from' | 'to' | 'since'>): Promise<number> {
  const args = ['rev-list', '--count', '--first-parent'];
  if (opts.since) args.push(`--since=${opts.since.toISOString()}`);
  args.push('--end-of-options', checkRev(opts.to));
  if (opts.from) args.push(`^${checkRev(opts.from)}`);
  return Number((await simpleGit(repoPath).raw([...args, '--'])).trim()) || 0;
}

/**
 * First-parent commits of from..to, oldest first, each with a diff against its first parent,
 * parsed from one streaming `git log -p` process. Breaking out of the loop ends the process.
 * A commit whose patch git cannot produce is reported degraded, and reading goes on after it.
 */
export async function* readCommits(repoPath: string, opts: ReadCommitsOptions): AsyncGenerator<RawCommit> {
  let from = opts.from;
  let lastFailed: string | null = null;
  for (;;) {
    const args = [...LOG_ARGS, '--reverse', '-p', '-M'];
    if (opts.since) args.push(`--since=${opts.since.toISOString()}`);
    args.push('--end-of-options', checkRev(opts.to));
    if (from) args.push(`^${checkRev(from)}`);
    args.push('--');
    const parser = new LogParser(opts.maxDiffBytes, opts.maxFileDiffBytes ?? opts.maxDiffBytes);
    const gen = streamLog(repoPath, args, parser, lineCapOf(opts));
    let r = await gen.next();
    for (; !r.done; r = await gen.next()) {
      from = r.value.sha;
      yield r.value;
    }
    const { code, stderr } = r.value;
    if (code === 0) return;
    // git stopped at a commit it could not diff. It prints a header only after the diff is
    // computed, so the commit still open may be whole (and the failing one next) or the failing one.
    const suspect = parser.pendingSha() ?? (await firstCommitAfter(repoPath, from, opts).catch(() => null));
    if (!suspect || suspect === lastFailed) throw new Error(`git log failed in ${repoPath} (exit ${code}): ${stderr}`);
    lastFailed = suspect;
    yield await readOne(repoPath, suspect, opts);
    from = suspect;
  }
}

export interface ChangedPath {
  status: FileStatus;
  path: string;
  oldPath: string | null;
}

/** Files that differ between two commits, renames detected: what an incremental run re-extracts. */
export async function changedPaths(repoPath: string, from: string, to: string): Promise<ChangedPath[]> {
  const out = await simpleGit(repoPath).raw([...PINNED_GIT_CONFIG, 'diff', '--name-status', '-M', '-z', '--no-ext-diff', '--end-of-options', checkRev(from), checkRev(to), '--']);
  const parts = out.split('\0');
  const changes: ChangedPath[] = [];
  for (let i = 0; i < parts.length; ) {
    const code = parts[i++];
    if (!code) continue;
    const status = FILE_STATUS[code[0]!] ?? 'M';
    if (status === 'R' || status === 'C') {
      const oldPath = parts[i++]!;
      changes.push({ status, path: parts[i++]!, oldPath });
    } else changes.push({ status, path: parts[i++]!, oldPath: null });
  }
  return changes;
}

/** The commit sha a revision names. */
export async function headSha(repoPath: string, rev = 'HEAD'): Promise<string> {
  return (await simpleGit(repoPath).raw(['rev-parse', '--verify', '--end-of-options', `${checkRev(rev)}^{commit}`])).trim();
}
