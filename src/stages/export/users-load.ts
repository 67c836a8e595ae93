import { stat } from 'node:fs/promises';
import type { Catalog } from '../../core/catalog.js';
import type { KeyFilter } from '../../core/key-filter.js';
import { userColumnNames } from '../../core/out-convert.js';
import { ioError } from '../../io/input.js';
import { isS3Uri } from '../../io/s3.js';
import { eachLine, readPartition, SpillDir } from '../../io/spill.js';
import {
  type AddRecord,
  type LoadedCatalog,
  loadTable,
  newUsersTable,
  type SplitTable,
  USERS_FLAGS,
  usersSpec,
} from './catalog.js';
import type { ResolvedExportOptions } from './options.js';
import { outputUserKeys } from './users-keys.js';
import { type UsersRangeDone, usersSplitFor } from './users-split.js';

/**
 * The users file held in memory when it fits --memory-budget: read whole,
 * or, past half the budget, for the outputs' users only (see users-keys.ts);
 * past the budget still, what was measured for the join on disk
 * (users-spill.ts).
 */

/**
 * What loadUsers measured when the table outgrew --memory-budget: the
 * table's bytes, the text its rows held (ids and values), and an empty
 * table's bytes, so that the partitioned join can size its partitions; and
 * the filter of the outputs' users, when there is one, to partition only
 * their rows.
 */
export interface UsersOverBudget {
  tableBytes: number;
  rowText: number;
  emptyBytes: number;
  filter: KeyFilter | undefined;
  /** The table it gave up on, its memory for the join's partitions to use again (emptied). */
  table: Catalog;
}

/** A users table in memory; `rowsWithKey` set when only the outputs' users were read (see loadUsers). */
export type LoadedUsers = LoadedCatalog & { rowsWithKey?: number };

class OverBudget extends Error {}

/**
 * Reads the users file into a Catalog keyed by user id. In JSON Lines its
 * fields sit beside the record's own (the key, theme, items): a clash gets
 * a `user_` prefix, as in CSV (see userColumnNames). Its memory is held to
 * --memory-budget. Past it, the outputs (`sources`, when local files) are
 * read once for their user keys and the file again for those users' rows
 * only: most of a CRM file is users a run does not recommend to. Past the
 * budget still, what was measured, for the partitioned join
 * (users-spill.ts) to take over.
 */
export async function loadUsers(
  o: ResolvedExportOptions,
  sources: readonly string[] | undefined,
): Promise<LoadedUsers | UsersOverBudget> {
  // A table takes about twice its rows' text: a file past half the budget is read for the outputs' users at once.
  const big = (await localSize(o.users as string)) > o.memoryBudget / 2;
  const all = big && sources ? undefined : await tryLoadUsers(o, undefined);
  if ((all && 'catalog' in all) || !sources) return all as LoadedUsers | UsersOverBudget;
  const filter = await outputUserKeys(sources, o);
  if (!filter) return all ?? (await tryLoadUsers(o, undefined));
  const some = await tryLoadUsers(o, filter);
  return 'catalog' in some ? some : { ...some, filter };
}

/** A local file's size; 0 for stdin and s3:// (not known before reading). */
async function localSize(file: string): Promise<number> {
  if (file === '-' || isS3Uri(file)) return 0;
  try {
    return (await stat(file)).size;
  } catch (err) {
    // The same words as every other file option (a typo in the path is not an internal error).
    throw ioError(file, err);
  }
}

/**
 * The least a user takes in the table besides its values' slots: a key of one byte and its 8-byte
 * header in the index's arena, and its slot in the index's table (8 bytes at three quarters full).
 */
const MIN_USER_BYTES = 20;

async function tryLoadUsers(
  o: ResolvedExportOptions,
  filter: KeyFilter | undefined,
): Promise<LoadedUsers | UsersOverBudget> {
  let rowText = 0;
  let rowsWithKey = 0;
  let table: Catalog | undefined;
  const budget = o.memoryBudget - (filter?.bytes ?? 0);
  const want = filter
    ? (buf: Uint8Array, s: number, e: number) => {
        rowsWithKey++;
        return filter.has(buf, s, e);
      }
    : undefined;
  // Through the filter, a local file's second part is scanned on a worker (users-split.ts) into one
  // partition of its kept rows in file order, then added here at the cut: the table, its bytes and
  // where it outgrows the budget, as one thread's. Without a filter every row is kept: nothing to skip.
  // Not when the outputs name more users than the budget could hold at the least each takes: the
  // attempt then gives up early in the file, and a worker would scan the rest for nothing.
  const slots = o.format === 'jsonl' ? 1 : (o.userFields?.length ?? 1);
  const mayFit = filter !== undefined && filter.added * (MIN_USER_BYTES + 8 * slots) <= budget;
  const spill = mayFit ? new SpillDir(o.tmpDir) : undefined;
  const split =
    filter &&
    spill &&
    ((opened: SplitTable, add: AddRecord) => {
      const adopt = async (done: UsersRangeDone, before: number) => {
        rowsWithKey += done.asked;
        if (done.entries[0] === 0) return;
        for await (const seg of readPartition(done.paths[0] as string))
          eachLine(seg, (ks, ke, ps, pe) => add(seg, ks, ke, ps, pe, before));
      };
      return usersSplitFor(opened, { filter: filter.shared(), fine: 1, spill }, adopt);
    });
  try {
    const loaded = await loadTable(usersSpec(o, USERS_FLAGS), o, {
      split,
      maxItems: Number.POSITIVE_INFINITY,
      names: (columns) => userColumnNames(columns, ['userId', 'theme', 'items']),
      full: '',
      room: Math.min(budget, 1 << 30),
      overBudget: (users, text) => {
        table = users;
        rowText += text;
        if (users.bytes > budget) throw new OverBudget();
        return undefined;
      },
      want,
    });
    return filter ? { ...loaded, rowsWithKey } : loaded;
  } catch (err) {
    if (!(err instanceof OverBudget) || !table) throw err;
    const t = table as Catalog;
    return {
      tableBytes: t.bytes,
      rowText,
      emptyBytes: newUsersTable(o, []).bytes,
      filter: undefined,
      table: t,
    };
  } finally {
    await spill?.dispose();
  }
}
