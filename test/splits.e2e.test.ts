// Leak-free splits end to end: a fixture repository with a `# Copied from` chain over three files, a
// modular_x.py / modeling_x.py pair and near-duplicate pairs in two files is backfilled, promoted and
// exported; every clone cluster lands in one split, and a second commit (a new copy, and a link that
// merges two old clusters) moves only what the rule says.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterLeakage, splitClustersOf } from '../datasets/clusters.js';
import { exportCorpus, type ExportResult } from '../datasets/export.js';
import { promoteStaged } from '../datasets/promote.js';
import { ExportedQA, type Split } from '../datasets/schemas.js';
import { assignSplit, type SplitRatios } from '../datasets/splits.js';
import { Stores } from '../datasets/store.js';
import { copiedFromTargets } from '../extractors/python.js';
import { createLogger } from '../lib/log.js';
import { qaforgeJson } from './cli.js';
import { makeRepo, tempDir, type FixtureRepo } from './fixtures.js';

// Chosen so that the raw path groups of every cluster fall in different splits (asserted below):
// without clustering, the test fails.
const SPLITS: SplitRatios = { train: 0.4, validation: 0.3, test: 0.3, salt: 'leak-test-41' };

const LONG_DOC =
  'Normalise the values so that they sum to one, after dropping the missing entries, clipping every value to the range given by the lower and upper bounds, and replacing the values that are not finite by the mean of the remaining ones so that the result stays usable downstream.';

const P = (name: string) => `src/shapes/${name}`;
const CORE = P('core.py');
const MIDDLE = P('middle.py');
const LEAF = P('leaf.py');
const LEAF2 = P('leaf2.py');
const MODULAR = P('models/x/modular_x.py');
const MODELING = P('models/x/modeling_x.py');
const DUP_A = P('dup_a.py');
const DUP_B = P('dup_b.py');
const OTHER = P('other.py');

const shape = (cls: string, doc: string, method: string) => `class ${cls}:
    """${doc}"""

    def ${method}(self, prefix: str = "") -> str:
        """Return the name of the ${cls.toLowerCase()} shape with an optional prefix."""
        return prefix + self.name
`;

const FILES = {
  [CORE]: `"""Core shapes: the base every shape derives from."""\n\n\n${shape('Base', 'The base shape: holds a name and computes nothing by itself.', 'describe')}`,
  [MIDDLE]: `"""Middle shapes."""\n\n\n# Copied from shapes.core.Base with Base->Middle\n${shape('Middle', 'A middle shape that keeps its own scale factor.', 'label')}`,
  [LEAF]: `"""Leaf shapes."""\n\n\n# Copied from shapes.middle.Middle with Middle->Leaf\n${shape('Leaf', 'A leaf shape at the end of the hierarchy.', 'title')}\n\n# Copied from transformers.models.bert.modeling_bert.BertModel.forward\ndef forward(x):\n    """Pass the input through unchanged."""\n    return x\n`,
  [MODULAR]: `"""The x model, written as a modular file."""\n\n\nclass XModel:\n    """The x model: an encoder of shapes."""\n`,
  [MODELING]: `"""The x model, generated from modular_x.py."""\n\n\nclass XModel:\n    """The x model as generated for the library."""\n\n    def encode(self, shapes):\n        """Encode the shapes into vectors."""\n        return shapes\n`,
  [DUP_A]: `def normalize(values):\n    """${LONG_DOC}"""\n    return values\n`,
  [DUP_B]: `def normalize(values):\n    """${LONG_DOC}"""\n    return list(values)\n`,
  [OTHER]: `def perimeter(sides):\n    """Add up the lengths of the sides of a polygon."""\n    return sum(sides)\n`,
};

let repo: FixtureRepo;
let data: string;
let config: string;
const log = createLogger('silent');

async function backfillPromoteExport(out: string): Promise<{ result: ExportResult; splitOf: Map<string, Set<Split>> }> {
  await qaforgeJson(['--data-dir', data, '--config', config, 'backfill', '--sources', 'code', '--repo', repo.dir, '--json']);
  const stores = await Stores.open(data);
  try {
    await promoteStaged(stores, log, { embedder: null });
    const result = await exportCorpus(stores, { out, format: 'qa', splits: SPLITS }, log);
    const splitOf = new Map<string, Set<Split>>();
    for (const f of result.files)
      for (const line of readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean)) {
        const row = ExportedQA.parse(JSON.parse(line));
        splitOf.set(row.path!, (splitOf.get(row.path!) ?? new Set()).add(row.split));
      }
    return { result, splitOf };
  } finally {
    stores.close();
  }
}

async function roots(groups: string[]): Promise<Record<string, string>> {
  const stores = await Stores.open(data);
  try {
    const c = await splitClustersOf(stores);
    return Object.fromEntries(groups.map((g) => [g, c.rootOf(g)]));
  } finally {
    stores.close();
  }
}

const only = (s: Set<Split> | undefined) => {
  expect(s?.size).toBe(1);
  return [...s!][0]!;
};
const raw = (g: string) => assignSplit(g, SPLITS);

let first: Awaited<ReturnType<typeof backfillPromoteExport>>;

beforeAll(async () => {
  repo = await makeRepo(FILES);
  data = tempDir();
  config = join(tempDir('qaforge-config-'), 'qaforge.config.json');
  writeFileSync(config, JSON.stringify({ splits: SPLITS }));
  first = await backfillPromoteExport(tempDir('qaforge-export-'));
});

describe('copied-from targets', () => {
  it('reads the dotted target of each `# Copied from` line once, and no URL or prose', () => {
    const src = [
      '# Copied from transformers.models.bert.modeling_bert.BertSelfOutput with Bert->Roberta',
      'class A: pass',
      '    # Copied from diffusers.models.attention.Attention',
      '# Copied from transformers.models.bert.modeling_bert.BertSelfOutput with Bert->Camembert\r',
      '# Copied from https://github.com/Zeju1997/oft/blob/main/oft.py#L52',
      '# Copied from the original implementation',
      '#Copied from pkg.mod.f',
      'x = "# Copied from not.at.line.start"',
    ].join('\n');
    expect(copiedFromTargets(src)).toEqual(['transformers.models.bert.modeling_bert.BertSelfOutput', 'diffusers.models.attention.Attention', 'pkg.mod.f']);
  });
});

describe('leak-free splits', () => {
  it('would spread every cluster over several splits if split by raw path', () => {
    expect(new Set([raw(CORE), raw(MIDDLE), raw(LEAF)]).size).toBe(3);
    expect(raw(MODULAR)).not.toBe(raw(MODELING));
    expect(raw(DUP_A)).not.toBe(raw(DUP_B));
    expect(raw(LEAF2)).not.toBe(raw(CORE));
    expect(raw(OTHER)).not.toBe(raw(DUP_A));
  });

  it('joins the copied-from chain under its origin, the modeling file under the modular one, and near-duplicate files', async () => {
    expect(await roots([CORE, MIDDLE, LEAF, MODULAR, MODELING, DUP_A, DUP_B, OTHER])).toEqual({
      [CORE]: CORE,
      [MIDDLE]: CORE,
      [LEAF]: CORE,
      [MODULAR]: MODULAR,
      [MODELING]: MODULAR,
      [DUP_A]: DUP_A,
      [DUP_B]: DUP_A,
      [OTHER]: OTHER,
    });
    expect(first.result.clusters).toEqual({
      groups: 8,
      clusters: 4,
      groupsInMultiGroupClusters: 7,
      clustersAcrossSplits: 0,
      copiedFrom: { links: 3, resolved: 2, unresolved: 1, unresolvedExamples: ['transformers.models.bert.modeling_bert.BertModel.forward'] },
      modularPairs: 1,
      joins: { copiedFrom: 2, modular: 1, nearDuplicate: 1 },
      seconds: expect.any(Number),
    });
    const card = readFileSync(join(first.result.out, 'README.md'), 'utf8');
    expect(card).toContain('(4 clusters; 7 of 8 groups share a cluster; clusters across splits: 0)');
  });

  it('puts every pair of a cluster in the split of its root', () => {
    const s = first.splitOf;
    expect([...s.keys()].sort()).toEqual([CORE, DUP_A, DUP_B, LEAF, MIDDLE, MODELING, MODULAR, OTHER].sort());
    for (const g of [CORE, MIDDLE, LEAF]) expect(only(s.get(g))).toBe(raw(CORE));
    for (const g of [MODULAR, MODELING]) expect(only(s.get(g))).toBe(raw(MODULAR));
    for (const g of [DUP_A, DUP_B]) expect(only(s.get(g))).toBe(raw(DUP_A));
    expect(only(s.get(OTHER))).toBe(raw(OTHER));
    // The leak check sees the raw assignment for what it is: all three multi-file clusters span splits.
    const rootOf = (g: string) => ({ [MIDDLE]: CORE, [LEAF]: CORE, [MODELING]: MODULAR, [DUP_B]: DUP_A })[g] ?? g;
    expect(clusterLeakage(rootOf, [...s.keys()].map((g) => [g, raw(g)] as const))).toEqual({ groups: 8, clusters: 4, groupsInMultiGroupClusters: 7, clustersAcrossSplits: 3 });
  });

  it('keeps the earlier files in their splits when a new copy arrives; a merge of two old clusters moves the one whose root loses', async () => {
    const before = new Map([...first.splitOf].map(([g, s]) => [g, only(s)]));
    // A new copy of the origin, and a link that joins the lone file to the near-duplicate cluster.
    await repo.commit(
      {
        [LEAF2]: `"""More leaf shapes."""\n\n\n# Copied from shapes.core.Base with Base->Twig\n${shape('Twig', 'A twig shape grown from the base one.', 'caption')}`,
        [OTHER]: `# Copied from shapes.dup_a.normalize\ndef perimeter(sides):\n    """Add up the lengths of the sides of a polygon."""\n    return sum(sides)\n`,
      },
      'a new copy of Base; perimeter copied from normalize',
    );
    const second = await backfillPromoteExport(tempDir('qaforge-export-'));
    expect(await roots([CORE, MIDDLE, LEAF, LEAF2, DUP_A, DUP_B, OTHER])).toEqual({
      [CORE]: CORE,
      [MIDDLE]: CORE,
      [LEAF]: CORE,
      [LEAF2]: CORE,
      [DUP_A]: DUP_A,
      [DUP_B]: DUP_A,
      // Both clusters were first seen in the first run and neither root was a copy then: the smaller key wins.
      [OTHER]: DUP_A,
    });
    const after = new Map([...second.splitOf].map(([g, s]) => [g, only(s)]));
    expect(only(second.splitOf.get(LEAF2))).toBe(before.get(CORE));
    for (const g of [CORE, MIDDLE, LEAF, MODULAR, MODELING, DUP_A, DUP_B]) expect(after.get(g), g).toBe(before.get(g));
    expect(after.get(OTHER)).toBe(before.get(DUP_A));
    expect(after.get(OTHER)).not.toBe(before.get(OTHER));
    expect(second.result.clusters).toMatchObject({ groups: 9, clusters: 3, groupsInMultiGroupClusters: 9, clustersAcrossSplits: 0, copiedFrom: { links: 5, resolved: 4, unresolved: 1 } });
  });
});
