import { describe, expect, it } from 'vitest';
import { makeRepo } from '../test/fixtures.js';
import { BlobReader, githubSlug, listFiles, withoutCredentials } from './repo.js';

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
