// What a run must remember about every pair, record and skip it has seen — known ids, exact
// duplicate keys, MinHash signatures and LSH buckets, questions — kept in files instead of on the
// heap, so the pair sink's memory does not grow with the repository.
//
// Each map is a file read and written with pread/pwrite (fs.readSync/writeSync at an offset), never
// memory-mapped, through a pool of cached 64 KiB pages of bounded size (192 MiB by default): a
// table that fits is read and written in memory, and a bigger one costs a pread per page missed,
// whose bytes the kernel keeps as page cache, not the process's resident memory. (An LMDB store was
// tried first: its reads go through a memory map, and every page they touch — with the kernel's
// fault-around, nearly the whole file — counts in the process's RSS, about 1.4 KB per pair on
// diffusers, with no bound. A syscall per lookup, the first version here, spent about 10 s of the
// main thread on a diffusers backfill.) Lookups are synchronous, as the sink's `knows` and `add`
// are. Writes wait in an in-memory overlay that is written out once all the maps' overlays hold
// `overlayLimit` entries together: that, the page pool, and the entries of keys too long for a
// slot (none in practice: ids and keys are 32-hex-digit content hashes), is all the memory holds.
//
// A keyed map is an open-addressing hash table (linear probing) of fixed-size slots: a state byte,
// a 16-byte key (a content hash's own 16 bytes, else a SHA-256 of the key), a length byte and the
// value. It doubles when 60 % of its slots are taken. A numeric map (`dense`) is an array of
// fixed-size records by index. The files are scratch space of one sink, in a directory under the
// data dir, unlinked as soon as they are open: a killed run leaves nothing behind, and `close()` (or
// the end of the process) frees them.
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { ByteMap, ByteMaps, MapOptions } from '../validators/dedup.js';

const EMPTY = new Uint8Array(0);
const GONE = null;
const FREE = 0;
const FULL = 1;
const DELETED = 2;
const KEY = 16;
// Slots read per probe: most lookups end in the first of them.
const PROBE = 8;

/** The 16 bytes a key is stored under: its own bytes when it is a packed content id (0 + 16 bytes), else a SHA-256 of it. */
function slotKey(k: Uint8Array | number): Buffer {
  if (typeof k === 'number') {
    // The first four bytes pick the slot: the integer's bits spread (murmur3's finaliser), then the integer itself.
    let h = k >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    const b = Buffer.alloc(KEY);
    b.writeUInt32LE((h ^ (h >>> 16)) >>> 0, 0);
    b.writeUInt32LE(k >>> 0, 4);
    b[15] = 0xfe;
    return b;
  }
  if (k.length === KEY + 1 && k[0] === 0) return Buffer.from(k.buffer, k.byteOffset + 1, KEY);
  return createHash('sha256').update(k).digest().subarray(0, KEY);
}

const PAGE = 64 * 1024;

/** A cached page of a scratch file. */
interface Page {
  file: ScratchFile;
  no: number;
  buf: Buffer;
  dirty: boolean;
  /** Used since the clock last passed it. */
  used: boolean;
}

/**
 * The pages of one index's files that are in memory: at most `limit` bytes. A page not used since
 * the last pass of the clock is written back (if changed) and dropped first (second chance: an
 * access only sets a flag). Reads and writes of slots are copies within it; only a page missing
 * from it costs a pread, and only an evicted changed page a pwrite. The bound is what keeps the
 * resident memory flat as the tables outgrow it.
 */
class PagePool {
  // In the order pages came in or were given a second chance, oldest first.
  private readonly queue = new Set<Page>();
  constructor(private readonly limit: number) {}

  add(p: Page): void {
    this.queue.add(p);
    while (this.queue.size * PAGE > this.limit && this.queue.size > 1) {
      const old = this.queue.values().next().value!;
      this.queue.delete(old);
      if (old.used) {
        old.used = false;
        this.queue.add(old);
      } else old.file.evict(old);
    }
  }

  drop(p: Page): void {
    this.queue.delete(p);
  }
}

/** Where a map's bytes are: one scratch file, unlinked once open, read and written through the pool. */
class ScratchFile {
  readonly fd: number;
  private readonly pages = new Map<number, Page>();
  /** Bytes written so far (the end of the last write): reads past it give nothing. */
  private size = 0;
  constructor(
    dir: string,
    name: string,
    private readonly pool: PagePool,
  ) {
    const path = join(dir, name);
    this.fd = openSync(path, 'w+');
    unlinkSync(path);
  }

  private page(no: number): Page {
    let p = this.pages.get(no);
    if (p) {
      p.used = true;
      return p;
    }
    // A page never written out reads as zeros (free slots).
    const buf = Buffer.alloc(PAGE);
    if (no * PAGE < this.size) readSync(this.fd, buf, 0, PAGE, no * PAGE);
    p = { file: this, no, buf, dirty: false, used: true };
    this.pages.set(no, p);
    this.pool.add(p);
    return p;
  }

  /** Called by the pool: the page leaves memory, written back first if it changed. */
  evict(p: Page): void {
    this.pages.delete(p.no);
    if (!p.dirty) return;
    let done = 0;
    while (done < PAGE) done += writeSync(this.fd, p.buf, done, PAGE - done, p.no * PAGE + done);
  }

  /** Copies the bytes at `pos` into `buf`; returns how many there were. */
  read(buf: Buffer, pos: number): number {
    const n = Math.max(0, Math.min(buf.length, this.size - pos));
    for (let done = 0; done < n; ) {
      const at = pos + done;
      const off = at % PAGE;
      const len = Math.min(n - done, PAGE - off);
      this.page((at - off) / PAGE).buf.copy(buf, done, off, off + len);
      done += len;
    }
    return n;
  }

  write(buf: Uint8Array, pos: number): void {
    for (let done = 0; done < buf.length; ) {
      const at = pos + done;
      const off = at % PAGE;
      const len = Math.min(buf.length - done, PAGE - off);
      const p = this.page((at - off) / PAGE);
      p.buf.set(buf.subarray(done, done + len), off);
      p.dirty = true;
      done += len;
    }
    this.size = Math.max(this.size, pos + buf.length);
  }

  close(): void {
    for (const p of this.pages.values()) this.pool.drop(p);
    this.pages.clear();
    closeSync(this.fd);
  }
}

/** One map: an overlay of pending writes over its file. */
export class DiskMap implements ByteMap {
  private overlay = new Map<string | number, Uint8Array | null>();
  // Values that do not fit a slot (never, for content-hash ids) stay here, on the heap.
  private oversized = new Map<string, Uint8Array>();
  private file: ScratchFile;
  private slots = 0;
  private used = 0;
  private readonly slotBytes: number;
  private readonly probe: Buffer;
  private readonly one: Buffer;

  constructor(
    private readonly index: KnownIndex,
    private readonly name: string,
    /** Largest value stored in the file. */
    private readonly maxValue: number,
    /** Keys are small integers: an array of records by index, not a hash table. */
    private readonly dense: boolean,
  ) {
    this.slotBytes = dense ? 2 + maxValue : 1 + KEY + 2 + maxValue;
    this.probe = Buffer.alloc(this.slotBytes * PROBE);
    this.one = Buffer.alloc(this.slotBytes);
    this.file = new ScratchFile(index.dir, `${name}.0`, index.pool);
    if (!dense) this.resize(1024);
  }

  private okey(k: Uint8Array | number): string | number {
    return typeof k === 'number' ? k : Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
  }

  get(k: Uint8Array | number): Uint8Array | undefined {
    const v = this.peek(k);
    return v === undefined ? undefined : Uint8Array.prototype.slice.call(v);
  }

  /** The value under a key; the bytes may be overwritten by the next read of this map. */
  peek(k: Uint8Array | number): Uint8Array | undefined {
    const o = this.overlay.get(this.okey(k));
    if (o !== undefined) return o === GONE ? undefined : o;
    return this.dense ? this.readDense(k as number) : this.readHashed(k);
  }

  has(k: Uint8Array | number): boolean {
    return this.peek(k) !== undefined;
  }

  put(k: Uint8Array | number, v: Uint8Array = EMPTY): void {
    this.overlay.set(this.okey(k), v);
    this.index.wrote();
  }

  delete(k: Uint8Array | number): void {
    this.overlay.set(this.okey(k), GONE);
    this.index.wrote();
  }

  get pending(): number {
    return this.overlay.size;
  }

  // A value in a slot: its length + 1 in two bytes (0: absent, 0xffff: kept on the heap), then its bytes.
  private decodeValue(slot: Buffer, at: number, okey: string): Uint8Array | undefined {
    const len = slot.readUInt16LE(at);
    if (len === 0) return undefined;
    if (len === 0xffff) return this.oversized.get(okey);
    return slot.subarray(at + 2, at + 1 + len);
  }

  private encodeValue(slot: Buffer, at: number, v: Uint8Array, okey: string): void {
    this.oversized.delete(okey);
    if (v.length <= this.maxValue && v.length < 0xfffe) {
      slot.writeUInt16LE(v.length + 1, at);
      slot.set(v, at + 2);
    } else {
      slot.writeUInt16LE(0xffff, at);
      this.oversized.set(okey, Uint8Array.prototype.slice.call(v));
    }
  }

  private readDense(i: number): Uint8Array | undefined {
    const n = this.file.read(this.one, i * this.slotBytes);
    if (n < this.slotBytes) return undefined;
    return this.decodeValue(this.one, 0, String(i));
  }

  /** Whether the slot the last find() offered for an insert held a deleted entry. */
  private reusesDeleted = false;

  /** The slot of a key (its index), or of the first free or deleted slot its probe met (-1 - index). */
  private find(key: Buffer): number {
    this.reusesDeleted = false;
    const mask = this.slots - 1;
    let i = key.readUInt32LE(0) & mask;
    let firstDeleted = -1;
    for (let probed = 0; probed < this.slots; ) {
      const run = Math.min(PROBE, this.slots - i);
      this.file.read(this.probe, i * this.slotBytes);
      for (let j = 0; j < run; j++, probed++) {
        const at = j * this.slotBytes;
        const state = this.probe[at];
        if (state === FREE) {
          this.reusesDeleted = firstDeleted >= 0;
          return -1 - (firstDeleted >= 0 ? firstDeleted : i + j);
        }
        if (state === DELETED) {
          if (firstDeleted < 0) firstDeleted = i + j;
          continue;
        }
        if (this.probe.compare(key, 0, KEY, at + 1, at + 1 + KEY) === 0) return i + j;
      }
      i = (i + run) & mask;
    }
    this.reusesDeleted = true;
    return -1 - firstDeleted;
  }

  private readHashed(k: Uint8Array | number): Uint8Array | undefined {
    const at = this.find(slotKey(k));
    if (at < 0) return undefined;
    this.file.read(this.one, at * this.slotBytes);
    return this.decodeValue(this.one, 1 + KEY, String(this.okey(k)));
  }

  /** Writes the overlay into the file. */
  writeOut(): void {
    if (this.dense) {
      for (const [o, v] of this.overlay) {
        const slot = Buffer.alloc(this.slotBytes);
        if (v !== GONE) this.encodeValue(slot, 0, v, String(o));
        else this.oversized.delete(String(o));
        this.file.write(slot, (o as number) * this.slotBytes);
      }
      this.overlay.clear();
      return;
    }
    for (const [o, v] of this.overlay) {
      const k = typeof o === 'number' ? o : Buffer.from(o, 'latin1');
      const key = slotKey(k);
      const at = this.find(key);
      if (v === GONE) {
        if (at >= 0) {
          this.file.write(Buffer.from([DELETED]), at * this.slotBytes);
          this.oversized.delete(String(o));
        }
        continue;
      }
      const slot = Buffer.alloc(this.slotBytes);
      slot[0] = FULL;
      key.copy(slot, 1);
      this.encodeValue(slot, 1 + KEY, v, String(o));
      if (at >= 0) this.file.write(slot, at * this.slotBytes);
      else {
        this.file.write(slot, (-1 - at) * this.slotBytes);
        // Taken slots count deleted ones too (probes pass them): a reused one adds nothing.
        if (!this.reusesDeleted) this.used++;
        if (this.used > this.slots * 0.6) this.resize(this.slots * 2);
      }
    }
    this.overlay.clear();
  }

  /** Moves every entry into a table of `slots` slots (a new file), dropping deleted ones. */
  private resize(slots: number): void {
    const old = this.file;
    const oldSlots = this.slots;
    this.file = new ScratchFile(this.index.dir, `${this.name}.${slots}`, this.index.pool);
    this.slots = slots;
    this.used = 0;
    // Sized at once: reads past what was written give zeros (free slots).
    this.file.write(Buffer.alloc(1), slots * this.slotBytes - 1);
    if (oldSlots) {
      const chunk = Buffer.alloc(this.slotBytes * 4096);
      for (let s = 0; s < oldSlots; s += 4096) {
        const n = Math.min(4096, oldSlots - s);
        old.read(chunk, s * this.slotBytes);
        for (let j = 0; j < n; j++) {
          const slot = chunk.subarray(j * this.slotBytes, (j + 1) * this.slotBytes);
          if (slot[0] !== FULL) continue;
          const at = this.find(slot.subarray(1, 1 + KEY) as Buffer);
          this.file.write(slot, (-1 - at) * this.slotBytes);
          this.used++;
        }
      }
    }
    old.close();
  }

  close(): void {
    this.file.close();
  }
}

export interface KnownIndexOptions {
  /** Directory under which the store's scratch directory is made. */
  dir: string;
  /** Entries the overlays hold together before they are written out (the heap bound). */
  overlayLimit?: number;
  /** Bytes of the files' pages kept in memory (the page pool's bound); default 192 MiB. */
  cacheBytes?: number;
}

// Directories of indexes still open: removed when the process exits (their files are already unlinked).
const openDirs = new Set<string>();
let exitHook = false;

/** The files of one sink: named maps, written out together. */
export class KnownIndex implements ByteMaps {
  private maps: DiskMap[] = [];
  private writes = 0;
  private readonly limit: number;
  private closed = false;
  readonly dir: string;
  readonly pool: PagePool;

  constructor(opts: KnownIndexOptions) {
    this.limit = opts.overlayLimit ?? 20_000;
    this.pool = new PagePool(opts.cacheBytes ?? 192 * 1024 * 1024);
    mkdirSync(opts.dir, { recursive: true });
    this.dir = mkdtempSync(join(opts.dir, 'known-'));
    openDirs.add(this.dir);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const d of openDirs) rmSync(d, { recursive: true, force: true });
      });
    }
  }

  /**
   * A map of keys to values of at most `maxValue` bytes (longer ones stay on the heap). Keys are
   * bytes or integers (`int`), hashed into a table, or small integers (`index`) of an array.
   */
  map(name: string, opts: MapOptions = {}): DiskMap {
    const m = new DiskMap(this, name, opts.maxValue ?? 40, opts.keys === 'index');
    this.maps.push(m);
    return m;
  }

  /** Counts a write; writes every overlay out once they hold `limit` entries together. */
  wrote(): void {
    if (++this.writes < this.limit) return;
    this.writeOut();
  }

  writeOut(): void {
    this.writes = 0;
    if (this.closed) return;
    for (const m of this.maps) m.writeOut();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.maps) m.close();
    rmSync(this.dir, { recursive: true, force: true });
    openDirs.delete(this.dir);
  }
}
