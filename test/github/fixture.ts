// A deterministic, GitHub-shaped repository history (issues, pull requests, both kinds of comments)
// for the GitHub test server. Shaped like huggingface/transformers: templated titles and bodies, a
// stale bot, maintainers who answer, PR bodies saying "Fixes #n". Same options and seed → same JSON.
import { createHash } from 'node:crypto';
import type { components } from '@octokit/openapi-types';

type S = components['schemas'];
export type AuthorAssociation = S['author-association'];

// The openapi ids are `number | bigint`; GitHub's JSON (and this fixture) only ever has numbers.
export type GhUser = S['simple-user'] & { id: number; type: 'User' | 'Bot' | 'Organization' };
export interface GhLabel {
  id: number;
  node_id: string;
  url: string;
  name: string;
  description: string | null;
  color: string;
  default: boolean;
}
export type GhIssue = Omit<S['issue'], 'id' | 'user' | 'labels' | 'author_association' | 'reactions' | 'body'> & {
  id: number;
  user: GhUser;
  labels: GhLabel[];
  body: string | null;
  author_association: AuthorAssociation;
  reactions: S['reaction-rollup'];
};
export type GhIssueComment = Omit<S['issue-comment'], 'id' | 'user' | 'body' | 'author_association'> & {
  id: number;
  user: GhUser;
  body: string;
  author_association: AuthorAssociation;
};
export type GhReviewComment = Omit<S['pull-request-review-comment'], 'id' | 'user' | 'pull_request_review_id'> & {
  id: number;
  user: GhUser;
  pull_request_review_id: number;
};
/** The parts of a repository object a PR's head and base carry here (GitHub sends the full repository). */
export interface GhRepoRef {
  id: number;
  node_id: string;
  name: string;
  full_name: string;
  private: boolean;
  owner: GhUser;
  html_url: string;
  url: string;
  description: string | null;
  fork: boolean;
  default_branch: string;
}
export interface GhBranch {
  label: string;
  ref: string;
  sha: string;
  user: GhUser;
  repo: GhRepoRef;
}
/** A pull request as GET /pulls/{number} returns it; GET /pulls drops PULL_DETAIL_KEYS. */
export type GhPull = Omit<S['pull-request'], 'id' | 'user' | 'labels' | 'head' | 'base' | 'merged_by' | 'requested_teams'> & {
  id: number;
  user: GhUser;
  labels: GhLabel[];
  head: GhBranch;
  base: GhBranch;
  merged_by: GhUser | null;
  requested_teams: [];
};
export const PULL_DETAIL_KEYS = [
  'merged', 'mergeable', 'rebaseable', 'mergeable_state', 'merged_by', 'comments', 'review_comments',
  'maintainer_can_modify', 'commits', 'additions', 'deletions', 'changed_files',
] as const;

export interface GithubFixture {
  owner: string;
  repo: string;
  issues: GhIssue[];
  pulls: GhPull[];
  issueComments: GhIssueComment[];
  reviewComments: GhReviewComment[];
}

export interface GithubFixtureOptions {
  owner?: string;
  repo?: string;
  seed?: number;
  /** Closed issues. */
  issues?: number;
  openIssues?: number;
  /** Closed pull requests: mergedShare of them merged, the rest closed unmerged. */
  prs?: number;
  openPrs?: number;
  mergedShare?: number;
  /** Share of merged PRs whose body says `Fixes #<n>` for a closed issue. */
  fixesShare?: number;
  commentsPerIssue?: [number, number];
  commentsPerPr?: [number, number];
  reviewCommentsPerPr?: [number, number];
  /** ISO time of the first item; everything later follows from it. */
  start?: string;
  firstNumber?: number;
}

export const API = 'https://api.github.com';
const WEB = 'https://github.com';

/** GitHub's timestamp form: seconds, no milliseconds. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha40 = (...parts: (string | number)[]) => createHash('sha1').update(parts.join('\u0000')).digest('hex');
const hashInt = (s: string, mod: number) => createHash('sha1').update(s).digest().readUInt32BE(0) % mod;
const b64 = (s: string) => Buffer.from(s).toString('base64').replace(/=+$/, '');

// ---------------------------------------------------------------------------------------------- people

/** A GitHub user object as the REST API returns it (also used by the unit tests of the GitHub records). */
export function makeUser(login: string, type: GhUser['type'] = 'User', fixedId?: number): GhUser {
  const id = fixedId ?? 1_000_000 + hashInt(login, 150_000_000);
  const u = `${API}/users/${login}`;
  const nodeKind = type === 'Bot' ? `03:Bot${id}` : type === 'Organization' ? `012:Organization${id}` : `04:User${id}`;
  return {
    login,
    id,
    node_id: b64(nodeKind),
    avatar_url: `https://avatars.githubusercontent.com/${type === 'Bot' ? 'in' : 'u'}/${id}?v=4`,
    gravatar_id: '',
    url: u,
    html_url: type === 'Bot' ? `${WEB}/apps/${login.replace(/\[bot\]$/, '')}` : `${WEB}/${login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type,
    user_view_type: 'public',
    site_admin: false,
  };
}

interface Persona {
  user: GhUser;
  assoc: AuthorAssociation;
}

// Invented handles: the fixture should not put words in real people's mouths.
const MEMBERS = ['mira-okafor', 'tkessler-hf', 'lena-vasquez', 'r-amadou', 'jonas-brekke', 'priya-raman'];
const CONTRIBUTORS = ['kai-tanaka', 'dsouza-ml', 'fatima-zr', 'oleg-petrenko', 'emma-lindqvist', 'yuki-sato', 'marco-bellini'];
const OUTSIDERS = [
  'nlp-student-7', 'gpu-poor-dev', 'hk-researcher', 'data-wrangler-22', 'bert-fan', 'quant-enthusiast',
  'lora-tinkerer', 'mlops-ravi', 'cuda-oom-again', 'tok-curious', 'sofia-builds', 'deep-amir',
];

function people() {
  const members = MEMBERS.map((l): Persona => ({ user: makeUser(l), assoc: 'MEMBER' }));
  const contributors = CONTRIBUTORS.map((l): Persona => ({ user: makeUser(l), assoc: 'CONTRIBUTOR' }));
  const outsiders = OUTSIDERS.map((l): Persona => ({ user: makeUser(l), assoc: 'NONE' }));
  const collaborator: Persona = { user: makeUser('w-brandt'), assoc: 'COLLABORATOR' };
  const firstTimer: Persona = { user: makeUser('first-pr-lucas'), assoc: 'FIRST_TIME_CONTRIBUTOR' };
  const actionsBot: Persona = { user: makeUser('github-actions[bot]', 'Bot', 41898282), assoc: 'NONE' };
  const dependabot: Persona = { user: makeUser('dependabot[bot]', 'Bot', 49699333), assoc: 'NONE' };
  return { members, contributors, outsiders, collaborator, firstTimer, actionsBot, dependabot };
}

// ---------------------------------------------------------------------------------------------- labels

const LABELS: [string, string, string | null][] = [
  ['bug', 'd73a4a', null],
  ['Feature request', 'a2eeef', 'Request for a new feature'],
  ['Good First Issue', '7057ff', null],
  ['Core: Tokenization', 'FF4446', 'Internals of the library; Tokenization.'],
  ['Generation', 'C91DB2', null],
  ['Documentation', '0075ca', null],
  ['trainer', 'c2e0c6', null],
  ['Vision', 'C079EF', null],
  ['Audio', '760453', null],
  ['WIP', 'E1BE37', 'Label your PR/Issue with WIP for some long outstanding Issues/PRs that are work in progress'],
  ['dependencies', '0366d6', 'Pull requests that update a dependency file'],
];

function labelObject(owner: string, repo: string, name: string): GhLabel {
  const known = LABELS.find(([n]) => n === name);
  const id = 1_000_000_000 + hashInt(`${owner}/${repo}:${name}`, 900_000_000);
  return {
    id,
    node_id: `LA_kwDO${b64(String(id))}`,
    url: `${API}/repos/${owner}/${repo}/labels/${encodeURIComponent(name)}`,
    name,
    description: known?.[2] ?? null,
    color: known?.[1] ?? 'ededed',
    default: name === 'bug' || name === 'Documentation',
  };
}

// ---------------------------------------------------------------------------------------------- text

const MODELS: [string, string][] = [
  ['Llama', 'llama'], ['Mistral', 'mistral'], ['Qwen2', 'qwen2'], ['Gemma', 'gemma'], ['Whisper', 'whisper'],
  ['T5', 't5'], ['Bert', 'bert'], ['CLIP', 'clip'], ['Mixtral', 'mixtral'], ['Phi3', 'phi3'], ['GPT2', 'gpt2'],
  ['Bart', 'bart'], ['ViT', 'vit'], ['Wav2Vec2', 'wav2vec2'], ['LlavaNext', 'llava_next'], ['Idefics2', 'idefics2'],
];
const GEN_PARAMS: [string, string][] = [
  ['max_new_tokens', '20'], ['repetition_penalty', '1.3'], ['min_length', '10'], ['num_beams', '4'], ['eos_token_id', '2'],
];
const GEN_CONDS = ['using the static cache', 'the batch size is larger than 1', 'called with inputs_embeds', 'torch.compile is enabled'];
const FEATURES: [string, string][] = [
  ['Flash Attention 2', 'attn_implementation="flash_attention_2"'],
  ['SDPA attention', 'attn_implementation="sdpa"'],
  ['gradient checkpointing', 'model.gradient_checkpointing_enable()'],
  ['the static KV cache', 'cache_implementation="static"'],
  ['quantized KV cache', 'cache_implementation="quantized"'],
];
const GPUS = ['an A100 80GB', 'a single T4', 'an RTX 4090', '2x V100', 'an H100'];
const LANGS = ['Japanese', 'Arabic', 'Hindi', 'Korean', 'Thai'];
const DOC_PAGES = ['quicktour', 'pipeline tutorial', 'chat templating guide', 'PEFT integration', 'LLM optimization guide'];

interface Helpers {
  rnd: () => number;
  int: (a: number, b: number) => number;
  pick: <T>(xs: readonly T[]) => T;
}

function systemInfo(h: Helpers, minor: number): string {
  return [
    '### System Info',
    '',
    `- \`transformers\` version: 4.${minor}.${h.int(0, 2)}`,
    `- Platform: Linux-5.15.0-${h.int(60, 120)}-generic-x86_64-with-glibc2.35`,
    `- Python version: 3.${h.int(9, 12)}.${h.int(0, 9)}`,
    `- PyTorch version (GPU?): 2.${h.int(1, 5)}.0+cu121 (True)`,
  ].join('\n');
}

interface IssueText {
  title: string;
  body: string | null;
  labels: string[];
  answer: string;
  question: boolean;
}

function issueText(h: Helpers, ref: () => number): IssueText {
  const [M, dir] = h.pick(MODELS);
  const minor = h.int(36, 47);
  switch (h.int(0, 6)) {
    case 0: {
      const [p, v] = h.pick(GEN_PARAMS);
      const cond = h.pick(GEN_CONDS);
      return {
        title: `${M}ForCausalLM.generate() ignores \`${p}\` when ${cond}`,
        body: `${systemInfo(h, minor)}\n\n### Reproduction\n\n\`\`\`python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\ntok = AutoTokenizer.from_pretrained("acme/${dir}-small")\nmodel = AutoModelForCausalLM.from_pretrained("acme/${dir}-small")\nout = model.generate(**tok(["Hello"], return_tensors="pt"), ${p}=${v})\nprint(out.shape)\n\`\`\`\n\n### Expected behavior\n\n\`${p}=${v}\` should be respected, but the output is the same as without it.`,
        labels: ['bug', 'Generation'],
        answer: `Thanks for the report! When a \`GenerationConfig\` is attached to the model, \`${p}\` passed as a keyword was overridden ${cond === 'using the static cache' ? 'by the cache setup' : 'by the saved config'}. Pass it through the config instead: \`model.generate(**inputs, generation_config=GenerationConfig(${p}=${v}))\`. The keyword path is fixed by #${ref()} and ships in v4.${minor + 1}.0.`,
        question: false,
      };
    }
    case 1: {
      const err = h.pick([
        `Unrecognized configuration class <class 'transformers.models.${dir}.configuration_${dir}.${M}Config'>`,
        `Tokenizer class ${M}Tokenizer does not exist or is not currently imported.`,
        '`rope_scaling` must be a dictionary with two fields, `type` and `factor`',
      ]);
      return {
        title: `ValueError: ${err.split('.')[0]!.slice(0, 80)} when loading acme/${dir}-${h.pick(['7b', 'base', 'large', 'v2'])}`,
        body: h.rnd() < 0.15 ? null : `${systemInfo(h, minor)}\n\n### Reproduction\n\n\`\`\`python\nfrom transformers import AutoModel\nmodel = AutoModel.from_pretrained("acme/${dir}-base")\n\`\`\`\n\n\`\`\`\nTraceback (most recent call last):\n  File "repro.py", line 2, in <module>\nValueError: ${err}\n\`\`\``,
        labels: ['bug'],
        answer: `This checkpoint needs a newer release: the ${M} changes it relies on were added in v4.${minor + 1}.0, so \`pip install -U transformers\` fixes the error. \`trust_remote_code=True\` is not needed for it.`,
        question: false,
      };
    }
    case 2: {
      const steps = h.pick([4, 8, 16, 32]);
      return {
        title: `CUDA out of memory when fine-tuning ${M} with Trainer on ${h.pick(GPUS)}`,
        body: `Training runs fine, but the first evaluation crashes with \`torch.cuda.OutOfMemoryError\`.\n\n\`\`\`python\nargs = TrainingArguments(\n    output_dir="out",\n    per_device_train_batch_size=8,\n    per_device_eval_batch_size=8,\n    eval_strategy="steps",\n    eval_steps=500,\n)\ntrainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val)\ntrainer.train()\n\`\`\``,
        labels: ['trainer'],
        answer: `The spike comes from evaluation keeping every logit on the GPU until the end. Set \`eval_accumulation_steps=${steps}\` in \`TrainingArguments\` (or \`prediction_loss_only=True\` if you only need the loss) so predictions move to the CPU every ${steps} steps.`,
        question: false,
      };
    }
    case 3: {
      const lang = h.pick(LANGS);
      return {
        title: `${M}TokenizerFast returns wrong offset_mapping for ${lang} text`,
        body: `\`\`\`python\nenc = tok("${'テキスト'}", return_offsets_mapping=True)\nprint(enc["offset_mapping"])\n\`\`\`\n\nThe offsets point past the end of the string for ${lang} input; the slow tokenizer gives the right spans.`,
        labels: ['bug', 'Core: Tokenization'],
        answer: `Offsets are computed on the normalized text, and this tokenizer normalizes with NFKC. Load it with \`AutoTokenizer.from_pretrained(..., add_prefix_space=False)\` and map spans back with \`enc.char_to_token\`; #${ref()} makes the fast tokenizer report offsets on the original string.`,
        question: false,
      };
    }
    case 4: {
      const [feature, how] = h.pick(FEATURES);
      return {
        title: `Feature request: support ${feature} for ${M}`,
        body: `### Feature request\n\nPlease add ${feature} to \`${M}Model\`.\n\n### Motivation\n\nIt would make long-context inference much faster on ${h.pick(GPUS)}.\n\n### Your contribution\n\nHappy to open a PR if someone points me to the right place.`,
        labels: ['Feature request'],
        answer: `${feature} is supported for ${M} on main since #${ref()}: install from source (\`pip install git+https://github.com/huggingface/transformers\`) and use \`${how}\`. It will be in the next release.`,
        question: false,
      };
    }
    case 5: {
      const page = h.pick(DOC_PAGES);
      const old = h.pick(['use_auth_token', 'evaluation_strategy', 'max_length', 'return_dict=False']);
      return {
        title: `Docs: the ${page} example still uses \`${old}\``,
        body: h.rnd() < 0.3 ? null : `The example in the ${page} passes \`${old}\`, which now raises a deprecation warning.`,
        labels: ['Documentation', 'Good First Issue'],
        answer: `Good catch, \`${old}\` is deprecated. The ${page} now uses the replacement argument; see #${ref()}.`,
        question: false,
      };
    }
    default: {
      const task = h.pick(['extract token-level embeddings', 'batch generation with left padding', 'run inference on CPU in int8', 'stream generated tokens']);
      return {
        title: `How to ${task} with ${M}?`,
        body: `I'm trying to ${task} with \`${M}Model\` but can't find it in the docs. Is there an example?`,
        labels: [],
        answer: `Questions like this are best asked on the forum (https://discuss.huggingface.co), but in short: to ${task}, load the model with \`${M}Model.from_pretrained\`, set \`tokenizer.padding_side = "left"\` and pass \`output_hidden_states=True\`; the docs page on ${h.pick(DOC_PAGES)} has a full example.`,
        question: true,
      };
    }
  }
}

const STALE = 'This issue has been automatically marked as stale because it has not had recent activity. If you think this still needs to be addressed please comment on this thread.\n\nPlease note that issues that do not follow the [contributing guidelines](https://github.com/huggingface/transformers/blob/main/CONTRIBUTING.md) are likely to be ignored.';

function chatter(h: Helpers, who: 'triage' | 'member' | 'author' | 'other', author: string, minor: number): string {
  const [M] = h.pick(MODELS);
  if (who === 'triage') {
    return `Hi @${author}, thanks for opening this issue! Could you share the output of \`transformers env\` and a minimal reproducer?`;
  }
  if (who === 'member') {
    return h.pick([
      `cc @${h.pick(MEMBERS)} who worked on this part recently`,
      `I can reproduce this on main. Looking into it.`,
      `Could you check whether it still happens with \`pip install -U transformers\`?`,
    ]);
  }
  if (who === 'author') {
    return h.pick([
      `Sure, here it is:\n\n\`\`\`\n- transformers version: 4.${minor}.0\n- Python version: 3.11.8\n- PyTorch version (GPU?): 2.3.0 (True)\n\`\`\``,
      `I tried 4.${minor - 1}.0 and it works there, so this looks like a regression.`,
      `Still happening on the latest release.`,
      `Any update on this?`,
      'Here is a smaller reproducer: it fails as soon as `padding_side="left"` is set.',
      `It only fails on GPU; on CPU the output is correct.`,
    ]);
  }
  return h.pick([`Same here with ${M} on ${h.pick(GPUS)}.`, '+1, also seeing this.', `Is there a workaround in the meantime?`, `Also affects ${M}.`]);
}

interface PrText {
  title: string;
  body: string | null;
  labels: string[];
  branch: string;
  dependabot: boolean;
}

function prText(h: Helpers): PrText {
  const [M, dir] = h.pick(MODELS);
  const k = h.int(0, 5);
  const template = (what: string) => `# What does this PR do?\n\n${what}\n\n## Before submitting\n- [x] Did you read the [contributor guideline](https://github.com/huggingface/transformers/blob/main/CONTRIBUTING.md)?\n- [${h.rnd() < 0.6 ? 'x' : ' '}] Did you write any new necessary tests?\n\n## Who can review?\n\n@${h.pick(MEMBERS)}`;
  switch (k) {
    case 0: {
      const thing = h.pick(['attention mask dtype under fp16', 'cache position with left padding', 'loss scaling with gradient accumulation', 'rotary embedding for long contexts']);
      return { title: `[${M}] Fix ${thing}`, body: template(`Fixes the ${thing} in \`modeling_${dir}.py\`.`), labels: [], branch: `fix-${dir}-${thing.split(' ')[0]}`, dependabot: false };
    }
    case 1: {
      const [feature] = h.pick(FEATURES);
      return { title: `Add ${feature} support for ${M}`, body: template(`Adds ${feature} to \`${M}Model\` with tests in \`tests/models/${dir}\`.`), labels: [], branch: `${dir}-${feature.split(' ')[0]!.toLowerCase()}`, dependabot: false };
    }
    case 2: {
      const page = h.pick(DOC_PAGES);
      return { title: `[docs] Fix typo in ${page}`, body: h.rnd() < 0.4 ? null : `Small typo fix in the ${page}.`, labels: ['Documentation'], branch: 'patch-1', dependabot: false };
    }
    case 3: {
      const x = h.pick(['save the scheduler with save_only_model', 'respect eval_accumulation_steps', 'log the learning rate per group']);
      return { title: `Trainer: ${x}`, body: template(`Makes the Trainer ${x}.\n\n\`\`\`python\ntrainer = Trainer(model=model, args=TrainingArguments("out"))\n\`\`\``), labels: ['trainer'], branch: `trainer-${x.split(' ')[0]}`, dependabot: false };
    }
    case 4: {
      const dep = h.pick(['aiohttp', 'jinja2', 'urllib3', 'werkzeug']);
      const a = `${h.int(1, 3)}.${h.int(0, 9)}.${h.int(0, 9)}`;
      return {
        title: `Bump ${dep} from ${a} to ${a.replace(/\d+$/, (n) => String(Number(n) + 1))} in /examples/research_projects/${dir}`,
        body: `Bumps [${dep}](https://github.com/${dep}/${dep}) from ${a}.\n\n[![Dependabot compatibility score](https://dependabot-badges.githubapp.com/badges/compatibility_score)](https://docs.github.com/en/github/managing-security-vulnerabilities/about-dependabot-security-updates#about-compatibility-scores)`,
        labels: ['dependencies'],
        branch: `dependabot/pip/examples/${dir}/${dep}-${a}`,
        dependabot: true,
      };
    }
    default: {
      const what = h.pick(['`# Copied from` statements', 'the model card', 'slow tests']);
      return { title: `[${M}] Update ${what}`, body: template(`Updates ${what} for ${M}.`), labels: h.rnd() < 0.2 ? ['WIP'] : [], branch: `${dir}-update`, dependabot: false };
    }
  }
}

function diffHunk(h: Helpers, M: string): { hunk: string; line: number } {
  const a = h.int(80, 900);
  const lines = [
    `@@ -${a},7 +${a},8 @@ class ${M}Attention(nn.Module):`,
    '         query_states = self.q_proj(hidden_states)',
    '         key_states = self.k_proj(hidden_states)',
    '-        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3))',
    '+        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) * self.scaling',
    '+        if attention_mask is not None:',
    '+            attn_weights = attn_weights + attention_mask[:, :, :, : key_states.shape[-2]]',
  ];
  return { hunk: lines.join('\n'), line: a + 4 };
}

const REVIEW_BODIES = [
  'Could we avoid the extra copy here? `.contiguous()` is not needed after `transpose`.',
  "nit: let's keep the variable names of Llama so the `# Copied from` statement still applies",
  'This breaks `torch.compile` because of the data-dependent branch; can we move the check to `__init__`?',
  '```suggestion\n            attn_weights = attn_weights + causal_mask\n```',
  'Can you add a test for the padded case in `tests/models/`?',
];

// ---------------------------------------------------------------------------------------------- generation

interface CommentDraft {
  at: number;
  edited: number | null;
  who: Persona;
  body: string;
  seq: number;
}
interface ReviewDraft {
  at: number;
  edited: number | null;
  who: Persona;
  body: string;
  seq: number;
  review: number; // index of the review this comment belongs to
  path: string;
  hunk: string;
  line: number;
  replyTo: ReviewDraft | null;
}
interface ItemDraft {
  number: number;
  kind: 'issue' | 'pr';
  created: number;
  closed: number | null;
  merged: number | null;
  author: Persona;
  title: string;
  body: string | null;
  labels: string[];
  stateReason: 'completed' | 'not_planned' | null;
  comments: CommentDraft[];
  reviews: ReviewDraft[];
  branch: string;
}

const MIN = 60_000;

export function makeGithubFixture(opts: GithubFixtureOptions = {}): GithubFixture {
  const owner = opts.owner ?? 'huggingface';
  const repo = opts.repo ?? 'transformers';
  const seed = opts.seed ?? 1;
  const nClosed = opts.issues ?? 300;
  const nOpen = opts.openIssues ?? 20;
  const nPrs = opts.prs ?? 200;
  const nOpenPrs = opts.openPrs ?? 0;
  const [cMin, cMax] = opts.commentsPerIssue ?? [3, 10];
  const [pMin, pMax] = opts.commentsPerPr ?? [0, 4];
  const [rMin, rMax] = opts.reviewCommentsPerPr ?? [0, 5];
  const startMs = Date.parse(opts.start ?? '2024-01-02T09:00:00Z');
  if (Number.isNaN(startMs)) throw new Error(`makeGithubFixture: start is not a date: ${opts.start}`);
  const firstNumber = opts.firstNumber ?? 1;

  const rnd = mulberry32(seed);
  const int = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const h: Helpers = { rnd, int, pick };
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  const who = people();

  type Kind = 'closed' | 'open' | 'merged' | 'unmerged' | 'open-pr';
  const nMerged = Math.round(nPrs * (opts.mergedShare ?? 0.8));
  const kinds = shuffle<Kind>([
    ...Array<Kind>(nClosed).fill('closed'),
    ...Array<Kind>(nOpen).fill('open'),
    ...Array<Kind>(nMerged).fill('merged'),
    ...Array<Kind>(nPrs - nMerged).fill('unmerged'),
    ...Array<Kind>(nOpenPrs).fill('open-pr'),
  ]);

  let seq = 0;
  let clock = startMs;
  const drafts: ItemDraft[] = [];
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const number = firstNumber + i;
    clock += int(2, 90) * MIN + int(0, 59) * 1000;
    const created = clock;
    const isPr = kind === 'merged' || kind === 'unmerged' || kind === 'open-pr';
    let t = created;
    const step = () => (t += int(5, 600) * MIN + int(0, 59) * 1000);
    const comment = (p: Persona, body: string, at = step()): CommentDraft => ({
      at,
      edited: rnd() < 0.1 ? at + int(1, 30) * MIN : null,
      who: p,
      body,
      seq: seq++,
    });
    const minor = int(36, 47);

    if (!isPr) {
      const author = rnd() < 0.75 ? pick(who.outsiders) : pick(who.contributors);
      // Answers cite a later PR or issue number, as maintainers do.
      const text = issueText(h, () => number + int(1, 400));
      const n = int(cMin, cMax);
      const stale = kind === 'closed' && (text.question ? rnd() < 0.6 : rnd() < 0.12);
      const answered = kind === 'closed' && !stale && rnd() < 0.75;
      const thanks = answered && n >= 2 && rnd() < 0.3;
      const comments: CommentDraft[] = [];
      // The last one or two slots are the answer (and maybe a thank-you after it), or the stale bot.
      const tail = (stale || answered ? 1 : 0) + (thanks ? 1 : 0);
      // A maintainer triages first; then the author, other maintainers and bystanders take turns.
      for (let c = 0; c < n - tail; c++) {
        const r = rnd();
        const p = c === 0 ? (r < 0.7 ? pick(who.members) : pick(who.outsiders)) : r < 0.45 ? author : r < 0.75 ? pick(who.members) : pick([...who.outsiders, ...who.contributors]);
        const role = p === author ? 'author' : p.assoc === 'MEMBER' ? (c === 0 ? 'triage' : 'member') : 'other';
        // Re-draw a few times so one thread does not repeat itself word for word.
        let body = chatter(h, role, author.user.login, minor);
        for (let k = 0; k < 3 && comments.some((x) => x.body === body); k++) body = chatter(h, role, author.user.login, minor);
        comments.push(comment(p, body));
      }
      let stateReason: ItemDraft['stateReason'] = null;
      let closed: number | null = null;
      if (n - tail >= 0 && tail > 0) {
        if (stale) comments.push(comment(who.actionsBot, STALE, (t += int(20, 40) * 24 * 60 * MIN)));
        else comments.push(comment(pick(who.members), text.answer));
      }
      if (kind === 'closed') {
        stateReason = stale || (text.question && !answered) || (!answered && rnd() < 0.4) ? 'not_planned' : 'completed';
        closed = step();
        if (thanks) comments.push(comment(author, `Thanks, that fixed it! ${rnd() < 0.5 ? '🙏' : ''}`.trim()));
      }
      drafts.push({
        number, kind: 'issue', created, closed, merged: null, author, title: text.title, body: text.body,
        labels: text.labels, stateReason, comments, reviews: [], branch: '',
      });
      continue;
    }

    const text = prText(h);
    const author = text.dependabot ? who.dependabot : pick([...who.contributors, ...who.contributors, ...who.members, who.collaborator, who.firstTimer, ...who.outsiders]);
    const comments: CommentDraft[] = [];
    const reviews: ReviewDraft[] = [];
    const nc = text.dependabot ? Math.min(pMax, Math.max(pMin, 1)) : int(pMin, pMax);
    const nr = text.dependabot ? rMin : int(rMin, rMax);
    const [M, dir] = pick(MODELS);
    let reviewNo = 0;
    const addReview = () => {
      const prev = reviews[reviews.length - 1];
      // A reply from the author continues the thread above it: same file, line and hunk.
      const base = prev && prev.replyTo === null && rnd() < 0.35 ? prev : null;
      const at = step();
      const { hunk, line } = base ? { hunk: base.hunk, line: base.line } : diffHunk(h, M);
      const sameReview = !base && prev !== undefined && prev.who !== author && rnd() < 0.5;
      reviews.push({
        at,
        edited: rnd() < 0.08 ? at + int(1, 20) * MIN : null,
        who: base ? author : pick(who.members),
        body: base ? pick(['Good catch, done!', `Done in ${sha40(seed, number, at).slice(0, 7)}.`, 'Makes sense, updated.']) : pick(REVIEW_BODIES),
        seq: seq++,
        review: sameReview ? prev.review : reviewNo++,
        path: base ? base.path : `src/transformers/models/${dir}/modeling_${dir}.py`,
        hunk,
        line,
        replyTo: base,
      });
    };
    for (let c = 0; c < nc; c++) {
      const body = text.dependabot
        ? "OK, I won't notify you again about this release, but will get in touch when a new version is available."
        : c === 0 && rnd() < 0.5
          ? `The docs for this PR live [here](https://moon-ci-docs.huggingface.co/docs/${repo}/pr_${number}). All of your documentation changes will be reflected on that endpoint.`
          : pick([`Thanks for the fix! LGTM, let's wait for the CI.`, `Rebased on main, CI is green now.`, `run-slow: ${dir}`, `cc @${pick(MEMBERS)} for a final review`]);
      const p = body.startsWith('The docs for this PR') ? who.actionsBot : text.dependabot ? who.dependabot : rnd() < 0.6 ? pick(who.members) : author;
      comments.push(comment(p, body));
      // Review comments interleave with the conversation.
      while (reviews.length < Math.round(((c + 1) / nc) * nr)) addReview();
    }
    while (reviews.length < nr) addReview();
    const closed = kind === 'open-pr' ? null : step();
    drafts.push({
      number, kind: 'pr', created, closed, merged: kind === 'merged' ? closed : null, author, title: text.title,
      body: text.body, labels: text.labels, stateReason: null, comments, reviews, branch: text.branch,
    });
  }

  // "Fixes #n" in a share of merged PR bodies, pointing at closed issues opened before the PR.
  const closedIssues = drafts.filter((d) => d.kind === 'issue' && d.closed !== null);
  const merged = drafts.filter((d) => d.merged !== null);
  const nFixes = Math.round(merged.length * (opts.fixesShare ?? 0.3));
  for (const pr of shuffle([...merged]).slice(0, nFixes).sort((a, b) => a.number - b.number)) {
    const earlier = closedIssues.filter((d) => d.number < pr.number);
    const target = earlier.length > 0 ? pick(earlier) : closedIssues.length > 0 ? pick(closedIssues) : null;
    if (!target) break;
    pr.body = `# What does this PR do?\n\n${pr.title}.\n\nFixes #${target.number}\n\n## Who can review?\n\n@${pick(MEMBERS)}`;
  }

  return assemble(owner, repo, seed, drafts, who.members);
}

// Ids grow with creation time, as on GitHub: assign them after every timestamp is known.
function assemble(
  owner: string,
  repo: string,
  seed: number,
  drafts: ItemDraft[],
  members: Persona[],
): GithubFixture {
  const rnd = mulberry32(seed ^ 0x5eed);
  const gap = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
  const repoId = 100_000_000 + hashInt(`${owner}/${repo}`, 800_000_000);
  const ownerUser = makeUser(owner, 'Organization');
  const fx: GithubFixture = { owner, repo, issues: [], pulls: [], issueComments: [], reviewComments: [] };

  for (const d of drafts) d.comments.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const allComments = drafts.flatMap((d) => d.comments).sort((x, y) => x.at - y.at || x.seq - y.seq);
  const commentIds = new Map<CommentDraft, number>();
  let cid = 1_800_000_000;
  for (const c of allComments) commentIds.set(c, (cid += gap(1, 5_000)));
  const allReviews = drafts.flatMap((d) => d.reviews.map((r) => ({ d, r }))).sort((x, y) => x.r.at - y.r.at || x.r.seq - y.r.seq);
  const reviewCommentIds = new Map<ReviewDraft, number>();
  // A reply is its own review on GitHub; other comments share the review they were drafted in.
  const reviewKey = (n: number, r: ReviewDraft) => (r.replyTo ? `${n}:reply:${r.seq}` : `${n}:${r.review}`);
  const reviewIds = new Map<string, number>();
  let rcid = 1_500_000_000;
  let rid = 2_100_000_000;
  for (const { d, r } of allReviews) {
    reviewCommentIds.set(r, (rcid += gap(1, 5_000)));
    const key = reviewKey(d.number, r);
    if (!reviewIds.has(key)) reviewIds.set(key, (rid += gap(1, 5_000)));
  }

  let issueId = 2_000_000_000;
  let pullId = 1_600_000_000;
  for (const d of drafts) {
    issueId += gap(1_000, 90_000);
    if (d.kind === 'pr') pullId += gap(1_000, 90_000);
    const n = d.number;
    const isPr = d.kind === 'pr';
    const comments = d.comments.map((c): GhIssueComment => {
      const id = commentIds.get(c)!;
      return issueCommentObject(owner, repo, n, isPr, id, c.body, c.who, isoSeconds(c.at), isoSeconds(c.edited ?? c.at));
    });
    const headSha = sha40(seed, owner, repo, 'head', n);
    const reviews = d.reviews.map((r): GhReviewComment => {
      return reviewCommentObject(owner, repo, n, {
        id: reviewCommentIds.get(r)!,
        reviewId: reviewIds.get(reviewKey(n, r))!,
        body: r.body,
        who: r.who,
        created: isoSeconds(r.at),
        updated: isoSeconds(r.edited ?? r.at),
        path: r.path,
        hunk: r.hunk,
        line: r.line,
        commit: headSha,
        inReplyTo: r.replyTo ? reviewCommentIds.get(r.replyTo)! : undefined,
      });
    });
    const times = [d.created, d.closed ?? 0, ...d.comments.map((c) => c.edited ?? c.at), ...d.reviews.map((r) => r.edited ?? r.at)];
    const updated = isoSeconds(Math.max(...times));
    const issue = issueObject(owner, repo, {
      id: issueId,
      number: n,
      title: d.title,
      body: d.body,
      who: d.author,
      labels: d.labels.map((l) => labelObject(owner, repo, l)),
      state: d.closed === null ? 'open' : 'closed',
      stateReason: d.stateReason,
      comments: comments.length,
      created: isoSeconds(d.created),
      updated,
      closed: d.closed === null ? null : isoSeconds(d.closed),
      pr: isPr ? { mergedAt: d.merged === null ? null : isoSeconds(d.merged) } : null,
    });
    fx.issues.push(issue);
    fx.issueComments.push(...comments);
    fx.reviewComments.push(...reviews);
    if (isPr) {
      fx.pulls.push(
        pullObject(fx, repoId, ownerUser, issue, {
          id: pullId,
          branch: d.branch,
          headSha,
          baseSha: sha40(seed, owner, repo, 'base', n),
          mergeSha: sha40(seed, owner, repo, 'merge', n),
          mergedBy: d.merged === null ? null : members[(n * 7) % members.length]!.user,
          reviewComments: reviews.length,
          commits: 1 + (n % 6),
          additions: 3 + ((n * 37) % 400),
          deletions: (n * 11) % 120,
          changedFiles: 1 + (n % 9),
        }),
      );
    }
  }
  fx.issueComments.sort((a, b) => a.id - b.id);
  fx.reviewComments.sort((a, b) => a.id - b.id);
  return fx;
}

const reactions = (url: string): S['reaction-rollup'] => ({
  url: `${url}/reactions`,
  total_count: 0,
  '+1': 0,
  '-1': 0,
  laugh: 0,
  hooray: 0,
  confused: 0,
  heart: 0,
  rocket: 0,
  eyes: 0,
});

interface IssueInit {
  id: number;
  number: number;
  title: string;
  body: string | null;
  who: Persona;
  labels: GhLabel[];
  state: 'open' | 'closed';
  stateReason: 'completed' | 'not_planned' | null;
  comments: number;
  created: string;
  updated: string;
  closed: string | null;
  pr: { mergedAt: string | null } | null;
}

function issueObject(owner: string, repo: string, i: IssueInit): GhIssue {
  const api = `${API}/repos/${owner}/${repo}`;
  const url = `${api}/issues/${i.number}`;
  const issue: GhIssue = {
    url,
    repository_url: api,
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: `${WEB}/${owner}/${repo}/${i.pr ? 'pull' : 'issues'}/${i.number}`,
    id: i.id,
    node_id: `${i.pr ? 'PR' : 'I'}_kwDO${b64(String(i.id))}`,
    number: i.number,
    title: i.title,
    user: i.who.user,
    labels: i.labels,
    state: i.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: i.comments,
    created_at: i.created,
    updated_at: i.updated,
    closed_at: i.closed,
    author_association: i.who.assoc,
    active_lock_reason: null,
    body: i.body,
    reactions: reactions(url),
    timeline_url: `${url}/timeline`,
    performed_via_github_app: null,
    state_reason: i.pr ? null : i.stateReason,
  };
  if (i.pr) {
    issue.draft = false;
    issue.pull_request = {
      url: `${api}/pulls/${i.number}`,
      html_url: `${WEB}/${owner}/${repo}/pull/${i.number}`,
      diff_url: `${WEB}/${owner}/${repo}/pull/${i.number}.diff`,
      patch_url: `${WEB}/${owner}/${repo}/pull/${i.number}.patch`,
      merged_at: i.pr.mergedAt,
    };
  }
  return issue;
}

// On a PR, GitHub links a conversation comment under /pull/, not /issues/.
function issueCommentObject(owner: string, repo: string, number: number, isPr: boolean, id: number, body: string, who: Persona, created: string, updated: string): GhIssueComment {
  const api = `${API}/repos/${owner}/${repo}`;
  return {
    url: `${api}/issues/comments/${id}`,
    html_url: `${WEB}/${owner}/${repo}/${isPr ? 'pull' : 'issues'}/${number}#issuecomment-${id}`,
    issue_url: `${api}/issues/${number}`,
    id,
    node_id: `IC_kwDO${b64(String(id))}`,
    user: who.user,
    created_at: created,
    updated_at: updated,
    author_association: who.assoc,
    body,
    reactions: reactions(`${api}/issues/comments/${id}`),
    performed_via_github_app: null,
  };
}

interface ReviewInit {
  id: number;
  reviewId: number;
  body: string;
  who: Persona;
  created: string;
  updated: string;
  path: string;
  hunk: string;
  line: number;
  commit: string;
  inReplyTo: number | undefined;
}

function reviewCommentObject(owner: string, repo: string, number: number, r: ReviewInit): GhReviewComment {
  const api = `${API}/repos/${owner}/${repo}`;
  const url = `${api}/pulls/comments/${r.id}`;
  const html = `${WEB}/${owner}/${repo}/pull/${number}#discussion_r${r.id}`;
  const c: GhReviewComment = {
    url,
    pull_request_review_id: r.reviewId,
    id: r.id,
    node_id: `PRRC_kwDO${b64(String(r.id))}`,
    diff_hunk: r.hunk,
    path: r.path,
    commit_id: r.commit,
    original_commit_id: r.commit,
    user: r.who.user,
    body: r.body,
    created_at: r.created,
    updated_at: r.updated,
    html_url: html,
    pull_request_url: `${api}/pulls/${number}`,
    author_association: r.who.assoc,
    _links: { self: { href: url }, html: { href: html }, pull_request: { href: `${api}/pulls/${number}` } },
    reactions: reactions(url),
    start_line: null,
    original_start_line: null,
    start_side: null,
    line: r.line,
    original_line: r.line,
    side: 'RIGHT',
    original_position: 6,
    position: 6,
    subject_type: 'line',
  };
  if (r.inReplyTo !== undefined) c.in_reply_to_id = r.inReplyTo;
  return c;
}

interface PullInit {
  id: number;
  branch: string;
  headSha: string;
  baseSha: string;
  mergeSha: string;
  mergedBy: GhUser | null;
  reviewComments: number;
  commits: number;
  additions: number;
  deletions: number;
  changedFiles: number;
}

function repoRef(id: number, owner: GhUser, name: string, fork: boolean): GhRepoRef {
  return {
    id,
    node_id: `R_kgDO${b64(String(id))}`,
    name,
    full_name: `${owner.login}/${name}`,
    private: false,
    owner,
    html_url: `${WEB}/${owner.login}/${name}`,
    url: `${API}/repos/${owner.login}/${name}`,
    description: fork ? null : '🤗 Transformers: the model-definition framework for state-of-the-art machine learning models.',
    fork,
    default_branch: 'main',
  };
}

function pullObject(fx: GithubFixture, repoId: number, ownerUser: GhUser, issue: GhIssue, p: PullInit): GhPull {
  const { owner, repo } = fx;
  const api = `${API}/repos/${owner}/${repo}`;
  const n = issue.number;
  const url = `${api}/pulls/${n}`;
  const html = `${WEB}/${owner}/${repo}/pull/${n}`;
  const author = issue.user;
  // Dependabot and maintainers push branches to the main repository; everyone else to a fork.
  const inRepo = author.type === 'Bot' || issue.author_association === 'MEMBER';
  const headRepo = inRepo ? repoRef(repoId, ownerUser, repo, false) : repoRef(repoId + 1 + (author.id % 1000), author, repo, true);
  const mergedAt = issue.pull_request?.merged_at ?? null;
  return {
    url,
    id: p.id,
    node_id: `PR_kwDO${b64(String(p.id))}`,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: issue.url,
    number: n,
    state: issue.state === 'open' ? 'open' : 'closed',
    locked: false,
    title: issue.title,
    user: author,
    body: issue.body ?? null,
    created_at: issue.created_at,
    updated_at: issue.updated_at,
    closed_at: issue.closed_at,
    merged_at: mergedAt,
    merge_commit_sha: p.mergeSha,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    labels: issue.labels,
    milestone: null,
    draft: false,
    commits_url: `${url}/commits`,
    review_comments_url: `${url}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${issue.url}/comments`,
    statuses_url: `${api}/statuses/${p.headSha}`,
    head: { label: `${headRepo.owner.login}:${p.branch}`, ref: p.branch, sha: p.headSha, user: headRepo.owner, repo: headRepo },
    base: { label: `${owner}:main`, ref: 'main', sha: p.baseSha, user: ownerUser, repo: repoRef(repoId, ownerUser, repo, false) },
    _links: {
      self: { href: url },
      html: { href: html },
      issue: { href: issue.url },
      comments: { href: `${issue.url}/comments` },
      review_comments: { href: `${url}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${url}/commits` },
      statuses: { href: `${api}/statuses/${p.headSha}` },
    },
    author_association: issue.author_association,
    auto_merge: null,
    active_lock_reason: null,
    merged: mergedAt !== null,
    mergeable: null,
    rebaseable: null,
    mergeable_state: 'unknown',
    merged_by: p.mergedBy,
    comments: issue.comments,
    review_comments: p.reviewComments,
    maintainer_can_modify: false,
    commits: p.commits,
    additions: p.additions,
    deletions: p.deletions,
    changed_files: p.changedFiles,
  };
}

// ---------------------------------------------------------------------------------------------- mutators

/** One minute after the latest timestamp anywhere in the fixture: "now" for simulated activity. */
export function nextTimestamp(fx: GithubFixture): string {
  let max = 0;
  const see = (s: string | null | undefined) => {
    if (s) max = Math.max(max, Date.parse(s));
  };
  for (const i of fx.issues) {
    see(i.created_at);
    see(i.updated_at);
    see(i.closed_at);
  }
  for (const c of fx.issueComments) see(c.updated_at);
  for (const c of fx.reviewComments) see(c.updated_at);
  return isoSeconds(max + MIN);
}

function issueOf(fx: GithubFixture, number: number): GhIssue {
  const issue = fx.issues.find((i) => i.number === number);
  if (!issue) throw new Error(`no issue or pull request #${number} in ${fx.owner}/${fx.repo}`);
  return issue;
}

function persona(fx: GithubFixture, login: string | undefined, fallback: Persona, association?: AuthorAssociation): Persona {
  if (!login) return fallback;
  if (association) return { user: makeUser(login, login.endsWith('[bot]') ? 'Bot' : 'User'), assoc: association };
  // Reuse a known user's association, so a maintainer stays a MEMBER in new activity.
  const seen =
    fx.issueComments.find((c) => c.user.login === login) ?? fx.issues.find((i) => i.user.login === login) ?? fx.reviewComments.find((c) => c.user.login === login);
  if (seen) return { user: seen.user, assoc: seen.author_association };
  return { user: makeUser(login, login.endsWith('[bot]') ? 'Bot' : 'User'), assoc: 'NONE' };
}

// Never moves a timestamp backwards: an `at` older than the parent leaves the parent's updated_at alone.
function touch(fx: GithubFixture, issue: GhIssue, at: string): void {
  if (Date.parse(at) > Date.parse(issue.updated_at)) issue.updated_at = at;
  const pull = fx.pulls.find((p) => p.number === issue.number);
  if (pull) {
    pull.updated_at = issue.updated_at;
    pull.comments = issue.comments;
  }
}

const nextId = (ids: number[]) => ids.reduce((m, x) => Math.max(m, x), 0) + 1 + (ids.length % 97);

/**
 * A new conversation comment on issue or PR `number`; bumps the parent's updated_at and comments count.
 * The commenter's association is `association` when given, else the one they had before, else NONE.
 */
export function addIssueComment(fx: GithubFixture, number: number, body: string, at?: string, login?: string, association?: AuthorAssociation): GhIssueComment {
  const issue = issueOf(fx, number);
  const when = at ?? nextTimestamp(fx);
  const id = nextId(fx.issueComments.map((c) => c.id).concat(1_800_000_000));
  const who = persona(fx, login, { user: makeUser(MEMBERS[0]!), assoc: 'MEMBER' }, association);
  const c = issueCommentObject(fx.owner, fx.repo, number, issue.pull_request !== undefined, id, body, who, when, when);
  fx.issueComments.push(c);
  issue.comments += 1;
  touch(fx, issue, when);
  return c;
}

/** A new review comment on PR `number`; bumps the PR's updated_at and review_comments count. */
export function addReviewComment(
  fx: GithubFixture,
  number: number,
  body: string,
  at?: string,
  opts: { login?: string; path?: string; line?: number; inReplyTo?: number } = {},
): GhReviewComment {
  const issue = issueOf(fx, number);
  const pull = fx.pulls.find((p) => p.number === number);
  if (!pull) throw new Error(`#${number} in ${fx.owner}/${fx.repo} is an issue, not a pull request`);
  const when = at ?? nextTimestamp(fx);
  const ids = fx.reviewComments.map((c) => c.id).concat(1_500_000_000);
  const parent = opts.inReplyTo === undefined ? undefined : fx.reviewComments.find((c) => c.id === opts.inReplyTo);
  if (opts.inReplyTo !== undefined && !parent) throw new Error(`no review comment ${opts.inReplyTo} to reply to`);
  const c = reviewCommentObject(fx.owner, fx.repo, number, {
    id: nextId(ids),
    reviewId: nextId(fx.reviewComments.map((r) => r.pull_request_review_id).concat(2_100_000_000)),
    body,
    who: persona(fx, opts.login, { user: makeUser(MEMBERS[1]!), assoc: 'MEMBER' }),
    created: when,
    updated: when,
    path: parent?.path ?? opts.path ?? 'src/transformers/modeling_utils.py',
    hunk: parent?.diff_hunk ?? '@@ -1,3 +1,4 @@\n import torch\n+import torch.nn as nn',
    line: parent?.line ?? opts.line ?? 2,
    commit: pull.head.sha,
    inReplyTo: parent?.id,
  });
  fx.reviewComments.push(c);
  pull.review_comments += 1;
  touch(fx, issue, when);
  return c;
}

/** Close issue or PR `number` (a PR closes unmerged). */
export function closeIssue(fx: GithubFixture, number: number, reason: 'completed' | 'not_planned' = 'completed', at?: string): GhIssue {
  const issue = issueOf(fx, number);
  const when = at ?? nextTimestamp(fx);
  issue.state = 'closed';
  issue.closed_at = when;
  if (!issue.pull_request) issue.state_reason = reason;
  touch(fx, issue, when);
  const pull = fx.pulls.find((p) => p.number === number);
  if (pull) {
    pull.state = 'closed';
    pull.closed_at = when;
  }
  return issue;
}

function nextNumber(fx: GithubFixture): number {
  return fx.issues.reduce((m, i) => Math.max(m, i.number), 0) + 1;
}

/** A new open issue, numbered after every existing issue and PR. */
export function addIssue(
  fx: GithubFixture,
  init: { title: string; body?: string | null; login?: string; labels?: string[]; at?: string },
): GhIssue {
  const when = init.at ?? nextTimestamp(fx);
  const issue = issueObject(fx.owner, fx.repo, {
    id: nextId(fx.issues.map((i) => i.id)),
    number: nextNumber(fx),
    title: init.title,
    body: init.body ?? null,
    who: persona(fx, init.login, { user: makeUser(OUTSIDERS[0]!), assoc: 'NONE' }),
    labels: (init.labels ?? []).map((l) => labelObject(fx.owner, fx.repo, l)),
    state: 'open',
    stateReason: null,
    comments: 0,
    created: when,
    updated: when,
    closed: null,
    pr: null,
  });
  fx.issues.push(issue);
  return issue;
}

/** A new pull request: merged (default), closed unmerged, or open. */
export function addPull(
  fx: GithubFixture,
  init: { title: string; body?: string | null; login?: string; state?: 'merged' | 'closed' | 'open'; at?: string },
): { issue: GhIssue; pull: GhPull } {
  const when = init.at ?? nextTimestamp(fx);
  const state = init.state ?? 'merged';
  const number = nextNumber(fx);
  const issue = issueObject(fx.owner, fx.repo, {
    id: nextId(fx.issues.map((i) => i.id)),
    number,
    title: init.title,
    body: init.body ?? null,
    who: persona(fx, init.login, { user: makeUser(CONTRIBUTORS[0]!), assoc: 'CONTRIBUTOR' }),
    labels: [],
    state: state === 'open' ? 'open' : 'closed',
    stateReason: null,
    comments: 0,
    created: when,
    updated: when,
    closed: state === 'open' ? null : when,
    pr: { mergedAt: state === 'merged' ? when : null },
  });
  const template = fx.pulls[0];
  const repoId = template?.base.repo.id ?? 100_000_000 + hashInt(`${fx.owner}/${fx.repo}`, 800_000_000);
  const pull = pullObject(fx, repoId, template?.base.user ?? makeUser(fx.owner, 'Organization'), issue, {
    id: nextId(fx.pulls.map((p) => p.id).concat(1_600_000_000)),
    branch: `patch-${number}`,
    headSha: sha40('head', fx.owner, fx.repo, number, when),
    baseSha: sha40('base', fx.owner, fx.repo, number, when),
    mergeSha: sha40('merge', fx.owner, fx.repo, number, when),
    mergedBy: state === 'merged' ? makeUser(MEMBERS[0]!) : null,
    reviewComments: 0,
    commits: 1,
    additions: 1,
    deletions: 1,
    changedFiles: 1,
  });
  fx.issues.push(issue);
  fx.pulls.push(pull);
  return { issue, pull };
}

/** Edit an issue or review comment's body; bumps its updated_at and its parent's. */
export function editComment(fx: GithubFixture, id: number, body: string, at?: string): GhIssueComment | GhReviewComment {
  const when = at ?? nextTimestamp(fx);
  const ic = fx.issueComments.find((c) => c.id === id);
  const rc = ic ? undefined : fx.reviewComments.find((c) => c.id === id);
  const c = ic ?? rc;
  if (!c) throw new Error(`no comment ${id} in ${fx.owner}/${fx.repo}`);
  c.body = body;
  if (Date.parse(when) > Date.parse(c.updated_at)) c.updated_at = when;
  const number = Number((ic ? ic.issue_url : rc!.pull_request_url).split('/').pop());
  touch(fx, issueOf(fx, number), when);
  return c;
}
