import {
  addTouch,
  type ItemTouches,
  type MapUsersSummary,
  mergeLists,
  pickItems,
} from '../../../core/map-users.js';
import { writeOutput } from '../../../io/output.js';
import { eachLine, eachPartition, SpillDir } from '../../../io/spill.js';
import type { LoadedCatalog } from '../catalog.js';
import type { ExportOptions, ResolvedExportOptions } from '../options.js';
import { SideFile } from '../side-file.js';
import { type InteractionsRead, partitionInteractions } from './interactions.js';
import type { ResolvedMapUsers } from './options.js';
import { loadRelated, type RelatedLists } from './related.js';
import { MappedRows } from './write.js';

export interface MapUsersResult {
  map: MapUsersSummary;
  related: RelatedLists;
  rows: number;
  bytesWritten: number;
  writer: MappedRows;
}

/**
 * export --map-users: holds the related-items lists (within --memory-budget),
 * partitions the interactions by user on disk, then reduces one partition at
 * a time (in what the lists left of the budget) to each user's picked items
 * and writes their merged lists. Users come out by partition (a hash of the
 * id), then in the order the file first names them.
 */
export async function mapUsers(
  o: ResolvedExportOptions,
  m: ResolvedMapUsers,
  options: ExportOptions,
  sources: string[],
  tables: { catalog: LoadedCatalog | undefined; users: LoadedCatalog | undefined },
): Promise<MapUsersResult> {
  const errors = new SideFile(o.errors, options.stdout);
  const rejects = o.rejects ? new SideFile(o.rejects, options.stdout) : undefined;
  const spill = new SpillDir(o.tmpDir);
  try {
    const related = await loadRelated(sources, o, options.stdin, errors, rejects);
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
      duplicateLists: related.duplicates,
      partitions: 0,
    };
    const counts = { rows: 0, bytesWritten: 0 };
    // The lists stay in memory: the partitions get what they left of the budget, at least an eighth.
    const budget = Math.max(o.memoryBudget - related.bytes, Math.floor(o.memoryBudget / 8), 1);
    await writeOutput(
      o.output,
      options.stdout,
      output(spill, read, budget, o, m, related, writer, map, counts),
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

/** The output's bytes: the header, then each partition's users, about 1 MiB at a time. */
async function* output(
  spill: SpillDir,
  read: InteractionsRead,
  budget: number,
  o: ResolvedExportOptions,
  m: ResolvedMapUsers,
  related: RelatedLists,
  writer: MappedRows,
  map: MapUsersSummary,
  counts: { rows: number; bytesWritten: number },
): AsyncGenerator<Buffer> {
  let pending = writer.headerLine();
  const flush = () => {
    const b = Buffer.from(pending);
    counts.bytesWritten += b.length;
    pending = '';
    return b;
  };
  const listOf = (item: string) => related.lists.get(item);
  for await (const [pieces] of eachPartition(spill, read.parts, budget)) {
    map.partitions++;
    const users = new Map<string, Map<string, ItemTouches>>();
    let at = 0;
    for await (const seg of pieces) {
      eachLine(seg, (ks, ke, ps, pe) => {
        const key = seg.toString('utf8', ks, ke);
        const [item, time] = JSON.parse(seg.toString('utf8', ps, pe)) as [string, number | null];
        let items = users.get(key);
        if (!items) {
          items = new Map();
          users.set(key, items);
        }
        addTouch(items, item, time ?? Number.NEGATIVE_INFINITY, at++);
      });
    }
    for (const [key, items] of users) {
      map.users++;
      const seen = m.excludeSeen ? new Set(items.keys()) : undefined;
      const mapped = mergeLists(pickItems(items, m.pick), listOf, seen, o.top);
      map.seenDropped += mapped.seenDropped;
      if (!mapped.withList) map.usersWithoutRecommendations++;
      else if (mapped.rows.length === 0 && mapped.seenDropped > 0) map.usersAllSeen++;
      const text = writer.rowsOf(JSON.parse(`"${key}"`) as string, mapped.rows);
      if (text === '') continue;
      map.usersMapped++;
      counts.rows += mapped.rows.length;
      pending += text;
      if (pending.length >= 1 << 20) yield flush();
    }
  }
  if (pending.length > 0) yield flush();
}
