import { describe, expect, it } from 'vitest';
import { BROKEN_PY, EDGE_PY, GENERIC_PY, SHAPES_PY } from '../test/fixtures.js';
import { extractPythonSymbols, moduleNameForPath } from './python.js';

const byQual = (src: string, path = 'pkg/mod.py') => {
  const { symbols, errors } = extractPythonSymbols(src, path);
  return { symbols, errors, list: symbols.map((s) => `${s.symbolKind} ${s.qualname}${s.variant ? ` [${s.variant}]` : ''} ${s.startLine}-${s.endLine}`) };
};

describe('extractPythonSymbols', () => {
  it('finds every module, class, function and method of shapes.py with exact spans', () => {
    const { list, errors } = byQual(SHAPES_PY, 'src/pkg/shapes.py');
    expect(errors).toEqual([]);
    expect(list).toEqual([
      'module pkg.shapes 1-77',
      'class Shape 9-21',
      'method Shape.area 12-21',
      'class Circle 24-48',
      'method Circle.__init__ 31-32',
      'method Circle.diameter [property getter] 34-37',
      'method Circle.diameter [property setter] 39-42',
      'method Circle.area 44-45',
      'class Circle.Meta 47-48',
      'function fetch_shape 51-61',
      'function scale [overload 1 of 2] 64-65',
      'function scale [overload 2 of 2] 66-67',
      'function scale [implementation] 68-70',
      'function _private_helper 73-77',
      'function _private_helper.<locals>.inner 75-76',
    ]);
  });

  it('reads signatures, decorators, docstrings, async and visibility', () => {
    const { symbols } = byQual(SHAPES_PY);
    const get = (q: string, i = 0) => symbols.filter((s) => s.qualname === q)[i]!;
    expect(get('fetch_shape')).toMatchObject({
      isAsync: true,
      signature: '(name: str, *, timeout: int = 10) -> Shape',
      returns: 'Shape',
      params: [
        { name: 'name', kind: 'positional_or_keyword', annotation: 'str', default: null },
        { name: 'timeout', kind: 'keyword_only', annotation: 'int', default: '10' },
      ],
      docstring:
        'Fetch a shape by name from the registry.\n\nArgs:\n    name: The registered name of the shape.\n    timeout: Seconds to wait before giving up.\n\nReturns:\n    The shape registered under that name.',
    });
    expect(get('Circle')).toMatchObject({ bases: ['Shape'], publicMethods: ['diameter', 'diameter', 'area'], defLine: 24, headerEndLine: 29 });
    expect(get('Circle.diameter', 1)).toMatchObject({ decorators: ['diameter.setter'], defLine: 40, startLine: 39 });
    expect(get('scale', 0).decorators).toEqual(['overload']);
    expect(get('_private_helper').isPublic).toBe(false);
    expect(get('_private_helper.<locals>.inner').isPublic).toBe(false);
    expect(get('Circle.__init__').isPublic).toBe(true);
    expect(symbols[0]!.docstring).toBe('Geometric shapes and their areas.\n\nUsed by the fixture tests.');
  });

  it('finds definitions under if/else, try/except, with, match, and nested classes', () => {
    const { list, symbols } = byQual(EDGE_PY);
    expect(list).toEqual([
      'module pkg.mod 1-47',
      'function loader [definition 1 of 2] 5-7',
      'function loader [definition 2 of 2] 9-11',
      'class Array 16-17',
      'function in_with 20-21',
      'class Outer 23-27',
      'class Outer.Inner 24-27',
      'class Outer.Inner.Deepest 25-27',
      'method Outer.Inner.Deepest.leaf 26-27',
      'function dispatch 29-36',
      'function dispatch.<locals>.go_handler 32-33',
      'function managed 38-47',
    ]);
    const managed = symbols.find((s) => s.name === 'managed')!;
    expect(managed.decorators).toEqual(['contextlib.contextmanager', 'typing.no_type_check']);
    expect(managed.signature).toBe('(resource, /, *extra, strict: bool = False, **options) -> typing.Iterator[None]');
    expect(managed.params.map((p) => p.kind)).toEqual(['positional_only', 'var_positional', 'keyword_only', 'var_keyword']);
  });

  it('reads PEP 695 generics that Python 3.11 cannot parse', () => {
    const { list, symbols, errors } = byQual(GENERIC_PY);
    expect(errors).toEqual([]);
    expect(list).toEqual(['module pkg.mod 1-11', 'class Box 1-6', 'method Box.get 4-6', 'function first 10-11']);
    expect(symbols.find((s) => s.qualname === 'Box.get')!.signature).toBe('[U](self, default: U) -> T | U');
    expect(symbols.find((s) => s.qualname === 'first')!.signature).toBe('[T](items: list[T]) -> T');
  });

  it('keeps what parses in a file with a syntax error and records the error', () => {
    const { list, errors, symbols } = byQual(BROKEN_PY);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.line).toBe(5);
    expect(list).toContain('function good_before 1-3');
    expect(list).toContain('class AfterError 8-12');
    expect(list).toContain('method AfterError.method 11-12');
    expect(symbols.find((s) => s.qualname === 'AfterError')!.docstring).toBe('Comes after the error and still parses fine.');
  });

  it('maps paths to module names', () => {
    expect(moduleNameForPath('src/transformers/models/bert/modeling_bert.py')).toBe('transformers.models.bert.modeling_bert');
    expect(moduleNameForPath('pkg/__init__.py')).toBe('pkg');
    expect(moduleNameForPath('setup.py')).toBe('setup');
  });
});
