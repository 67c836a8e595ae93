import type { MapUsersSummary } from '../../core/map-users.js';
import { type Layout, type OutputFormat, outputHeader } from '../../core/out-convert.js';
import { count } from '../../core/units.js';
import type { LoadedCatalog } from './catalog.js';
import type { SinceSummary } from './delta/options.js';
import type { ExportRun } from './export-run.js';
import { keyOnlyLayout, NO_RECOMMENDATIONS } from './line-checks.js';
import type { ResolvedExportOptions } from './options.js';
import type { PartSummary } from './part.js';
import type { UsersStats } from './users-spill.js';

export interface ExportSummary {
  format: OutputFormat;
  /** export --part: which slice of the sources this export read. */
  part?: PartSummary;
  sources: number;
  /** Lines read, blank ones included. */
  lines: number;
  /** Keys exported (lines with recommendations). */
  records: number;
  /** Exported lines with an empty input (Popularity-Count as an older AWS example shows it): no key. */
  withoutKey: number;
  /** Rows or JSON records written. */
  rows: number;
  /** Lines whose error is not null (written to errorsFile). */
  errorLines: number;
  /** Malformed, truncated or off-schema lines (skipped with on-invalid skip). */
  invalid: number;
  blankLines: number;
  bytesRead: number;
  bytesWritten: number;
  /** The columns written (CSV), or [] for JSON Lines. */
  columns: string[];
  /** What the first exported line set: key column, id kind, optional columns. */
  layout: Layout | null;
  /** csv-wide: the number of item_i columns. */
  width: number | null;
  catalogItems: number | null;
  /** Recommendations (rows) whose item is not in the catalog (their columns left empty). */
  catalogMissing: number;
  /** Catalog rows with an empty id (a gift card with no SKU): skipped. */
  catalogRowsWithoutId: number;
  /** Distinct users the users file holds (--users), or null without one; with usersFiltered, its rows with a key. */
  usersInFile: number | null;
  /**
   * The users file was read for this export's users only (it was past --memory-budget and the sources
   * local files): usersInFile counts its rows with a key, usersDuplicates the repeated keys of those users.
   */
  usersFiltered: boolean;
  /** Exported keys (lines) whose user is not in the users file: user columns empty, or dropped. */
  usersMissing: number;
  /** Of those, the lines dropped by --users-required (not in records or rows). */
  usersDropped: number;
  /** Users file rows whose key an earlier row had: the first row of each key was used. */
  usersDuplicates: number;
  /** Users file rows with an empty key: skipped. */
  usersRowsWithoutKey: number;
  /** Partitions the users join was split into on disk (past --memory-budget); 0: held in memory. */
  usersPartitions: number;
  errorsFile: string | null;
  /** With maxFileSize: the parts written, in order; otherwise null. */
  parts: string[] | null;
  /** Text cells cut to maxCellBytes. */
  cellsCut: number;
  /** Passes over the input: 1, or for csv-wide without --top 2 (measured first, for stdout) or 3 (a guess proved wrong). */
  passes: number;
  seconds: number;
  warnings: string[];
  /** With --since: keys new, changed, unchanged (not written), removed (in removedFile), failed. */
  since?: SinceSummary;
  /** --map-users: what the mapping of related items to users did; null otherwise. */
  mapUsers: MapUsersSummary | null;
}

/** What the export did, from the run's counts once the last pass is written. */
export function summarizeExport(
  o: ResolvedExportOptions,
  sources: number,
  run: ExportRun,
  tables: { catalog: LoadedCatalog | undefined; users: UsersStats | undefined },
  passes: number,
  started: bigint,
): ExportSummary {
  const s = run.counts;
  const loaded = tables.catalog;
  const users = tables.users;
  const catalog = loaded?.catalog;
  const finalLayout = run.layout ?? null;
  const warnings = [...exportWarnings(o, run, loaded), ...usersWarnings(o, run, users)];
  return {
    format: o.parquet ? o.parquet.format : o.format,
    sources,
    lines: s.lines,
    records: s.records,
    withoutKey: s.withoutKey,
    rows: s.rows,
    errorLines: s.errorLines,
    invalid: run.invalid,
    blankLines: s.blank,
    bytesRead: run.bytesRead,
    bytesWritten: run.bytesWritten,
    columns: run.parquet
      ? [...run.parquet.columns]
      : o.format === 'jsonl'
        ? []
        : outputHeader(run.cfg(run.width), finalLayout ?? keyOnlyLayout(run.firstErrorKey)),
    layout: finalLayout,
    width: o.format === 'csv-wide' ? run.width : null,
    catalogItems: catalog ? catalog.size : null,
    catalogMissing: s.catalogMissing,
    catalogRowsWithoutId: loaded?.withoutId ?? 0,
    usersInFile: users ? users.size : null,
    usersFiltered: users?.filtered === true,
    usersMissing: s.usersMissing,
    usersDropped: s.usersDropped,
    usersDuplicates: users?.duplicates ?? 0,
    usersRowsWithoutKey: users?.withoutId ?? 0,
    usersPartitions: users?.partitions ?? 0,
    errorsFile: s.errorLines > 0 ? o.errors : null,
    parts:
      o.maxFileSize > 0 || (o.parquet && (o.parquet.maxFileSize > 0 || o.parquet.partitionBy.length > 0))
        ? [...run.files]
        : null,
    cellsCut: s.cellsCut,
    passes,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    warnings,
    mapUsers: null,
  };
}

/** What the user should know about the data: lines left out, the catalog's fit, error lines. */
function exportWarnings(
  o: ResolvedExportOptions,
  run: ExportRun,
  loaded: LoadedCatalog | undefined,
): string[] {
  const s = run.counts;
  const warnings: string[] = [];
  if (s.records === 0) warnings.push(NO_RECOMMENDATIONS);
  if (s.droppedScores > 0)
    warnings.push(
      `${count(s.droppedScores, 'line')} had scores, but the first exported lines had none: not exported`,
    );
  if (s.droppedReasons > 0)
    warnings.push(
      `${count(s.droppedReasons, 'line')} had reasons, but the first exported lines had none: not exported`,
    );
  if (s.droppedThemes > 0)
    warnings.push(`${count(s.droppedThemes, 'line')} had a theme, but the export has no theme column`);
  warnings.push(...catalogTableWarnings(o, loaded));
  if (s.catalogMissing > 0 && s.catalogMissing === s.rows)
    warnings.push(
      `none of the ${s.rows} recommendations names an item in the catalog (${o.catalog}): is it the catalog of this dataset, and its id column the right one (--catalog-id-column)? Its columns are empty`,
    );
  else if (s.catalogMissing > 0)
    warnings.push(
      `${s.catalogMissing} recommendation${s.catalogMissing === 1 ? ' names an item' : 's name items'} not in the catalog; ${s.catalogMissing === 1 ? 'its' : 'their'} catalog columns are empty`,
    );
  if (s.errorLines > 0)
    warnings.push(
      `${s.errorLines} line${s.errorLines === 1 ? ' has' : 's have'} an error; written to ${o.errors}`,
    );
  if (s.cellsCut > 0)
    warnings.push(
      `${s.cellsCut} text cell${s.cellsCut === 1 ? ' was' : 's were'} cut to ${o.maxCellBytes} bytes (--max-cell-bytes)`,
    );
  if (run.removedParts.length > 0)
    warnings.push(
      `removed ${run.removedParts[0]}${run.removedParts.length > 1 ? ` and ${count(run.removedParts.length - 1, 'more part')}` : ''}, left by an earlier export to the same name with more parts: the parts written now are the whole export`,
    );
  if (run.leftOverPart)
    warnings.push(
      `${run.leftOverPart} is not part of this export (an earlier one with more parts left it): remove it before uploading the parts`,
    );
  if (s.withoutKey > 0)
    warnings.push(
      `${count(s.withoutKey, 'line')} had an empty input ({}, Popularity-Count with no user): exported with an empty key${o.format === 'jsonl' ? ' (null)' : ''}`,
    );
  return warnings;
}

/** What reading the catalog found: rows without an id (skipped), ids repeated (the first row kept). */
export function catalogTableWarnings(o: ResolvedExportOptions, loaded: LoadedCatalog | undefined): string[] {
  if (!loaded) return [];
  const warnings: string[] = [];
  const n = loaded.withoutId;
  if (n > 0)
    warnings.push(
      `${n} catalog row${n === 1 ? ' has' : 's have'} no item id and ${n === 1 ? 'was' : 'were'} skipped (line${n === 1 ? '' : 's'} ${loaded.lines.join(', ')}${n > loaded.lines.length ? ', ...' : ''} of ${o.catalog})`,
    );
  if (loaded.catalog.duplicates > 0)
    warnings.push(
      `the catalog repeats ${loaded.catalog.duplicates} item ids; the first row of each was used`,
    );
  return warnings;
}

/** What reading the users file found: keys repeated (the first row kept), rows without a key (skipped). */
export function usersTableWarnings(o: ResolvedExportOptions, users: UsersStats | undefined): string[] {
  if (!users) return [];
  const warnings: string[] = [];
  const lines = (l: number[], n: number) => `${l.join(', ')}${n > l.length ? ', ...' : ''}`;
  const dup = users.duplicates;
  if (dup > 0)
    warnings.push(
      `the users file repeats ${dup} user key${dup === 1 ? '' : 's'} (line${dup === 1 ? '' : 's'} ${lines(users.duplicateLines, dup)} of ${o.users}); the first row of each was used`,
    );
  if (users.withoutId > 0)
    warnings.push(
      `${users.withoutId} row${users.withoutId === 1 ? '' : 's'} of the users file ${users.withoutId === 1 ? 'has' : 'have'} no user key and ${users.withoutId === 1 ? 'was' : 'were'} skipped (line${users.withoutId === 1 ? '' : 's'} ${lines(users.lines, users.withoutId)} of ${o.users})`,
    );
  return warnings;
}

/** What the users join found: keys repeated or empty in the file, users of the export not in it. */
function usersWarnings(o: ResolvedExportOptions, run: ExportRun, users: UsersStats | undefined): string[] {
  if (!users) return [];
  const s = run.counts;
  const warnings = usersTableWarnings(o, users);
  const exported = s.records + s.usersDropped;
  if (s.usersMissing > 0) {
    const none = s.usersMissing === exported;
    const what = none
      ? `none of the ${exported} users of this export is in the users file (${o.users}): is its key column the right one (--user-key)?`
      : `${s.usersMissing} user${s.usersMissing === 1 ? ' is' : 's are'} not in the users file`;
    const their = none ? ' Their' : '; their';
    warnings.push(
      o.usersRequired
        ? `${what}${their} recommendations were dropped (--users-required)`
        : `${what}${their} user columns are empty${o.format === 'jsonl' ? ' (null)' : ''}${none ? ' (with --users-required this stops the export instead)' : ''}`,
    );
  }
  return warnings;
}
