import { ByteIndex, hashBytes, type SharedByteIndex } from './byteset.js';
import { csvCellCut } from './csv-cell.js';
import { decodeString } from './out-lines.js';

/** The most items a catalog may hold: it lives in memory (see Catalog). */
export const CATALOG_MAX_ITEMS = 5_000_000;

/**
 * A join table for the export, held in memory: item metadata (--catalog,
 * looked up per recommended item) or user attributes (--users, looked up
 * per line's user key). Ids in a
 * ByteIndex (looked up from the output line's bytes, no string per lookup)
 * and every value pre-rendered for the output format (a CSV cell with its
 * quoting and formula guard, or a JSON fragment) back to back in one arena.
 * Memory is about the ids and values' bytes plus 40 bytes an item; at the
 * 5-million-item cap with two 40-byte columns, about 700 MB.
 *
 * All of it lives in SharedArrayBuffers: the thread that loads the table
 * hands share() to each conversion worker once, and the worker's view()
 * reads the same memory (one table in memory whatever the threads).
 */
export class Catalog {
  readonly columns: number;
  /** Items held. */
  get size(): number {
    return this.index.size;
  }
  /** Bytes held: the ids' index, the values' arena and their offsets (what --memory-budget bounds). */
  get bytes(): number {
    return this.index.bytes + this.arenaCap + this.startsCap * 8;
  }
  /** Ids seen again (the first row of an id wins). */
  duplicates = 0;
  /** CSV: the longest item's cells together; JSON: the longest fragment. */
  maxRecordBytes = 0;
  maxCellBytes = 0;
  maxJsonBytes = 0;
  /** The longest id's bytes (export-rows.ts sizes its cache's entries by it). */
  maxKeyBytes = 0;
  private index: ByteIndex;
  private arena: Buffer;
  /** The arena's and the offsets' sizes as counted (bytes, slots): they grow by doubling, whatever `room` took. */
  private arenaCap: number;
  private startsCap: number;
  private top = 0;
  /** Start of each item's cell (CSV: item * columns + column) or fragment (JSON: item); one more for the end. */
  private starts: Float64Array;
  private readonly keys: string[];
  private readonly nullFragment: Buffer;
  /** Values cut to maxCellBytes (CSV), and a byte per cell (1: cut) once there is one. */
  cutValues = 0;
  private cut: Uint8Array | undefined;

  constructor(
    readonly names: readonly string[],
    private readonly json: boolean,
    private readonly escapeFormulas: boolean,
    readonly maxItems = CATALOG_MAX_ITEMS,
    /** CSV values cut to this many UTF-8 bytes; 0: none. */
    private readonly cutCellsAt = 0,
    /**
     * About how many items and bytes will come, when known (a partition of the users join): the
     * memory is taken once. Growing by doubling keeps each outgrown shared buffer alive until a
     * collection, and a join of ten partitions peaked at twice its budget that way.
     */
    expect?: { items: number; bytes: number },
    /**
     * Memory taken at once for the arenas and the offsets, up to this many bytes each, which
     * the system commits only as they are written (the users table's in-memory attempts,
     * room = --memory-budget). Growing by doubling left each outgrown buffer to a collection
     * that the loading thread's small heap rarely runs: up to the table's size again.
     */
    room = 0,
  ) {
    const slots = json ? 1 : names.length;
    const keys = expect && { keys: expect.items, keyBytes: Math.ceil(expect.bytes / 4) };
    this.index = new ByteIndex(keys, true, room);
    this.arenaCap = Math.max(1 << 20, expect?.bytes ?? 0);
    this.arena = sharedBytes(Math.max(this.arenaCap, room));
    this.startsCap = Math.max(1024, expect ? expect.items * slots + 1 : 0);
    this.starts = sharedFloats(Math.max(this.startsCap, Math.floor(room / 8)));
    this.columns = names.length;
    this.keys = names.map((n) => `,${JSON.stringify(n)}:`);
    this.nullFragment = Buffer.from(this.keys.map((k) => `${k}null`).join(''));
    this.maxJsonBytes = this.nullFragment.length;
  }

  /** Forgets every item and keeps the memory, so a users join on disk holds one table, not one per partition. */
  clear(): void {
    this.index.clear();
    this.top = 0;
    this.duplicates = 0;
    this.maxRecordBytes = 0;
    this.maxCellBytes = 0;
    this.maxKeyBytes = 0;
    this.maxJsonBytes = this.nullFragment.length;
    this.cutValues = 0;
    this.cut?.fill(0);
  }

  /** Adds an item; false when the id was there already (kept as it was) or the catalog is full. */
  add(id: string, values: readonly string[]): 'added' | 'duplicate' | 'full' {
    const key = Buffer.from(id);
    const item = this.insert(key, 0, key.length);
    if (item < 0) return item === DUPLICATE ? 'duplicate' : 'full';
    this.render(item, values);
    return 'added';
  }

  /**
   * add() for a key and values held as UTF-8 bytes (a users join's
   * partition, a row of the byte path): the key is key[ks, ke), value c is
   * src[starts[c], ends[c]). A CSV value with nothing to quote, guard or cut
   * is the cell itself and is copied as it is; any other value, or JSON, is
   * rendered from its string.
   */
  addBytes(
    key: Uint8Array,
    ks: number,
    ke: number,
    src: Buffer,
    starts: Int32Array,
    ends: Int32Array,
  ): 'added' | 'duplicate' | 'full' {
    const item = this.insert(key, ks, ke);
    if (item < 0) return item === DUPLICATE ? 'duplicate' : 'full';
    if (this.json || !this.plainCells(src, starts, ends)) {
      const values: string[] = [];
      for (let c = 0; c < this.columns; c++) values.push(src.toString('utf8', starts[c], ends[c]));
      this.render(item, values);
      return 'added';
    }
    let total = 0;
    for (let c = 0; c < this.columns; c++) {
      const s = starts[c] as number;
      const n = (ends[c] as number) - s;
      const slot = item * this.columns + c;
      const at = this.reserve(n);
      this.starts[slot] = at;
      // A byte loop for a short cell: Buffer.copy's call cost more than the bytes (a third of a load).
      if (n > 64) src.copy(this.arena, at, s, s + n);
      else {
        const arena = this.arena;
        for (let k = 0; k < n; k++) arena[at + k] = src[s + k] as number;
      }
      this.top = at + n;
      this.starts[slot + 1] = this.top;
      total += n;
      this.maxCellBytes = Math.max(this.maxCellBytes, n);
    }
    this.maxRecordBytes = Math.max(this.maxRecordBytes, total);
    return 'added';
  }

  /** Whether csvCellCut would give each value back unchanged: no quoting, no formula guard, no cut. */
  private plainCells(src: Buffer, starts: Int32Array, ends: Int32Array): boolean {
    const cutAt = this.cutCellsAt;
    for (let c = 0; c < this.columns; c++) {
      const s = starts[c] as number;
      const e = ends[c] as number;
      if (cutAt > 0 && e - s >= cutAt) return false;
      // csvCell's guard: = + - @ TAB CR, or a full-width one (its UTF-8 starts with 0xEF).
      if (this.escapeFormulas && e > s && GUARD_FIRST[src[s] as number] === 1) return false;
      for (let k = s; k < e; k++) if (QUOTED[src[k] as number] === 1) return false;
    }
    return true;
  }

  /** The item for a new key src[s, e); DUPLICATE (counted) or FULL when there is none. */
  private insert(src: Uint8Array, s: number, e: number): number {
    const h = hashBytes(src, s, e);
    const index = this.index;
    const full = index.size >= this.maxItems;
    // One look: add() gives a key it holds its id back, and the size tells which (a find first was a second look).
    const before = index.size;
    const item = full ? index.find(src, s, e, h) : index.add(src, s, e, h);
    if (full ? item >= 0 : index.size === before) {
      this.duplicates++;
      return DUPLICATE;
    }
    if (full) return FULL;
    if (e - s > this.maxKeyBytes) this.maxKeyBytes = e - s;
    const slots = this.json ? 1 : this.columns;
    const need = (item + 1) * slots + 1;
    if (need > this.startsCap) {
      this.startsCap = Math.max(need, this.startsCap * 2);
      if (this.startsCap > this.starts.length) {
        const next = sharedFloats(this.startsCap);
        next.set(this.starts);
        this.starts = next;
      }
    }
    return item;
  }

  /** An item's values rendered for the format: CSV cells (quoted, guarded, cut), or one JSON fragment. */
  private render(item: number, values: readonly string[]): void {
    if (this.json) {
      let frag = '';
      for (let c = 0; c < this.columns; c++) frag += this.keys[c] + JSON.stringify(values[c] ?? '');
      this.put(item, frag);
      this.maxJsonBytes = Math.max(this.maxJsonBytes, Buffer.byteLength(frag));
      return;
    }
    let total = 0;
    for (let c = 0; c < this.columns; c++) {
      const slot = item * this.columns + c;
      const { cell, cut } = csvCellCut(values[c] ?? '', this.escapeFormulas, this.cutCellsAt);
      if (cut) this.markCut(slot);
      const n = this.put(slot, cell);
      total += n;
      this.maxCellBytes = Math.max(this.maxCellBytes, n);
    }
    this.maxRecordBytes = Math.max(this.maxRecordBytes, total);
  }

  private markCut(slot: number): void {
    this.cutValues++;
    if (!this.cut || slot >= this.cut.length) {
      const next = new Uint8Array(new SharedArrayBuffer(Math.max(slot + 1, this.startsCap)));
      if (this.cut) next.set(this.cut);
      this.cut = next;
    }
    this.cut[slot] = 1;
  }

  /** Whether an item's value in a column was cut to maxCellBytes. */
  isCut(item: number, column: number): boolean {
    const slot = item * this.columns + column;
    return this.cut !== undefined && slot < this.cut.length && this.cut[slot] === 1;
  }

  private put(slot: number, text: string): number {
    const len = Buffer.byteLength(text);
    const at = this.reserve(len);
    this.starts[slot] = at;
    this.arena.write(text, at);
    this.top = at + len;
    this.starts[slot + 1] = this.top;
    return len;
  }

  /** Room for len more bytes in the arena (doubling it); returns where they go. */
  private reserve(len: number): number {
    if (this.top + len > this.arenaCap) {
      let cap = this.arenaCap * 2;
      while (this.top + len > cap) cap *= 2;
      this.arenaCap = cap;
      if (cap > this.arena.length) {
        const next = sharedBytes(cap);
        this.arena.copy(next, 0, 0, this.top);
        this.arena = next;
      }
    }
    return this.top;
  }

  /** What a worker needs for view(): the memory (shared, not copied) and the settings. */
  share(): SharedCatalog {
    return {
      names: [...this.names],
      json: this.json,
      escapeFormulas: this.escapeFormulas,
      maxItems: this.maxItems,
      cutCellsAt: this.cutCellsAt,
      index: this.index.share(),
      arena: this.arena.buffer as SharedArrayBuffer,
      top: this.top,
      starts: this.starts.buffer as SharedArrayBuffer,
      cut: this.cut?.buffer as SharedArrayBuffer | undefined,
      counts: {
        duplicates: this.duplicates,
        maxRecordBytes: this.maxRecordBytes,
        maxCellBytes: this.maxCellBytes,
        maxKeyBytes: this.maxKeyBytes,
        maxJsonBytes: this.maxJsonBytes,
        cutValues: this.cutValues,
      },
    };
  }

  /** A read-only Catalog over a loaded one's memory (on another thread): add() finds it full. */
  static view(s: SharedCatalog): Catalog {
    const c = new Catalog(s.names, s.json, s.escapeFormulas, 0, s.cutCellsAt);
    c.index = ByteIndex.view(s.index);
    c.arena = Buffer.from(s.arena);
    c.arenaCap = c.arena.length;
    c.top = s.top;
    c.starts = new Float64Array(s.starts);
    c.startsCap = c.starts.length;
    c.cut = s.cut && new Uint8Array(s.cut);
    Object.assign(c, s.counts);
    return c;
  }

  /** The item of the JSON string content buf[s, e), or -1. */
  lookup(buf: Uint8Array, s: number, e: number, escaped: boolean): number {
    if (escaped) {
      const key = Buffer.from(decodeString(buf, s, e));
      return this.index.find(key, 0, key.length, hashBytes(key, 0, key.length));
    }
    return this.index.find(buf, s, e, hashBytes(buf, s, e));
  }

  /** lookup() of unescaped bytes whose hashBytes is known (WebAssembly hashed them). */
  lookupHashed(buf: Uint8Array, s: number, e: number, hash: number): number {
    return this.index.find(buf, s, e, hash);
  }

  /** Copies an item's CSV cell for a column to out[at]; returns the new end. */
  copyCell(item: number, column: number, out: Uint8Array, at: number): number {
    const slot = item * this.columns + column;
    const s = this.starts[slot] as number;
    const e = this.starts[slot + 1] as number;
    const arena = this.arena;
    let o = at;
    for (let k = s; k < e; k++) out[o++] = arena[k] as number;
    return o;
  }

  /** Copies an item's JSON fragment (`,"title":"...",...`; nulls for -1) to out[at]; returns the new end. */
  copyJson(item: number, out: Uint8Array, at: number): number {
    const src = item < 0 ? this.nullFragment : this.arena;
    const s = item < 0 ? 0 : (this.starts[item] as number);
    const e = item < 0 ? this.nullFragment.length : (this.starts[item + 1] as number);
    let o = at;
    for (let k = s; k < e; k++) out[o++] = src[k] as number;
    return o;
  }
}

const DUPLICATE = -1;
const FULL = -2;

/** Bytes that make csvCell quote a value: `"`, `,`, CR, LF. */
const QUOTED = byteTable([34, 44, 13, 10]);
/** First bytes that may make csvCell guard a value: = + - @ TAB CR, and 0xEF (U+FF1D, U+FF0B, U+FF0D, U+FF20). */
const GUARD_FIRST = byteTable([61, 43, 45, 64, 9, 13, 0xef]);

function byteTable(bytes: number[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const b of bytes) t[b] = 1;
  return t;
}

/** A Catalog as a worker receives it: its buffers shared, its settings and counts copied. */
export interface SharedCatalog {
  names: string[];
  json: boolean;
  escapeFormulas: boolean;
  maxItems: number;
  cutCellsAt: number;
  index: SharedByteIndex;
  arena: SharedArrayBuffer;
  top: number;
  starts: SharedArrayBuffer;
  cut: SharedArrayBuffer | undefined;
  counts: Pick<
    Catalog,
    'duplicates' | 'maxRecordBytes' | 'maxCellBytes' | 'maxJsonBytes' | 'maxKeyBytes' | 'cutValues'
  >;
}

function sharedBytes(n: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(n));
}

function sharedFloats(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(n * 8));
}
