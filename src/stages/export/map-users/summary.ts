import type { LoadedCatalog } from '../catalog.js';
import type { ResolvedExportOptions } from '../options.js';
import { catalogTableWarnings, type ExportSummary, usersTableWarnings } from '../summary.js';
import type { UsersStats } from '../users-spill.js';
import type { MapUsersResult } from './index.js';

/** The export summary of a --map-users run: the plain export's fields, and what the mapping did. */
export function summarizeMapUsers(
  o: ResolvedExportOptions,
  sources: number,
  r: MapUsersResult,
  tables: { catalog: LoadedCatalog | undefined; users: UsersStats | undefined },
  started: bigint,
): ExportSummary {
  const m = r.map;
  const rel = r.related;
  const w = r.writer;
  return {
    format: o.format,
    sources,
    lines: rel.lines,
    records: m.usersMapped,
    withoutKey: 0,
    rows: r.rows,
    errorLines: rel.errorLines,
    invalid: rel.invalid,
    blankLines: rel.blank,
    bytesRead: 0,
    bytesWritten: r.bytesWritten,
    columns: w.header,
    layout: null,
    width: o.format === 'csv-wide' ? w.width : null,
    catalogItems: tables.catalog ? tables.catalog.catalog.size : null,
    catalogMissing: w.catalogMissing,
    catalogRowsWithoutId: tables.catalog?.withoutId ?? 0,
    usersInFile: tables.users ? tables.users.size : null,
    usersPartitions: 0,
    usersFiltered: false,
    usersMissing: w.usersMissing,
    usersDropped: w.usersDropped,
    usersDuplicates: tables.users?.duplicates ?? 0,
    usersRowsWithoutKey: tables.users?.withoutId ?? 0,
    errorsFile: rel.errorLines > 0 ? o.errors : null,
    parts: null,
    cellsCut: w.cellsCut,
    passes: 1,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    warnings: [
      ...mapWarnings(o, r, tables.catalog),
      ...usersTableWarnings(o, tables.users),
      ...usersMissing(o, r),
    ],
    mapUsers: m,
  };
}

/** What the user should know: users left without rows, lists repeated, lines set aside, the catalog's fit. */
function mapWarnings(
  o: ResolvedExportOptions,
  r: MapUsersResult,
  catalog: LoadedCatalog | undefined,
): string[] {
  const m = r.map;
  const out: string[] = [];
  const s = (n: number, one: string, many: string) => (n === 1 ? one : many);
  if (m.sourceItems === 0) out.push('the outputs hold no related-items list to map users to');
  else if (m.users > 0 && m.usersWithoutRecommendations === m.users)
    out.push(
      `none of the ${m.users} users touched an item the outputs have a list for: are --map-item-column (${o.map?.itemColumn ?? 'detected'}) and the job's items the same ids?`,
    );
  else if (m.usersWithoutRecommendations > 0)
    out.push(
      `${m.usersWithoutRecommendations} ${s(m.usersWithoutRecommendations, 'user has', 'users have')} no picked item with a related-items list: no rows`,
    );
  if (m.usersAllSeen > 0)
    out.push(
      `${m.usersAllSeen} ${s(m.usersAllSeen, 'user has', 'users have')} touched every item recommended to them (--exclude-seen): no rows`,
    );
  if (m.interactionsRejected > 0)
    out.push(
      `${m.interactionsRejected} interaction ${s(m.interactionsRejected, 'row was', 'rows were')} set aside: see ${o.rejects}`,
    );
  if (m.duplicateLists > 0)
    out.push(
      `${m.duplicateLists} output ${s(m.duplicateLists, 'line repeats', 'lines repeat')} a source item; the first line of each was used`,
    );
  if (r.related.errorLines > 0)
    out.push(
      `${r.related.errorLines} ${s(r.related.errorLines, 'line has', 'lines have')} an error; written to ${o.errors}`,
    );
  out.push(...catalogTableWarnings(o, catalog));
  const missing = r.writer.catalogMissing;
  if (missing > 0)
    out.push(
      `${missing} recommended ${s(missing, 'item is', 'items are')} not in the catalog; ${s(missing, 'its', 'their')} catalog columns are empty`,
    );
  if (r.writer.cellsCut > 0)
    out.push(
      `${r.writer.cellsCut} text ${s(r.writer.cellsCut, 'cell was', 'cells were')} cut to ${o.maxCellBytes} bytes (--max-cell-bytes)`,
    );
  return out;
}

/** Users of the interactions with rows whom the users file lacks. */
function usersMissing(o: ResolvedExportOptions, r: MapUsersResult): string[] {
  const n = r.writer.usersMissing;
  if (n === 0) return [];
  return [
    `${n} ${n === 1 ? 'user is' : 'users are'} not in the users file; ${o.usersRequired ? 'their rows were dropped (--users-required)' : 'their user columns are empty'}`,
  ];
}
