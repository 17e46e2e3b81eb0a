import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SourceRecord } from '../datasets/schemas.js';
import { contentId } from '../lib/hash.js';
import { cleanHeadingText, docBlocks, docSectionRecords, isDocPath, renderInline, splitDocSections } from './docs.js';

const SHA = 'd0c5'.padEnd(40, '0');
const REF = { repo: 'acme/docs', sha: SHA, webUrl: 'https://github.com/acme/docs' };

// Line numbers on the right: the spans below are checked against them.
const MDX = [
  '---', // 1
  'title: Sample',
  '---',
  '<!--Copyright 2024 The HuggingFace Team. All rights reserved.',
  '',
  '# Not a heading: inside the license comment', // 6
  '-->',
  'import { Tip } from "./tip.mdx"',
  '',
  '# Getting [Started](./start.md)[[getting-started]]', // 10
  '',
  'Intro text with <b>bold</b> words and a <MODEL> placeholder.',
  '',
  '<Tip warning={true}>',
  '',
  'Tips keep their text.', // 16
  '',
  '</Tip>',
  '',
  '',
  '```python', // 21
  '# a comment, not a heading',
  'x = 1',
  '```',
  '',
  '## Install ##', // 26
  '',
  '~~~~bash title="setup"',
  'pip install thing',
  '```',
  '# still code', // 31
  '~~~~',
  '<img',
  '  src="a.png"',
  '/>', // 35
  'Setext heading',
  'over two lines',
  '--------------',
  '',
  'Body under setext.', // 40
  '',
  '---',
  '',
  '## Example',
  '', // 45
  '### Example',
  '',
  'Nested example text.',
  '',
  '## Example', // 50
  '',
  'Second example text.',
  '## Empty',
  '# Part <!-- hidden --> Two',
  '',
].join('\n');

describe('splitDocSections', () => {
  it('splits by ATX and setext headings with exact paths, levels and original line spans', () => {
    const { title, sections } = splitDocSections('docs/sample.mdx', MDX);
    expect(title).toBe('Getting Started');
    expect(sections.map((s) => [s.headingPath, s.level, s.startLine, s.endLine, s.empty])).toEqual([
      [['Getting Started'], 1, 10, 25, false],
      [['Getting Started', 'Install'], 2, 26, 35, false],
      [['Getting Started', 'Setext heading over two lines'], 2, 36, 43, false],
      [['Getting Started', 'Example'], 2, 44, 45, true],
      [['Getting Started', 'Example', 'Example'], 3, 46, 49, false],
      [['Getting Started', 'Example'], 2, 50, 52, false],
      [['Getting Started', 'Empty'], 2, 53, 53, true],
      [['Part Two'], 1, 54, 54, true],
    ]);
  });

  it('removes front matter, comments, MDX imports and component tags; keeps inner text and code verbatim', () => {
    const [intro, install, setext] = splitDocSections('docs/sample.mdx', MDX).sections;
    expect(intro!.text).toBe(
      [
        '# Getting [Started](./start.md)[[getting-started]]',
        '',
        'Intro text with bold words and a <MODEL> placeholder.',
        '',
        'Tips keep their text.',
        '',
        '```python',
        '# a comment, not a heading',
        'x = 1',
        '```',
      ].join('\n'),
    );
    expect(intro!.codeBlocks).toEqual([{ lang: 'python', code: '# a comment, not a heading\nx = 1' }]);
    // A ~~~~ fence holds a ``` line and a `#` line; the multi-line <img> tag leaves nothing.
    expect(install!.text).toBe('## Install ##\n\n~~~~bash title="setup"\npip install thing\n```\n# still code\n~~~~');
    expect(install!.codeBlocks).toEqual([{ lang: 'bash', code: 'pip install thing\n```\n# still code' }]);
    // `---` after a blank line is a thematic break, not a heading.
    expect(setext!.text).toBe('Setext heading\nover two lines\n--------------\n\nBody under setext.\n\n---');
  });

  it('keeps text before the first heading only when it has content, spanning from its first content line', () => {
    const src = '<!-- license -->\n\n[[open-in-colab]]\n\nSome intro.\n\nMore.\n# Title\nBody.\n';
    const { title, sections } = splitDocSections('guide.md', src);
    expect(title).toBe('Title');
    expect(sections.map((s) => [s.headingPath, s.level, s.startLine, s.endLine, s.text])).toEqual([
      [[], 0, 5, 7, 'Some intro.\n\nMore.'],
      [['Title'], 1, 8, 9, '# Title\nBody.'],
    ]);
    expect(splitDocSections('g.md', '<!--\nonly a comment\n-->\n\n## A\nx').sections.map((s) => s.headingPath)).toEqual([['A']]);
  });

  it('takes the file name as the title when there is no level-1 heading, and reads CRLF the same', () => {
    const src = '## One\r\ntext\r\n\r\n## Two\r\n```\r\n# code\r\n```\r\n';
    const { title, sections } = splitDocSections('docs/source/en/Quick-Tour.MDX', src);
    expect(title).toBe('Quick-Tour');
    expect(sections.map((s) => [s.headingPath, s.startLine, s.endLine, s.text])).toEqual([
      [['One'], 1, 3, '## One\ntext'],
      [['Two'], 4, 7, '## Two\n```\n# code\n```'],
    ]);
  });

  it('runs an unclosed fence and an unclosed block comment to the end of the file', () => {
    expect(splitDocSections('a.md', '# A\n```py\n# not a heading\n').sections.map((s) => s.headingPath)).toEqual([['A']]);
    expect(splitDocSections('a.md', '# A\ntext\n<!-- open\n## B\n').sections.map((s) => [s.headingPath, s.text])).toEqual([[['A'], '# A\ntext']]);
  });

  it('strips HTML and components but not placeholders, autolinks, code spans or unclosed angle brackets', () => {
    const src = [
      '# T',
      '<div class="flex">',
      '  <img src="x.png" width="100%"/>',
      '</div>',
      '<hfoptions id="x">',
      '<hfoption id="PyTorch">',
      'Use `<pad>` and `List<int>` with <path-to-file> or <https://hf.co>.',
      'Load <ID> when a < b and <b>c</b> <Youtube id="abc"/>',
      '</hfoption>',
      '</hfoptions>',
      '[[autodoc]] PeftModel',
      '    - forward',
    ].join('\n');
    expect(splitDocSections('t.md', src).sections[0]!.text).toBe(
      [
        '# T',
        '',
        'Use `<pad>` and `List<int>` with <path-to-file> or <https://hf.co>.',
        'Load <ID> when a < b and c',
        '',
        '[[autodoc]] PeftModel',
        '    - forward',
      ].join('\n'),
    );
  });

  it('reads quoted attribute values and JSX braces in tags, but not apostrophes in prose', () => {
    const src = [
      '# T',
      'Use <span title="a > b">this</span> and <Tip warning={x > 1}>that</Tip>.',
      "An open <b isn't a tag, it's text",
      '',
      "and <img alt='it\\'s' src=\"x\"",
      '  width="10"/> ends here.',
    ].join('\n');
    expect(splitDocSections('t.md', src).sections[0]!.text).toBe(
      ['# T', 'Use this and that.', "An open <b isn't a tag, it's text", '', 'and', ' ends here.'].join('\n'),
    );
  });

  it('does not make a setext heading of a list item, quote or table row', () => {
    const src = '# T\n\n- item\n---\n\n> quote\n===\n\n| a |\n---\n';
    expect(splitDocSections('t.md', src).sections.map((s) => s.headingPath)).toEqual([['T']]);
  });
});

describe('cleanHeadingText', () => {
  it('drops link targets, anchors, emphasis and escapes but keeps code spans', () => {
    expect(cleanHeadingText('The [`~peft.get_peft_model`] function[[get-peft]]')).toBe('The `get_peft_model` function');
    expect(cleanHeadingText('**Bold** and _it_ with `__init__` and [docs][ref] \\*')).toBe('Bold and it with `__init__` and docs *');
    expect(cleanHeadingText('Text-to-image [[controlnet-text-to-image]]')).toBe('Text-to-image');
    expect(cleanHeadingText('snake_case_name stays')).toBe('snake_case_name stays');
  });
});

describe('renderInline', () => {
  it('renders HF doc-builder prose to plain text and names the verbatim pieces', () => {
    expect(renderInline('Merge with [`~LoraModel.merge_and_unload`] or [`PeftModel.unload`]; see the [guide](../guide.md#merge "Merging").')).toEqual({
      text: 'Merge with `merge_and_unload` or `PeftModel.unload`; see the guide.',
      verbatim: ['Merge with ', 'merge_and_unload`', ' or ', '`PeftModel.unload`', '; see the ', 'guide'],
    });
    expect(renderInline('**Bold** with *italic*, ***both***, __strong__ and _em_, **b**q, ![logo](a.png) and [ref][1][[anchor]]')).toEqual({
      text: 'Bold with italic, both, strong and em, bq, logo and ref',
      // Pieces without a letter or digit (", ") say nothing and are left out.
      verbatim: ['Bold', ' with ', 'italic', 'both', 'strong', ' and ', 'em', 'b', 'q, ', 'logo', ' and ', 'ref'],
    });
  });

  it('leaves code spans, snake_case, arithmetic, placeholders and plain brackets alone', () => {
    const plain = 'Set `**kwargs` and `_private_` in snake_case_name, 2*3*4 or a * b, with <MODEL> and [optional] text.';
    expect(renderInline(plain)).toEqual({ text: plain, verbatim: [plain] });
  });

  it('drops autolink brackets and escapes, decodes entities, and does not double spaces', () => {
    expect(renderInline('See <https://hf.co/docs> \\*not italic\\* &amp; a [[x]] b.')).toEqual({
      text: 'See https://hf.co/docs *not italic* & a b.',
      verbatim: ['See ', 'https://hf.co/docs', '*not italic', ' a ', 'b.'],
    });
  });
});

describe('docBlocks', () => {
  it('yields headings, code and paragraphs of cleaned text with 0-based lines', () => {
    expect(docBlocks('## H\n\npara one\nline two\n\n```py\nx\n```\ntail')).toEqual([
      { kind: 'heading', level: 2, title: 'H', startLine: 0, endLine: 0 },
      { kind: 'paragraph', lines: ['para one', 'line two'], startLine: 2, endLine: 3 },
      { kind: 'code', lang: 'py', code: 'x', startLine: 5, endLine: 7 },
      { kind: 'paragraph', lines: ['tail'], startLine: 8, endLine: 8 },
    ]);
  });
});

describe('isDocPath', () => {
  it('accepts .md and .mdx in any case only', () => {
    expect(['a.md', 'b/C.MD', 'x.mdx', 'y.Mdx', 'z.markdown', 'md', 'a.md.txt', 'a.py'].map(isDocPath)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('docSectionRecords', () => {
  it('makes one record per non-empty section with provenance, content hash and ordinal-disambiguated ids', () => {
    const recs = docSectionRecords('docs/sample.mdx', MDX, REF);
    expect(recs.map((r) => r.provenance.qualname)).toEqual([
      'Getting Started',
      'Getting Started > Install',
      'Getting Started > Setext heading over two lines',
      'Getting Started > Example > Example',
      'Getting Started > Example (2)',
    ]);
    const { sections } = splitDocSections('docs/sample.mdx', MDX);
    const second = recs[4]!;
    const text = sections[5]!.text;
    expect(second.text).toBe('## Example\n\nSecond example text.');
    expect(second.contentHash).toBe(createHash('sha256').update(text).digest('hex'));
    expect(second.id).toBe(contentId('doc_section', 'docs/sample.mdx', 'Getting Started > Example (2)', second.contentHash));
    expect(second.provenance).toEqual({
      repo: 'acme/docs',
      commitFirstSeen: SHA,
      commitLastVerified: SHA,
      path: 'docs/sample.mdx',
      startLine: 50,
      endLine: 52,
      qualname: 'Getting Started > Example (2)',
      url: `https://github.com/acme/docs/blob/${SHA}/docs/sample.mdx#L50-L52`,
      prNumber: null,
      issueNumber: null,
      commentId: null,
    });
    expect(new Set(recs.map((r) => r.id)).size).toBe(recs.length);
    for (const r of recs) {
      expect(SourceRecord.safeParse(r).success).toBe(true);
      expect(r).toMatchObject({ kind: 'doc_section', code: null, redactions: [] });
    }
  });

  it('keeps the id of an unchanged section across commits and line shifts; a changed one gets a new id', () => {
    const before = docSectionRecords('g.md', '# G\n\nIntro.\n\n## A\n\nAlpha.\n\n## B\n\nBeta.\n', REF);
    const later = { ...REF, sha: 'e'.repeat(40), webUrl: null };
    const after = docSectionRecords('g.md', '# G\n\nIntro, now longer.\n\nAnd a new paragraph.\n\n## A\n\nAlpha.\n\n## B\n\nBeta changed.\n', later);
    expect(after.map((r) => r.provenance.qualname)).toEqual(['G', 'G > A', 'G > B']);
    expect(after[1]!.id).toBe(before[1]!.id);
    expect(after[1]!.provenance).toMatchObject({ startLine: 7, endLine: 10, commitFirstSeen: 'e'.repeat(40), url: null });
    expect(after[0]!.id).not.toBe(before[0]!.id);
    expect(after[2]!.id).not.toBe(before[2]!.id);
  });

  it('redacts secrets in the stored text and names their kinds', () => {
    const token = `hf_${'a1B2c3D4e5'.repeat(4)}`;
    const [rec] = docSectionRecords('auth.md', `# Auth\n\nLog in with \`${token}\`.\n`, REF);
    expect(rec!.text).toBe('# Auth\n\nLog in with `[REDACTED:huggingface_token]`.');
    expect(rec!.redactions).toEqual(['huggingface_token']);
    // The hash is of the cleaned text before redaction: the id follows the source, not the marker.
    expect(rec!.contentHash).toBe(createHash('sha256').update(`# Auth\n\nLog in with \`${token}\`.`).digest('hex'));
  });

  it('returns nothing for an empty or heading-only file', () => {
    expect(docSectionRecords('e.md', '', REF)).toEqual([]);
    expect(docSectionRecords('e.md', '<!-- c -->\n# Only\n\n## Headings\n', REF)).toEqual([]);
  });
});
