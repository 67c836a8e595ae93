import type { OutKeyField, OutKind } from './line-shapes.js';

/** What a conversion is asked for: the format, the columns and the settings of an export. */

export const EXPORT_FORMATS = ['csv-long', 'csv-wide', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** csv-long's (`parquet`) or csv-wide's (`parquet-wide`) rows as Parquet: see stages/export/parquet.ts. */
export const PARQUET_FORMATS = ['parquet', 'parquet-wide'] as const;
export type ParquetFormat = (typeof PARQUET_FORMATS)[number];
/** Every --format an export takes. */
export type OutputFormat = ExportFormat | ParquetFormat;

export function isParquetFormat(f: string | undefined): f is ParquetFormat {
  return f === 'parquet' || f === 'parquet-wide';
}

/** The columns of an export, fixed by the first exported line (see sniffLayout). */
export interface Layout {
  kind: OutKind;
  keyField: OutKeyField;
  /** The recommended ids are users (segments), not items. */
  users: boolean;
  score: boolean;
  reason: boolean;
  theme: boolean;
}

export interface ConvertConfig {
  format: ExportFormat;
  layout: Layout | undefined;
  /** Ids per key, at most (0: all). */
  top: number;
  /** csv-wide: the number of item_i columns. */
  width: number;
  /** Neutralise text cells starting with = + - @ TAB CR (and their full-width forms) with a leading '. */
  escapeFormulas: boolean;
  /** CSV rows end in CRLF (RFC 4180) or LF. */
  crlf: boolean;
  /** CSV header names replaced (old to new), or undefined. */
  rename: Record<string, string> | undefined;
  /** Text cells (reason, theme, catalog; never ids or scores) cut to this many UTF-8 bytes; 0: no cut. */
  maxCellBytes: number;
  /** Only validate and measure (csv-wide's first pass): no output. */
  measure: boolean;
  /** Stop at the first invalid line (on-invalid fail). */
  failFast: boolean;
  /** Catalog column names, joined per recommended item. */
  catalogColumns: string[];
  /** Users file column names, joined per line by its user key (after the catalog's columns). */
  userColumns: string[];
  /** A line whose user is not in the users file is dropped (counted), not written with empty cells. */
  usersRequired: boolean;
  /** Longest line in bytes; a longer one is invalid. */
  maxLineLength: number;
  /**
   * csv-wide with a width guessed from the first lines: a wider line, or
   * one with a column the layout lacks, stops the piece with `overflow`
   * (the export then measures every line and starts again).
   */
  optimistic: boolean;
  /** csv-long's rows as a Parquet row group per piece (see core/parquet/row-group.ts), not CSV. */
  parquet?: boolean;
}
