// Rule templates: code SourceRecord → extractive candidate QAPairs whose answers quote the evidence.
import type { Category, CodeSymbol, GeneratorInfo, QAPair, RaiseSite, SourceRecord } from '../datasets/schemas.js';
import { isBoilerplateSummary, parseDocstring, type DocSections } from '../extractors/docstring.js';
import { contentId, unitInterval } from '../lib/hash.js';
import { phrasing } from './pair.js';
import { contentWords, nameWords } from '../validators/value.js';

export const CODE_RULES: GeneratorInfo = { name: 'code-rules', version: '2.0.0', promptVersion: null, model: null };

/** A pair before validation: verdicts empty, no near-duplicate cluster yet. */
export type CandidatePair = QAPair;

const code = (s: string) => `\`${s}\``;
const KIND_WORD: Record<CodeSymbol['symbolKind'], string> = {
  module: 'module',
  class: 'class',
  function: 'function',
  method: 'method',
};

/** How a question names its symbol: kind, qualname, which variant, and file. */
export function symbolLabel(c: CodeSymbol, path: string): string {
  const kind = (c.isAsync ? 'async ' : '') + KIND_WORD[c.symbolKind];
  const variant = c.variant ? ` (${c.variant})` : '';
  return `the ${kind} ${code(c.qualname)}${variant} in ${code(path)}`;
}

/** The header (decorators through the `:` of def/class): the context of signature and bases pairs. */
export function headerContext(rec: SourceRecord): string {
  const c = rec.code!;
  const lines = 1 + c.signatureEndLine - rec.provenance.startLine!;
  let end = -1;
  for (let i = 0; i < lines; i++) {
    end = rec.text.indexOf('\n', end + 1);
    if (end < 0) return rec.text;
  }
  return rec.text.slice(0, end);
}

function pair(rec: SourceRecord, category: Category, question: string, answer: string, evidence: string[], context = rec.text): CandidatePair {
  const c = rec.code!;
  return {
    id: contentId(question, answer, context),
    question,
    answer,
    context,
    evidence,
    category,
    sourceId: rec.id,
    sourceKind: rec.kind,
    symbolKind: c.symbolKind,
    variant: c.variant,
    provenance: rec.provenance,
    generator: CODE_RULES,
    splitGroup: rec.provenance.path ?? rec.id,
    verdicts: [],
    nearDupCluster: null,
  };
}

const isReceiver = (c: CodeSymbol, i: number, name: string) =>
  i === 0 && c.symbolKind === 'method' && (name === 'self' || name === 'cls') && !c.decorators.includes('staticmethod');

function parametersPair(rec: SourceRecord, c: CodeSymbol, doc: DocSections | null, label: string): CandidatePair | null {
  const params = c.params.filter((p, i) => !isReceiver(c, i, p.name));
  if (!params.length) return null;
  const described = new Map((doc?.params ?? []).map((e) => [e.name.replace(/^\*+/, ''), e]));
  // Without a description, names, types and defaults say nothing the signature pair does not.
  if (!params.some((p) => described.get(p.name)?.description)) return null;
  const evidence: string[] = [];
  const lines = params.map((p) => {
    const prefix = p.kind === 'var_positional' ? '*' : p.kind === 'var_keyword' ? '**' : '';
    let line = `- ${code(prefix + p.name)}`;
    evidence.push(p.name);
    const facts: string[] = [];
    if (p.annotation !== null) {
      facts.push(`type ${code(p.annotation)}`);
      evidence.push(p.annotation);
    }
    if (p.default !== null) {
      facts.push(`default ${code(p.default)}`);
      evidence.push(p.default);
    }
    if (facts.length) line += ` (${facts.join(', ')})`;
    const d = described.get(p.name);
    if (d?.description) {
      line += `: ${d.description}`;
      evidence.push(d.description);
    }
    return line;
  });
  return pair(rec, 'parameters', ask(rec, 'parameters', label), lines.join('\n'), evidence);
}

/** Question wordings per category; `L` is the symbol's label, chosen for each symbol by a stable hash. */
const QUESTIONS: Record<string, ((l: string) => string)[]> = {
  purpose: [
    (l) => `What does ${l} do?`,
    (l) => `What is ${l} used for?`,
    (l) => `What happens when I call ${l}?`,
    (l) => `Why would I call ${l}?`,
    (l) => `What is the job of ${l}?`,
    (l) => `Can you explain what ${l} does?`,
  ],
  class_purpose: [
    (l) => `What is ${l} for?`,
    (l) => `What does ${l} represent?`,
    (l) => `When should I use ${l}?`,
    (l) => `What is ${l} used for?`,
    (l) => `What role does ${l} play?`,
    (l) => `Why would I use ${l}?`,
  ],
  module_purpose: [
    (l) => `What is ${l} for?`,
    (l) => `What does ${l} contain?`,
    (l) => `What is ${l} responsible for?`,
    (l) => `Why does ${l} exist?`,
    (l) => `What would I find in ${l}?`,
    (l) => `What functionality does ${l} provide?`,
  ],
  signature: [
    (l) => `What is the signature of ${l}?`,
    (l) => `How do I call ${l}?`,
    (l) => `What is the call signature of ${l}?`,
    (l) => `How is ${l} declared?`,
    (l) => `What does the def line of ${l} look like?`,
    (l) => `With which arguments is ${l} declared?`,
  ],
  parameters: [
    (l) => `What parameters does ${l} take?`,
    (l) => `Which arguments can I pass to ${l}?`,
    (l) => `What options does ${l} accept?`,
    (l) => `What are the arguments of ${l} and their defaults?`,
    (l) => `What inputs does ${l} expect?`,
    (l) => `How do I configure a call to ${l}?`,
  ],
  returns: [
    (l) => `What does ${l} return?`,
    (l) => `What do I get back from ${l}?`,
    (l) => `What is the return value of ${l}?`,
    (l) => `What comes back when I call ${l}?`,
    (l) => `What result does ${l} give?`,
    (l) => `What is the output of ${l}?`,
  ],
  raises: [
    (l) => `What exceptions can ${l} raise?`,
    (l) => `When does ${l} raise an error?`,
    (l) => `What can go wrong when I call ${l}?`,
    (l) => `Which errors should I handle when calling ${l}?`,
    (l) => `Under what conditions does ${l} fail?`,
    (l) => `What does ${l} raise, and when?`,
  ],
  bases: [
    (l) => `Which classes does ${l} inherit from?`,
    (l) => `What is the base class of ${l}?`,
    (l) => `What does ${l} subclass?`,
    (l) => `Which parent classes does ${l} extend?`,
    (l) => `What is ${l} derived from?`,
    (l) => `What does ${l} build on?`,
  ],
  methods: [
    (l) => `What public methods does ${l} define?`,
    (l) => `Which methods does ${l} define itself?`,
    (l) => `What public methods are written in the body of ${l}?`,
    (l) => `Which methods does ${l} add or override?`,
    (l) => `What methods does the definition of ${l} contain?`,
    (l) => `Which public methods are defined on ${l}, not inherited?`,
  ],
};

/** The stable key a symbol's wording is chosen by: the same symbol always gets the same question. */
const wordingKey = (rec: SourceRecord, category: string) => `${rec.provenance.path}\0${rec.code!.qualname}\0${rec.code!.variant}\0${category}`;

function ask(rec: SourceRecord, category: string, label: string): string {
  return phrasing(wordingKey(rec, category), QUESTIONS[category]!)(label);
}

// Verbs a docstring summary starts with, in the base form a "How do I …" question takes.
const VERBS = new Set(
  'add apply activate build calculate cast check clean clear collect combine compute convert copy count create deactivate delete dequantize detach disable download enable evaluate export extract fetch filter find freeze fuse generate get infer initialize inject insert load log make map mark match merge move normalize parse patch prepare print push quantize read register reload remove rename replace rescale reset resize resolve restore run save scale select set split store train transform unfreeze unfuse unload unmerge unwrap update upload validate wrap write'.split(' '),
);

function baseVerb(word: string): string | null {
  const w = word.toLowerCase();
  if (VERBS.has(w)) return w;
  if (w === 'returns' || w === 'return' || w === 'gets') return 'get';
  if (w.endsWith('ies') && VERBS.has(`${w.slice(0, -3)}y`)) return `${w.slice(0, -3)}y`;
  if (w.endsWith('es') && VERBS.has(w.slice(0, -2))) return w.slice(0, -2);
  if (w.endsWith('s') && VERBS.has(w.slice(0, -1))) return w.slice(0, -1);
  return null;
}

/**
 * "Merges the adapter into the base model." → "merge the adapter into the base model": the task a
 * summary describes, when it starts with a known verb and reads as one short clause.
 */
export function taskPhrase(summary: string): string | null {
  const s = summary.trim().replace(/\.$/, '');
  const words = s.split(/\s+/);
  if (words.length < 3 || words.length > 16 || /[:;`()[\]{}]|\. /.test(s)) return null;
  const verb = baseVerb(words[0]!);
  if (!verb) return null;
  return [verb, ...words.slice(1)].join(' ');
}

/** The first sentence of a paragraph, up to 300 characters. */
const firstSentence = (p: string) => (/^(.{20,300}?[.!?])(\s|$)/.exec(p)?.[1] ?? (p.length <= 300 ? p : null));

/**
 * Purpose: the summary, and the next informative sentence when the summary only restates the name
 * ("Linear layer for LoRA." says little that `lora.Linear` does not).
 */
function purposeAnswer(c: CodeSymbol, doc: DocSections): { answer: string; evidence: string[] } {
  const known = nameWords(c.qualname);
  const fresh = [...contentWords(doc.summary)].filter((w) => !known.has(w)).length;
  // A long summary that says more than the name stands alone; a short one gets the next sentence.
  if (fresh >= 3 && doc.summary.split(/\s+/).length >= 12) return { answer: doc.summary, evidence: [doc.summary] };
  for (const p of doc.details) {
    const next = firstSentence(p);
    if (next && contentWords(next).size >= 3) return { answer: `${doc.summary} ${next}`, evidence: [doc.summary, next] };
  }
  return { answer: doc.summary, evidence: [doc.summary] };
}

/** A sentence of the docstring's prose that says what is returned, when there is no Returns section. */
function returnsFromProse(doc: DocSections): string | null {
  for (const p of [doc.summary, ...doc.details]) {
    const m = /(?:^|[.!?]\s+)((?:Returns?|Yields?)\b[^.!?]{8,280}[.!?]?)/.exec(p);
    if (m) return m[1]!.trim();
  }
  return null;
}

/** The dotted name a user imports or reads in a traceback: module + qualname. */
const dottedName = (c: CodeSymbol) => (c.module ? `${c.module}.${c.qualname}` : c.qualname);

/** The raise sites of the body joined with the docstring's Raises entries, one line per exception. */
/** The source text of a raise site's condition: each nested if's own, or none. */
const verbatimConditions = (r: RaiseSite): string[] => r.parts ?? (r.condition ? [r.condition] : []);

function raisesAnswer(rec: SourceRecord, c: CodeSymbol, doc: DocSections | null): { answer: string; evidence: string[]; context: string } | null {
  const documented = doc?.raises ?? [];
  // A bare `raise NotImplementedError` is an abstract stub: it says "subclasses implement this", which
  // is worth a pair only when the docstring says so.
  const sites = (c.raises ?? []).filter((r) => r.condition !== null || r.name !== 'NotImplementedError' || documented.some((d) => d.name === r.name));
  if (!documented.length && !sites.length) return null;
  const evidence: string[] = [];
  const names = [...new Set([...documented.map((r) => r.name), ...sites.map((r) => r.name)])];
  const lines = names.map((name) => {
    evidence.push(name);
    const d = documented.find((r) => r.name === name);
    const conditioned = sites.filter((r) => r.name === name && r.condition);
    const conditions = [...new Set(conditioned.map((r) => r.condition!))];
    let line = `- ${code(name)}`;
    if (conditions.length) {
      line += ` when ${conditions.map(code).join(' or ')}`;
      // Evidence is verbatim source: the conditions of nested ifs each, not their joined form.
      evidence.push(...new Set(conditioned.flatMap(verbatimConditions)));
    } else if (sites.some((r) => r.name === name)) line += d ? '' : ' (raised in the body)';
    if (d?.description) {
      line += `: ${d.description}`;
      evidence.push(d.description);
    }
    return line;
  });
  // The raise statements are quoted after the header and docstring: verbatim pieces of the body.
  const quoted = sites.flatMap((r) => [...verbatimConditions(r), r.text]);
  return { answer: lines.join('\n'), evidence, context: quoted.length ? `${rec.text}\n${quoted.join('\n')}` : rec.text };
}

/** Candidate pairs for one code symbol. Docstring facts only come from non-boilerplate docstrings. */
export function ruleQuestionsForSymbol(rec: SourceRecord): CandidatePair[] {
  const c = rec.code;
  if (!c) return [];
  const path = rec.provenance.path!;
  const out: CandidatePair[] = [];
  const doc = c.docstring ? parseDocstring(c.docstring) : null;
  const hasSummary = doc !== null && !isBoilerplateSummary(doc.summary);

  if (c.symbolKind === 'module') {
    if (hasSummary) {
      const { answer, evidence } = purposeAnswer(c, doc);
      out.push(pair(rec, 'module_purpose', ask(rec, 'module_purpose', `the module ${code(c.module)} (${code(path)})`), answer, evidence));
    }
    return out;
  }

  const label = symbolLabel(c, path);
  if (hasSummary) {
    const { answer, evidence } = purposeAnswer(c, doc);
    // A private helper is not how a user does a task: it keeps the plain question.
    const task = c.symbolKind === 'class' || !c.isPublic ? null : taskPhrase(doc.summary);
    // Half the symbols whose summary names a task are asked about it the way a user would: "How do I …?"
    if (task && unitInterval(wordingKey(rec, 'task'), 'phrasing') < 0.5) {
      const owner = c.symbolKind === 'method' && c.parent ? ` with a ${code(c.parent)} (${code(c.module)})` : ` using ${code(c.module)}`;
      const call = c.signature !== null ? `${code(`${c.qualname}${c.signature}`)} ` : '';
      out.push(pair(rec, 'purpose', `How do I ${task}${owner}?`, `Call ${call}in ${code(path)}: ${answer}`, evidence));
    } else {
      out.push(pair(rec, 'purpose', ask(rec, c.symbolKind === 'class' ? 'class_purpose' : 'purpose', label), answer, evidence));
    }
  }
  // No "where is X defined?" pair: named by its dotted path the question holds its own answer, named
  // bare it has many (a `Linear` lives in every tuner); the line span is in every pair's provenance.

  if (c.symbolKind === 'class') {
    const bases = c.bases.filter((b) => b !== 'object');
    if (bases.length) out.push(pair(rec, 'bases', ask(rec, 'bases', label), `It inherits from ${bases.map(code).join(', ')}.`, bases, headerContext(rec)));
    const methods = [...new Set(c.publicMethods)];
    if (methods.length)
      out.push(pair(rec, 'methods', ask(rec, 'methods', label), `${methods.length} public method${methods.length > 1 ? 's' : ''}: ${methods.map(code).join(', ')}.`, methods));
    return out;
  }

  // Functions and methods.
  if (c.isPublic && c.signature !== null) {
    const evidence = [c.name, ...c.params.flatMap((p) => [p.name, p.annotation, p.default].filter((x): x is string => x !== null))];
    if (c.returns !== null) evidence.push(c.returns);
    const def = code(`${c.isAsync ? 'async ' : ''}def ${c.name}${c.signature}`);
    // With a docstring, the signature comes with what the call does: the header alone is a bare fact.
    if (hasSummary) out.push(pair(rec, 'signature', ask(rec, 'signature', label), `${def}: ${doc.summary}`, [...evidence, doc.summary]));
    else out.push(pair(rec, 'signature', ask(rec, 'signature', label), def, evidence, headerContext(rec)));
  }
  const params = parametersPair(rec, c, doc, label);
  if (params && (c.isPublic || doc?.params.length)) out.push(params);

  const retAnn = c.returns !== null && c.returns !== 'None' ? c.returns : null;
  const retProse = doc?.returns ?? (doc ? returnsFromProse(doc) : null);
  if (retProse || retAnn) {
    const evidence: string[] = [];
    const parts: string[] = [];
    if (retProse) {
      // Google style puts the type first ("float: The area."): the prose is what the answer says.
      const prose = doc?.returns ? retProse.replace(/^[\w.[\], ]+:\s+(?=\S)/, '') || retProse : retProse;
      parts.push(doc?.returns ? `It returns ${prose.replace(/^[A-Z](?![A-Z])/, (x) => x.toLowerCase())}` : prose);
      evidence.push(prose);
    }
    if (retAnn) {
      parts.push(retProse ? `(annotated ${code(retAnn)})` : `It is annotated to return ${code(retAnn)}.`);
      evidence.push(retAnn);
    }
    if (retProse || c.isPublic) out.push(pair(rec, 'returns', ask(rec, 'returns', label), parts.join(' '), evidence));
  }
  const raises = raisesAnswer(rec, c, doc);
  if (raises) out.push(pair(rec, 'raises', ask(rec, 'raises', label), raises.answer, raises.evidence, raises.context));
  return out;
}
