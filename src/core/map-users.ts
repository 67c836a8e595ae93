/**
 * export --map-users: related items (one list per source item) turned into
 * lists per user, from the items each user touched. Pure: the stage feeds
 * one user's touches in file order and the related-items lists, and gets
 * the user's rows back. The rules (README, "Related items per user"):
 * - latest: the item of the user's latest time; a tie goes to the row
 *   later in the file (an appended log's later event);
 * - most-frequent: the item touched most; a tie goes to the one touched
 *   latest (time, then file order);
 * - all: every distinct item touched, the latest first (same order).
 * Lists are merged by their ranks: an item recommended by several picked
 * items keeps its best rank, and the source item that gave it (on equal
 * ranks, the earlier pick); rows are ordered by that rank, then pick, and
 * renumbered 1..N. excludeSeen drops any item the user touched, the picked
 * ones included; without it nothing the lists hold is dropped.
 */

export const MAP_PICKS = ['latest', 'most-frequent', 'all'] as const;
export type MapPick = (typeof MAP_PICKS)[number];

/** What a user did with one item: how often, the latest time, and the file order of that touch. */
export interface ItemTouches {
  count: number;
  /** The latest time in epoch seconds; -Infinity when the file has no time column. */
  time: number;
  /** The order (a counter increasing down the file) of the touch at `time`, the later one on a tie. */
  at: number;
}

/** Adds one touch (rows in file order: `at` increases) to a user's items. */
export function addTouch(items: Map<string, ItemTouches>, item: string, time: number, at: number): void {
  const t = items.get(item);
  if (!t) {
    items.set(item, { count: 1, time, at });
    return;
  }
  t.count++;
  if (time >= t.time) {
    t.time = time;
    t.at = at;
  }
}

/** Later first: by time, then by file order. */
function byRecency(a: ItemTouches, b: ItemTouches): number {
  return b.time - a.time || b.at - a.at;
}

/** The user's picked items, in pick order (the order merge() breaks rank ties by). */
export function pickItems(items: Map<string, ItemTouches>, pick: MapPick): string[] {
  const all = [...items.entries()];
  if (pick === 'all') return all.sort((a, b) => byRecency(a[1], b[1])).map(([item]) => item);
  let best: [string, ItemTouches] | undefined;
  for (const e of all) {
    if (!best) {
      best = e;
      continue;
    }
    const countFirst = pick === 'most-frequent' ? e[1].count - best[1].count : 0;
    if (countFirst > 0 || (countFirst === 0 && byRecency(e[1], best[1]) < 0)) best = e;
  }
  return best ? [best[0]] : [];
}

/** One related-items list: ids and scores as printed (null: the line had no scores). */
export interface RelatedList {
  items: readonly string[];
  scores: readonly string[] | null;
}

export interface MappedRow {
  source: string;
  rank: number;
  item: string;
  /** As printed, or null when the source's line had no scores. */
  score: string | null;
}

export interface MappedUser {
  rows: MappedRow[];
  /** Some picked item had a list (an empty list counts: the job answered it). */
  withList: boolean;
  /** Distinct recommended items dropped because the user touched them (excludeSeen). */
  seenDropped: number;
}

/**
 * Merges the picked items' lists into the user's rows (see the module
 * comment); `seen` is the user's touched items when seen items are to be
 * dropped; top 0 keeps every row.
 */
export function mergeLists(
  picks: readonly string[],
  listOf: (item: string) => RelatedList | undefined,
  seen: ReadonlySet<string> | undefined,
  top: number,
): MappedUser {
  const best = new Map<string, { rank: number; pick: number; source: string; score: string | null }>();
  let withList = false;
  picks.forEach((source, pick) => {
    const list = listOf(source);
    if (!list) return;
    withList = true;
    list.items.forEach((item, i) => {
      const had = best.get(item);
      // Picks come in order, so on equal ranks the earlier pick stays.
      if (!had || i + 1 < had.rank)
        best.set(item, { rank: i + 1, pick, source, score: list.scores?.[i] ?? null });
    });
  });
  let seenDropped = 0;
  const kept: { item: string; rank: number; pick: number; source: string; score: string | null }[] = [];
  for (const [item, b] of best) {
    if (seen?.has(item)) seenDropped++;
    else kept.push({ item, ...b });
  }
  kept.sort((a, b) => a.rank - b.rank || a.pick - b.pick);
  const n = top > 0 ? Math.min(top, kept.length) : kept.length;
  const rows: MappedRow[] = [];
  for (let i = 0; i < n; i++) {
    const k = kept[i] as (typeof kept)[number];
    rows.push({ source: k.source, rank: i + 1, item: k.item, score: k.score });
  }
  return { rows, withList, seenDropped };
}

/** What --map-users did, besides the export's counts. */
export interface MapUsersSummary {
  pick: MapPick;
  /** Interaction rows used, and rows set aside (--rejects). */
  interactions: number;
  interactionsRejected: number;
  /** The time column used, or null (most-frequent and all can go without). */
  timeColumn: string | null;
  /** Distinct users in the interactions file. */
  users: number;
  /** Users written (with at least one row). */
  usersMapped: number;
  /** Users none of whose picked items has a related-items list in the outputs. */
  usersWithoutRecommendations: number;
  /** Users whose lists held only items they touched (--exclude-seen). */
  usersAllSeen: number;
  /** Recommended items dropped because the user touched them (--exclude-seen), per user. */
  seenDropped: number;
  /**
   * Related-items lists (distinct source items), and the bytes counted for
   * them against --memory-budget (on disk, repeated source items' lines too).
   */
  sourceItems: number;
  listBytes: number;
  /** The lists were past --memory-budget and joined on disk, not held. */
  listsOnDisk: boolean;
  /** Output lines for a source item an earlier line had (the first was used). */
  duplicateLists: number;
  /** Interaction partitions reduced (256, more when one outgrew its share of --memory-budget). */
  partitions: number;
}
