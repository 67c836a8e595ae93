import { PbError } from '../../errors.js';
import { type Family, resolveFamily } from '../families.js';
import { NULL_MARKERS } from '../validate.js';
import { commentBlock, ident, literal, type SqlEngine } from './dialect.js';

/**
 * `sql --stage prepare`: the statement that writes deduplicated batch-input
 * JSON Lines from a warehouse table, with prepare's id rules written as SQL
 * (src/core/validate.ts idDamage and the schema's 1 to 256 characters): ids
 * trimmed of what JavaScript's trim() removes, blanks left out; null
 * markers, control and invisible characters, odd spaces, U+FFFD, pandas'
 * `123.0`, scientific notation, spreadsheet error values and the `'` text
 * marker refused, as are ids that look like e-mail addresses unless allowed.
 * Refused ids are left out (prepare writes them to its rejects file).
 */

export interface PrepareSqlOptions {
  engine: SqlEngine;
  /** user-personalization, popular-items or related-items (or an AWS recipe name of one). */
  recipe: string;
  /** The table holding the ids (`db.table`; DuckDB also takes a file path, read by its extension). */
  table: string;
  /** Its id column. */
  column: string;
  /** A boolean SQL expression in the engine's dialect, pasted into the WHERE clause as written. */
  where?: string;
  /** Where the lines go: DuckDB a file, Athena an empty S3 prefix, Spark a folder or prefix. */
  to: string;
  /** Ids that look like e-mail addresses are kept. Default false (left out, as prepare refuses them). */
  allowEmailIds?: boolean;
  /** The statements only, no comment header. Default false. */
  raw?: boolean;
}

/** The families whose input line is one id: `{"userId": ...}` or `{"itemId": ...}`. */
const ONE_ID: readonly Family[] = ['user-personalization', 'popular-items', 'related-items'];

/** What JavaScript's String.prototype.trim removes. */
const TRIMMED =
  '\\t\\n\\x{b}\\x{c}\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}';

/**
 * idDamage's rules as regular expressions (RE2, Java and Joni read them
 * alike): one match refuses the id.
 */
const REFUSED = [
  // Control and invisible characters, spaces that are not one, the replacement character.
  '[\\p{Cc}\\p{Cf}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}\\x{fffd}]',
  // A whole number written as a decimal (pandas, an id column with gaps).
  '^-?[0-9]+\\.0+$',
  // A number a spreadsheet shortened to scientific notation.
  '(?i)^-?[0-9]+([.,][0-9]+)?e[+-]?[0-9]+$',
  // A spreadsheet error value.
  '(?i)^#(N/A|REF!|VALUE!|NAME\\?|DIV/0!|NULL!|NUM!|SPILL!|CALC!|GETTING_DATA)$',
  // The text marker a spreadsheet adds.
  "^'[0-9=+@-]",
];

/** looksLikeEmail once the rules above have passed (the only spaces left are U+0020, U+2028, U+2029). */
const EMAIL = '^[^ \\x{2028}\\x{2029}@]+@[^ \\x{2028}\\x{2029}@]+\\.[A-Za-z]{2,}$';

export function prepareSql(o: PrepareSqlOptions): string {
  const info = resolveFamily(o.recipe);
  if (!ONE_ID.includes(info.family))
    throw new PbError(
      'PB_USAGE',
      `sql --stage prepare writes one-id lines (${ONE_ID.join(', ')}); ${info.family} ${
        info.family === 'item-affinity'
          ? 'takes at most 500 lines a file, which a warehouse write cannot promise'
          : 'lines hold more than one id column'
      }: use personalize-batch prepare (and shard)`,
    );
  const key = info.key as 'userId' | 'itemId';
  const select = idQuery(o, key);
  const statement =
    o.engine === 'duckdb'
      ? `COPY (\n${indent(select)}\n) TO ${literal('duckdb', o.to)} (FORMAT json)`
      : o.engine === 'athena'
        ? athenaUnload(o, select)
        : `INSERT OVERWRITE DIRECTORY ${literal('spark', o.to)}\nUSING json\nOPTIONS (compression 'none')\n${select}`;
  const body = `${statement};\n`;
  return o.raw ? body : `${commentBlock(prepareHeader(o, info.family, key))}\n\n${body}`;
}

/** The distinct ids that pass, as one column named as the line's key (Athena: the line itself). */
function idQuery(o: PrepareSqlOptions, key: string): string {
  const e = o.engine;
  const lit = (s: string) => literal(e, s);
  const cast = `CAST(${ident(e, o.column)} AS ${e === 'spark' ? 'STRING' : 'VARCHAR'})`;
  const trim = `regexp_replace(${cast}, ${lit(`^[${TRIMMED}]+|[${TRIMMED}]+$`)}, ''${e === 'duckdb' ? ", 'g'" : ''})`;
  const matches = (re: string) =>
    e === 'duckdb'
      ? `regexp_matches(id, ${lit(re)})`
      : e === 'athena'
        ? `regexp_like(id, ${lit(re)})`
        : `(id RLIKE ${lit(re)})`;
  const refused = [...REFUSED, ...(o.allowEmailIds ? [] : [EMAIL])];
  const markers = [...NULL_MARKERS].map(lit).join(', ');
  const tests = [
    "id <> ''",
    'length(id) <= 256',
    `id NOT IN (${markers})`,
    ...refused.map((re) => `NOT ${matches(re)}`),
  ];
  const inner = `SELECT ${trim} AS id\nFROM ${tableRef(o)}${o.where ? `\nWHERE (${o.where})` : ''}`;
  const value = e === 'athena' ? `json_format(CAST(MAP(ARRAY['${key}'], ARRAY[id]) AS JSON))` : 'id';
  return `SELECT DISTINCT ${value} AS ${ident(e, e === 'athena' ? 'line' : key)}\nFROM (\n${indent(inner)}\n) AS ids\nWHERE ${tests.join('\n  AND ')}`;
}

/**
 * Athena lower-cases column names, so `format = 'JSON'` would write
 * `{"userid": ...}`, which the service does not read (keys are
 * case-sensitive): each line is built with json_format and written as text.
 */
function athenaUnload(o: PrepareSqlOptions, select: string): string {
  return `UNLOAD (\n${indent(select)}\n)\nTO ${literal('athena', o.to)}\nWITH (format = 'TEXTFILE', compression = 'NONE')`;
}

/** `db.table` quoted part by part; DuckDB reads a path (by its extension) as a table. */
function tableRef(o: PrepareSqlOptions): string {
  if (o.engine === 'duckdb' && /[/\\]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson)(\.gz)?$/i.test(o.table))
    return literal('duckdb', o.table);
  return o.table
    .split('.')
    .map((p) => ident(o.engine, p))
    .join('.');
}

function indent(text: string): string {
  return text.replace(/^/gm, '  ');
}

function prepareHeader(o: PrepareSqlOptions, family: string, key: string): string[] {
  const lines = [
    `personalize-batch sql --engine ${o.engine} --stage prepare: ${family} batch input`,
    `One {"${key}": ...} line per distinct id of ${o.table}.${o.column}, to ${o.to}.`,
    "prepare's id rules: trimmed, blanks left out, 1 to 256 characters; null markers, control",
    "and invisible characters, 123.0, 1.2E+5, #N/A, a leading ' and (without",
    '--allow-email-ids) e-mail addresses are left out: prepare lists them in its rejects file.',
    'Then: personalize-batch validate, and shard when the lines pass 1 GB or 50 M a file.',
    '',
  ];
  if (o.engine === 'duckdb') return [...lines, 'Run: duckdb my.db < prepare.sql'];
  if (o.engine === 'athena')
    return [
      ...lines,
      'The TO prefix must be empty. Lines are written as text: Athena lower-cases column',
      'names, and format = JSON would write "userid". Run in the console or with',
      'aws athena start-query-execution --query-string "$(cat prepare.sql)".',
    ];
  return [
    ...lines,
    "Run: spark-sql -f prepare.sql (or spark.sql(...)); part files as Spark's json writer names them.",
  ];
}
