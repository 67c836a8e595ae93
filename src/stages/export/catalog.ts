import { Catalog } from '../../core/catalog.js';
import { accessor, findColumn, ITEM_COLUMNS } from '../../core/columns.js';
import { CLI_OPTION_NAMES, type OptionNames } from '../../core/sniff.js';
import { PbError } from '../../errors.js';
import { readRows } from '../../io/rows.js';
import { openText } from '../../io/text.js';
import type { ResolvedExportOptions } from './options.js';

/** What catalog messages call the settings: export's flags, or a pipeline file's keys. */
export interface CatalogOptionNames {
  delimiter: string;
  encoding: string;
  idColumn: string;
  columns: string;
}

const CATALOG_FLAGS: CatalogOptionNames = {
  delimiter: '--catalog-delimiter',
  encoding: '--catalog-encoding',
  idColumn: '--catalog-id-column',
  columns: '--catalog-columns',
};

/** The catalog settings of export (and of a pipeline file's output). */
export type CatalogSettings = Partial<
  Pick<
    ResolvedExportOptions,
    'catalog' | 'catalogColumns' | 'catalogIdColumn' | 'catalogDelimiter' | 'catalogEncoding'
  >
>;

/**
 * Opens the catalog and resolves its columns: the id column and the ones to
 * join. The file is detected as prepare's inputs are (delimiter, encoding,
 * file type). Every mistake in the settings shows here, before any row.
 */
async function openCatalog(o: CatalogSettings, flags: CatalogOptionNames) {
  const file = o.catalog as string;
  const names: OptionNames = {
    ...CLI_OPTION_NAMES,
    delimiter: flags.delimiter,
    encoding: flags.encoding,
    column: flags.idColumn,
    format: flags.delimiter,
    allowEmailIds: '--allow-email-ids',
    skipLines: '--skip-lines',
    noHeader: '--no-header',
  };
  const text = await openText(file, {}, { encoding: o.catalogEncoding, names });
  const src = await readRows(file, text.bytes, {
    format: 'auto',
    maxLineLength: 1024 * 1024,
    delimiter: o.catalogDelimiter,
    column: o.catalogIdColumn,
    names,
  });
  try {
    const header = src.header;
    if (!header || header.length === 0) {
      throw new PbError('PB_USAGE', 'the catalog needs a header row (ITEM_ID,TITLE,...)', { file });
    }
    const keyed = src.keyed;
    const idCol = findColumn(header, o.catalogIdColumn, ITEM_COLUMNS, 'item id', flags.idColumn, file, keyed);
    const columns = o.catalogColumns ?? header.filter((_, i) => i !== idCol);
    if (columns.length === 0)
      throw new PbError('PB_USAGE', 'the catalog has no columns besides the item id', { file });
    const cols = columns.map((n) =>
      accessor(findColumn(header, n, [], n, flags.columns, file, keyed), header, keyed),
    );
    return { file, src, header, keyed, idCol, columns, cols };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/**
 * Checks a catalog's settings against the file (it opens, the id column and
 * the columns to join are there) without reading it: `run` does this before
 * any job is paid for, so a typo in a column name is not found after the jobs.
 */
export async function checkCatalog(
  o: CatalogSettings,
  flags: CatalogOptionNames = CATALOG_FLAGS,
): Promise<void> {
  const c = await openCatalog(o, flags);
  await c.src.close();
}

/** The catalog in memory, and the rows skipped for want of an id (the first few line numbers). */
export interface LoadedCatalog {
  catalog: Catalog;
  withoutId: number;
  lines: number[];
}

/**
 * Reads the catalog file into a Catalog, rendering values for the export
 * format; rows with an empty id are skipped and counted.
 */
export async function loadCatalog(o: ResolvedExportOptions): Promise<LoadedCatalog> {
  const { file, src, header, keyed, idCol, columns: names, cols } = await openCatalog(o, CATALOG_FLAGS);
  let withoutId = 0;
  const lines: number[] = [];
  const id = accessor(idCol, header, keyed);
  const catalog = new Catalog(
    names,
    o.format === 'jsonl',
    o.escapeFormulas,
    o.maxCatalogItems,
    o.maxCellBytes,
  );
  for await (const batch of src.batches) {
    for (const row of batch) {
      if (row.error) throw row.error;
      const raw = id(row.values);
      const key = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
      if (key === undefined || key === null || (typeof key === 'string' && key.trim() === '')) {
        // A catalog row without an id (a gift card with no SKU) matches no recommendation.
        withoutId++;
        if (lines.length < 5) lines.push(row.line);
        continue;
      }
      if (typeof key !== 'string') {
        throw new PbError('PB_INVALID_RECORD', 'the item id must be text or a whole number', {
          file,
          line: row.line,
          field: header[idCol],
        });
      }
      const values = cols.map((get) => {
        const v = get(row.values);
        return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      });
      // Trimmed, as prepare trims ids: " i1 " in a spreadsheet is the item i1.
      if (catalog.add(key.trim(), values) === 'full') {
        throw new PbError(
          'PB_LIMIT',
          `the catalog has more than ${o.maxCatalogItems} items; the join holds it in memory (keep only the items you recommend)`,
          { file, line: row.line },
        );
      }
    }
  }
  return { catalog, withoutId, lines };
}
