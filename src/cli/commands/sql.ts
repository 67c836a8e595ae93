import { PbError } from '../../errors.js';
import { AWS_OPTIONS, awsConnections, type CliIO, nameList, parse, write } from '../common.js';

const SQL_HELP = `Usage: personalize-batch sql --engine duckdb|athena|spark [options] SOURCE
       personalize-batch sql --engine duckdb|athena|spark --stage prepare --recipe FAMILY
                             --table T --column C --to DEST [--where EXPR]

Prints SQL for a warehouse; runs nothing.

SOURCE (a .out file, a folder, or an s3:// object or prefix ending in /): the SQL that gives
export csv-long's rows where the outputs lie: the same columns in the same order, scores as
DOUBLE, ranks from 1, error lines left out. The shape (user-personalization, related items,
ranking, themes, segments) comes from the first lines, as export sniffs it; an S3 prefix is
read only as far as its first .out object's first MiB.
  duckdb  one query: read_json over the files or the s3:// glob (httpfs for S3)
  athena  CREATE EXTERNAL TABLE (JSON SerDe) on the S3 prefix, and a view of the rows
          (CROSS JOIN UNNEST ... WITH ORDINALITY); Athena lower-cases the column names
  spark   a temporary view over the path, and the query (LATERAL VIEW posexplode)

--stage prepare: the statement that writes deduplicated batch input where the ids are
(DuckDB COPY ... (FORMAT json), Athena UNLOAD as text, Spark INSERT OVERWRITE DIRECTORY
... USING json), with prepare's id rules: trimmed, 1 to 256 characters, no blanks, no null
markers, control characters, 123.0, 1.2E+5, #N/A or e-mail addresses (see README).
Families: user-personalization, popular-items ({"userId"}), related-items ({"itemId"}).

Options:
      --engine E             duckdb, athena or spark (required)
      --raw                  the statements only, without the comment header (for piping)
      --catalog ITEMS        join item columns to each recommended item. DuckDB: a CSV file
                             (its header read now). Athena, Spark: a table you have defined
      --catalog-columns A,B  the catalog columns to join (default: all but the id; required
                             for athena and spark)
      --catalog-id-column C  the catalog's item id column (default: found as export finds it;
                             athena and spark: ITEM_ID)
      --table T              outputs: Athena's table and Spark's view of the lines (default
                             personalize_batch_out; Athena's view is T_rows);
                             prepare: the table holding the ids (DuckDB: or a file path)
      --stage S              outputs (default) or prepare
      --recipe FAMILY        prepare: user-personalization, popular-items or related-items
      --column C             prepare: the id column
      --where EXPR           prepare: a SQL condition in the engine's dialect, used as written
      --to DEST              prepare: DuckDB a file, Athena an empty s3:// prefix, Spark a path
      --allow-email-ids      prepare: keep ids that look like e-mail addresses
      --region R, --endpoint-url URL, --profile P
                             for an s3:// SOURCE (its first lines are read)
  -h, --help

Examples:
  personalize-batch sql --engine duckdb out/ | duckdb
  personalize-batch sql --engine duckdb --catalog items.csv --raw job.out > rows.sql
  personalize-batch sql --engine athena s3://my-bucket/batch/output/
  personalize-batch sql --engine spark --catalog items --catalog-columns TITLE,URL s3://my-bucket/out/
  personalize-batch sql --engine athena --stage prepare --recipe user-personalization \\
      --table crm.customers --column customer_id --where "opted_in" --to s3://my-bucket/batch/in/
  personalize-batch sql --engine duckdb --stage prepare --recipe related-items \\
      --table items.parquet --column ITEM_ID --to batch.jsonl`;

const SQL_ARGS = {
  engine: { type: 'string' },
  stage: { type: 'string' },
  raw: { type: 'boolean', default: false },
  catalog: { type: 'string' },
  'catalog-columns': { type: 'string' },
  'catalog-id-column': { type: 'string' },
  table: { type: 'string' },
  recipe: { type: 'string' },
  column: { type: 'string' },
  where: { type: 'string' },
  to: { type: 'string' },
  'allow-email-ids': { type: 'boolean', default: false },
  ...AWS_OPTIONS,
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const PREPARE_ONLY = ['recipe', 'column', 'where', 'to'] as const;
const OUTPUTS_ONLY = ['catalog', 'catalog-columns', 'catalog-id-column'] as const;

export async function runSql(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('sql', args, SQL_ARGS);
  if (v.help) {
    write(io.stdout, `${SQL_HELP}\n`);
    return 0;
  }
  const stage = v.stage ?? 'outputs';
  if (stage !== 'outputs' && stage !== 'prepare')
    throw new PbError('PB_USAGE', `--stage ${stage}: use outputs (the default) or prepare`);
  const { sqlForOutputs, sqlForPrepare } = await import('../../stages/sql/index.js');
  if (stage === 'prepare') {
    for (const k of OUTPUTS_ONLY)
      if (v[k] !== undefined) throw new PbError('PB_USAGE', `--${k} is for outputs, not --stage prepare`);
    if (positionals.length > 0)
      throw new PbError('PB_USAGE', '--stage prepare reads a table (--table), not SOURCE files');
    const missing = (['recipe', 'table', 'column', 'to'] as const).filter((k) => v[k] === undefined);
    if (missing.length > 0)
      throw new PbError('PB_USAGE', `--stage prepare needs ${missing.map((k) => `--${k}`).join(', ')}`);
    const sql = sqlForPrepare({
      engine: v.engine as string,
      recipe: v.recipe as string,
      table: v.table as string,
      column: v.column as string,
      where: v.where,
      to: v.to as string,
      allowEmailIds: v['allow-email-ids'],
      raw: v.raw,
    });
    write(io.stdout, sql);
    return 0;
  }
  for (const k of PREPARE_ONLY)
    if (v[k] !== undefined) throw new PbError('PB_USAGE', `--${k} is for --stage prepare`);
  if (v['allow-email-ids']) throw new PbError('PB_USAGE', '--allow-email-ids is for --stage prepare');
  if (positionals.length !== 1)
    throw new PbError(
      'PB_USAGE',
      positionals.length === 0
        ? 'sql needs SOURCE: a .out file, a folder or an s3:// prefix (see sql --help)'
        : `sql reads one SOURCE (got ${positionals.length}): give the folder or prefix they are in`,
    );
  const sql = await sqlForOutputs({
    engine: v.engine as string,
    source: positionals[0] as string,
    catalog: v.catalog,
    catalogColumns: nameList(v['catalog-columns']),
    catalogIdColumn: v['catalog-id-column'],
    table: v.table,
    raw: v.raw,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
  });
  write(io.stdout, sql);
  return 0;
}
