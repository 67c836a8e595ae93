import type { ConvertConfig, Layout } from '../out/convert-config.js';
import { csvHeader } from '../out/layout.js';

/**
 * The csv-long columns of an output shape as the SQL builders need them:
 * each column's name exactly as export's header names it (csvHeader, so the
 * `source_item` and `catalog_` rules cannot drift) and what it holds, in
 * export's order. The fields of the line each shape reads come with it.
 */

export type ColumnValue =
  | { of: 'key' }
  | { of: 'rank' }
  | { of: 'id' }
  | { of: 'score' }
  | { of: 'reason' }
  | { of: 'theme' }
  | { of: 'catalog'; column: string };

export interface ShapeColumn {
  name: string;
  value: ColumnValue;
}

/** The line's JSON fields one shape reads (names as the service writes them). */
export interface ShapeFields {
  /** Where the key is: `input.<field>`, and for segment attributes also the top-level `itemAttributes`. */
  key: 'userId' | 'itemId' | 'itemAttributes';
  /** The recommended ids: `recommendedItems`, or segments' `usersList` / `recommendedUsers` (either layout). */
  ids: readonly string[];
  /** The scores paired with the ids, or undefined when the shape has no score column. */
  scores: string | undefined;
}

/** The join a query adds: the catalog's id column and the columns it brings (in export's order). */
export interface SqlCatalog {
  /** DuckDB: a CSV path for read_csv; Athena and Spark: a table the user has defined. */
  source: string;
  idColumn: string;
  columns: string[];
  /** DuckDB's read_csv settings, as the file was read (its own sniffing could decide otherwise). */
  csv?: { delimiter: string; gzip: boolean };
}

export function shapeColumns(layout: Layout, catalog: SqlCatalog | undefined): ShapeColumn[] {
  const values: ColumnValue[] = [{ of: 'key' }, { of: 'rank' }, { of: 'id' }];
  if (layout.score) values.push({ of: 'score' });
  if (layout.reason) values.push({ of: 'reason' });
  if (layout.theme) values.push({ of: 'theme' });
  for (const column of catalog?.columns ?? []) values.push({ of: 'catalog', column });
  const names = csvHeader(longConfig(catalog?.columns ?? []), layout);
  return values.map((value, i) => ({ name: names[i] as string, value }));
}

export function shapeFields(layout: Layout): ShapeFields {
  return {
    key: layout.keyField,
    ids: layout.users ? ['usersList', 'recommendedUsers'] : ['recommendedItems'],
    scores: !layout.score ? undefined : layout.theme ? 'itemsThemeRelevanceScores' : 'scores',
  };
}

/** A name for the shape, for the comment header: "user-personalization style (userId, items, scores)". */
export function shapeName(layout: Layout): string {
  const what = layout.users ? 'users for each' : 'items for each';
  const parts = [`${layout.kind} lines: ${what} ${layout.keyField}`];
  if (layout.score) parts.push(layout.theme ? 'relevance scores' : 'scores');
  if (layout.reason) parts.push('reasons');
  if (layout.theme) parts.push('theme');
  return parts.join(', ');
}

function longConfig(catalogColumns: string[]): ConvertConfig {
  return {
    format: 'csv-long',
    layout: undefined,
    top: 0,
    width: 0,
    escapeFormulas: false,
    crlf: false,
    rename: undefined,
    maxCellBytes: 0,
    measure: false,
    failFast: false,
    catalogColumns,
    userColumns: [],
    usersRequired: false,
    maxLineLength: 0,
    optimistic: false,
  };
}
