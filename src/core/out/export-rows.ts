import type { Catalog } from '../catalog.js';
import type { ConvertConfig, Layout } from './convert-config.js';
import type { ConvertCounts } from './convert-result.js';
import { WASM_BASE64 } from './export-rows-wasm.js';
import type { RowWriter } from './row-writer.js';
import type { UserGroupPass } from './user-groups.js';

/**
 * The service's usual lines straight to rows in WebAssembly
 * (export-rows.wat): the scan and the row loop of a conversion in one call
 * over a window of the piece, about a third of their time in JavaScript.
 * Only for exports whose rows it writes exactly as the JavaScript writers
 * do (no reasons, themes or segments; see WasmRows.usable; a users join
 * through the `user` import, see join(); a catalog through the `items`
 * import, see items()); any
 * line it does not take whole it leaves to the Converter's line loop
 * (the parser, error lines, invalid lines, escapes, spaced JSON).
 * test/core/out-lines.test.ts holds the two paths to the same bytes.
 */

/** export-rows.wat's layout. */
const CAP = 0x100000;
const STATE = 0x141000;
const GROUPS = 0x141100;
const OUT = 0x150000;
const USER = 0x560000;
/** The most bytes of user cells the module takes; a users table with longer rows leaves its lines to JavaScript. */
const USER_CAP = 0x10000 - 64;
const HASHES = 0x580000;
const ENTRY = 0x588000;
const CAT = 0x590000;
/** A cache entry's header (see export-rows.wat). */
const HEAD = 12;
/**
 * The most bytes of a line's catalog cells the module takes (export-rows.wat
 * refuses a line that may write more: JavaScript writes it); a catalog whose
 * longest record passes it takes the JavaScript path.
 */
const CAT_CAP = 0x100000 - 64;
/** The IDS region's spans (start, end) as i32s. */
const IDS = 0x110000;
/** Why rows() stopped: a line it refused, the window's end, OUT full. */
const REFUSED = 0;
const WINDOW = 1;

/**
 * `export --since`'s keep decision, asked line by line while a piece is
 * converted (delta/filter.ts LineFilter): a line dropped is counted
 * nowhere, as if the piece had been cut to its kept lines before.
 */
export interface RowKeep {
  /**
   * A line export-rows.wat took whole: mem[s, next) with its key mem[ks, ke),
   * the key's hashBytes and the digest of its first --top ids; true to keep it.
   */
  taken(
    mem: Uint8Array,
    s: number,
    next: number,
    ks: number,
    ke: number,
    h: number,
    a: number,
    b: number,
  ): boolean;
  /** Any other line, piece[s, e) (its CR left out), the next one at `next`; true to keep it. */
  line(piece: Uint8Array, s: number, e: number, next: number): boolean;
  /** The piece is done: its counts to where the pass adds them up. */
  done(): void;
}

interface RowsExports {
  memory: WebAssembly.Memory;
  setup(
    fmt: number,
    withScore: number,
    guard: number,
    crlf: number,
    top: number,
    width: number,
    keyField: number,
    maxLine: number,
    scoresOk: number,
  ): void;
  rows(len: number, atEnd: number, from: number): number;
  join(join: number, userMax: number, passMode: number, group: number): void;
  since(on: number): void;
  catalog(on: number, max: number, columns: number, mask: number, shift: number, colBytes: number): void;
}

let wasmModule: WebAssembly.Module | undefined;

export class WasmRows {
  private readonly wasm: RowsExports;
  private readonly mem: Uint8Array;
  private readonly state: Int32Array;
  /** The window: piece[base, base + len) at IN. */
  private piece: Uint8Array | undefined;
  private base = 0;
  private len = 0;
  /** The users join of the piece being converted (see join()): the table, the writer and counts it adds to. */
  private users: Catalog | undefined;
  private rowsOut: RowWriter | undefined;
  private counts: ConvertCounts | undefined;
  private readonly long: boolean;
  private readonly json: boolean;
  private readonly required: boolean;
  /** The GROUPS table as last written, to write it again only when a pass changes it. */
  private groupsOf: readonly number[] | undefined;
  /** --since's decision for the piece being converted (see keep()). */
  private keeper: RowKeep | undefined;
  /** The catalog join (see items()), the module's memory as i32s; csv-wide: an entry's column ends' bytes. */
  private readonly catalog: Catalog | undefined;
  private readonly ints: Int32Array;
  private readonly colBytes: number = 0;
  /** CACHE's entry size: entries that fit it are cached (see export-rows.wat). */
  private readonly slotBytes: number = 0;

  /**
   * The most bytes of CACHE's entries a conversion thread's module holds:
   * 32 MiB (and a sixteenth of it or less for their tags). Its sets hold
   * four entries of 64, 128 or 256 bytes (the smallest that takes the
   * longest record and id); a catalog gets a set per two items (at least
   * 256), so that few of them contend for one: 16 MiB for 100,000 items of
   * 64-byte entries, the cap for 100,000 of 128 bytes (jsonl's fields) or
   * for 200,000 and more. Tests make it small to see entries evicted and a
   * line's ids sharing a set.
   */
  static maxCacheBytes = 1 << 25;

  /** Whether this export's rows are ones the module writes (else every line takes the JavaScript path). */
  static usable(cfg: ConvertConfig, catalog: Catalog | undefined): boolean {
    const l = cfg.layout;
    return (
      l !== undefined &&
      !cfg.measure &&
      !cfg.parquet &&
      // A cache entry counts its cut cells in a byte.
      (catalog === undefined || (catalogMax(cfg, catalog) <= CAT_CAP && catalog.columns <= 255)) &&
      !l.users &&
      !l.reason &&
      !l.theme &&
      (l.keyField === 'userId' || l.keyField === 'itemId')
    );
  }

  constructor(cfg: ConvertConfig, catalog?: Catalog) {
    const layout = cfg.layout as Layout;
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    const user = (ks: number, ke: number, h: number, count: number) => this.user(ks, ke, h, count);
    const keep = (s: number, next: number, ks: number, ke: number, h: number, a: number, b: number) =>
      (this.keeper as RowKeep).taken(this.mem, s, next, ks, ke, h, a, b) ? 1 : 0;
    const items = (count: number) => this.items(count);
    this.wasm = new WebAssembly.Instance(wasmModule, { env: { user, keep, items } })
      .exports as unknown as RowsExports;
    let sets = 0;
    let shift = 6;
    if (catalog) {
      if (cfg.format === 'csv-wide') this.colBytes = 4 * catalog.columns;
      const entry = HEAD + catalogMax(cfg, catalog) + this.colBytes + catalog.maxKeyBytes;
      while (shift < 8 && entry > 1 << shift) shift++;
      this.slotBytes = 1 << shift;
      const most = Math.max(1, Math.floor(WasmRows.maxCacheBytes / (4 << shift)));
      sets = 256;
      while (2 * sets < catalog.size && sets < most) sets *= 2;
      sets = Math.min(sets, 2 ** Math.floor(Math.log2(most)));
      // CACHE past the fixed layout: tags, entries, and 16 bytes' slack for the key compare's reads.
      this.wasm.memory.grow(Math.ceil((sets * 16 + sets * (4 << shift) + 16) / 0x10000));
    }
    // Grown once above, before these views are made: they never go stale.
    this.mem = new Uint8Array(this.wasm.memory.buffer);
    this.ints = new Int32Array(this.wasm.memory.buffer);
    this.state = new Int32Array(this.wasm.memory.buffer, STATE, 9);
    this.long = cfg.format === 'csv-long';
    this.json = cfg.format === 'jsonl';
    this.catalog = catalog;
    if (catalog)
      this.wasm.catalog(1, catalogMax(cfg, catalog), catalog.columns, sets - 1, shift, this.colBytes);
    this.required = cfg.usersRequired;
    this.wasm.setup(
      cfg.format === 'csv-long' ? 0 : cfg.format === 'csv-wide' ? 1 : 2,
      layout.score ? 1 : 0,
      cfg.escapeFormulas ? 1 : 0,
      cfg.crlf ? 1 : 0,
      cfg.top,
      cfg.width,
      layout.keyField === 'userId' ? 1 : 2,
      Math.min(cfg.maxLineLength, 0x7fffffff),
      // An optimistic csv-wide without a score column stops at a line with scores: JavaScript says so.
      layout.score || !cfg.optimistic ? 1 : 0,
    );
  }

  /** A new piece (a slot's buffer is reused for the next piece: the window is stale). */
  begin(): void {
    this.piece = undefined;
  }

  /** Sets --since's decision for the piece (none: undefined, every line taken is written). */
  keep(keeper: RowKeep | undefined): void {
    if ((keeper === undefined) !== (this.keeper === undefined)) this.wasm.since(keeper ? 1 : 0);
    this.keeper = keeper;
  }

  /**
   * Sets the piece's users join (none: undefined) and pass of a join on
   * disk; false when the module cannot write it (rows too long for USER,
   * groups it has no table for): the piece then takes the JavaScript path.
   * Each line is asked of user() as it is written, the rest as
   * Converter.line and otherGroup do: the same counts, the same cells.
   */
  join(
    users: Catalog | undefined,
    pass: UserGroupPass | undefined,
    layout: Layout,
    rows: RowWriter,
    counts: ConvertCounts,
  ): boolean {
    this.users = users;
    this.rowsOut = rows;
    this.counts = counts;
    if (!users) {
      if (pass) return false;
      this.wasm.join(0, 0, 0, 0);
      return true;
    }
    const userMax = this.json ? users.maxJsonBytes : users.maxRecordBytes + users.columns;
    if (userMax > USER_CAP) return false;
    let mode = 0;
    if (pass) {
      // Groups by the user key's hash: a line keyed by item id is group 0 (parsedGroup), left to JavaScript.
      if (layout.keyField !== 'userId' || pass.groupOf.length !== 256) return false;
      if (pass.groupOf !== this.groupsOf) {
        for (let f = 0; f < 256; f++) this.mem[GROUPS + f] = pass.groupOf[f] as number;
        this.groupsOf = pass.groupOf;
      }
      mode = !pass.first && pass.scan ? 2 : 1;
    }
    this.wasm.join(1, userMax, mode, pass?.group ?? 0);
    return true;
  }

  /**
   * The `user` import: the line's user cells (csv) or fields (jsonl) to
   * USER, their length; -1 for a line --users-required drops.
   */
  private user(ks: number, ke: number, h: number, count: number): number {
    const users = this.users as Catalog;
    const c = this.counts as ConvertCounts;
    const mem = this.mem;
    const item = users.lookupHashed(mem, ks, ke, h);
    if (item < 0) {
      c.usersMissing++;
      if (this.required) {
        c.usersDropped++;
        return -1;
      }
    }
    if (this.json) return users.copyJson(item, mem, USER) - USER;
    let at = USER;
    let cut = 0;
    for (let col = 0; col < users.columns; col++) {
      mem[at++] = 44; // ,
      if (item >= 0) {
        at = users.copyCell(item, col, mem, at);
        if (users.cutValues > 0 && users.isCut(item, col)) cut++;
      }
    }
    if (cut > 0) (this.rowsOut as RowWriter).cellsCut += this.long ? cut * count : cut;
    return at - USER;
  }

  /**
   * The `items` import: the line's ids (spans in IDS, hashes in HASHES)
   * whose ENTRY is 0, looked up in the catalog, their entries written to CAT
   * and to ENTRY (the module counts their flags, then caches them).
   */
  private items(count: number): number {
    const cat = this.catalog as Catalog;
    const mem = this.mem;
    const ints = this.ints;
    let at = CAT;
    for (let i = 0; i < count; i++) {
      if (ints[(ENTRY >> 2) + i] !== 0) continue;
      const s = ints[(IDS >> 2) + 2 * i] as number;
      const e = ints[(IDS >> 2) + 2 * i + 1] as number;
      const h = ints[(HASHES >> 2) + i] as number;
      let end = this.record(cat, cat.lookupHashed(mem, s, e, h), at + HEAD);
      const len = end - at - HEAD;
      // csv-wide: where each column's cells end in the record, for the columns' blocks.
      if (this.colBytes > 0)
        for (let col = 0; col < cat.columns; col++) {
          const v = this.ends[col] as number;
          mem[end++] = v & 0xff;
          mem[end++] = (v >> 8) & 0xff;
          mem[end++] = (v >> 16) & 0xff;
          mem[end++] = v >>> 24;
        }
      // The key last, when the entry would fit a cache slot; else none (0xffff).
      let keyLen = 0xffff;
      if (HEAD + len + this.colBytes + (e - s) <= this.slotBytes) {
        keyLen = e - s;
        for (let k = s; k < e; k++) mem[end++] = mem[k] as number;
      }
      ints[at >> 2] = h;
      ints[(at >> 2) + 1] = len;
      mem[at + 8] = keyLen & 0xff;
      mem[at + 9] = keyLen >> 8;
      mem[at + 10] = this.missing ? 3 : 1;
      mem[at + 11] = this.cut;
      ints[(ENTRY >> 2) + i] = at;
      // Entries 4-byte aligned (their header's i32s).
      at = (end + 3) & ~3;
    }
    return 0;
  }

  /** What record() found: the item missing from the catalog, its cells cut, each column's end in the record. */
  private missing = false;
  private cut = 0;
  private ends = new Int32Array(256);

  /** An item's record (csv ",a,b", jsonl its fields; -1: empty cells or nulls) at `at`; returns its end. */
  private record(cat: Catalog, item: number, at: number): number {
    const mem = this.mem;
    this.missing = item < 0;
    this.cut = 0;
    if (this.json) return cat.copyJson(item, mem, at);
    let o = at;
    for (let col = 0; col < cat.columns; col++) {
      mem[o++] = 44; // ,
      if (item >= 0) {
        o = cat.copyCell(item, col, mem, o);
        if (cat.cutValues > 0 && cat.isCut(item, col)) this.cut++;
      }
      this.ends[col] = o - at;
    }
    return o;
  }

  /**
   * Converts the lines of piece[p, ...) the module takes, their rows
   * appended to `rows` and counted; returns the first line it left (the
   * caller converts it, then calls again past it), or the piece's end.
   */
  run(piece: Uint8Array, from: number, rows: RowWriter, c: ConvertCounts, layout: Layout): number {
    const n = piece.length;
    let p = from;
    for (;;) {
      if (piece !== this.piece || p < this.base || p >= this.base + this.len) this.load(piece, p);
      const stop = this.wasm.rows(this.len, this.base + this.len === n ? 1 : 0, p - this.base) + this.base;
      this.take(rows, c, layout);
      if (stop >= n || (this.state[5] as number) === REFUSED) return stop;
      // The window's end: a line longer than a window goes to JavaScript; else the window moves to it.
      if ((this.state[5] as number) === WINDOW) {
        if (stop === this.base) return stop;
        this.load(piece, stop);
      }
      p = stop;
    }
  }

  private load(piece: Uint8Array, p: number): void {
    const len = Math.min(CAP, piece.length - p);
    this.mem.set(piece.subarray(p, p + len), 0);
    this.mem[len] = 0;
    this.piece = piece;
    this.base = p;
    this.len = len;
  }

  /** The rows written to OUT into the row writer, and what they count. */
  private take(rows: RowWriter, c: ConvertCounts, layout: Layout): void {
    const st = this.state;
    const bytes = st[0] as number;
    const lines = st[1] as number;
    c.catalogMissing += st[7] as number;
    rows.cellsCut += st[8] as number;
    if (lines === 0) {
      c.lines += st[6] as number;
      return;
    }
    rows.ensure(bytes);
    rows.out.set(this.mem.subarray(OUT, OUT + bytes), rows.at);
    rows.at += bytes;
    c.lines += lines + (st[6] as number);
    c.records += lines;
    c.rows += st[2] as number;
    const scored = st[3] as number;
    if (scored > 0) {
      c.sawScores = true;
      if (!layout.score) c.droppedScores += scored;
    }
    if ((st[4] as number) > c.maxWidth) c.maxWidth = st[4] as number;
  }
}

/** The most bytes a row's catalog cells take: CSV its longest record and the commas, jsonl its longest fragment. */
function catalogMax(cfg: ConvertConfig, catalog: Catalog): number {
  return cfg.format === 'jsonl' ? catalog.maxJsonBytes : catalog.maxRecordBytes + catalog.columns;
}
