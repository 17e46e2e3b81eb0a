// Python source → code symbols (modules, classes, functions, methods) with tree-sitter.
// Pure: given text, returns symbols and parse errors. Walks statements only, never expressions,
// so the cost beyond parsing stays small.
import Parser from 'tree-sitter';
import Python from 'tree-sitter-python';
import type { CodeSymbol, Param } from '../datasets/schemas.js';
import { redactSecrets } from '../validators/secrets.js';
import { cleandoc, evalStringLiteral } from './docstring.js';
import { squash } from '../lib/text.js';

type Node = Parser.SyntaxNode;

export interface ExtractedSymbol extends CodeSymbol {
  startLine: number;
  endLine: number;
}

export interface ParseError {
  line: number;
  column: number;
  message: string;
}

export interface PythonExtraction {
  symbols: ExtractedSymbol[];
  errors: ParseError[];
  /** The parse tree, for a second look at the same text (usage examples) without parsing it again. */
  tree: Parser.Tree;
}

let sharedParser: Parser | null = null;
/** The one tree-sitter Python parser of this thread (the usage extractor shares it). */
export function pythonParser(): Parser {
  if (!sharedParser) {
    sharedParser = new Parser();
    sharedParser.setLanguage(Python as unknown as Parser.Language);
  }
  return sharedParser;
}

/** "src/pkg/sub/mod.py" → "pkg.sub.mod"; "pkg/__init__.py" → "pkg". */
export function moduleNameForPath(path: string): string {
  let p = path.replace(/\\/g, '/').replace(/\.pyi?$/, '');
  if (p.startsWith('src/')) p = p.slice(4);
  const parts = p.split('/').filter(Boolean);
  if (parts.length > 1 && parts[parts.length - 1] === '__init__') parts.pop();
  return parts.join('.');
}

// A `# Copied from pkg.mod.Symbol[ with A->B]` comment line (transformers' and diffusers' clone
// marker): the target is dotted and ends at a space or the line's end, so a URL or prose does not count.
// Anchored at a line start with no nested repetition: linear in the text.
const COPIED_FROM = /^[ \t]*#[ \t]*Copied from[ \t]+([A-Za-z_]\w*(?:\.\w+)+)(?=[ \t\r]|$)/gm;

/** The targets of a file's `# Copied from` comments, each once, in file order. */
export function copiedFromTargets(source: string): string[] {
  const out = new Set<string>();
  for (const m of source.matchAll(COPIED_FROM)) out.add(m[1]!);
  return [...out];
}

// Every run of whitespace becomes one space. (One pass: `\s*\n\s*` took quadratic time on long runs
// of spaces without a newline.)

const isPublicName = (name: string) => !name.startsWith('_') || (name.startsWith('__') && name.endsWith('__'));

interface Scope {
  kind: 'module' | 'class' | 'function';
  qualname: string | null;
  public: boolean;
  owner?: ExtractedSymbol;
  /** Where the scope's definition ends in the source (UTF-16 index). */
  endIndex: number;
}

const DEFINITIONS = ['function_definition', 'class_definition'];

// Nodes whose last child can be a block that swallowed trailing comments.
const CONTAINERS = new Set([
  'block',
  'function_definition',
  'class_definition',
  'decorated_definition',
  'if_statement',
  'elif_clause',
  'else_clause',
  'for_statement',
  'while_statement',
  'try_statement',
  'except_clause',
  'except_group_clause',
  'finally_clause',
  'with_statement',
  'match_statement',
  'case_clause',
]);

/**
 * 0-based row where a definition's code ends. tree-sitter-python puts comments that follow a
 * block's last statement inside the block; Python's ast (end_lineno) does not count them.
 */
function codeEndRow(n: Node): number {
  // A loop, not recursion: the chain of last children is as deep as the nesting.
  for (;;) {
    if (!CONTAINERS.has(n.type)) return lastRow(n);
    let c = n.lastNamedChild;
    // Error recovery leaves empty blocks at the start of the next line (`def f():` at the end of a file).
    while (c && (c.type === 'comment' || c.startIndex === c.endIndex)) c = c.previousNamedSibling;
    if (!c) return lastRow(n);
    n = c;
  }
}

/**
 * 0-based row of a node's last character. A node that ends at column 0 ends with the newline of the
 * row before (error recovery: `x = 1 \` at the end of a file); counting the next row put the
 * symbol's end past the file's last line.
 */
function lastRow(n: Node): number {
  const end = n.endPosition;
  return end.column === 0 && end.row > n.startPosition.row ? end.row - 1 : end.row;
}

function docstringOf(body: Node | null): { text: string; endLine: number } | null {
  if (!body) return null;
  let first = body.firstNamedChild;
  while (first && first.type === 'comment') first = first.nextNamedSibling;
  if (!first || first.type !== 'expression_statement' || first.namedChildCount !== 1) return null;
  const lit = first.namedChild(0)!;
  let value: string | null = null;
  if (lit.type === 'string') value = evalStringLiteral(lit.text);
  else if (lit.type === 'concatenated_string') {
    const parts = lit.namedChildren.filter((n) => n.type === 'string').map((n) => evalStringLiteral(n.text));
    value = parts.some((p) => p === null) ? null : parts.join('');
  }
  if (value === null) return null;
  return { text: cleandoc(value), endLine: lit.endPosition.row + 1 };
}

/**
 * Splits Python source text at top-level occurrences of `sep` (outside brackets and strings),
 * dropping comments. Works on the text of one parameter list, so it stays simple.
 */
function splitTopLevel(text: string, sep: ',' | ':' | '=', max = Infinity): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quote = '';
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = '';
      }
      continue;
    }
    if (c === '"' || c === "'") quote = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
    else if (c === '#') {
      const nl = text.indexOf('\n', i);
      out += text.slice(start, i);
      i = nl < 0 ? text.length : nl - 1;
      start = i + 1;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && c === sep && parts.length < max - 1) {
      // `=` inside ==, !=, <=, >=, := or `:` of := is not a separator.
      const prev = text[i - 1];
      const next = text[i + 1];
      if (sep === '=' && (next === '=' || prev === '=' || prev === '!' || prev === '<' || prev === '>' || prev === ':')) continue;
      if (sep === ':' && next === '=') continue;
      parts.push(out + text.slice(start, i));
      out = '';
      start = i + 1;
    }
  }
  parts.push(out + text.slice(start));
  return parts;
}

/** Parameters from the text of a `parameters` node, e.g. "(self, x: int = 1, *args, **kw)". */
export function paramsFromText(text: string): Param[] {
  const inner = text.trim().replace(/^\(/, '').replace(/\)$/, '');
  const out: Param[] = [];
  let keywordOnly = false;
  for (const raw of splitTopLevel(inner, ',')) {
    const piece = raw.trim();
    if (!piece) continue;
    if (piece === '/') {
      for (const q of out) if (q.kind === 'positional_or_keyword') q.kind = 'positional_only';
      continue;
    }
    if (piece === '*') {
      keywordOnly = true;
      continue;
    }
    const [left, dflt] = splitTopLevel(piece, '=', 2);
    const [nameRaw, annotation] = splitTopLevel(left!, ':', 2);
    let name = nameRaw!.trim();
    let kind: Param['kind'] = keywordOnly ? 'keyword_only' : 'positional_or_keyword';
    if (name.startsWith('**')) {
      kind = 'var_keyword';
      name = name.slice(2).trim();
    } else if (name.startsWith('*')) {
      kind = 'var_positional';
      keywordOnly = true;
      name = name.slice(1).trim();
    }
    out.push({
      name,
      kind,
      annotation: annotation === undefined ? null : squash(annotation),
      default: dflt === undefined ? null : squash(dflt),
    });
  }
  return out;
}

/** "(self, x: int = 1, *, y=2) -> str", rendered the way inspect.signature does. */
export function renderSignature(params: Param[], returns: string | null, typeParams: string | null): string {
  const parts: string[] = [];
  let starDone = false;
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    if (p.kind === 'keyword_only' && !starDone) {
      parts.push('*');
      starDone = true;
    }
    if (p.kind === 'var_positional') starDone = true;
    let s = p.kind === 'var_positional' ? `*${p.name}` : p.kind === 'var_keyword' ? `**${p.name}` : p.name;
    if (p.annotation !== null) s += `: ${p.annotation}`;
    if (p.default !== null) s += p.annotation !== null ? ` = ${p.default}` : `=${p.default}`;
    parts.push(s);
    if (p.kind === 'positional_only' && params[i + 1]?.kind !== 'positional_only') parts.push('/');
  }
  return `${typeParams ?? ''}(${parts.join(', ')})${returns !== null ? ` -> ${returns}` : ''}`;
}

/**
 * The first ERROR or MISSING node under `node`, or the deepest node on the way to it. A loop down
 * the first erroring child, not recursion: 10,000 nested brackets around an error overflowed the stack.
 */
function firstError(node: Node): Node | null {
  for (let n = node; ; ) {
    if (n.type === 'ERROR' || n.isMissing) return n;
    const next = n.children.find((c) => c.hasError || c.isMissing);
    if (!next) return n === node ? null : n;
    n = next;
  }
}

/** Labels definitions that share a qualname so questions can say which one they mean. */
function labelVariants(symbols: ExtractedSymbol[]): void {
  const groups = new Map<string, ExtractedSymbol[]>();
  for (const s of symbols) {
    if (s.symbolKind === 'module') continue;
    const g = groups.get(s.qualname);
    if (g) g.push(s);
    else groups.set(s.qualname, [s]);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const isOverload = (s: ExtractedSymbol) => s.decorators.some((d) => /^(typing(_extensions)?\.)?overload$/.test(d));
    const overloads = g.filter(isOverload);
    g.forEach((s, i) => {
      const deco = s.decorators;
      if (isOverload(s)) s.variant = `overload ${overloads.indexOf(s) + 1} of ${overloads.length}`;
      else if (deco.some((d) => d.endsWith('.setter'))) s.variant = 'property setter';
      else if (deco.some((d) => d.endsWith('.deleter'))) s.variant = 'property deleter';
      else if (deco.some((d) => /^(functools\.)?(cached_)?property$/.test(d))) s.variant = 'property getter';
      else if (overloads.length && g.length - overloads.length === 1) s.variant = 'implementation';
      else s.variant = `definition ${i + 1} of ${g.length}`;
    });
    // Two getters (or setters) under if/else would share a label: number them.
    const byLabel = new Map<string, ExtractedSymbol[]>();
    for (const s of g) byLabel.set(s.variant!, [...(byLabel.get(s.variant!) ?? []), s]);
    for (const [label, same] of byLabel) if (same.length > 1) same.forEach((s, k) => (s.variant = `${label} ${k + 1} of ${same.length}`));
  }
}

/** Every module, class, function and method in one Python file. */
export function extractPythonSymbols(source: string, path: string): PythonExtraction {
  const tree = pythonParser().parse(source);
  const root = tree.rootNode;
  const module = moduleNameForPath(path);
  const symbols: ExtractedSymbol[] = [];
  const errors: ParseError[] = [];
  if (root.hasError) {
    const e = firstError(root);
    const pos = e?.startPosition ?? { row: 0, column: 0 };
    errors.push({
      line: pos.row + 1,
      column: pos.column + 1,
      message: e?.isMissing ? `missing ${e.type}` : `invalid syntax near ${JSON.stringify(redactSecrets(squash(e?.text ?? '').slice(0, 40)).text)}`,
    });
  }

  const modDoc = docstringOf(root);
  const lastLine = Math.max(1, root.endPosition.row + (root.endPosition.column > 0 ? 1 : 0));
  const moduleName = module.split('.').pop() || module;
  const copiedFrom = copiedFromTargets(source);
  symbols.push({
    symbolKind: 'module',
    name: moduleName,
    qualname: module,
    module,
    parent: null,
    signature: null,
    params: [],
    returns: null,
    decorators: [],
    bases: [],
    publicMethods: [],
    docstring: modDoc?.text ?? null,
    isAsync: false,
    isPublic: !moduleName.startsWith('_') || moduleName === '__init__',
    variant: null,
    defLine: 1,
    signatureEndLine: 1,
    headerEndLine: modDoc?.endLine ?? 1,
    ...(copiedFrom.length ? { copiedFrom } : {}),
    startLine: 1,
    endLine: lastLine,
  });

  const visitDefinition = (def: Node, scope: Scope, decorated: Node | undefined): Scope | null => {
    const outer = decorated ?? def;
    const decorators = outer === def ? [] : outer.namedChildren.filter((c) => c.type === 'decorator');
    const nameNode = def.childForFieldName('name');
    if (!nameNode) return null;
    const name = nameNode.text;
    const isClass = def.type === 'class_definition';
    const qualname =
      scope.kind === 'module' ? name : scope.kind === 'class' ? `${scope.qualname}.${name}` : `${scope.qualname}.<locals>.${name}`;
    const body = def.childForFieldName('body');
    const doc = docstringOf(body);
    const typeParamsNode = def.childForFieldName('type_parameters');
    const typeParams = typeParamsNode?.text ?? null;
    const paramsNode = isClass ? null : def.childForFieldName('parameters');
    const params = paramsNode ? paramsFromText(paramsNode.text) : [];
    const returnsNode = isClass ? null : def.childForFieldName('return_type');
    const returns = returnsNode ? squash(returnsNode.text) : null;
    const bases: string[] = [];
    const sup = isClass ? def.childForFieldName('superclasses') : null;
    for (const b of sup?.namedChildren ?? []) if (b.type !== 'keyword_argument' && b.type !== 'comment') bases.push(squash(b.text));
    // The header's `:` sits right after the last of these; the body may start on the same line.
    const headerEnd = returnsNode ?? paramsNode ?? sup ?? typeParamsNode ?? nameNode;
    const signatureEndLine = headerEnd.endPosition.row + 1;
    const isPublic = scope.kind !== 'function' && scope.public && isPublicName(name);
    const symbol: ExtractedSymbol = {
      symbolKind: isClass ? 'class' : scope.kind === 'class' ? 'method' : 'function',
      name,
      qualname,
      module,
      parent: scope.qualname,
      signature: isClass ? null : renderSignature(params, returns, typeParams ? squash(typeParams) : null),
      params,
      returns,
      decorators: decorators.map((d) => squash(d.text.replace(/^@\s*/, ''))),
      bases,
      publicMethods: [],
      docstring: doc?.text ?? null,
      isAsync: !isClass && def.child(0)?.type === 'async',
      isPublic,
      variant: null,
      defLine: def.startPosition.row + 1,
      signatureEndLine,
      headerEndLine: doc?.endLine ?? signatureEndLine,
      startLine: outer.startPosition.row + 1,
      endLine: codeEndRow(def) + 1,
    };
    symbols.push(symbol);
    if (scope.kind === 'class' && !isClass && !name.startsWith('_')) scope.owner?.publicMethods.push(name);
    return { kind: isClass ? 'class' : 'function', qualname, public: isPublic, owner: symbol, endIndex: def.endIndex };
  };

  // One native walk finds every definition, nested or not, including those under if/try/with/match and
  // inside error-recovery nodes; the scope of each is the nearest enclosing definition.
  const stack: Scope[] = [{ kind: 'module', qualname: null, public: true, endIndex: Infinity }];
  // A decorated definition comes just before its definition. Its children are noted rather than
  // each definition asking for its parent: tree-sitter finds a parent by descending from the root,
  // which cost seconds in deeply nested files.
  // The same walk collects the raises and if/elif/else branches that attachRaises needs.
  const decoratedBy = new Map<string, Node>();
  const walked = root.descendantsOfType(WALKED);
  for (const node of walked) {
    if (node.type === 'raise_statement' || BRANCHES.includes(node.type)) continue;
    if (node.type === 'decorated_definition') {
      for (const c of node.namedChildren) if (DEFINITIONS.includes(c.type)) decoratedBy.set(`${c.startIndex}:${c.endIndex}`, node);
      continue;
    }
    while (node.startIndex >= stack[stack.length - 1]!.endIndex) stack.pop();
    const scope = visitDefinition(node, stack[stack.length - 1]!, decoratedBy.get(`${node.startIndex}:${node.endIndex}`));
    if (scope) stack.push(scope);
  }
  attachRaises(walked, symbols);
  labelVariants(symbols);
  return { symbols, errors, tree };
}

const BRANCHES = ['if_statement', 'elif_clause', 'else_clause'];
const WALKED = [...DEFINITIONS, 'decorated_definition', 'raise_statement', ...BRANCHES];
const MAX_RAISE_CHARS = 300;

/**
 * Gives each function and method the `raise` statements of its own body, each with the header line
 * of the `if`/`elif` branch it sits in. `walked` holds the raises, branches and definitions of the
 * tree in document order (the extractor's one native walk; decorated_definition nodes are passed over);
 * containment by index ranges, never by asking tree-sitter for parents.
 */
function attachRaises(walked: Node[], symbols: ExtractedSymbol[]): void {
  const nodes = walked.filter((n) => n.type !== 'decorated_definition');
  if (!nodes.some((n) => n.type === 'raise_statement')) return;
  const byDefLine = new Map<number, ExtractedSymbol>();
  for (const s of symbols) if (s.symbolKind === 'function' || s.symbolKind === 'method') byDefLine.set(s.defLine, s);
  // Open definitions and branches around the current node, innermost last (document order).
  const defs: Node[] = [];
  const branches: Node[] = [];
  for (const n of nodes) {
    while (defs.length && n.startIndex >= defs[defs.length - 1]!.endIndex) defs.pop();
    while (branches.length && n.startIndex >= branches[branches.length - 1]!.endIndex) branches.pop();
    if (n.type !== 'raise_statement') {
      (DEFINITIONS.includes(n.type) ? defs : branches).push(n);
      continue;
    }
    const def = defs[defs.length - 1];
    if (!def || def.type !== 'function_definition') continue;
    const owner = byDefLine.get(def.startPosition.row + 1);
    const raised = n.namedChildren[0];
    if (!owner || !raised) continue; // a bare `raise` re-raises: nothing new
    const target = raised.type === 'call' ? raised.childForFieldName('function') : raised;
    if (!target || !/^[A-Za-z_][\w.]*$/.test(target.text)) continue;
    // Every enclosing if/elif inside this definition whose own block holds the raise adds its condition
    // (a raise two ifs deep needs both); under an `else`, or a condition over several lines, none is stated.
    const conditions: string[] = [];
    let known = true;
    for (const b of branches) {
      if (b.startIndex <= def.startIndex) continue;
      if (b.type === 'else_clause') {
        known = false;
        continue;
      }
      const cond = b.childForFieldName('condition');
      const body = b.childForFieldName('consequence');
      if (!body || n.startIndex < body.startIndex || n.endIndex > body.endIndex) continue; // in this if's elif/else
      if (!cond || cond.text.includes('\n') || cond.text.length > 200) known = false;
      else conditions.push(cond.text);
    }
    // Joined conditions keep their own precedence: `a or b` under `c` is `(a or b) and c`.
    const condition = !known || !conditions.length ? null : conditions.length === 1 ? conditions[0]! : conditions.map((c) => (/\b(or|if|lambda)\b/.test(c) ? `(${c})` : c)).join(' and ');
    (owner.raises ??= []).push({ name: target.text, line: n.startPosition.row + 1, text: n.text.slice(0, MAX_RAISE_CHARS), condition, ...(condition && conditions.length > 1 ? { parts: conditions } : {}) });
  }
}
