// Markdown / MDX docs → heading sections → doc_section SourceRecords.
// A line-based scanner: headings and fences are line-level in CommonMark, and no Markdown parser is
// a dependency. It knows the HF doc-builder dialect: `[[anchor]]` headings, `<Tip>`/`<hfoption>`
// components, the license comment on top, `[[autodoc]]` lines.

import type { DocBlock, SourceRecord } from '../datasets/schemas.js';
import { contentId, sha256Hex } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import { blobUrl, provenanceAt, type RepoRef } from './code-records.js';

export interface DocCodeBlock {
  lang: string | null;
  /** The fence body, less the opening fence's indentation. */
  code: string;
}

export interface DocSection {
  /** Enclosing headings, outermost first; [] for text before the first heading. */
  headingPath: string[];
  /** 1–6; 0 for text before the first heading. */
  level: number;
  /** 1-based, inclusive, in the original file. */
  startLine: number;
  endLine: number;
  /** Cleaned evidence text: heading and body, components, comments and front matter removed. */
  text: string;
  codeBlocks: DocCodeBlock[];
  /** Only the heading: kept to anchor headingPath, never made a record. */
  empty: boolean;
}

export const isDocPath = (path: string): boolean => /\.mdx?$/i.test(path);

// ---------------------------------------------------------------------------------------------
// Line-level syntax.

interface Fence {
  char: string;
  len: number;
  indent: number;
  lang: string | null;
}

/** An opening code fence: ``` or ~~~ (3 or more), with an optional info string. */
function fenceOpen(line: string): Fence | null {
  // The whole run of marks or none: backing off one mark at a time was quadratic in a long run.
  const m = /^(\s*)(`{3,}(?!`)|~{3,}(?!~))(.*)$/.exec(line);
  if (!m) return null;
  const marks = m[2]!;
  const info = m[3]!.trim();
  // A backtick fence's info string may not hold a backtick (that is an inline code span).
  if (marks[0] === '`' && info.includes('`')) return null;
  // `{.python}` / `python title="x"`: the language is the first word, braces and dots dropped.
  const lang = info.split(/\s+/)[0]!.replace(/^\{\.?|\}$/g, '') || null;
  return { char: marks[0]!, len: marks.length, indent: m[1]!.replace(/\t/g, '    ').length, lang };
}

function fenceCloses(line: string, f: Fence): boolean {
  const m = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
  return m !== null && m[1]![0] === f.char && m[1]!.length >= f.len;
}

/** Strips up to `indent` leading spaces, as CommonMark does for the body of an indented fence. */
function dedent(line: string, indent: number): string {
  let i = 0;
  while (i < indent && i < line.length && line[i] === ' ') i++;
  return line.slice(i);
}

/** An ATX heading: level and raw text (closing #s dropped), or null. */
function atxHeading(line: string): { level: number; text: string } | null {
  // By hand past the #s: the regexes this replaces (`[ \t]+(.*?)[ \t]*$`, `[ \t]+#+$`) retried
  // every start inside a long run of spaces, quadratic in its length.
  const m = /^ {0,3}(#{1,6})(?![^ \t])/.exec(line);
  if (!m) return null;
  const rest = line.slice(m[0].length);
  // `.` in the old pattern stopped at these: a line holding one was never a heading.
  if (/[\r\u2028\u2029]/.test(rest)) return null;
  const blank = (c: string | undefined) => c === ' ' || c === '\t';
  let start = 0;
  while (blank(rest[start])) start++;
  let end = rest.length;
  while (end > start && blank(rest[end - 1])) end--;
  let hashes = end;
  while (hashes > start && rest[hashes - 1] === '#') hashes--;
  // Closing #s go when they are all there is or follow a blank.
  if (hashes < end && (hashes === start || blank(rest[hashes - 1]))) end = hashes;
  return { level: m[1]!.length, text: rest.slice(start, end).trim() };
}

const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
// Lines that cannot be part of a setext heading's paragraph.
const NOT_PARAGRAPH = /^\s*(?:[-*+][ \t]|\d{1,9}[.)][ \t]|>|\||\[\[|#{1,6}(?:[ \t]|$))/;

// ---------------------------------------------------------------------------------------------
// Inline cleaning: HTML comments and component tags go, their inner text stays.

const HTML_TAGS = new Set(
  (
    'a abbr address article aside audio b big blockquote br button caption center cite code col colgroup dd del details dfn ' +
    'div dl dt em embed figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i iframe img input ins kbd label li ' +
    'main mark nav object ol p picture pre q s samp section small source span strike strong sub summary sup table tbody ' +
    'td tfoot th thead tr tt u ul video wbr'
  ).split(' '),
);
// HF doc-builder components written in lowercase.
const HF_TAGS = new Set(['hfoption', 'hfoptions', 'frameworkcontent', 'pt', 'tf', 'jax']);

/**
 * Whether `<name` starts a tag to strip: HTML elements, HF components, and JSX components
 * (PascalCase). Placeholders such as `<MODEL>` or `<path-to-file>` in prose stay.
 */
function strippableTag(name: string): boolean {
  return HTML_TAGS.has(name) || HF_TAGS.has(name) || /^[A-Z][a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*$/.test(name);
}

interface Pos {
  line: number;
  col: number;
}

// A tag spanning lines ends within this many lines and before a blank line, or it is not a tag.
const MAX_TAG_LINES = 30;

/** Where a tag opened at (line, col) ends (just past `>`), honouring quoted values and JSX braces. */
function tagEnd(lines: string[], line: number, col: number): Pos | null {
  let quote: string | null = null;
  let braces = 0;
  let prev = '';
  for (let l = line; l < lines.length && l < line + MAX_TAG_LINES; l++) {
    const s = lines[l]!;
    if (l > line && !s.trim()) return null;
    for (let c = l === line ? col : 0; c < s.length; c++) {
      const ch = s[c]!;
      // A quote opens a value only after `=` or inside braces: an apostrophe in prose does not.
      if (quote) {
        if (ch === quote) quote = null;
      } else if (((ch === '"' || ch === "'") && (prev === '=' || braces > 0)) || (ch === '`' && braces > 0)) quote = ch;
      else if (ch === '{') braces++;
      else if (ch === '}') braces = Math.max(0, braces - 1);
      else if (braces === 0 && ch === '>') return { line: l, col: c + 1 };
      else if (braces === 0 && ch === '<') return null;
      if (ch !== ' ' && ch !== '\t') prev = ch;
    }
  }
  return null;
}

// Per file: the first line at or after each line that holds `-->` (-1: none). Every unclosed
// comment in a paragraph searched the rest of the file line by line, quadratic in the file.
const commentCloses = new WeakMap<string[], Int32Array>();

/** Where the comment whose `<!--` ends at (line, col) closes (just past `-->`), or null. */
function commentEnd(lines: string[], line: number, col: number): Pos | null {
  const at = lines[line]!.indexOf('-->', col);
  if (at >= 0) return { line, col: at + 3 };
  let next = commentCloses.get(lines);
  if (!next) {
    next = new Int32Array(lines.length + 1).fill(-1);
    for (let l = lines.length - 1; l >= 0; l--) next[l] = lines[l]!.includes('-->') ? l : next[l + 1]!;
    commentCloses.set(lines, next);
  }
  const l = next[line + 1]!;
  return l < 0 ? null : { line: l, col: lines[l]!.indexOf('-->') + 3 };
}

/**
 * Cleans one line from `from`: code spans verbatim, comments and strippable tags removed. Returns
 * the kept text and, when a comment or tag runs past the line, where it ends.
 */
function cleanLine(lines: string[], i: number, from: number): { text: string; skip: Pos | null; changed: boolean } {
  const s = lines[i]!;
  // Most lines hold nothing to strip.
  if (from === 0 && !s.includes('<')) return { text: s, skip: null, changed: false };
  let out = '';
  let c = from;
  let changed = from > 0;
  const special = /[\\`<]/g;
  while (c < s.length) {
    // Plain text up to the next backslash, backtick or `<` is copied in one piece.
    special.lastIndex = c;
    const next = special.exec(s);
    if (next === null) {
      out += s.slice(c);
      break;
    }
    if (next.index > c) {
      out += s.slice(c, next.index);
      c = next.index;
    }
    const ch = s[c]!;
    if (ch === '\\' && c + 1 < s.length) {
      out += s.slice(c, c + 2);
      c += 2;
      continue;
    }
    if (ch === '`') {
      let n = 1;
      while (s[c + n] === '`') n++;
      const run = '`'.repeat(n);
      // A code span closes with a run of exactly the same length.
      let close = s.indexOf(run, c + n);
      while (close >= 0 && s[close + n] === '`') {
        let e = close;
        while (s[e] === '`') e++;
        close = s.indexOf(run, e);
      }
      const end = close >= 0 ? close + n : c + n;
      out += s.slice(c, end);
      c = end;
      continue;
    }
    if (ch === '<') {
      if (s.startsWith('<!--', c)) {
        const end = commentEnd(lines, i, c + 4);
        changed = true;
        if (end === null) {
          // CommonMark: a comment opening a block runs to the end of the document if unclosed;
          // inside a paragraph an unclosed one is text.
          if (!out.trim()) return { text: '', skip: { line: lines.length, col: 0 }, changed };
          out += s.slice(c);
          break;
        }
        if (end.line > i) return { text: out, skip: end, changed };
        c = end.col;
        continue;
      }
      const m = /^<\/?([A-Za-z][A-Za-z0-9.-]*)/.exec(s.slice(c, c + 80));
      const after = m ? s[c + m[0].length] : undefined;
      if (m && strippableTag(m[1]!) && (after === undefined || after === '>' || after === '/' || /\s/.test(after))) {
        const end = tagEnd(lines, i, c + m[0].length);
        if (end !== null) {
          changed = true;
          if (end.line > i) return { text: out, skip: end, changed };
          c = end.col;
          continue;
        }
      }
    }
    out += ch;
    c++;
  }
  return { text: out, skip: null, changed };
}

// MDX module lines: `import X from "./x.mdx"`, `export const meta = {...}`.
// (`\s[\w*{}\s,]+\s` is the `\s+[\w*{}\s,]+\s+` it replaces without its quadratic backtracking.)
const MDX_MODULE_LINE = /^(?:import(?:\s[\w*{}\s,]+\sfrom\s+|\s+)["'][^"']+["'];?\s*$|export\s+(?:const|let|var|function|default|class|async)\b)/;

// A doc-builder directive (renders a Colab badge), not content.
const OPEN_IN_COLAB = /^\s*\[\[open-in-colab\]\]\s*$/;

// ---------------------------------------------------------------------------------------------
// Heading text.

/** Heading text without inline markup: links → text, `[[anchor]]` gone, code spans kept. */
export function cleanHeadingText(raw: string): string {
  const parts = raw.split(/(`+[^`]*`+)/);
  const out = parts.map((p, k) => {
    if (k % 2 === 1) return p;
    return p
      .replace(/\[\[[^\]]*\]\]/g, '')
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
      .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
      .replace(/(\*\*|__)(?=\S)(.+?)(?<=\S)\1/g, '$2')
      .replace(/(^|[^\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?!\w)/g, '$1$2')
      .replace(/(^|[^\w])_(?=\S)([^_]+?)(?<=\S)_(?!\w)/g, '$1$2')
      .replace(/\\([!-/:-@[-`{-~])/g, '$1');
  });
  // HF doc-builder links to API names: [`~peft.get_peft_model`] → `get_peft_model`.
  return out
    .join('')
    .replace(/\[(`+)~?(?:[\w]+\.)*([^`]+)\1\]/g, '$1$2$1')
    .replace(/\[\[[^\]]*\]\]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Inline markup rendered to plain text, for answers.

/** Plain text of a run of Markdown, and the pieces of it that are verbatim in the source. */
export interface RenderedInline {
  text: string;
  /** Maximal pieces of `text` copied unchanged from the source, in order (each with a letter or digit). */
  verbatim: string[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'", '#x27': "'" };

/** The index just past the code span opened by the backtick run at `i`, or -1 when it never closes. */
function codeSpanEnd(s: string, i: number): number {
  let n = 0;
  while (s[i + n] === '`') n++;
  const run = '`'.repeat(n);
  let close = s.indexOf(run, i + n);
  while (close >= 0 && s[close + n] === '`') {
    let e = close;
    while (s[e] === '`') e++;
    close = s.indexOf(run, e);
  }
  return close < 0 ? -1 : close + n;
}

/** The `]` that closes the `[` at `i` (code spans and nested brackets skipped), or -1. */
function bracketEnd(s: string, i: number): number {
  let depth = 0;
  for (let c = i; c < s.length; c++) {
    const ch = s[c]!;
    if (ch === '\\') c++;
    else if (ch === '`') {
      const e = codeSpanEnd(s, c);
      if (e < 0) return -1;
      c = e - 1;
    } else if (ch === '[') depth++;
    else if (ch === ']' && --depth === 0) return c;
    else if (ch === '\n' && s[c + 1] === '\n') return -1;
  }
  return -1;
}

/** The index just past a link destination `(url "title")` starting at `i`, or -1. */
function destinationEnd(s: string, i: number): number {
  if (s[i] !== '(') return -1;
  let depth = 0;
  for (let c = i; c < s.length; c++) {
    const ch = s[c]!;
    if (ch === '\\') c++;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return c + 1;
    else if (ch === '\n') return -1;
  }
  return -1;
}

/**
 * Inline Markdown as a reader sees it: link and image targets dropped (their text kept), emphasis
 * markers, `[[anchors]]`, autolink brackets and backslash escapes removed, HTML entities decoded, and
 * doc-builder references [`~peft.X`] shown as `X`. Code spans stay verbatim. The verbatim pieces let
 * a grounded answer quote the source although the rendering differs from it.
 */
export function renderInline(source: string): RenderedInline {
  const n = source.length;
  // Per source character: dropped, or replaced by text; the rest is kept as it stands.
  const dropped = new Uint8Array(n);
  const replaced = new Map<number, string>();
  // Characters emphasis markers are never looked for in: code spans, escapes, link targets.
  const opaque = new Uint8Array(n);
  const drop = (from: number, to: number) => dropped.fill(1, from, to);
  const jumps = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const jump = jumps.get(i);
    if (jump !== undefined) {
      i = jump - 1;
      continue;
    }
    const ch = source[i]!;
    if (ch === '\\' && /[!-/:-@[-`{-~]/.test(source[i + 1] ?? '')) {
      drop(i, i + 1);
      opaque[i + 1] = 1;
      i++;
      continue;
    }
    if (ch === '`') {
      const end = codeSpanEnd(source, i);
      if (end < 0) {
        while (source[i + 1] === '`') i++;
        continue;
      }
      opaque.fill(1, i, end);
      i = end - 1;
      continue;
    }
    if (ch === '&') {
      const m = /^&(#?\w+);/.exec(source.slice(i, i + 10));
      const to = m ? ENTITIES[m[1]!.toLowerCase()] : undefined;
      if (m && to !== undefined) {
        drop(i, i + m[0].length);
        replaced.set(i, to);
        i += m[0].length - 1;
      }
      continue;
    }
    if (ch === '<') {
      const m = /^<((?:https?|ftp):\/\/[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>/.exec(source.slice(i, i + 500));
      if (m) {
        drop(i, i + 1);
        drop(i + m[0].length - 1, i + m[0].length);
        opaque.fill(1, i, i + m[0].length);
        i += m[0].length - 1;
      }
      continue;
    }
    const image = ch === '!' && source[i + 1] === '[';
    if (ch !== '[' && !image) continue;
    const open = image ? i + 1 : i;
    if (source[open + 1] === '[') {
      // [[anchor]] / [[open-in-colab]]: a doc-builder directive, not text.
      const end = source.indexOf(']]', open);
      if (end >= 0 && !source.slice(open, end).includes('\n')) {
        drop(i, end + 2);
        i = end + 1;
      }
      continue;
    }
    const close = bracketEnd(source, open);
    if (close < 0) continue;
    const after = source[close + 1];
    let targetEnd = -1;
    if (after === '(') targetEnd = destinationEnd(source, close + 1);
    else if (after === '[') {
      const e = source.indexOf(']', close + 2);
      if (e >= 0 && !source.slice(close + 2, e).includes('\n')) targetEnd = e + 1;
    }
    const inner = source.slice(open + 1, close);
    if (targetEnd < 0) {
      // [`name`] / [`~module.name`]: a doc-builder reference, shown as the code name (the last part with ~).
      const ref = !image && /^(`+)~?[\w.]+\1$/.exec(inner);
      if (!ref) continue;
      const tick = ref[1]!.length;
      drop(open, open + 1);
      drop(close, close + 1);
      if (inner[tick] === '~') drop(open + 1 + tick, open + 1 + inner.lastIndexOf('.') + 1);
      opaque.fill(1, open, close + 1);
      i = close;
      continue;
    }
    drop(i, open + 1);
    drop(close, targetEnd);
    opaque.fill(1, close, targetEnd);
    jumps.set(close, targetEnd);
    i = open;
  }

  // Emphasis, looked for in the kept text with opaque characters masked.
  const at: number[] = [];
  let view = '';
  for (let i = 0; i < n; i++) {
    if (dropped[i]) continue;
    at.push(i);
    view += opaque[i] ? 'x' : source[i];
  }
  const dropMarker = (from: number, len: number) => {
    for (let k = from; k < from + len; k++) dropped[at[k]!] = 1;
  };
  const EMPHASIS = [
    // Asterisk bold may sit inside a word (**b**q, as subscripts leave it); underscores may not (snake_case).
    /(?<![*\\])(\*\*)(?=\S)([^\n]*?[^\s\\])\*\*(?!\*)/g,
    /(?<![\w_\\])(__)(?=\S)([^\n]*?[^\s\\])__(?![\w_])/g,
    /(?<![\w*\\])(\*)(?=[^\s*])([^*\n]*?[^\s*\\])\*(?![\w*])/g,
    /(?<![\w_\\])(_)(?=[^\s_])([^_\n]*?[^\s_\\])_(?![\w_])/g,
  ];
  for (const re of EMPHASIS) {
    const marks: [number, number][] = [];
    for (const m of view.matchAll(re)) marks.push([m.index, m[1]!.length], [m.index + m[1]!.length + m[2]!.length, m[1]!.length]);
    for (const [from, len] of marks) dropMarker(from, len);
    // Later patterns see the text without the markers already removed: ***x*** is bold and italic.
    if (marks.length) {
      let v = '';
      const next: number[] = [];
      at.forEach((src, k) => {
        if (dropped[src]) return;
        next.push(src);
        v += view[k];
      });
      view = v;
      at.splice(0, at.length, ...next);
    }
  }

  let text = '';
  const verbatim: string[] = [];
  let piece = '';
  const endPiece = () => {
    if (/[\p{L}\p{N}]/u.test(piece)) verbatim.push(piece);
    piece = '';
  };
  for (let i = 0; i < n; i++) {
    const r = replaced.get(i);
    if (r !== undefined) {
      endPiece();
      text += r;
    }
    // A space after removed markup that follows a space would double it ("a [[x]] b").
    if (dropped[i] || (source[i] === ' ' && i > 0 && dropped[i - 1] && /[ \n]$/.test(text))) {
      endPiece();
      continue;
    }
    text += source[i];
    piece += source[i];
  }
  endPiece();
  return { text, verbatim };
}

// ---------------------------------------------------------------------------------------------
// Sections.

interface Heading {
  /** 0-based line of the heading's first line, and of its last (setext underline). */
  start: number;
  end: number;
  level: number;
  text: string;
}

type Role = 'text' | 'fence_open' | 'fence_body' | 'fence_close';

interface ScannedLine {
  /** null: removed entirely (front matter, MDX module line). */
  text: string | null;
  role: Role;
}

interface Scan {
  lines: ScannedLine[];
  headings: Heading[];
  fences: { line: number; fence: Fence; body: string[] }[];
  /** Number of real lines (a trailing newline adds none). */
  count: number;
}

function frontMatterEnd(raw: string[]): number {
  const first = raw[0]?.trimEnd();
  if (first !== '---' && first !== '+++') return -1;
  for (let i = 1; i < raw.length; i++) {
    const t = raw[i]!.trimEnd();
    if (t === first || (first === '---' && t === '...')) return i;
  }
  return -1;
}

function scan(source: string, frontMatter = true): Scan {
  // Lines as git and the blob URLs count them: a CR alone is not a line break (it used to be, which
  // put every later span off the file's lines).
  const raw = source.replace(/^\uFEFF/, '').split(/\r?\n/);
  const count = raw.length > 1 && raw[raw.length - 1] === '' ? raw.length - 1 : raw.length;
  const lines: ScannedLine[] = [];
  const headings: Heading[] = [];
  const fences: Scan['fences'] = [];
  const fmEnd = frontMatter ? frontMatterEnd(raw) : -1;
  let fence: Scan['fences'][number] | null = null;
  let skip: Pos | null = null;

  for (let i = 0; i < count; i++) {
    const line = raw[i]!;
    if (i <= fmEnd) {
      lines.push({ text: null, role: 'text' });
      continue;
    }
    if (fence) {
      if (fenceCloses(line, fence.fence)) {
        lines.push({ text: line, role: 'fence_close' });
        fence = null;
      } else {
        lines.push({ text: line, role: 'fence_body' });
        fence.body.push(dedent(line, fence.fence.indent));
      }
      continue;
    }
    let from = 0;
    if (skip) {
      if (skip.line > i) {
        lines.push({ text: '', role: 'text' });
        continue;
      }
      from = skip.col;
      skip = null;
    }
    if (from === 0) {
      const f = fenceOpen(line);
      if (f) {
        fence = { line: i, fence: f, body: [] };
        fences.push(fence);
        lines.push({ text: line, role: 'fence_open' });
        continue;
      }
      if (MDX_MODULE_LINE.test(line) || OPEN_IN_COLAB.test(line)) {
        lines.push({ text: null, role: 'text' });
        continue;
      }
    }
    const cleaned = cleanLine(raw, i, from);
    skip = cleaned.skip;
    const text = cleaned.changed ? (cleaned.text.trim() ? cleaned.text.trimEnd() : '') : cleaned.text;
    lines.push({ text, role: 'text' });
    if (from !== 0) continue;
    const atx = atxHeading(line);
    if (atx) {
      headings.push({ start: i, end: i, level: atx.level, text: cleanHeadingText((atxHeading(text) ?? atx).text) });
      continue;
    }
    // Setext: an underline below a paragraph makes the whole paragraph a heading.
    if (SETEXT_UNDERLINE.test(text) && i > 0) {
      let j = i;
      const last = headings[headings.length - 1];
      while (j > 0) {
        const prev = lines[j - 1]!;
        if (prev.role !== 'text' || !prev.text?.trim() || NOT_PARAGRAPH.test(prev.text) || SETEXT_UNDERLINE.test(prev.text)) break;
        if (last && last.end >= j - 1) break;
        j--;
      }
      if (j < i && !/^ {4}/.test(lines[j]!.text!)) {
        const body = lines
          .slice(j, i)
          .map((l) => l.text!.trim())
          .join(' ');
        headings.push({ start: j, end: i, level: text.trim()[0] === '=' ? 1 : 2, text: cleanHeadingText(body) });
      }
    }
  }
  return { lines, headings, fences, count };
}

/** Joined kept lines; runs of blank lines outside code fences collapse to one. */
function joinLines(lines: ScannedLine[]): string {
  const out: string[] = [];
  let blank = false;
  for (const l of lines) {
    if (l.text === null) continue;
    const isBlank = l.role === 'text' && !l.text.trim();
    if (isBlank && blank) continue;
    blank = isBlank;
    out.push(isBlank ? '' : l.text);
  }
  return out.join('\n').trim();
}

function baseName(path: string): string {
  const name = path.split(/[\\/]/).pop() ?? path;
  return name.replace(/\.[^.]+$/, '') || name;
}

export function splitDocSections(path: string, source: string): { title: string; sections: DocSection[] } {
  const { lines, headings, fences, count } = scan(source);
  const sections: DocSection[] = [];
  // Fences are in line order: find the first in range by bisection (a filter per section was quadratic).
  const codeIn = (from: number, to: number): DocCodeBlock[] => {
    let lo = 0;
    let hi = fences.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (fences[mid]!.line < from) lo = mid + 1;
      else hi = mid;
    }
    const out: DocCodeBlock[] = [];
    for (let k = lo; k < fences.length && fences[k]!.line <= to; k++) out.push({ lang: fences[k]!.fence.lang, code: fences[k]!.body.join('\n') });
    return out;
  };

  const firstHeading = headings[0]?.start ?? count;
  const intro = lines.slice(0, firstHeading);
  const introText = joinLines(intro);
  if (introText) {
    const start = intro.findIndex((l) => l.text !== null && l.text.trim() !== '');
    sections.push({
      headingPath: [],
      level: 0,
      startLine: start + 1,
      endLine: firstHeading,
      text: introText,
      codeBlocks: codeIn(start, firstHeading - 1),
      empty: false,
    });
  }

  const stack: { level: number; text: string }[] = [];
  headings.forEach((h, k) => {
    while (stack.length && stack[stack.length - 1]!.level >= h.level) stack.pop();
    stack.push({ level: h.level, text: h.text });
    const end = (headings[k + 1]?.start ?? count) - 1;
    const span = lines.slice(h.start, end + 1);
    const body = lines.slice(h.end + 1, end + 1);
    sections.push({
      headingPath: stack.map((s) => s.text),
      level: h.level,
      startLine: h.start + 1,
      endLine: end + 1,
      text: joinLines(span),
      codeBlocks: codeIn(h.start, end),
      empty: !body.some((l) => l.text !== null && l.text.trim() !== ''),
    });
  });

  const title = headings.find((h) => h.level === 1)?.text || baseName(path);
  return { title, sections };
}

// ---------------------------------------------------------------------------------------------
// Records.

export function docSectionRecords(path: string, source: string, ref: RepoRef): SourceRecord[] {
  const { title, sections } = splitDocSections(path, source);
  const seen = new Map<string, number>();
  const out: SourceRecord[] = [];
  for (const s of sections) {
    const joined = s.headingPath.join(' > ');
    // Same heading path twice in a file ("Example" under one parent): the second is "Example (2)".
    const n = (seen.get(joined) ?? 0) + 1;
    seen.set(joined, n);
    if (s.empty) continue;
    const locator = n > 1 ? `${joined} (${n})` : joined;
    const contentHash = sha256Hex(s.text);
    const redacted = redactSecrets(s.text);
    const qualname = redactSecrets(locator || title);
    out.push({
      id: contentId('doc_section', path, locator, contentHash),
      kind: 'doc_section',
      text: redacted.text,
      contentHash,
      provenance: provenanceAt(ref.repo, ref.sha, { path, startLine: s.startLine, endLine: s.endLine, qualname: qualname.text, url: blobUrl(ref, path, s.startLine, s.endLine) }),
      code: null,
      redactions: [...new Set([...redacted.kinds, ...qualname.kinds])],
      facts: { type: 'doc_section', headingPath: s.headingPath.map((h) => redactSecrets(h).text), blocks: docBlocks(redacted.text) },
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Blocks of one section's cleaned text, for the doc rules.

export type { DocBlock };

/** Headings, fenced code and blank-line-separated paragraphs of cleaned text; lines 0-based. */
export function docBlocks(text: string): DocBlock[] {
  // Section text never has front matter: a leading `---` in it is a thematic break.
  const { lines, headings, fences } = scan(text, false);
  const out: DocBlock[] = [];
  const headingAt = new Map(headings.map((h) => [h.start, h]));
  const fenceAt = new Map(fences.map((f) => [f.line, f]));
  let para: { lines: string[]; start: number } | null = null;
  const flush = (end: number) => {
    if (para) out.push({ kind: 'paragraph', lines: para.lines, startLine: para.start, endLine: end });
    para = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const h = headingAt.get(i);
    if (h) {
      flush(i - 1);
      out.push({ kind: 'heading', level: h.level, title: h.text, startLine: h.start, endLine: h.end });
      i = h.end;
      continue;
    }
    const f = fenceAt.get(i);
    if (f) {
      flush(i - 1);
      let end = i + 1;
      while (end < lines.length && lines[end]!.role === 'fence_body') end++;
      if (end >= lines.length) end = lines.length - 1;
      out.push({ kind: 'code', lang: f.fence.lang, code: f.body.join('\n'), startLine: i, endLine: end });
      i = end;
      continue;
    }
    const t = lines[i]!.text;
    if (t === null || !t.trim()) {
      flush(i - 1);
      continue;
    }
    if (para === null) para = { lines: [], start: i };
    (para as { lines: string[] }).lines.push(t);
  }
  flush(lines.length - 1);
  return out;
}
