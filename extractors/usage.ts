// Calls of a library's public symbols in Python text (tests, examples, docs code blocks) → usage
// examples: the verbatim call, its lines, the qualified name it resolves to through the file's imports.
// Pure: text in, calls and records out; no I/O here.
import Parser from 'tree-sitter';
import type { SourceRecord } from '../datasets/schemas.js';
import { contentId, sha256Hex } from '../lib/hash.js';
import { redactSecrets } from '../validators/secrets.js';
import { blobUrl, provenanceAt, type RepoRef } from './code-records.js';
import { splitDocSections } from './docs.js';
import { pythonParser } from './python.js';
import { squash } from '../lib/text.js';

type Node = Parser.SyntaxNode;

export interface UsageCall {
  /** What the call resolves to through the imports: `peft.LoraConfig`, `peft.tuners.lora.LoraLayer`. */
  qualname: string;
  /** How a question names it: from the first capitalised part on (`LoraConfig.from_pretrained`), else the last part. */
  name: string;
  /** The callee as written in the file: `LoraConfig`, `LC`, `peft.LoraConfig`. */
  callee: string;
  /** The call verbatim, from the callee to the closing parenthesis (multi-line calls whole). */
  text: string;
  /** 1-based lines of the call in the file. */
  startLine: number;
  endLine: number;
  /** Keyword arguments in call order (`**kwargs` splats not counted). */
  keywords: string[];
  /** Positional arguments (`*args` splats and the `...` of elided docs examples not counted). */
  positional: number;
  /** The innermost function around the call (`TestLora.test_dropout`), or null at module level. */
  enclosing: string | null;
  /** 1-based line of that function's `def`, or null. */
  enclosingDefLine: number | null;
  /** Indentation (blanks) of the line the call starts on, in the text it was parsed from. */
  indent: number;
}

/**
 * At most this many examples of one symbol with one keyword set, per file (or docs page): they ask
 * the same question, and a second answer to a question is rejected as ambiguous.
 */
export const MAX_PER_KEYWORD_SET = 1;
/** At most this many examples of one symbol per file; distinct keyword sets go first. */
export const MAX_PER_SYMBOL = 6;
/** At most this many examples per file: a generated test file cannot flood the corpus. */
export const MAX_PER_FILE = 60;
/** A call longer than this is a data table, not an example anyone reads. */
const MAX_CALL_LINES = 40;
const MAX_CALL_CHARS = 2000;

// Directories with an __init__.py that are not the library: tests and tooling.
const NOT_LIBRARY = new Set(['test', 'tests', 'testing', 'doc', 'docs', 'example', 'examples', 'script', 'scripts', 'benchmark', 'benchmarks', 'bench', 'tools', 'docker']);

/**
 * The repository's top-level packages from its paths: `pkg/__init__.py` and `src/pkg/__init__.py`
 * name `pkg` (tests, docs, examples and scripts directories excepted), sorted.
 */
export function topLevelPackages(paths: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const m = /^(?:src\/)?([A-Za-z_]\w*)\/__init__\.py$/.exec(p);
    if (m && !NOT_LIBRARY.has(m[1]!.toLowerCase())) out.add(m[1]!);
  }
  return [...out].sort();
}

/** Whether a path is the library's own code (`pkg/…` or `src/pkg/…`): its calls are implementation, not usage. */
export const isInsidePackage = (path: string, packages: readonly string[]) =>
  packages.some((p) => path.startsWith(`${p}/`) || path.startsWith(`src/${p}/`));

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A cheap test before parsing: some line imports one of the packages by absolute name. */
function importsAny(source: string, packages: readonly string[]): boolean {
  if (!packages.length) return false;
  const re = new RegExp(`^[ \\t]*(?:from|import)[ \\t]+(?:${packages.map(escapeRe).join('|')})\\b`, 'm');
  return re.test(source);
}

/**
 * A local name and the dotted name it stands for; a module binding cannot be called itself. An import
 * inside a function binds only there (`from peft import config` in one test leaves `config` a local
 * variable in the others); `scope` is that function in the text it was parsed from, null for module level.
 */
interface Binding {
  target: string;
  module: boolean;
  scope: { text: ParsedText; start: number; end: number } | null;
}

type Bindings = Map<string, Binding[]>;

const DOTTED = /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$/;

/** Bindings of the packages' names in one parsed text: `from pkg.mod import A as B`, `import pkg`, `import pkg.mod as m`. */
function bindImports(parsed: ParsedText, packages: ReadonlySet<string>, into: Bindings): void {
  const ours = (dotted: string) => packages.has(dotted.split('.', 1)[0]!);
  const fns: Node[] = [];
  const bind = (name: string, target: string, module: boolean) => {
    const fn = fns[fns.length - 1];
    const list = into.get(name) ?? [];
    list.push({ target, module, scope: fn ? { text: parsed, start: fn.startIndex, end: fn.endIndex } : null });
    into.set(name, list);
  };
  for (const n of parsed.nodes) {
    while (fns.length && n.startIndex >= fns[fns.length - 1]!.endIndex) fns.pop();
    if (n.type === 'function_definition') fns.push(n);
    else if (n.type === 'import_from_statement') {
      const mod = n.childForFieldName('module_name');
      if (!mod || mod.type !== 'dotted_name' || !ours(mod.text)) continue;
      for (const item of n.childrenForFieldName('name')) {
        const name = item.type === 'aliased_import' ? item.childForFieldName('name') : item;
        const alias = item.type === 'aliased_import' ? item.childForFieldName('alias') : item;
        if (!name || !alias || !DOTTED.test(name.text)) continue;
        bind(alias.text, `${mod.text}.${name.text}`, false);
      }
    } else if (n.type === 'import_statement') {
      for (const item of n.childrenForFieldName('name')) {
        if (item.type === 'aliased_import') {
          const name = item.childForFieldName('name');
          const alias = item.childForFieldName('alias');
          if (name && alias && ours(name.text)) bind(alias.text, name.text, true);
        } else if (ours(item.text)) {
          // `import pkg.sub` binds `pkg`; `pkg.sub.X(...)` then resolves through it.
          const top = item.text.split('.', 1)[0]!;
          bind(top, top, true);
        }
      }
    }
  }
}

/** The binding of a name at a place: the innermost function's own import, else the module's. */
function lookup(bindings: Bindings, name: string, parsed: ParsedText, at: number): Binding | undefined {
  let best: Binding | undefined;
  for (const b of bindings.get(name) ?? []) {
    if (b.scope === null) best ??= b;
    else if (b.scope.text === parsed && at >= b.scope.start && at < b.scope.end && (best?.scope == null || b.scope.start > best.scope.start)) best = b;
  }
  return best;
}

/** `peft.tuners.lora.LoraLayer` → `LoraLayer`; `peft.LoraConfig.from_pretrained` → `LoraConfig.from_pretrained`. */
export function displayName(qualname: string): string {
  const parts = qualname.split('.');
  const cap = parts.findIndex((p, i) => i > 0 && /^[A-Z]/.test(p));
  return cap > 0 ? parts.slice(cap).join('.') : parts[parts.length - 1]!;
}

function argumentsOf(call: Node): { keywords: string[]; positional: number } {
  const args = call.childForFieldName('arguments');
  if (!args) return { keywords: [], positional: 0 };
  // `f(x for x in xs)`: the generator is the one positional argument.
  if (args.type === 'generator_expression') return { keywords: [], positional: 1 };
  const keywords: string[] = [];
  let positional = 0;
  for (const a of args.namedChildren) {
    if (a.type === 'keyword_argument') {
      const name = a.childForFieldName('name');
      if (name) keywords.push(name.text);
    } else if (a.type !== 'comment' && a.type !== 'list_splat' && a.type !== 'dictionary_splat' && a.type !== 'ellipsis') positional++;
  }
  return { keywords, positional };
}

interface ParsedText {
  source: string;
  nodes: Node[];
  /** Added to tree rows to give file lines (0 for a whole file). */
  lineOffset: number;
}

const KINDS = ['import_statement', 'import_from_statement', 'call', 'function_definition', 'class_definition'];

function parseText(source: string, lineOffset: number, tree?: Parser.Tree): ParsedText {
  return { source, nodes: (tree ?? pythonParser().parse(source)).rootNode.descendantsOfType(KINDS), lineOffset };
}

/** Every call in one parsed text that resolves to a public name of the packages, in file order. */
function resolveCalls(parsed: ParsedText, bindings: Bindings): UsageCall[] {
  const out: UsageCall[] = [];
  // Enclosing definitions, innermost last (document order, containment by index).
  const defs: { node: Node; qualname: string }[] = [];
  for (const n of parsed.nodes) {
    while (defs.length && n.startIndex >= defs[defs.length - 1]!.node.endIndex) defs.pop();
    if (n.type === 'function_definition' || n.type === 'class_definition') {
      const name = n.childForFieldName('name')?.text ?? '?';
      const outer = defs[defs.length - 1];
      defs.push({ node: n, qualname: outer ? `${outer.qualname}.${name}` : name });
      continue;
    }
    if (n.type !== 'call' || n.hasError) continue;
    const fn = n.childForFieldName('function');
    if (!fn || (fn.type !== 'identifier' && fn.type !== 'attribute') || !DOTTED.test(fn.text)) continue;
    const [head, ...rest] = fn.text.split('.');
    const b = lookup(bindings, head!, parsed, n.startIndex);
    if (!b || (b.module && !rest.length)) continue;
    const qualname = [b.target, ...rest].join('.');
    // Private names and dunders, in the symbol or on the way to it, are not the public API.
    if (qualname.split('.').some((p) => p.startsWith('_'))) continue;
    const { keywords, positional } = argumentsOf(n);
    if (!keywords.length && !positional) continue;
    const text = n.text;
    const startLine = n.startPosition.row + 1 + parsed.lineOffset;
    const endLine = n.endPosition.row + 1 + parsed.lineOffset;
    if (endLine - startLine + 1 > MAX_CALL_LINES || text.length > MAX_CALL_CHARS) continue;
    const lineStart = parsed.source.lastIndexOf('\n', n.startIndex - 1) + 1;
    let fnDef: { node: Node; qualname: string } | undefined;
    for (let i = defs.length - 1; i >= 0 && !fnDef; i--) if (defs[i]!.node.type === 'function_definition') fnDef = defs[i];
    out.push({
      qualname,
      name: displayName(qualname),
      callee: fn.text,
      text,
      startLine,
      endLine,
      keywords,
      positional,
      enclosing: fnDef?.qualname ?? null,
      enclosingDefLine: fnDef ? fnDef.node.startPosition.row + 1 + parsed.lineOffset : null,
      indent: leadingSpace(parsed.source.slice(lineStart, lineStart + 200)),
    });
  }
  return out;
}

const leadingSpace = (line: string) => /^[ \t]*/.exec(line)![0].length;


/** The keyword set of a call: its distinct keyword names, sorted. */
export const keywordSet = (c: UsageCall) => [...new Set(c.keywords)].sort();

/**
 * The bounded share of a file's calls: the same call text once; per symbol at most MAX_PER_SYMBOL,
 * one of each keyword set before a second of any, at most MAX_PER_KEYWORD_SET per set; per file at
 * most MAX_PER_FILE, taken one symbol at a time. Returned in file order.
 */
export function selectExamples(calls: UsageCall[]): UsageCall[] {
  const seenText = new Set<string>();
  const bySymbol = new Map<string, Map<string, UsageCall[]>>();
  for (const c of calls) {
    const key = squash(c.text);
    if (seenText.has(key)) continue;
    seenText.add(key);
    const sets = bySymbol.get(c.qualname) ?? new Map<string, UsageCall[]>();
    bySymbol.set(c.qualname, sets);
    const set = keywordSet(c).join(',');
    sets.set(set, [...(sets.get(set) ?? []), c]);
  }
  const perSymbol: UsageCall[][] = [];
  for (const sets of bySymbol.values()) {
    const picked: UsageCall[] = [];
    for (let round = 0; round < MAX_PER_KEYWORD_SET && picked.length < MAX_PER_SYMBOL; round++)
      for (const list of sets.values()) if (round < list.length && picked.length < MAX_PER_SYMBOL) picked.push(list[round]!);
    perSymbol.push(picked);
  }
  const out: UsageCall[] = [];
  for (let round = 0; out.length < MAX_PER_FILE && perSymbol.some((p) => round < p.length); round++)
    for (const p of perSymbol) if (round < p.length && out.length < MAX_PER_FILE) out.push(p[round]!);
  return out.sort((a, b) => a.startLine - b.startLine || a.text.length - b.text.length);
}

/** The usage calls of the packages' public names in one Python file, bounded (see selectExamples). */
export function extractUsageCalls(source: string, packages: readonly string[], tree?: Parser.Tree): UsageCall[] {
  if (!importsAny(source, packages)) return [];
  // The code extractor's tree of the same text when it has one: a file is parsed once.
  const parsed = parseText(source, 0, tree);
  const bindings: Bindings = new Map();
  bindImports(parsed, new Set(packages), bindings);
  if (!bindings.size) return [];
  return selectExamples(resolveCalls(parsed, bindings));
}

/** A Python code block of a docs page, with the file line of its first body line. */
export interface LocatedBlock {
  code: string;
  startLine: number;
}

/**
 * The usage calls in a docs page's Python code blocks. An import in one block holds for the whole
 * page: a page imports once and calls in later blocks. Bounded per page as a file is.
 */
export function extractBlockUsageCalls(blocks: LocatedBlock[], packages: readonly string[]): UsageCall[] {
  if (!blocks.some((b) => importsAny(b.code, packages))) return [];
  const parsed = blocks.map((b) => parseText(b.code, b.startLine - 1));
  const bindings: Bindings = new Map();
  const set = new Set(packages);
  for (const p of parsed) bindImports(p, set, bindings);
  if (!bindings.size) return [];
  return selectExamples(parsed.flatMap((p) => resolveCalls(p, bindings)));
}

// ---------------------------------------------------------------------------------------------
// Records.

/** A usage call and the record that holds it: the generator reads the call, never the record's text. */
export interface UsageExample {
  record: SourceRecord;
  call: UsageCall;
  /** Where the call was found: test code, other code (examples, scripts), or a docs page. */
  origin: 'test' | 'code' | 'docs';
}

/**
 * The call as an answer shows it: continuation lines lose the indentation of the line the call starts
 * on. Only leading blanks after a newline go, so the text matches the verbatim call once whitespace is
 * collapsed.
 */
export function dedentCall(text: string, indent: number): string {
  if (!indent) return text;
  return text.replace(new RegExp(`\\n[ \\t]{0,${indent}}`, 'g'), '\n');
}

function usageRecord(kind: 'code_symbol' | 'doc_section', path: string, text: string, call: UsageCall, ref: RepoRef, lines: { start: number; end: number }): SourceRecord {
  const redacted = redactSecrets(text);
  const contentHash = sha256Hex(text);
  return {
    // The call's hash as well as the text's: two calls on one line are two records.
    id: contentId(kind, path, `usage:${call.qualname}`, sha256Hex(call.text), contentHash),
    kind,
    text: redacted.text,
    contentHash,
    provenance: provenanceAt(ref.repo, ref.sha, { path, startLine: lines.start, endLine: lines.end, qualname: call.qualname, url: blobUrl(ref, path, lines.start, lines.end) }),
    code: null,
    redactions: redacted.kinds,
  };
}

/**
 * Usage examples of one Python file: a `code_symbol` record per call whose text is the enclosing
 * function's `def` line (when there is one) and the call's lines verbatim; provenance is the call's
 * lines, its qualname the symbol the call exercises.
 */
export function codeUsageExamples(path: string, source: string, packages: readonly string[], ref: RepoRef, origin: 'test' | 'code', tree?: Parser.Tree): UsageExample[] {
  const calls = extractUsageCalls(source, packages, tree);
  if (!calls.length) return [];
  const lines = source.split(/\r?\n/);
  return calls.map((call) => {
    const span = lines.slice(call.startLine - 1, call.endLine).join('\n');
    const text = call.enclosingDefLine !== null ? `${lines[call.enclosingDefLine - 1]}\n${span}` : span;
    return { record: usageRecord('code_symbol', path, text, call, ref, { start: call.startLine, end: call.endLine }), call, origin };
  });
}

const PYTHON_LANGS = new Set(['python', 'py', 'python3', 'py3']);

/**
 * Where each of a section's code blocks starts in the file: the first place at or after `from`
 * (0-based) where the block's lines follow one another, each the raw line less its indentation.
 */
function locateBlock(raw: string[], code: string, from: number, to: number): number {
  const body = code.split('\n');
  const fits = (line: string | undefined, want: string) => line !== undefined && line.endsWith(want) && line.slice(0, line.length - want.length).trim() === '';
  for (let i = from; i + body.length - 1 <= to; i++) {
    if (!fits(raw[i], body[0]!)) continue;
    let j = 1;
    while (j < body.length && fits(raw[i + j], body[j]!)) j++;
    if (j === body.length) return i;
  }
  return -1;
}

/**
 * Usage examples of a docs page's Python code blocks: a `doc_section` record per call whose text is
 * the call's lines verbatim. Its provenance keeps the lines of the section the block is in (what a
 * docs record's lines are everywhere else); its qualname is the symbol the call exercises.
 */
export function docUsageExamples(path: string, source: string, packages: readonly string[], ref: RepoRef): UsageExample[] {
  if (!packages.length || !importsAny(source, packages)) return [];
  const raw = source.replace(/^\uFEFF/, '').split(/\r?\n/);
  const blocks: (LocatedBlock & { section: { start: number; end: number } })[] = [];
  for (const s of splitDocSections(path, source).sections) {
    let from = s.startLine - 1;
    for (const b of s.codeBlocks) {
      if (!b.code.trim()) continue;
      const at = locateBlock(raw, b.code, from, s.endLine - 1);
      if (at < 0) continue;
      from = at + b.code.split('\n').length;
      if (b.lang && PYTHON_LANGS.has(b.lang.toLowerCase())) blocks.push({ code: b.code, startLine: at + 1, section: { start: s.startLine, end: s.endLine } });
    }
  }
  const calls = extractBlockUsageCalls(blocks, packages);
  return calls.map((call) => {
    let block = blocks[0]!;
    for (const b of blocks) if (b.startLine <= call.startLine) block = b;
    const section = block.section;
    const text = raw.slice(call.startLine - 1, call.endLine).join('\n');
    return { record: usageRecord('doc_section', path, text, call, ref, section), call, origin: 'docs' as const };
  });
}
