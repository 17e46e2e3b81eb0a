// API keys of the query service. A key is printed once when created; only its SHA-256 is stored (the
// keys are 256 random bits, so a fast hash is enough: nothing to brute-force), with a name and a role.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { UserError } from '../lib/errors.js';
import { sqlString, type Stores } from '../datasets/store.js';

export const Role = z.enum(['query', 'admin']);
export type Role = z.infer<typeof Role>;
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ApiKey {
  name: string;
  role: Role;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
}

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export async function listKeys(stores: Stores): Promise<ApiKey[]> {
  const out: ApiKey[] = [];
  for await (const rows of stores.scan('api_keys', ['name', 'role', 'prefix', 'created_at', 'revoked_at'])) out.push(...(rows as unknown as ApiKey[]));
  return out.sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
}

/** A new key for `name` (unique among unrevoked keys): the only time the key itself is seen. */
export async function createKey(stores: Stores, name: string, role: Role): Promise<{ key: string } & ApiKey> {
  if (!KEY_NAME.test(name)) throw new UserError(`key name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)`);
  if ((await listKeys(stores)).some((k) => k.name === name && !k.revoked_at)) throw new UserError(`a key named ${name} exists: revoke it first or choose another name`);
  const key = `qf_${randomBytes(32).toString('base64url')}`;
  const row = { name, role, hash: hashKey(key), prefix: key.slice(0, 7), created_at: new Date().toISOString(), revoked_at: null };
  await stores.add('api_keys', [row]);
  return { key, name, role, prefix: row.prefix, created_at: row.created_at, revoked_at: null };
}

export async function revokeKey(stores: Stores, name: string): Promise<number> {
  const t = await stores.table('api_keys');
  const where = `name = ${sqlString(name)} AND revoked_at IS NULL`;
  const n = await t.countRows(where);
  if (!n) throw new UserError(`no active key named ${name} (see qaforge keys list)`);
  await t.update({ where, values: { revoked_at: new Date().toISOString() } });
  return n;
}

/** The unrevoked keys by hash, as the server checks them; reloaded now and then so a revocation takes effect. */
export class KeyRing {
  private byHash = new Map<string, { name: string; role: Role }>();
  constructor(private readonly stores: Stores) {}

  async reload(): Promise<void> {
    const next = new Map<string, { name: string; role: Role }>();
    for await (const rows of this.stores.scan('api_keys', ['name', 'role', 'hash'], 'revoked_at IS NULL'))
      for (const r of rows) next.set(r.hash as string, { name: r.name as string, role: Role.catch('query').parse(r.role) });
    this.byHash = next;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** The key's name and role, or null for an unknown or revoked key. */
  check(key: string): { name: string; role: Role } | null {
    // Looked up by the key's hash: lookup timing says something about hashes, nothing about keys.
    return this.byHash.get(hashKey(key)) ?? null;
  }
}
