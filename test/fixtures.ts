// Fixture repositories for the tests, built with simple-git in a temp dir.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';

export const SHAPES_PY = `"""Geometric shapes and their areas.

Used by the fixture tests.
"""
import math
from typing import overload


class Shape:
    """Base class for every shape in the package."""

    def area(self) -> float:
        """Compute the area of the shape.

        Returns:
            float: The area in square units.

        Raises:
            NotImplementedError: Always, subclasses override it.
        """
        raise NotImplementedError


class Circle(Shape):
    """A circle given by its radius.

    Args:
        radius (\`float\`): Radius of the circle, in units.
    """

    def __init__(self, radius: float = 1.0):
        self.radius = radius

    @property
    def diameter(self) -> float:
        """Twice the radius of the circle."""
        return 2 * self.radius

    @diameter.setter
    def diameter(self, value: float) -> None:
        """Set the radius from a diameter value."""
        self.radius = value / 2

    def area(self) -> float:
        return math.pi * self.radius ** 2

    class Meta:
        ordering = ["radius"]


async def fetch_shape(name: str, *, timeout: int = 10) -> Shape:
    """Fetch a shape by name from the registry.

    Args:
        name: The registered name of the shape.
        timeout: Seconds to wait before giving up.

    Returns:
        The shape registered under that name.
    """
    raise KeyError(name)


@overload
def scale(x: int) -> int: ...
@overload
def scale(x: float) -> float: ...
def scale(x):
    """Scale a number by the global factor of two."""
    return x * 2


def _private_helper(values):
    """Sum the values given in the list argument."""
    def inner(v):
        return v
    return sum(values)
`;

/**
 * Pairs SHAPES_PY stages per category, counted by hand from the rules in generators/code-rules.ts:
 * what passes every check, the value score included.
 */
export const SHAPES_PAIRS = {
  module_purpose: 1,
  purpose: 8,
  methods: 1,
  bases: 1,
  signature: 6,
  parameters: 1,
  returns: 2,
  raises: 2,
};

/**
 * Pairs SHAPES_PY draws that the value score rejects (low_value): the self-only signatures of
 * `Shape.area`, the `diameter` getter and `Circle.area`, and the four returns answered by a bare
 * `float`/`int` annotation, and `Shape`'s one-method listing.
 */
export const SHAPES_LOW_VALUE = { signature: 3, returns: 4, methods: 1 };

export const EDGE_PY = `import contextlib
import typing

if typing.TYPE_CHECKING:
    def loader(path: str) -> bytes:
        """Load the bytes of a file for type checkers."""
        ...
else:
    def loader(path):
        """Load the bytes of a file at run time."""
        return open(path, "rb").read()

try:
    import numpy
except ImportError:
    class Array:
        """Fallback array used when numpy is missing."""

with contextlib.suppress(Exception):
    def in_with():
        pass

class Outer:
    class Inner:
        class Deepest:
            def leaf(self):
                pass

def dispatch(command):
    match command:
        case "go":
            def go_handler():
                return 1
            return go_handler
        case _:
            return None

@contextlib.contextmanager
@typing.no_type_check
def managed(
    resource,  # the thing
    /,
    *extra,
    strict: bool = False,
    **options,
) -> typing.Iterator[None]:
    yield
`;

/** Python 3.12 syntax: Python 3.11's ast cannot parse it, tree-sitter can. */
export const GENERIC_PY = `class Box[T]:
    """A box holding one value of any type."""

    def get[U](self, default: U) -> T | U:
        """Return the value held, or the default given."""
        return default

type Pair[K] = tuple[K, K]

def first[T](items: list[T]) -> T:
    return items[0]
`;

export const BROKEN_PY = `def good_before(a):
    """Comes before the error and still parses fine."""
    return a

def broken(:
    pass

class AfterError:
    """Comes after the error and still parses fine."""

    def method(self):
        return 1
`;

export const FAKE_TOKEN = 'ghp_' + 'Q'.repeat(12) + 'a1b2c3d4e5f6g7h8i9j0k1l2';

export const SECRETS_PY = `def connect(host):
    """Connect to the mirror using token ${FAKE_TOKEN} for auth."""
    return host


def login(user, token="${FAKE_TOKEN}"):
    return user
`;

export const MODELS_PY = `class BertModel:
    def forward(self, input_ids):
        """Run the encoder over the input ids and return the hidden states of the last layer together with the pooled output, the attention weights of every layer and the hidden states of every layer when asked for them, after masking the padding positions, adding the position embeddings, applying dropout to the embeddings and normalising the final layer output."""
        return input_ids


class RobertaModel:
    def forward(self, input_ids):
        """Run the encoder over the input ids and return the hidden states of the last layer together with the pooled output, the attention weights of every layer and the hidden states of every layer when asked for them, after masking the padding positions, adding the position embeddings, applying dropout to the embeddings and normalising the final layer output."""
        return input_ids
`;

/** A ~5.3 MB module of 32,000 small private functions (parsed and counted, no pairs but the module's). */
export function bigModule(functions = 32_000): string {
  const parts = ['"""A very large generated module for the size tests."""\n'];
  for (let i = 0; i < functions; i++)
    parts.push(`\ndef _generated_${i}(value_${i}: int = ${i}) -> int:\n    # a private helper with a long comment to make the file realistic\n    return value_${i} + ${i} * 31 + 7\n`);
  return parts.join('');
}

export interface FixtureRepo {
  dir: string;
  sha: string;
  /** Writes files, removes and renames paths (git rm / git mv), commits; returns the new sha. */
  commit(files: Record<string, string | Buffer>, message: string, changes?: { remove?: string[]; rename?: Record<string, string> }): Promise<string>;
}

export async function makeRepo(files: Record<string, string | Buffer>, origin = 'https://github.com/acme/shapes.git'): Promise<FixtureRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'qaforge-fixture-'));
  const git = simpleGit(dir);
  await git.init(['-b', 'main']);
  await git.addConfig('user.name', 'Fixture Author');
  await git.addConfig('user.email', 'fixture@example.com');
  await git.addRemote('origin', origin);
  const repo: FixtureRepo = {
    dir,
    sha: '',
    async commit(fs, message, changes = {}) {
      for (const [from, to] of Object.entries(changes.rename ?? {})) {
        mkdirSync(dirname(join(dir, to)), { recursive: true });
        await git.mv(from, to);
      }
      if (changes.remove?.length) await git.rm(changes.remove);
      for (const [path, content] of Object.entries(fs)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      await git.add('.');
      await git.commit(message, { '--allow-empty': null });
      repo.sha = (await git.revparse(['HEAD'])).trim();
      return repo.sha;
    },
  };
  await repo.commit(files, 'initial commit');
  return repo;
}

export function tempDir(prefix = 'qaforge-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Polls `fn` every `every` ms until it gives a value, or throws after `ms` naming `what`. */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 15_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, every));
  }
}
