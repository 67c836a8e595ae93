import {
  accessor,
  findColumn,
  findOptionalColumn,
  ITEM_COLUMNS,
  TIMESTAMP_COLUMNS,
  USER_COLUMNS,
} from '../../../core/columns.js';
import { readTimestamp } from '../../../core/dates.js';
import { addTouch, type ItemTouches } from '../../../core/map-users.js';
import { CLI_OPTION_NAMES, type OptionNames } from '../../../core/option-names.js';
import { PbError } from '../../../errors.js';
import { type Row, type RowSource, readRows } from '../../../io/rows.js';
import { eachLine, type PartitionSet, type SpillDir } from '../../../io/spill.js';
import { openText } from '../../../io/text.js';
import type { SideFile } from '../side-file.js';
import type { ResolvedMapUsers } from './options.js';

/**
 * The interactions file (--map-users) read as prepare reads its inputs
 * (delimiter, BOM, encoding, gzip, JSON Lines) and written to hash
 * partitions on disk by user id: `user<TAB>["item",time]`, in file order
 * within each partition, so a billion rows cost disk, not memory. A row
 * without a user or item id, or whose time does not parse, goes to
 * --rejects with its file:line, or stops the export without it.
 */

export interface InteractionsRead {
  parts: PartitionSet;
  /** Rows partitioned. */
  rows: number;
  rejected: number;
  /** The time column used, or undefined (most-frequent and all without one). */
  timeColumn: string | undefined;
}

/** What messages call the interactions file and its columns: export's flags, or a pipeline file's fields. */
export interface MapUsersNames {
  file: string;
  userColumn: string;
  itemColumn: string;
  timeColumn: string;
}

export const MAP_USERS_FLAGS: MapUsersNames = {
  file: '--map-users',
  userColumn: '--map-user-column',
  itemColumn: '--map-item-column',
  timeColumn: '--map-time-column',
};

/** The names the row reader's messages use. */
function readerNames(n: MapUsersNames): OptionNames {
  return {
    ...CLI_OPTION_NAMES,
    column: n.userColumn,
    itemColumn: n.itemColumn,
    timestampColumn: n.timeColumn,
  };
}

interface Columns {
  user: (v: Row['values']) => unknown;
  item: (v: Row['values']) => unknown;
  time: ((v: Row['values']) => unknown) | undefined;
  userName: string;
  itemName: string;
  timeName: string | undefined;
}

/** The user, item and time columns; a missing one is a usage error that lists the header. */
function columnsOf(src: RowSource, m: ResolvedMapUsers, n: MapUsersNames): Columns {
  const { file, header, keyed } = src;
  if (!header || header.length === 0 || (!keyed && !src.namedHeader))
    throw new PbError(
      'PB_USAGE',
      `${n.file} needs a header row naming the user, item and time columns (USER_ID,ITEM_ID,TIMESTAMP)`,
      { file },
    );
  const find = (name: string | undefined, candidates: readonly string[], role: string, option: string) =>
    findColumn(header, name, candidates, role, option, file, keyed);
  const user = find(m.userColumn, USER_COLUMNS, 'user id', n.userColumn);
  const item = find(m.itemColumn, ITEM_COLUMNS, 'item id', n.itemColumn);
  let time =
    m.timeColumn === undefined
      ? findOptionalColumn(header, TIMESTAMP_COLUMNS)
      : find(m.timeColumn, [], m.timeColumn, n.timeColumn);
  // latest has nothing to go by without a time: the usage error names the header.
  if (time < 0 && m.pick === 'latest') time = find(undefined, TIMESTAMP_COLUMNS, 'time', n.timeColumn);
  return {
    user: accessor(user, header, keyed),
    item: accessor(item, header, keyed),
    time: time < 0 ? undefined : accessor(time, header, keyed),
    userName: header[user] as string,
    itemName: header[item] as string,
    timeName: time < 0 ? undefined : header[time],
  };
}

/** An id cell as text (a whole number as its digits), trimmed; '' when empty or not an id. */
function idOf(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string') return v.trim();
  if (v === undefined || v === null) return '';
  return undefined;
}

/**
 * Checks the interactions file's columns without reading it: `run` does this
 * before any job is paid for, its messages naming the pipeline file's fields.
 */
export async function checkInteractions(m: ResolvedMapUsers, n = MAP_USERS_FLAGS): Promise<void> {
  const names = readerNames(n);
  const text = await openText(m.file, {}, { names });
  const src = await readRows(m.file, text.bytes, {
    format: 'auto',
    maxLineLength: 1024 * 1024,
    column: m.userColumn,
    names,
  });
  try {
    columnsOf(src, m, n);
  } finally {
    await src.close();
  }
}

/** Reads the interactions file into user partitions (see the module comment). */
export async function partitionInteractions(
  m: ResolvedMapUsers,
  spill: SpillDir,
  rejects: SideFile | undefined,
): Promise<InteractionsRead> {
  const file = m.file;
  const names = readerNames(MAP_USERS_FLAGS);
  const text = await openText(file, {}, { names });
  const src = await readRows(file, text.bytes, {
    format: 'auto',
    maxLineLength: 1024 * 1024,
    column: m.userColumn,
    names,
  });
  let parts: PartitionSet | undefined;
  let rows = 0;
  let rejected = 0;
  let timeColumn: string | undefined;
  try {
    const cols = columnsOf(src, m, MAP_USERS_FLAGS);
    timeColumn = cols.timeName;
    parts = await spill.partitions();
    const reject = async (row: Row, reason: string, field: string | undefined) => {
      if (!rejects) {
        const fix = '; or give --rejects FILE to set such rows aside and go on';
        throw new PbError('PB_INVALID_RECORD', `${reason}${fix}`, { file, line: row.line, field });
      }
      rejected++;
      const full = src.fullRow(row);
      const shown =
        Array.isArray(full) && src.delimiter !== null ? full.join(src.delimiter) : JSON.stringify(full);
      await rejects.write(Buffer.from(`${JSON.stringify({ file, line: row.line, reason, text: shown })}\n`));
    };
    for await (const batch of src.batches) {
      for (const row of batch) {
        const why = rowProblem(row, cols);
        if ('reason' in why) {
          await reject(row, why.reason, why.field);
          continue;
        }
        rows++;
        const w = parts.writeString(
          JSON.stringify(why.user).slice(1, -1),
          JSON.stringify([why.item, why.time]),
        );
        if (w) await w;
      }
    }
    await parts.close();
  } catch (err) {
    await parts?.destroy();
    throw err;
  } finally {
    await src.close();
  }
  return { parts, rows, rejected, timeColumn };
}

/** A row's user, item and time (null without a time column), or why it cannot be used. */
function rowProblem(
  row: Row,
  cols: Columns,
): { user: string; item: string; time: number | null } | { reason: string; field: string | undefined } {
  if (row.error) return { reason: row.error.reason, field: undefined };
  const user = idOf(cols.user(row.values));
  const item = idOf(cols.item(row.values));
  if (!user)
    return {
      reason: `no user id (${user === '' ? 'empty' : 'not text or a whole number'})`,
      field: cols.userName,
    };
  if (!item)
    return {
      reason: `no item id (${item === '' ? 'empty' : 'not text or a whole number'})`,
      field: cols.itemName,
    };
  if (!cols.time) return { user, item, time: null };
  const t = readTimestamp(cols.time(row.values));
  if ('problem' in t) return { reason: `the time ${t.problem}`, field: cols.timeName };
  return { user, item, time: t.seconds };
}

/**
 * One user partition read back: each user (by the id as JSON string
 * content) to their items, users in the order the partition first names them.
 */
export async function usersOf(pieces: AsyncIterable<Buffer>): Promise<Map<string, Map<string, ItemTouches>>> {
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
  return users;
}
