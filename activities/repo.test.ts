import { describe, expect, it } from 'vitest';
import { makeRepo } from '../test/fixtures.js';
import { BlobReader, githubSlug, listFiles, repoLabel, resolveRepo, withoutCredentials } from './repo.js';

describe('BlobReader', () => {
  it('streams blobs of any size through one cat-file process and reports a missing one without stopping', async () => {
    const big = 'x = 1\n'.repeat(600_000); // 3.6 MB: many pipe chunks
    const repo = await makeRepo({ 'a.py': 'print(1)\n', 'big.py': big, 'empty.py': '' });
    const files = await listFiles(repo.dir, repo.sha, ['**/*.py'], []);
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ['a.py', 9],
      ['big.py', big.length],
      ['empty.py', 0],
    ]);
    const reader = new BlobReader(repo.dir);
    try {
      const [a, missing, b, e] = await Promise.allSettled([
        reader.read(files[0]!.oid),
        reader.read('0'.repeat(40)),
        reader.read(files[1]!.oid),
        reader.read(files[2]!.oid),
      ]);
      expect(a).toMatchObject({ status: 'fulfilled' });
      expect((a as PromiseFulfilledResult<Buffer>).value.toString()).toBe('print(1)\n');
      expect(missing).toMatchObject({ status: 'rejected', reason: new Error(`blob missing: ${'0'.repeat(40)}`) });
      expect((b as PromiseFulfilledResult<Buffer>).value.toString()).toBe(big);
      expect((e as PromiseFulfilledResult<Buffer>).value.length).toBe(0);
    } finally {
      reader.close();
    }
  });
});

describe('githubSlug', () => {
  it('reads owner/name from GitHub remotes only', () => {
    expect(githubSlug('https://github.com/huggingface/transformers.git')).toBe('huggingface/transformers');
    expect(githubSlug('git@github.com:huggingface/peft.git')).toBe('huggingface/peft');
    expect(githubSlug('https://gitlab.com/a/b.git')).toBeNull();
  });

  it('never keeps credentials of a URL', () => {
    expect(withoutCredentials('https://user:s3cret@git.example.com/a/b.git')).toBe('https://git.example.com/a/b.git');
    expect(withoutCredentials('https://x-access-token:ghs_abc@github.com/a/b')).toBe('https://github.com/a/b');
    expect(withoutCredentials('/local/path')).toBe('/local/path');
  });
});

describe('repoLabel', () => {
  it('names a repository by owner/name or its directory, never by a path of the machine', async () => {
    expect(repoLabel('https://github.com/huggingface/peft.git', '/x/y')).toBe('huggingface/peft');
    expect(repoLabel('git@gitlab.com:acme/shapes.git', '/x/y')).toBe('acme/shapes');
    expect(repoLabel('https://git.example.org/group/sub/tool/', '/x/y')).toBe('sub/tool');
    expect(repoLabel('mirrors/peft.git', 'clones/peft')).toBe('peft');
    expect(repoLabel('', 'work/shapes')).toBe('shapes');
    // A clone of a local clone: the label is the directory's name, not the origin's path.
    const repo = await makeRepo({ 'a.py': 'x = 1\n' }, '/srv/mirrors/some+mirror/repo');
    const log = { info() {}, warn() {}, error() {}, debug() {} } as never;
    const r = await resolveRepo(repo.dir, 'HEAD', repo.dir, log);
    expect(r.repo).toBe(repo.dir.split('/').pop());
    expect(r.repo).not.toContain('/');
    expect(r.webUrl).toBeNull();
  });
});
