import { describe, expect, it } from 'vitest';
import type { QAPair, SourceRecord } from '../datasets/schemas.js';
import { docSectionRecords } from '../extractors/docs.js';
import { validateCandidate } from '../validators/checks.js';
import { DOC_RULES, docCitationSkip, docQuestions } from './doc-rules.js';

const SHA = 'ab'.repeat(20);
const REF = { repo: 'huggingface/peft', sha: SHA, webUrl: 'https://github.com/huggingface/peft' };
const PATH = 'docs/source/package_reference/lora.md';

// Shaped after the peft / diffusers doc-builder pages: license comment, colab marker, <div>/<img>,
// hfoptions, a [!TIP] quote, autodoc-only API sections.
const HF_DOC = `<!--Copyright 2024 The HuggingFace Team. All rights reserved.

Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except in compliance with
the License. You may obtain a copy of the License at

http://www.apache.org/licenses/LICENSE-2.0

⚠️ Note that this file is in Markdown but contain specific syntax for our doc-builder (similar to MDX) that may not be
rendered properly in your Markdown viewer.

-->

# LoRA

[[open-in-colab]]

Low-Rank Adaptation ([LoRA](https://huggingface.co/papers/2106.09685)) is a PEFT method that decomposes a large matrix into two smaller low-rank matrices. This drastically reduces the number of parameters that need to be fine-tuned.

<div class="flex justify-center">
    <img src="https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/peft/lora_animated.gif"/>
</div>

## Usage

The size of the low-rank update matrices is determined by the *rank* or \`r\`. A higher rank means the model has more parameters to train. All of these parameters are found in the [\`LoraConfig\`].

\`\`\`py
from peft import LoraConfig, get_peft_model

config = LoraConfig(r=16, lora_alpha=16, target_modules=["query", "value"])
model = get_peft_model(model, config)
\`\`\`

## Installation

PEFT is tested on **Python 3.9+** and ships on [PyPI](https://pypi.org/project/peft/). Install it with:

\`\`\`bash
pip install peft
\`\`\`

## Load an adapter[[load-adapter]]

<hfoptions id="load">
<hfoption id="PeftModel">

Load a trained adapter on top of its base model with [\`PeftModel.from_pretrained\`]:

\`\`\`py
from peft import PeftModel

model = PeftModel.from_pretrained(base_model, "ybelkada/opt-350m-lora")
\`\`\`

</hfoption>
<hfoption id="AutoPeftModel">

\`\`\`py
from peft import AutoPeftModelForCausalLM

model = AutoPeftModelForCausalLM.from_pretrained("ybelkada/opt-350m-lora")
\`\`\`

</hfoption>
</hfoptions>

> [!TIP]
> Merge the adapter with [\`~LoraModel.merge_and_unload\`] to remove inference latency.

\`\`\`py
model = model.merge_and_unload()
\`\`\`

## LoraConfig

[[autodoc]] tuners.lora.config.LoraConfig

## LoraModel

[[autodoc]] tuners.lora.model.LoraModel
    - merge_and_unload
    - unload

## Citation

If you use PEFT in your work, please cite it:

\`\`\`bibtex
@Misc{peft,
  title = {PEFT: State-of-the-art Parameter-Efficient Fine-Tuning methods},
  howpublished = {\\url{https://github.com/huggingface/peft}},
  year = {2022}
}
\`\`\`
`;

const recordsOf = (source: string, path = PATH) => docSectionRecords(path, source, REF);
const pairsOf = (source: string, path = PATH) => recordsOf(source, path).flatMap(docQuestions);
const failed = (pairs: QAPair[]) => pairs.map((p) => validateCandidate(p)).filter((p) => p.verdicts.some((v) => !v.pass));

describe('docQuestions on a doc-builder page', () => {
  it('asks the hand-checked questions, quotes the section, and every pair passes validation', () => {
    const recs = recordsOf(HF_DOC);
    expect(recs.map((r) => [r.provenance.qualname, r.provenance.startLine, r.provenance.endLine])).toEqual([
      ['LoRA', 13, 22],
      ['LoRA > Usage', 23, 33],
      ['LoRA > Installation', 34, 41],
      ['LoRA > Load an adapter', 42, 73],
      ['LoRA > LoraConfig', 74, 77],
      ['LoRA > LoraModel', 78, 83],
      ['LoRA > Citation', 84, 94],
    ]);
    const pairs = recs.flatMap(docQuestions);
    expect(pairs.map((p) => [p.category, p.question, p.answer])).toEqual([
      [
        'doc_section',
        'What is "LoRA", as introduced in `docs/source/package_reference/lora.md`?',
        // The link target is gone from the answer; the context keeps it.
        'Low-Rank Adaptation (LoRA) is a PEFT method that decomposes a large matrix into two smaller low-rank matrices. This drastically reduces the number of parameters that need to be fine-tuned.',
      ],
      [
        'doc_section',
        'What should I know about "Usage" from the "LoRA" page (`docs/source/package_reference/lora.md`)?',
        'The size of the low-rank update matrices is determined by the rank or `r`. A higher rank means the model has more parameters to train. All of these parameters are found in the `LoraConfig`.',
      ],
      [
        'doc_example',
        'Show a code example for "Usage" from the "LoRA" documentation (`docs/source/package_reference/lora.md`).',
        'From "Usage" in `docs/source/package_reference/lora.md`:\n\n```py\nfrom peft import LoraConfig, get_peft_model\n\nconfig = LoraConfig(r=16, lora_alpha=16, target_modules=["query", "value"])\nmodel = get_peft_model(model, config)\n```',
      ],
      [
        // "Install it with:" is answered with the command it introduces, not cut off at the colon.
        'doc_section',
        'What does the "LoRA" documentation (`docs/source/package_reference/lora.md`) say about "Installation"?',
        'PEFT is tested on Python 3.9+ and ships on PyPI. Install it with:\n\n```bash\npip install peft\n```',
      ],
      [
        // A verb-phrase heading is asked as a task; the lead-in alone introduces the code, so the example quotes it.
        'doc_example',
        'Can you give an example of how to load an adapter, from the "LoRA" page (`docs/source/package_reference/lora.md`)?',
        'Load a trained adapter on top of its base model with `PeftModel.from_pretrained`:\n\n```py\nfrom peft import PeftModel\n\nmodel = PeftModel.from_pretrained(base_model, "ybelkada/opt-350m-lora")\n```',
      ],
      [
        'doc_example',
        'Show me how to load an adapter with peft, using the example from `docs/source/package_reference/lora.md` ("LoRA") (second example).',
        'From "Load an adapter" in `docs/source/package_reference/lora.md`:\n\n```py\nfrom peft import AutoPeftModelForCausalLM\n\nmodel = AutoPeftModelForCausalLM.from_pretrained("ybelkada/opt-350m-lora")\n```',
      ],
    ]);
    // Evidence is the runs of text between the markup, each verbatim in the context and in the answer.
    expect(pairs[1]!.evidence).toEqual([
      'The size of the low-rank update matrices is determined by the ',
      'rank',
      ' or `r`. A higher rank means the model has more parameters to train. All of these parameters are found in the ',
      '`LoraConfig`',
    ]);
    expect(pairs[3]!.evidence).toEqual(['PEFT is tested on ', 'Python 3.9+', ' and ships on ', 'PyPI', '. Install it with:', 'pip install peft']);
    // The quoted lead-in is evidence too; a generated one is not.
    expect(pairs[4]!.evidence).toEqual([
      'Load a trained adapter on top of its base model with ',
      '`PeftModel.from_pretrained`',
      'from peft import PeftModel\n\nmodel = PeftModel.from_pretrained(base_model, "ybelkada/opt-350m-lora")',
    ]);
    expect(pairs[5]!.evidence).toEqual(['from peft import AutoPeftModelForCausalLM\n\nmodel = AutoPeftModelForCausalLM.from_pretrained("ybelkada/opt-350m-lora")']);
    // The Citation section makes no pair and leaves one skip; no other section does.
    expect(recs.map(docCitationSkip).filter((s) => s !== null)).toEqual([
      { path: `${PATH}#L84-L94`, reason: 'citation', detail: '"LoRA > Citation": a citation section, 1 BibTeX block' },
    ]);
    expect(failed(pairs)).toEqual([]);
    expect(new Set(pairs.map((p) => p.id)).size).toBe(pairs.length);
    for (const p of pairs) {
      expect(p.generator).toEqual(DOC_RULES);
      expect(p).toMatchObject({ sourceKind: 'doc_section', symbolKind: null, variant: null, splitGroup: PATH });
      expect(p.context).toBe(recs.find((r) => r.id === p.sourceId)!.text);
    }
    expect(pairs[1]!.provenance.url).toBe(`https://github.com/huggingface/peft/blob/${SHA}/${PATH}#L23-L33`);
  });
});

describe('docQuestions wording', () => {
  const GUIDE = [
    '# Core ML',
    '',
    'Core ML is the model format used by Apple frameworks.',
    '',
    '## Swift',
    '',
    '### Inference',
    '',
    'Swift inference runs the converted model with the `StableDiffusion` package.',
    '',
    '```bash',
    'swift run StableDiffusionSample "a photo"',
    '  --resource-path models/coreml',
    '```',
    '',
    '## How to convert a checkpoint',
    '',
    '```py',
    'from convert import main',
    'main("ckpt")',
    '```',
    '',
    '## Speed comparisons',
    '',
    '```py',
    'a = 1',
    'b = 2',
    '```',
    '',
    '## Speed up inference',
    '',
    '```py',
    'pipe.enable_attention_slicing()',
    'pipe("a photo")',
    '```',
    '',
    '## Train',
    '',
    '```py',
    'trainer = Trainer()',
    'trainer.train()',
    '```',
  ].join('\n');

  it('names the parent of a generic heading, and picks verb or noun wording for examples', () => {
    const pairs = pairsOf(GUIDE, 'docs/coreml.md');
    expect(pairs.map((p) => p.question)).toEqual([
      'When should I read the "Core ML" page (`docs/coreml.md`)?',
      'What is "Inference" under "Swift" about, according to the "Core ML" documentation (`docs/coreml.md`)?',
      'Show a code example for "Inference" under "Swift" from the "Core ML" documentation (`docs/coreml.md`).',
      'Which snippet in the "Core ML" documentation (`docs/coreml.md`) shows how to convert a checkpoint?',
      // "Speed" is a verb only before an object marker.
      'Can you give me the "Speed comparisons" example from the "Core ML" doc page (`docs/coreml.md`)?',
      'What does the code to speed up inference look like in the "Core ML" page (`docs/coreml.md`)?',
      // A one-word verb heading reads badly as "How do I train": it is named as a noun.
      'When I work on "Train", what code does the "Core ML" documentation (`docs/coreml.md`) suggest?',
    ]);
    // A one-sentence paragraph right above the code introduces it, quoted.
    expect(pairs[2]!.answer).toBe(
      'Swift inference runs the converted model with the `StableDiffusion` package.\n\n```bash\nswift run StableDiffusionSample "a photo"\n  --resource-path models/coreml\n```',
    );
    expect(failed(pairs)).toEqual([]);
  });

  it('tells apart sections with the same heading path by their ordinal', () => {
    const src = '# Guide\n\n## Example\n\nThe first example loads a model.\n\n## Example\n\nThe second example saves a model.\n';
    expect(pairsOf(src, 'g.md').map((p) => [p.question, p.answer])).toEqual([
      ['Can you summarize the "Example" section of `g.md` ("Guide")?', 'The first example loads a model.'],
      ['When should I care about "Example" (2), according to the "Guide" page (`g.md`)?', 'The second example saves a model.'],
    ]);
  });

  it('asks about the introduction of a page whose text comes before any heading', () => {
    const src = 'This page lists every adapter type PEFT supports.\n\n```py\nimport peft\nprint(peft.__version__)\n```\n';
    const pairs = pairsOf(src, 'docs/adapters.md');
    expect(pairs.map((p) => [p.category, p.question])).toEqual([
      ['doc_section', 'How does `docs/adapters.md` begin?'],
      ['doc_example', 'Which snippet opens `docs/adapters.md`?'],
    ]);
    expect(failed(pairs)).toEqual([]);
  });
});

describe('docQuestions answers', () => {
  it('cuts a long paragraph at a sentence end within 600 characters and skips abbreviations', () => {
    const s = (n: number) => `Sentence ${n} explains one more detail of adapter training, e.g. the rank or the alpha of the update matrices.`;
    const para = Array.from({ length: 12 }, (_, i) => s(i + 1)).join(' ');
    const [pair] = pairsOf(`# Long\n\n${para}\n`, 'long.md');
    const expected = [1, 2, 3, 4, 5].map(s).join(' ');
    expect(expected.length).toBeLessThanOrEqual(600);
    expect(expected.length + s(6).length).toBeGreaterThan(600);
    expect(pair!.answer).toBe(expected);
    expect(pair!.evidence).toEqual([expected]);
    expect(failed([pair!])).toEqual([]);
  });

  it('joins a hard-wrapped paragraph into one answer line and quotes it as it stands', () => {
    const [pair] = pairsOf('# Wrap\n\nThe adapter is\nsaved next to the\nbase model.\n', 'wrap.md');
    expect(pair!.answer).toBe('The adapter is saved next to the base model.');
    expect(pair!.evidence).toEqual(['The adapter is\nsaved next to the\nbase model.']);
    expect(failed([pair!])).toEqual([]);
  });

  it('skips lists, tables, tips, colon lead-ins and captions-without-sentences for the prose answer', () => {
    const src = [
      '# Options',
      '',
      '> [!TIP]',
      '> A tip is not the section text.',
      '',
      '- first item',
      '- second item',
      '',
      '| a | b |',
      '|---|---|',
      '',
      'Prompt Generated Video',
      '',
      'The options are:',
      '',
      'Options are read once at start-up.',
    ].join('\n');
    expect(pairsOf(src, 'o.md').map((p) => p.answer)).toEqual(['Options are read once at start-up.']);
  });

  it('keeps at most two examples per section and skips one-line and bibtex blocks', () => {
    const block = (lang: string, body: string) => `\`\`\`${lang}\n${body}\n\`\`\``;
    const src = [
      '## Snippets',
      block('bibtex', '@article{x,\n  title={X}\n}'),
      block('bash', 'pip install peft'),
      block('py', 'a = 1\nb = 2'),
      block('py', 'c = 3\nd = 4'),
      block('py', 'e = 5\nf = 6'),
    ].join('\n\n');
    const pairs = pairsOf(src, 'c.md');
    expect(pairs.map((p) => [p.question, p.evidence])).toEqual([
      ['When I work on "Snippets", what code does `c.md` suggest?', ['a = 1\nb = 2']],
      ['Is there example code for "Snippets" in `c.md` (second example)?', ['c = 3\nd = 4']],
    ]);
    expect(failed(pairs)).toEqual([]);
    // The BibTeX block outside a citation section is recorded as skipped too.
    expect(recordsOf(src, 'c.md').map(docCitationSkip)).toEqual([{ path: 'c.md#L1-L26', reason: 'citation', detail: '"Snippets": 1 BibTeX block' }]);
  });

  it('fences code that holds backticks with a longer fence and dedents an indented fence', () => {
    const src = '# Doc\n\n1. Write the README:\n\n   ````md\n   ```py\n   x = 1\n   ```\n   ````\n';
    const [pair] = pairsOf(src, 'r.md');
    expect(pair!.answer).toBe('From "Doc" in `r.md`:\n\n````md\n```py\nx = 1\n```\n````');
    expect(failed([pair!])).toEqual([]);
  });
});

describe('docQuestions skips', () => {
  it('draws nothing from autodoc-only, boilerplate or table-of-contents sections', () => {
    const src = [
      '# API',
      '',
      '[[autodoc]] PeftModel',
      '    - forward',
      '',
      '## Table of contents',
      '',
      'This page has three parts, each covering one adapter.',
      '',
      '## License',
      '',
      'The code is released under the Apache 2.0 terms and may be reused freely.',
      '',
      '## Notice',
      '',
      'Copyright 2024 The HuggingFace Team. All rights reserved.',
    ].join('\n');
    expect(recordsOf(src, 'api.md')).toHaveLength(4);
    expect(pairsOf(src, 'api.md')).toEqual([]);
  });

  it('ignores records that are not doc sections', () => {
    const [rec] = recordsOf('# T\n\nSome text for the section.\n', 't.md');
    expect(docQuestions({ ...rec!, kind: 'code_symbol' } as SourceRecord)).toEqual([]);
  });

  it('quotes only the lines of an oversized section as context, so the pair stays within limits', () => {
    const filler = Array.from({ length: 700 }, (_, i) => `| row ${i} | ${'x'.repeat(40)} |`).join('\n');
    const src = `# Big\n\n${filler}\n\nThe table above lists every supported model.\n\n\`\`\`py\nmodel = load()\nmodel.run()\n\`\`\`\n`;
    const [rec] = recordsOf(src, 'big.md');
    expect(rec!.text.length).toBeGreaterThan(32000);
    const pairs = docQuestions(rec!);
    expect(pairs.map((p) => [p.category, p.context])).toEqual([
      ['doc_section', 'The table above lists every supported model.'],
      ['doc_example', 'The table above lists every supported model.\n\n```py\nmodel = load()\nmodel.run()\n```'],
    ]);
    expect(failed(pairs)).toEqual([]);
  });
});

describe('docQuestions rendering', () => {
  it('renders links, emphasis, doc-builder references and entities in answers, keeps them in the context, and stays grounded', () => {
    const src = [
      '# Adapters',
      '',
      'Wrap a model with [`~peft.get_peft_model`] or [`PeftModel`], as the [quicktour](./quicktour.md) shows; **only** the adapter',
      'weights are _trained_ &amp; saved (see <https://hf.co/docs/peft>).',
    ].join('\n');
    const [pair] = pairsOf(src, 'docs/adapters.md');
    expect(pair!.answer).toBe(
      'Wrap a model with `get_peft_model` or `PeftModel`, as the quicktour shows; only the adapter weights are trained & saved (see https://hf.co/docs/peft).',
    );
    expect(pair!.context).toBe(src);
    expect(pair!.evidence).toEqual([
      'Wrap a model with ',
      'get_peft_model`',
      ' or ',
      '`PeftModel`',
      ', as the ',
      'quicktour',
      ' shows; ',
      'only',
      ' the adapter\nweights are ',
      'trained',
      ' saved (see ',
      'https://hf.co/docs/peft',
    ]);
    expect(failed([pair!])).toEqual([]);
  });

  it('answers an intro ending in a colon with the list it introduces, in its paragraph or after it', () => {
    const src = [
      '# Methods',
      '',
      '## Choosing',
      '',
      'PEFT offers two families of methods:',
      '- **LoRA**, which adds [low-rank](https://arxiv.org/abs/2106.09685) matrices',
      '- prompt tuning, which learns soft prompts',
      '',
      '## Options',
      '',
      'The config takes these options:',
      '',
      '- `r`: the rank',
      '',
      '- `alpha`: the scale',
      '',
      'Nothing else is read.',
      '',
      '## Nothing after',
      '',
      'Training is fast. It needs:',
      '',
      '> [!TIP]',
      '> a GPU',
    ].join('\n');
    const pairs = pairsOf(src, 'docs/methods.md');
    expect(pairs.map((p) => p.answer)).toEqual([
      'PEFT offers two families of methods:\n\n- LoRA, which adds low-rank matrices\n- prompt tuning, which learns soft prompts',
      'The config takes these options:\n\n- `r`: the rank\n\n- `alpha`: the scale',
      // A colon with nothing quotable after it: the sentence before it is the answer.
      'Training is fast.',
    ]);
    expect(pairs[0]!.evidence).toEqual(['PEFT offers two families of methods:', 'LoRA', ', which adds ', 'low-rank', ' matrices\n- prompt tuning, which learns soft prompts']);
    expect(failed(pairs)).toEqual([]);
  });
});

describe('docQuestions citations', () => {
  const CITING = [
    '# PEFT',
    '',
    'PEFT adapts large models by training few parameters.',
    '',
    '## Citing 🤗 PEFT',
    '',
    'To use 🤗 PEFT in your publication, please cite it by using the following BibTeX entry.',
    '',
    '```',
    '@Misc{peft,',
    '  title = {PEFT},',
    '  year = {2022}',
    '}',
    '```',
    '',
    '## Usage',
    '',
    'If you build on the LoRA paper, cite it as:',
    '',
    '```',
    '@inproceedings{',
    '    hu2022lora,',
    '    title={LoRA},',
    '}',
    '```',
    '',
    '```py',
    'model = get_peft_model(model, config)',
    'model.print_trainable_parameters()',
    '```',
  ].join('\n');

  it('draws no pair from a citation section or a BibTeX block, and records each as a citation skip', () => {
    const recs = recordsOf(CITING, 'README.md');
    const pairs = recs.flatMap(docQuestions);
    expect(pairs.map((p) => [p.category, p.answer])).toEqual([
      ['doc_section', 'PEFT adapts large models by training few parameters.'],
      // The colon introduces BibTeX: not quoted, neither as prose nor as an example's lead-in.
      ['doc_example', 'From "Usage" in `README.md`:\n\n```py\nmodel = get_peft_model(model, config)\nmodel.print_trainable_parameters()\n```'],
    ]);
    expect(pairs.some((p) => /@Misc|@inproceedings|cite/i.test(p.answer))).toBe(false);
    expect(recs.map(docCitationSkip)).toEqual([
      null,
      { path: 'README.md#L5-L15', reason: 'citation', detail: '"PEFT > Citing 🤗 PEFT": a citation section, 1 BibTeX block' },
      { path: 'README.md#L16-L30', reason: 'citation', detail: '"PEFT > Usage": 1 BibTeX block' },
    ]);
    expect(failed(pairs)).toEqual([]);
  });

  it('knows citation headings and BibTeX languages, and does not take a raw entry for prose', () => {
    const src = ['## BibTeX', '', 'Cite the work.', '', '## Reference', '', '@misc{x2024,', '  title={X. A method.},', '}', '', '```bib', '@book{b,', '}', '```'].join('\n');
    const recs = recordsOf(src, 'r.md');
    expect(recs.flatMap(docQuestions)).toEqual([]);
    expect(recs.map((r) => docCitationSkip(r)?.detail)).toEqual(['"BibTeX": a citation section', '"Reference": 1 BibTeX block']);
  });
});

describe('docQuestions phrasings', () => {
  // The audit's template: every `code`, "quoted" span, sha and number a placeholder.
  const template = (q: string) =>
    q
      .replace(/`[^`]*`/g, '<code>')
      .replace(/"[^"\n]*"|“[^”]*”/g, '<quote>')
      .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b/g, '<sha>')
      .replace(/#?\d+/g, '<n>');
  const TOPICS = ['Overview', 'Quantization', 'Memory', 'Batching', 'Adapters', 'Prompts', 'Scaling', 'Troubleshooting'];
  const TASKS = ['Load an adapter', 'Merge the weights', 'Save a model', 'Train on GPUs', 'Configure the rank', 'Export to ONNX'];
  const page = (n: number) =>
    [
      `# Guide ${n}`,
      '',
      `Guide ${n} explains one part of the library in depth.`,
      ...[...TOPICS, ...TASKS].flatMap((h, k) => [
        '',
        `## ${h}`,
        '',
        `Section ${k} of guide ${n} describes ${h.toLowerCase()} in plain words.`,
        '',
        '```py',
        `step_${k}(guide=${n})`,
        'done()',
        '```',
      ]),
    ].join('\n');
  const corpus = Array.from({ length: 30 }, (_, n) => pairsOf(page(n), `docs/guide_${n}.md`)).flat();

  it('asks task headings as tasks with the library, and keeps every question standalone', () => {
    const pairs = pairsOf(page(0), 'docs/guide_0.md');
    const load = pairs.filter((p) => p.provenance.qualname === 'Guide 0 > Load an adapter').map((p) => p.question);
    expect(load).toHaveLength(2);
    for (const q of load) expect(q).toMatch(/load an adapter/);
    expect(new Set(corpus.filter((p) => /load an adapter/.test(p.question)).map((p) => template(p.question).replace(/ with peft| in peft| using peft/, ''))).size).toBeGreaterThanOrEqual(6);
    expect(corpus.filter((p) => /Load an adapter/.test(p.provenance.qualname!)).some((p) => /^How do I load an adapter with peft/.test(p.question))).toBe(true);
    // Standalone: every question names its page (path) and its heading (quoted, or as the task).
    for (const p of corpus) {
      expect(p.question).toContain(`\`${p.provenance.path}\``);
      const heading = p.provenance.qualname!.split(' > ').pop()!;
      expect(p.question.includes(`"${heading}"`) || p.question.toLowerCase().includes(heading.toLowerCase())).toBe(true);
    }
  });

  it('uses six or more wordings per kind, the same for the same section, with no ten templates over 35 % of pairs', () => {
    const kinds = new Map<string, Set<string>>();
    for (const p of corpus) {
      const task = TASKS.some((t) => p.provenance.qualname!.endsWith(t));
      const level1 = !p.provenance.qualname!.includes(' > ');
      const kind = `${p.category}:${level1 ? 'page' : task ? 'task' : 'topic'}`;
      if (!kinds.has(kind)) kinds.set(kind, new Set());
      // The wording without the page's name: which of the four page references it uses is a second choice.
      kinds.get(kind)!.add(template(p.question).replace(/the <quote> (?:documentation|page|doc page) \(<code>\)|<code> \(<quote>\)/, 'PAGE'));
    }
    expect([...kinds.keys()].sort()).toEqual(['doc_example:task', 'doc_example:topic', 'doc_section:page', 'doc_section:task', 'doc_section:topic']);
    for (const [kind, wordings] of kinds) expect([kind, wordings.size >= 6]).toEqual([kind, true]);
    expect(pairsOf(page(3), 'docs/guide_3.md').map((p) => p.question)).toEqual(corpus.filter((p) => p.provenance.path === 'docs/guide_3.md').map((p) => p.question));
    const counts = new Map<string, number>();
    for (const p of corpus) counts.set(template(p.question), (counts.get(template(p.question)) ?? 0) + 1);
    const top10 = [...counts.values()].sort((a, b) => b - a).slice(0, 10).reduce((a, b) => a + b, 0);
    expect(corpus.length).toBe(30 * (1 + 2 * (TOPICS.length + TASKS.length)));
    expect(top10 / corpus.length).toBeLessThanOrEqual(0.35);
    // No two pairs ask the same question.
    expect(new Set(corpus.map((p) => p.question)).size).toBe(corpus.length);
    expect(failed(corpus)).toEqual([]);
  });
});
