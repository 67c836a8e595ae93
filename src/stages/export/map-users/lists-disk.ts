import {
  type MappedUser,
  type MapUsersSummary,
  mergeLists,
  pickItems,
  type RelatedList,
} from '../../../core/map-users.js';
import { eachLine, eachPartition, type PartitionSet, type SpillDir } from '../../../io/spill.js';
import { type InteractionsRead, usersOf } from './interactions.js';
import type { ResolvedMapUsers } from './options.js';

/**
 * The users' lists when the related-items lists are on disk (past
 * --memory-budget), a hash join in three passes, each a partition at a time
 * within the budget:
 * 1. each interactions partition is reduced to its users' picks: a user line
 *    (`user<TAB>[order,seen]`) goes to the user partitions, and each pick
 *    (`item<TAB>["user",pick]`) to the lists' partitions, after the lists;
 * 2. each lists partition holds its lists (the first line of a source item
 *    wins) and sends each pick's list to its user: `user<TAB>[pick,"item",[ids],scores]`;
 * 3. each user partition is grouped by user and merged as in memory.
 * The user partitions hash the id as the interactions' do, and users are
 * written in the order pass 1 met them: the rows and their order are those
 * of the lists held in memory, unless a partition outgrew the budget and
 * was split again (by another hash, in either pass).
 */

/** A user partition's line as held in pass 3: its text twice over and the parsed arrays. */
function weighUser(_payload: Uint8Array, ps: number, pe: number): number {
  return 64 + 3 * (pe - ps);
}

const OPEN_BRACKET = 0x5b;

export async function* diskUsers(
  spill: SpillDir,
  read: InteractionsRead,
  lists: PartitionSet,
  budget: number,
  s: { m: ResolvedMapUsers; top: number; map: MapUsersSummary },
  emit: (key: string, mapped: MappedUser) => Buffer | undefined,
): AsyncGenerator<Buffer> {
  const users = await spill.partitions(0, undefined, weighUser);
  await picksOut(spill, read, lists, users, budget, s);
  await listsToUsers(spill, lists, users, budget, s.map);
  for await (const [pieces] of eachPartition(spill, users, budget)) {
    const held = new Map<string, { order: number; seen: string[] | null; picks: PickList[] }>();
    for await (const seg of pieces)
      eachLine(seg, (ks, ke, ps, pe) => {
        const key = seg.toString('utf8', ks, ke);
        const rec = JSON.parse(seg.toString('utf8', ps, pe)) as [number, string[] | null] | PickList;
        let u = held.get(key);
        if (!u) {
          u = { order: 0, seen: null, picks: [] };
          held.set(key, u);
        }
        if (rec.length === 2) [u.order, u.seen] = rec;
        else u.picks.push(rec);
      });
    for (const [key, u] of [...held].sort((a, b) => a[1].order - b[1].order)) {
      u.picks.sort((a, b) => a[0] - b[0]);
      const byItem = new Map<string, RelatedList>(u.picks.map((p) => [p[1], { items: p[2], scores: p[3] }]));
      const seen = u.seen ? new Set(u.seen) : undefined;
      const b = emit(
        key,
        mergeLists(
          u.picks.map((p) => p[1]),
          (item) => byItem.get(item),
          seen,
          s.top,
        ),
      );
      if (b) yield b;
    }
  }
}

/** A picked item's list as pass 2 sends it: pick order, source item, ids, scores. */
type PickList = [number, string, string[], string[] | null];

/** Pass 1: the users' lines and their picks (see the module comment). */
async function picksOut(
  spill: SpillDir,
  read: InteractionsRead,
  lists: PartitionSet,
  users: PartitionSet,
  budget: number,
  s: { m: ResolvedMapUsers; map: MapUsersSummary },
): Promise<void> {
  let order = 0;
  for await (const [pieces] of eachPartition(spill, read.parts, budget)) {
    s.map.partitions++;
    for (const [key, items] of await usersOf(pieces)) {
      const seen = s.m.excludeSeen ? [...items.keys()] : null;
      let w = users.writeString(key, JSON.stringify([order++, seen]));
      if (w) await w;
      const picks = pickItems(items, s.m.pick);
      for (let j = 0; j < picks.length; j++) {
        // The key is JSON string content already: it goes between quotes as it is.
        w = lists.writeString(JSON.stringify(picks[j]).slice(1, -1), `["${key}",${j}]`);
        if (w) await w;
      }
    }
  }
  await lists.close();
}

/** Pass 2: each pick's list to its user (lists come before picks in every partition: pass 1 wrote after them). */
async function listsToUsers(
  spill: SpillDir,
  lists: PartitionSet,
  users: PartitionSet,
  budget: number,
  map: MapUsersSummary,
): Promise<void> {
  for await (const [pieces] of eachPartition(spill, lists, budget)) {
    // Source item -> its list's JSON without the opening bracket: `[ids],scores]`.
    const held = new Map<string, string>();
    for await (const seg of pieces) {
      const waits: Promise<void>[] = [];
      eachLine(seg, (ks, ke, ps, pe) => {
        const item = seg.toString('utf8', ks, ke);
        if (seg[ps + 1] === OPEN_BRACKET) {
          if (held.has(item)) map.duplicateLists++;
          else held.set(item, seg.toString('utf8', ps + 1, pe));
          return;
        }
        const list = held.get(item);
        if (list === undefined) return;
        const [user, j] = JSON.parse(seg.toString('utf8', ps, pe)) as [string, number];
        const w = users.writeString(JSON.stringify(user).slice(1, -1), `[${j},"${item}",${list}`);
        if (w) waits.push(w);
      });
      await Promise.all(waits);
    }
    map.sourceItems += held.size;
  }
  await users.close();
}
