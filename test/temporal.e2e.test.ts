// Runs through a real Temporal server: the dev server the project installs, started here on
// 127.0.0.1 with a SQLite file. The CLI's --via-temporal runs a worker and the workflow to its end.
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../lib/temporal-server.js';
import { qaforge, qaforgeJson } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

const OPS_PY = `def double(x: int) -> int:
    """Return twice the given integer."""
    return 2 * x
`;

let server: DevServer;
let repo: FixtureRepo;
let data: string;

beforeAll(async () => {
  server = await startDevServer({ dbFile: join(tempDir('qaforge-temporal-'), 'dev.db') });
  repo = await makeRepo({ 'pkg/ops.py': OPS_PY });
  data = tempDir();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const env = () => ({ TEMPORAL_ADDRESS: server.address, QAFORGE_TASK_QUEUE: 'qaforge-test' });
const ingest = () => qaforgeJson(['--data-dir', data, 'ingest', '--repo', repo.dir, '--sources', 'code,commits', '--via-temporal', '--json'], { env: env() });

describe('through Temporal', () => {
  it('runs ingestWorkflow on the server: the sources, then promotion, recorded in the workflow history', async () => {
    const r = await ingest();
    expect(r.address).toBe(server.address);
    expect(r.run.sha).toBe(repo.sha);
    expect(r.run.staged).toBeGreaterThan(0);
    expect(r.promoted).toMatchObject({ promoted: r.run.staged, active: r.run.staged });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const handle = client.workflow.getHandle(r.workflowId);
    const desc = await handle.describe();
    expect(desc.type).toBe('ingestWorkflow');
    expect(desc.status.name).toBe('COMPLETED');
    const history = await handle.fetchHistory();
    const activities = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    expect(activities).toEqual(['runSources', 'stagedCount', 'promote']);
    await connection.close();
  }, 120_000);

  it('picks up a new commit on the next ingest, and promotes what it staged', async () => {
    await repo.commit({ 'pkg/ops.py': OPS_PY.replace('Return twice the given integer.', 'Return the integer multiplied by two.') }, 'Reword the summary of double\n\nThe old summary did not say the result is an integer, which the callers rely on.');
    const r = await ingest();
    expect(r.run.sha).toBe(repo.sha);
    expect(r.run.retired).toBeGreaterThan(0);
    // New pairs plus those produced again at their new lines: everything validated is promoted.
    expect(r.staged).toBeGreaterThanOrEqual(r.run.staged);
    expect(r.promoted.promoted).toBe(r.staged);
    const stats = await qaforgeJson(['--data-dir', data, 'stats', '--json']);
    expect(stats.cursors['commits:acme/shapes']).toBe(repo.sha);
    expect(stats.corpus.retired).toBe(r.run.retired);
  }, 120_000);

  it('says in one line that a worker needs a server', async () => {
    const r = await qaforge(['--data-dir', data, 'worker'], { env: { TEMPORAL_ADDRESS: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('qaforge: no Temporal server: set TEMPORAL_ADDRESS (host:port), or use --via-temporal, which starts the dev server');
  });
});
