// Property-based tests (fast-check) of the Markdown/MDX section splitter: on any input it returns
// ordered, non-overlapping sections and records whose spans lie inside the file, and never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SourceRecord } from '../datasets/schemas.js';
import type { RepoRef } from './code-records.js';
import { docBlocks, docSectionRecords, renderInline, splitDocSections, type DocSection } from './docs.js';

const REF: RepoRef = { repo: 'o/r', sha: 'a'.repeat(40), webUrl: null };
const RUNS = 300;

/**
 * The file's lines as `git show sha:path | sed -n a,bp` numbers them (and as evals/verify.ts
 * checks them): split on \n, a CR alone inside its line, a final \n ending the last line.
 */
const fileLines = (text: string): string[] => {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
};

// ---------------------------------------------------------------------------------------------
// Well-formed Markdown, generated as blocks, rendered with the sections it must yield.

type Block =
  | { t: 'atx'; level: number; text: string }
  | { t: 'setext'; level: 1 | 2; text: string }
  | { t: 'para'; lines: string[] }
  | { t: 'fence'; marks: string; lang: string | null; body: string[] }
  | { t: 'comment' };

const word = fc.constantFrom('Install', 'usage', 'peft', 'LoRA', 'Ünïcode', '日本語', 'x2', 'model', 'é');
const words = fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join(' '));
const block: fc.Arbitrary<Block> = fc.oneof(
  fc.record({ t: fc.constant('atx' as const), level: fc.integer({ min: 1, max: 6 }), text: words }),
  fc.record({ t: fc.constant('setext' as const), level: fc.constantFrom(1 as const, 2 as const), text: words }),
  fc.record({ t: fc.constant('para' as const), lines: fc.array(words, { minLength: 1, maxLength: 3 }) }),
  fc.record({
    t: fc.constant('fence' as const),
    marks: fc.constantFrom('```', '````', '~~~'),
    lang: fc.option(fc.constantFrom('python', 'bash', 'py')),
    // Lines that would be headings, underlines, comments or fences of the other kind outside a fence.
    body: fc.array(fc.constantFrom('x = 1', '# not a heading', '---', '===', '<!-- not a comment', '', '  indented', '``` not a close'), { maxLength: 4 }),
  }),
  fc.record({ t: fc.constant('comment' as const) }),
);

interface ExpectedSection {
  headingPath: string[];
  level: number;
  startLine: number;
  endLine: number;
  text: string;
  codeBlocks: { lang: string | null; code: string }[];
  empty: boolean;
}

/** Renders blocks separated by blank lines; returns the text and the sections splitDocSections must give. */
function renderDoc(blocks: Block[], crlf: boolean, finalEol: boolean): { text: string; expected: ExpectedSection[] } {
  const lines: string[] = [];
  type Open = { s: ExpectedSection; parts: string[] };
  const sections: Open[] = [];
  let intro: Open | null = null;
  const stack: { level: number; text: string }[] = [];
  for (const b of blocks) {
    if (lines.length) lines.push('');
    const at = lines.length + 1;
    let rendered: string[];
    if (b.t === 'atx') rendered = [`${'#'.repeat(b.level)} ${b.text}`];
    else if (b.t === 'setext') rendered = [b.text, b.level === 1 ? '=====' : '-----'];
    else if (b.t === 'para') rendered = b.lines;
    else if (b.t === 'fence') rendered = [b.marks + (b.lang ?? ''), ...b.body, b.marks];
    else rendered = ['<!-- a comment -->'];
    lines.push(...rendered);
    if (b.t === 'atx' || b.t === 'setext') {
      const level = b.level;
      while (stack.length && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, text: b.text });
      const s: ExpectedSection = { headingPath: stack.map((h) => h.text), level, startLine: at, endLine: 0, text: '', codeBlocks: [], empty: true };
      sections.push({ s, parts: [rendered.join('\n')] });
      continue;
    }
    const open = sections[sections.length - 1] ?? intro;
    if (b.t === 'comment') continue; // removed: a blank line, no content
    let target = open;
    if (!target) {
      intro = { s: { headingPath: [], level: 0, startLine: at, endLine: 0, text: '', codeBlocks: [], empty: false }, parts: [] };
      target = intro;
    }
    target.parts.push(rendered.join('\n'));
    target.s.empty = false;
    if (b.t === 'fence') target.s.codeBlocks.push({ lang: b.lang, code: b.body.join('\n') });
  }
  const all = [...(intro ? [intro] : []), ...sections];
  all.forEach((o, k) => {
    o.s.endLine = k + 1 < all.length ? all[k + 1]!.s.startLine - 1 : lines.length;
    o.s.text = o.parts.join('\n\n');
  });
  const text = lines.join(crlf ? '\r\n' : '\n') + (finalEol && lines.length ? (crlf ? '\r\n' : '\n') : '');
  return { text, expected: all.map((o) => o.s) };
}

// A setext heading needs a paragraph-free line above it: the blank line the renderer puts between blocks.
const wellFormedDoc = fc
  .record({ blocks: fc.array(block, { maxLength: 12 }), crlf: fc.boolean(), finalEol: fc.boolean() })
  .map(({ blocks, crlf, finalEol }) => renderDoc(blocks, crlf, finalEol));

// ---------------------------------------------------------------------------------------------
// Hostile Markdown: every line kind the scanner treats specially, broken and mismatched, any line ending.

const hostileChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(' ', '\t', '\0', '\uFEFF', '\uD800', '\uDC00', '\u2028', '\r', '\n', '#', '`', '~', '<', '>', '-', '=', '{', '}', '"', "'", '\\', '[', ']', '!') },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
);
const hostileString = (maxLength: number) => fc.string({ unit: hostileChar, maxLength });

const mdLine = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 1, max: 7 }), words, fc.constantFrom('', ' #', ' ##', '#', ' [[anchor]]')).map(([l, t, c]) => `${'#'.repeat(l)} ${t}${c}`) },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '#',
      '#no-space',
      '    # indented code',
      '   ### three spaces ###',
      '=====',
      '-----',
      '---',
      '+++',
      '...',
      '```',
      '```python',
      '~~~~',
      '````',
      '```js title="a"',
      '  ```',
      '``` `x`',
      '<!-- comment -->',
      '<!--',
      '-->',
      'text <!-- inline',
      '<Tip>',
      '</Tip>',
      '<Tip warning={true}>',
      '<img src="a.png"',
      '  width="1"/>',
      '/>',
      '<hfoption id="x">',
      '</hfoption>',
      '<Youtube id="a"/>',
      'import { Tip } from "./tip.mdx"',
      'export const meta = { a: 1 }',
      '[[open-in-colab]]',
      '[[autodoc]] peft.LoraConfig',
      '- item',
      '1. item',
      '> quote',
      '| a | b |',
      'title: x',
      'Use `<pad>` and <MODEL> with `` ` `` ticks',
      '',
      '',
    ),
  },
  { weight: 3, arbitrary: words },
  { weight: 1, arbitrary: hostileString(20) },
);
const mdEol = fc.constantFrom('\n', '\n', '\n', '\n', '\r\n', '\r', '\r\r\n');
const messyDoc: fc.Arbitrary<string> = fc
  .record({ bom: fc.boolean(), lines: fc.array(fc.tuple(mdLine, mdEol), { maxLength: 40 }), finalEol: fc.boolean() })
  .map(({ bom, lines, finalEol }) => {
    const out = (bom ? '\uFEFF' : '') + lines.map(([l, e]) => l + e).join('');
    return finalEol ? out : out.replace(/[\r\n]+$/, '');
  });

const anyDoc = fc.oneof(
  { weight: 2, arbitrary: wellFormedDoc.map((d) => d.text) },
  { weight: 5, arbitrary: messyDoc },
  { weight: 2, arbitrary: hostileString(300) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
);

// ---------------------------------------------------------------------------------------------
// Checks.

/** Sections in file order, disjoint, each inside the file; levels and heading paths consistent. */
function checkSections(text: string, sections: DocSection[]): void {
  const n = fileLines(text).length;
  let prevEnd = 0;
  sections.forEach((s, k) => {
    const where = `section ${k} ${JSON.stringify(s.headingPath)} ${s.startLine}-${s.endLine} of ${n} lines`;
    expect(prevEnd < s.startLine && s.startLine <= s.endLine && s.endLine <= n, where).toBe(true);
    prevEnd = s.endLine;
    if (s.level === 0) expect([k, s.headingPath, s.empty], where).toEqual([0, [], false]);
    else expect(s.level >= 1 && s.level <= 6 && s.headingPath.length >= 1, where).toBe(true);
  });
}

const pick = (s: DocSection): ExpectedSection => ({
  headingPath: s.headingPath,
  level: s.level,
  startLine: s.startLine,
  endLine: s.endLine,
  text: s.text,
  codeBlocks: s.codeBlocks,
  empty: s.empty,
});

const spans = (path: string, src: string) => splitDocSections(path, src).sections.map((s) => `${s.level} ${s.headingPath.join(' > ')} ${s.startLine}-${s.endLine}`);

// ---------------------------------------------------------------------------------------------

describe('splitDocSections on generated input', () => {
  it('gives generated well-formed Markdown exactly its sections: paths, levels, lines, text, code', () => {
    fc.assert(
      fc.property(wellFormedDoc, ({ text, expected }) => {
        expect(splitDocSections('docs/guide.md', text).sections.map(pick)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws, and keeps sections ordered, disjoint and inside the file (any line endings, unicode, MDX)', () => {
    fc.assert(
      fc.property(anyDoc, fc.constantFrom('docs/guide.md', 'docs/page.mdx'), (text, path) => {
        const { title, sections } = splitDocSections(path, text);
        expect(typeof title).toBe('string');
        checkSections(text, sections);
        // The doc rules split each section's text into blocks: that must hold too.
        for (const s of sections) {
          const lines = s.text.split('\n').length;
          for (const b of docBlocks(s.text)) expect(0 <= b.startLine && b.startLine <= b.endLine && b.endLine < lines, JSON.stringify(b)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('gives records whose provenance is a non-empty section of the file', () => {
    fc.assert(
      fc.property(anyDoc, (text) => {
        const path = 'docs/guide.mdx';
        const sections = splitDocSections(path, text).sections.filter((s) => !s.empty);
        const records = docSectionRecords(path, text, REF);
        expect(records).toHaveLength(sections.length);
        const n = fileLines(text).length;
        records.forEach((r, k) => {
          SourceRecord.parse(r);
          const { startLine, endLine } = r.provenance;
          expect([r.kind, r.provenance.path, startLine, endLine]).toEqual(['doc_section', path, sections[k]!.startLine, sections[k]!.endLine]);
          expect(1 <= startLine! && startLine! <= endLine! && endLine! <= n).toBe(true);
          if (!r.redactions.length) expect(r.text).toBe(sections[k]!.text);
        });
        expect(new Set(records.map((r) => r.id)).size).toBe(records.length);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The hostile inputs by name, with exact outcomes.

describe('splitDocSections on named hostile inputs', () => {
  it('runs an unclosed fence to the end of the file past 50,000 headings, in linear time', { timeout: 30_000 }, () => {
    let src = '';
    for (let i = 0; i < 50_000; i++) src += `## Section ${i}\n\ntext ${i}\n\n\`\`\`py\nx = ${i}\n\`\`\`\n\n`;
    src += '```\n' + '# inside the fence\n'.repeat(50_000);
    const t0 = performance.now();
    const { sections } = splitDocSections('docs/big.md', src);
    const ms = performance.now() - t0;
    expect(sections).toHaveLength(50_000);
    expect(sections.every((s, i) => s.headingPath[0] === `Section ${i}` && s.startLine === 8 * i + 1 && s.codeBlocks.length === (i < 49_999 ? 1 : 2))).toBe(true);
    expect(sections[49_999]).toMatchObject({ startLine: 399_993, endLine: 450_001 });
    expect(sections[49_999]!.codeBlocks[1]).toEqual({ lang: null, code: Array(50_000).fill('# inside the fence').join('\n') });
    expect(docSectionRecords('docs/big.md', src, REF)).toHaveLength(50_000);
    // Quadratic matching of fences to sections took tens of seconds here.
    expect(ms).toBeLessThan(10_000);
    // Opened first, the fence holds every heading: one section of text before any heading.
    expect(spans('a.md', '```\n' + '# h\n'.repeat(50_000))).toEqual(['0  1-50001']);
  });

  it('counts lines by \\n: a CR alone stays inside its line (regression)', () => {
    // A stray CR used to count as a line break, so every later span was one line off the file.
    expect(spans('a.md', '# A\ntext\rmore\n# B\nbody\n')).toEqual(['1 A 1-2', '1 B 3-4']);
    // CR-only: one line as git sees it, so no heading line starts it.
    expect(spans('a.md', '# A\rtext\r# B\rbody\r')).toEqual(['0  1-1']);
    expect(spans('a.md', '## One\r\ntext\r\n\r\n## Two\r\nbody')).toEqual(['2 One 1-3', '2 Two 4-5']);
  });

  it('reads unclosed front matter, comments and components, and mismatched fences', () => {
    expect(spans('a.md', '---\ntitle: x\n# H\ntext\n')).toEqual(['0  1-2', '1 H 3-4']);
    expect(spans('a.md', '<!-- open\n# H\ntext\n')).toEqual([]);
    expect(spans('a.md', 'intro <!-- open\n# H\ntext\n')).toEqual(['0  1-1', '1 H 2-3']);
    expect(splitDocSections('a.mdx', '<Tip>\n\n# Inside\n\n</Tip>\n').sections.map((s) => [s.headingPath, s.startLine, s.endLine, s.text])).toEqual([[['Inside'], 3, 5, '# Inside']]);
    expect(spans('a.md', '````\n```\n# in\n```\n````\n# out\n')).toEqual(['0  1-5', '1 out 6-6']);
    expect(spans('a.md', '~~~\n```\n# in\n~~~\n# out')).toEqual(['0  1-4', '1 out 5-5']);
    expect(spans('a.md', '```\n# a\n~~~\n# b\n')).toEqual(['0  1-4']);
  });

  it('handles long runs of spaces and unclosed inline comments in linear time (regression)', { timeout: 30_000 }, () => {
    const t0 = performance.now();
    expect(splitDocSections('a.md', `# a${' '.repeat(200_000)}b #\n`).sections.map((s) => s.headingPath)).toEqual([[`a b`]]);
    expect(spans('a.mdx', `import a${' '.repeat(200_000)}b\n# H\n`)).toEqual(['0  1-1', '1 H 2-2']);
    expect(spans('a.md', '# H\n' + 'a <!-- x\n'.repeat(50_000))).toEqual(['1 H 1-50001']);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('renderInline on any inline Markdown', () => {
  const piece = fc.constantFrom('word', ' ', '\n', '*', '**', '_', '__', '`', '``', '[', ']', '(', ')', '![', '[[', ']]', '~', '.', '\\', '&amp;', '&', '<', '>', 'https://x.y', 'snake_case', '日本');
  const inline = fc.array(piece, { maxLength: 40 }).map((p) => p.join(''));

  it('never throws, and each verbatim piece is in the source and, in order, in the text', () => {
    fc.assert(
      fc.property(inline, (src) => {
        const r = renderInline(src);
        let at = 0;
        for (const v of r.verbatim) {
          expect(src).toContain(v);
          const i = r.text.indexOf(v, at);
          expect(i).toBeGreaterThanOrEqual(0);
          at = i + v.length;
        }
        // Without markup there is nothing to render.
        if (!/[*_`[\]!<>&\\~]/.test(src)) expect(r.text).toBe(src);
      }),
      { numRuns: RUNS },
    );
  });
});
