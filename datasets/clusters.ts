// Clone clusters of split groups, so that no copy of a piece of code sits in one split and its
// origin in another: files linked by `# Copied from <package>.<module>.<Symbol>` comments, a
// modular_<x>.py and the modeling_<x>.py generated from it, and the groups of pairs in one
// near-duplicate cluster are joined (union-find over groups). A cluster takes the split of its root.
//
// The root is the member first seen (the earliest run that stored a source record of it), then the
// one that was not a copy when first seen (a copied-from origin, a modular file), then the smallest
// group key. Links are read from every stored record and every corpus row, retired ones too, so a
// cluster only ever grows: a new member is younger than the root and never displaces it, and an item
// changes split only when its cluster merges with an older one.
import { moduleNameForPath } from '../extractors/python.js';
import { splitGroupOf } from '../generators/pair.js';
import type { Split } from './schemas.js';
import { sourceFromRow, type Stores } from './store.js';

export interface ClusterStats {
  /** `# Copied from` targets (one per file and target), those that name a stored module and symbol, and a few that did not. */
  copiedFrom: { links: number; resolved: number; unresolved: number; unresolvedExamples: string[] };
  /** modular_<x>.py files with a modeling_<x>.py beside them. */
  modularPairs: number;
  /** Joins of two different clusters, by what joined them. */
  joins: { copiedFrom: number; modular: number; nearDuplicate: number };
  seconds: number;
}

/** Groups as clusters: `rootOf` names the group whose split a group takes. */
export interface SplitClusters {
  rootOf(group: string): string;
  stats: ClusterStats;
}

/** What an assignment of groups to splits looks like through the clusters. */
export interface ClusterLeakage {
  groups: number;
  clusters: number;
  /** Groups that share their cluster with another assigned group. */
  groupsInMultiGroupClusters: number;
  /** Clusters whose groups land in more than one split: 0 when the splits are leak-free. */
  clustersAcrossSplits: number;
}

/**
 * Checks an assignment of groups to splits (each group once, e.g. from an export) against the
 * clusters: how many clusters it has, and how many of them it spreads over more than one split.
 */
export function clusterLeakage(rootOf: (group: string) => string, assignments: Iterable<readonly [group: string, split: Split]>): ClusterLeakage {
  const byRoot = new Map<string, { groups: number; splits: Set<Split> }>();
  let groups = 0;
  for (const [group, split] of assignments) {
    groups++;
    const root = rootOf(group);
    const c = byRoot.get(root);
    if (c) {
      c.groups++;
      c.splits.add(split);
    } else byRoot.set(root, { groups: 1, splits: new Set([split]) });
  }
  let groupsInMultiGroupClusters = 0;
  let clustersAcrossSplits = 0;
  for (const c of byRoot.values()) {
    if (c.groups > 1) groupsInMultiGroupClusters += c.groups;
    if (c.splits.size > 1) clustersAcrossSplits++;
  }
  return { groups, clusters: byRoot.size, groupsInMultiGroupClusters, clustersAcrossSplits };
}

/** Union-find over group keys; only groups that were ever joined are held. */
class GroupUnion {
  private parent = new Map<string, string>();
  private size = new Map<string, number>();

  find(g: string): string {
    let r = g;
    for (let p = this.parent.get(r); p !== undefined && p !== r; p = this.parent.get(r)) r = p;
    // Path compression: every group on the way points at the representative.
    for (let x = g; x !== r; ) {
      const next = this.parent.get(x)!;
      this.parent.set(x, r);
      x = next;
    }
    return r;
  }

  /** Joins the sets of a and b; true when they were two sets. */
  union(a: string, b: string): boolean {
    for (const g of [a, b])
      if (!this.parent.has(g)) {
        this.parent.set(g, g);
        this.size.set(g, 1);
      }
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return false;
    if (this.size.get(ra)! < this.size.get(rb)!) [ra, rb] = [rb, ra];
    this.parent.set(rb, ra);
    this.size.set(ra, this.size.get(ra)! + this.size.get(rb)!);
    this.size.delete(rb);
    return true;
  }

  groups(): IterableIterator<string> {
    return this.parent.keys();
  }
}

// Unknown first sight (a group with no stored source record) sorts after every run id.
const NEVER_SEEN = '\uffff';
const MODULAR = /^(.*\/)?modular_([^/]+)\.py$/;

/**
 * The clone clusters of the stores' groups. Streams the sources table (module records carry the
 * file's `# Copied from` targets; other rows give paths, top-level symbols and first sight) and the
 * corpus (split groups and near-duplicate clusters); holds a few entries per group and per link,
 * never a record's text beyond the row being read.
 */
export async function splitClustersOf(stores: Stores): Promise<SplitClusters> {
  const t0 = performance.now();
  const firstSeen = new Map<string, string>();
  const seen = (group: string, runId: string) => {
    const prior = firstSeen.get(group);
    if (prior === undefined || runId < prior) firstSeen.set(group, runId);
  };
  // repo \0 module → the path that defines it (the smallest, should two paths give one module).
  const modulePath = new Map<string, string>();
  // repo \0 module \0 top-level name, for telling `pkg.mod.Cls.method` from `pkg.mod` + `Cls.method`.
  const topLevel = new Set<string>();
  const codePaths = new Map<string, string>(); // path → repo
  const links: { repo: string; from: string; target: string; runId: string }[] = [];
  const linkKeys = new Set<string>();

  const noteCode = (repo: string, path: string) => {
    if (codePaths.get(path) === repo) return;
    codePaths.set(path, repo);
    const key = `${repo}\u0000${moduleNameForPath(path)}`;
    const prior = modulePath.get(key);
    if (prior === undefined || path < prior) modulePath.set(key, path);
  };

  // Module records, with their record JSON: the `# Copied from` targets of the file.
  for await (const rows of stores.scan('sources', ['id', 'kind', 'repo', 'path', 'commit_first_seen', 'run_id', 'record'], "kind = 'code_symbol' AND symbol_kind = 'module'"))
    for (const row of rows) {
      const rec = sourceFromRow(row);
      const path = rec.provenance.path;
      seen(splitGroupOf(rec), row.run_id as string);
      if (path === null) continue;
      noteCode(rec.provenance.repo, path);
      for (const target of rec.code?.copiedFrom ?? []) {
        const k = `${rec.provenance.repo}\u0000${path}\u0000${target}\u0000${row.run_id as string}`;
        if (linkKeys.has(k)) continue;
        linkKeys.add(k);
        links.push({ repo: rec.provenance.repo, from: path, target, runId: row.run_id as string });
      }
    }
  linkKeys.clear();
  // Every other record: first sight of its group, and the top-level symbols of code files. Only PR
  // and issue rows need their JSON (the number lives there).
  for await (const rows of stores.scan('sources', ['id', 'kind', 'symbol_kind', 'repo', 'path', 'qualname', 'commit_first_seen', 'run_id'], "kind NOT IN ('pull_request', 'issue') AND (symbol_kind IS NULL OR symbol_kind <> 'module')"))
    for (const row of rows) {
      // The group of these kinds comes from the columns alone: the JSON (the text) is not read.
      const rec = sourceFromRow({ ...row, record: '{}' });
      seen(splitGroupOf(rec), row.run_id as string);
      const { path, qualname, repo } = rec.provenance;
      if (row.kind !== 'code_symbol' || path === null) continue;
      noteCode(repo, path);
      if (qualname && !qualname.includes('.')) topLevel.add(`${repo}\u0000${moduleNameForPath(path)}\u0000${qualname}`);
    }
  for await (const rows of stores.scan('sources', ['id', 'kind', 'repo', 'path', 'commit_first_seen', 'run_id', 'record'], "kind IN ('pull_request', 'issue')"))
    for (const row of rows) seen(splitGroupOf(sourceFromRow(row)), row.run_id as string);

  const uf = new GroupUnion();
  const stats: ClusterStats = {
    copiedFrom: { links: 0, resolved: 0, unresolved: 0, unresolvedExamples: [] },
    modularPairs: 0,
    joins: { copiedFrom: 0, modular: 0, nearDuplicate: 0 },
    seconds: 0,
  };
  // Groups that were a copy when first seen: not a root while an origin of the same age is there.
  const derived = new Set<string>();

  // `pkg.mod.Cls.method` → the longest module prefix that defines the name after it (or is the whole target).
  const resolveTarget = (repo: string, target: string): string | null => {
    const parts = target.split('.');
    for (let n = parts.length; n >= 1; n--) {
      const module = parts.slice(0, n).join('.');
      const path = modulePath.get(`${repo}\u0000${module}`);
      if (path === undefined) continue;
      if (n === parts.length || topLevel.has(`${repo}\u0000${module}\u0000${parts[n]}`)) return path;
    }
    return null;
  };
  const counted = new Set<string>();
  for (const l of links) {
    const key = `${l.repo}\u0000${l.from}\u0000${l.target}`;
    const first = !counted.has(key);
    counted.add(key);
    const origin = resolveTarget(l.repo, l.target);
    if (first) {
      stats.copiedFrom.links++;
      if (origin !== null) stats.copiedFrom.resolved++;
      else {
        stats.copiedFrom.unresolved++;
        const examples = stats.copiedFrom.unresolvedExamples;
        if (examples.length < 10 && !examples.includes(l.target)) examples.push(l.target);
      }
    }
    if (origin === null || origin === l.from) continue;
    if (l.runId === firstSeen.get(l.from)) derived.add(l.from);
    if (uf.union(l.from, origin)) stats.joins.copiedFrom++;
  }
  counted.clear();
  links.length = 0;

  for (const [path, repo] of codePaths) {
    const m = MODULAR.exec(path);
    if (!m) continue;
    const modeling = `${m[1] ?? ''}modeling_${m[2]}.py`;
    if (codePaths.get(modeling) !== repo) continue;
    stats.modularPairs++;
    derived.add(modeling);
    if (uf.union(path, modeling)) stats.joins.modular++;
  }
  codePaths.clear();
  modulePath.clear();
  topLevel.clear();

  // Near-duplicates: every member's group joins the group of the cluster's first pair. A member may
  // come before that pair in the scan: members are joined to the first member seen, and the first
  // pair's group is joined in a second pass.
  const standIn = new Map<string, string>(); // first pair id → group of the first member seen
  for await (const rows of stores.scan('corpus', ['split_group', 'near_dup_cluster'], 'near_dup_cluster IS NOT NULL'))
    for (const r of rows) {
      const head = r.near_dup_cluster as string;
      const group = r.split_group as string;
      const prior = standIn.get(head);
      if (prior === undefined) standIn.set(head, group);
      else if (uf.union(group, prior)) stats.joins.nearDuplicate++;
    }
  if (standIn.size)
    for await (const rows of stores.scan('corpus', ['id', 'split_group']))
      for (const r of rows) {
        const member = standIn.get(r.id as string);
        if (member !== undefined && uf.union(r.split_group as string, member)) stats.joins.nearDuplicate++;
      }
  standIn.clear();

  // The root of each set: first seen, then not a copy, then the smallest key.
  const better = (a: string, b: string): boolean => {
    const sa = firstSeen.get(a) ?? NEVER_SEEN;
    const sb = firstSeen.get(b) ?? NEVER_SEEN;
    if (sa !== sb) return sa < sb;
    const da = derived.has(a);
    if (da !== derived.has(b)) return !da;
    return a < b;
  };
  const rootOfSet = new Map<string, string>();
  for (const g of uf.groups()) {
    const rep = uf.find(g);
    const best = rootOfSet.get(rep);
    if (best === undefined || better(g, best)) rootOfSet.set(rep, g);
  }
  const rootOf = new Map<string, string>();
  for (const g of uf.groups()) rootOf.set(g, rootOfSet.get(uf.find(g))!);
  stats.seconds = (performance.now() - t0) / 1000;
  return { rootOf: (group) => rootOf.get(group) ?? group, stats };
}
