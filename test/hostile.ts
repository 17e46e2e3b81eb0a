// A repository of ordinary and hostile files, built by the tests: what a large, old or careless
// codebase can hold, and what must never end a run (see the robustness tests).
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import { EDGE_PY, makeRepo, SHAPES_PY, type FixtureRepo } from './fixtures.js';

/** The ordinary files: their pairs must be the same with or without the hostile ones beside them. */
export const GOOD_FILES: Record<string, string> = {
  'pkg/shapes.py': SHAPES_PY,
  'pkg/edge.py': EDGE_PY,
  'pkg/util.py': `"""Small utilities."""


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """Clamp a value into the closed interval [low, high].

    Args:
        value: The number to clamp.
        low: Lower bound of the interval.
        high: Upper bound of the interval.

    Returns:
        The value, moved into the interval if it was outside.

    Raises:
        ValueError: If low is greater than high.
    """
    if low > high:
        raise ValueError("low > high")
    return max(low, min(high, value))
`,
  'docs/guide.md': `# Guide

## Installing

Install the package with pip and import it from Python; every shape lives in the \`pkg.shapes\` module.

\`\`\`bash
pip install pkg
\`\`\`

## Clamping

Use \`clamp\` to keep a ratio between zero and one before passing it to a shape.
`,
};

export const HOSTILE = {
  deepNesting: 'hostile/deep_nesting.py',
  deepBlocks: 'hostile/deep_blocks.py',
  singleLine: 'hostile/single_line_10mb.py',
  manyFunctions: 'hostile/many_functions.py',
  nul: 'hostile/nul_bytes.py',
  invalidUtf8: 'hostile/invalid_utf8.py',
  loneSurrogate: 'hostile/lone_surrogate.py',
  bom: 'hostile/bom.py',
  crOnly: 'hostile/cr_only.py',
  mixedEndings: 'hostile/mixed_endings.py',
  formFeed: 'hostile/form_feed.py',
  tabsSpaces: 'hostile/tabs_spaces.py',
  python2: 'hostile/python2.py',
  symlinkLoop: 'hostile/loop.py',
  symlinkA: 'hostile/cycle_a.py',
  symlinkB: 'hostile/cycle_b.py',
  submodule: 'hostile/vendored.py',
  markdown: 'hostile/headings.md',
} as const;

/** Byte contents of the hostile regular files (symlinks and the submodule entry are made in git). */
export function hostileFiles(): Record<string, string | Buffer> {
  const depth = 10_000;
  const manyFunctions: string[] = ['"""One hundred thousand one-line functions."""'];
  for (let i = 0; i < 100_000; i++) manyFunctions.push(`def f_${i}(x): return x + ${i}`);
  // 10 MB (decimal) on one line: a list literal, no newline anywhere.
  const head = 'DATA = [';
  const items: string[] = [];
  let size = head.length + 1;
  for (let i = 0; size < 10_000_000 - 12; i++) {
    const s = `${i % 1000}, `;
    items.push(s);
    size += s.length;
  }
  const singleLine = `${head}${items.join('')}0]`;
  const headings: string[] = ['# Fifty thousand headings', ''];
  for (let i = 0; i < 50_000; i++) headings.push(`## Heading ${i}`, '', `Body of section ${i} says something about item ${i}.`, '');
  headings.push('```python', 'def never_closed():', '    pass', '## not a heading: inside the unclosed fence');
  return {
    [HOSTILE.deepNesting]: `x = ${'('.repeat(depth)}1${')'.repeat(depth)}\ny = ${'['.repeat(depth)}${']'.repeat(depth)}\n`,
    // Functions nested 1,000 deep, one space per level (10,000 would take 50 MB of indentation);
    // Python itself stops at 100 levels.
    [HOSTILE.deepBlocks]: Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}def level_${i}():`).join('\n') + `\n${' '.repeat(1000)}pass\n`,
    [HOSTILE.singleLine]: singleLine,
    [HOSTILE.manyFunctions]: manyFunctions.join('\n') + '\n',
    [HOSTILE.nul]: Buffer.from('def has_nul():\n    return "\0"\n'),
    [HOSTILE.invalidUtf8]: Buffer.concat([Buffer.from('def latin():\n    return "'), Buffer.from([0xff, 0xfe, 0xe9]), Buffer.from('"\n')]),
    // A UTF-16 surrogate half encoded as if it were a character (CESU-8): not valid UTF-8.
    [HOSTILE.loneSurrogate]: Buffer.concat([Buffer.from('def surrogate():\n    """Half a pair: '), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('."""\n')]),
    [HOSTILE.bom]: `\ufeff"""A module saved with a byte-order mark."""\n\n\ndef with_bom(a):\n    """Return a unchanged, from a file that starts with a BOM."""\n    return a\n`,
    [HOSTILE.crOnly]: '"""Old Mac line endings."""\r\rdef cr_only(a):\r    """Return a from a file with carriage returns only."""\r    return a\r',
    [HOSTILE.mixedEndings]: '"""Mixed line endings."""\r\n\ndef mixed(a):\r\n    """Return a from a file with mixed line endings."""\n    return a\r\n\rdef after_cr(b):\n    return b\n',
    [HOSTILE.formFeed]: '"""Form feeds between sections."""\n\f\ndef after_feed(a):\n    """Return a after a form feed."""\n\f    return a\n',
    [HOSTILE.tabsSpaces]: 'def tabs(a):\n\t"""Indented with a tab."""\n        return a\n\ndef spaces(b):\n    """Indented with spaces."""\n\treturn b\n',
    [HOSTILE.python2]: 'def old(x):\n    """Python 2 code."""\n    print "x is", x\n    try:\n        pass\n    except ValueError, e:\n        raise ValueError, "bad"\n    return 0777L\n',
    [HOSTILE.markdown]: headings.join('\n') + '\n',
  };
}

/** A repository of the good files, and of the hostile ones too when `hostile` is set (plus `extra`). */
export async function makeHostileRepo(hostile: boolean, extra: Record<string, string | Buffer> = {}): Promise<FixtureRepo> {
  const repo = await makeRepo(hostile ? { ...GOOD_FILES, ...hostileFiles(), ...extra } : { ...GOOD_FILES, ...extra });
  if (!hostile) return repo;
  const git = simpleGit(repo.dir);
  symlinkSync('loop.py', join(repo.dir, HOSTILE.symlinkLoop));
  symlinkSync('cycle_b.py', join(repo.dir, HOSTILE.symlinkA));
  symlinkSync('cycle_a.py', join(repo.dir, HOSTILE.symlinkB));
  // A submodule entry (a gitlink, mode 160000) whose path looks like a Python file.
  await git.raw(['update-index', '--add', '--cacheinfo', `160000,${repo.sha},${HOSTILE.submodule}`]);
  await git.add([HOSTILE.symlinkLoop, HOSTILE.symlinkA, HOSTILE.symlinkB]);
  await git.commit('symlinks and a submodule entry');
  repo.sha = (await git.revparse(['HEAD'])).trim();
  return repo;
}
