import { describe, expect, it } from 'vitest';
import type { QAPair, SourceRecord } from '../datasets/schemas.js';
import { docSectionRecords } from '../extractors/docs.js';
import { validateCandidate } from '../validators/checks.js';
import { DOC_RULES, docQuestions } from './doc-rules.js';

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
      ['LoRA > Load an adapter', 34, 65],
      ['LoRA > LoraConfig', 66, 69],
      ['LoRA > LoraModel', 70, 74],
    ]);
    const pairs = recs.flatMap(docQuestions);
    expect(pairs.map((p) => [p.category, p.question, p.answer])).toEqual([
      [
        'doc_section',
        'What is the "LoRA" documentation page (`docs/source/package_reference/lora.md`) about?',
        'Low-Rank Adaptation ([LoRA](https://huggingface.co/papers/2106.09685)) is a PEFT method that decomposes a large matrix into two smaller low-rank matrices. This drastically reduces the number of parameters that need to be fine-tuned.',
      ],
      [
        'doc_section',
        'What does the "LoRA" documentation (`docs/source/package_reference/lora.md`) say about "Usage"?',
        'The size of the low-rank update matrices is determined by the *rank* or `r`. A higher rank means the model has more parameters to train. All of these parameters are found in the [`LoraConfig`].',
      ],
      [
        'doc_example',
        'Show a code example for "Usage" from the "LoRA" documentation (`docs/source/package_reference/lora.md`).',
        'From "Usage" in `docs/source/package_reference/lora.md`:\n\n```py\nfrom peft import LoraConfig, get_peft_model\n\nconfig = LoraConfig(r=16, lora_alpha=16, target_modules=["query", "value"])\nmodel = get_peft_model(model, config)\n```',
      ],
      [
        'doc_example',
        'How do you load an adapter, according to the "LoRA" documentation (`docs/source/package_reference/lora.md`)?',
        'Load a trained adapter on top of its base model with [`PeftModel.from_pretrained`]:\n\n```py\nfrom peft import PeftModel\n\nmodel = PeftModel.from_pretrained(base_model, "ybelkada/opt-350m-lora")\n```',
      ],
      [
        'doc_example',
        'How do you load an adapter, according to the "LoRA" documentation (`docs/source/package_reference/lora.md`) (second example)?',
        'From "Load an adapter" in `docs/source/package_reference/lora.md`:\n\n```py\nfrom peft import AutoPeftModelForCausalLM\n\nmodel = AutoPeftModelForCausalLM.from_pretrained("ybelkada/opt-350m-lora")\n```',
      ],
    ]);
    // The quoted lead-in is evidence too; a generated one is not.
    expect(pairs[3]!.evidence).toEqual([
      'Load a trained adapter on top of its base model with [`PeftModel.from_pretrained`]:',
      'from peft import PeftModel\n\nmodel = PeftModel.from_pretrained(base_model, "ybelkada/opt-350m-lora")',
    ]);
    expect(pairs[4]!.evidence).toEqual(['from peft import AutoPeftModelForCausalLM\n\nmodel = AutoPeftModelForCausalLM.from_pretrained("ybelkada/opt-350m-lora")']);
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
      'What is the "Core ML" documentation page (`docs/coreml.md`) about?',
      'What does the "Core ML" documentation (`docs/coreml.md`) say about "Inference" under "Swift"?',
      'Show a code example for "Inference" under "Swift" from the "Core ML" documentation (`docs/coreml.md`).',
      'How do you convert a checkpoint, according to the "Core ML" documentation (`docs/coreml.md`)?',
      // "Speed" is a verb only before an object marker.
      'Show a code example for "Speed comparisons" from the "Core ML" documentation (`docs/coreml.md`).',
      'How do you speed up inference, according to the "Core ML" documentation (`docs/coreml.md`)?',
      // A one-word verb heading reads badly as "How do you train": it is named as a noun.
      'Show a code example for "Train" from the "Core ML" documentation (`docs/coreml.md`).',
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
      ['What does the "Guide" documentation (`g.md`) say about "Example"?', 'The first example loads a model.'],
      ['What does the "Guide" documentation (`g.md`) say about "Example" (2)?', 'The second example saves a model.'],
    ]);
  });

  it('asks about the introduction of a page whose text comes before any heading', () => {
    const src = 'This page lists every adapter type PEFT supports.\n\n```py\nimport peft\nprint(peft.__version__)\n```\n';
    const pairs = pairsOf(src, 'docs/adapters.md');
    expect(pairs.map((p) => [p.category, p.question])).toEqual([
      ['doc_section', 'What does the introduction of `docs/adapters.md` say?'],
      ['doc_example', 'Show the code example from the introduction of `docs/adapters.md`.'],
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
      '## Citation',
      block('bibtex', '@article{x,\n  title={X}\n}'),
      block('bash', 'pip install peft'),
      block('py', 'a = 1\nb = 2'),
      block('py', 'c = 3\nd = 4'),
      block('py', 'e = 5\nf = 6'),
    ].join('\n\n');
    const pairs = pairsOf(src, 'c.md');
    expect(pairs.map((p) => [p.question, p.evidence])).toEqual([
      ['Show a code example for "Citation" from `c.md`.', ['a = 1\nb = 2']],
      ['Show a code example (second example) for "Citation" from `c.md`.', ['c = 3\nd = 4']],
    ]);
    expect(failed(pairs)).toEqual([]);
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
