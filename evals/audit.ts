// `qaforge audit`: a seeded sample stratified by (source kind, category) for a person to grade, the automatic
// proxies of usefulness over every pair considered, and the graded rates of a filled-in sample.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../lib/errors.js';
import { readJsonlRecords } from '../lib/jsonl.js';
import { unitInterval } from '../lib/hash.js';
import { Category, SourceKind, type QAPair } from '../datasets/schemas.js';
import { columnsOf, pairFromRow, sqlString, type Stores } from '../datasets/store.js';

/** Where the audited pairs come from: the active corpus, or staging's validated and promoted pairs. */
export type AuditFrom = 'corpus' | 'staging';
export const AUDIT_FORMATS = ['text', 'md', 'jsonl'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

const WHERE: Record<AuditFrom, string> = { corpus: "status = 'active'", staging: "status IN ('validated', 'promoted')" };
const CONTEXT_LINES = 25;
const CONTEXT_LINE_CHARS = 240;
const TOP_TEMPLATES = 10;

// ---- pure parts -------------------------------------------------------------------------------------

/**
 * A question's template: what is left once the parts that name a particular thing are placeholders —
 * `backticked` spans, "quoted" and “quoted” spans, hex shas (7–40 characters with a digit and a letter,
 * so words like "defaced" and plain numbers are not shas), then numbers (#?\d+); whitespace collapsed.
 */
export function questionTemplate(question: string): string {
  return question
    .replace(/`[^`]*`/g, '<code>')
    .replace(/"[^"\n]*"|“[^”]*”/g, '<quote>')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b/g, '<sha>')
    .replace(/#?\d+/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Test code: under a tests/ or test/ directory, or a test_*.py, *_test.py or conftest.py file. */
export function isTestPath(path: string | null): boolean {
  if (!path) return false;
  const parts = path.split('/');
  const base = parts[parts.length - 1]!;
  return parts.slice(0, -1).some((d) => d === 'tests' || d === 'test') || /^test_.*\.py$/.test(base) || /_test\.py$/.test(base) || base === 'conftest.py';
}

/** Lower-cased, whitespace collapsed: two questions a reader cannot tell apart. */
export const normalisedQuestion = (q: string): string => q.toLowerCase().replace(/\s+/g, ' ').trim();

// Function words only: names and terms of the library are what an answer is meant to add.
const STOP_WORDS = new Set(
  (
    'the and for are was were been being with that this these those from into onto over under what which who whom whose when where why how ' +
    'does did done doing has have had having not but its can could should would will may might must shall any all each some such than then ' +
    'there their them they you your our about also only other own same very just both either neither nor per via yes get gets'
  ).split(' '),
);

/** Alphanumeric tokens of at least 3 characters, lower-cased, not function words. */
export function contentWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const t of text.toLowerCase().split(/[^a-z0-9]+/)) if (t.length >= 3 && !STOP_WORDS.has(t)) out.add(t);
  return out;
}

/** Distinct content words of the answer the question does not already hold. */
export function newContentWords(question: string, answer: string): number {
  const q = contentWords(question);
  let n = 0;
  for (const w of contentWords(answer)) if (!q.has(w)) n++;
  return n;
}

/**
 * Proportional allocation of n over strata of the given sizes, by largest remainder, with at least one
 * from every stratum when n is at least the number of strata; never more than a stratum holds.
 * Ties go to the stratum first in key order, so the allocation depends on the sizes only.
 */
export function allocateSample(sizes: Map<string, number>, n: number): Map<string, number> {
  const keys = [...sizes.keys()].filter((k) => sizes.get(k)! > 0).sort();
  const total = keys.reduce((a, k) => a + sizes.get(k)!, 0);
  if (n >= total) return new Map(keys.map((k) => [k, sizes.get(k)!]));
  const least = n >= keys.length ? 1 : 0;
  const quota = (k: string) => (n * sizes.get(k)!) / total;
  const a = new Map(keys.map((k) => [k, Math.min(sizes.get(k)!, Math.max(least, Math.floor(quota(k))))]));
  let sum = [...a.values()].reduce((x, y) => x + y, 0);
  const pick = (ok: (k: string) => boolean, by: (k: string) => number) => {
    let best: string | null = null;
    for (const k of keys) if (ok(k) && (best === null || by(k) > by(best))) best = k;
    return best!;
  };
  // The minimum of one can take the sum over n: take back from the strata furthest above their quota.
  for (; sum > n; sum--) {
    const k = pick((k) => a.get(k)! > least, (k) => a.get(k)! - quota(k));
    a.set(k, a.get(k)! - 1);
  }
  for (; sum < n; sum++) {
    const k = pick((k) => a.get(k)! < sizes.get(k)!, (k) => quota(k) - a.get(k)!);
    a.set(k, a.get(k)! + 1);
  }
  return new Map([...a].filter(([, v]) => v > 0));
}

/** Wilson score interval for k successes in n trials (95 % by default); null for no trials. */
export function wilsonInterval(k: number, n: number, z = 1.959964): { low: number; high: number } | null {
  if (!n) return null;
  const p = k / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const d = 1 + z2 / n;
  return { low: Math.max(0, (centre - half) / d), high: Math.min(1, (centre + half) / d) };
}

/** The first lines of a context, long lines cut, and how many lines were left out. */
export function trimContext(context: string, maxLines = CONTEXT_LINES): { text: string; lines: number; cutLines: number } {
  const lines = context.replace(/\n+$/, '').split('\n');
  const kept = lines.slice(0, maxLines).map((l) => (l.length > CONTEXT_LINE_CHARS ? `${l.slice(0, CONTEXT_LINE_CHARS)}…` : l));
  return { text: kept.join('\n'), lines: lines.length, cutLines: lines.length - kept.length };
}

// ---- the sample and the proxies ---------------------------------------------------------------------

const stratumKey = (sourceKind: string, category: string) => `${sourceKind}/${category}`;
const kindOrder = (k: string) => {
  const [kind, cat] = k.split('/') as [string, string];
  return [SourceKind.options.indexOf(kind as SourceKind), Category.options.indexOf(cat as Category)];
};
const byKindOrder = (a: string, b: string) => {
  const [x, y] = [kindOrder(a), kindOrder(b)];
  return x[0]! - y[0]! || x[1]! - y[1]! || (a < b ? -1 : a > b ? 1 : 0);
};

/** One sampled pair as a reviewer sees it, and as a line of the JSONL a grader fills in. */
export interface AuditItem {
  n: number;
  id: string;
  category: string;
  source_kind: string;
  question: string;
  answer: string;
  /** The first CONTEXT_LINES lines of the pair's context. */
  context: string;
  context_lines: number;
  context_cut_lines: number;
  provenance: {
    repo: string;
    sha: string;
    path: string | null;
    start_line: number | null;
    end_line: number | null;
    pr: number | null;
    issue: number | null;
    url: string | null;
    /** path:lines, PR #n or issue #n, or the commit: where to look. */
    locator: string;
  };
  quality: { score: number; reasons: string[] } | null;
  generator: string;
  grade: { correct: boolean | null; standalone: boolean | null; useful: boolean | null; note: string | null };
}

export interface AuditProxies {
  pairs: number;
  bySourceKind: Record<string, number>;
  byCategory: Record<string, number>;
  templates: { templates: number; top10Share: number; top: { template: string; count: number }[] };
  testCode: { codePairs: number; testPairs: number; share: number };
  duplicateQuestions: {
    pairs: number;
    questions: number;
    rate: number;
    /** The (normalised) questions asked by the most pairs with different answers, up to 5. */
    examples: { question: string; pairs: number; answers: number }[];
  };
  informativeness: { meanNewWords: number; under2: number; under2Share: number; byCategory: Record<string, { pairs: number; meanNewWords: number; under2Share: number }> };
  rejected: { total: number; byReason: Record<string, number>; lowValue: { total: number; byQualityReason: Record<string, number> } };
}

export interface Audit {
  from: AuditFrom;
  seed: number;
  requested: number;
  strata: { stratum: string; pairs: number; sampled: number }[];
  sample: AuditItem[];
  proxies: AuditProxies;
}

interface ConsideredPair {
  id: string;
  question: string;
  answer: string;
  category: string;
  sourceKind: string;
  path: string | null;
}

/** The pair table an audit reads by default: the corpus once anything is promoted, else staging. */
export async function defaultAuditFrom(stores: Stores): Promise<AuditFrom> {
  return (await stores.count('corpus', WHERE.corpus)) ? 'corpus' : 'staging';
}

export async function auditPairs(stores: Stores, opts: { n: number; seed: number; from: AuditFrom }): Promise<Audit> {
  const pairs: ConsideredPair[] = [];
  for await (const rows of stores.scan(opts.from, ['id', 'question', 'answer', 'category', 'source_kind', 'path'], WHERE[opts.from]))
    for (const r of rows)
      pairs.push({ id: r.id as string, question: r.question as string, answer: r.answer as string, category: r.category as string, sourceKind: r.source_kind as string, path: (r.path ?? null) as string | null });

  // Rank by a hash of (seed, id), not by scan order: the same seed picks the same pairs however the table is laid out.
  const strata = new Map<string, { id: string; rank: number }[]>();
  for (const p of pairs) {
    const k = stratumKey(p.sourceKind, p.category);
    let s = strata.get(k);
    if (!s) strata.set(k, (s = []));
    s.push({ id: p.id, rank: unitInterval(p.id, `audit:${opts.seed}`) });
  }
  const allocation = allocateSample(new Map([...strata].map(([k, v]) => [k, v.length])), opts.n);
  const keys = [...strata.keys()].sort(byKindOrder);
  const chosen = keys.flatMap((k) => [...strata.get(k)!].sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : 1)).slice(0, allocation.get(k) ?? 0).map((x) => x.id));

  const full = new Map<string, QAPair>();
  for (let i = 0; i < chosen.length; i += 500) {
    const ids = chosen.slice(i, i + 500).map(sqlString).join(', ');
    for await (const rows of stores.scan(opts.from, columnsOf(opts.from), `${WHERE[opts.from]} AND id IN (${ids})`)) for (const r of rows) full.set(r.id as string, pairFromRow(r));
  }
  return {
    from: opts.from,
    seed: opts.seed,
    requested: opts.n,
    strata: keys.map((k) => ({ stratum: k, pairs: strata.get(k)!.length, sampled: allocation.get(k) ?? 0 })),
    sample: chosen.map((id, i) => auditItem(full.get(id)!, i + 1)),
    proxies: { ...pairProxies(pairs), rejected: await rejectedProxies(stores) },
  };
}

function auditItem(p: QAPair, n: number): AuditItem {
  const v = p.provenance;
  const ctx = trimContext(p.context);
  const sha = v.commitLastVerified.slice(0, 12);
  const lines = v.startLine ? `:${v.startLine}${v.endLine && v.endLine !== v.startLine ? `-${v.endLine}` : ''}` : '';
  const locator =
    p.sourceKind === 'pull_request' && v.prNumber
      ? `PR #${v.prNumber}`
      : p.sourceKind === 'issue' && v.issueNumber
        ? `issue #${v.issueNumber}`
        : p.sourceKind === 'commit'
          ? `commit ${v.commitFirstSeen.slice(0, 12)}${v.path ? ` ${v.path}` : ''}${v.prNumber ? ` (PR #${v.prNumber})` : ''}`
          : `${v.path ?? '?'}${lines}`;
  return {
    n,
    id: p.id,
    category: p.category,
    source_kind: p.sourceKind,
    question: p.question,
    answer: p.answer,
    context: ctx.text,
    context_lines: ctx.lines,
    context_cut_lines: ctx.cutLines,
    provenance: { repo: v.repo, sha, path: v.path, start_line: v.startLine, end_line: v.endLine, pr: v.prNumber, issue: v.issueNumber, url: v.url, locator },
    quality: p.quality ?? null,
    generator: `${p.generator.name}@${p.generator.version}`,
    grade: { correct: null, standalone: null, useful: null, note: null },
  };
}

const inc = (r: Record<string, number>, k: string, by = 1) => {
  r[k] = (r[k] ?? 0) + by;
};

/** The proxies that need only the pairs: templates, test code, duplicate questions, informativeness, counts. */
export function pairProxies(pairs: Omit<ConsideredPair, 'id'>[]): Omit<AuditProxies, 'rejected'> {
  const bySourceKind: Record<string, number> = {};
  const byCategory: Record<string, number> = {};
  const templates = new Map<string, number>();
  const answersOf = new Map<string, Set<string>>();
  const questionCount = new Map<string, number>();
  let codePairs = 0;
  let testPairs = 0;
  let newWords = 0;
  let under2 = 0;
  const cat: Record<string, { pairs: number; words: number; under2: number }> = {};
  for (const p of pairs) {
    inc(bySourceKind, p.sourceKind);
    inc(byCategory, p.category);
    const t = questionTemplate(p.question);
    templates.set(t, (templates.get(t) ?? 0) + 1);
    if (p.sourceKind === 'code_symbol') {
      codePairs++;
      if (isTestPath(p.path)) testPairs++;
    }
    const q = normalisedQuestion(p.question);
    let answers = answersOf.get(q);
    if (!answers) answersOf.set(q, (answers = new Set()));
    answers.add(p.answer.replace(/\s+/g, ' ').trim());
    questionCount.set(q, (questionCount.get(q) ?? 0) + 1);
    const w = newContentWords(p.question, p.answer);
    const c = (cat[p.category] ??= { pairs: 0, words: 0, under2: 0 });
    c.pairs++;
    c.words += w;
    newWords += w;
    if (w < 2) {
      under2++;
      c.under2++;
    }
  }
  // A question with two or more different answers: every pair asking it has another with a different answer.
  const dups = [...answersOf].filter(([, answers]) => answers.size > 1).map(([question, answers]) => ({ question, pairs: questionCount.get(question)!, answers: answers.size }));
  const dupPairs = dups.reduce((a, d) => a + d.pairs, 0);
  const examples = dups.sort((a, b) => b.pairs - a.pairs || (a.question < b.question ? -1 : 1)).slice(0, 5);
  const n = pairs.length;
  const top = [...templates].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_TEMPLATES).map(([template, count]) => ({ template, count }));
  return {
    pairs: n,
    bySourceKind,
    byCategory,
    templates: { templates: templates.size, top10Share: n ? top.reduce((a, t) => a + t.count, 0) / n : 0, top },
    testCode: { codePairs, testPairs, share: codePairs ? testPairs / codePairs : 0 },
    duplicateQuestions: { pairs: dupPairs, questions: dups.length, rate: n ? dupPairs / n : 0, examples },
    informativeness: {
      meanNewWords: n ? newWords / n : 0,
      under2,
      under2Share: n ? under2 / n : 0,
      byCategory: Object.fromEntries(Object.entries(cat).map(([k, c]) => [k, { pairs: c.pairs, meanNewWords: c.words / c.pairs, under2Share: c.under2 / c.pairs }])),
    },
  };
}

/** Every reject reason, and the low-value rejects by the quality reasons stored with them. */
async function rejectedProxies(stores: Stores): Promise<AuditProxies['rejected']> {
  const byReason: Record<string, number> = {};
  const byQualityReason: Record<string, number> = {};
  let total = 0;
  let lowValue = 0;
  for await (const rows of stores.scan('rejected', ['reasons', 'record']))
    for (const r of rows) {
      total++;
      const reasons = (r.reasons as string).split(',').filter(Boolean);
      for (const x of reasons) inc(byReason, x);
      if (!reasons.includes('low_value')) continue;
      lowValue++;
      const q = (JSON.parse(r.record as string) as { quality?: { reasons: string[] } }).quality;
      if (!q?.reasons.length) inc(byQualityReason, '(none stored)');
      else for (const x of q.reasons) inc(byQualityReason, x);
    }
  return { total, byReason, lowValue: { total: lowValue, byQualityReason } };
}

// ---- formatting -------------------------------------------------------------------------------------

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const kv = (r: Record<string, number>) => Object.entries(r).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
const GRADE_LINE = 'correct [ ] standalone [ ] useful [ ]  note:';

const provenanceLine = (p: AuditItem['provenance']) => `${p.repo} @ ${p.sha}  ${p.locator}${p.url ? `  ${p.url}` : ''}`;
const qualityLine = (q: AuditItem['quality']) => (q ? `${q.score.toFixed(2)}${q.reasons.length ? ` (${q.reasons.join(', ')})` : ''}` : null);
const cutNote = (it: AuditItem) => (it.context_cut_lines ? `… ${it.context_cut_lines} more line(s) not shown (${it.context_lines} in all; \`qaforge show ${it.id}\`)` : null);

function itemText(it: AuditItem, of: number): string {
  const indent = (s: string, pad: string) => s.split('\n').join(`\n${pad}`);
  return [
    `[${it.n}/${of}] ${it.id}  ${it.source_kind} / ${it.category}`,
    `Q: ${indent(it.question, '   ')}`,
    `A: ${indent(it.answer, '   ')}`,
    `context (${it.context_lines} line(s)):`,
    ...it.context.split('\n').map((l) => `  | ${l}`),
    ...(cutNote(it) ? [`  ${cutNote(it)}`] : []),
    `provenance: ${provenanceLine(it.provenance)}`,
    ...(qualityLine(it.quality) ? [`quality: ${qualityLine(it.quality)}`] : []),
    GRADE_LINE,
  ].join('\n');
}

function itemMarkdown(it: AuditItem): string {
  // A fence longer than any run of backticks in the context, so the context cannot close it.
  const fence = '`'.repeat(Math.max(3, ...[...it.context.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return [
    `### ${it.n}. ${it.source_kind} / ${it.category} — \`${it.id}\``,
    '',
    `**Q:** ${it.question}`,
    '',
    '**A:**',
    '',
    it.answer,
    '',
    fence,
    it.context,
    fence,
    ...(cutNote(it) ? [`*${cutNote(it)}*`] : []),
    '',
    `- provenance: ${provenanceLine(it.provenance)}`,
    ...(qualityLine(it.quality) ? [`- quality: ${qualityLine(it.quality)}`] : []),
    `- ${GRADE_LINE}`,
    '',
  ].join('\n');
}

/** The sample in a reviewer's format: text, markdown, or JSONL lines with blank grades. */
export function formatAuditSample(a: Audit, format: AuditFormat): string {
  if (format === 'jsonl') return a.sample.map((it) => JSON.stringify(it)).join('\n');
  const head = `audit sample: ${a.sample.length} of ${a.proxies.pairs} pairs (${a.from}), ${a.strata.filter((s) => s.sampled).length}/${a.strata.length} strata by source kind / category, seed ${a.seed}`;
  if (format === 'md')
    return [`# ${head}`, '', 'Grade each pair: correct, standalone, useful (evals/README.md, "Auditing by hand").', '', ...a.sample.map(itemMarkdown)].join('\n');
  return [head, '', ...a.sample.map((it) => `${itemText(it, a.sample.length)}\n`)].join('\n');
}

/** The automatic proxies as a table. */
export function formatAuditProxies(a: Audit): string {
  const p = a.proxies;
  const inf = p.informativeness;
  const cats = Object.entries(inf.byCategory).sort((x, y) => x[1].meanNewWords - y[1].meanNewWords);
  return [
    `audit proxies over ${p.pairs} pairs (${a.from === 'corpus' ? 'active corpus' : 'staging, validated and promoted'})`,
    `by source kind   ${kv(p.bySourceKind)}`,
    `by category      ${kv(p.byCategory)}`,
    `templates        ${p.templates.templates} question templates; the top ${p.templates.top.length} hold ${pct(p.templates.top10Share)} of pairs`,
    ...p.templates.top.map((t) => `  ${String(t.count).padStart(7)}  ${t.template}`),
    `test code        ${p.testCode.testPairs}/${p.testCode.codePairs} code pairs are about test code (${pct(p.testCode.share)})`,
    `dup questions    ${p.duplicateQuestions.pairs} pairs (${pct(p.duplicateQuestions.rate)}) ask one of ${p.duplicateQuestions.questions} questions that have different answers`,
    ...p.duplicateQuestions.examples.map((d) => `  ${String(d.pairs).padStart(7)}  ${d.question} (${d.answers} answers)`),
    `informativeness  ${inf.meanNewWords.toFixed(2)} new content words per answer on average; ${inf.under2} answers (${pct(inf.under2Share)}) add fewer than 2`,
    ...cats.map(([k, c]) => `  ${k.padEnd(18)} ${String(c.pairs).padStart(7)} pairs  mean ${c.meanNewWords.toFixed(2).padStart(6)}  under 2: ${pct(c.under2Share)}`),
    `rejected         ${p.rejected.total} in all: ${kv(p.rejected.byReason)}`,
    `low value        ${p.rejected.lowValue.total} rejected as low_value, by quality reason: ${kv(p.rejected.lowValue.byQualityReason)}`,
  ].join('\n');
}

// ---- grades -----------------------------------------------------------------------------------------

const Mark = z.union([z.boolean(), z.literal(0), z.literal(1)]).nullable().optional().transform((v) => (v === undefined || v === null ? null : Boolean(v)));

/** One line of a filled-in audit JSONL: the item's id and kinds, and its grade (null: not graded). */
export const GradedLine = z.object({
  id: z.string().min(1),
  category: z.string().default('?'),
  source_kind: z.string().default('?'),
  grade: z.object({ correct: Mark, standalone: Mark, useful: Mark, note: z.string().nullable().optional() }),
});
export type GradedLine = z.infer<typeof GradedLine>;

export const CRITERIA = ['correct', 'standalone', 'useful'] as const;
export type Criterion = (typeof CRITERIA)[number];

/** Reads a filled-in audit JSONL; every bad line is named by its number. */
export function readGrades(path: string): GradedLine[] {
  const out = readJsonlRecords(path, GradedLine, 'grades file', 'line').records;
  if (!out.length) throw new UserError(`grades file ${path} holds no graded items`);
  return out;
}

export interface Rate {
  /** Items graded on this criterion (true or false; null is not graded). */
  n: number;
  yes: number;
  rate: number | null;
  low: number | null;
  high: number | null;
}
export type Rates = Record<Criterion, Rate>;

export interface GradeReport {
  items: number;
  overall: Rates;
  byCategory: Record<string, Rates>;
  bySourceKind: Record<string, Rates>;
}

function ratesOf(lines: GradedLine[]): Rates {
  return Object.fromEntries(
    CRITERIA.map((c) => {
      const marks = lines.map((l) => l.grade[c]).filter((m): m is boolean => m !== null);
      const yes = marks.filter(Boolean).length;
      const w = wilsonInterval(yes, marks.length);
      return [c, { n: marks.length, yes, rate: marks.length ? yes / marks.length : null, low: w?.low ?? null, high: w?.high ?? null }];
    }),
  ) as Rates;
}

/** Correct, standalone and useful rates with 95 % Wilson intervals: overall, per category, per source kind. */
export function gradedRates(lines: GradedLine[]): GradeReport {
  const group = (key: (l: GradedLine) => string) => {
    const g = new Map<string, GradedLine[]>();
    for (const l of lines) {
      const k = key(l);
      const xs = g.get(k);
      if (xs) xs.push(l);
      else g.set(k, [l]);
    }
    return Object.fromEntries([...g].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, xs]) => [k, ratesOf(xs)]));
  };
  return { items: lines.length, overall: ratesOf(lines), byCategory: group((l) => l.category), bySourceKind: group((l) => l.source_kind) };
}

export function formatGradeRates(r: GradeReport): string {
  const cell = (x: Rate) => (x.rate === null ? '-' : `${x.yes}/${x.n} ${pct(x.rate)} [${pct(x.low!)}, ${pct(x.high!)}]`);
  const rows: string[][] = [
    ['', ...CRITERIA],
    ['overall', ...CRITERIA.map((c) => cell(r.overall[c]))],
    ...Object.entries(r.bySourceKind).map(([k, x]) => [`kind ${k}`, ...CRITERIA.map((c) => cell(x[c]))]),
    ...Object.entries(r.byCategory).map(([k, x]) => [`category ${k}`, ...CRITERIA.map((c) => cell(x[c]))]),
  ];
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return [`${r.items} graded item(s); rates with 95 % Wilson intervals`, ...rows.map((row) => row.map((c, i) => c.padEnd(width[i]!)).join('  ').trimEnd())].join('\n');
}

/** Writes the sample to a file in a reviewer's format. */
export function writeAuditSample(a: Audit, format: AuditFormat, path: string): void {
  try {
    writeFileSync(path, `${formatAuditSample(a, format)}\n`);
  } catch (e) {
    throw new UserError(`cannot write the audit sample to ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
