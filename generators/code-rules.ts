// Rule templates: code SourceRecord → extractive candidate QAPairs whose answers quote the evidence.
import type { Category, CodeSymbol, GeneratorInfo, QAPair, SourceRecord } from '../datasets/schemas.js';
import { isBoilerplateSummary, parseDocstring, type DocSections } from '../extractors/docstring.js';
import { contentId } from '../lib/hash.js';
import { locationLine } from '../extractors/code-records.js';

export const CODE_RULES: GeneratorInfo = { name: 'code-rules', version: '1.3.0', promptVersion: null, model: null };

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
  // Bare names (no type, default or description) say nothing the signature pair does not.
  if (!params.some((p) => p.annotation !== null || p.default !== null || described.get(p.name)?.description)) return null;
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
  return pair(rec, 'parameters', `What parameters does ${label} take?`, lines.join('\n'), evidence);
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
    if (hasSummary)
      out.push(pair(rec, 'module_purpose', `What is the module ${code(c.module)} (${code(path)}) for?`, doc.summary, [doc.summary]));
    return out;
  }

  const label = symbolLabel(c, path);
  const { startLine, endLine } = rec.provenance;
  if (hasSummary) {
    const q = c.symbolKind === 'class' ? `What is ${label} for?` : `What does ${label} do?`;
    out.push(pair(rec, 'purpose', q, doc.summary, [doc.summary]));
  }
  if (c.isPublic) {
    const lines = `lines ${startLine}-${endLine}`;
    out.push(
      pair(
        rec,
        'location',
        `Where is ${code(c.qualname)}${c.variant ? ` (${c.variant})` : ''} defined?`,
        `In ${code(path)}, ${lines}.`,
        [path, lines],
        `${locationLine(path, startLine!, endLine!)}\n${headerContext(rec)}`,
      ),
    );
  }

  if (c.symbolKind === 'class') {
    const bases = c.bases.filter((b) => b !== 'object');
    if (bases.length)
      out.push(pair(rec, 'bases', `Which classes does ${label} inherit from?`, `It inherits from ${bases.map(code).join(', ')}.`, bases, headerContext(rec)));
    const methods = [...new Set(c.publicMethods)];
    if (methods.length)
      out.push(
        pair(
          rec,
          'methods',
          `What public methods does ${label} define?`,
          `${methods.length} public method${methods.length > 1 ? 's' : ''}: ${methods.map(code).join(', ')}.`,
          methods,
        ),
      );
    return out;
  }

  // Functions and methods.
  if (c.isPublic && c.signature !== null) {
    const evidence = [c.name, ...c.params.flatMap((p) => [p.name, p.annotation, p.default].filter((x): x is string => x !== null))];
    if (c.returns !== null) evidence.push(c.returns);
    out.push(pair(rec, 'signature', `What is the signature of ${label}?`, code(`${c.isAsync ? 'async ' : ''}def ${c.name}${c.signature}`), evidence, headerContext(rec)));
  }
  const params = parametersPair(rec, c, doc, label);
  if (params && (c.isPublic || doc?.params.length)) out.push(params);

  const retAnn = c.returns !== null && c.returns !== 'None' ? c.returns : null;
  if (doc?.returns || retAnn) {
    const evidence: string[] = [];
    let answer = '';
    if (retAnn) {
      answer = `It is annotated to return ${code(retAnn)}.`;
      evidence.push(retAnn);
    }
    if (doc?.returns) {
      answer += `${answer ? ' ' : ''}The docstring says: ${doc.returns}`;
      evidence.push(doc.returns);
    }
    if (doc?.returns || c.isPublic) out.push(pair(rec, 'returns', `What does ${label} return?`, answer, evidence));
  }
  if (doc?.raises.length) {
    const evidence: string[] = [];
    const lines = doc.raises.map((r) => {
      evidence.push(r.name);
      if (r.description) evidence.push(r.description);
      return `- ${code(r.name)}${r.description ? `: ${r.description}` : ''}`;
    });
    out.push(pair(rec, 'raises', `What exceptions can ${label} raise?`, lines.join('\n'), evidence));
  }
  return out;
}
