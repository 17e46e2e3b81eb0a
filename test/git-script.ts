// A git repository built by a script with fixed authors and dates: the same script gives the same
// shas, record ids and pair ids, so tests can assert them exactly.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function scriptedRepo(prefix = 'qaforge-script-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let day = 0;
  const git = (...args: string[]) => {
    const date = `${1704103200 + day * 86400} +0000`;
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    return execFileSync('git', args, { cwd: dir, env }).toString();
  };
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Ada Lovelace');
  git('config', 'user.email', 'ada@acme.io');
  /** Writes files (null deletes one), commits a day after the last commit, returns the sha. */
  const commit = (message: string, files: Record<string, string | Buffer | null>) => {
    day++;
    for (const [p, content] of Object.entries(files)) {
      if (content === null) rmSync(join(dir, p));
      else {
        mkdirSync(dirname(join(dir, p)), { recursive: true });
        writeFileSync(join(dir, p), content);
      }
    }
    git('add', '-A');
    git('commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD').trim();
  };
  return { dir, commit };
}

/** A small module, and its next version: legacy_area removed, Square added. */
export const SHAPES = '"""Shapes."""\nimport math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\ndef legacy_area(r):\n    return 3.14 * r * r\n\n\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n';
export const SHAPES_2 =
  SHAPES.replace('def legacy_area(r):\n    return 3.14 * r * r\n\n\n', '') +
  '\n\nclass Square:\n    def __init__(self, side):\n        self.side = side\n\n    def area(self):\n        return self.side ** 2\n';
