import { findColumn, ITEM_COLUMNS } from '../core/columns.js';
import { CLI_OPTION_NAMES, type OptionNames } from '../core/sniff.js';
import { PbError } from '../errors.js';
import { readRows } from '../io/rows.js';
import { openText } from '../io/text.js';
import { prng } from '../sample.js';

/**
 * The items the emulator recommends from. Held in memory, column by column:
 * it is configuration (an Items dataset export or a generated list), not job
 * input, and every recommendation needs random access to it.
 */
export interface Catalog {
  /** Where it came from: the Items file, or `generated (N items)`. */
  readonly source: string;
  /** Item ids in file order, without repeats. */
  readonly ids: readonly string[];
  /** Column names of the Items file (the generated one has ITEM_ID, ITEM_NAME, GENRE, CREATION_TIMESTAMP). */
  readonly columns: readonly string[];
  /** Index of an item id, or -1. */
  indexOf(id: string): number;
  /** A column's values by item index (exact name first, then case-insensitive), or undefined. */
  column(name: string): readonly string[] | undefined;
}

class ColumnCatalog implements Catalog {
  private readonly index = new Map<string, number>();

  constructor(
    readonly source: string,
    readonly ids: readonly string[],
    readonly columns: readonly string[],
    private readonly values: ReadonlyMap<string, readonly string[]>,
  ) {
    for (const [i, id] of ids.entries()) this.index.set(id, i);
  }

  indexOf(id: string): number {
    return this.index.get(id) ?? -1;
  }

  column(name: string): readonly string[] | undefined {
    const exact = this.values.get(name);
    if (exact) return exact;
    const loose = this.columns.filter((c) => c.toLowerCase() === name.toLowerCase());
    return loose.length === 1 ? this.values.get(loose[0] as string) : undefined;
  }
}

const ADJECTIVES = [
  'Velvet',
  'Amber',
  'Quiet',
  'Bright',
  'Rustic',
  'Silver',
  'Bold',
  'Cozy',
  'Wild',
  'Golden',
];
const NOUNS = [
  'Harbor',
  'Meadow',
  'Lantern',
  'Canyon',
  'Orchard',
  'Comet',
  'Atlas',
  'Willow',
  'Echo',
  'Summit',
];
const KINDS = [
  'Lamp',
  'Novel',
  'Jacket',
  'Album',
  'Mug',
  'Backpack',
  'Poster',
  'Candle',
  'Board Game',
  'Scarf',
];
export const GENRES = ['comedy', 'drama', 'outdoor', 'home', 'music', 'travel', 'kids', 'sports'];

/** Ids of the generated catalog: `item-00001`, `item-00002`, ... */
export function generatedItemId(i: number): string {
  return `item-${String(i + 1).padStart(5, '0')}`;
}

/** Ids of the generated user population that segment jobs draw from: `user-000001`, ... */
export function generatedUserId(i: number): string {
  return `user-${String(i + 1).padStart(6, '0')}`;
}

/**
 * A deterministic catalog of n items with the columns an Items dataset
 * usually has: same n, same catalog.
 */
export function generateCatalog(n: number): Catalog {
  if (!Number.isInteger(n) || n < 1)
    throw new PbError('PB_USAGE', `a generated catalog needs 1 or more items, got ${n}`);
  const rand = prng(20_180_522);
  const pick = (list: readonly string[]) => list[Math.floor(rand() * list.length)] as string;
  const ids: string[] = [];
  const names: string[] = [];
  const genres: string[] = [];
  const created: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(generatedItemId(i));
    names.push(`${pick(ADJECTIVES)} ${pick(NOUNS)} ${pick(KINDS)}`);
    genres.push(pick(GENRES));
    created.push(String(1_700_000_000 + Math.floor(rand() * 30_000_000)));
  }
  const columns = ['ITEM_ID', 'ITEM_NAME', 'GENRE', 'CREATION_TIMESTAMP'];
  const values = new Map<string, readonly string[]>([
    ['ITEM_ID', ids],
    ['ITEM_NAME', names],
    ['GENRE', genres],
    ['CREATION_TIMESTAMP', created],
  ]);
  return new ColumnCatalog(`generated (${n} items)`, ids, columns, values);
}

/** An Items file is a Personalize dataset, UTF-8 by the service's rules: emulate has no encoding option. */
const ITEMS_NAMES: OptionNames = { ...CLI_OPTION_NAMES, encoding: '' };

/**
 * Reads an Items file (CSV or TSV with a header, gzip detected; a local path
 * or s3://) into a catalog. The id column is ITEM_ID or another usual name
 * (item_id, itemId, item, product_id, sku). Empty ids are skipped, repeated
 * ids keep their first row.
 */
export async function loadCatalog(path: string): Promise<Catalog> {
  const text = await openText(path, {}, { names: ITEMS_NAMES });
  const src = await readRows(path, text.bytes, {
    format: 'auto',
    maxLineLength: 1024 * 1024,
    names: ITEMS_NAMES,
  });
  const header = src.header;
  if (!header || src.format === 'plain') {
    throw new PbError('PB_USAGE', 'an Items file needs a header row with an ITEM_ID column', { file: path });
  }
  const idCol = findColumn(header, undefined, ITEM_COLUMNS, 'item id', 'an ITEM_ID column', path);
  const ids: string[] = [];
  const cols = header.map(() => [] as string[]);
  const seen = new Set<string>();
  for await (const batch of src.batches) {
    for (const row of batch) {
      if (row.error) throw row.error;
      const values = Array.isArray(row.values)
        ? row.values
        : header.map((h) => stringOf((row.values as Record<string, unknown>)[h]));
      const id = (values[idCol] ?? '').trim();
      if (id === '' || seen.has(id)) continue;
      seen.add(id);
      ids.push(id);
      header.forEach((_, c) => {
        (cols[c] as string[]).push(values[c] ?? '');
      });
    }
  }
  if (ids.length === 0) throw new PbError('PB_USAGE', 'the Items file has no item ids', { file: path });
  const values = new Map<string, readonly string[]>(header.map((h, c) => [h, cols[c] as string[]]));
  return new ColumnCatalog(path, ids, header, values);
}

function stringOf(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
