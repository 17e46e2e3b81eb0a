// Closed issue threads shaped like real huggingface/transformers threads, each labelled resolved or
// not, for measuring how many resolved issues get a resolution pair and that unresolved ones get none:
// the asker thanks the maintainer after the answer, a stale bot has the last word, a note says "fixed
// in #N" or "closed by <sha>", the asker posts their own fix; and stale-closed, not-planned, duplicate
// and declined threads without an answer.
import { addIssue, addIssueComment, addPull, closeIssue, makeGithubFixture, type AuthorAssociation, type GithubFixture } from './fixture.js';

/** Commits the fixture's repository must have, by key; the test makes them and passes their shas in. */
export const FIX_COMMITS: Record<string, { files: Record<string, string>; message: string }> = {
  rope: {
    files: { 'src/transformers/modeling_rope_utils.py': 'def _compute_llama3_parameters(config):\n    return config.rope_scaling\n' },
    message: 'Accept `rope_type` as well as `type` in `rope_scaling`\n\nCheckpoints saved since 4.43 write `rope_type`; validation only looked for `type` and rejected them.',
  },
  pipeline: {
    files: { 'src/transformers/pipelines/text_generation.py': 'def _sanitize_parameters(self, return_full_text=None):\n    return {}\n' },
    message: 'Honour `return_full_text=False` for chat inputs in the text-generation pipeline\n\nChat inputs went through a separate branch that always prepended the prompt.',
  },
};

export type ThreadShape =
  | 'thanks_after_answer'
  | 'confirmed_closing'
  | 'stale_after_answer'
  | 'fixed_in_pr'
  | 'closed_by_commit'
  | 'closing_pr'
  | 'author_fix'
  | 'contributor_answer'
  | 'repro_then_answer'
  | 'stale_closed'
  | 'not_planned'
  | 'duplicate'
  | 'wontfix'
  | 'disputed_answer'
  | 'triage_only';

type Role = 'author' | 'maintainer' | 'maintainer2' | 'collaborator' | 'contributor' | 'bystander' | 'stale';
interface Refs {
  pr: number;
  sha: string;
}
interface ThreadSpec {
  shape: ThreadShape;
  resolved: boolean;
  title: string;
  body: string;
  /** A PR the thread names; `closes` puts "Fixes #<issue>" in its body. */
  pr?: { title: string; body: string; closes?: boolean };
  commit?: keyof typeof FIX_COMMITS;
  comments: [Role, string | ((r: Refs) => string)][];
  close: 'completed' | 'not_planned';
}

const ROLES: Record<Exclude<Role, 'author'>, [string, AuthorAssociation]> = {
  maintainer: ['mira-okafor', 'MEMBER'],
  maintainer2: ['tkessler-hf', 'MEMBER'],
  collaborator: ['w-brandt', 'COLLABORATOR'],
  contributor: ['kai-tanaka', 'CONTRIBUTOR'],
  bystander: ['gpu-poor-dev', 'NONE'],
  stale: ['github-actions[bot]', 'NONE'],
};

const STALE =
  'This issue has been automatically marked as stale because it has not had recent activity. If you think this still needs to be addressed please comment on this thread.\n\nPlease note that issues that do not follow the [contributing guidelines](https://github.com/huggingface/transformers/blob/main/CONTRIBUTING.md) are likely to be ignored.';
const TRIAGE = 'Hi, thanks for opening this issue! Could you share the output of `transformers env` and a minimal reproducer?';
const ENV = 'Sure:\n\n```\n- `transformers` version: 4.44.2\n- Platform: Linux-5.15.0-107-generic-x86_64-with-glibc2.35\n- Python version: 3.10.12\n- PyTorch version (GPU?): 2.4.0+cu121 (True)\n```';
const sys = (v: string) => `### System Info\n\n- \`transformers\` version: ${v}\n- Python version: 3.10.12\n- PyTorch version (GPU?): 2.3.1+cu121 (True)\n\n### Reproduction\n\n`;

export const THREADS: ThreadSpec[] = [
  // ---- resolved: the maintainer answers, the asker confirms
  {
    shape: 'thanks_after_answer',
    resolved: true,
    title: 'Llama-3 generate() never stops: eos_token_id ignored with the chat template',
    body: `${sys('4.40.0')}\`\`\`python\nout = model.generate(tok.apply_chat_template(msgs, return_tensors="pt"), max_new_tokens=256)\n\`\`\`\n\nThe output keeps going after the assistant turn and repeats \`<|eot_id|>\` text.`,
    comments: [
      ['maintainer', 'Llama-3 instruct models end a turn with `<|eot_id|>`, not with the `eos_token` of the base config. Pass both ids: `model.generate(..., eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<|eot_id|>")])`, or update the checkpoint, whose `generation_config.json` now lists both.'],
      ['author', 'Thanks, that fixed it!'],
    ],
    close: 'completed',
  },
  {
    shape: 'thanks_after_answer',
    resolved: true,
    title: 'Trainer resumes from checkpoint but the learning rate restarts from warmup',
    body: 'I call `trainer.train(resume_from_checkpoint=True)` after a crash. Loss continues fine but the logged learning rate goes back to the warmup value.',
    comments: [
      ['bystander', 'Same here with Mistral on an A100.'],
      ['maintainer2', 'The scheduler state is only restored when `scheduler.pt` is in the checkpoint folder, and `save_only_model=True` skips writing it. Drop `save_only_model` (or set it to `False`) for runs you want to resume; the optimizer and scheduler states are then saved and the learning rate continues where it stopped.'],
      ['author', 'That was it, I had `save_only_model=True`. Thank you!'],
    ],
    close: 'completed',
  },
  {
    shape: 'thanks_after_answer',
    resolved: true,
    title: 'WhisperForConditionalGeneration transcribes in English even when language="fr" is passed',
    body: `${sys('4.38.2')}\`\`\`python\npipe = pipeline("automatic-speech-recognition", model="openai/whisper-small")\npipe(audio, generate_kwargs={"language": "fr"})\n\`\`\``,
    comments: [
      ['collaborator', 'With `whisper-small.en` the model only knows English, but for `whisper-small` the issue is the task: without `task="transcribe"` the old forced decoder ids translate. Pass `generate_kwargs={"language": "fr", "task": "transcribe"}` and the output stays in French.'],
      ['author', 'Works now, thanks a lot 🙏'],
    ],
    close: 'completed',
  },
  {
    shape: 'thanks_after_answer',
    resolved: true,
    title: 'AutoTokenizer.from_pretrained is very slow for a local Qwen2 checkpoint',
    body: 'Loading the tokenizer from a local folder takes about 40 seconds every time. The model itself loads in a few seconds.',
    comments: [
      ['maintainer', 'The folder has no `tokenizer.json`, so the fast tokenizer is converted from the slow one on every load, which is what takes the time. Save it once with `tok.save_pretrained(path)`: the `tokenizer.json` it writes is loaded directly next time.'],
      ['author', 'Thank you, it now loads in under a second.'],
    ],
    close: 'completed',
  },
  {
    shape: 'thanks_after_answer',
    resolved: true,
    title: 'ValueError: Asking to pad but the tokenizer does not have a padding token',
    body: `${sys('4.41.1')}\`\`\`python\ntok = AutoTokenizer.from_pretrained("meta-llama/Llama-2-7b-hf")\ntok(["a", "bb"], padding=True)\n\`\`\`\n\n\`\`\`\nValueError: Asking to pad but the tokenizer does not have a padding token.\n\`\`\``,
    comments: [
      ['maintainer2', 'Llama tokenizers ship without a pad token on purpose. For batched inference set `tok.pad_token = tok.eos_token` and `tok.padding_side = "left"`; for training add a dedicated token with `tok.add_special_tokens({"pad_token": "<pad>"})` and resize the embeddings with `model.resize_token_embeddings(len(tok))`.'],
      ['bystander', '+1, also seeing this.'],
      ['author', 'Setting the pad token to eos worked for my use case, thanks!'],
    ],
    close: 'completed',
  },
  {
    shape: 'confirmed_closing',
    resolved: true,
    title: 'Gemma-2 gives NaN loss in fp16 training',
    body: 'Fine-tuning `google/gemma-2-9b` with `fp16=True` gives `nan` loss from the first step. bf16 is not available on my V100.',
    comments: [
      ['maintainer', 'Gemma-2 activations overflow the fp16 range, so fp16 training is not supported for it. On V100 train in fp32 (`fp16=False`), or load the model with `attn_implementation="eager"` and `torch_dtype=torch.float32` and use a smaller batch; the soft-capping in attention needs the eager path either way.'],
      ['author', 'Confirmed, fp32 with eager attention trains fine. Closing.'],
    ],
    close: 'completed',
  },
  {
    shape: 'confirmed_closing',
    resolved: true,
    title: 'BertTokenizerFast offset_mapping is wrong for text with accents',
    body: '```python\nenc = tok("café au lait", return_offsets_mapping=True)\n```\n\nThe offsets for `café` end one character early.',
    comments: [
      ['collaborator', 'The uncased checkpoint strips accents during normalization, so offsets refer to the normalized string. Load the tokenizer with `strip_accents=False` (or use the cased checkpoint) and the offsets line up with the original text.'],
      ['author', 'confirmed, closing'],
    ],
    close: 'completed',
  },
  {
    shape: 'confirmed_closing',
    resolved: true,
    title: 'push_to_hub fails with 413 Payload Too Large for a 7B model',
    body: 'Calling `model.push_to_hub("my-org/my-7b")` uploads for a while and then fails with `413 Client Error: Payload Too Large`.',
    comments: [
      ['maintainer2', 'A single 13GB file is over the limit of a regular upload. Pass `max_shard_size="5GB"` to `push_to_hub` so the weights are split into shards, each uploaded on its own.'],
      ['bystander', 'Is there a workaround in the meantime?'],
      ['author', 'Can confirm `max_shard_size="5GB"` works. Closing, thanks!'],
    ],
    close: 'completed',
  },
  // ---- resolved: the answer stands, a stale bot has the last word
  {
    shape: 'stale_after_answer',
    resolved: true,
    title: 'How to get token-level log probabilities from generate()?',
    body: 'I want the log probability of each generated token. `generate` only returns ids.',
    comments: [
      ['maintainer', 'Pass `output_scores=True, return_dict_in_generate=True` to `generate`, then call `model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)`: it returns the log probability of every generated token, one row per sequence.'],
      ['stale', STALE],
    ],
    close: 'completed',
  },
  {
    shape: 'stale_after_answer',
    resolved: true,
    title: 'DataCollatorForLanguageModeling masks padding tokens in the labels',
    body: 'With `mlm=False` the labels still contain the pad token id instead of -100 when the pad token equals the eos token.',
    comments: [
      ['author', 'It only happens when `tokenizer.pad_token = tokenizer.eos_token`.'],
      ['maintainer2', 'That is expected: the collator sets every pad position to -100, and with pad equal to eos it cannot tell the real eos from padding, so the final eos is masked too. Use a separate pad token (`tok.add_special_tokens({"pad_token": "<pad>"})`) or `DataCollatorForSeq2Seq`, which masks by the attention mask instead.'],
      ['stale', STALE],
    ],
    close: 'completed',
  },
  {
    shape: 'stale_after_answer',
    resolved: true,
    title: 'CUDA out of memory during evaluation with Trainer, training is fine',
    body: 'Training a ViT classifier runs fine, but the first evaluation step crashes with `torch.cuda.OutOfMemoryError`.',
    comments: [
      ['maintainer', 'Evaluation keeps every logit on the GPU until the end of the loop. Set `eval_accumulation_steps=8` in `TrainingArguments` so predictions are moved to the CPU every 8 steps, or pass `preprocess_logits_for_metrics` to keep only the argmax.'],
      ['bystander', 'Same here with CLIP on a single T4.'],
      ['stale', STALE],
    ],
    close: 'completed',
  },
  // ---- resolved: a note names the fixing PR or commit
  {
    shape: 'fixed_in_pr',
    resolved: true,
    title: 'Mixtral sliding_window is ignored with SDPA attention',
    body: 'With `attn_implementation="sdpa"` the sliding window of the config has no effect: outputs match full attention.',
    pr: { title: '[Mixtral] Apply the sliding window mask in the SDPA path', body: 'The SDPA path built a plain causal mask and never applied `config.sliding_window`. This PR builds the sliding-window mask for SDPA as the eager path does, with a test comparing the two.' },
    comments: [
      ['maintainer2', 'I can reproduce this on main. Looking into it.'],
      ['maintainer2', (r) => `Fixed in #${r.pr}`],
    ],
    close: 'completed',
  },
  {
    shape: 'fixed_in_pr',
    resolved: true,
    title: 'Idefics2 processor drops images when a batch has different image counts',
    body: 'Passing two prompts with one and two images returns pixel values for only the first image of each.',
    pr: { title: 'Idefics2: keep every image when prompts in a batch have different image counts', body: 'Images were grouped by the first prompt\'s count. The processor now splits images per prompt from the `<image>` tokens and pads the image axis.' },
    comments: [
      ['author', 'Any update on this?'],
      ['maintainer', (r) => `This should be resolved by https://github.com/acme/threads/pull/${r.pr}, which is in the latest release.`],
    ],
    close: 'completed',
  },
  {
    shape: 'fixed_in_pr',
    resolved: true,
    title: 'T5 tokenizer adds an extra space before punctuation when decoding',
    body: '`tok.decode(tok("Hello, world!").input_ids, skip_special_tokens=True)` returns `Hello , world!`.',
    pr: { title: 'Fix T5 decoding of spaces before punctuation with legacy=False', body: 'Decoding re-added the SentencePiece underline before punctuation pieces. Decoding now follows `legacy=False` and joins them.' },
    comments: [
      ['bystander', 'Also affects Bart.'],
      ['collaborator', (r) => `Closed by #${r.pr}, thanks for the report!`],
    ],
    close: 'completed',
  },
  {
    shape: 'closed_by_commit',
    resolved: true,
    title: 'ValueError: `rope_scaling` must be a dictionary with two fields, `type` and `factor`',
    body: `${sys('4.42.4')}\`\`\`python\nAutoModelForCausalLM.from_pretrained("meta-llama/Meta-Llama-3.1-8B")\n\`\`\`\n\n\`\`\`\nValueError: \`rope_scaling\` must be a dictionary with two fields, \`type\` and \`factor\`, got {'factor': 8.0, 'rope_type': 'llama3'}\n\`\`\``,
    commit: 'rope',
    comments: [
      ['bystander', 'Same error with Llama 3.1 70B.'],
      ['maintainer', (r) => `Closed by ${r.sha.slice(0, 7)}; \`pip install -U transformers\` picks it up.`],
    ],
    close: 'completed',
  },
  {
    shape: 'closed_by_commit',
    resolved: true,
    title: 'text-generation pipeline returns the prompt even with return_full_text=False for chat inputs',
    body: 'With a list of chat messages as input, `pipe(messages, return_full_text=False)` still returns the whole conversation.',
    commit: 'pipeline',
    comments: [['maintainer2', (r) => `Fixed by https://github.com/acme/threads/commit/${r.sha}`]],
    close: 'completed',
  },
  {
    shape: 'closing_pr',
    resolved: true,
    title: 'Phi3 rotary embedding breaks for sequences longer than original_max_position_embeddings',
    body: 'Generation quality collapses after 4096 tokens with `microsoft/Phi-3-mini-128k-instruct`.',
    pr: { title: '[Phi3] Switch to the long rope factors past the original context', body: 'The long-factor switch compared against the current sequence length of the first step only. It now compares against the full position ids.', closes: true },
    comments: [['maintainer', 'I can reproduce this on main. Looking into it.']],
    close: 'completed',
  },
  {
    shape: 'closing_pr',
    resolved: true,
    title: 'Trainer logs the wrong learning rate with several param groups',
    body: 'Only the learning rate of the first param group is logged.',
    pr: { title: 'Trainer: log the learning rate of every param group', body: 'Logs `learning_rate/<group>` for each param group when there are several, instead of only the first.', closes: true },
    comments: [],
    close: 'completed',
  },
  // ---- resolved: the asker found the fix
  {
    shape: 'author_fix',
    resolved: true,
    title: 'OSError: Can\'t load tokenizer for a local folder after upgrading to 4.44',
    body: '`AutoTokenizer.from_pretrained("./my-model")` worked on 4.40 and now raises `OSError: Can\'t load tokenizer`.',
    comments: [
      ['maintainer', TRIAGE],
      ['author', 'Found it: the problem was a stale `tokenizer_config.json` that still pointed `tokenizer_class` at a class name from my own fork. Re-saving the tokenizer with `save_pretrained` fixed it.'],
    ],
    close: 'completed',
  },
  {
    shape: 'author_fix',
    resolved: true,
    title: 'Flash Attention 2 import error: undefined symbol in flash_attn_2_cuda',
    body: '```\nImportError: flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi\n```',
    comments: [
      ['bystander', 'Same here with Llama on an H100.'],
      ['author', 'Turns out flash-attn was built against an older torch. Reinstalling it with `pip install flash-attn --no-build-isolation --force-reinstall` after upgrading torch made the import work.'],
      ['maintainer', 'Glad you found it, closing!'],
    ],
    close: 'completed',
  },
  {
    shape: 'author_fix',
    resolved: true,
    title: 'Loss does not decrease when fine-tuning Qwen2 with LoRA',
    body: 'Loss stays at about 2.3 for the whole run with PEFT LoRA on `Qwen/Qwen2-1.5B`.',
    comments: [
      ['maintainer2', 'Could you check whether it still happens with `pip install -U transformers`?'],
      ['author', 'Still happening on the latest release.'],
      ['author', 'I figured out the problem: my `target_modules` listed `query_key_value`, which does not exist in Qwen2, so no adapter was trained. Using `["q_proj", "k_proj", "v_proj", "o_proj"]` fixed it and the loss goes down now.'],
    ],
    close: 'completed',
  },
  {
    shape: 'contributor_answer',
    resolved: true,
    title: 'How to run batched generation with left padding for GPT2?',
    body: 'Batched outputs are garbage for the shorter prompts. Single prompts work.',
    comments: [
      ['contributor', 'GPT2 pads on the right by default, and decoder-only models continue from the last position, which is padding for the shorter prompts. Set `tok.padding_side = "left"` and `tok.pad_token = tok.eos_token`, and pass the `attention_mask` from the tokenizer to `generate`.'],
      ['author', 'Thank you @kai-tanaka, left padding solved it.'],
    ],
    close: 'completed',
  },
  {
    shape: 'repro_then_answer',
    resolved: true,
    title: 'Wav2Vec2 fine-tuning crashes with RuntimeError: Expected tensor for argument #1 to have dtype Long',
    body: 'Fine-tuning `facebook/wav2vec2-base` with CTC crashes at the first step.',
    comments: [
      ['maintainer', TRIAGE],
      ['author', ENV],
      ['maintainer', 'Thanks! The labels are floats because the collator pads them with `-100.0` from a float tensor. Build them with `torch.tensor(labels, dtype=torch.long)` in your collator (or use `DataCollatorCTCWithPadding` from the example script), and the CTC loss accepts them.'],
      ['author', 'That fixed the crash, thanks!'],
    ],
    close: 'completed',
  },
  {
    shape: 'repro_then_answer',
    resolved: true,
    title: 'LlavaNext processor returns different pixel_values shape than the model expects',
    body: 'The model raises a shape mismatch in `pack_image_features` for some images.',
    comments: [
      ['maintainer2', 'Could you share the image sizes that fail?'],
      ['author', 'They are all 1920x1080 screenshots.'],
      ['maintainer2', 'The processor picks an anyres grid from `image_grid_pinpoints`, and the checkpoint\'s config lists a different grid than its preprocessor config. Load both from the same revision, or pass `image_grid_pinpoints=model.config.image_grid_pinpoints` to the processor, and the shapes match.'],
      ['bystander', 'Same here with LlavaNext on 2x V100.'],
      ['author', 'Passing the grid pinpoints from the model config works, thanks.'],
    ],
    close: 'completed',
  },
  {
    shape: 'stale_after_answer',
    resolved: true,
    title: 'Whisper timestamps are off by 30 seconds for long-form audio',
    body: 'With `return_timestamps=True` on a 5-minute file, timestamps restart from zero every 30 seconds.',
    comments: [
      ['maintainer', 'Chunked long-form decoding returns timestamps relative to each chunk unless the pipeline stitches them. Pass `chunk_length_s=30` and `batch_size` to the pipeline instead of calling `generate` yourself: the pipeline offsets every chunk\'s timestamps by its start.'],
      ['stale', STALE],
    ],
    close: 'completed',
  },
  // ---- unresolved
  {
    shape: 'stale_closed',
    resolved: false,
    title: 'Generation is slower with static cache on an RTX 4090',
    body: '`cache_implementation="static"` makes generation slower than the dynamic cache for me.',
    comments: [
      ['maintainer', TRIAGE],
      ['author', ENV],
      ['stale', STALE],
    ],
    close: 'completed',
  },
  {
    shape: 'stale_closed',
    resolved: false,
    title: 'Bart summarization output changed between 4.39 and 4.41',
    body: 'The same input gives a different summary after upgrading.',
    comments: [
      ['author', 'I tried 4.39.0 and it works there, so this looks like a regression.'],
      ['bystander', '+1, also seeing this.'],
      ['stale', STALE],
    ],
    close: 'not_planned',
  },
  {
    shape: 'triage_only',
    resolved: false,
    title: 'Gemma tokenizer splits emojis into byte tokens',
    body: 'Emoji come out as several `<0xF0>` style tokens.',
    comments: [
      ['maintainer2', 'I can reproduce this on main. Looking into it.'],
      ['maintainer2', 'cc @lena-vasquez who worked on this part recently'],
      ['stale', STALE],
    ],
    close: 'completed',
  },
  {
    shape: 'not_planned',
    resolved: false,
    title: 'Feature request: support quantized KV cache for Whisper',
    body: '### Feature request\n\nPlease add the quantized KV cache to `WhisperModel`.',
    comments: [['maintainer', 'Closing as not planned.']],
    close: 'not_planned',
  },
  {
    shape: 'duplicate',
    resolved: false,
    title: 'Llama 3.1 rope_scaling error on load',
    body: '`ValueError: rope_scaling must be a dictionary with two fields` when loading Llama 3.1.',
    comments: [
      ['maintainer2', 'Duplicate of #14'],
    ],
    close: 'completed',
  },
  {
    shape: 'wontfix',
    resolved: false,
    title: 'Feature request: add a `load_in_3bit` option to from_pretrained',
    body: 'bitsandbytes has 4 and 8 bits; a 3-bit option would fit 70B models on one GPU.',
    comments: [
      ['maintainer', "Thanks for the suggestion! We won't add a 3-bit option to `from_pretrained` itself: quantization schemes live in their own integrations, so this belongs in the quantization library first."],
    ],
    close: 'not_planned',
  },
  {
    shape: 'wontfix',
    resolved: false,
    title: 'Please keep Python 3.8 support',
    body: 'Our cluster is stuck on Python 3.8 and the latest release no longer installs.',
    comments: [
      ['maintainer2', 'Python 3.8 reached end of life, and we are not going to support it again in new releases. Pin `transformers<4.45` on that cluster until it can be upgraded.'],
    ],
    close: 'completed',
  },
  {
    shape: 'disputed_answer',
    resolved: false,
    title: 'ViT image classification pipeline returns the same label for every image',
    body: 'Every image gets `LABEL_0` with score 1.0.',
    comments: [
      ['maintainer', 'The checkpoint has no `id2label` and its classifier head is newly initialized, so every prediction is arbitrary. Fine-tune the head first, or load a checkpoint that was fine-tuned for classification.'],
      ['author', 'I am loading a fine-tuned checkpoint though, and the same images were labelled correctly in 4.40.'],
      ['stale', STALE],
    ],
    close: 'completed',
  },
];

export interface IssueThreadFixture {
  fx: GithubFixture;
  /** Issue number → thread, for every issue of the fixture. */
  threads: Map<number, ThreadSpec>;
}

const DAY = 86_400_000;
const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/**
 * The threads as a GitHub fixture (owner acme, repo threads): each issue with its comments in order,
 * the PRs they name (merged just before the note that names them), closed as their spec says.
 * `shas` holds the full sha of each FIX_COMMITS entry.
 */
export function makeIssueThreadFixture(shas: Record<string, string>): IssueThreadFixture {
  const fx = makeGithubFixture({ owner: 'acme', repo: 'threads', issues: 0, openIssues: 0, prs: 0 });
  const threads = new Map<number, ThreadSpec>();
  let t = Date.parse('2024-06-03T09:00:00Z');
  THREADS.forEach((spec, i) => {
    t += DAY;
    const step = () => iso((t += 3 * 3_600_000));
    const issue = addIssue(fx, { title: spec.title, body: spec.body, login: `asker-${String(i + 1).padStart(2, '0')}`, at: step() });
    threads.set(issue.number, spec);
    const refs: Refs = { pr: 0, sha: spec.commit ? (shas[spec.commit] ?? '') : '' };
    if (spec.pr) {
      const body = spec.pr.closes ? `${spec.pr.body}\n\nFixes #${issue.number}` : spec.pr.body;
      refs.pr = addPull(fx, { title: spec.pr.title, body, login: 'kai-tanaka', state: 'merged', at: step() }).issue.number;
    }
    for (const [role, text] of spec.comments) {
      const body = typeof text === 'function' ? text(refs) : text;
      if (role === 'author') addIssueComment(fx, issue.number, body, step(), issue.user.login, 'NONE');
      else addIssueComment(fx, issue.number, body, role === 'stale' ? iso((t += 30 * DAY)) : step(), ROLES[role][0], ROLES[role][1]);
    }
    closeIssue(fx, issue.number, spec.close, step());
  });
  return { fx, threads };
}
