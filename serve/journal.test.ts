import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Stores } from '../datasets/store.js';
import { createLogger } from '../lib/log.js';
import { tempDir } from '../test/fixtures.js';
import type { FeedbackRow } from './app.js';
import { Journal, readSegment } from './journal.js';

const log = createLogger('silent');

const row = (id: string, over: Partial<FeedbackRow> = {}): FeedbackRow => ({
  feedback_id: id,
  query_id: `q-${id}`,
  key_name: 'alice',
  at: '2026-12-02T10:00:00.000Z',
  rating: 'down',
  reason: 'wrong',
  comment: null,
  correction: null,
  synthetic: false,
  ...over,
});
const line = (r: FeedbackRow) => `${JSON.stringify(r)}\n`;

let opened: Stores[] = [];
afterEach(() => {
  for (const s of opened) s.close();
  opened = [];
});

async function setup() {
  const data = tempDir();
  const stores = await Stores.open(data);
  opened.push(stores);
  const dir = join(data, 'serve', 'journal');
  const journal = () => new Journal<FeedbackRow>(dir, 'feedback', 'feedback_id', stores, log, { flushMs: 60_000 });
  const table = async () => {
    const rows: Record<string, unknown>[] = [];
    for await (const b of stores.scan('feedback', ['feedback_id', 'query_id', 'comment'])) rows.push(...b);
    return rows.sort((a, b) => String(a.feedback_id).localeCompare(String(b.feedback_id)));
  };
  return { dir, journal, table };
}

describe('Journal', () => {
  it('replays what a killed process left, skipping a torn last line with a count and losing nothing else', async () => {
    const { dir, journal, table } = await setup();
    // What a killed server leaves: an older, whole segment, and the one it was writing when it died.
    const j0 = journal();
    await j0.open();
    await j0.close();
    writeFileSync(join(dir, 'feedback-1000-000000-41.jsonl'), line(row('a')) + line(row('b')));
    const half = line(row('d'));
    writeFileSync(join(dir, 'feedback-1001-000001-41.jsonl'), line(row('c')) + half.slice(0, Math.floor(half.length / 2)));
    // The other table's segments are not this journal's.
    writeFileSync(join(dir, 'queries-1000-000000-41.jsonl'), '{"query_id":"x"}\n');
    expect(readSegment(join(dir, 'feedback-1001-000001-41.jsonl'), 'feedback_id')).toMatchObject({ rows: [{ feedback_id: 'c' }], torn: 1 });

    const j = journal();
    expect(await j.open()).toEqual({ replayed: 3 });
    expect(j.stats).toMatchObject({ tornLines: 1, flushedRows: 3, flushes: 2, pendingRows: 0 });
    expect((await table()).map((r) => r.feedback_id)).toEqual(['a', 'b', 'c']);
    await j.close();
    expect(readdirSync(dir)).toEqual(['queries-1000-000000-41.jsonl']);
  });

  it('moves a segment replayed twice (killed between the merge and the unlink) and a key journaled twice in once, the first row standing', async () => {
    const { dir, journal, table } = await setup();
    const segment = line(row('a', { comment: 'first' })) + line(row('b')) + line(row('a', { comment: 'second' }));
    const j1 = journal();
    await j1.open();
    await j1.close();
    writeFileSync(join(dir, 'feedback-1000-000000-41.jsonl'), segment);
    const j2 = journal();
    expect(await j2.open()).toEqual({ replayed: 2 });
    await j2.close();
    // The same segment again, as if its unlink never happened.
    writeFileSync(join(dir, 'feedback-1000-000000-41.jsonl'), segment);
    const j3 = journal();
    expect(await j3.open()).toEqual({ replayed: 2 });
    await j3.close();
    expect(await table()).toEqual([
      { feedback_id: 'a', query_id: 'q-a', comment: 'first' },
      { feedback_id: 'b', query_id: 'q-b', comment: null },
    ]);
  });

  it('close takes the rows appended while a flush was already running', async () => {
    const { dir, journal, table } = await setup();
    const j = journal();
    await j.open();
    await j.append(row('a1'));
    // The timer's flush rotates first; the next row lands in the segment it opened, after its listing.
    const running = j.flush();
    await j.append(row('a2'));
    await j.close();
    await running;
    expect((await table()).map((r) => r.feedback_id)).toEqual(['a1', 'a2']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('appends durably before resolving, shows pending rows, and flushes them on close', async () => {
    const { dir, journal, table } = await setup();
    const j = journal();
    await j.open();
    const ids = Array.from({ length: 50 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => j.append(row(id))));
    // On disk, whole lines, before any flush.
    const [segment] = readdirSync(dir);
    expect(readSegment(join(dir, segment!), 'feedback_id')).toMatchObject({ torn: 0 });
    expect(readSegment(join(dir, segment!), 'feedback_id').rows.map((r) => r.feedback_id)).toEqual(ids);
    expect(j.get('r07')).toMatchObject({ feedback_id: 'r07' });
    expect(j.stats.fsyncs).toBeLessThanOrEqual(50);
    await j.close();
    expect(j.get('r07')).toBeUndefined();
    expect((await table()).map((r) => r.feedback_id)).toEqual(ids);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('cuts a failed write back, so the half line cannot swallow the next acknowledged row', async () => {
    const { dir, journal, table } = await setup();
    const j = journal();
    await j.open();
    await j.append(row('a'));
    const fh = (j as unknown as { fh: { write: (b: Buffer, at?: number) => Promise<{ bytesWritten: number }> } }).fh;
    const write = fh.write.bind(fh);
    let failNext = true;
    fh.write = async (b, at = 0) => {
      if (!failNext) return write(b, at);
      failNext = false;
      // Half the line reaches the file, then the disk is full.
      await write(b.subarray(at, at + Math.floor((b.length - at) / 2)));
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    };
    await expect(j.append(row('b'))).rejects.toThrow(/no space left/);
    // Not logged, so not shown as pending either.
    expect(j.get('b')).toBeUndefined();
    await j.append(row('c'));
    const [segment] = readdirSync(dir);
    expect(readFileSync(join(dir, segment!), 'utf8')).toBe(line(row('a')) + line(row('c')));
    await j.close();
    expect(j.stats.tornLines).toBe(0);
    // b was refused (never acknowledged); a and c were.
    expect((await table()).map((r) => r.feedback_id)).toEqual(['a', 'c']);
  });
});
