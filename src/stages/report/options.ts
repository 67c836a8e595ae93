import { tmpdir } from 'node:os';
import { CATALOG_MAX_ITEMS } from '../../core/catalog.js';
import { encodingProblem } from '../../core/encoding.js';
import { usage } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';
import type { CatalogOptionNames } from '../export/catalog.js';

/** Options of `report` (`personalize-batch report SOURCE... -o report.html`). */
export interface ReportOptions extends CallOptions {
  /** Batch outputs: `.out` files, folders of them, `s3://bucket/prefix/`. */
  sources: string[];
  /** The HTML page (a path or s3:// key); report.json is written beside it (same name, `.json`). */
  output: string;
  /** Items (CSV with a header, as export's --catalog): coverage, ids missing from it, titles of the top items. */
  catalog?: string;
  /** The catalog's item id column. Default: as export finds it (ITEM_ID, item_id, itemId, ...). */
  catalogIdColumn?: string;
  /** The column shown as the title. Default: the first of TITLE, title, name, NAME, product_name there, else the first column besides the id. */
  catalogTitleColumn?: string;
  /** The catalog's field delimiter, as export's catalogDelimiter. Default: detected. */
  catalogDelimiter?: string;
  /** The catalog's text encoding, as export's catalogEncoding. Default UTF-8; a byte order mark decides first. */
  catalogEncoding?: string;
  /** Most items the catalog may hold (it is kept in memory). Default 5,000,000. */
  maxCatalogItems?: number;
  /** What the catalog's messages call its settings. Default: report's flags (a pipeline file's keys when run gives them). */
  catalogNames?: CatalogOptionNames;
  /** A previous run's outputs or export (what export --since takes): users new, gone, changed, and the Jaccard overlap at k. */
  since?: string;
  /** The --rename (OLD=NEW) the PREV export was written with: its header is read back through it, as export --since reads it. */
  rename?: Record<string, string>;
  /** How many first ids the Jaccard overlap compares. Default 10. */
  k?: number;
  /** The batch input (JSON Lines files or manifest.json): keys with no output line. */
  inputs?: string[];
  /** Memory for the exact distinct counts (items, keys); past it, partitions on disk. Default 64 MiB. */
  memoryBudget?: number;
  /** Longest line in bytes. Default 128 MiB. */
  maxLineLength?: number;
  /** Folder for partitions. Default the OS temp folder. */
  tmpDir?: string;
  /** Worker lanes of the pass besides the main thread: 0, 1 or 2. Default 2 (from the 3rd piece on; none with `since`). */
  workers?: number;
  /** Bytes per piece of lines handed to a lane. Default 1 MiB. */
  pieceSize?: number;
  /** BCP 47 locale of the page's numbers. Default `en-US`. */
  locale?: string;
  /** The page's title. Default "Batch output report". */
  title?: string;
  /** The files as they are read, running counts about every 250 ms, each step. */
  onEvent?: (e: ReportEvent) => void;
}

export type ReportEvent =
  | { type: 'source'; file: string }
  | { type: 'progress'; lines: number; bytesRead: number }
  | { type: 'step'; step: 'outputs' | 'distinct' | 'input' | 'since' | 'write' };

/** report's catalog flags: no --catalog-columns, the one column it reads besides the id is the title's. */
export const REPORT_CATALOG_FLAGS: CatalogOptionNames = {
  delimiter: '--catalog-delimiter',
  encoding: '--catalog-encoding',
  idColumn: '--catalog-id-column',
  columns: '--catalog-title-column',
};

export const REPORT_DEFAULTS = {
  k: 10,
  memoryBudget: 64 * 1024 * 1024,
  maxLineLength: 128 * 1024 * 1024,
  workers: 2,
  pieceSize: 1024 * 1024,
  locale: 'en-US',
  title: 'Batch output report',
} as const;

export interface ResolvedReportOptions {
  sources: string[];
  output: string;
  json: string;
  catalog: string | undefined;
  catalogIdColumn: string | undefined;
  catalogTitleColumn: string | undefined;
  catalogDelimiter: string | undefined;
  catalogEncoding: string | undefined;
  maxCatalogItems: number;
  catalogNames: CatalogOptionNames;
  since: string | undefined;
  rename: Record<string, string> | undefined;
  k: number;
  inputs: string[];
  memoryBudget: number;
  maxLineLength: number;
  tmpDir: string;
  workers: number;
  pieceSize: number;
  locale: string;
  title: string;
}

/** report.json's path beside the page: `x.html` -> `x.json`, else the name with `.json` added. */
export function jsonBeside(output: string): string {
  return /\.html?$/i.test(output) ? output.replace(/\.html?$/i, '.json') : `${output}.json`;
}

export function resolveReportOptions(input: ReportOptions): ResolvedReportOptions {
  const o = { ...input };
  const sources = [...(o.sources ?? [])];
  if (sources.length === 0)
    throw usage('report needs at least one SOURCE (.out files, a folder or s3://bucket/prefix/)');
  if (sources.includes('-'))
    throw usage(
      'report reads files, folders and s3:// prefixes, not stdin (-): save the outputs to a file first',
    );
  if (!o.output || o.output === '-')
    throw usage('report needs -o report.html (a file or s3:// key; report.json is written beside it)');
  // The page's name: report.json goes beside it, so -o x.json wrote the page there and the JSON to x.json.json.
  if (/\.json$/i.test(o.output))
    throw usage(
      `-o ${o.output}: -o names the page (report.html); report.json is written beside it: give -o ${o.output.replace(/\.json$/i, '.html')}`,
    );
  const whole = (v: number | undefined, name: string, dflt: number, least = 1) => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < least)
      throw usage(`${name} must be a whole number of at least ${least}, got ${v}`);
    return v;
  };
  if (o.catalogIdColumn && !o.catalog) throw usage('--catalog-id-column needs --catalog ITEMS.csv');
  if (o.catalogTitleColumn && !o.catalog) throw usage('--catalog-title-column needs --catalog ITEMS.csv');
  if (o.catalogDelimiter && !o.catalog) throw usage('--catalog-delimiter needs --catalog ITEMS.csv');
  if (o.catalogEncoding && !o.catalog) throw usage('--catalog-encoding needs --catalog ITEMS.csv');
  const badEncoding = o.catalogEncoding === undefined ? undefined : encodingProblem(o.catalogEncoding);
  if (badEncoding) throw usage(`--catalog-encoding ${badEncoding}`);
  if (o.rename !== undefined && !o.since)
    throw usage('--rename needs --since PREV (it is the --rename PREV was exported with)');
  if (o.rename !== undefined && Object.keys(o.rename).length === 0)
    throw usage('--rename needs at least one OLD=NEW pair');
  if (o.k !== undefined && !o.since) throw usage("--k needs --since PREV (it sets the Jaccard overlap's k)");
  const locale = o.locale ?? REPORT_DEFAULTS.locale;
  try {
    new Intl.NumberFormat(locale);
  } catch {
    throw usage(`--locale ${JSON.stringify(locale)} is not a BCP 47 language tag (en-US, de-DE, fr-FR)`);
  }
  return {
    sources,
    output: o.output,
    json: jsonBeside(o.output),
    catalog: o.catalog,
    catalogIdColumn: o.catalogIdColumn,
    catalogTitleColumn: o.catalogTitleColumn,
    catalogDelimiter: o.catalogDelimiter,
    catalogEncoding: o.catalogEncoding,
    maxCatalogItems: whole(o.maxCatalogItems, 'maxCatalogItems', CATALOG_MAX_ITEMS),
    catalogNames: o.catalogNames ?? REPORT_CATALOG_FLAGS,
    since: o.since,
    rename: o.rename ? { ...o.rename } : undefined,
    k: whole(o.k, '--k', REPORT_DEFAULTS.k),
    inputs: [...(o.inputs ?? [])],
    memoryBudget: whole(o.memoryBudget, '--memory-budget', REPORT_DEFAULTS.memoryBudget),
    maxLineLength: whole(o.maxLineLength, '--max-line-length', REPORT_DEFAULTS.maxLineLength),
    tmpDir: o.tmpDir ?? tmpdir(),
    workers: Math.min(2, whole(o.workers, 'workers', REPORT_DEFAULTS.workers, 0)),
    pieceSize: whole(o.pieceSize, 'pieceSize', REPORT_DEFAULTS.pieceSize),
    locale,
    title: o.title ?? REPORT_DEFAULTS.title,
  };
}
