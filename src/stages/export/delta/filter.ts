import { hashBytes } from '../../../core/byteset.js';
import { ListDigest, type Recipe, recipeOf, sameRecipe } from '../../../core/delta.js';
import type { RowKeep } from '../../../core/out/export-rows.js';
import {
  canonicalString,
  KEY_ITEM,
  KEY_NAMES,
  KEY_NONE,
  KEY_USER,
  type KeyedLine,
  KeyScan,
  type KeyScanLines,
  KIND_SEGMENT,
  LINE_ERROR,
  LINE_OK,
  type OutKeyField,
  OutLineParser,
} from '../../../core/out-lines.js';
import { isBlank } from '../../collect/reading.js';
import { NoKeys } from './keys.js';
import { PrevTable, SEEN_ERROR, SEEN_OK, type SharedTable } from './table.js';

/**
 * export --since's table path in the export's own reading: each piece cut
 * to the lines the partition path would keep (keep.ts), decided line by
 * line against PREV's table (table.ts) on whichever thread converts the
 * piece, the conversion workers included. What the partition path would
 * stop at or decide otherwise (an invalid line, a key with two lines of
 * output, a key of another recipe, more new keys than the budget holds)
 * sets a reason in `state` instead; the export is then dropped and
 * --since goes the partition way (fast.ts).
 */

/** Why the table path gave up (state[GAVE_UP]); 0: it did not. */
export const GAVE_UP_INVALID = 1;
export const GAVE_UP_TWICE = 2;
export const GAVE_UP_RECIPE = 3;
export const GAVE_UP_FRESH = 4;
export const GAVE_UP_READ = 5;
export const GAVE_UP_SPLIT = 6;

/** state: Int32 words. */
export const GAVE_UP = 0;
const FRESH = 1;
const FENCE = 2;
export const STATE_WORDS = 4;

/**
 * A thread's row of counts (Float64): the decisions, the kept bytes, the
 * PREV entries it marked SEEN_OK, then per partition the keyed lines and
 * their key bytes.
 */
export const NEW = 0;
export const CHANGED = 1;
export const UNCHANGED = 2;
export const KEPT_BYTES = 3;
export const MARKED_OK = 4;
export const ENTRIES = 5;
export const KEY_BYTES = ENTRIES + 256;
export const ROW = KEY_BYTES + 256;

/** What a thread needs to filter pieces: the table, the shared counters, and the export's settings. */
export interface FilterSetup {
  table: SharedTable;
  state: SharedArrayBuffer;
  /** Float64 rows of ROW numbers, one a thread. */
  counts: SharedArrayBuffer;
  /** Float64: each new key's fingerprint (see fresh()). */
  fresh: SharedArrayBuffer;
  /** This thread's row: 0 the main thread, 1... the workers. */
  thread: number;
  top: number;
  scores: boolean;
  /** PREV is csv-long: a new key with no ids is not new (decide.ts). */
  prevLong: boolean;
  maxLineLength: number;
  recipe: Recipe;
}

const EMPTY = (() => {
  const d = new ListDigest();
  return [d.wordA(), d.wordB()];
})();

export class LineFilter implements RowKeep {
  private readonly table: PrevTable;
  private readonly state: Int32Array;
  private readonly row: Float64Array;
  private readonly freshKeys: Float64Array;
  private readonly lines: KeyScanLines | undefined;
  private readonly scan: KeyScan;
  private readonly parser = new OutLineParser();
  private readonly digests: NoKeys;
  /** The batch scan's fields of PREV's recipe. */
  private readonly fieldOk: boolean[];
  private newKeys = 0;
  private changed = 0;
  private unchanged = 0;
  private kept = 0;
  private markedOk = 0;
  private readonly entries = new Float64Array(256);
  private readonly keyBytes = new Float64Array(256);

  constructor(private readonly s: FilterSetup) {
    this.table = new PrevTable(s.table);
    this.state = new Int32Array(s.state);
    this.row = new Float64Array(s.counts, s.thread * ROW * 8, ROW);
    this.freshKeys = new Float64Array(s.fresh);
    this.digests = new NoKeys(s.scores);
    this.lines = this.digests.lineScanner(s.top);
    this.scan = new KeyScan(s.scores);
    this.fieldOk = [];
    this.fieldOk[KEY_USER] = sameRecipe(recipeOf('userId', false), s.recipe);
    this.fieldOk[KEY_ITEM] = sameRecipe(recipeOf('itemId', false), s.recipe);
  }

  /** The piece cut in place to its kept lines (blank lines dropped, each line with its own break). */
  apply(piece: Buffer): Buffer {
    const lines = this.lines;
    let w = 0;
    let p = 0;
    const keep = (s: number, next: number) => {
      if (w !== s) piece.copyWithin(w, s, next);
      w += next - s;
      this.countKept(piece, s, next);
    };
    while (p < piece.length) {
      // Scores only counted: a kept line's are read by the export, a dropped line's below.
      const n = lines ? lines.scan(piece, p, true) : 0;
      if (n === 0) {
        // One line by itself: no batch scan, or the line is longer than its window.
        let nl = piece.indexOf(10, p);
        const next = nl === -1 ? piece.length : nl + 1;
        if (nl === -1) nl = piece.length;
        if (this.slow(piece, p, nl > p && piece[nl - 1] === 13 ? nl - 1 : nl)) keep(p, next);
        p = next;
        continue;
      }
      const ls = lines as KeyScanLines;
      const max = this.s.maxLineLength;
      for (let i = 0; i < n; i++) {
        const s = ls.start(i);
        const e = ls.end(i);
        const field = ls.field(i);
        let take: boolean;
        if (field !== KEY_NONE && e - s <= max && this.fieldOk[field] === true) {
          take = this.decide(
            piece,
            ls.keyStart(i),
            ls.keyEnd(i),
            ls.keyHash(i),
            ls.digestA(i),
            ls.digestB(i),
          );
          // A dropped line's scores not being JSON numbers is the invalid line the parser would have stopped at.
          if (!take && ls.lazy(i) && !ls.strict(i)) this.giveUp(GAVE_UP_INVALID);
        } else take = this.slow(piece, s, e);
        if (take) keep(s, ls.next(i));
      }
      p = ls.next(n - 1);
    }
    this.flush();
    return piece.subarray(0, w);
  }

  /**
   * Whether the export may decide in its own scan instead (RowKeep: the
   * converter asks each line as it writes it, and export-rows.wat digests
   * the ids it reads anyway): the same --top, no scores in the digest, and
   * the export's key field one of PREV's recipe.
   */
  fusable(keyField: 'userId' | 'itemId', top: number, maxLineLength: number): boolean {
    return (
      !this.s.scores &&
      top === this.s.top &&
      maxLineLength === this.s.maxLineLength &&
      this.fieldOk[keyField === 'userId' ? KEY_USER : KEY_ITEM] === true
    );
  }

  /** RowKeep: a line export-rows.wat took whole (a valid line of the export's key field). */
  taken(
    mem: Uint8Array,
    s: number,
    next: number,
    ks: number,
    ke: number,
    h: number,
    a: number,
    b: number,
  ): boolean {
    if (!this.decide(mem, ks, ke, h >>> 0, a, b)) return false;
    this.countKept(mem, s, next);
    return true;
  }

  /** RowKeep: any other line, as apply() takes a line its batch scan did not. */
  line(piece: Uint8Array, s: number, e: number, next: number): boolean {
    if (!this.slow(piece as Buffer, s, e)) return false;
    this.countKept(piece, s, next);
    return true;
  }

  /** A kept line buf[s, next) in the kept bytes: a last line without its LF counted with one, as keep.ts gives it. */
  private countKept(buf: Uint8Array, s: number, next: number): void {
    this.kept += next - s + (buf[next - 1] === 10 ? 0 : 1);
  }

  /** RowKeep: the piece's counts to the thread's row. */
  done(): void {
    this.flush();
  }

  /** Whether the state says to give up (any thread's finding). */
  gaveUp(): number {
    return Atomics.load(this.state, GAVE_UP);
  }

  private giveUp(why: number): false {
    Atomics.compareExchange(this.state, GAVE_UP, 0, why);
    return false;
  }

  /** A keyed line with output: new, changed or unchanged against PREV; true to keep it. */
  private decide(buf: Uint8Array, ks: number, ke: number, hash: number, a: number, b: number): boolean {
    this.count(hash, ke - ks);
    const t = this.table;
    const o = t.find(buf, ks, ke, hash);
    if (o >= 0) {
      if ((t.mark(o, SEEN_OK) & SEEN_OK) !== 0) return this.giveUp(GAVE_UP_TWICE);
      this.markedOk++;
      if (t.same(o, a, b)) {
        this.unchanged++;
        return false;
      }
      this.changed++;
      return true;
    }
    if (!this.fresh(buf, ks, ke, hash)) return false;
    if (this.s.prevLong && a >>> 0 === EMPTY[0] && b >>> 0 === EMPTY[1]) {
      this.unchanged++;
      return false;
    }
    this.newKeys++;
    return true;
  }

  /**
   * A new key's fingerprint (its hash and 21 bits of another), kept for
   * end()'s check that no key had two lines of output: two equal ones send
   * --since the partition way, which tells a repeated key from a collision.
   */
  private fresh(buf: Uint8Array, ks: number, ke: number, hash: number): boolean {
    const i = Atomics.add(this.state, FRESH, 1);
    if (i >= this.freshKeys.length) return this.giveUp(GAVE_UP_FRESH);
    this.freshKeys[i] = (hash >>> 0) * 2097152 + (hashBytes(buf, ks, ke, 0x5bd1e995) >>> 11);
    return true;
  }

  /** A keyed line in the partitions' counts (for end()'s check that none would have been split). */
  private count(hash: number, keyBytes: number): void {
    const part = hash >>> 24;
    this.entries[part]++;
    this.keyBytes[part] += keyBytes;
  }

  /** A line the batch scan did not take: by the key scan or the parser, as current.ts takes it. */
  private slow(piece: Buffer, s: number, e: number): boolean {
    if (e - s > this.s.maxLineLength) return this.giveUp(GAVE_UP_INVALID);
    if (isBlank(piece, s, e)) return false;
    let got: KeyedLine = this.scan;
    let status = LINE_OK;
    if (!this.scan.scan(piece, s, e)) {
      status = this.parser.parse(piece, s, e);
      got = this.parser;
    }
    if (status !== LINE_OK && status !== LINE_ERROR) return this.giveUp(GAVE_UP_INVALID);
    if (got.keyField === KEY_NONE) return true;
    let key: Uint8Array = piece;
    let ks = got.keyStart;
    let ke = got.keyEnd;
    if (got.keyEscaped) {
      key = canonicalString(piece, ks, ke, true);
      ks = 0;
      ke = key.length;
    }
    const hash = hashBytes(key, ks, ke);
    if (status === LINE_ERROR) {
      // Kept whatever PREV holds; a PREV key with no line of output but this one has failed, not gone.
      this.count(hash, ke - ks);
      const o = this.table.find(key, ks, ke, hash);
      if (o >= 0) this.table.mark(o, SEEN_ERROR);
      return true;
    }
    const recipe = recipeOf(KEY_NAMES[got.keyField] as OutKeyField, got.kind === KIND_SEGMENT);
    if (!sameRecipe(recipe, this.s.recipe)) return this.giveUp(GAVE_UP_RECIPE);
    const d = this.digests;
    d.outLine(got, piece, this.s.top);
    return this.decide(key, ks, ke, hash, d.digest.wordA(), d.digest.wordB());
  }

  /** This piece's counts into the thread's row, then a fence: the main thread reads the rows once the pass is done. */
  private flush(): void {
    const r = this.row;
    r[NEW] = (r[NEW] as number) + this.newKeys;
    r[CHANGED] = (r[CHANGED] as number) + this.changed;
    r[UNCHANGED] = (r[UNCHANGED] as number) + this.unchanged;
    r[KEPT_BYTES] = (r[KEPT_BYTES] as number) + this.kept;
    r[MARKED_OK] = (r[MARKED_OK] as number) + this.markedOk;
    this.newKeys = 0;
    this.changed = 0;
    this.unchanged = 0;
    this.kept = 0;
    this.markedOk = 0;
    for (let i = 0; i < 256; i++) {
      if (this.entries[i] === 0) continue;
      r[ENTRIES + i] = (r[ENTRIES + i] as number) + (this.entries[i] as number);
      r[KEY_BYTES + i] = (r[KEY_BYTES + i] as number) + (this.keyBytes[i] as number);
      this.entries[i] = 0;
      this.keyBytes[i] = 0;
    }
    Atomics.add(this.state, FENCE, 1);
  }
}

/** Reads a fresh key count (the fence first). */
export function freshCount(state: Int32Array): number {
  Atomics.load(state, FENCE);
  return Atomics.load(state, FRESH);
}

/** Clears the counts of a pass that starts over (not the reason to give up: that holds for the export). */
export function resetCounts(state: Int32Array, counts: Float64Array): void {
  Atomics.store(state, FRESH, 0);
  counts.fill(0);
}
