import type { Catalog } from '../../core/catalog.js';
import { loadCatalog } from '../export/catalog.js';
import { resolveExportOptions } from '../export/options.js';
import type { ResolvedReportOptions } from './options.js';

/** Columns taken as an item's title, in this order, when --catalog-title-column is not given. */
const TITLE_COLUMNS = ['TITLE', 'title', 'Title', 'NAME', 'name', 'Name', 'product_name', 'PRODUCT_NAME'];

export interface ReportCatalog {
  file: string;
  catalog: Catalog;
  /** The title's column, when the catalog has one besides the id. */
  titleColumn: string | undefined;
  /** The item of an id's canonical bytes (JSON string content), or -1. */
  find(buf: Uint8Array, s: number, e: number): number;
  /** The title of an item, or undefined. */
  title(item: number): string | undefined;
}

/**
 * The catalog read as export reads it (delimiter, encoding and id column
 * found or given the same way, at most maxCatalogItems in memory), each item's columns
 * kept as a JSON fragment from which the title is read for the top items.
 */
export async function loadReportCatalog(o: ResolvedReportOptions): Promise<ReportCatalog> {
  const file = o.catalog as string;
  const eo = resolveExportOptions({
    sources: o.sources,
    format: 'jsonl',
    catalog: file,
    catalogIdColumn: o.catalogIdColumn,
    catalogColumns: o.catalogTitleColumn ? [o.catalogTitleColumn] : undefined,
    catalogDelimiter: o.catalogDelimiter,
    catalogEncoding: o.catalogEncoding,
    maxCatalogItems: o.maxCatalogItems,
    output: o.json,
  });
  const loaded = await loadCatalog(eo, o.catalogNames);
  const catalog = loaded.catalog;
  const titleColumn =
    o.catalogTitleColumn ?? TITLE_COLUMNS.find((c) => loaded.columns.includes(c)) ?? loaded.columns[0];
  const scratch = { buf: Buffer.allocUnsafe(64 * 1024) };
  return {
    file,
    catalog,
    titleColumn,
    find: (buf, s, e) => catalog.lookup(buf, s, e, buf.subarray(s, e).includes(92)),
    title(item) {
      if (item < 0 || titleColumn === undefined) return undefined;
      if (scratch.buf.length < catalog.maxJsonBytes + 2)
        scratch.buf = Buffer.allocUnsafe(2 * catalog.maxJsonBytes + 2);
      const end = catalog.copyJson(item, scratch.buf, 0);
      // The fragment is `,"col":value,...`: an object once its first comma is a brace.
      const obj = JSON.parse(`{${scratch.buf.toString('utf8', 1, end)}}`) as Record<string, unknown>;
      const v = obj[titleColumn];
      return v === null || v === undefined ? undefined : String(v);
    },
  };
}
