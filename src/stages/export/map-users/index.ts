import { type MappedUser, type MapUsersSummary, mergeLists, pickItems } from '../../../core/map-users.js';
import { writeOutput } from '../../../io/output.js';
import { eachPartition, readPartition, SpillDir } from '../../../io/spill.js';
import type { LoadedCatalog } from '../catalog.js';
import type { ExportOptions, ResolvedExportOptions } from '../options.js';
import { SideFile } from '../side-file.js';
import { type InteractionsRead, partitionInteractions, usersOf } from './interactions.js';
import { diskUsers } from './lists-disk.js';
import type { ResolvedMapUsers } from './options.js';
import { loadRelated, type RelatedLists } from './related.js';
import type { MappedSince } from './since.js';
import { MappedRows } from './write.js';

export interface MapUsersResult {
  map: MapUsersSummary;
  related: RelatedLists;
  rows: number;
  bytesWritten: number;
  writer: MappedRows;
}

/**
 * export --map-users: holds the related-items lists (within --memory-budget,
 * else on disk: lists-disk.ts), partitions the interactions by user on disk,
 * then reduces one partition at a time (in what the lists left of the
 * budget) to each user's picked items and writes their merged lists. Users
 * come out by partition (a hash of the id), then in the order the file
 * first names them.
 */
export async function mapUsers(
  o: ResolvedExportOptions,
  m: ResolvedMapUsers,
  options: ExportOptions,
  sources: string[],
  tables: { catalog: LoadedCatalog | undefined; users: LoadedCatalog | undefined },
  /** --since: only the users new or changed against PREV are written. */
  since?: MappedSince,
): Promise<MapUsersResult> {
  const errors = new SideFile(o.errors, options.stdout);
  const rejects = o.rejects ? new SideFile(o.rejects, options.stdout) : undefined;
  const spill = new SpillDir(o.tmpDir);
  try {
    const related = await loadRelated(sources, o, options.stdin, { errors, rejects, spill });
    const read = await partitionInteractions(m, spill, rejects);
    const writer = new MappedRows(
      o,
      related.scores,
      tables.catalog?.catalog,
      tables.users?.catalog,
      tables.catalog?.columns ?? [],
      tables.users?.columns ?? [],
    );
    const map: MapUsersSummary = {
      pick: m.pick,
      interactions: read.rows,
      interactionsRejected: read.rejected,
      timeColumn: read.timeColumn ?? null,
      users: 0,
      usersMapped: 0,
      usersWithoutRecommendations: 0,
      usersAllSeen: 0,
      seenDropped: 0,
      sourceItems: related.lists.size,
      listBytes: related.bytes,
      listsOnDisk: related.disk !== undefined,
      duplicateLists: related.duplicates,
      partitions: 0,
    };
    const counts = { rows: 0, bytesWritten: 0 };
    // Lists held in memory leave the partitions what they left of the budget, at least an eighth.
    const held = related.disk ? 0 : related.bytes;
    const budget = Math.max(o.memoryBudget - held, Math.floor(o.memoryBudget / 8), 1);
    await writeOutput(
      o.output,
      options.stdout,
      output(spill, read, budget, { o, m, related, writer, since }, map, counts),
    );
    await errors.close();
    await rejects?.close();
    return { map, related, rows: counts.rows, bytesWritten: counts.bytesWritten, writer };
  } catch (err) {
    await errors.abort();
    await rejects?.abort();
    throw err;
  } finally {
    await spill.dispose();
  }
}

interface MapContext {
  o: ResolvedExportOptions;
  m: ResolvedMapUsers;
  related: RelatedLists;
  writer: MappedRows;
  since: MappedSince | undefined;
}

/** The output's bytes: the header, then each user's rows, about 1 MiB at a time (csv-wide: see wide()). */
async function* output(
  spill: SpillDir,
  read: InteractionsRead,
  budget: number,
  c: MapContext,
  map: MapUsersSummary,
  counts: { rows: number; bytesWritten: number },
): AsyncGenerator<Buffer> {
  const writer = c.writer;
  const pieces = userPieces(spill, read, budget, c, map, counts);
  if (c.o.format === 'csv-wide') {
    yield* wide(spill, pieces, writer, counts);
    return;
  }
  const header = Buffer.from(writer.headerLine());
  counts.bytesWritten += header.length;
  if (header.length > 0) yield header;
  for await (const b of pieces) {
    counts.bytesWritten += b.length;
    yield b;
  }
}

/**
 * csv-wide's width is the most rows a user has, known only at the end: the
 * users' cells go to a spool file on disk first (--tmp-dir), then the
 * header and each spooled user's row, padded to the width.
 */
async function* wide(
  spill: SpillDir,
  pieces: AsyncIterable<Buffer>,
  writer: MappedRows,
  counts: { bytesWritten: number },
): AsyncGenerator<Buffer> {
  const spool = await spill.partitions(0, 1);
  for await (const b of pieces) {
    const w = spool.append(0, b, 0, b.length - 1);
    if (w) await w;
  }
  await spool.close(true);
  let pending = writer.headerLine();
  const flush = () => {
    const b = Buffer.from(pending);
    counts.bytesWritten += b.length;
    pending = '';
    return b;
  };
  for await (const seg of readPartition(spool.paths[0] as string)) {
    for (let s = 0; s < seg.length; ) {
      const e = seg.indexOf(10, s);
      pending += writer.wideRow(seg.toString('utf8', s, e));
      s = e + 1;
      if (pending.length >= 1 << 20) yield flush();
    }
  }
  yield flush();
}

/** Each user's rows as text (csv-wide: spool lines), about 1 MiB at a time. */
async function* userPieces(
  spill: SpillDir,
  read: InteractionsRead,
  budget: number,
  c: MapContext,
  map: MapUsersSummary,
  counts: { rows: number },
): AsyncGenerator<Buffer> {
  const { o, m, related, writer, since } = c;
  let pending = '';
  const flush = () => {
    const b = Buffer.from(pending);
    pending = '';
    return b;
  };
  /** One user's rows (key: the id as JSON string content) counted and added; a piece when 1 MiB is pending. */
  const emit = (key: string, mapped: MappedUser): Buffer | undefined => {
    map.users++;
    map.seenDropped += mapped.seenDropped;
    if (!mapped.withList) map.usersWithoutRecommendations++;
    else if (mapped.rows.length === 0 && mapped.seenDropped > 0) map.usersAllSeen++;
    const user = JSON.parse(`"${key}"`) as string;
    // An unchanged user is not written (nor counted in usersMapped, rows, missing or cut cells); one
    // the users file drops is neither new nor unchanged, and so is removed if PREV had it.
    if (since && mapped.rows.length > 0 && !writer.drops(user) && !since.keep(user, mapped.rows))
      return undefined;
    const text = writer.rowsOf(user, mapped.rows);
    if (text === '') return undefined;
    map.usersMapped++;
    // Rows as a plain export counts them: csv-long one per item, the others one per user.
    counts.rows += o.format === 'csv-long' ? mapped.rows.length : 1;
    pending += text;
    return pending.length >= 1 << 20 ? flush() : undefined;
  };
  const s = { m, top: o.top, map };
  if (related.disk) yield* diskUsers(spill, read, related.disk, budget, s, emit);
  else {
    const listOf = (item: string) => related.lists.get(item);
    for await (const [pieces] of eachPartition(spill, read.parts, budget)) {
      map.partitions++;
      for (const [key, items] of await usersOf(pieces)) {
        const seen = m.excludeSeen ? new Set(items.keys()) : undefined;
        const b = emit(key, mergeLists(pickItems(items, m.pick), listOf, seen, o.top));
        if (b) yield b;
      }
    }
  }
  if (pending.length > 0) yield flush();
}
