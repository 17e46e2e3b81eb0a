// Python string-literal evaluation, inspect.cleandoc, and Google / NumPy / reST docstring sections.

const ESCAPES: Record<string, string> = {
  '\n': '',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/**
 * The value of one Python string literal (`r"""…"""`, `'…'`, …), or null for bytes and f-strings,
 * which Python never treats as docstrings.
 */
export function evalStringLiteral(literal: string): string | null {
  const m = /^([rRuUbBfF]{0,2})('''|"""|'|")/.exec(literal);
  if (!m) return null;
  const prefix = m[1]!.toLowerCase();
  if (prefix.includes('b') || prefix.includes('f')) return null;
  const quote = m[2]!;
  if (!literal.endsWith(quote) || literal.length < m[0].length + quote.length) return null;
  const body = literal.slice(m[0].length, literal.length - quote.length);
  // Python normalises newlines in source to \n before evaluating literals.
  const text = body.replace(/\r\n?/g, '\n');
  if (prefix.includes('r')) return text;
  let invalid = false;
  const value = text.replace(
    /\\(\n|\\|'|"|[abfnrtv]|[0-7]{1,3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})/g,
    (_all, esc: string) => {
      const simple = ESCAPES[esc];
      if (simple !== undefined) return simple;
      const cp = esc[0] === 'x' || esc[0] === 'u' || esc[0] === 'U' ? parseInt(esc.slice(1), 16) : parseInt(esc, 8);
      // Python rejects \U beyond U+10FFFF as a syntax error; so does this (no docstring).
      if (cp > 0x10ffff) {
        invalid = true;
        return '';
      }
      return String.fromCodePoint(cp);
    },
  );
  return invalid ? null : value;
}

function expandTabs(line: string, tabSize = 8): string {
  if (!line.includes('\t')) return line;
  let out = '';
  for (const ch of line) {
    if (ch === '\t') out += ' '.repeat(tabSize - (out.length % tabSize));
    else out += ch;
  }
  return out;
}

// Python's str.lstrip() with no argument strips Unicode whitespace; \s is close enough here.
const lstrip = (s: string) => s.replace(/^\s+/, '');

/** Python 3.11's inspect.cleandoc, line for line. */
export function cleandoc(doc: string): string {
  const lines = doc.split('\n').map((l) => expandTabs(l));
  let margin = Number.MAX_SAFE_INTEGER;
  for (let i = 1; i < lines.length; i++) {
    const content = lstrip(lines[i]!).length;
    if (content) margin = Math.min(margin, lines[i]!.length - content);
  }
  if (lines.length) lines[0] = lstrip(lines[0]!);
  if (margin < Number.MAX_SAFE_INTEGER) for (let i = 1; i < lines.length; i++) lines[i] = lines[i]!.slice(margin);
  while (lines.length && !lines[lines.length - 1]) lines.pop();
  while (lines.length && !lines[0]) lines.shift();
  return lines.join('\n');
}

export interface DocEntry {
  name: string;
  type: string | null;
  description: string;
}

export interface DocSections {
  style: 'google' | 'numpy' | 'rest' | 'plain';
  /** The first paragraph, joined into one line. */
  summary: string;
  params: DocEntry[];
  returns: string | null;
  raises: DocEntry[];
  /** Paragraphs of prose after the summary and outside any section, each joined into one line. */
  details: string[];
}

const GOOGLE_HEADERS: Record<string, 'params' | 'returns' | 'raises' | 'other'> = {
  args: 'params',
  arguments: 'params',
  parameters: 'params',
  params: 'params',
  'keyword args': 'params',
  'keyword arguments': 'params',
  kwargs: 'params',
  returns: 'returns',
  return: 'returns',
  yields: 'returns',
  yield: 'returns',
  raises: 'raises',
  raise: 'raises',
  exceptions: 'raises',
};
const OTHER_HEADERS = new Set([
  'example',
  'examples',
  'note',
  'notes',
  'attributes',
  'see also',
  'references',
  'warning',
  'warnings',
  'todo',
  'methods',
  'usage',
  'other parameters',
]);

const indentOf = (line: string) => line.length - lstrip(line).length;
const joinLines = (lines: string[]) =>
  lines
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');

/** A section header line ("Args:" for Google; "Parameters" over "----------" for NumPy), or null. */
function sectionHeader(lines: string[], i: number): { kind: 'params' | 'returns' | 'raises' | 'other'; numpy: boolean } | null {
  const raw = lines[i]!.trim();
  const next = lines[i + 1]?.trim() ?? '';
  if (/^-{3,}$/.test(next)) {
    const key = raw.toLowerCase();
    const kind = GOOGLE_HEADERS[key] ?? (OTHER_HEADERS.has(key) ? 'other' : null);
    if (kind) return { kind, numpy: true };
  }
  const m = /^([A-Za-z][A-Za-z ]*):$/.exec(raw);
  if (m) {
    const key = m[1]!.toLowerCase();
    const kind = GOOGLE_HEADERS[key] ?? (OTHER_HEADERS.has(key) ? 'other' : null);
    if (kind) return { kind, numpy: false };
  }
  return null;
}

// "name (type, *optional*): description" — the type may itself hold parentheses and colons.
// (The blanks after the type sit inside its group: two `\s*` in a row split a long run of spaces
// every possible way, quadratic in its length.)
const GOOGLE_ENTRY = /^(\*{0,2}[A-Za-z_][\w.]*)\s*(?:\((.*)\)\s*)?:(?:\s+(.*))?$/;
// "name : type" (NumPy); the type part is optional.
const NUMPY_ENTRY = /^(\*{0,2}[A-Za-z_][\w.]*)\s*(?::\s*(.*))?$/;

/** Entries of an Args/Raises-like block: lines at the block's base indent start an entry. */
function parseEntries(block: string[], numpy: boolean): DocEntry[] {
  const nonEmpty = block.filter((l) => l.trim());
  if (!nonEmpty.length) return [];
  const base = Math.min(...nonEmpty.map(indentOf));
  const entries: DocEntry[] = [];
  let cur: { name: string; type: string | null; desc: string[] } | null = null;
  for (const line of block) {
    if (line.trim() && indentOf(line) === base) {
      const m = (numpy ? NUMPY_ENTRY : GOOGLE_ENTRY).exec(line.trim());
      if (m) {
        if (cur) entries.push({ name: cur.name, type: cur.type, description: joinLines(cur.desc) });
        cur = { name: m[1]!, type: m[2]?.trim() || null, desc: numpy ? [] : [m[3] ?? ''] };
        continue;
      }
    }
    cur?.desc.push(line);
  }
  if (cur) entries.push({ name: cur.name, type: cur.type, description: joinLines(cur.desc) });
  return entries;
}

/** Sections of a cleaned docstring. Unknown layouts fall back to a summary only. */
export function parseDocstring(doc: string): DocSections {
  const lines = doc.split('\n');
  const out: DocSections = { style: 'plain', summary: '', params: [], returns: null, raises: [], details: [] };

  // Summary: the first paragraph, stopping at a blank line, a section header or a reST field.
  const summary: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.trim() || sectionHeader(lines, i) || /^\s*:\w/.test(l)) break;
    summary.push(l);
  }
  out.summary = joinLines(summary);
  // Details: the prose paragraphs that follow, up to the first section, field or code example.
  let para: string[] = [];
  const endParagraph = () => {
    if (para.length) out.details.push(joinLines(para));
    para = [];
  };
  for (; i < lines.length; i++) {
    const l = lines[i]!;
    if (sectionHeader(lines, i) || /^\s*:\w/.test(l) || /^\s*(>>>|```|\.\. )/.test(l) || /::\s*$/.test(l)) break;
    if (!l.trim()) endParagraph();
    else if (indentOf(l) > 0 && !para.length) break; // an indented block: code or a table, not prose
    else para.push(l);
  }
  endParagraph();

  // reST fields: ":param x: desc", ":type x: int", ":returns: desc", ":raises ValueError: desc".
  if (lines.some((l) => /^\s*:(param|parameter|arg|argument|key|keyword|returns?|raises?|except|exception)\b/.test(l))) {
    out.style = 'rest';
    const types = new Map<string, string>();
    const fields: { tag: string; arg: string; desc: string[] }[] = [];
    for (const l of lines) {
      const m = /^\s*:(\w+)(?:\s+([^:]+))?:\s*(.*)$/.exec(l);
      if (m) fields.push({ tag: m[1]!.toLowerCase(), arg: (m[2] ?? '').trim(), desc: [m[3] ?? ''] });
      else if (fields.length && l.trim()) fields[fields.length - 1]!.desc.push(l);
    }
    for (const f of fields) {
      const desc = joinLines(f.desc);
      if (f.tag === 'type') types.set(f.arg, desc);
      else if (['param', 'parameter', 'arg', 'argument', 'key', 'keyword'].includes(f.tag)) {
        // ":param int x: desc" carries the type inline.
        const parts = f.arg.split(/\s+/);
        const name = parts.pop()!;
        out.params.push({ name, type: parts.join(' ') || null, description: desc });
      } else if (f.tag === 'returns' || f.tag === 'return') out.returns = desc;
      else if (['raises', 'raise', 'except', 'exception'].includes(f.tag))
        out.raises.push({ name: f.arg, type: null, description: desc });
    }
    for (const p of out.params) p.type ??= types.get(p.name) ?? null;
    return out;
  }

  for (let i = 0; i < lines.length; i++) {
    const h = sectionHeader(lines, i);
    if (!h) continue;
    const headerIndent = indentOf(lines[i]!);
    let j = i + (h.numpy ? 2 : 1);
    const block: string[] = [];
    // Google blocks are indented under their header; NumPy blocks run to the next header.
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (sectionHeader(lines, j)) break;
      if (!h.numpy && l.trim() && indentOf(l) <= headerIndent) break;
      block.push(l);
    }
    out.style = h.numpy ? 'numpy' : 'google';
    if (h.kind === 'params') out.params.push(...parseEntries(block, h.numpy));
    else if (h.kind === 'raises') out.raises.push(...parseEntries(block, h.numpy));
    else if (h.kind === 'returns') out.returns = joinLines(block) || null;
    i = j - 1;
  }
  return out;
}

// Docstrings that say nothing: placeholders, licence headers, "see base class".
const BOILERPLATE = [
  /^(todo|fixme|xxx|tbd)\b/i,
  /^(docstring|description|no description|undocumented|missing docstring)\b/i,
  /^(copyright|coding[:=]|-\*- coding|licensed under|spdx-license)/i,
  /^(see|refer to) (the )?(base|parent|super) ?class/i,
  /^(init|initiali[sz]e|constructor|forward|forward pass|__init__|setup|set up)\.?$/i,
  /^(inherit(ed)? ?doc|\{@inheritdoc\}|:inherited-members:)/i,
];

/** True when a docstring summary is empty or boilerplate: no pair may be drawn from it. */
export function isBoilerplateSummary(summary: string): boolean {
  const s = summary.trim();
  if (s.split(/\s+/).filter(Boolean).length < 3) return true;
  return BOILERPLATE.some((re) => re.test(s));
}
