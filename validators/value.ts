// The value score: how much a correct pair is worth training on, deterministic and explained.
// Grounding says a pair is true; this says whether a careful team would keep it — trivia about test
// code, private helpers, answers that restate the question or give only a trivial type lose points.
import type { CodeSymbol, QAPair, Quality } from '../datasets/schemas.js';

export const VALUE_RULES = { name: 'value', version: '1.0.0' } as const;

/** Pairs under this score are rejected as low_value (config `limits.minQuality`, `export --min-quality`). */
export const DEFAULT_MIN_QUALITY = 0.5;

/** Points each reason costs; a pair starts at 1 and is floored at 0. */
export const PENALTIES = {
  test_code: 0.6, // a structural fact about a test function or class
  locals: 0.5, // a function defined inside another one: not reachable API
  private: 0.3, // a `_name` symbol or module
  dunder: 0.3, // `__repr__`, `__getattr__`, … (not `__init__` / `__call__`)
  undocumented: 0.2, // a structural fact about a symbol with no docstring
  self_only: 0.6, // a signature that takes nothing but self/cls
  trivial_type: 0.6, // a return annotation like `str` or `None` and nothing else
  annotation_only: 0.55, // a return annotation with no words on what it is
  script_code: 0.55, // a structural fact about an example, benchmark or maintenance script, not the library
  bare_signature: 0.35, // a signature whose parameters carry no type and no default
  build_file: 0.6, // how a commit changed CI, Docker or Makefile plumbing
  trivial_base: 0.55, // "what does X inherit from?" answered with `nn.Module` or `BaseOutput` alone
  restates_name: 0.55, // a purpose answer with under two words the symbol's name does not already say
  generated_code: 0.6, // placeholder objects a script writes (transformers' and diffusers' dummy_*_objects.py)
  single_method: 0.55, // "what methods does X define" answered with one name
  single_file: 0.5, // "which files did a commit change" answered with one file
  uninformative: 0.4, // the answer adds fewer than 2 content words to the question
} as const;
export type ValueReason = keyof typeof PENALTIES;

/** Bases every class of a kind has: naming one says nothing about the class. */
const TRIVIAL_BASES = new Set(['nn.Module', 'torch.nn.Module', 'Module', 'BaseOutput', 'ModelOutput', 'object', 'Exception', 'ValueError', 'ABC', 'Enum', 'str', 'dict', 'NamedTuple', 'TypedDict', 'Protocol']);

/** Words of a qualname, split at dots, underscores and camel case. */
export function nameWords(qualname: string): Set<string> {
  return contentWords(qualname.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[._]/g, ' '));
}

const STRUCTURAL = new Set(['signature', 'parameters', 'location', 'bases', 'methods', 'returns']);

/** Annotations that say nothing a reader does not assume: an answer of only these is trivia. */
const TRIVIAL_TYPES = new Set(['str', 'int', 'bool', 'float', 'None', 'dict', 'list', 'tuple', 'set', 'Any', 'object', 'bytes', 'Optional[str]', 'Optional[int]', 'Optional[bool]', 'dict[str, Any]', 'Dict[str, Any]', 'list[str]', 'List[str]']);

// Top-level folders of scripts around a library, not the library: examples, benchmarks, docs tooling.
const SCRIPT_PATH = /^(examples?|scripts?|benchmarks?|method_comparison|docs?|tools|utils|\.github)\//;

/** Whether a path is a script beside the library (examples/, scripts/, benchmarks/, top-level utils/ …). */
export const isScriptPath = (path: string | null): boolean => path !== null && SCRIPT_PATH.test(path);

const BUILD_PATH = /(^|\/)(\.github|docker)\/|(^|\/)(Dockerfile[^/]*|Makefile|\.pre-commit-config\.yaml)$|\.ya?ml$/;

/** Whether a path is CI, container or build plumbing (.github/, docker/, Dockerfile, Makefile, YAML). */
export const isBuildPath = (path: string | null): boolean => path !== null && BUILD_PATH.test(path);

const GENERATED_PATH = /(^|\/)dummy_[^/]*objects\.py$/;

const TEST_PATH = /(^|\/)(tests?|testing)\/|(^|\/)test_[^/]*\.py$|_test\.py$|(^|\/)conftest\.py$/;

/** Whether a repository path is test code: tests/ or test/ directories, test_*.py, *_test.py, conftest.py. */
export const isTestPath = (path: string | null): boolean => path !== null && TEST_PATH.test(path);

const STOP = new Set(
  'the and for are but not you all any can had her was one our out has him his how its may new now old see two way who did get got let put say she too use with this that from they will would there their what when where which while into than then them these those have does done been being were also each such only over more most some very just about after before other under between through during without within upon your yours whose should could might must shall it is'.split(' '),
);

/** Lower-cased alphanumeric words of ≥ 3 characters that carry content (identifiers count whole). */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.toLowerCase().matchAll(/[a-z_][a-z0-9_]*|\d+/g)) {
    const w = m[0].replace(/^_+|_+$/g, '');
    if (w.length >= 3 && !STOP.has(w)) out.add(w);
  }
  return out;
}

/**
 * How many content words the answer has that the question does not; a code span of the answer that
 * the question lacks (a call, a signature) counts as one more.
 */
export function newContentWords(question: string, answer: string): number {
  const q = contentWords(question);
  let n = 0;
  for (const w of contentWords(answer)) if (!q.has(w)) n++;
  for (const m of answer.matchAll(/`([^`\n]+)`/g)) if (!question.includes(m[1]!)) n++;
  return n;
}

const isDunder = (name: string) => name.startsWith('__') && name.endsWith('__') && name.length > 4;
const isReceiver = (c: CodeSymbol, i: number, name: string) => i === 0 && c.symbolKind === 'method' && (name === 'self' || name === 'cls');

/** The value of one candidate; `symbol` is the code symbol it was drawn from, when there is one. */
export function scoreValue(pair: QAPair, symbol: CodeSymbol | null = null): Quality {
  const reasons: ValueReason[] = [];
  const v = pair.provenance;
  const code = pair.sourceKind === 'code_symbol' && pair.category !== 'usage_example';
  if (code) {
    const qualname = v.qualname ?? symbol?.qualname ?? '';
    const parts = qualname.split('.');
    const name = parts[parts.length - 1] ?? '';
    const file = (v.path ?? '').split('/').pop() ?? '';
    if (isTestPath(v.path)) reasons.push('test_code');
    if (GENERATED_PATH.test(v.path ?? '')) reasons.push('generated_code');
    if (qualname.includes('<locals>')) reasons.push('locals');
    if (parts.some((p) => p.startsWith('_') && !isDunder(p)) || (file.startsWith('_') && file !== '__init__.py' && file !== '__main__.py')) reasons.push('private');
    if (isDunder(name) && name !== '__init__' && name !== '__call__') reasons.push('dunder');
    if (symbol && !symbol.docstring && STRUCTURAL.has(pair.category)) reasons.push('undocumented');
    if (STRUCTURAL.has(pair.category) && !reasons.includes('test_code') && isScriptPath(v.path)) reasons.push('script_code');
    if (symbol && pair.category === 'signature') {
      const params = symbol.params.filter((p, i) => !isReceiver(symbol, i, p.name));
      if (!params.length) reasons.push('self_only');
      else if (params.every((p) => p.annotation === null && p.default === null)) reasons.push('bare_signature');
    }
    // Returns answered by the annotation alone: few words beyond the question once the code spans go.
    if (pair.category === 'returns' && symbol?.returns && newContentWords(pair.question, pair.answer.replace(/`[^`]*`/g, '')) < 3) {
      reasons.push(TRIVIAL_TYPES.has(symbol.returns.replace(/\s+/g, ' ')) ? 'trivial_type' : 'annotation_only');
    }
    if (pair.category === 'methods' && symbol && new Set(symbol.publicMethods).size === 1) reasons.push('single_method');
    if (pair.category === 'bases' && symbol && symbol.bases.length && symbol.bases.every((b) => TRIVIAL_BASES.has(b))) reasons.push('trivial_base');
    if (pair.category === 'purpose' && symbol) {
      const known = new Set([...nameWords(symbol.qualname), ...contentWords(pair.question)]);
      // A call the question does not name ("Call `scale(x)`: …") is what a how-to question asks for.
      const calls = [...pair.answer.matchAll(/`([^`\n]+)`/g)].filter((m) => !pair.question.includes(m[1]!)).length;
      if ([...contentWords(pair.answer)].filter((w) => !known.has(w)).length + 2 * calls < 2) reasons.push('restates_name');
    }
  }
  if (pair.category === 'commit_files' && pair.evidence.length < 2) reasons.push('single_file');
  // A commit's change to one file: a test's or a build file's diff teaches little about the library.
  if (pair.category === 'commit_change' || pair.category === 'symbol_history') {
    if (isTestPath(v.path)) reasons.push('test_code');
    else if (GENERATED_PATH.test(v.path ?? '')) reasons.push('generated_code');
    else if (isBuildPath(v.path)) reasons.push('build_file');
    else if (pair.category === 'symbol_history' && isScriptPath(v.path)) reasons.push('script_code');
  }
  // A location's content is its span, not its words; a signature's is checked as self_only.
  if (pair.category !== 'location' && !reasons.includes('trivial_type') && newContentWords(pair.question, pair.answer) < 2) reasons.push('uninformative');
  let score = 1;
  for (const r of reasons) score -= PENALTIES[r];
  return { score: Math.max(0, Math.round(score * 100) / 100), reasons };
}
