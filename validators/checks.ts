// Deterministic checks on one candidate pair: schema, grounding, length, secrets.
// Each returns a verdict; a pair is rejected when any verdict fails, and keeps all of them.
import { QAPair, type CodeSymbol, type RejectReason, type Verdict } from '../datasets/schemas.js';
import { REDACTION_PREFIX, redactionKinds, redactSecrets } from './secrets.js';
import { DEFAULT_MIN_QUALITY, scoreValue } from './value.js';

export interface LengthLimits {
  minQuestionChars: number;
  maxQuestionChars: number;
  minAnswerChars: number;
  maxAnswerChars: number;
  maxContextChars: number;
  /** Pairs whose value score (validators/value.ts) is under this are rejected as low_value. */
  minQuality?: number;
}

export const DEFAULT_LIMITS: LengthLimits = {
  minQuestionChars: 12,
  maxQuestionChars: 400,
  minAnswerChars: 2,
  maxAnswerChars: 4000,
  maxContextChars: 32000,
};

const verdict = (check: string, reason: RejectReason | null, detail: string | null = null): Verdict => ({
  check,
  pass: reason === null,
  reason,
  detail,
});

/** Unicode-normalised, case-folded, whitespace-collapsed: the form containment is judged in. */
let lastNormalized = { input: '', output: '' };
export function normalizeForMatch(s: string): string {
  // The grounding check and the dedup signature normalise the same answer one after the other.
  if (s === lastNormalized.input) return lastNormalized.output;
  // NFKC changes nothing in ASCII text, which most code is.
  const n = /^[\x00-\x7f]*$/.test(s) ? s : s.normalize('NFKC');
  lastNormalized = { input: s, output: n.toLowerCase().replace(/\s+/g, ' ').trim() };
  return lastNormalized.output;
}

// Pairs drawn from one record share its context: normalise it once.
let lastContext: { input: string; normalized: string } | null = null;
function normalizedContext(s: string): string {
  if (lastContext?.input !== s) lastContext = { input: s, normalized: normalizeForMatch(s) };
  return lastContext.normalized;
}

export function checkSchema(pair: QAPair): Verdict {
  const r = QAPair.safeParse(pair);
  return r.success ? verdict('schema', null) : verdict('schema', 'schema', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
}

/**
 * Every evidence string must occur in the context and be stated in the answer. A model's answer
 * paraphrases its evidence, so for model-written pairs only the quote is held to the context: the
 * judge checks the paraphrase.
 */
export function checkAnswerGrounded(pair: QAPair): Verdict {
  const quoteOnly = pair.generator.model !== null;
  if (!pair.evidence.length) return verdict('grounded', 'ungrounded', 'no evidence quoted');
  const ctx = normalizedContext(pair.context);
  const ans = normalizeForMatch(pair.answer);
  for (const e of pair.evidence) {
    const n = normalizeForMatch(e);
    if (!n) return verdict('grounded', 'ungrounded', 'empty evidence string');
    if (!ctx.includes(n)) return verdict('grounded', 'ungrounded', `not in context: ${JSON.stringify(e.slice(0, 80))}`);
    if (!quoteOnly && !ans.includes(n)) return verdict('grounded', 'ungrounded', `not in answer: ${JSON.stringify(e.slice(0, 80))}`);
  }
  return verdict('grounded', null);
}

export function checkLength(pair: QAPair, limits: LengthLimits): Verdict {
  const q = pair.question.length;
  const a = pair.answer.trim().length;
  if (q < limits.minQuestionChars) return verdict('length', 'too_short', `question has ${q} chars (< ${limits.minQuestionChars})`);
  if (a < limits.minAnswerChars) return verdict('length', 'too_short', `answer has ${a} chars (< ${limits.minAnswerChars})`);
  if (q > limits.maxQuestionChars) return verdict('length', 'too_long', `question has ${q} chars (> ${limits.maxQuestionChars})`);
  if (a > limits.maxAnswerChars) return verdict('length', 'too_long', `answer has ${a} chars (> ${limits.maxAnswerChars})`);
  if (pair.context.length > limits.maxContextChars)
    return verdict('length', 'too_long', `context has ${pair.context.length} chars (> ${limits.maxContextChars})`);
  return verdict('length', null);
}

/**
 * Secret-like strings anywhere in the pair reject it. Text redacted upstream still counts: the
 * marker shows a secret was there. The pair is returned redacted, so nothing stores the secret.
 */
// Pairs drawn from one record share its context: remember the last one scanned.
let lastScan: { input: string; text: string; kinds: string[] } | null = null;
function scanForSecrets(s: string): { text: string; kinds: string[] } {
  if (lastScan?.input === s) return lastScan;
  const r = redactSecrets(s);
  const kinds = [...new Set([...r.kinds, ...(r.text.includes('[REDACTED:') ? redactionKinds(r.text) : [])])];
  lastScan = { input: s, text: r.text, kinds };
  return lastScan;
}

export function checkNoSecrets(pair: QAPair): { verdict: Verdict; redacted: QAPair } {
  const context = scanForSecrets(pair.context);
  const kinds = new Set(context.kinds);
  // Question, answer and evidence are scanned in one pass; only a hit costs a per-field redaction.
  const rest = redactSecrets([pair.question, pair.answer, ...pair.evidence].join('\n'));
  const marked = rest.text.includes(REDACTION_PREFIX);
  if (!rest.kinds.length && !marked && !kinds.size) return { verdict: verdict('secret', null), redacted: pair };
  for (const k of rest.kinds) kinds.add(k);
  if (marked) for (const k of redactionKinds(rest.text)) kinds.add(k);
  const redact = (s: string) => redactSecrets(s).text;
  const redacted: QAPair = {
    ...pair,
    question: redact(pair.question),
    answer: redact(pair.answer),
    context: context.text,
    evidence: pair.evidence.map(redact),
  };
  return { verdict: verdict('secret', 'secret', [...kinds].sort().join(',')), redacted };
}

/** The value score against the threshold: a pass still names the points it lost. */
export function checkValue(pair: QAPair, minQuality: number): Verdict {
  const q = pair.quality!;
  if (q.score >= minQuality) return verdict('value', null, q.reasons.length ? `score ${q.score}: ${q.reasons.join(', ')}` : null);
  return verdict('value', 'low_value', `score ${q.score} < ${minQuality}: ${q.reasons.join(', ')}`);
}

/**
 * Runs every per-pair check; dedup and ambiguity run later, across pairs. `symbol` is the code
 * symbol the pair was drawn from, when there is one: the value score reads its docstring and params.
 */
export function validateCandidate(pair: QAPair, limits: LengthLimits = DEFAULT_LIMITS, symbol: CodeSymbol | null = null): QAPair {
  const { verdict: secret, redacted } = checkNoSecrets(pair);
  const scored = { ...redacted, quality: redacted.quality ?? scoreValue(redacted, symbol) };
  // Verdicts a candidate already carries (a judge's) are kept.
  const verdicts = [
    ...pair.verdicts,
    checkSchema(scored),
    checkAnswerGrounded(scored),
    checkLength(scored, limits),
    secret,
    checkValue(scored, limits.minQuality ?? DEFAULT_MIN_QUALITY),
  ];
  return { ...scored, verdicts };
}

export const failedReasons = (pair: Pick<QAPair, 'verdicts'>): RejectReason[] =>
  pair.verdicts.filter((v) => !v.pass && v.reason).map((v) => v.reason!);
