// The export as a Hugging Face user meets it: real corpora (a fixture repository backfilled and
// promoted through the CLI) exported in QA and chat formats, then loaded with the real `datasets`
// library both ways — JSON files and the dataset card — plus general QA mixed into train only.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExportedChat, ExportedQA } from '../datasets/schemas.js';
import { assignSplit } from '../datasets/splits.js';
import { loadConfig } from '../lib/config.js';
import { qaforge, qaforgeJson } from './cli.js';
import { SHAPES_PY, makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

const PYEVAL = fileURLToPath(new URL('../.tools/pyeval/bin/python', import.meta.url));
const LOADER = fileURLToPath(new URL('./hf_datasets_load.py', import.meta.url));
const SPLITS = ['train', 'validation', 'test'] as const;
const QA_COLUMNS = Object.keys(ExportedQA.shape);
const { splits: RATIOS } = loadConfig({ env: {}, cwd: tempDir('qaforge-cwd-') });

/** The first `n` module paths whose split group lands in `split` under the default ratios. */
function pathsIn(split: string, n: number, from = 0): string[] {
  const out: string[] = [];
  for (let i = from; out.length < n; i++) if (assignSplit(`pkg/mod_${i}.py`, RATIOS) === split) out.push(`pkg/mod_${i}.py`);
  return out;
}

/** Six small modules with little in common, so no two of them are near duplicates (one cluster each). */
const MODULES = [
  ['fahrenheit', 'celsius: float', 'Convert a temperature from degrees Celsius to degrees Fahrenheit.', 'celsius * 9 / 5 + 32'],
  ['word_count', 'text: str', 'Count the whitespace-separated words of a sentence.', 'len(text.split())'],
  ['is_leap_year', 'year: int', 'Tell whether a Gregorian calendar year has a February 29th.', 'year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)'],
  ['hypotenuse', 'a: float, b: float', 'Length of the longest side of a right triangle with legs a and b.', '(a * a + b * b) ** 0.5'],
  ['initials', 'name: str', 'Capital first letters of every part of a person name, joined by dots.', '".".join(p[0].upper() for p in name.split())'],
  ['clamp_volume', 'level: int', 'Keep an audio volume level between zero and eleven inclusive.', 'max(0, min(11, level))'],
] as const;
const moduleSource = (i: number) => {
  const [name, params, doc, body] = MODULES[i]!;
  return `def ${name}(${params}):\n    """${doc}"""\n    return ${body}\n`;
};

interface Loaded {
  [split: string]: { rows: number; columns: string[]; first_id: string | null; general: number };
}
interface HFReport {
  json: Loaded & { error?: string };
  card: Loaded & { error?: string };
  card_data: Record<string, unknown>;
}

/** Runs the HF `datasets` loader over exports, offline, with a cache of its own. */
async function loadWithHF(exports: { name: string; dir: string; files: string[] }[]): Promise<Record<string, HFReport>> {
  const home = tempDir('qaforge-hf-home-');
  const arg = exports.map((e) => ({ name: e.name, dir: e.dir, files: Object.fromEntries(e.files.map((f) => [f.replace(/\.jsonl$/, ''), join(e.dir, f)])) }));
  const { stdout } = await promisify(execFile)(PYEVAL, [LOADER, JSON.stringify(arg)], {
    env: { PATH: process.env.PATH, HF_HOME: home, HF_DATASETS_CACHE: join(home, 'datasets'), HF_DATASETS_OFFLINE: '1', HF_HUB_OFFLINE: '1', HF_HUB_DISABLE_TELEMETRY: '1' },
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

const lines = (dir: string, split: string) => (existsSync(join(dir, `${split}.jsonl`)) ? readFileSync(join(dir, `${split}.jsonl`), 'utf8').split('\n').filter(Boolean) : []);
const kindOf = (line: string) => {
  const row = JSON.parse(line);
  return (row.source_kind ?? row.metadata.source_kind) as string;
};

/** What HF must see for an export: exactly its non-empty splits, with the row counts it reported. */
function expectLoaded(report: HFReport, r: any, format: 'qa' | 'chat') {
  const written = SPLITS.filter((s) => r.bySplit[s] > 0);
  expect(r.files).toEqual(written.map((s) => `${s}.jsonl`));
  for (const how of ['json', 'card'] as const) {
    const got = report[how];
    expect(got.error, how).toBeUndefined();
    expect(Object.keys(got).sort(), how).toEqual([...written].sort());
    for (const s of written) {
      expect(got[s]!.rows, `${how} ${s}`).toBe(r.bySplit[s]);
      expect(got[s]!.columns, `${how} ${s}`).toEqual(format === 'qa' ? QA_COLUMNS : ['id', 'split', 'messages', 'metadata']);
      expect(got[s]!.first_id, `${how} ${s}`).toBe(JSON.parse(lines(r.out, s)[0]!).id);
      expect(got[s]!.general, `${how} ${s}`).toBe(s === 'train' ? (r.mix?.rows ?? 0) : 0);
    }
  }
  expect(report.card_data.configs).toEqual([{ config_name: 'default', data_files: written.map((s) => ({ split: s, path: `${s}.jsonl` })) }]);
  expect(report.card_data.task_categories).toEqual(format === 'qa' ? ['question-answering'] : ['question-answering', 'text-generation']);
  expect(report.card_data.language).toEqual(['en']);
  expect(report.card_data.size_categories).toEqual(['n<1K']);
}

let tiny: { repo: FixtureRepo; data: string; active: number };
let multi: { repo: FixtureRepo; data: string; active: number };
const TRAIN_PATHS = pathsIn('train', 4);
const VALIDATION_PATH = pathsIn('validation', 1)[0]!;
const TEST_PATH = pathsIn('test', 1)[0]!;

async function corpusOf(files: Record<string, string>) {
  const repo = await makeRepo(files);
  const data = tempDir();
  await qaforgeJson(['--data-dir', data, 'backfill', '--sources', 'code', '--repo', repo.dir, '--json']);
  const p = await qaforgeJson(['--data-dir', data, 'promote']);
  return { repo, data, active: p.active as number };
}

beforeAll(async () => {
  if (!existsSync(PYEVAL)) throw new Error('no .tools/pyeval: run scripts/setup.sh (it installs Hugging Face datasets there)');
  // One file: every pair lands in one split (train), the other two are empty. Its licence is none the
  // Hub knows, so the card says `other` and links the file.
  tiny = await corpusOf({ [TRAIN_PATHS[0]!]: SHAPES_PY, LICENSE: 'Acme Shapes Licence\n\nAll rights reserved.\n' });
  // Six modules: four in train, one each in validation and test.
  const files: Record<string, string> = { LICENSE: 'MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n' };
  [...TRAIN_PATHS, VALIDATION_PATH, TEST_PATH].forEach((p, i) => (files[p] = moduleSource(i)));
  multi = await corpusOf(files);
}, 240_000);

describe('an export loads in Hugging Face datasets', () => {
  it('leaves out empty splits, removes stale split files, and loads both ways in QA and chat formats', async () => {
    const base = tempDir('qaforge-export-');
    const exported: Record<string, any> = {};
    for (const format of ['qa', 'chat'] as const) {
      exported[`tiny-${format}`] = await qaforgeJson(['--data-dir', tiny.data, 'export', '--out', join(base, `tiny-${format}`), '--format', format]);
      exported[`multi-${format}`] = await qaforgeJson(['--data-dir', multi.data, 'export', '--out', join(base, `multi-${format}`), '--format', format]);
    }
    // A re-export of the tiny corpus where the three-split one was: its validation and test files go.
    const stale = join(base, 'stale');
    const before = await qaforgeJson(['--data-dir', multi.data, 'export', '--out', stale]);
    expect(before.files).toEqual(['train.jsonl', 'validation.jsonl', 'test.jsonl']);
    exported.stale = await qaforgeJson(['--data-dir', tiny.data, 'export', '--out', stale]);

    for (const [name, r] of Object.entries(exported)) {
      const isTiny = name.startsWith('tiny') || name === 'stale';
      expect(r.rows, name).toBe(isTiny ? tiny.active : multi.active);
      expect(r.mix, name).toBeNull();
      if (isTiny) expect(r.bySplit, name).toEqual({ train: tiny.active, validation: 0, test: 0 });
      else for (const s of SPLITS) expect(r.bySplit[s], `${name} ${s}`).toBeGreaterThan(0);
      expect(readdirSync(r.out).sort(), name).toEqual(['README.md', ...r.files].sort());
      for (const s of SPLITS) {
        expect(lines(r.out, s), `${name} ${s}`).toHaveLength(r.bySplit[s]);
        for (const l of lines(r.out, s)) expect((r.format === 'qa' ? ExportedQA : ExportedChat).parse(JSON.parse(l)).split).toBe(s);
      }
      const card = readFileSync(join(r.out, 'README.md'), 'utf8');
      for (const s of SPLITS) expect(card.includes(`split: ${s}`), `${name} card lists ${s}`).toBe(r.bySplit[s] > 0);
    }
    const hf = await loadWithHF(Object.entries(exported).map(([name, r]) => ({ name, dir: r.out, files: r.files })));
    for (const [name, r] of Object.entries(exported)) expectLoaded(hf[name]!, r, r.format);
    expect(hf['tiny-qa']!.card_data).toMatchObject({ license: 'other', license_name: 'acme-shapes-license', license_link: `https://github.com/acme/shapes/blob/${tiny.repo.sha}/LICENSE` });
    expect(hf['multi-qa']!.card_data).toMatchObject({ license: 'mit', license_name: null, license_link: null });
  }, 240_000);

  it('carries each pair\'s value score, and --min-quality keeps only pairs at or above it', async () => {
    const all = await qaforgeJson(['--data-dir', tiny.data, 'export', '--out', join(tempDir('qaforge-export-'), 'all')]);
    const rows = lines(all.out, 'train').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(tiny.active);
    for (const r of rows) {
      expect(r.quality_score).toBeGreaterThanOrEqual(0.5);
      expect(r.quality_score).toBeLessThanOrEqual(1);
    }
    const high = rows.filter((r) => r.quality_score >= 0.9);
    expect(high.length).toBeGreaterThan(0);
    expect(high.length).toBeLessThan(rows.length);
    // Scores below 1 name why.
    for (const r of rows) expect(r.quality_reasons.length > 0).toBe(r.quality_score < 1);
    const strict = await qaforgeJson(['--data-dir', tiny.data, 'export', '--out', join(tempDir('qaforge-export-'), 'strict'), '--min-quality', '0.9']);
    expect(strict.rows).toBe(high.length);
    expect(strict.belowMinQuality).toBe(rows.length - high.length);
    expect(lines(strict.out, 'train').map((l) => JSON.parse(l).id).sort()).toEqual(high.map((r) => r.id).sort());
    const bad = await qaforge(['--data-dir', tiny.data, 'export', '--out', join(tempDir('qaforge-export-'), 'bad'), '--min-quality', '2']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--min-quality must be a number from 0 to 1');
  }, 120_000);
});

describe('general QA mixed into train', () => {
  const GENERAL = 40;
  let mixFile: string;
  let plain: any;
  let evalQuestion: string;
  let mixedQA: any;

  beforeAll(async () => {
    plain = await qaforgeJson(['--data-dir', multi.data, 'export', '--out', join(tempDir('qaforge-export-'), 'plain')]);
    evalQuestion = JSON.parse(lines(plain.out, 'validation')[0]!).question;
    const good = Array.from({ length: GENERAL }, (_, i) =>
      JSON.stringify({
        question: `What is the boiling point of liquid number ${i}?`,
        answer: `Liquid number ${i} boils at ${50 + i} degrees.`,
        ...(i % 3 === 0 ? { id: `general-${i}` } : {}),
        ...(i % 4 === 0 ? { context: `Liquid ${i}: boiling point ${50 + i} degrees.` } : {}),
        ...(i % 5 === 0 ? { source: 'physics-faq', license: 'CC-BY-SA-4.0' } : {}),
      }),
    );
    // Bad lines at known places; a blank line is nothing and counts as nothing.
    const body = [
      ...good.slice(0, 10),
      'this is not json', // 11
      JSON.stringify({ question: 'Where is the answer?' }), // 12
      JSON.stringify({ question: '   ', answer: 'blank question' }), // 13
      good[2], // 14: the same as line 3
      '',
      JSON.stringify({ question: evalQuestion.toUpperCase(), answer: 'leaks the validation split' }), // 16
      ...good.slice(10, 20),
    ].join('\n');
    const latin1 = Buffer.from(`${JSON.stringify({ question: 'Caf\xe9?', answer: 'A caf\xe9.' })}\n`, 'latin1'); // 27
    mixFile = join(tempDir('qaforge-mix-'), 'general.jsonl');
    writeFileSync(mixFile, Buffer.concat([Buffer.from(`${body}\n`), latin1, Buffer.from(`${good.slice(20).join('\r\n')}\r\n`)]));
  }, 120_000);

  const exportMix = (name: string, ratio: string, format = 'qa') =>
    qaforgeJson(['--data-dir', multi.data, 'export', '--out', join(tempDir('qaforge-export-'), name), '--format', format, '--mix', mixFile, '--mix-ratio', ratio]);

  it('adds round(ratio × train rows) general rows to train only, counts every bad line, and loads in HF datasets', async () => {
    const train = plain.bySplit.train as number;
    const requested = Math.round(0.25 * train);
    expect(requested).toBeGreaterThan(0);
    expect(requested).toBeLessThan(GENERAL);
    const qa = (mixedQA = await exportMix('qa', '0.25'));
    const chat = await exportMix('chat', '0.25', 'chat');
    const skippedLines = [
      { line: 11, reason: 'invalid_json' },
      { line: 12, reason: 'schema', detail: 'answer: Invalid input: expected string, received undefined' },
      { line: 13, reason: 'schema', detail: 'question: must not be blank' },
      { line: 14, reason: 'duplicate', detail: 'same question and answer as line 3' },
      { line: 16, reason: 'in_eval_split', detail: 'the question of a validation or test pair of the corpus' },
      { line: 27, reason: 'not_utf8', detail: 'the line is not valid UTF-8' },
    ];
    for (const r of [qa, chat]) {
      expect(r.mix).toMatchObject({
        file: 'general.jsonl',
        ratio: 0.25,
        lines: GENERAL + 6,
        usable: GENERAL,
        requested,
        rows: requested,
        capped: false,
        skipped: 6,
        skippedByReason: { invalid_json: 1, schema: 2, duplicate: 1, in_eval_split: 1, not_utf8: 1 },
      });
      expect(r.mix.skippedLines).toMatchObject(skippedLines);
      expect(r.bySplit).toEqual({ train: train + requested, validation: plain.bySplit.validation, test: plain.bySplit.test });
      expect(r.rows).toBe(plain.rows + requested);
      expect(r.corpusRows).toBe(plain.rows);
      expect(r.bySourceKind.general).toBe(requested);
      expect(lines(r.out, 'train').filter((l) => kindOf(l) === 'general')).toHaveLength(requested);
      for (const s of ['validation', 'test']) {
        expect(lines(r.out, s).filter((l) => kindOf(l) === 'general'), s).toEqual([]);
        // The same bytes as without the mix: general rows touch train only.
        if (r === qa) expect(readFileSync(join(r.out, `${s}.jsonl`), 'utf8'), s).toBe(readFileSync(join(plain.out, `${s}.jsonl`), 'utf8'));
      }
      const card = readFileSync(join(r.out, 'README.md'), 'utf8');
      expect(card).toContain(`- general QA mixed into train: ${requested} rows from general.jsonl, ratio 0.25\n`);
      expect(card).toContain(`- rows: ${plain.rows + requested} (corpus pairs ${plain.rows}, general QA ${requested})`);
    }
    // General rows: train, no provenance, their own id when the line gave one, the same rows in both formats.
    const general = lines(qa.out, 'train').map((l) => ExportedQA.parse(JSON.parse(l))).filter((r) => r.source_kind === 'general');
    for (const g of general) {
      expect(g).toMatchObject({ split: 'train', category: 'general', generator: 'general-mix', repo: null, commit_first_seen: null, commit_last_verified: null, path: null, start_line: null, end_line: null, qualname: null, url: null });
      const i = Number(/number (\d+)\?/.exec(g.question)![1]);
      expect(g.id).toEqual(i % 3 === 0 ? `general-${i}` : expect.stringMatching(/^[0-9a-f]{32}$/));
      expect(g.context).toBe(i % 4 === 0 ? `Liquid ${i}: boiling point ${50 + i} degrees.` : '');
      expect([g.general_source, g.general_license]).toEqual(i % 5 === 0 ? ['physics-faq', 'CC-BY-SA-4.0'] : ['general.jsonl', null]);
    }
    const chatGeneral = lines(chat.out, 'train').map((l) => ExportedChat.parse(JSON.parse(l))).filter((r) => r.metadata.source_kind === 'general');
    expect(chatGeneral.map((c) => c.id)).toEqual(general.map((g) => g.id));
    expect(chatGeneral.map((c) => c.messages.map((m) => m.role))).toEqual(general.map(() => ['system', 'user', 'assistant']));
    expect(chatGeneral.map((c) => c.messages[2]!.content)).toEqual(general.map((g) => g.answer));

    const hf = await loadWithHF([
      { name: 'qa', dir: qa.out, files: qa.files },
      { name: 'chat', dir: chat.out, files: chat.files },
    ]);
    expectLoaded(hf.qa!, qa, 'qa');
    expectLoaded(hf.chat!, chat, 'chat');
    // The repository is MIT, some general rows CC-BY-SA-4.0, the others say nothing.
    const licences = [...new Set(general.map((g) => (g.general_license ? 'cc-by-sa-4.0' : 'unknown')))];
    expect(hf.qa!.card_data.license).toEqual(['mit', ...licences].sort());
  }, 240_000);

  it('is deterministic, and a larger ratio takes a superset, capped at what the file holds', async () => {
    // The same corpus, file and ratio as the QA export of the test above.
    const a = mixedQA;
    const b = await exportMix('b', '0.25');
    for (const f of ['train.jsonl', 'validation.jsonl', 'test.jsonl', 'README.md']) expect(readFileSync(join(b.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(true);
    const all = await exportMix('all', '100');
    expect(all.mix).toMatchObject({ requested: Math.round(100 * plain.bySplit.train), usable: GENERAL, rows: GENERAL, capped: true });
    expect(readFileSync(join(all.out, 'README.md'), 'utf8')).toContain(`- general QA mixed into train: ${GENERAL} rows from general.jsonl, ratio 100 (${all.mix.requested} asked for; the file holds ${GENERAL} usable rows)`);
    const generalIds = (dir: string) => new Set(lines(dir, 'train').filter((l) => kindOf(l) === 'general').map((l) => JSON.parse(l).id as string));
    const some = generalIds(a.out);
    expect(some.size).toBe(a.mix.rows);
    expect([...some].every((id) => generalIds(all.out).has(id))).toBe(true);
    const none = await exportMix('none', '0');
    expect(none.mix).toMatchObject({ requested: 0, rows: 0 });
    expect(readFileSync(join(none.out, 'train.jsonl'), 'utf8')).toBe(readFileSync(join(plain.out, 'train.jsonl'), 'utf8'));
  }, 240_000);

  it('says in one line what is wrong with the mix flags or file', async () => {
    const out = join(tempDir('qaforge-export-'), 'x');
    const cases: [string[], RegExp][] = [
      [['--mix', mixFile], /^qaforge: --mix and --mix-ratio go together/],
      [['--mix', mixFile, '--mix-ratio', '-1'], /--mix-ratio must be a number >= 0/],
      [['--mix', join(out, 'nope.jsonl'), '--mix-ratio', '1'], /^qaforge: cannot read the mix file .*nope\.jsonl: ENOENT$/],
    ];
    for (const [args, re] of cases) {
      const r = await qaforge(['--data-dir', multi.data, 'export', '--out', out, ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim(), args.join(' ')).toMatch(re);
    }
    expect(existsSync(out)).toBe(false);
  });
});
