// The query service end to end over real HTTP on 127.0.0.1: a corpus built by the real CLI (backfill,
// promote) from a repository made here and embedded by the local MiniLM; keys from `qaforge keys
// create`; `qaforge serve --port 0` as a child process for most tests, and a second server started
// in-process (startQueryService) on a copy of the data dir with a small rate limit and a short request
// deadline. Generative answers
// come from a scripted OpenAI-shaped model server, so their wording may be asserted; the real local
// embedder's scores are only compared with margins.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnsOf, Stores } from '../datasets/store.js';
import { squash } from '../lib/text.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { ABSTAIN_ANSWER } from '../serve/answer.js';
import { startQueryService, type QueryService } from '../serve/app.js';
import { createKey } from '../serve/keys.js';
import { BIN, qaforge, qaforgeJson } from './cli.js';
import { type FixtureRepo, makeRepo, SHAPES_PY, tempDir, until } from './fixtures.js';
import { startModelServer, type ChatCall, type ModelServer } from './openai/server.js';

const THRESHOLD = 0.3;
const GENERATOR = 'scripted-generator';
const CITATION_FIELDS = ['pair_id', 'source_kind', 'repo', 'sha', 'path', 'start_line', 'end_line', 'url', 'quote', 'score', 'verified'];

const Q_FETCH = 'What does fetch_shape return?';
const Q_SCALE = 'How do I scale a number by the global factor of two?';
const Q_OUT = 'What is the boiling point of ethanol at sea level?';
// Generative questions, each scripted below (distinct: the generator's replies are cached by prompt).
const NEEDLE = 'Fetch a shape by name from the registry.';
const G_VERBATIM = 'How do I fetch a shape by the name it was registered under?';
const G_INVENTED = 'Does fetch_shape cache the shapes it fetches from the registry?';
const G_MIXED = 'What does fetch_shape do with the registered name of a shape?';
const G_DECLINED = 'Which registry backend does fetch_shape talk to?';
const G_SLOW = 'What parameters does the async function fetch_shape take?';
const G_CHAT = 'Which async function fetches a registered shape by its name?';
const VERBATIM_ANSWER = 'fetch_shape(name) fetches the shape registered under that name from the registry.';
const INVENTED_QUOTE = 'Shapes are cached in Redis for ten minutes.';

// Fake secrets (made here, never real) the scrubber must keep out of every file and log.
const FAKE_QF = `qf_${randomBytes(32).toString('base64url')}`;
const BEARER_TOKEN = 'abc.def.ghi';
const FAKE_GHP = `ghp_${randomBytes(27).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 36)}`;
const EMAIL = 'dana.whistler@corp-mail.example';
const IPV4 = '198.51.100.23';
const IPV6 = '2001:db8:85a3::8a2e:370:7334';
const IPV6_LINK = 'fe80::1ff:fe23:4567:890a';
const SECRET_TEXT = `my key ${FAKE_QF}, header Bearer ${BEARER_TOKEN}, token ${FAKE_GHP}, mail ${EMAIL}, hosts ${IPV4} and ${IPV6} and ${IPV6_LINK}`;
const SCRUBBED_TEXT = 'my key [REDACTED:api_key], header [REDACTED:bearer], token [REDACTED:github_token], mail [REDACTED:private_email], hosts [REDACTED:ip] and [REDACTED:ip] and [REDACTED:ip]';
const G_ECHO = `What does fetch_shape return? (${SECRET_TEXT})`;

let repo: FixtureRepo;
let models: ModelServer;
let data: string;
let config: string;
let promoted: { active: number; version: number };
const keys: Record<'alice' | 'root' | 'leaver', string> = { alice: '', root: '', leaver: '' };
let a: Served;
let copyDir: string;
let copyConfig: string;
let carol: string;
const B_TIMEOUT_MS = 2500;

const env = { HF_TOKEN: '', QAFORGE_ENDPOINT_URL: '', QAFORGE_LLM_SAMPLE: '0' };
const cli = (...args: string[]) => qaforge(['--config', config, '--data-dir', data, ...args], { env });
const cliJson = (...args: string[]) => qaforgeJson(['--config', config, '--data-dir', data, ...args], { env });

interface Served {
  proc: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `qaforge serve --port 0`, resolved once it logs the URL it listens on. */
async function serveCli(): Promise<Served> {
  const proc = spawn(process.execPath, [BIN, '--config', config, '--data-dir', data, 'serve', '--port', '0'], {
    env: { ...process.env, ...env, QAFORGE_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c) => (stdout += c));
  proc.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((ok) => proc.on('exit', (code) => ok(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`qaforge serve did not listen within 60 s: ${stderr}`)), 60_000);
    const look = () => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stderr!.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`qaforge serve exited ${code}: ${stderr}`));
    });
  });
  return { proc, url, stdout: () => stdout, stderr: () => stderr, exited };
}

interface Res {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

async function http(base: string, path: string, o: { method?: string; key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(o.key ? { authorization: `Bearer ${o.key}` } : {}), ...o.headers };
  let body: string | undefined;
  if (o.raw !== undefined) body = o.raw;
  else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await fetch(`${base}${path}`, { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal: AbortSignal.timeout(20_000) });
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // /metrics is text.
  }
  // A 5xx says no more than "internal error (logged)": what the server logged goes with it into the assertion message.
  const logged = r.status >= 500 && a?.url === base ? `\n[server log] ${a.stderr().split('\n').filter((l) => l.includes('"level":50')).join('\n')}` : '';
  return { status: r.status, headers: r.headers, json, text: text + logged };
}
const api = (path: string, o: Parameters<typeof http>[2] = {}) => http(a.url, path, { key: keys.alice, ...o });
const ask = (question: string, more: Record<string, unknown> = {}, key = keys.alice) => http(a.url, '/v1/query', { key, body: { question, ...more } });

function expectError(r: Res, status: number, code: string, message?: RegExp | string) {
  expect(r.status, r.text).toBe(status);
  expect(Object.keys(r.json)).toEqual(['error']);
  expect(Object.keys(r.json.error).sort()).toEqual(['code', 'message']);
  expect(r.json.error.code).toBe(code);
  expect(typeof r.json.error.message).toBe('string');
  expect(r.json.error.message.length).toBeGreaterThan(0);
  if (message instanceof RegExp) expect(r.json.error.message).toMatch(message);
  else if (message !== undefined) expect(r.json.error.message).toBe(message);
}

const FILE_LINES = SHAPES_PY.split('\n');

/** Every field of a citation of this corpus; a verified one's quote is in its pair's stored text and in the file at its lines. */
async function expectCitation(c: any, verified: boolean) {
  expect(Object.keys(c).sort()).toEqual([...CITATION_FIELDS].sort());
  expect(c.pair_id).toMatch(/^[0-9a-f]{32}$/);
  expect(c.source_kind).toBe('code_symbol');
  expect(c.repo).toBe('acme/shapes');
  expect(c.sha).toBe(repo.sha);
  expect(c.path).toBe('shapes/core.py');
  expect(Number.isInteger(c.start_line) && Number.isInteger(c.end_line)).toBe(true);
  expect(c.start_line).toBeGreaterThanOrEqual(1);
  expect(c.end_line).toBeGreaterThanOrEqual(c.start_line);
  expect(c.end_line).toBeLessThanOrEqual(FILE_LINES.length);
  const lines = c.end_line === c.start_line ? `#L${c.start_line}` : `#L${c.start_line}-L${c.end_line}`;
  expect(c.url).toBe(`https://github.com/acme/shapes/blob/${repo.sha}/shapes/core.py${lines}`);
  expect(typeof c.quote).toBe('string');
  expect(Number.isFinite(c.score)).toBe(true);
  expect(c.verified).toBe(verified);
  const pair = await api(`/v1/pairs/${c.pair_id}`);
  expect(pair.status).toBe(200);
  expect(pair.json.pair.id).toBe(c.pair_id);
  const inPair = squash(pair.json.pair.context).includes(squash(c.quote));
  const inFile = squash(FILE_LINES.slice(c.start_line - 1, c.end_line).join('\n')).includes(squash(c.quote));
  if (verified) {
    expect(squash(c.quote).length).toBeGreaterThanOrEqual(3);
    expect(inPair, `${c.quote} in ${pair.json.pair.context}`).toBe(true);
    expect(inFile).toBe(true);
  } else expect(inPair).toBe(false);
  return pair.json.pair;
}

/** A fresh read of a table (the server writes it from another process). */
async function rows(table: 'queries' | 'feedback', where?: string, dir = data): Promise<Record<string, unknown>[]> {
  const stores = await Stores.open(dir);
  try {
    const out: Record<string, unknown>[] = [];
    for await (const batch of stores.scan(table, columnsOf(table), where)) out.push(...batch);
    return out;
  } finally {
    stores.close();
  }
}


/** The numbered sources of the grounded prompt: [n] header, then the context. */
function promptParts(c: ChatCall): { question: string; sources: Map<number, string> } {
  const user = c.messages.find((m) => m.role === 'user')!.content;
  const question = /Question:\n<<<\n([\s\S]*?)\n>>>/.exec(user)![1]!;
  const sources = new Map<number, string>();
  for (const block of user.slice(user.indexOf('Sources:\n') + 'Sources:\n'.length).split(/\n\n(?=\[\d+\] )/)) {
    const m = /^\[(\d+)\] [^\n]*\n([\s\S]*)$/.exec(block);
    if (m) sources.set(Number(m[1]), m[2]!);
  }
  return { question, sources };
}

function scriptedGenerator(c: ChatCall): string {
  const { question, sources } = promptParts(c);
  const withNeedle = [...sources].find(([, t]) => t.includes(NEEDLE))?.[0];
  const need = () => {
    if (withNeedle === undefined) throw new Error(`no source holds ${NEEDLE}`);
    return withNeedle;
  };
  const firstLine = (n: number) => sources.get(n)!.split('\n').find((l) => l.trim().length > 3)!.trim();
  const reply = (answer: string, citations: { source: number; quote: string }[]) => JSON.stringify({ answer, citations });
  switch (question) {
    case G_VERBATIM:
    case G_CHAT:
      return reply(VERBATIM_ANSWER, [{ source: need(), quote: NEEDLE }]);
    case G_INVENTED:
      return reply('It caches every shape in Redis.', [{ source: need(), quote: INVENTED_QUOTE }]);
    case G_MIXED:
      return reply(VERBATIM_ANSWER, [
        { source: need(), quote: `  ${NEEDLE.replace(/ /g, '\n    ')}  ` },
        { source: need(), quote: INVENTED_QUOTE },
      ]);
    case G_DECLINED:
      return reply('NOT_IN_CORPUS', []);
    default:
      // A model that repeats the question it was given (as chatty models do), quoting source 1 verbatim.
      return reply(`You asked: ${question}`, [{ source: 1, quote: firstLine(1) }]);
  }
}

beforeAll(async () => {
  [repo, models] = await Promise.all([makeRepo({ 'shapes/core.py': SHAPES_PY }), startModelServer({ chat: scriptedGenerator, maxRequests: 60 })]);
  data = tempDir();
  const cfgDir = tempDir('qaforge-config-');
  config = join(cfgDir, 'qaforge.config.json');
  const serve = { abstainThreshold: THRESHOLD, flushMs: 200, refreshMs: 250, bodyLimitBytes: 16 * 1024, requestTimeoutMs: 20_000, rateLimit: { max: 500, windowMs: 60_000 } };
  // The generator on the scripted server (serve needs no judge); the embedder stays the local MiniLM.
  const modelsCfg = { generator: { endpointUrl: models.url, model: GENERATOR }, retries: 0, retryBaseMs: 5, timeoutMs: 10_000, llmSample: 0 };
  writeFileSync(config, JSON.stringify({ serve, models: modelsCfg }));
  await cliJson('backfill', '--repo', repo.dir, '--sources', 'code', '--json');
  promoted = await cliJson('promote');
  expect(promoted.active).toBeGreaterThan(10);
  for (const [name, role] of [['alice', 'query'], ['root', 'admin'], ['leaver', 'query']] as const) {
    const r = await cli('keys', 'create', '--name', name, '--role', role);
    expect(r.code, r.stderr).toBe(0);
    const m = /^(qf_[A-Za-z0-9_-]{43})\n\(key (\S+), role (\S+): shown once; only its hash is stored\)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect([m![2], m![3]]).toEqual([name, role]);
    keys[name] = m![1]!;
  }
  // The second server's data: the same corpus and keys, its own journal and query log.
  copyDir = tempDir('qaforge-data-copy-');
  cpSync(data, copyDir, { recursive: true });
  copyConfig = join(cfgDir, 'rate-limited.config.json');
  writeFileSync(copyConfig, JSON.stringify({ dataDir: copyDir, serve: { ...serve, port: 0, requestTimeoutMs: B_TIMEOUT_MS, rateLimit: { max: 3, windowMs: 60_000 } }, models: modelsCfg }));
  // A key of the copy only, made as the CLI makes them.
  const stores = await Stores.open(copyDir);
  try {
    carol = (await createKey(stores, 'carol', 'query')).key;
  } finally {
    stores.close();
  }
  a = await serveCli();
}, 120_000);

afterAll(async () => {
  if (a && a.proc.exitCode === null) {
    a.proc.kill('SIGTERM');
    await a.exited;
  }
  await models?.close();
  for (const dir of [data, copyDir, config && dirname(config), repo?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('qaforge serve (the CLI process)', () => {
  it('healthz, readyz with the corpus active count and version, and 404 on an unknown route', async () => {
    const h = await http(a.url, '/healthz');
    expect([h.status, h.json]).toEqual([200, { ok: true }]);
    const stores = await Stores.open(data);
    const active = await stores.count('corpus', "status = 'active'");
    const version = await (await stores.table('corpus')).version();
    stores.close();
    expect(active).toBe(promoted.active);
    const r = await http(a.url, '/readyz');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ready: true, corpus_version: version, active_pairs: active, embedder: 'all-MiniLM-L6-v2 (int8 ONNX)', abstain_threshold: THRESHOLD });
    expectError(await http(a.url, '/v1/nope'), 404, 'not_found', 'no route GET /v1/nope');
    expectError(await http(a.url, '/nope', { key: keys.alice, method: 'DELETE' }), 404, 'not_found', 'no route DELETE /nope');
  });

  it('POST /v1/query answers extractively with a verified citation of the pair it answers from, and logs it', async () => {
    const r = await ask(Q_FETCH);
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.json).sort()).toEqual(['abstained', 'answer', 'citations', 'corpus_version', 'latency_ms', 'model', 'query_id']);
    expect(r.json.query_id).toMatch(/^q_[0-9a-z]+$/);
    expect(r.headers.get('x-qaforge-query-id')).toBe(r.json.query_id);
    expect(r.json).toMatchObject({ abstained: false, model: 'extractive', corpus_version: promoted.version });
    expect(Object.keys(r.json.latency_ms).sort()).toEqual(['generate', 'retrieve', 'total']);
    expect(r.json.latency_ms.generate).toBe(0);
    expect(r.json.citations).toHaveLength(1);
    const pair = await expectCitation(r.json.citations[0], true);
    // The answer is the cited pair's own (validated at staging), about what was asked.
    expect(r.json.answer).toBe(pair.answer);
    expect(pair.provenance.qualname).toBe('fetch_shape');

    // /v1/pairs/:id: that pair, active.
    const p = await api(`/v1/pairs/${pair.id}`);
    expect(p.json).toMatchObject({ status: 'active', retired_reason: null, pair: { id: pair.id, answer: r.json.answer, sourceKind: 'code_symbol' } });
    expectError(await api('/v1/pairs/not-a-pair'), 400, 'invalid_field', 'id: a pair id is 32 hex characters');
    expectError(await api(`/v1/pairs/${'0'.repeat(32)}`), 404, 'unknown_pair');

    // /v1/queries/:id (admin): the row, from the journal or the table (flushMs is short), then from the table.
    const row = await http(a.url, `/v1/queries/${r.json.query_id}`, { key: keys.root });
    expect(row.status, row.text).toBe(200);
    expect(row.json).toMatchObject({ query_id: r.json.query_id, key_name: 'alice', route: 'query', question: Q_FETCH, answer: r.json.answer, abstained: false, mode: 'hybrid', answer_mode: 'extractive', k: 5, status: 200, synthetic: false, error: null, model: 'extractive', corpus_version: promoted.version });
    expect(JSON.parse(row.json.citations)).toEqual(r.json.citations);
    expect(row.json.top_score).toBeGreaterThan(THRESHOLD + 0.1);
    await until('the query row in the queries table', async () => (await rows('queries', `query_id = '${r.json.query_id}'`)).length === 1);
    const flushed = await http(a.url, `/v1/queries/${r.json.query_id}`, { key: keys.root });
    expect(flushed.status, flushed.text).toBe(200);
    expect(flushed.json).toEqual(row.json);
  });

  it('GET /v1/search returns k results with citation fields, logged as a search', async () => {
    const r = await api(`/v1/search?q=${encodeURIComponent(Q_SCALE)}&k=3&mode=hybrid`);
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.json).sort()).toEqual(['abstained', 'corpus_version', 'latency_ms', 'query_id', 'results']);
    expect(r.json).toMatchObject({ abstained: false, corpus_version: promoted.version });
    expect(r.json.results).toHaveLength(3);
    expect(new Set(r.json.results.map((c: any) => c.pair_id)).size).toBe(3);
    // Every result's quote is the pair's evidence (or its first line): verbatim.
    for (const c of r.json.results) await expectCitation(c, true);
    const row = await http(a.url, `/v1/queries/${r.json.query_id}`, { key: keys.root });
    expect(row.json).toMatchObject({ route: 'search', question: Q_SCALE, answer: null, answer_mode: 'none', k: 3 });
    const fts = await api(`/v1/search?q=fetch_shape&k=2&mode=fts`);
    expect(fts.status).toBe(200);
    expect(fts.json.results.length).toBeGreaterThan(0);
    expect(fts.json.results.length).toBeLessThanOrEqual(2);
  });

  it('refuses with {error: {message, code}}: 401, 403, 413, 415, 400 naming the field, 404 unknown_query', async () => {
    const missing = await http(a.url, '/v1/query', { key: null, body: { question: Q_FETCH } });
    expectError(missing, 401, 'unauthorized', /^missing API key/);
    expectError(await http(a.url, '/v1/search?q=x', { key: FAKE_QF }), 401, 'unauthorized', 'unknown or revoked API key');
    expectError(await http(a.url, '/v1/search?q=x', { headers: { authorization: `Basic ${keys.alice}` } }), 401, 'unauthorized');
    const forbidden = await http(a.url, '/v1/queries/q_whatever', { key: keys.alice });
    expectError(forbidden, 403, 'forbidden', 'this route needs an admin key; key alice has role query');
    expectError(await http(a.url, '/v1/queries/q_none', { key: keys.root }), 404, 'unknown_query', 'no query q_none in the query log');

    expectError(await ask('x'.repeat(20_000)), 413, 'body_too_large');
    expectError(await ask(Q_FETCH, { k: 0 }), 400, 'invalid_field', /^k: /);
    expectError(await ask(Q_FETCH, { k: 'five' }), 400, 'invalid_field', /^k: /);
    expectError(await ask(Q_FETCH, { foo: 1 }), 400, 'invalid_field', /^foo: .*foo/);
    expectError(await ask(Q_FETCH, { mode: 'psychic' }), 400, 'invalid_field', /^mode: /);
    expectError(await ask(Q_FETCH, { filters: { source_kind: 'tweet' } }), 400, 'invalid_field', /^filters\.source_kind: /);
    expectError(await ask('hi'), 400, 'invalid_field', /^question: /);
    expectError(await api('/v1/query', { body: {} }), 400, 'invalid_field', /^question: /);
    expectError(await api('/v1/query', { raw: '{"question": ', headers: { 'content-type': 'application/json' } }), 400, 'invalid_body');
    expectError(await api('/v1/query', { raw: 'question=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type');
    expectError(await api('/v1/search?q=scale&k=99'), 400, 'invalid_field', /^k: /);
    expectError(await api('/v1/search?q=scale&bar=1'), 400, 'invalid_field', /^bar: /);
    expectError(await api('/v1/search'), 400, 'invalid_field', /^q: /);
    expectError(await api('/v1/chat/completions', { body: { model: 'qaforge', messages: [] } }), 400, 'invalid_field', /^messages: /);
    expectError(await api('/v1/chat/completions', { body: { messages: [{ role: 'system', content: 'be brief' }] } }), 400, 'invalid_field', 'messages: no user message with text');
    expectError(await api('/v1/feedback', { body: { query_id: 'q_unknown', rating: 'up' } }), 404, 'unknown_query', 'no query q_unknown in the query log');
    expectError(await api('/v1/feedback', { body: { query_id: 'q_unknown', rating: 'meh' } }), 400, 'invalid_field', /^rating: /);
  });

  it('a revoked key is refused within serve.refreshMs', async () => {
    expect((await http(a.url, '/v1/search?q=scale&k=1', { key: keys.leaver })).status).toBe(200);
    const r = await cli('keys', 'revoke', 'leaver');
    expect([r.code, r.stdout.trim()]).toEqual([0, 'revoked leaver']);
    const t0 = Date.now();
    const refused = await until('a 401 for the revoked key', async () => {
      const x = await http(a.url, '/v1/search?q=scale&k=1', { key: keys.leaver });
      return x.status === 401 ? x : null;
    });
    expectError(refused, 401, 'unauthorized', 'unknown or revoked API key');
    // refreshMs is 250: a few refreshes at most (a loaded machine is slower, never this slow).
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await http(a.url, '/v1/search?q=scale&k=1', { key: keys.alice })).status).toBe(200);
    const listed = (await cliJson('keys', 'list', '--json')) as any[];
    expect(listed.map((k) => [k.name, k.role, k.revoked_at !== null])).toEqual([
      ['alice', 'query', false],
      ['root', 'admin', false],
      ['leaver', 'query', true],
    ]);
    for (const k of listed) {
      expect(Object.keys(k).sort()).toEqual(['created_at', 'name', 'prefix', 'revoked_at', 'role']);
      expect(keys[k.name as keyof typeof keys].startsWith(k.prefix)).toBe(true);
    }
  });

  it('POST /v1/feedback: 201 with an id, the same (query, key) again is the same id as a duplicate', async () => {
    const q = await ask(Q_SCALE);
    expect(q.status).toBe(200);
    const body = { query_id: q.json.query_id, rating: 'down', reason: 'unhelpful', comment: 'too terse' };
    const first = await api('/v1/feedback', { body });
    expect(first.status, first.text).toBe(201);
    expect(first.json).toEqual({ feedback_id: expect.stringMatching(/^f_[0-9a-f]{24}$/), duplicate: false });
    const again = await api('/v1/feedback', { body: { ...body, rating: 'up' } });
    expect([again.status, again.json]).toEqual([201, { feedback_id: first.json.feedback_id, duplicate: true }]);
    // Another key's feedback on the same answer is its own.
    const other = await http(a.url, '/v1/feedback', { key: keys.root, body: { query_id: q.json.query_id, rating: 'up' } });
    expect(other.status).toBe(201);
    expect(other.json.duplicate).toBe(false);
    expect(other.json.feedback_id).not.toBe(first.json.feedback_id);
    const stored = await until('both feedback rows in the feedback table', async () => {
      const r = await rows('feedback', `query_id = '${q.json.query_id}'`);
      return r.length === 2 ? r : null;
    });
    expect(stored.find((f) => f.key_name === 'alice')).toMatchObject({ feedback_id: first.json.feedback_id, rating: 'down', reason: 'unhelpful', comment: 'too terse', correction: null, synthetic: false });
    // Once flushed, a repeat is still found (in the table now).
    const late = await api('/v1/feedback', { body });
    expect(late.json).toEqual({ feedback_id: first.json.feedback_id, duplicate: true });

    // Sent four times at once: one is first, the others its duplicates, and one row is kept.
    const q2 = await ask(Q_FETCH);
    const twice = await Promise.all([0, 1, 2, 3].map(() => api('/v1/feedback', { body: { query_id: q2.json.query_id, rating: 'up' } })));
    expect(twice.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(twice.map((r) => r.json.feedback_id)).size).toBe(1);
    expect(twice.map((r) => r.json.duplicate).sort()).toEqual([false, true, true, true]);
    await until('the feedback row of the concurrent pair', async () => (await rows('feedback', `query_id = '${q2.json.query_id}'`)).length > 0);
    await new Promise((ok) => setTimeout(ok, 1000));
    expect(await rows('feedback', `query_id = '${q2.json.query_id}'`)).toHaveLength(1);
  });

  it('abstains on an out-of-corpus question, and logs it', async () => {
    const r = await ask(Q_OUT);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ abstained: true, answer: ABSTAIN_ANSWER, citations: [], model: 'extractive' });
    const row = await http(a.url, `/v1/queries/${r.json.query_id}`, { key: keys.root });
    expect(row.json).toMatchObject({ question: Q_OUT, abstained: true, answer: ABSTAIN_ANSWER, error: 'abstained: low_score', status: 200 });
    // MiniLM puts this question far from every pair of a geometry module: a margin, not a score.
    expect(row.json.top_score).toBeLessThan(THRESHOLD - 0.05);
    // Generative too, without asking the model.
    const calls = models.calls.length;
    const g = await ask(Q_OUT, { answer: 'generative' });
    expect(g.json).toMatchObject({ abstained: true, answer: ABSTAIN_ANSWER, citations: [], model: GENERATOR });
    expect(models.calls.length).toBe(calls);
    // Search abstains but still shows what it found.
    const s = await api(`/v1/search?q=${encodeURIComponent(Q_OUT)}&k=2`);
    expect(s.json.abstained).toBe(true);
    expect(s.json.results).toHaveLength(2);
  });

  it('generative answers: a verbatim quote is verified, an invented one is not, and nothing verified abstains', async () => {
    const ok = await ask(G_VERBATIM, { answer: 'generative' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json).toMatchObject({ abstained: false, answer: VERBATIM_ANSWER, model: GENERATOR });
    expect(ok.json.latency_ms.generate).toBeGreaterThan(0);
    expect(ok.json.citations).toHaveLength(1);
    expect(ok.json.citations[0].quote).toBe(NEEDLE);
    await expectCitation(ok.json.citations[0], true);
    // What the model was sent: the question fenced, numbered sources, a JSON schema to answer in.
    const call = models.calls.at(-1)!;
    expect(call.model).toBe(GENERATOR);
    expect(promptParts(call).question).toBe(G_VERBATIM);
    expect(call.body.response_format).toMatchObject({ type: 'json_schema' });

    const bad = await ask(G_INVENTED, { answer: 'generative' });
    expect(bad.json).toMatchObject({ abstained: true, answer: ABSTAIN_ANSWER, model: GENERATOR });
    expect(bad.json.citations).toHaveLength(1);
    expect(bad.json.citations[0].quote).toBe(INVENTED_QUOTE);
    await expectCitation(bad.json.citations[0], false);
    const badRow = await http(a.url, `/v1/queries/${bad.json.query_id}`, { key: keys.root });
    expect(badRow.json).toMatchObject({ abstained: true, error: 'abstained: no_verified_citation', answer_mode: 'generative' });

    // One verbatim quote (whitespace aside) and one invented: answered, each citation marked.
    const mixed = await ask(G_MIXED, { answer: 'generative' });
    expect(mixed.json).toMatchObject({ abstained: false, answer: VERBATIM_ANSWER });
    expect(mixed.json.citations.map((c: any) => c.verified)).toEqual([true, false]);
    await expectCitation(mixed.json.citations[0], true);
    await expectCitation(mixed.json.citations[1], false);

    const declined = await ask(G_DECLINED, { answer: 'generative' });
    expect(declined.json).toMatchObject({ abstained: true, answer: ABSTAIN_ANSWER, citations: [] });
    const declinedRow = await http(a.url, `/v1/queries/${declined.json.query_id}`, { key: keys.root });
    expect(declinedRow.json.error).toBe('abstained: model_abstained');
  });

  it('the openai client: completions with citations and query_id, the same answer streamed, the query id header', async () => {
    const client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: keys.alice, maxRetries: 0, timeout: 20_000 });
    const direct = await ask(Q_FETCH);
    const messages = [
      { role: 'system' as const, content: 'You are a helpful assistant.' },
      { role: 'user' as const, content: Q_FETCH },
    ];
    const c = await client.chat.completions.create({ model: 'qaforge', messages });
    expect(c.object).toBe('chat.completion');
    expect(c.model).toBe('qaforge');
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0]!.message.role).toBe('assistant');
    expect(c.choices[0]!.finish_reason).toBe('stop');
    const content = c.choices[0]!.message.content!;
    expect(content).toBe(direct.json.answer);
    const extra = c as unknown as { query_id: string; citations: any[]; abstained: boolean };
    expect(extra.query_id).toMatch(/^q_[0-9a-z]+$/);
    expect(c.id).toBe(`chatcmpl-${extra.query_id}`);
    expect(extra.abstained).toBe(false);
    expect(extra.citations).toEqual(direct.json.citations);
    expect(c.usage).toMatchObject({ prompt_tokens: Q_FETCH.split(' ').length, completion_tokens: content.split(/\s+/).length });
    const logged = await http(a.url, `/v1/queries/${extra.query_id}`, { key: keys.root });
    expect(logged.json).toMatchObject({ route: 'chat', question: Q_FETCH, answer: content });

    const { data: stream, response } = await client.chat.completions.create({ model: 'qaforge', messages, stream: true }).withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks: any[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.map((k) => k.choices[0].delta.content ?? '').join('')).toBe(content);
    const last = chunks.at(-1);
    expect(last.choices[0].finish_reason).toBe('stop');
    expect(last.query_id).toBe(response.headers.get('x-qaforge-query-id'));
    expect(last.query_id).not.toBe(extra.query_id);
    expect(last.citations).toEqual(direct.json.citations);
    expect(chunks.every((k) => k.id === `chatcmpl-${last.query_id}` && k.object === 'chat.completion.chunk')).toBe(true);

    const { data, response: r2 } = await client.chat.completions.create({ model: 'qaforge', messages: [{ role: 'user', content: Q_SCALE }] }).withResponse();
    expect(r2.headers.get('x-qaforge-query-id')).toBe((data as unknown as { query_id: string }).query_id);

    // Generative through the client: the scripted model's answer, verified.
    const g = await client.chat.completions.create({ model: 'qaforge-generative', messages: [{ role: 'user', content: G_CHAT }] });
    expect(g.choices[0]!.message.content).toBe(VERBATIM_ANSWER);
    expect((g as unknown as { citations: any[] }).citations.map((x) => [x.quote, x.verified])).toEqual([[NEEDLE, true]]);
    // Out of the corpus: the abstain text as the content.
    const out = await client.chat.completions.create({ model: 'qaforge', messages: [{ role: 'user', content: Q_OUT }] });
    expect(out.choices[0]!.message.content).toBe(ABSTAIN_ANSWER);
    expect((out as unknown as { abstained: boolean }).abstained).toBe(true);

    // The client's own errors: 401 as an AuthenticationError carrying the error body.
    const anon = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: FAKE_QF, maxRetries: 0, timeout: 20_000 });
    const err = await anon.chat.completions.create({ model: 'qaforge', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
  });

  it('/metrics: qaforge_ metrics by route, streamed requests included', async () => {
    const r = await http(a.url, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const has = (name: string, labels: Record<string, string>) =>
      r.text.split('\n').some((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)) && Number(l.split(' ').at(-1)) > 0);
    expect(has('qaforge_http_requests_total', { route: '/v1/query', method: 'POST', status: '200' })).toBe(true);
    expect(has('qaforge_http_requests_total', { route: '/v1/search', method: 'GET', status: '200' })).toBe(true);
    expect(has('qaforge_http_requests_total', { route: '/v1/feedback', method: 'POST', status: '201' })).toBe(true);
    expect(has('qaforge_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '200' })).toBe(true);
    expect(has('qaforge_http_errors_total', { route: '/v1/query', code: '401' })).toBe(true);
    expect(has('qaforge_http_errors_total', { route: '/v1/queries/:id', code: '403' })).toBe(true);
    expect(has('qaforge_request_duration_seconds_count', { route: 'query', part: 'retrieve' })).toBe(true);
    expect(has('qaforge_request_duration_seconds_count', { route: 'query', part: 'generate' })).toBe(true);
    expect(has('qaforge_request_duration_seconds_count', { route: 'chat', part: 'total' })).toBe(true);
    expect(has('qaforge_abstentions_total', { route: 'query', reason: 'low_score' })).toBe(true);
    expect(has('qaforge_abstentions_total', { route: 'query', reason: 'no_verified_citation' })).toBe(true);
    expect(has('qaforge_feedback_total', { rating: 'down', reason: 'unhelpful' })).toBe(true);
    expect(r.text).toMatch(/^qaforge_process_cpu_seconds_total /m);
    // Every request of the streamed chat counted: 2 streamed, the rest plain.
    const chat = r.text.split('\n').find((l) => l.startsWith('qaforge_http_requests_total{') && l.includes('route="/v1/chat/completions"') && l.includes('status="200"'))!;
    expect(Number(chat.split(' ').at(-1))).toBe(5);
  });
});

describe('startQueryService in-process (a copy of the data, serve.rateLimit.max = 3)', () => {
  let b: QueryService;

  beforeAll(async () => {
    b = await startQueryService(loadConfig({ configPath: copyConfig, env: {} }), { log: createLogger('silent') });
  });
  afterAll(async () => {
    await b?.close();
  });

  it('429 with Retry-After past the per-key limit; other keys and the open routes are not limited', async () => {
    const id = (await http(b.url, `/v1/search?q=scale&k=1`, { key: keys.root })).json.results[0].pair_id as string;
    for (let i = 0; i < 3; i++) {
      const r = await http(b.url, `/v1/pairs/${id}`, { key: keys.alice });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ratelimit-limit')).toBe('3');
      expect(r.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
    }
    const limited = await http(b.url, `/v1/pairs/${id}`, { key: keys.alice });
    expectError(limited, 429, 'rate_limited', /^rate limit of 3 requests per /);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expectError(await http(b.url, '/v1/query', { key: keys.alice, body: { question: Q_FETCH } }), 429, 'rate_limited');
    expect((await http(b.url, `/v1/pairs/${id}`, { key: keys.root })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await http(b.url, '/healthz')).status).toBe(200);
    expect((await http(b.url, '/readyz')).json).toMatchObject({ ready: true, active_pairs: promoted.active });
  });

  it('a generative answer past serve.requestTimeoutMs is a 504 (the model still hanging), and logged as one', async () => {
    models.fault({ kind: 'hang', ms: 3 * B_TIMEOUT_MS });
    const t0 = Date.now();
    const r = await http(b.url, '/v1/query', { key: carol, body: { question: G_SLOW, answer: 'generative' } });
    const took = Date.now() - t0;
    expectError(r, 504, 'timeout', `no answer within ${B_TIMEOUT_MS} ms`);
    expect(took).toBeGreaterThanOrEqual(B_TIMEOUT_MS - 100);
    expect(took).toBeLessThan(2 * B_TIMEOUT_MS);
    expect(models.pendingFaults()).toBe(0);
    const logged = await until('the 504 in the query log', async () => (await rows('queries', 'status = 504', copyDir))[0]);
    expect(logged).toMatchObject({ key_name: 'carol', question: G_SLOW, answer: null, answer_mode: 'generative', status: 504 });
  });

  it('a generator that fails (a 500 from the model server, no retries left) is a 502 model_error, logged as one', async () => {
    const question = 'Which name does fetch_shape look the shape up by?';
    models.fault({ kind: 'status', status: 500 });
    const r = await http(b.url, '/v1/query', { key: carol, body: { question, answer: 'generative' } });
    expectError(r, 502, 'model_error', /^the generator model \S+ did not answer \(logged\)/);
    expect(models.pendingFaults()).toBe(0);
    const logged = await until('the 502 in the query log', async () => (await rows('queries', 'status = 502', copyDir))[0]);
    expect(logged).toMatchObject({ key_name: 'carol', question, answer: null, answer_mode: 'generative', status: 502 });
    expect(String(logged.error)).toMatch(/^the generator model \S+ failed: /);
  });

  it('--dev is refused on a host that is not loopback', async () => {
    const cfg = loadConfig({ configPath: copyConfig, env: {}, flags: { serve: { host: '0.0.0.0' } } });
    await expect(startQueryService(cfg, { dev: true, log: createLogger('silent') })).rejects.toThrow(/--dev \(no API keys\) is allowed on a loopback host only, not 0\.0\.0\.0/);
  });
});

describe('scrubbing (the CLI process, then its data dir and output)', () => {
  it('keeps keys, tokens, e-mail and IP addresses out of every file, every log row and the server output', async () => {
    const secrets = [FAKE_QF, BEARER_TOKEN, FAKE_GHP, EMAIL, IPV4, IPV6, IPV6_LINK, '8a2e:370:7334', keys.alice, keys.root, keys.leaver];
    const ids: string[] = [];
    const q1 = await ask(`${Q_FETCH} ${SECRET_TEXT}`);
    expect(q1.status, q1.text).toBe(200);
    ids.push(q1.json.query_id);
    const chat = await api('/v1/chat/completions', { body: { model: 'qaforge', messages: [{ role: 'user', content: `${Q_SCALE} ${SECRET_TEXT}` }] } });
    expect(chat.status, chat.text).toBe(200);
    ids.push(chat.json.query_id);
    const search = await api(`/v1/search?q=${encodeURIComponent(`scale ${SECRET_TEXT}`)}&k=2`);
    expect(search.status, search.text).toBe(200);
    ids.push(search.json.query_id);
    // A generative answer from a model that repeats its prompt's question.
    const gen = await ask(G_ECHO, { answer: 'generative' });
    expect(gen.status, gen.text).toBe(200);
    expect(gen.json.abstained).toBe(false);
    ids.push(gen.json.query_id);
    const sent = JSON.stringify(models.calls);
    for (const s of secrets) expect(sent.includes(s), `${s} sent to the model`).toBe(false);
    expect(gen.json.answer).toBe(`You asked: ${G_ECHO.replace(SECRET_TEXT, SCRUBBED_TEXT)}`);
    const fb = await api('/v1/feedback', { body: { query_id: q1.json.query_id, rating: 'down', reason: 'wrong', comment: `wrong, ask ${EMAIL} at ${IPV4}; ${SECRET_TEXT}`, correction: `It returns a Shape; ${SECRET_TEXT}` } });
    expect(fb.status, fb.text).toBe(201);
    const fb2 = await http(a.url, '/v1/feedback', { key: keys.root, body: { query_id: chat.json.query_id, rating: 'up', comment: SECRET_TEXT } });
    expect(fb2.status, fb2.text).toBe(201);
    // Secrets in refused requests: an unknown key, a query id, a field name, a path.
    expect((await http(a.url, '/v1/query', { key: FAKE_QF, body: { question: SECRET_TEXT } })).status).toBe(401);
    const unknown = await api('/v1/feedback', { body: { query_id: `q_${FAKE_GHP}`.slice(0, 64), rating: 'up' } });
    expectError(unknown, 404, 'unknown_query');
    const field = await api('/v1/query', { body: { question: Q_FETCH, [EMAIL]: 1 } });
    expectError(field, 400, 'invalid_field');
    expect(field.text).not.toContain(EMAIL);
    const path = await api(`/v1/${encodeURIComponent(EMAIL)}/${IPV4}`);
    expectError(path, 404, 'not_found');
    expect(path.text).not.toContain(IPV4);

    // Closing flushes the journal into the tables.
    a.proc.kill('SIGTERM');
    expect(await Promise.race([a.exited, new Promise((ok) => setTimeout(() => ok('still running'), 30_000))])).toBe(0);

    const queries = await rows('queries');
    const feedback = await rows('feedback');
    for (const id of ids) expect(queries.some((r) => r.query_id === id)).toBe(true);
    expect(feedback.some((r) => r.feedback_id === fb.json.feedback_id)).toBe(true);
    const logged = queries.find((r) => r.query_id === q1.json.query_id)!;
    expect(logged.question).toBe(`${Q_FETCH} ${SCRUBBED_TEXT}`);
    expect(feedback.find((r) => r.feedback_id === fb.json.feedback_id)).toMatchObject({ comment: `wrong, ask [REDACTED:private_email] at [REDACTED:ip]; ${SCRUBBED_TEXT}`, correction: `It returns a Shape; ${SCRUBBED_TEXT}` });
    const logText = JSON.stringify([queries, feedback]);
    for (const s of secrets) expect(logText.includes(s), `${s} in the query log`).toBe(false);

    // Every file the server's data dir holds (LanceDB's too, read as bytes), and what it printed.
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    walk(data);
    expect(files.some((f) => f.includes(`${join('queries.lance', 'data')}`))).toBe(true);
    expect(files.some((f) => f.includes('model-cache'))).toBe(true);
    expect(readdirSync(join(data, 'serve', 'journal')).filter((f) => f.endsWith('.jsonl'))).toEqual([]);
    for (const f of files) {
      const text = readFileSync(f).toString('latin1');
      for (const s of secrets) expect(text.includes(s), `${s} in ${f.slice(data.length)}`).toBe(false);
    }
    const output = a.stdout() + a.stderr();
    expect(output).toContain('qaforge serve listening on');
    // Nothing failed on the server's side all along (a failed request or journal flush logs an error).
    expect(a.stderr().split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);
    for (const s of secrets) expect(output.includes(s), `${s} in the server output`).toBe(false);
  });
});
