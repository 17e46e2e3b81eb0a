// Where every source's candidate pairs end up: already-known ids are skipped, exact duplicates
// rejected, near duplicates clustered, the rest staged; rows are written in batches. In an
// incremental pass it also notes which live pairs were produced again, so the rest can be retired.
import type { QAPair, RejectReason, SkipRecord, SourceRecord } from '../datasets/schemas.js';
import { locationKey, type LivePair } from '../datasets/reconcile.js';
import { skipKey, type Stores } from '../datasets/store.js';
import type { StageStats } from '../lib/progress.js';
import { failedReasons } from '../validators/checks.js';
import { QuestionIndex } from '../validators/ambiguity.js';
import { dedupKeys, DuplicateIndex, packKey, type ByteMap, type DedupKeys } from '../validators/dedup.js';
import { KnownIndex } from '../datasets/known-index.js';
import { join } from 'node:path';

/** A sink's on-disk index is closed (and its space freed) when the sink is collected, or at exit. */
const closeWithSink = new FinalizationRegistry<KnownIndex>((index) => index.close());

const FLUSH_ROWS = 5000;

export interface SinkCounts {
  candidates: number;
  staged: number;
  rejected: number;
  alreadyKnown: number;
  refreshed: number;
}

export class PairSink {
  readonly counts: SinkCounts = { candidates: 0, staged: 0, rejected: 0, alreadyKnown: 0, refreshed: 0 };
  /** Live pairs of the groups being processed again (incremental passes), and which of them came back. */
  private live = new Map<string, LivePair>();
  private reproduced = new Set<string>();
  private refresh: QAPair[] = [];
  private stageBuf: QAPair[] = [];
  private rejectBuf: { pair: QAPair; reasons: RejectReason[]; detail: string }[] = [];
  private sourceBuf: SourceRecord[] = [];
  private skipBuf: { skip: SkipRecord; commit: string }[] = [];

  // What the sink remembers of every pair, record and skip lives on disk (datasets/known-index.ts),
  // opened by ready(): known pair ids, known source ids, the records this pass produced, known skip
  // keys, the duplicate index and the question index. The heap holds a bounded write overlay.
  private index: KnownIndex | null = null;
  private knownIds!: ByteMap;
  private knownSources!: ByteMap;
  /** Every record this pass produced, new or known: model-written pairs of these stay live. */
  private seenRecords!: ByteMap;
  private knownSkips!: ByteMap;
  private dedup: DuplicateIndex | null = null;
  private questions!: QuestionIndex;
  private loading: Promise<void> | null = null;
  private loaded = false;

  constructor(
    private stores: Stores,
    readonly runId: string,
    private nearDupThreshold: number,
    private stValidate: StageStats,
    private stStage: StageStats,
  ) {}

  /**
   * Loads what the stores already hold (pair ids, qa keys, source ids, skips) into the on-disk
   * index, batch by batch. Sources call it once they have something to add, so a pass with nothing
   * new never reads them.
   */
  ready(): Promise<void> {
    this.loading ??= (async () => {
      const index = new KnownIndex({ dir: join(this.stores.dataDir, 'tmp') });
      closeWithSink.register(this, index, this);
      this.index = index;
      this.knownIds = index.map('ids', { maxValue: 0 });
      this.knownSources = index.map('sources', { maxValue: 0 });
      this.seenRecords = index.map('seen', { maxValue: 0 });
      this.knownSkips = index.map('skips', { maxValue: 0 });
      const dedup = new DuplicateIndex(this.nearDupThreshold, index);
      this.questions = new QuestionIndex(index);
      // The last live staging row of a qa key holds it, and of a question the last one too.
      for await (const rows of this.stores.knownPairs())
        for (const r of rows) {
          this.knownIds.put(packKey(r.id));
          if (!r.live) continue;
          dedup.rememberExact(r.qaKey, r.id, true);
          this.questions.remember(r.question!, r.qaKey, r.id);
        }
      for await (const ids of this.stores.knownSourceIds()) for (const id of ids) this.knownSources.put(packKey(id));
      for await (const keys of this.stores.knownSkipKeys()) for (const k of keys) this.knownSkips.put(packKey(k));
      index.writeOut();
      this.dedup = dedup;
      this.loaded = true;
    })();
    return this.loading;
  }

  /**
   * Frees the on-disk index now (its scratch files and file handles): a long-lived worker runs many
   * sinks, and a collected sink frees it only when the collector gets to it. The sink is done after.
   */
  close(): void {
    if (!this.index) return;
    closeWithSink.unregister(this);
    this.index.close();
  }

  private assertReady(): void {
    if (!this.loaded) throw new Error('PairSink used before ready(): known ids are not loaded');
  }

  get nearDuplicates(): number {
    return this.dedup?.nearDuplicates ?? 0;
  }

  /** Live pairs that may be produced again in this pass: those that are not get retired afterwards. */
  watch(live: Map<string, LivePair>): void {
    this.assertReady();
    for (const [id, p] of live) this.live.set(id, p);
    // The same question and answer from changed evidence is the pair's successor, not a duplicate
    // of the pair it replaces.
    this.forget(live.values());
  }

  /**
   * Stored pairs that pairs still to come replace (a watched group's, the pairs a feedback correction
   * disputes): their exact key and question are forgotten, so a successor is neither a duplicate of
   * one nor ambiguous with one. Their ids stay known.
   */
  forget(pairs: Iterable<{ id: string; qaKey: string }>): void {
    this.assertReady();
    for (const p of pairs) {
      this.dedup!.forgetExact(p.qaKey, p.id);
      this.questions.forget(p.qaKey);
    }
  }

  addRecords(records: SourceRecord[]): void {
    this.assertReady();
    for (const r of records) {
      const k = packKey(r.id);
      this.seenRecords.put(k);
      if (this.knownSources.has(k)) continue;
      this.knownSources.put(k);
      this.sourceBuf.push(r);
    }
  }

  addSkip(skip: SkipRecord, commit: string): void {
    this.assertReady();
    const key = packKey(skipKey(commit, skip));
    if (this.knownSkips.has(key)) return;
    this.knownSkips.put(key);
    this.skipBuf.push({ skip, commit });
  }

  /** Whether a pair id is already stored (or was added in this run). */
  knows(id: string): boolean {
    this.assertReady();
    return this.knownIds.has(packKey(id));
  }

  /**
   * The one way a pair enters the sink: a candidate whose verdicts are in (the per-pair checks, and a
   * judge's for model-written pairs), with its duplicate keys if the thread that checked it computed
   * them (code workers do), else they are computed here.
   */
  add(checked: QAPair, keys: DedupKeys = dedupKeys(checked)): void {
    this.assertReady();
    const p = { ...checked, qaKey: keys.qaKey };
    const { signature, bands } = keys;
    this.counts.candidates++;
    this.stValidate.seen++;
    this.stStage.seen++;
    const idKey = packKey(p.id);
    if (this.knownIds.has(idKey)) {
      const live = this.live.get(p.id);
      if (live && !this.reproduced.has(p.id)) {
        this.reproduced.add(p.id);
        this.dedup!.rememberExact(p.qaKey, p.id);
        this.questions.remember(p.question, p.qaKey, p.id);
        const v = p.provenance;
        if (locationKey(v.path, v.startLine, v.endLine, v.commitLastVerified) !== live.at) {
          const { qaKey: _k, ...pair } = p;
          delete (pair as { contextRecord?: number }).contextRecord;
          this.refresh.push(pair as QAPair);
          this.counts.refreshed++;
        }
      }
      this.counts.alreadyKnown++;
      this.stStage.reject('already_known');
      return;
    }
    this.knownIds.put(idKey);
    const { qaKey, ...pair } = p;
    delete (pair as { contextRecord?: number }).contextRecord;
    let reasons = failedReasons(pair);
    if (!reasons.length) {
      const d = this.dedup!.check(pair.id, qaKey, signature, bands);
      if (d.kind === 'duplicate') {
        pair.verdicts.push({ check: 'dedup', pass: false, reason: 'duplicate', detail: `same question and answer as ${d.of}` });
        reasons = ['duplicate'];
      } else {
        pair.verdicts.push({ check: 'dedup', pass: true, reason: null, detail: d.nearDupCluster ? `near-duplicate of cluster ${d.nearDupCluster}` : null });
        pair.nearDupCluster = d.nearDupCluster;
        const other = this.questions.check(pair.question, qaKey, pair.id);
        if (other !== null) {
          pair.verdicts.push({ check: 'ambiguity', pass: false, reason: 'ambiguous', detail: `same question as ${other} with a different answer` });
          reasons = ['ambiguous'];
        }
      }
    }
    const stored = { ...pair, qaKey } as QAPair;
    if (reasons.length) {
      for (const r of reasons) this.stValidate.reject(r);
      this.stStage.reject('rejected');
      const detail = pair.verdicts.filter((v) => !v.pass).map((v) => `${v.check}: ${v.detail ?? v.reason}`).join('; ');
      this.rejectBuf.push({ pair: stored, reasons, detail });
      this.counts.rejected++;
    } else {
      this.stValidate.kept++;
      this.stStage.kept++;
      this.stageBuf.push(stored);
      this.counts.staged++;
    }
  }

  /** Writes what is buffered: when the buffers are full, or everything when `force`. */
  async flush(force = false): Promise<void> {
    const t = performance.now();
    const s = this.stores;
    if (force || this.sourceBuf.length >= FLUSH_ROWS) {
      await s.addSources(this.sourceBuf, this.runId);
      this.sourceBuf = [];
    }
    if (force || this.stageBuf.length >= FLUSH_ROWS) {
      await s.stage(this.stageBuf, this.runId);
      this.stageBuf = [];
    }
    if (force || this.rejectBuf.length >= FLUSH_ROWS) {
      await s.reject(this.rejectBuf, this.runId);
      this.rejectBuf = [];
    }
    if (force) {
      const byCommit = new Map<string, SkipRecord[]>();
      for (const { skip, commit } of this.skipBuf) byCommit.set(commit, [...(byCommit.get(commit) ?? []), skip]);
      for (const [commit, skips] of byCommit) await s.addSkips(skips, this.runId, commit);
      this.skipBuf = [];
    }
    this.stStage.seconds += (performance.now() - t) / 1000;
  }

  /**
   * Ends a watch: the watched pairs that were not produced again (to retire), those that were (to
   * refresh), and the watched set itself (their first-seen commits).
   */
  endWatch(): { vanished: LivePair[]; reproduced: QAPair[]; live: Map<string, LivePair> } {
    const live = this.live;
    // A model is not asked again on a pass: its pair stays while the record it was written from does.
    const kept = (p: LivePair) => this.reproduced.has(p.id) || (p.modelWritten && this.seenRecords.has(packKey(p.sourceId)));
    const out = { vanished: [...live.values()].filter((p) => !kept(p)), reproduced: this.refresh, live };
    this.live = new Map();
    this.reproduced.clear();
    this.refresh = [];
    return out;
  }
}
