// The eval gate through a real Temporal server, real LanceDB and the local embedder: a promotion that
// retires the pairs an eval set's gold evidence points at is rolled back by the workflow itself, the
// batch goes back to staging, and no fine-tune runs for it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stores } from '../datasets/store.js';
import { startDevServer, type DevServer } from '../lib/temporal-server.js';
import { qaforgeJson } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

const GEOMETRY_PY = `"""Plane geometry helpers."""
import math


def circle_area(radius: float) -> float:
    """Return the area enclosed by a circle of the given radius."""
    return math.pi * radius * radius


def hypotenuse(a: float, b: float) -> float:
    """Return the length of the hypotenuse of a right triangle with legs a and b."""
    return math.sqrt(a * a + b * b)


def polygon_perimeter(sides: list[float]) -> float:
    """Return the perimeter of a polygon as the sum of its side lengths."""
    return sum(sides)
`;

const TEXT_PY = `def shout(message: str) -> str:
    """Return the message in upper case followed by an exclamation mark."""
    return message.upper() + "!"
`;

const UNITS_PY = `def inches_to_cm(inches: float) -> float:
    """Convert a length in inches to centimetres."""
    return inches * 2.54
`;

let server: DevServer;
let repo: FixtureRepo;
let data: string;
let configPath: string;
let marker: string;
let firstSha: string;

const versions = () => qaforgeJson(['--data-dir', data, 'versions', '--json']);
const activeIds = async () => {
  const stores = await Stores.open(data);
  try {
    const ids: string[] = [];
    for await (const rows of stores.scan('corpus', ['id'], "status = 'active'")) ids.push(...rows.map((r) => r.id as string));
    return ids.sort();
  } finally {
    stores.close();
  }
};

beforeAll(async () => {
  server = await startDevServer({ dbFile: join(tempDir('qaforge-temporal-'), 'dev.db') });
  repo = await makeRepo({ 'pkg/geometry.py': GEOMETRY_PY, 'pkg/text.py': TEXT_PY });
  firstSha = repo.sha;
  data = tempDir();
  const dir = tempDir('qaforge-gate-');
  const gold = (name: string) => {
    const lines = GEOMETRY_PY.split('\n');
    const start = lines.findIndex((l) => l.startsWith(`def ${name}(`)) + 1;
    return { path: 'pkg/geometry.py', start_line: start, end_line: start + 2 };
  };
  const items = [
    ['gate-1', 'How do I get the area enclosed by a circle from its radius?', 'circle_area(radius)', 'circle_area'],
    ['gate-2', 'Which helper gives the hypotenuse of a right triangle?', 'hypotenuse(a, b)', 'hypotenuse'],
    ['gate-3', 'How is the perimeter of a polygon computed from its side lengths?', 'polygon_perimeter sums the sides', 'polygon_perimeter'],
  ].map(([id, question, answer, fn]) => ({ id, repo: 'acme/shapes', question, answer, kind: 'code', gold: [gold(fn!)], difficulty: 'easy', commit: repo.sha }));
  const set = join(dir, 'shapes.jsonl');
  writeFileSync(set, items.map((x) => JSON.stringify(x)).join('\n') + '\n');
  marker = join(dir, 'finetunes.txt');
  configPath = join(dir, 'qaforge.config.json');
  writeFileSync(configPath, JSON.stringify({ gates: { evalSet: set }, fineTune: { command: `echo "$QAFORGE_MANIFEST" >> '${marker}'` } }));
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const env = () => ({ TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: 'qaforge-gate-test' });
const run = (command: 'backfill' | 'ingest') =>
  qaforgeJson(['--data-dir', data, '--config', configPath, command, '--repo', repo.dir, '--sources', 'code', '--via-temporal', '--json'], { env: env() });

describe('the eval gate', () => {
  it('scores the first promotion as the baseline and lets the fine-tune run', async () => {
    const r = await run('backfill');
    expect(r.promoted.version).toBeGreaterThan(0);
    expect(r.evalGate).toMatchObject({ passed: true, skipped: null, version: r.promoted.version, set: 'shapes', before: null, rollback: null });
    expect(r.evalGate.after).toMatchObject({ set_id: 'shapes', mode: 'hybrid', questions: 3, k: 10 });
    // Whatever the embedder's exact vectors, full-text search alone finds these named helpers.
    expect(r.evalGate.after.recall_at_10).toBeGreaterThanOrEqual(2 / 3);
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(1);
    const v = await versions();
    expect(v.at(-1)).toMatchObject({ version: r.promoted.version, kind: 'promotion' });
    expect(v.at(-1).evalSummary).toMatchObject({ set_id: 'shapes', gate: 'passed', baseline: null, recall_at_10: r.evalGate.after.recall_at_10 });
  });

  it('rolls back a promotion that retires the gold pairs: the corpus is the accepted one again, the batch is staged, no fine-tune', async () => {
    const before = await versions();
    const accepted = before.at(-1);
    const acceptedIds = await activeIds();
    await repo.commit({ 'pkg/units.py': UNITS_PY }, 'Move the geometry helpers out of this package and add unit conversions', { remove: ['pkg/geometry.py'] });
    const r = await run('ingest');
    expect(r.run.retired).toBeGreaterThan(0);
    const promotedVersion = r.promoted.version;
    expect(promotedVersion).toBeGreaterThan(accepted.version);
    expect(r.evalGate.passed).toBe(false);
    expect(r.evalGate.after.recall_at_10).toBe(0);
    expect(r.evalGate.before).toMatchObject({ version: accepted.version, recall_at_10: accepted.evalSummary.recall_at_10 });
    expect(r.evalGate.reason).toBe(
      `eval gate: hybrid recall@10 on shapes fell from ${accepted.evalSummary.recall_at_10.toFixed(3)} (version ${accepted.version}) to 0.000 (version ${promotedVersion}), more than maxEvalDrop 0.02`,
    );
    expect(r.evalGate.rollback).toMatchObject({ restoredFrom: accepted.version });
    expect(r.evalGate.rollback.version).toBeGreaterThan(promotedVersion);
    // Nothing downstream ran for the rolled-back version.
    expect(r.snapshot).toBeNull();
    expect(r.fineTune).toBeNull();
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(data, 'snapshots', `v${promotedVersion}`))).toBe(false);
    // The corpus holds exactly the accepted version's active pairs again.
    expect(await activeIds()).toEqual(acceptedIds);
    // The rejected promotion is kept, with its figures, and the rollback says why.
    const after = await versions();
    const rejected = after.find((x: { version: number }) => x.version === promotedVersion);
    expect(rejected.evalSummary).toMatchObject({ gate: 'failed', recall_at_10: 0, baseline: { version: accepted.version } });
    expect(after.at(-1)).toMatchObject({ version: r.evalGate.rollback.version, kind: 'rollback', rolledBackTo: accepted.version, reason: r.evalGate.reason, detail: { cursors: 1 } });
    // The new file's pairs went back to staging, validated, for a later promotion.
    const stores = await Stores.open(data);
    try {
      expect(await stores.count('staging', "status = 'validated' AND path = 'pkg/units.py'")).toBeGreaterThan(0);
      expect(await stores.count('corpus', "status = 'active' AND path = 'pkg/units.py'")).toBe(0);
      expect(await stores.count('corpus', "status = 'active' AND path = 'pkg/geometry.py'")).toBeGreaterThan(0);
      // The code cursor is where the accepted version left it: the next ingest derives the change again.
      expect(await stores.getState('cursor:code:acme/shapes')).toBe(firstSha);
    } finally {
      stores.close();
    }
  });
});
