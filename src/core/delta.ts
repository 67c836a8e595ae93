import { usage } from '../errors.js';
import { fmix } from './byteset.js';
import { FORMULA_CHARS } from './csv-cell.js';
import type { OutKeyField } from './out-lines.js';

/**
 * The pure parts of `export --since`: what a key's recommendations are
 * compared by (a 64-bit digest of its ordered ids, and scores when asked),
 * what recipe an export's columns belong to, and a CSV cell read back as the
 * id it was written from.
 */

/** Marks in a word's top byte that no id's bytes put there (0xfe, 0xff: never in UTF-8). */
const SCORE_MARK = 0xfe000000;
const SCORE_CHAR = 0xff000000;

/**
 * A key's ordered list as two 32-bit hashes over its bytes taken four at a
 * time (each word scrambled as murmur3 does, then an FNV step for one half
 * and a murmur3 step for the other, each with murmur3's finaliser): a
 * change goes unseen only when both collide for that key. An id ends with
 * a word of its last 0 to 3 bytes and their count in the top byte, a byte
 * (0 to 3) that a whole word of an id's canonical JSON text never has
 * there (control characters are escaped), so ["ab","c"] and ["a","bc"]
 * digest apart. Word at a time: a byte at a time was a sixth of the keys'
 * pass.
 */
export class ListDigest {
  private a = 0;
  private b = 0;
  count = 0;

  reset(): void {
    this.a = 0x811c9dc5;
    this.b = 0x9747b28c;
    this.count = 0;
  }

  constructor() {
    this.reset();
  }

  /** An id's bytes: its canonical JSON string content (what JSON.stringify writes between the quotes). */
  id(buf: Uint8Array, start: number, end: number): void {
    let a = this.a;
    let b = this.b;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      let k =
        (buf[i] as number) |
        ((buf[i + 1] as number) << 8) |
        ((buf[i + 2] as number) << 16) |
        ((buf[i + 3] as number) << 24);
      k = Math.imul(k, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      a = Math.imul(a ^ k, 0x01000193);
      b ^= k;
      b = (Math.imul((b << 13) | (b >>> 19), 5) + 0xe6546b64) | 0;
    }
    let tail = (end - i) << 24;
    for (let shift = 0; i < end; i++, shift += 8) tail |= (buf[i] as number) << shift;
    this.a = a;
    this.b = b;
    this.word(tail);
    this.count++;
  }

  /** A score, as its number's shortest text (`0.10` and `0.1` are one score; null is `null`). */
  score(text: string): void {
    this.word(SCORE_MARK | text.length);
    for (let i = 0; i < text.length; i++) this.word(SCORE_CHAR | (text.charCodeAt(i) & 0xffff));
  }

  private word(w: number): void {
    let k = Math.imul(w, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    this.a = Math.imul(this.a ^ k, 0x01000193);
    const b = this.b ^ k;
    this.b = (Math.imul((b << 13) | (b >>> 19), 5) + 0xe6546b64) | 0;
  }

  /** The digest's first word (what hex() writes first; KeyScanLines' digestA). */
  wordA(): number {
    return fmix(this.a ^ this.count);
  }

  /** Its second word. */
  wordB(): number {
    return fmix(this.b);
  }

  /** hex() written as bytes at buf[at] (the report's partitions take it so, without a string per key). */
  hexInto(buf: Uint8Array, at: number): void {
    digestHexInto(this.wordA(), this.wordB(), buf, at);
  }

  /** 16 hex digits (the count of ids mixed in). */
  hex(): string {
    return (
      fmix(this.a ^ this.count)
        .toString(16)
        .padStart(8, '0') + fmix(this.b).toString(16).padStart(8, '0')
    );
  }
}

const HEX = Buffer.from('0123456789abcdef');

/** A digest's two final words (hexInto's, or KeyScanLines') as its 16 hex digits at buf[at]. */
export function digestHexInto(a: number, b: number, buf: Uint8Array, at: number): void {
  hexBytes(a, buf, at);
  hexBytes(b, buf, at + 8);
}

function hexBytes(v: number, buf: Uint8Array, at: number): void {
  for (let i = 7; i >= 0; i--) buf[at + 7 - i] = HEX[(v >>> (4 * i)) & 15] as number;
}

/** The digest of an empty list (a csv-long export has no row for such a key). */
export const EMPTY_DIGEST = new ListDigest().hex();

/** A score's text as compared: the number's shortest form, `null` for none or text that is no number. */
export function scoreText(text: string | null | undefined): string {
  if (text === null || text === undefined || text.trim() === '') return 'null';
  const n = Number(text);
  return Number.isNaN(n) ? text : String(n);
}

/**
 * What an export's rows are: the key column and the recommended ids' kind,
 * as export names them (layout.ts: `source_item` keys related items).
 */
export interface Recipe {
  keyColumn: string;
  /** `itemId`, or `userId` for segments. */
  idName: 'itemId' | 'userId';
  /**
   * Written by export --map-users: related items mapped to users, keyed by
   * userId as a user-personalization export is, yet other lists.
   */
  mapped: boolean;
}

export function recipeOf(keyField: OutKeyField, users: boolean): Recipe {
  return {
    keyColumn: keyField === 'itemId' && !users ? 'source_item' : keyField,
    idName: users ? 'userId' : 'itemId',
    mapped: false,
  };
}

/** The recipe of what export --map-users writes. */
export const MAPPED_RECIPE: Recipe = { keyColumn: 'userId', idName: 'itemId', mapped: true };

export function sameRecipe(a: Recipe, b: Recipe): boolean {
  return a.keyColumn === b.keyColumn && a.idName === b.idName && a.mapped === b.mapped;
}

/** PREV of another recipe than the sources (export --since and report --since alike): a usage error. */
export function checkSameRecipe(prev: string, before: Recipe | undefined, now: Recipe | undefined): void {
  if (before && now && !sameRecipe(before, now))
    throw usage(
      `--since ${prev} holds another recipe's recommendations (${describeRecipe(before)}), the sources are ${describeRecipe(now)}: give the previous export, or the previous .out files, of the same recipe`,
    );
}

/**
 * PREV written with --map-users for an export without it, or the other way:
 * both are keyed by userId, and every user would count as changed. Known as
 * soon as PREV is read, before the sources are.
 */
export function checkMapped(prev: string, before: Recipe | undefined, mapUsers: boolean): void {
  if (!before || before.mapped === mapUsers) return;
  throw usage(
    mapUsers
      ? `--since ${prev} is not an export --map-users wrote (it is ${describeRecipe(before)}): with --map-users, --since takes the previous --map-users export`
      : `--since ${prev} is an export --map-users wrote (${describeRecipe(before)}): without --map-users, give the previous export written without it`,
  );
}

export function describeRecipe(r: Recipe): string {
  if (r.mapped) return 'userId -> itemId: related items mapped to users (--map-users)';
  const what =
    r.idName === 'userId'
      ? 'users for items (a segment)'
      : r.keyColumn === 'source_item'
        ? 'items for items (related items)'
        : r.keyColumn === 'userId'
          ? 'items for users'
          : `items for ${r.keyColumn}`;
  return `${r.keyColumn} -> ${r.idName}: ${what}`;
}

const KEY_COLUMNS = new Set(['userId', 'itemId', 'source_item', 'itemAttributes']);

/** Where a csv-long or csv-wide export keeps the key, the ids and their scores, by its header. */
export interface CsvShape {
  format: 'csv-long' | 'csv-wide';
  recipe: Recipe;
  /** csv-long: the id column and the score column (-1: none). */
  idCol: number;
  scoreCol: number;
  rankCol: number;
  /** csv-wide: the id_i columns and the score_i columns, in order. */
  idCols: number[];
  scoreCols: number[];
}

/** The shape of a header export writes (layout.ts's csvHeader), or undefined for any other header. */
export function csvShapeOf(header: readonly string[]): CsvShape | undefined {
  const key = header[0];
  if (key === undefined || !KEY_COLUMNS.has(key)) return undefined;
  if (header[1] === 'rank' && (header[2] === 'itemId' || header[2] === 'userId')) {
    const recipe = { keyColumn: key, idName: header[2], mapped: false } as Recipe;
    const score = header[3] === 'score' ? 3 : -1;
    return { format: 'csv-long', recipe, idCol: 2, scoreCol: score, rankCol: 1, idCols: [], scoreCols: [] };
  }
  // export --map-users' csv-long: the source item of each recommended item before its rank.
  if (key === 'userId' && header[1] === 'source_item' && header[2] === 'rank' && header[3] === 'itemId') {
    const recipe = MAPPED_RECIPE;
    const score = header[4] === 'score' ? 4 : -1;
    return { format: 'csv-long', recipe, idCol: 3, scoreCol: score, rankCol: 2, idCols: [], scoreCols: [] };
  }
  const numbered = (name: string) => {
    const cols: number[] = [];
    header.forEach((h, i) => {
      if (h === `${name}_${cols.length + 1}`) cols.push(i);
    });
    return cols;
  };
  const items = numbered('item');
  const users = numbered('user');
  const idCols = items.length > 0 ? items : users;
  if (idCols.length === 0 || (items.length > 0 && users.length > 0)) return undefined;
  // --map-users' csv-wide: each item's source_item_N after the item_N columns.
  const mapped = key === 'userId' && items.length > 0 && header.includes('source_item_1');
  const recipe: Recipe = mapped
    ? MAPPED_RECIPE
    : { keyColumn: key, idName: items.length > 0 ? 'itemId' : 'userId', mapped };
  const scoreCols = numbered('score');
  return { format: 'csv-wide', recipe, idCol: -1, scoreCol: -1, rankCol: -1, idCols, scoreCols };
}

/**
 * A CSV text cell read back as the id it was written from: export's formula
 * guard put a `'` before an id starting like a formula, so with the guard on
 * `'=x` is `=x` (an id that itself starts with `'` and a formula character
 * cannot be told apart; with --no-escape-formulas nothing is taken off).
 */
export function cellValue(cell: string, escapeFormulas: boolean): string {
  if (escapeFormulas && cell.length > 1 && cell[0] === "'" && FORMULA_CHARS.has(cell[1] as string))
    return cell.slice(1);
  return cell;
}

/** The canonical bytes of a string: what JSON.stringify writes between the quotes (the `.out` key's form). */
export function canonicalBytes(value: string): Buffer {
  return Buffer.from(JSON.stringify(value).slice(1, -1));
}
