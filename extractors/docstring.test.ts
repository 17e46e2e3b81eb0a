import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cleandoc, evalStringLiteral, isBoilerplateSummary, parseDocstring } from './docstring.js';

describe('cleandoc', () => {
  const samples = [
    '  Summary line.\n\n      Indented body\n    less indented\n\t tabbed\n   \n',
    '\n\n   Leading blank lines.\n   Second.\n\n\n',
    'One line only',
    'First\n        deep\n    shallow\n            deeper\n',
    '',
  ];
  it("matches Python's inspect.cleandoc on the machine's Python", () => {
    const py = execFileSync('python3', ['-c', 'import inspect, json, sys\nfor s in json.load(sys.stdin): print(json.dumps(inspect.cleandoc(s)))'], {
      input: JSON.stringify(samples),
    })
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(samples.map(cleandoc)).toEqual(py);
  });
});

describe('evalStringLiteral', () => {
  it('evaluates escapes, raw strings, and refuses bytes and f-strings', () => {
    expect(evalStringLiteral('"""a\\tb\\n\\x41\\u00e9\\\\"""')).toBe('a\tb\nAé\\');
    expect(evalStringLiteral("r'''raw \\n stays'''")).toBe('raw \\n stays');
    expect(evalStringLiteral("'it\\'s'")).toBe("it's");
    expect(evalStringLiteral('"line \\\ncontinued"')).toBe('line continued');
    expect(evalStringLiteral('b"bytes"')).toBeNull();
    expect(evalStringLiteral('f"{x}"')).toBeNull();
  });
});

describe('parseDocstring', () => {
  it('reads Google sections the way transformers writes them', () => {
    const d = parseDocstring(
      [
        'The bare Bert Model transformer outputting raw hidden-states.',
        'Second line of the summary.',
        '',
        'Args:',
        '    input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):',
        '        Indices of input sequence tokens in the vocabulary.',
        '    attention_mask (`torch.FloatTensor`, *optional*):',
        '        Mask to avoid performing attention on padding token indices.',
        '    **kwargs: Passed to the parent class.',
        '',
        'Returns:',
        '    `BaseModelOutput`: The hidden states',
        '    of the last layer.',
        '',
        'Raises:',
        '    ValueError: If both `input_ids` and `inputs_embeds` are given.',
        '',
        'Example:',
        '',
        '    >>> model(x)',
      ].join('\n'),
    );
    expect(d.style).toBe('google');
    expect(d.summary).toBe('The bare Bert Model transformer outputting raw hidden-states. Second line of the summary.');
    expect(d.params).toEqual([
      { name: 'input_ids', type: '`torch.LongTensor` of shape `(batch_size, sequence_length)`', description: 'Indices of input sequence tokens in the vocabulary.' },
      { name: 'attention_mask', type: '`torch.FloatTensor`, *optional*', description: 'Mask to avoid performing attention on padding token indices.' },
      { name: '**kwargs', type: null, description: 'Passed to the parent class.' },
    ]);
    expect(d.returns).toBe('`BaseModelOutput`: The hidden states of the last layer.');
    expect(d.raises).toEqual([{ name: 'ValueError', type: null, description: 'If both `input_ids` and `inputs_embeds` are given.' }]);
  });

  it('reads NumPy sections', () => {
    const d = parseDocstring(
      ['Compute the mean.', '', 'Parameters', '----------', 'x : array_like', '    Input values.', 'axis : int, optional', '    Axis to reduce.', '', 'Returns', '-------', 'float', '    The mean.', '', 'Raises', '------', 'TypeError', '    On bad input.'].join('\n'),
    );
    expect(d.style).toBe('numpy');
    expect(d.params).toEqual([
      { name: 'x', type: 'array_like', description: 'Input values.' },
      { name: 'axis', type: 'int, optional', description: 'Axis to reduce.' },
    ]);
    expect(d.returns).toBe('float The mean.');
    expect(d.raises).toEqual([{ name: 'TypeError', type: null, description: 'On bad input.' }]);
  });

  it('reads reST fields', () => {
    const d = parseDocstring(['Open a file.', '', ':param path: Where the file is.', ':type path: str', ':param int mode: Open mode.', ':returns: A handle.', ':raises OSError: When it cannot.'].join('\n'));
    expect(d.style).toBe('rest');
    expect(d.summary).toBe('Open a file.');
    expect(d.params).toEqual([
      { name: 'path', type: 'str', description: 'Where the file is.' },
      { name: 'mode', type: 'int', description: 'Open mode.' },
    ]);
    expect(d.returns).toBe('A handle.');
    expect(d.raises).toEqual([{ name: 'OSError', type: null, description: 'When it cannot.' }]);
  });

  it('flags empty and boilerplate summaries', () => {
    for (const s of ['', 'TODO: write this', 'Forward pass.', 'Initialize.', 'Docstring', 'See base class.', 'Copyright 2024 The HuggingFace Team.', 'Args only'])
      expect(isBoilerplateSummary(s), s).toBe(true);
    expect(isBoilerplateSummary('Compute the area of the shape.')).toBe(false);
  });
});
