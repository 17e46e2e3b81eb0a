// Python source → code symbols (modules, classes, functions, methods) with tree-sitter.
// Pure: given text, returns symbols and parse errors. Walks statements only, never expressions,
// so the cost beyond parsing stays small.
import Parser from 'tree-sitter';
import Python from 'tree-sitter-python';
import type { CodeSymbol, Param } from '../datasets/schemas.js';
import { cleandoc, evalStringLiteral } from './docstring.js';

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
}

let sharedParser: Parser | null = null;
function parser(): Parser {
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

const squash = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/\s+/g, ' ').trim();

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

function paramsOf(parameters: Node | null): Param[] {
  if (!parameters) return [];
  const out: Param[] = [];
  let keywordOnly = false;
  for (const p of parameters.namedChildren) {
    const t = p.type;
    if (t === 'comment') continue;
    if (t === 'positional_separator') {
      for (const q of out) if (q.kind === 'positional_or_keyword') q.kind = 'positional_only';
      continue;
    }
    if (t === 'keyword_separator') {
      keywordOnly = true;
      continue;
    }
    let nameNode: Node | null = p;
    let annotation: string | null = null;
    let dflt: string | null = null;
    if (t === 'typed_parameter') {
      nameNode = p.namedChildren.find((c) => c.type !== 'type' && c.type !== 'comment') ?? null;
      annotation = p.childForFieldName('type')?.text ?? null;
    } else if (t === 'default_parameter' || t === 'typed_default_parameter') {
      nameNode = p.childForFieldName('name');
      annotation = p.childForFieldName('type')?.text ?? null;
      dflt = p.childForFieldName('value')?.text ?? null;
    }
    if (!nameNode) continue;
    let kind: Param['kind'] = keywordOnly ? 'keyword_only' : 'positional_or_keyword';
    let name = nameNode.text;
    if (nameNode.type === 'list_splat_pattern') {
      kind = 'var_positional';
      keywordOnly = true;
      name = name.replace(/^\*\s*/, '');
    } else if (nameNode.type === 'dictionary_splat_pattern') {
      kind = 'var_keyword';
      name = name.replace(/^\*\*\s*/, '');
    }
    out.push({
      name,
      kind,
      annotation: annotation === null ? null : squash(annotation),
      default: dflt === null ? null : squash(dflt),
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

function firstError(node: Node): Node | null {
  if (node.type === 'ERROR' || node.isMissing) return node;
  for (const c of node.children) if (c.hasError || c.isMissing) return firstError(c) ?? c;
  return null;
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
  }
}

/** Every module, class, function and method in one Python file. */
export function extractPythonSymbols(source: string, path: string): PythonExtraction {
  const tree = parser().parse(source);
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
      message: e?.isMissing ? `missing ${e.type}` : `invalid syntax near ${JSON.stringify(squash(e?.text ?? '').slice(0, 40))}`,
    });
  }

  const modDoc = docstringOf(root);
  const lastLine = Math.max(1, root.endPosition.row + (root.endPosition.column > 0 ? 1 : 0));
  const moduleName = module.split('.').pop() || module;
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
    startLine: 1,
    endLine: lastLine,
  });

  const visitDefinition = (def: Node, scope: Scope): Scope | null => {
    const parent = def.parent;
    const outer = parent?.type === 'decorated_definition' ? parent : def;
    const decorators = outer === def ? [] : outer.namedChildren.filter((c) => c.type === 'decorator');
    const nameNode = def.childForFieldName('name');
    if (!nameNode) return null;
    const name = nameNode.text;
    const isClass = def.type === 'class_definition';
    const qualname =
      scope.kind === 'module' ? name : scope.kind === 'class' ? `${scope.qualname}.${name}` : `${scope.qualname}.<locals>.${name}`;
    const body = def.childForFieldName('body');
    const doc = docstringOf(body);
    const colon = def.children.find((c) => c.type === ':');
    const signatureEndLine = (colon ?? nameNode).endPosition.row + 1;
    const typeParams = def.childForFieldName('type_parameters')?.text ?? null;
    const params = isClass ? [] : paramsOf(def.childForFieldName('parameters'));
    const returnsNode = isClass ? null : def.childForFieldName('return_type');
    const returns = returnsNode ? squash(returnsNode.text) : null;
    const bases: string[] = [];
    if (isClass) {
      const sup = def.childForFieldName('superclasses');
      for (const b of sup?.namedChildren ?? []) if (b.type !== 'keyword_argument' && b.type !== 'comment') bases.push(squash(b.text));
    }
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
      endLine: outer.endPosition.row + 1,
    };
    symbols.push(symbol);
    if (scope.kind === 'class' && !isClass && !name.startsWith('_')) scope.owner?.publicMethods.push(name);
    return { kind: isClass ? 'class' : 'function', qualname, public: isPublic, owner: symbol, endIndex: def.endIndex };
  };

  // One native walk finds every definition, nested or not, including those under if/try/with/match and
  // inside error-recovery nodes; the scope of each is the nearest enclosing definition.
  const stack: Scope[] = [{ kind: 'module', qualname: null, public: true, endIndex: Infinity }];
  for (const node of root.descendantsOfType(DEFINITIONS)) {
    while (node.startIndex >= stack[stack.length - 1]!.endIndex) stack.pop();
    const scope = visitDefinition(node, stack[stack.length - 1]!);
    if (scope) stack.push(scope);
  }
  labelVariants(symbols);
  return { symbols, errors };
}
