// Property-based tests (fast-check) of the Python extractor and of processCodeBatch: on any input they
// return symbols and records or a recorded skip, never throw, and every span lies inside the file.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSource, processCodeBatch } from '../activities/code-batch.js';
import { SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { DEFAULT_LIMITS } from '../validators/checks.js';
import type { RepoRef } from './code-records.js';
import { parseDocstring } from './docstring.js';
import { extractPythonSymbols, type ExtractedSymbol, type ParseError } from './python.js';

const REF: RepoRef = { repo: 'o/r', sha: 'a'.repeat(40), webUrl: null };
const RUNS = 250;

/**
 * The file's lines as `git show sha:path | sed -n a,bp` numbers them: split on \n only (a CR alone
 * is inside a line, as tree-sitter and git see it), a final \n ends the last line rather than
 * starting one, and an empty file counts as one empty line (the module's span is 1-1).
 */
const fileLines = (text: string): string[] => {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
};

// ---------------------------------------------------------------------------------------------
// Well-formed Python, generated as a tree, rendered with the symbols it must yield.

type PyNode =
  | { t: 'simple'; code: string }
  | { t: 'def'; decos: string[]; isAsync: boolean; name: string; params: string; ret: string | null; doc: Doc | null; body: PyNode[] }
  | { t: 'class'; decos: string[]; name: string; bases: string; doc: Doc | null; body: PyNode[] }
  | { t: 'compound'; head: string; body: PyNode[] };

/** A docstring literal (its lines) and the value inspect.cleandoc gives it. */
type Doc = { lines: string[]; value: string };
const DOCS: Doc[] = [
  { lines: ['"""Summary."""'], value: 'Summary.' },
  { lines: ["'''Single quotes.'''"], value: 'Single quotes.' },
  { lines: ['"Plain string."'], value: 'Plain string.' },
  { lines: ['r"""Raw \\d+."""'], value: 'Raw \\d+.' },
  { lines: ['"""Ünïcode — 日本語 ok."""'], value: 'Ünïcode — 日本語 ok.' },
  { lines: ['"""Summary line.', '', 'Args:', '    x: the thing.', '"""'], value: 'Summary line.\n\nArgs:\n    x: the thing.' },
];
const NAMES = ['f', 'g', 'run', '_helper', '__init__', '__call__', 'café', 'Ωmega', 'prop'];
const PARAMS = ['', 'self', 'self, x', 'x: int = 1, *args, y=2, **kw', 'a, /, b, *, c', "*, k: 'str' = '#'", 'x=(1,\n        2)', 'x: list[int] = [1, 2]', 'self, cb=lambda: (lambda y: y)'];
const SIMPLE = ['pass', 'x = 1', 'return x', 'y = f(a, b=2)', 'f = lambda: (lambda y: y)', 'print("x")', '# a comment', 'x: int = 1', 'raise ValueError("bad")', 'assert x, "msg"', 'import os, sys', 'from . import (a,\n    b)', '...', 'y = g(1) \\\n        # a comment the backslash joins'];
const DECOS = ['@decorator', '@property', '@overload', '@functools.cached_property', '@a.b(c=1)'];
// Compound heads; the body goes under the head, extra clauses follow at the head's depth.
const COMPOUND: Record<string, string[]> = {
  'if x:': ['else:'],
  'while x:': [],
  'for i in range(3):': [],
  'with open(p) as f, g() as h:': [],
  'try:': ['except (A, B) as e:', 'finally:'],
  'match cmd:': [],
};

const doc = fc.option(fc.constantFrom(...DOCS), { freq: 2 });
const tree = fc.letrec<{ stmt: PyNode; block: PyNode[] }>((tie) => ({
  stmt: fc.oneof(
    { depthSize: 'small', maxDepth: 5, withCrossShrink: true },
    fc.record({ t: fc.constant('simple' as const), code: fc.constantFrom(...SIMPLE) }),
    fc.record({
      t: fc.constant('def' as const),
      decos: fc.array(fc.constantFrom(...DECOS), { maxLength: 2 }),
      isAsync: fc.boolean(),
      name: fc.constantFrom(...NAMES),
      params: fc.constantFrom(...PARAMS),
      ret: fc.option(fc.constantFrom('int', 'list[str]', '"X"', 'None')),
      doc,
      body: tie('block'),
    }),
    fc.record({
      t: fc.constant('class' as const),
      decos: fc.array(fc.constantFrom(...DECOS), { maxLength: 1 }),
      name: fc.constantFrom(...NAMES),
      bases: fc.constantFrom('', '()', '(Base)', '(A, metaclass=M)', '[T](Generic[T])'),
      doc,
      body: tie('block'),
    }),
    fc.record({ t: fc.constant('compound' as const), head: fc.constantFrom(...Object.keys(COMPOUND)), body: tie('block') }),
  ),
  block: fc.array(tie('stmt'), { minLength: 1, maxLength: 4 }),
}));

interface Expected {
  symbolKind: string;
  qualname: string;
  startLine: number;
  defLine: number;
  signatureEndLine: number;
  headerEndLine: number;
  endLine: number;
  isAsync: boolean;
  decorators: string[];
  docstring: string | null;
}

/** Renders a module; returns its text and, in document order, the symbols Python's ast would give it. */
function render(doc: Doc | null, body: PyNode[], unit: string, crlf: boolean, finalEol: boolean): { text: string; expected: Expected[] } {
  const lines: string[] = [];
  let lastCode = 0; // 1-based line of the last line that is not a comment
  const emit = (depth: number, code: string) => {
    const parts = code.split('\n');
    parts.forEach((p, k) => {
      lines.push(k === 0 ? unit.repeat(depth) + p : p);
      // Python's end_lineno: the last line with code, not a comment (even one a backslash joins on).
      if (!p.trim().startsWith('#')) lastCode = lines.length;
    });
  };
  const emitDoc = (depth: number, d: Doc) => {
    d.lines.forEach((l, k) => lines.push(k === 0 || l ? unit.repeat(depth) + l : l));
    lastCode = lines.length;
  };
  const expected: Expected[] = [];
  const walk = (nodes: PyNode[], depth: number, scope: { kind: 'module' | 'class' | 'function'; qualname: string | null }) => {
    // A block of comments alone does not parse: give it a statement.
    if (!nodes.some((n) => n.t !== 'simple' || !n.code.startsWith('#'))) emit(depth, 'pass');
    for (const n of nodes) {
      if (n.t === 'simple') emit(depth, n.code);
      else if (n.t === 'compound') {
        emit(depth, n.head);
        const inMatch = n.head.startsWith('match');
        if (inMatch) emit(depth + 1, 'case [a, *rest]:');
        walk(n.body, depth + (inMatch ? 2 : 1), scope);
        for (const clause of COMPOUND[n.head]!) {
          emit(depth, clause);
          emit(depth + 1, 'pass');
        }
      } else {
        const startLine = lines.length + 1;
        for (const d of n.decos) emit(depth, d);
        const defLine = lines.length + 1;
        emit(depth, n.t === 'def' ? `${n.isAsync ? 'async ' : ''}def ${n.name}(${n.params})${n.ret ? ` -> ${n.ret}` : ''}:` : `class ${n.name}${n.bases}:`);
        const signatureEndLine = lines.length;
        if (n.doc) emitDoc(depth + 1, n.doc);
        const qualname = scope.kind === 'module' ? n.name : scope.kind === 'class' ? `${scope.qualname}.${n.name}` : `${scope.qualname}.<locals>.${n.name}`;
        const e: Expected = {
          symbolKind: n.t === 'class' ? 'class' : scope.kind === 'class' ? 'method' : 'function',
          qualname,
          startLine,
          defLine,
          signatureEndLine,
          headerEndLine: lines.length,
          endLine: 0,
          isAsync: n.t === 'def' && n.isAsync,
          decorators: n.decos.map((d) => d.slice(1)),
          docstring: n.doc?.value ?? null,
        };
        expected.push(e);
        walk(n.body, depth + 1, { kind: n.t === 'class' ? 'class' : 'function', qualname });
        e.endLine = lastCode;
      }
    }
  };
  if (doc) emitDoc(0, doc);
  const moduleHeaderEnd = lines.length || 1;
  walk(body, 0, { kind: 'module', qualname: null });
  const text = lines.join(crlf ? '\r\n' : '\n') + (finalEol ? (crlf ? '\r\n' : '\n') : '');
  const module: Expected = {
    symbolKind: 'module',
    qualname: 'pkg.mod',
    startLine: 1,
    defLine: 1,
    signatureEndLine: 1,
    headerEndLine: doc ? moduleHeaderEnd : 1,
    endLine: fileLines(text).length,
    isAsync: false,
    decorators: [],
    docstring: doc?.value ?? null,
  };
  return { text, expected: [module, ...expected] };
}

const wellFormed = fc
  .record({ doc, body: fc.array(tree.stmt, { minLength: 1, maxLength: 6 }), unit: fc.constantFrom('    ', '  ', '\t'), crlf: fc.boolean(), finalEol: fc.boolean() })
  .map(({ doc, body, unit, crlf, finalEol }) => render(doc, body, unit, crlf, finalEol));

// ---------------------------------------------------------------------------------------------
// Hostile text: broken constructs at tracked indentation, hostile characters, mutated good code.

/** Characters that break naive scanners: NUL, BOM, lone surrogates, odd line and page breaks, brackets, quotes. */
const hostileChar = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(' ', '\t', '\f', '\v', '\0', '\uFEFF', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\u2028', '\u0085', '\r', '\n', '\r\n', '#', '"', "'", '"""', '(', ')', '[', ']', '{', '}', ':', '\\', '\\\n', '@', '=', ',', 'def ', 'class '),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
);
const hostileString = (maxLength: number) => fc.string({ unit: hostileChar, maxLength });

const name = fc.constantFrom(...NAMES, 'overload', 'match', 'case', 'type', 'print');
const params = fc.constantFrom(...PARAMS, '(a, b)', 'x=', '  # c\n  x', 'token="ghp_' + 'A'.repeat(36) + '"');
/** Lines that open a block (end with `:`), real and broken. */
const header = fc.oneof(
  fc.tuple(name, params).map(([n, p]) => `def ${n}(${p}):`),
  fc.tuple(name, params, fc.constantFrom('int', 'list[str]', '"X"', 'None')).map(([n, p, r]) => `async def ${n}(${p}) -> ${r}:`),
  fc.tuple(name, fc.constantFrom('', '()', '(Base)', '(A, metaclass=M)', '[T](Generic[T])', '(object,')).map(([n, b]) => `class ${n}${b}:`),
  fc.constantFrom(
    ...Object.keys(COMPOUND),
    'elif y:',
    'else:',
    'except E, e:',
    'except* ValueError:',
    'finally:',
    'case {"k": v} if v:',
    'case _:',
    'async with lock:',
    'class:',
    'def (:',
    'def f(x:',
    'lambda x:',
  ),
);
/** One-line statements, Python 2 syntax, decorators, docstrings, unbalanced brackets and quotes, junk. */
const simple = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      ...SIMPLE,
      ...DECOS,
      '@prop.setter',
      'print "x"',
      'print x, y',
      'exec "code" in ns',
      'raise E, "msg"',
      'x = (1, [2, {3',
      ')]}',
      '"unterminated',
      "'''open",
      '"""Closed docstring."""',
      '"""Multi\n    line\n    docstring."""',
      '"a" "b"',
      'b"bytes"',
      'f"{x!r:>{w}}"',
      '"\\N{DASH}\\x41\\777\\U00110000"',
      '`x`',
      '0777L',
      'x <> y',
      'type X[T] = list[T]',
      'global g; nonlocal n',
      'x = 1 \\',
      '\\',
    ),
  },
  { weight: 1, arbitrary: hostileString(30) },
);
const indentUnit = fc.constantFrom('    ', '  ', '\t', ' \t', '\t    ', '\f    ');
const eol = fc.constantFrom('\n', '\n', '\n', '\n', '\r\n', '\r', '\n\n', '\f\n', '\r\r\n');

type Piece = { kind: 'line'; stmt: string; dedent: number; junkIndent: string | null; eol: string } | { kind: 'tower'; depth: number; stmt: string; eol: string };
const piece: fc.Arbitrary<Piece> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('line' as const),
      stmt: fc.oneof({ weight: 2, arbitrary: header }, { weight: 3, arbitrary: simple }),
      dedent: fc.constantFrom(0, 0, 0, 1, 2),
      junkIndent: fc.option(fc.string({ unit: fc.constantFrom(' ', '\t', '\f'), maxLength: 9 }), { freq: 8 }),
      eol,
    }),
  },
  // A run of nested headers: deep-ish indentation.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tower' as const), depth: fc.integer({ min: 2, max: 40 }), stmt: header, eol }) },
);

/** Python-ish lines at tracked indentation: real, broken and hostile constructs mixed, any line endings. */
const messy: fc.Arbitrary<string> = fc
  .record({ bom: fc.boolean(), unit: indentUnit, pieces: fc.array(piece, { maxLength: 40 }), finalEol: fc.boolean() })
  .map(({ bom, unit, pieces, finalEol }) => {
    let out = bom ? '\uFEFF' : '';
    let depth = 0;
    for (const p of pieces) {
      if (p.kind === 'tower') {
        for (let k = 0; k < p.depth; k++) out += unit.repeat(depth++) + p.stmt + p.eol;
        continue;
      }
      out += (p.junkIndent ?? unit.repeat(depth)) + p.stmt + p.eol;
      depth = p.stmt.endsWith(':') ? depth + 1 : Math.max(0, depth - p.dedent);
    }
    return finalEol ? out : out.replace(/\s+$/, '');
  });

/** Well-formed code with hostile text spliced in and possibly cut short (EOF inside a construct). */
const mutated: fc.Arbitrary<string> = fc
  .tuple(wellFormed, fc.array(fc.tuple(fc.nat(), fc.nat(6), hostileString(4)), { maxLength: 4 }), fc.option(fc.nat()))
  .map(([{ text }, edits, cut]) => {
    let t = text;
    for (const [at, del, ins] of edits) {
      const i = at % (t.length + 1);
      t = t.slice(0, i) + ins + t.slice(i + del);
    }
    return cut === null ? t : t.slice(0, cut % (t.length + 1));
  });

// How a file may end: inside a block, after a line continuation, in an open string or bracket.
const ending = fc.constantFrom('', '\\\n', 'x = 1 \\\n', 'def f():\n', 'def f():\n    \\\n', 'class A:\n\n', '"""open\n', 'f(\n', '\n\n');

const pythonish = fc.oneof(
  wellFormed.map((w) => w.text),
  fc.tuple(mutated, ending).map(([t, e]) => t + e),
  fc.tuple(messy, ending).map(([t, e]) => t + e),
);
const anyText = fc.oneof(
  { weight: 6, arbitrary: pythonish },
  { weight: 2, arbitrary: hostileString(300) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
);

const utf8 = new TextEncoder();
/** Byte sequences UTF-8 decoding must reject, or that tell binary from text. */
const BAD_BYTES = [
  [0xed, 0xa0, 0x80], // a lone surrogate, U+D800, as UTF-8 would spell it
  [0xed, 0xbf, 0xbf],
  [0xef, 0xbb, 0xbf], // BOM (valid)
  [0x00],
  [0xc3], // truncated two-byte sequence
  [0xc0, 0x80], // overlong NUL
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xff],
  [0x0d],
  [0xe2, 0x80, 0xa8], // U+2028 (valid)
];
const fileBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) },
  {
    weight: 1,
    arbitrary: fc.tuple(pythonish, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...BAD_BYTES)), { maxLength: 3 })).map(([text, inserts]) => {
      const b = Array.from(utf8.encode(text));
      for (const [at, bytes] of inserts) b.splice(at % (b.length + 1), 0, ...bytes);
      return Uint8Array.from(b);
    }),
  },
  { weight: 2, arbitrary: pythonish.map((t) => utf8.encode(t)) },
);

// ---------------------------------------------------------------------------------------------
// Checks.

const show = (s: ExtractedSymbol) => `${s.symbolKind} ${s.qualname} ${s.startLine}/${s.defLine}/${s.signatureEndLine}/${s.headerEndLine}-${s.endLine}`;

/** Every span is ordered and inside the file; the module spans the whole file; an error points into it. */
function checkSpans(text: string, symbols: ExtractedSymbol[], errors: ParseError[]): void {
  const n = fileLines(text).length;
  expect(symbols[0]).toMatchObject({ symbolKind: 'module', startLine: 1, endLine: n, defLine: 1, signatureEndLine: 1 });
  expect(symbols.slice(1).every((s) => s.symbolKind !== 'module')).toBe(true);
  for (const s of symbols) {
    const ok = 1 <= s.startLine && s.startLine <= s.defLine && s.defLine <= s.signatureEndLine && s.signatureEndLine <= s.headerEndLine && s.headerEndLine <= s.endLine && s.endLine <= n;
    expect(ok, `${show(s)} in a file of ${n} lines`).toBe(true);
  }
  expect(errors.length).toBeLessThanOrEqual(1);
  for (const e of errors) expect(e.line >= 1 && e.line <= n && e.column >= 1, `error at ${e.line}:${e.column} in ${n} lines`).toBe(true);
}

/** What decodeSource must do with these bytes, by its contract: NUL early → binary, bad UTF-8 → not_utf8. */
function expectedReason(data: Uint8Array): 'binary' | 'not_utf8' | null {
  if (data.subarray(0, 8000).includes(0)) return 'binary';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return null;
  } catch {
    return 'not_utf8';
  }
}

/**
 * A record's text is verbatim lines of its span joined by \n (so a CRLF file is compared with its
 * CRLFs read as LF): for a function, method or module exactly its header lines (decorators to the
 * docstring), a substring of the file; for a class its header lines, then header lines of its
 * public methods, every one inside the class's span.
 */
function checkRecordText(text: string, r: SourceRecord): void {
  const normalized = text.replace(/\r\n/g, '\n');
  const { startLine, endLine } = r.provenance;
  const code = r.code!;
  const headerLines = code.headerEndLine - startLine! + 1;
  const textLines = r.text.split('\n');
  expect(normalized.includes(textLines.slice(0, headerLines).join('\n'))).toBe(true);
  if (code.symbolKind === 'class') {
    const span = new Set(text.split(/\r?\n/).slice(startLine! - 1, endLine!));
    for (const l of textLines) expect(span.has(l), JSON.stringify(l)).toBe(true);
  } else {
    expect(textLines).toHaveLength(headerLines);
    expect(normalized.includes(r.text)).toBe(true);
  }
}

const pick = (s: ExtractedSymbol): Expected => ({
  symbolKind: s.symbolKind,
  qualname: s.qualname,
  startLine: s.startLine,
  defLine: s.defLine,
  signatureEndLine: s.signatureEndLine,
  headerEndLine: s.headerEndLine,
  endLine: s.endLine,
  isAsync: s.isAsync,
  decorators: s.decorators,
  docstring: s.docstring,
});

const lineList = (src: string) => extractPythonSymbols(src, 'pkg/mod.py').symbols.map((s) => `${s.symbolKind} ${s.qualname} ${s.startLine}-${s.endLine}`);

// ---------------------------------------------------------------------------------------------

describe('extractPythonSymbols on generated input', () => {
  it('finds exactly the symbols of generated well-formed code, with their exact lines', () => {
    fc.assert(
      fc.property(wellFormed, ({ text, expected }) => {
        const { symbols, errors } = extractPythonSymbols(text, 'pkg/mod.py');
        expect(errors).toEqual([]);
        expect(symbols.map(pick)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws, on Python-ish text and on any string (NUL, lone surrogates, BOM, CR, random unicode)', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const { symbols, errors } = extractPythonSymbols(text, 'pkg/mod.py');
        expect(symbols[0]!.symbolKind).toBe('module');
        expect(Array.isArray(errors)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps 1 ≤ startLine ≤ defLine ≤ signatureEndLine ≤ headerEndLine ≤ endLine ≤ lines of the file', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const { symbols, errors } = extractPythonSymbols(text, 'pkg/mod.py');
        checkSpans(text, symbols, errors);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('processCodeBatch on generated bytes', () => {
  it('gives each file records or a recorded skip, never throws, and keeps record spans and text inside the file', () => {
    fc.assert(
      fc.property(fc.array(fileBytes, { minLength: 1, maxLength: 3 }), (datas) => {
        const files = datas.map((data, i) => ({ path: `pkg/m${i}.py`, data }));
        const out = processCodeBatch({ files, ref: REF, limits: DEFAULT_LIMITS });
        expect(out.files).toBe(files.length);
        for (const s of out.skips) SkipRecord.parse(s);
        for (const f of files) {
          const records = out.records.filter((r) => r.provenance.path === f.path);
          const skips = out.skips.filter((s) => s.path === f.path);
          expect(records.length + skips.length).toBeGreaterThan(0);
          const reason = expectedReason(f.data);
          if (reason) {
            expect(records).toEqual([]);
            expect(skips.map((s) => s.reason)).toEqual([reason]);
            continue;
          }
          // Readable text: the extractor must not fail on it; a syntax error is recorded beside the records.
          expect(skips.filter((s) => s.reason !== 'syntax_error'), JSON.stringify(skips)).toEqual([]);
          expect(skips.length).toBeLessThanOrEqual(1);
          const decoded = decodeSource(f.data);
          if (!('text' in decoded)) throw new Error(`decodeSource refused readable bytes: ${decoded.detail}`);
          const n = fileLines(decoded.text).length;
          expect(records[0]!.code!.symbolKind).toBe('module');
          expect(records[0]!.provenance).toMatchObject({ startLine: 1, endLine: n });
          for (const r of records) {
            SourceRecord.parse(r);
            const { startLine, endLine } = r.provenance;
            expect(1 <= startLine! && startLine! <= endLine! && endLine! <= n, `${r.provenance.qualname} ${startLine}-${endLine} of ${n}`).toBe(true);
            if (!r.redactions.length) checkRecordText(decoded.text, r);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The hostile inputs by name, with exact outcomes.

const batchOf = (bytes: number[] | Uint8Array) => {
  const out = processCodeBatch({ files: [{ path: 'pkg/m.py', data: Uint8Array.from(bytes) }], ref: REF, limits: DEFAULT_LIMITS });
  return { skips: out.skips.map((s) => `${s.reason}: ${s.detail}`), records: out.records.map((r) => `${r.provenance.qualname} ${r.provenance.startLine}-${r.provenance.endLine}`) };
};
const bytesOf = (s: string) => Array.from(utf8.encode(s));

describe('extractPythonSymbols on named hostile inputs', () => {
  it('ends a symbol on its last line when error recovery leaves it ending after the final newline (regression)', () => {
    // Both used to end one line past the end of the file.
    expect(lineList("def f():\n    def f():\n        '''open\n        x = 1 \\\n")).toEqual(['module pkg.mod 1-4', 'function f 1-4', 'function f.<locals>.f 2-4']);
    expect(lineList('class f:\n \uFEFF   \n\\\n')).toEqual(['module pkg.mod 1-3', 'class f 1-3']);
    expect(lineList('def f():\n  x = 1 \\\n\ndef g(): pass\n')).toEqual(['module pkg.mod 1-4', 'function f 1-2', 'function g 4-4']);
    expect(lineList('def f():\n')).toEqual(['module pkg.mod 1-1', 'function f 1-1']);
    // Valid code too: a backslash continuation onto a comment line ends the statement before it, as
    // CPython's ast.end_lineno says (2); the span used to take in the comment line.
    expect(lineList('def f():\n    x = g(1) \\\n        # comment\n\ny = 2\n')).toEqual(['module pkg.mod 1-5', 'function f 1-2']);
  });

  it('reads NUL, lone surrogates, BOM, form feeds and tabs', () => {
    expect(extractPythonSymbols('def f():\0 pass\n', 'pkg/mod.py').errors).toEqual([{ line: 1, column: 9, message: 'invalid syntax near "\\u0000"' }]);
    expect(lineList('def f():\0 pass\n')).toEqual(['module pkg.mod 1-1', 'function f 1-1']);
    const surrogate = extractPythonSymbols('def f():\n    "\uD800"\n    pass\n', 'pkg/mod.py');
    expect(surrogate.errors).toEqual([]);
    expect(surrogate.symbols.map((s) => [s.qualname, s.startLine, s.endLine, s.docstring])).toEqual([['pkg.mod', 1, 3, null], ['f', 1, 3, '\uD800']]);
    expect(lineList('\uFEFFdef f(): pass\n')).toEqual(['module pkg.mod 1-1', 'function f 1-1']);
    expect(lineList('def f():\n\f\tpass\n\f\ndef g():\n \t  return 1\n')).toEqual(['module pkg.mod 1-5', 'function f 1-2', 'function g 4-5']);
  });

  it('counts lines by \\n: a CR alone stays inside its line, CRLF is one break', () => {
    const cr = extractPythonSymbols('def f():\r  pass\rdef g(): pass\r', 'pkg/mod.py');
    expect(cr.errors).toEqual([{ line: 1, column: 12, message: 'invalid syntax near "pass"' }]);
    expect(lineList('def f():\r  pass\rdef g(): pass\r')).toEqual(['module pkg.mod 1-1', 'function f 1-1', 'function g 1-1']);
    expect(lineList('def f():\r\n    pass\r\ndef g(): pass\r\n')).toEqual(['module pkg.mod 1-3', 'function f 1-2', 'function g 3-3']);
    expect(lineList('def f():\r\n    pass\rdef g():\n    pass\n')).toEqual(['module pkg.mod 1-3', 'function f 1-3', 'function f.<locals>.g 2-2']);
  });

  it('reads Python 2 syntax and unbalanced brackets and quotes, keeping what parses', () => {
    const py2 = 'print "x"\ndef f(x):\n    try:\n        pass\n    except E, e:\n        pass\n';
    expect(extractPythonSymbols(py2, 'pkg/mod.py').errors).toEqual([]);
    expect(lineList(py2)).toEqual(['module pkg.mod 1-6', 'function f 2-6']);
    const open = 'class A:\n    def m(self):\n        return (1, [2, {3\n    def n(self): pass\n';
    expect(extractPythonSymbols(open, 'pkg/mod.py').errors).toEqual([{ line: 3, column: 9, message: 'invalid syntax near "return (1, [2, {3 def n(self):"' }]);
    expect(lineList(open)).toEqual(['module pkg.mod 1-4', 'class A 1-4', 'method A.m 2-4']);
    expect(lineList('x = """never closed\ndef f(): pass\n')).toEqual(['module pkg.mod 1-2', 'function f 2-2']);
    expect(extractPythonSymbols('def f(x:\n    pass\ndef g(): pass\n', 'pkg/mod.py').errors).toEqual([
      { line: 1, column: 1, message: 'invalid syntax near "def f(x: pass def g():"' },
    ]);
  });

  it('nests 100 functions deep with exact qualnames and spans', () => {
    let src = '';
    for (let i = 0; i < 100; i++) src += `${'    '.repeat(i)}def f_${i}():\n`;
    src += `${'    '.repeat(100)}pass\n`;
    const { symbols, errors } = extractPythonSymbols(src, 'pkg/mod.py');
    expect(errors).toEqual([]);
    expect(symbols).toHaveLength(101);
    symbols.slice(1).forEach((s, i) => {
      expect(s).toMatchObject({ name: `f_${i}`, symbolKind: 'function', startLine: i + 1, endLine: 101, isPublic: i === 0 });
      expect(s.qualname).toBe(Array.from({ length: i + 1 }, (_, k) => `f_${k}`).join('.<locals>.'));
    });
  });

  it('does not overflow the stack on 10,000 nested brackets, with or without an error inside (regression)', () => {
    for (const [open, close] of [['(', ')'], ['[', ']'], ['f(', ')'], ['{1: ', '}']] as const) {
      const ok = extractPythonSymbols(`x = ${open.repeat(10_000)}1${close.repeat(10_000)}\n`, 'pkg/mod.py');
      expect(ok.errors).toEqual([]);
      expect(ok.symbols.map(show)).toEqual(['module pkg.mod 1/1/1/1-1']);
      // The error sits 10,000 nodes down: finding it recursively threw RangeError.
      const bad = extractPythonSymbols(`x = ${open.repeat(10_000)}1 +${close.repeat(10_000)}\n`, 'pkg/mod.py');
      expect(bad.errors).toEqual([{ line: 1, column: 5 + open.length * 10_000 + 2, message: 'invalid syntax near "+"' }]);
    }
    const unclosed = extractPythonSymbols(`x = ${'('.repeat(10_000)}1\n`, 'pkg/mod.py');
    expect(unclosed.errors).toEqual([{ line: 1, column: 1, message: `invalid syntax near "x = ${'('.repeat(36)}"` }]);
  });

  // tree-sitter-python's scanner keeps at most 511 indentation levels (2 bytes each in a 1,024-byte
  // state); deeper nesting is a recorded syntax error (CPython itself stops at 100 levels).
  it('records 10,000 nested `if x:` blocks as a syntax error, module only', () => {
    let src = '';
    for (let i = 0; i < 10_000; i++) src += `${' '.repeat(i)}if x:\n`;
    src += `${' '.repeat(10_000)}pass\n`;
    const { symbols, errors } = extractPythonSymbols(src, 'pkg/mod.py');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 1, column: 1 });
    expect(errors[0]!.message).toBe(`invalid syntax near "${'if x: '.repeat(6)}if x"`);
    expect(symbols.map(show)).toEqual(['module pkg.mod 1/1/1/1-10001']);
  });

  it('records 10,000 nested `def f_i():` as a syntax error and keeps the innermost 511 as one chain', () => {
    let src = '';
    for (let i = 0; i < 10_000; i++) src += `${' '.repeat(i)}def f_${i}():\n`;
    src += `${' '.repeat(10_000)}pass\n`;
    const { symbols, errors } = extractPythonSymbols(src, 'pkg/mod.py');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 1, column: 1 });
    expect(symbols).toHaveLength(512);
    checkSpans(src, symbols, errors);
    let qualname = '';
    symbols.slice(1).forEach((s, k) => {
      const i = 10_000 - 511 + k;
      qualname = k === 0 ? `f_${i}` : `${qualname}.<locals>.f_${i}`;
      expect([s.qualname === qualname, s.startLine, s.defLine, s.endLine]).toEqual([true, i + 1, i + 1, 10_001]);
    });
  });

  it('finds exactly 100,001 symbols in 100,000 one-line functions', () => {
    let src = '';
    for (let i = 0; i < 100_000; i++) src += `def f${i}(): pass\n`;
    const { symbols, errors } = extractPythonSymbols(src, 'pkg/mod.py');
    expect(errors).toEqual([]);
    expect(symbols).toHaveLength(100_001);
    expect(show(symbols[0]!)).toBe('module pkg.mod 1/1/1/1-100000');
    expect(symbols.every((s, i) => i === 0 || (s.name === `f${i - 1}` && s.startLine === i && s.endLine === i && s.variant === null))).toBe(true);
  });

  it('reads a 10 MB single-line file: a string, and an unclosed call over 10 MB of spaces (regression)', { timeout: 30_000 }, () => {
    const doc = extractPythonSymbols(`"""${'word '.repeat(2_000_000)}"""`, 'pkg/mod.py');
    expect(doc.errors).toEqual([]);
    expect(doc.symbols.map(show)).toEqual(['module pkg.mod 1/1/1/1-1']);
    expect(doc.symbols[0]!.docstring).toHaveLength(10_000_000);
    // The error message squashes the error's text; squashing took quadratic time in a run of spaces.
    const spaces = `x = f(1,${' '.repeat(10_000_000)}2 +`;
    const { symbols, errors } = extractPythonSymbols(spaces, 'pkg/mod.py');
    expect(errors).toEqual([{ line: 1, column: 1, message: 'invalid syntax near "x = f(1, 2 +"' }]);
    expect(symbols.map(show)).toEqual(['module pkg.mod 1/1/1/1-1']);
    // processCodeBatch reads it as that syntax error beside the module, or skips a line that long unparsed.
    const batch = batchOf(utf8.encode(spaces));
    expect([
      { skips: ['syntax_error: line 1, column 1: invalid syntax near "x = f(1, 2 +"; 1 symbols still extracted'], records: ['pkg.m 1-1'] },
      { skips: [expect.stringMatching(/^too_large: line 1 /)], records: [] },
    ]).toContainEqual(batch);
  });

  // Both took minutes: a regex backtracking through every split of a long run of spaces.
  it('squashes a long run of spaces in an annotation, and reads one in a docstring entry, in linear time (regression)', { timeout: 10_000 }, () => {
    const { symbols } = extractPythonSymbols(`def f(x: (int${' '.repeat(300_000)})): pass\n`, 'pkg/mod.py');
    expect(symbols[1]!.signature).toBe('(x: (int ))');
    const doc = parseDocstring(`Do a thing.\n\nArgs:\n    a (int):${' '.repeat(300_000)}The a.\n    b${' '.repeat(300_000)}c\n`);
    // `b …c` is no entry (no colon): it continues a's description.
    expect(doc).toEqual({
      style: 'google',
      summary: 'Do a thing.',
      params: [{ name: 'a', type: 'int', description: `The a. b${' '.repeat(300_000)}c` }],
      returns: null,
      raises: [],
      details: [],
    });
  });
});

describe('processCodeBatch on named hostile bytes', () => {
  it('skips a lone surrogate spelt in UTF-8 (ED A0 80) as not_utf8', () => {
    expect(batchOf([...bytesOf('def f():\n    "'), 0xed, 0xa0, 0x80, ...bytesOf('"\n')])).toEqual({
      skips: ['not_utf8: not valid UTF-8: The encoded data was not valid for encoding utf-8'],
      records: [],
    });
  });

  it('drops a BOM, and reads CR-only and mixed line endings by \\n', () => {
    expect(batchOf([0xef, 0xbb, 0xbf, ...bytesOf('def f(): pass\n')])).toEqual({ skips: [], records: ['pkg.m 1-1', 'f 1-1'] });
    expect(batchOf(bytesOf('def f():\r  pass\rdef g(): pass\r')).records).toEqual(['pkg.m 1-1', 'f 1-1', 'g 1-1']);
    expect(batchOf(bytesOf('def f():\r\n    pass\r\n\rdef g():\n    pass\n')).records).toEqual(['pkg.m 1-4', 'f 1-2', 'g 3-4']);
  });

  it('skips a NUL in the first 8000 bytes as binary, and reads one after them as a syntax error', () => {
    expect(batchOf([...bytesOf('def f(): pass\n'), 0])).toEqual({ skips: ['binary: NUL byte in the first 8000 bytes'], records: [] });
    expect(batchOf([...bytesOf('x = 1\n'.repeat(1400)), 0, ...bytesOf('\ndef f(): pass\n')])).toEqual({
      skips: ['syntax_error: line 1401, column 1: invalid syntax near "\\u0000"; 2 symbols still extracted'],
      records: ['pkg.m 1-1402', 'f 1402-1402'],
    });
  });
});
