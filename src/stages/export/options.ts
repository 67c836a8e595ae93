import { tmpdir } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { CATALOG_MAX_ITEMS } from '../../core/catalog.js';
import { encodingProblem } from '../../core/encoding.js';
import {
  EXPORT_FORMATS,
  type ExportFormat,
  isParquetFormat,
  type OutputFormat,
  PARQUET_FORMATS,
  type ParquetFormat,
} from '../../core/out-convert.js';
import { parseDelimiter } from '../../core/sniff.js';
import { notOneOf } from '../../core/suggest.js';
import { noStream, usage } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';
import { isS3Uri } from '../../io/s3.js';
import type { SinceOptions } from './delta/options.js';
import { type MapUsersOptions, type ResolvedMapUsers, resolveMapUsers } from './map-users/options.js';
import { type PartOptions, resolvePart } from './part-options.js';

/** Options of `export`. Everything but `sources` has a default. */
export interface ExportOptions extends CallOptions, SinceOptions, MapUsersOptions, PartOptions {
  /** `.out` files, folders and `s3://bucket/prefix/`s (their `*.out` files), or `-` for stdin. */
  sources: string[];
  /** A path (written atomically; `.gz` compresses), `s3://bucket/key`, or `-` for stdout. Default `-`. */
  output?: string;
  /**
   * Default `csv-long`. `parquet`: csv-long's rows in a Parquet file;
   * `parquet-wide`: csv-wide's (see ParquetPlan).
   */
  format?: OutputFormat;
  /**
   * Parquet only: Hive partition folders, in order (`{ run_date: '2026-12-06' }`):
   * OUTPUT is then a folder (local or s3://) and the rows go to
   * `OUTPUT/run_date=2026-12-06/part-00000.parquet` (part-00001 and on past --max-file-size).
   */
  partitionBy?: Record<string, string>;
  /** Ids per key, at most. Default: all. For csv-wide also the number of item_i columns. */
  top?: number;
  /** Items CSV (or TSV, JSON Lines; gzip detected) whose columns are joined to every recommended item. */
  catalog?: string;
  /** Catalog columns to join, in order. Default: every column but the id. */
  catalogColumns?: string[];
  /** The catalog's id column. Default: ITEM_ID, item_id, itemId, ... */
  catalogIdColumn?: string;
  /** The catalog's field delimiter. Default: detected (see prepare's rules). */
  catalogDelimiter?: string;
  /** The catalog's text encoding (a TextDecoder label). Default UTF-8; a byte order mark decides first. */
  catalogEncoding?: string;
  /** Most items the catalog may hold (it is kept in memory). Default 5,000,000. */
  maxCatalogItems?: number;
  /**
   * Users file (a CRM export: CSV, TSV or JSON Lines; gzip detected) whose
   * columns are added to every row of a user's recommendations, after the
   * catalog's. Only for outputs keyed by user id.
   */
  users?: string;
  /** The users file's user id column. Default: userId, user_id, customer_id, ... */
  userKey?: string;
  /** The users file's columns to join, in order. Default: every column but the key. */
  userFields?: string[];
  /** The users file's field delimiter. Default: detected (see prepare's rules). */
  usersDelimiter?: string;
  /** The users file's text encoding (a TextDecoder label). Default UTF-8; a byte order mark decides first. */
  usersEncoding?: string;
  /** Drop (and count) the lines of users not in the users file, instead of leaving their columns empty. */
  usersRequired?: boolean;
  /** Memory for the users file's table; past it both sides are partitioned on disk (tmpDir) and joined a partition at a time. Default 64 MiB. */
  memoryBudget?: number;
  /** Neutralise spreadsheet formulas in CSV text cells (a leading '). Default true. */
  escapeFormulas?: boolean;
  /** CSV line ends: `crlf` (RFC 4180, the default) or `lf`. */
  lineEnding?: 'crlf' | 'lf';
  /** CSV: start the file (each part) with a UTF-8 byte order mark, so Excel reads `Zoë` right. Default false; refused with jsonl. */
  bom?: boolean;
  /** CSV header names to replace, old to new (`{ userId: 'external_id' }`). Default none; refused with jsonl. */
  rename?: Record<string, string>;
  /**
   * Split a local output into numbered parts of at most this many bytes
   * (`recs.csv` -> `recs-00001.csv`, ...), each CSV part with the header,
   * cut between pieces of whole lines. Default: one file.
   */
  maxFileSize?: number;
  /** CSV: cut text cells (reason, theme, catalog columns; never ids or scores) to this many UTF-8 bytes. Default: no cut. */
  maxCellBytes?: number;
  /**
   * Where lines whose `error` is not null go, as read. Default: OUTPUT
   * (without `.gz`) + `.errors.jsonl`, or `errors.jsonl` when OUTPUT is `-`.
   * Written only when there are such lines. Without it, OUTPUT's
   * stale `.errors.jsonl` is removed after an export with none; to stdout,
   * an `errors.jsonl` already in the working folder is replaced only by
   * error lines, with a warning.
   */
  errors?: string;
  /** `fail` (default): stop at the first invalid line. `skip`: write it to `rejects` and go on. */
  onInvalid?: 'fail' | 'skip';
  /** Invalid lines with file, line, reason and text (JSON Lines); required with `skip`. */
  rejects?: string;
  /** Longest line in bytes (default 128 MiB: a segment line can hold millions of users). */
  maxLineLength?: number;
  /** Conversion worker threads besides the main thread: 0, 1 or 2. Default 2 (used from the 3rd piece on). */
  workers?: number;
  /** Bytes per piece of lines handed to a converter. Default 1 MiB. */
  pieceSize?: number;
  /** Where csv-wide spools stdin for its two passes, and a users join past memoryBudget its partitions. Default the OS temp folder. */
  tmpDir?: string;
  /** Where a `-` source is read from: the library never takes the process's, so `-` needs it. */
  stdin?: Readable;
  /** Where an output or side file named `-` goes: the library never takes the process's, so `-` needs it. */
  stdout?: Writable;
  /** Called about every 250 ms (onEvent's progress event without its type). */
  onProgress?: (p: { lines: number; bytesRead: number }) => void;
  /** `{ type: 'progress', lines, bytesRead }` about every 250 ms while lines are converted. */
  onEvent?: (e: ExportEvent) => void;
}

/** About every 250 ms while lines are converted. */
export type ExportEvent = { type: 'progress'; lines: number; bytesRead: number };

/** Where and how `--format parquet` writes (the rows themselves are csv-long's, or for parquet-wide csv-wide's). */
export interface ParquetPlan {
  format: ParquetFormat;
  /** The file (or with partitionBy the folder) asked for. */
  output: string;
  partitionBy: [string, string][];
  /** 0: one file. Otherwise parts of about this size (DuckDB starts a new file past it, between row groups). */
  maxFileSize: number;
}

export interface ResolvedExportOptions {
  sources: string[];
  output: string;
  /** The rows written: csv-long for parquet, csv-wide for parquet-wide (see `parquet`). */
  format: ExportFormat;
  /** `--format parquet|parquet-wide`: the rows then go to Parquet as this says. */
  parquet: ParquetPlan | undefined;
  /** The workers write Parquet row groups, not CSV (set by ParquetExport for its temporary file). */
  parquetRowGroups?: boolean;
  top: number;
  catalog: string | undefined;
  catalogColumns: string[] | undefined;
  catalogIdColumn: string | undefined;
  catalogDelimiter: string | undefined;
  catalogEncoding: string | undefined;
  maxCatalogItems: number;
  users: string | undefined;
  userKey: string | undefined;
  userFields: string[] | undefined;
  usersDelimiter: string | undefined;
  usersEncoding: string | undefined;
  usersRequired: boolean;
  memoryBudget: number;
  escapeFormulas: boolean;
  crlf: boolean;
  bom: boolean;
  rename: Record<string, string> | undefined;
  /** 0: one file. */
  maxFileSize: number;
  /** 0: no cut. */
  maxCellBytes: number;
  errors: string;
  onInvalid: 'fail' | 'skip';
  rejects: string | undefined;
  maxLineLength: number;
  workers: number;
  pieceSize: number;
  tmpDir: string;
  /** Related items per user (--map-users), or undefined for a plain export. */
  map: ResolvedMapUsers | undefined;
  /** export --part K/N, or undefined for everything. */
  part: { k: number; n: number } | undefined;
}

export const EXPORT_DEFAULTS = {
  format: 'csv-long',
  maxLineLength: 128 * 1024 * 1024,
  pieceSize: 1024 * 1024,
  memoryBudget: 64 * 1024 * 1024,
} as const;

export function resolveExportOptions(input: ExportOptions): ResolvedExportOptions {
  const o = { ...input };
  const asked = o.format ?? EXPORT_DEFAULTS.format;
  if (!isParquetFormat(asked) && !EXPORT_FORMATS.includes(asked)) {
    throw notOneOf('--format', String(asked), [...EXPORT_FORMATS, ...PARQUET_FORMATS]);
  }
  const format = asked === 'parquet' ? 'csv-long' : asked === 'parquet-wide' ? 'csv-wide' : asked;
  const onInvalid = o.onInvalid ?? 'fail';
  if (onInvalid !== 'fail' && onInvalid !== 'skip')
    throw usage(`--on-invalid must be fail or skip, got "${onInvalid}"`);
  if (onInvalid === 'skip' && !o.rejects)
    throw usage('--on-invalid skip needs --rejects FILE, so that no line is lost silently');
  const lineEnding = o.lineEnding ?? 'crlf';
  if (lineEnding !== 'crlf' && lineEnding !== 'lf')
    throw usage(`--line-ending must be crlf or lf, got "${lineEnding}"`);
  const whole = (v: number | undefined, name: string, dflt: number, min = 1) => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < min)
      throw usage(`${name} must be a whole number of at least ${min}, got ${v}`);
    return v;
  };
  if (o.catalogColumns && !o.catalog) throw usage('--catalog-columns needs --catalog ITEMS.csv');
  if (o.catalogIdColumn && !o.catalog) throw usage('--catalog-id-column needs --catalog ITEMS.csv');
  if (o.catalogDelimiter && !o.catalog) throw usage('--catalog-delimiter needs --catalog ITEMS.csv');
  if (o.catalogEncoding && !o.catalog) throw usage('--catalog-encoding needs --catalog ITEMS.csv');
  checkFileOptions(o, format);
  const parquet = resolveParquet(o, isParquetFormat(asked) ? asked : undefined);
  const map = resolveMapUsers(o);
  const badEncoding = o.catalogEncoding === undefined ? undefined : encodingProblem(o.catalogEncoding);
  if (badEncoding) throw usage(`--catalog-encoding ${badEncoding}`);
  const sources = [...(o.sources ?? [])];
  if (sources.length === 0)
    throw usage('export needs at least one SOURCE (a .out file, folder, s3:// prefix or -)');
  if (sources.filter((s) => s === '-').length > 1) throw usage('stdin (-) can be given only once');
  // The process belongs to the CLI: a library call hands its own stream.
  if (sources.includes('-') && !o.stdin) throw noStream('export', 'stdin');
  const output = o.output ?? '-';
  // Said before any byte is read: a side file named - would fail only when it closes, and
  // csv-wide would read everything once to measure before its output failed.
  for (const [what, path] of [
    ['the output', output],
    ['the errors file', o.errors],
    ['the rejects file', o.rejects],
  ] as const)
    if (path === '-' && !o.stdout) throw noStream('export', 'stdout', what);
  return {
    sources,
    output,
    format,
    parquet,
    top: whole(o.top, '--top', 0),
    catalog: o.catalog,
    catalogColumns: o.catalogColumns ? [...o.catalogColumns] : undefined,
    catalogIdColumn: o.catalogIdColumn,
    catalogDelimiter:
      o.catalogDelimiter === undefined
        ? undefined
        : parseDelimiter(o.catalogDelimiter, '--catalog-delimiter'),
    catalogEncoding: o.catalogEncoding,
    maxCatalogItems: whole(o.maxCatalogItems, 'maxCatalogItems', CATALOG_MAX_ITEMS),
    ...resolveUsers(o),
    memoryBudget: whole(o.memoryBudget, '--memory-budget', EXPORT_DEFAULTS.memoryBudget),
    // Parquet holds the values as they are: the formula guard is for spreadsheets opening CSV.
    escapeFormulas: parquet ? false : (o.escapeFormulas ?? true),
    crlf: lineEnding === 'crlf',
    bom: o.bom ?? false,
    rename: o.rename ? { ...o.rename } : undefined,
    maxFileSize: whole(o.maxFileSize, '--max-file-size', 0),
    maxCellBytes: whole(o.maxCellBytes, '--max-cell-bytes', 0, 4),
    errors: o.errors ?? defaultErrorsPath(output),
    onInvalid,
    rejects: o.rejects,
    maxLineLength: whole(o.maxLineLength, '--max-line-length', EXPORT_DEFAULTS.maxLineLength),
    workers: Math.min(2, whole(o.workers, 'workers', 2, 0)),
    pieceSize: whole(o.pieceSize, 'pieceSize', EXPORT_DEFAULTS.pieceSize),
    tmpDir: o.tmpDir ?? tmpdir(),
    map,
    part: resolvePart({ ...o, format }),
  };
}

/** Joined files are read more than once (their header, then their rows; a join on disk reads them again). */
function refuseJoinedStdin(o: ExportOptions): void {
  for (const [path, flag] of [
    [o.users, '--users'],
    [o.catalog, '--catalog'],
    [o.mapUsers, '--map-users'],
  ] as const)
    if (path === '-') throw usage(`${flag} reads a file, not standard input (-): save it to a file first`);
}

/** The users file's settings, checked: each needs --users. */
function resolveUsers(
  o: ExportOptions,
): Pick<
  ResolvedExportOptions,
  'users' | 'userKey' | 'userFields' | 'usersDelimiter' | 'usersEncoding' | 'usersRequired'
> {
  for (const [given, flag] of [
    [o.userKey, '--user-key'],
    [o.userFields, '--user-fields'],
    [o.usersDelimiter, '--users-delimiter'],
    [o.usersEncoding, '--users-encoding'],
    [o.usersRequired, '--users-required'],
  ] as const)
    if (given !== undefined && given !== false && !o.users) throw usage(`${flag} needs --users USERS.csv`);
  const badUsersEncoding = o.usersEncoding === undefined ? undefined : encodingProblem(o.usersEncoding);
  if (badUsersEncoding) throw usage(`--users-encoding ${badUsersEncoding}`);
  if (o.userFields?.length === 0) throw usage('--user-fields needs at least one column name');
  return {
    users: o.users,
    userKey: o.userKey,
    userFields: o.userFields ? [...o.userFields] : undefined,
    usersDelimiter:
      o.usersDelimiter === undefined ? undefined : parseDelimiter(o.usersDelimiter, '--users-delimiter'),
    usersEncoding: o.usersEncoding,
    usersRequired: o.usersRequired ?? false,
  };
}

/** The options for e-mail tools' files: what each works with (see the README's "Files for e-mail tools"). */
function checkFileOptions(o: ExportOptions, format: ExportFormat): void {
  refuseJoinedStdin(o);
  // Parquet's own rules: resolveParquet.
  if (format === 'jsonl') {
    if (o.bom)
      throw usage(
        '--bom is for CSV: a byte order mark before JSON Lines breaks most JSON readers; leave it out',
      );
    if (o.rename)
      throw usage(
        '--rename renames CSV header cells; JSON Lines field names (userId, items, itemId, score, ...) are fixed: rename them afterwards (jq), or export CSV',
      );
    if (o.maxCellBytes !== undefined)
      throw usage('--max-cell-bytes cuts CSV text cells; a JSON Lines record has no cells: export CSV');
  }
  if (o.rename !== undefined && Object.keys(o.rename).length === 0)
    throw usage('--rename needs at least one OLD=NEW pair');
  if (o.maxFileSize !== undefined && !isParquetFormat(o.format)) {
    const out = o.output ?? '-';
    if (out === '-')
      throw usage(
        '--max-file-size writes numbered files (recs-00001.csv, ...), and stdout is one stream: give -o FILE',
      );
    if (isS3Uri(out))
      throw usage('--max-file-size writes local files only: give -o FILE, then upload the parts');
    if (out.endsWith('.gz'))
      throw usage(
        '--max-file-size counts the bytes a tool takes in, which a .gz part cannot know before it is compressed: write plain files',
      );
  }
}

/** Parquet's options checked: what only CSV does is refused, the partition names kept to Hive's plain ones. */
function resolveParquet(o: ExportOptions, asked: ParquetFormat | undefined): ParquetPlan | undefined {
  if (!asked) {
    if (o.partitionBy !== undefined)
      throw usage(
        '--partition-by writes OUT/KEY=VALUE/part-00000.parquet, the layout Glue and Athena read: add --format parquet',
      );
    return undefined;
  }
  const output = o.output ?? '-';
  if (o.bom) throw usage('--bom is for CSV: a Parquet file has no byte order mark; leave it out');
  if (o.mapUsers !== undefined || o.since !== undefined)
    throw usage(`--format ${asked} writes a plain export: --map-users and --since write CSV or JSON Lines`);
  if (output.endsWith('.gz'))
    throw usage('a Parquet file compresses its columns itself (Snappy): name the output .parquet, not .gz');
  const partitionBy = Object.entries(o.partitionBy ?? {});
  if (o.partitionBy !== undefined && partitionBy.length === 0)
    throw usage('--partition-by needs KEY=VALUE, e.g. --partition-by run_date=2026-12-06');
  for (const [k, v] of partitionBy) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw usage(
        `--partition-by: the key "${k}" must be letters, digits and _ (a column name Athena and Glue take), e.g. run_date`,
      );
    if (!/^[A-Za-z0-9_.-]+$/.test(v) || v === '.' || v === '..')
      throw usage(
        `--partition-by ${k}: the value "${v}" must be letters, digits, _ . and - (Hive escapes anything else in folder names), e.g. 2026-12-06`,
      );
  }
  if (partitionBy.length > 0 && output === '-')
    throw usage(
      '--partition-by writes a folder (OUT/KEY=VALUE/part-00000.parquet): give -o OUT, a folder or s3:// prefix',
    );
  if (o.maxFileSize !== undefined && output === '-')
    throw usage('--max-file-size writes numbered files, and stdout is one stream: give -o FILE');
  const maxFileSize = o.maxFileSize ?? 0;
  if (!Number.isInteger(maxFileSize) || maxFileSize < 0)
    throw usage(`--max-file-size must be a whole number of bytes, got ${maxFileSize}`);
  return { format: asked, output, partitionBy, maxFileSize };
}

/** OUTPUT without `.gz`, plus `.errors.jsonl`; `errors.jsonl` for stdout. */
export function defaultErrorsPath(output: string): string {
  if (output === '-') return 'errors.jsonl';
  return `${output.replace(/\.gz$/, '')}.errors.jsonl`;
}
