// The tree-sitter extractor against Python's own ast (scripts/py_ast_extract.py), symbol by symbol,
// on every fixture file the machine's Python can parse.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { extractPythonSymbols } from '../extractors/python.js';
import { BROKEN_PY, EDGE_PY, GENERIC_PY, MODELS_PY, SECRETS_PY, SHAPES_PY, makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

const SCRIPT = fileURLToPath(new URL('../scripts/py_ast_extract.py', import.meta.url));

let repo: FixtureRepo;
beforeAll(async () => {
  repo = await makeRepo({
    'pkg/shapes.py': SHAPES_PY,
    'pkg/edge.py': EDGE_PY,
    'pkg/generic.py': GENERIC_PY,
    'pkg/broken.py': BROKEN_PY,
    'pkg/secrets.py': SECRETS_PY,
    'pkg/models.py': MODELS_PY,
  });
});

describe('parity with Python ast', () => {
  it('finds the same classes, functions and methods with the same spans, docstrings and parameters', () => {
    const out = join(tempDir('qaforge-ast-'), 'ast.jsonl');
    const summary = JSON.parse(execFileSync('python3', [SCRIPT, repo.dir, '--out', out]).toString());
    // Python 3.11 cannot parse the PEP 695 file, nor the broken one; everything else it parses.
    expect(summary.failed.map((f: { path: string }) => f.path).sort()).toEqual(['pkg/broken.py', 'pkg/generic.py']);
    const fromAst = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .map((r) => `${r.path} ${r.kind} ${r.qualname} ${r.start_line}-${r.end_line ?? ''} ${JSON.stringify(r.docstring)} (${r.params.join(',')})`);
    const fromTreeSitter = ['pkg/edge.py', 'pkg/models.py', 'pkg/secrets.py', 'pkg/shapes.py'].flatMap((path) =>
      extractPythonSymbols(readFileSync(join(repo.dir, path), 'utf8'), path).symbols.map(
        (s) =>
          `${path} ${s.symbolKind} ${s.qualname} ${s.startLine}-${s.symbolKind === 'module' ? '' : s.endLine} ${JSON.stringify(s.docstring)} (${s.params.map((p) => p.name).join(',')})`,
      ),
    );
    expect(fromTreeSitter.sort()).toEqual(fromAst.sort());
    expect(summary.symbols).toEqual({ module: 4, class: 9, function: 14, method: 8 });
  });
});
