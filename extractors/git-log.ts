// Parsing of `git log -p --raw` output (the format below, with git's settings pinned): a pure,
// line-at-a-time parser that cuts the stream into RawCommits with bounded diffs. No process here:
// activities/git-history.ts runs git and feeds its stdout through LogParser.
import { isUtf8 } from 'node:buffer';

export type FileStatus = 'A' | 'M' | 'D' | 'R' | 'C' | 'T';

export interface CommitFile {
  /** The new path; for a deletion, the deleted path. */
  path: string;
  /** The source of a rename or copy, else null. */
  oldPath: string | null;
  status: FileStatus;
  /** Counted over the whole diff, also the part cut off. */
  additions: number;
  deletions: number;
  binary: boolean;
  /** Where this file's kept diff lies in RawCommit.diff (string offsets), or null when none was kept. */
  diffRange: { start: number; end: number } | null;
  /** Part of (or all of) this file's diff was cut. */
  diffTruncated: boolean;
}

export interface RawCommit {
  sha: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  /** Strict ISO 8601 with the author's offset, as git prints it. */
  authoredAt: string;
  committedAt: string;
  subject: string;
  body: string;
  files: CommitFile[];
  /** The patch against the first parent, cut at the byte caps on hunk or file boundaries. */
  diff: string;
  /** Size of the whole patch in bytes, before the cut. */
  diffBytes: number;
  truncated: boolean;
  /** Some diff or message bytes were not UTF-8: they are kept as U+FFFD. */
  nonUtf8: boolean;
  /** Files whose blobs git could not read (a damaged clone): listed, without a diff. */
  unreadable: string[];
}

// Starts every commit's header; a diff line can never start with it (diff lines have a prefix
// character and paths are quoted), nor can a message (git refuses NUL in messages).
const MARKER = '\x1eqaforge-commit\x00';
const MARKER_BUF = Buffer.from(MARKER);
const HEADER_FIELDS = ['%H', '%P', '%an', '%ae', '%aI', '%cI', '%B'];
export const GIT_LOG_FORMAT = `${MARKER.replace('\x1e', '%x1e').replace('\x00', '%x00')}${HEADER_FIELDS.map((f) => `${f}%x00`).join('')}`;
const HEADER_NULS = 1 + HEADER_FIELDS.length;

// Settings that change how git prints a patch are pinned, so a user's config cannot break parsing.
export const PINNED_GIT_CONFIG = [
  'core.quotePath=true',
  'diff.noprefix=false',
  'diff.mnemonicPrefix=false',
  'diff.suppressBlankEmpty=false',
  'diff.relative=false',
  'color.ui=never',
  'log.showSignature=false',
  'i18n.logOutputEncoding=UTF-8',
].flatMap((c) => ['-c', c]);

export const FILE_STATUS: Record<string, FileStatus> = { A: 'A', M: 'M', D: 'D', R: 'R', C: 'C', T: 'T' };

const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };

/** A path as git prints it: bare, or C-quoted with octal escapes for bytes ≥ 0x80. Returns the path and where it ended. */
function readPath(s: string, at = 0): { path: string; end: number } {
  if (s[at] !== '"') return { path: s.slice(at), end: s.length };
  const bytes: number[] = [];
  let i = at + 1;
  for (; i < s.length && s[i] !== '"'; i++) {
    const ch = s[i]!;
    if (ch !== '\\') {
      for (const b of Buffer.from(ch)) bytes.push(b);
      continue;
    }
    const next = s[++i] ?? '';
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(s.slice(i, i + 3), 8));
      i += 2;
    } else bytes.push(C_ESCAPES[next] ?? next.charCodeAt(0));
  }
  return { path: Buffer.from(bytes).toString('utf8'), end: i + 1 };
}

/** The path named by a `diff --git a/X b/Y` line when both sides are the same file (renames say so in headers). */
function gitLinePath(rest: string): string | null {
  if (rest.startsWith('"')) {
    const a = readPath(rest);
    const b = readPath(rest, a.end + 1);
    return (b.path.startsWith('b/') ? b.path : a.path).slice(2);
  }
  if (rest.endsWith('"')) {
    const at = rest.lastIndexOf(' "b/');
    return at >= 0 ? readPath(rest, at + 1).path.slice(2) : null;
  }
  // "a/P b/P": equal halves.
  if (rest.length % 2 === 1) {
    const half = (rest.length - 1) / 2;
    if (rest.startsWith('a/') && rest.slice(2, half) === rest.slice(half + 3) && rest[half] === ' ') return rest.slice(2, half);
  }
  return null;
}

/** A `--- a/X` / `+++ b/X` path: null for /dev/null. Git adds a tab after a path with spaces. */
function markerPath(s: string): string | null {
  if (s === '/dev/null') return null;
  const p = s.startsWith('"') ? readPath(s).path : s.replace(/\t$/, '');
  return p.slice(2);
}

interface Hunk {
  lines: Buffer[];
  bytes: number;
  overflow: boolean;
  oldLeft: number;
  newLeft: number;
}

interface Section {
  gitLinePath: string | null;
  minus: string | null;
  plus: string | null;
  renameFrom: string | null;
  renameTo: string | null;
  deleted: boolean;
  binary: boolean;
  /** Header lines before the first hunk, until they are accepted. */
  header: Buffer[];
  headerBytes: number;
  headerDone: boolean;
  kept: Buffer[];
  keptBytes: number;
  keptHunks: number;
  hunk: Hunk | null;
  closed: boolean;
  truncated: boolean;
  additions: number;
  deletions: number;
}

interface Building {
  headerLines: Buffer[];
  nuls: number;
  fields: string[] | null;
  files: CommitFile[];
  sections: Section[];
  diffBytes: number;
  keptBytes: number;
  closed: boolean;
  truncated: boolean;
  nonUtf8: boolean;
}

/** ":<mode> <mode> <oid> <oid> <status>[score]\t<path>[\t<path>]" → a file entry and its blob ids. */
export function parseRawLine(text: string): { file: CommitFile; oids: string[] } | null {
  const tab = text.indexOf('\t');
  if (tab < 0) return null;
  const meta = text.slice(0, tab).split(' ');
  const letter = (meta[meta.length - 1] ?? 'M')[0] ?? 'M';
  const paths = text
    .slice(tab + 1)
    .split('\t')
    .map((p) => readPath(p).path);
  const status = FILE_STATUS[letter] ?? 'M';
  const two = (status === 'R' || status === 'C') && paths.length > 1;
  return {
    file: {
      path: two ? paths[1]! : paths[0]!,
      oldPath: two ? paths[0]! : null,
      status,
      additions: 0,
      deletions: 0,
      binary: false,
      diffRange: null,
      diffTruncated: false,
    },
    oids: meta.slice(2, 4),
  };
}

const NEWLINE = Buffer.from('\n');
const HUNK_HEADER = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/;

/** A synchronous line-at-a-time parser of the log stream; finished commits collect in `done`. */
export class LogParser {
  done: RawCommit[] = [];
  /** Raw diff lines, kept only when asked for (to map blob ids to paths). */
  rawLines: string[] | null = null;
  private cur: Building | null = null;
  private sec: Section | null = null;
  private readonly fileCap: number;

  constructor(
    private readonly commitCap: number,
    fileCap: number,
  ) {
    this.fileCap = Math.min(fileCap, commitCap);
  }

  /** One line without its newline; `length` is its real length when `line` is a cut prefix. */
  line(line: Buffer, length: number): void {
    const c = this.cur;
    if (line.length >= MARKER_BUF.length && line[0] === 0x1e && line.subarray(0, MARKER_BUF.length).equals(MARKER_BUF)) {
      this.finishCommit();
      this.cur = { headerLines: [], nuls: 0, fields: null, files: [], sections: [], diffBytes: 0, keptBytes: 0, closed: false, truncated: false, nonUtf8: false };
      this.headerLine(line);
      return;
    }
    if (!c) return; // nothing before the first header
    if (!c.fields) {
      this.headerLine(line);
      return;
    }
    const sec = this.sec;
    const first = line[0];
    // A hunk line: while the hunk's line counts last, or a "\ No newline at end of file".
    if (sec?.hunk && (sec.hunk.oldLeft > 0 || sec.hunk.newLeft > 0 || first === 0x5c)) {
      c.diffBytes += length + 1;
      const h = sec.hunk;
      if (first === 0x2b) {
        sec.additions++;
        h.newLeft--;
      } else if (first === 0x2d) {
        sec.deletions++;
        h.oldLeft--;
      } else if (first === 0x20) {
        h.oldLeft--;
        h.newLeft--;
      }
      this.addHunkLine(c, sec, line, length);
      return;
    }
    if (first === 0x3a /* ':' */ && !sec) {
      this.rawLine(c, line.toString('utf8'));
      return;
    }
    if (length === 0) return; // separators between the parts of a commit
    const text = line.toString('utf8');
    if (text.startsWith('diff --git ')) {
      this.closeSection(c);
      const s: Section = {
        gitLinePath: gitLinePath(text.slice('diff --git '.length)),
        minus: null,
        plus: null,
        renameFrom: null,
        renameTo: null,
        deleted: false,
        binary: false,
        header: [],
        headerBytes: 0,
        headerDone: false,
        kept: [],
        keptBytes: 0,
        keptHunks: 0,
        hunk: null,
        closed: c.closed,
        truncated: false,
        additions: 0,
        deletions: 0,
      };
      c.sections.push(s);
      this.sec = s;
      c.diffBytes += length + 1;
      this.addHeaderLine(s, line, length);
      return;
    }
    if (!sec) return;
    c.diffBytes += length + 1;
    if (text.startsWith('@@')) {
      this.closeHunk(c, sec);
      this.acceptHeader(c, sec);
      const m = HUNK_HEADER.exec(text);
      sec.hunk = { lines: [], bytes: 0, overflow: false, oldLeft: m ? Number(m[1] ?? 1) : 0, newLeft: m ? Number(m[2] ?? 1) : 0 };
      this.addHunkLine(c, sec, line, length);
      return;
    }
    if (text.startsWith('--- ')) sec.minus = markerPath(text.slice(4));
    else if (text.startsWith('+++ ')) sec.plus = markerPath(text.slice(4));
    else if (text.startsWith('rename from ') || text.startsWith('copy from ')) sec.renameFrom = readPath(text.slice(text.indexOf(' from ') + 6)).path;
    else if (text.startsWith('rename to ') || text.startsWith('copy to ')) sec.renameTo = readPath(text.slice(text.indexOf(' to ') + 4)).path;
    else if (text.startsWith('deleted file mode')) sec.deleted = true;
    else if (text.startsWith('Binary files ')) sec.binary = true;
    this.addHeaderLine(sec, line, length);
  }

  private headerLine(line: Buffer): void {
    const c = this.cur!;
    c.headerLines.push(line);
    for (const b of line) if (b === 0) c.nuls++;
    if (c.nuls < HEADER_NULS) return;
    const raw = Buffer.concat(c.headerLines.flatMap((l, i) => (i ? [Buffer.from('\n'), l] : [l])));
    if (!isUtf8(raw)) c.nonUtf8 = true;
    c.fields = raw.toString('utf8').split('\0').slice(1, HEADER_NULS);
    c.headerLines = [];
  }

  private rawLine(c: Building, text: string): void {
    const r = parseRawLine(text);
    if (!r) return;
    c.files.push(r.file);
    if (this.rawLines) this.rawLines.push(text);
  }

  /** The sha of the commit being read, when its header has been. */
  pendingSha(): string | null {
    return this.cur?.fields?.[0] ?? null;
  }

  /** Room left for this file: the smaller of its own cap and the commit's. */
  private room(c: Building, sec: Section): number {
    return Math.min(this.fileCap - sec.keptBytes, this.commitCap - c.keptBytes);
  }

  private addHeaderLine(sec: Section, line: Buffer, length: number): void {
    if (sec.headerDone) return;
    // A line cut short is longer than any cap, so a header holding one is never kept.
    sec.header.push(line);
    sec.headerBytes += length + 1;
  }

  /** Header lines are kept whole or not at all. */
  private acceptHeader(c: Building, sec: Section): void {
    if (sec.headerDone) return;
    sec.headerDone = true;
    if (!sec.closed && sec.headerBytes <= this.room(c, sec)) {
      sec.kept.push(...sec.header);
      sec.keptBytes += sec.headerBytes;
      c.keptBytes += sec.headerBytes;
    } else this.cut(c, sec);
    sec.header = [];
  }

  private addHunkLine(c: Building, sec: Section, line: Buffer, length: number): void {
    const h = sec.hunk!;
    if (sec.closed || h.overflow) return;
    if (length === line.length && h.bytes + length + 1 <= this.room(c, sec)) {
      h.lines.push(line);
      h.bytes += length + 1;
    } else h.overflow = true;
  }

  /** Keeps a finished hunk whole; a hunk over the cap is cut at a line only when it is the file's first. */
  private closeHunk(c: Building, sec: Section): void {
    const h = sec.hunk;
    if (!h) return;
    sec.hunk = null;
    if (sec.closed) return;
    if (!h.overflow || (sec.keptHunks === 0 && h.lines.length > 1)) {
      sec.kept.push(...h.lines);
      sec.keptBytes += h.bytes;
      c.keptBytes += h.bytes;
      sec.keptHunks++;
    }
    if (h.overflow) this.cut(c, sec);
  }

  /** Stops keeping this file; when the commit's cap was the binding one, the rest of the commit too. */
  private cut(c: Building, sec: Section): void {
    if (!sec.closed && this.commitCap - c.keptBytes <= this.fileCap - sec.keptBytes) c.closed = true;
    sec.closed = true;
    sec.truncated = true;
    c.truncated = true;
  }

  private closeSection(c: Building): void {
    const sec = this.sec;
    if (!sec) return;
    this.closeHunk(c, sec);
    this.acceptHeader(c, sec);
    this.sec = null;
  }

  finishCommit(): void {
    const c = this.cur;
    if (!c) return;
    this.closeSection(c);
    this.cur = null;
    if (!c.fields) return; // a cut-off header: nothing to report
    const [sha, parents, authorName, authorEmail, authoredAt, committedAt, message] = c.fields as [string, string, string, string, string, string, string];
    // Sections map to files by path; a type change prints two sections for its one raw line.
    const byPath = new Map<string, CommitFile>();
    for (const f of c.files) byPath.set(f.path, f);
    const pieces: string[] = [];
    let offset = 0;
    let next = 0;
    for (const s of c.sections) {
      const newPath = s.renameTo ?? s.plus ?? (s.deleted ? null : s.gitLinePath);
      const oldPath = s.renameFrom ?? s.minus ?? s.gitLinePath;
      const file = (newPath !== null ? byPath.get(newPath) : undefined) ?? (oldPath !== null ? byPath.get(oldPath) : undefined) ?? c.files[next];
      if (!file) continue;
      next = c.files.indexOf(file) + 1;
      file.additions += s.additions;
      file.deletions += s.deletions;
      file.binary ||= s.binary;
      file.diffTruncated ||= s.truncated;
      if (!s.kept.length) continue;
      const bytes = Buffer.concat(s.kept.flatMap((l) => [l, NEWLINE]));
      if (!isUtf8(bytes)) c.nonUtf8 = true;
      const text = bytes.toString('utf8');
      if (file.diffRange && file.diffRange.end === offset) file.diffRange.end += text.length;
      else if (!file.diffRange) file.diffRange = { start: offset, end: offset + text.length };
      pieces.push(text);
      offset += text.length;
    }
    const msg = message.replace(/\s+$/, '');
    // The subject is the first paragraph on one line, as git's %s prints it.
    const para = msg.search(/\n[ \t]*\n/);
    const subject = (para < 0 ? msg : msg.slice(0, para)).trim().replace(/\s*\n\s*/g, ' ');
    const body = para < 0 ? '' : msg.slice(para).replace(/^\s*\n/, '').trimEnd();
    this.done.push({
      sha,
      parents: parents ? parents.split(' ') : [],
      authorName,
      authorEmail,
      authoredAt,
      committedAt,
      subject,
      body,
      files: c.files,
      diff: pieces.join(''),
      diffBytes: c.diffBytes,
      truncated: c.truncated,
      nonUtf8: c.nonUtf8,
      unreadable: [],
    });
  }
}
