import { findColumn, ITEM_COLUMNS } from '../../core/columns.js';
import { sniffLayout } from '../../core/out-convert.js';
import { sqlSource } from '../../core/sql/dialect.js';
import type { SqlCatalog } from '../../core/sql/output-shape.js';
import { outputSql } from '../../core/sql/outputs.js';
import { prepareSql } from '../../core/sql/prepare.js';
import { PbError } from '../../errors.js';
import { withCall } from '../../io/clients.js';
import { readOutHead } from '../../io/out-head.js';
import { readRows } from '../../io/rows.js';
import { isS3Uri } from '../../io/s3.js';
import { openText } from '../../io/text.js';
import { checkTableName, type OutputsSqlOptions, type PrepareSqlOptions, resolveEngine } from './options.js';

export type { OutputsSqlOptions, PrepareSqlOptions };

/**
 * The SQL that gives export csv-long's rows from batch outputs where they
 * lie (DuckDB, Athena, Spark SQL). The shape comes from the first lines of
 * the source, read as export reads them: a folder's or S3 prefix's first
 * `.out` file only, at most 1 MiB of it. `s3` is the connection for an s3:// source or catalog.
 */
export function sqlForOutputs(options: OutputsSqlOptions): Promise<string> {
  return withCall(options, () => sqlForOutputsNow(options));
}

async function sqlForOutputsNow(options: OutputsSqlOptions): Promise<string> {
  const o = { ...options, catalogColumns: options.catalogColumns && [...options.catalogColumns] };
  const engine = resolveEngine(o.engine);
  const table = o.table === undefined ? undefined : checkTableName(o.table, '--table');
  const head = await readOutHead(o.source);
  const sniffed = sniffLayout(head.head);
  if (!sniffed)
    throw new PbError(
      'PB_PARSE',
      'no exported line in the first lines (every one is an error line, blank or invalid): the shape cannot be told; run personalize-batch export on it to see why',
      { file: head.first },
    );
  const { layout } = sniffed;
  if (layout.users && o.catalog)
    throw new PbError(
      'PB_USAGE',
      'this is batch segment output (users for each item): --catalog joins the items a job recommends, and a segment job recommends none; leave --catalog out',
    );
  const catalog = o.catalog === undefined ? undefined : await sqlCatalog(engine, o);
  return outputSql({ engine, layout, source: sqlSource(o.source, head), table, catalog, raw: o.raw });
}

/** The statement that writes deduplicated one-id batch input from a table, with prepare's id rules. */
export function sqlForPrepare(options: PrepareSqlOptions): string {
  const o = { ...options };
  const engine = resolveEngine(o.engine);
  if (engine === 'athena' && !isS3Uri(o.to))
    throw new PbError('PB_USAGE', `--to ${o.to}: Athena's UNLOAD writes to S3; give an empty s3:// prefix`);
  return prepareSql({ ...o, engine });
}

async function sqlCatalog(engine: string, o: OutputsSqlOptions): Promise<SqlCatalog> {
  const source = o.catalog as string;
  if (engine !== 'duckdb' || isS3Uri(source)) {
    if (!o.catalogColumns || o.catalogColumns.length === 0)
      throw new PbError(
        'PB_USAGE',
        engine === 'duckdb'
          ? '--catalog on S3: name the columns to join with --catalog-columns (and the id column with --catalog-id-column, default ITEM_ID)'
          : `--catalog with --engine ${engine} names a table you have defined: give the columns to join with --catalog-columns (and --catalog-id-column, default ITEM_ID)`,
      );
    if (engine !== 'duckdb') checkTableName(source.split('.').pop() as string, '--catalog');
    return { source, idColumn: o.catalogIdColumn ?? 'ITEM_ID', columns: o.catalogColumns };
  }
  return catalogFromHeader(source, o);
}

/** A local catalog's id column and columns, from its header as export reads it. */
async function catalogFromHeader(file: string, o: OutputsSqlOptions): Promise<SqlCatalog> {
  const text = await openText(file, {});
  const rows = await readRows(file, text.bytes, { format: 'auto', maxLineLength: 1024 * 1024 });
  try {
    const header = rows.header;
    if (!header || header.length === 0 || rows.keyed || rows.delimiter === null)
      throw new PbError('PB_USAGE', 'the catalog needs to be a CSV with a header row (ITEM_ID,TITLE,...)', {
        file,
      });
    if (text.info.encoding !== 'utf-8')
      throw new PbError(
        'PB_USAGE',
        `the catalog is ${text.info.encoding}; the SQL reads it with DuckDB's read_csv, which expects UTF-8: save it as UTF-8 (iconv -f ${text.info.encoding} -t utf-8), or export with --catalog`,
        { file },
      );
    const idCol = findColumn(header, o.catalogIdColumn, ITEM_COLUMNS, 'item id', '--catalog-id-column', file);
    const columns = o.catalogColumns
      ? o.catalogColumns.map((c) => header[findColumn(header, c, [], c, '--catalog-columns', file)] as string)
      : header.filter((_, i) => i !== idCol);
    if (columns.length === 0)
      throw new PbError('PB_USAGE', 'the catalog has no columns besides the item id', { file });
    const csv = { delimiter: rows.delimiter, gzip: text.info.gzip };
    return { source: file, idColumn: header[idCol] as string, columns, csv };
  } finally {
    await rows.close();
  }
}
