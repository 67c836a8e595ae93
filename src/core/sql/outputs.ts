import { PbError } from '../../errors.js';
import type { Layout } from '../out/convert-config.js';
import { commentBlock, ident, literal, type SqlEngine, type SqlSource } from './dialect.js';
import { type ShapeColumn, type SqlCatalog, shapeColumns, shapeFields, shapeName } from './output-shape.js';

/**
 * The SQL that turns batch-output lines into export csv-long's rows where
 * the lines lie: DuckDB over local files or S3, Athena over the output
 * prefix, Spark SQL over a path. One query per output shape (the Layout
 * export sniffs from the first lines); the same column names and order as
 * csv-long, scores as DOUBLE, ranks from 1. Error lines (`error` not null)
 * give no rows, as in export, which writes them to errors.jsonl.
 *
 * Every engine reads the lines with one schema (every field any shape uses,
 * absent ones null), so one table serves every shape; except v2's `reasons`,
 * whose batch layout is UNCONFIRMED (personalize-batch.md §2): typed only
 * where the first lines have them, so a different layout cannot break the
 * other shapes' reads.
 */

export interface OutputSqlOptions {
  engine: SqlEngine;
  layout: Layout;
  source: SqlSource;
  /** Athena's table of lines and Spark's view of them (default `personalize_batch_out`); Athena's view adds `_rows`. */
  table?: string;
  catalog?: SqlCatalog;
  /** Only the statements (for piping), without the comment header. */
  raw?: boolean;
}

export const DEFAULT_TABLE = 'personalize_batch_out';

/** The longest line DuckDB reads (export's --max-line-length default): its own default is 16 MB. */
const MAX_OBJECT_BYTES = 128 * 1024 * 1024;

/** The statements for an output shape, `;`-terminated, with a comment header unless raw. */
export function outputSql(o: OutputSqlOptions): string {
  const statements =
    o.engine === 'duckdb'
      ? [duckdbQuery(o)]
      : o.engine === 'athena'
        ? athenaStatements(o)
        : sparkStatements(o);
  const body = statements.map((s) => `${s};`).join('\n\n');
  return o.raw ? `${body}\n` : `${commentBlock(outputHeader(o))}\n\n${body}\n`;
}

/** A field of the line, as typed in each engine: input and output as structs, error as text. */
const INPUT_FIELDS = ['userId', 'itemId', 'itemAttributes'];
const OUTPUT_LISTS = ['recommendedItems', 'usersList', 'recommendedUsers'];
const OUTPUT_SCORES = ['scores', 'itemsThemeRelevanceScores'];

function duckdbTypes(withReasons: boolean): Record<string, string> {
  const q = (n: string) => ident('duckdb', n);
  return {
    input: `STRUCT(${INPUT_FIELDS.map((f) => `${q(f)} VARCHAR`).join(', ')})`,
    output: `STRUCT(${[
      ...OUTPUT_LISTS.map((f) => `${q(f)} VARCHAR[]`),
      ...OUTPUT_SCORES.map((f) => `${q(f)} DOUBLE[]`),
      ...(withReasons ? [`${q('reasons')} VARCHAR[][]`] : []),
      `${q('theme')} VARCHAR`,
    ].join(', ')})`,
    itemAttributes: 'VARCHAR',
    error: 'VARCHAR',
  };
}

/** Hive types (Athena's DDL and Spark's schema). */
function hiveTypes(withReasons: boolean): Record<string, string> {
  return {
    input: `STRUCT<${INPUT_FIELDS.map((f) => `${f}: STRING`).join(', ')}>`,
    output: `STRUCT<${[
      ...OUTPUT_LISTS.map((f) => `${f}: ARRAY<STRING>`),
      ...OUTPUT_SCORES.map((f) => `${f}: ARRAY<DOUBLE>`),
      ...(withReasons ? ['reasons: ARRAY<ARRAY<STRING>>'] : []),
      'theme: STRING',
    ].join(', ')}>`,
    itemAttributes: 'STRING',
    error: 'STRING',
  };
}

/** How an engine spells the parts of the row query. */
interface RowSyntax {
  engine: SqlEngine;
  /** FROM ... that pairs each line `t` with its ids: binds `rankExpr` and `idExpr`. */
  unnest(lines: string, ids: string): string;
  rankExpr: string;
  idExpr(ids: string): string;
  /** The i-th (from 1) entry of a list, null past its end. */
  element(list: string, i: string): string;
  joinReasons(list: string): string;
}

const DUCKDB: RowSyntax = {
  engine: 'duckdb',
  unnest: (lines, ids) => `${lines} AS t, unnest(range(1, len(${ids}) + 1)) AS r(pb_rank)`,
  rankExpr: 'r.pb_rank',
  idExpr: (ids) => `${ids}[r.pb_rank]`,
  element: (list, i) => `${list}[${i}]`,
  joinReasons: (list) => `array_to_string(${list}, '|')`,
};

const ATHENA: RowSyntax = {
  engine: 'athena',
  unnest: (lines, ids) => `${lines} AS t\nCROSS JOIN UNNEST(${ids}) WITH ORDINALITY AS r(pb_id, pb_rank)`,
  rankExpr: 'r.pb_rank',
  idExpr: () => 'r.pb_id',
  element: (list, i) => `element_at(${list}, ${i})`,
  joinReasons: (list) => `array_join(${list}, '|')`,
};

// try_element_at: with ANSI mode on (Spark 4's default) element_at fails past the end,
// and scores may be shorter than the ids.
const SPARK: RowSyntax = {
  engine: 'spark',
  unnest: (lines, ids) => `${lines} AS t\nLATERAL VIEW posexplode(${ids}) r AS pb_pos, pb_id`,
  rankExpr: '(r.pb_pos + 1)',
  idExpr: () => 'r.pb_id',
  element: (list, i) => `try_element_at(${list}, ${i})`,
  joinReasons: (list) => `array_join(${list}, '|')`,
};

/** `t.a.b` with each name quoted. */
function field(engine: SqlEngine, ...path: string[]): string {
  return `t.${path.map((p) => ident(engine, p)).join('.')}`;
}

/**
 * The row query: one row per recommended id of each exported line of the
 * shape. A line belongs to the shape as export decides: its error is null,
 * it has the shape's list of ids, and its key is the shape's (or it has none,
 * as Popularity-Count's empty input).
 */
function rowQuery(s: RowSyntax, layout: Layout, lines: string, columns: ShapeColumn[]): string {
  const e = s.engine;
  const f = shapeFields(layout);
  const ids = coalesce(f.ids.map((n) => field(e, 'output', n)));
  const key =
    f.key === 'itemAttributes'
      ? coalesce([field(e, 'input', 'itemAttributes'), field(e, 'itemAttributes')])
      : field(e, 'input', f.key);
  const rank = s.rankExpr;
  const select = columns
    .filter((c) => c.value.of !== 'catalog')
    .map((c) => {
      const v = c.value.of;
      const expr =
        v === 'key'
          ? key
          : v === 'rank'
            ? rank
            : v === 'id'
              ? s.idExpr(ids)
              : v === 'score'
                ? s.element(field(e, 'output', f.scores as string), rank)
                : v === 'reason'
                  ? s.joinReasons(s.element(field(e, 'output', 'reasons'), rank))
                  : field(e, 'output', 'theme');
      return `  ${expr} AS ${ident(e, c.name)}`;
    });
  const where = [`t.${ident(e, 'error')} IS NULL`, `${ids} IS NOT NULL`, keyFilter(e, layout)];
  return `SELECT\n${select.join(',\n')}\nFROM ${s.unnest(lines, ids)}\nWHERE ${where.join('\n  AND ')}`;
}

function coalesce(exprs: string[]): string {
  return exprs.length === 1 ? (exprs[0] as string) : `coalesce(${exprs.join(', ')})`;
}

/**
 * Lines keyed otherwise are not this shape's (export counts them invalid):
 * a recommendations line is keyed by userId when it has one, else itemId;
 * a segment line by itemId when it has one, else itemAttributes.
 */
function keyFilter(e: SqlEngine, layout: Layout): string {
  const user = field(e, 'input', 'userId');
  const item = field(e, 'input', 'itemId');
  if (layout.users) return layout.keyField === 'itemId' ? `${item} IS NOT NULL` : `${item} IS NULL`;
  return layout.keyField === 'userId' ? `(${user} IS NOT NULL OR ${item} IS NULL)` : `${user} IS NULL`;
}

/** The rows joined to the catalog: every row kept, the catalog's cells empty where the item is not in it. */
function withCatalog(
  e: SqlEngine,
  rows: string,
  columns: ShapeColumn[],
  catalog: SqlCatalog,
  table: string,
): string {
  const id = columns.find((c) => c.value.of === 'id') as ShapeColumn;
  const select = columns.map((c) =>
    c.value.of === 'catalog'
      ? `  c.${ident(e, c.value.column)} AS ${ident(e, c.name)}`
      : `  o.${ident(e, c.name)}`,
  );
  const indented = rows.replace(/^/gm, '  ');
  return `SELECT\n${select.join(',\n')}\nFROM (\n${indented}\n) AS o\nLEFT JOIN ${table} AS c ON c.${ident(e, catalog.idColumn)} = o.${ident(e, id.name)}`;
}

function duckdbQuery(o: OutputSqlOptions): string {
  const types = Object.entries(duckdbTypes(o.layout.reason))
    .map(([k, v]) => `    ${literal('duckdb', k)}: ${literal('duckdb', v)}`)
    .join(',\n');
  const paths = o.source.paths.map((p) => literal('duckdb', p)).join(', ');
  const read = `read_json(\n  [${paths}],\n  format = 'newline_delimited',\n  maximum_object_size = ${MAX_OBJECT_BYTES},\n  columns = {\n${types}\n  }\n)`;
  const columns = shapeColumns(o.layout, o.catalog);
  const rows = rowQuery(DUCKDB, o.layout, read, columns);
  if (!o.catalog) return rows;
  const csv = o.catalog.csv;
  const settings = ['header = true', 'all_varchar = true'];
  if (csv) settings.push(`delim = ${literal('duckdb', csv.delimiter)}`);
  if (csv?.gzip) settings.push("compression = 'gzip'");
  const table = `read_csv(${literal('duckdb', o.catalog.source)}, ${settings.join(', ')})`;
  return withCatalog('duckdb', rows, columns, o.catalog, table);
}

function athenaStatements(o: OutputSqlOptions): string[] {
  const table = o.table ?? DEFAULT_TABLE;
  if (o.source.location === undefined)
    throw new PbError(
      'PB_USAGE',
      'Athena reads S3: give the s3:// prefix the jobs wrote their outputs to (or use --engine duckdb on local files)',
    );
  const cols = Object.entries(hiveTypes(o.layout.reason))
    .map(([k, v]) => `  \`${k}\` ${v}`)
    .join(',\n');
  const create = [
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${table}\` (\n${cols}\n)`,
    "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
    "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false')",
    `LOCATION ${literal('athena', o.source.location)}`,
  ].join('\n');
  const columns = shapeColumns(o.layout, o.catalog);
  const lines = ident('athena', table);
  let rows = rowQuery(ATHENA, o.layout, lines, columns);
  if (o.catalog) rows = withCatalog('athena', rows, columns, o.catalog, o.catalog.source);
  const view = `CREATE OR REPLACE VIEW ${ident('athena', `${table}_rows`)} AS\n${rows}`;
  return [create, view];
}

function sparkStatements(o: OutputSqlOptions): string[] {
  const table = o.table ?? DEFAULT_TABLE;
  const cols = Object.entries(hiveTypes(o.layout.reason))
    .map(([k, v]) => `  ${ident('spark', k)} ${v}`)
    .join(',\n');
  const view = [
    `CREATE OR REPLACE TEMPORARY VIEW ${ident('spark', table)} (\n${cols}\n)`,
    'USING json',
    `OPTIONS (${sparkOptions(o.source)})`,
  ].join('\n');
  const columns = shapeColumns(o.layout, o.catalog);
  let rows = rowQuery(SPARK, o.layout, ident('spark', table), columns);
  if (o.catalog) rows = withCatalog('spark', rows, columns, o.catalog, o.catalog.source);
  return [view, rows];
}

/**
 * Spark's read of the lines. FAILFAST: a line that is not JSON stops the
 * query instead of becoming a row of nulls. A folder is read recursively,
 * output files only (`_CHECK` and other names left out).
 */
function sparkOptions(src: SqlSource): string {
  const opts = [`path ${literal('spark', src.path)}`, "mode 'FAILFAST'"];
  if (src.folder) opts.push("pathGlobFilter '*.out*'", "recursiveFileLookup 'true'");
  return opts.join(', ');
}

/** What the statements are and how to run them. */
function outputHeader(o: OutputSqlOptions): string[] {
  const table = o.table ?? DEFAULT_TABLE;
  const head = [
    `personalize-batch sql --engine ${o.engine}: batch-job outputs as export csv-long's rows`,
    `shape: ${shapeName(o.layout)} (sniffed from the first lines)`,
    `columns: ${shapeColumns(o.layout, o.catalog)
      .map((c) => c.name)
      .join(', ')}`,
    'Scores are DOUBLE, ranks start at 1, row order is not kept (ORDER BY if needed).',
    'Error lines (error not null) give no rows; list them with WHERE error IS NOT NULL',
    'on the lines, or run personalize-batch collect / export for errors.jsonl.',
    '',
  ];
  if (o.engine === 'duckdb')
    return [
      ...head,
      'Run: duckdb -c ".read rows.sql"   or   duckdb < rows.sql',
      "To a file: COPY (<the query>) TO 'rows.parquet' (FORMAT parquet);",
      'S3: INSTALL httpfs; LOAD httpfs; CREATE SECRET (TYPE s3, PROVIDER credential_chain);',
    ];
  if (o.engine === 'athena')
    return [
      ...head,
      `Run each statement in the Athena console, or: aws athena start-query-execution`,
      '  --query-string "$(...)" --work-group primary (one statement per call).',
      `Query: SELECT * FROM ${table}_rows. Athena lower-cases column names.`,
      ...(o.catalog ? [`The catalog is the table ${o.catalog.source}, defined beforehand.`] : []),
    ];
  return [
    ...head,
    'Run: spark-sql -f rows.sql   (EMR/Glue read s3://; open-source Spark reads s3a://)',
    ...(o.catalog ? [`The catalog is the table or view ${o.catalog.source}, defined beforehand.`] : []),
  ];
}
