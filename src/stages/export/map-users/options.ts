import { MAP_PICKS, type MapPick } from '../../../core/map-users.js';
import { notOneOf } from '../../../core/suggest.js';
import { usage } from '../../../errors.js';

/** export's options for related items per user (README, "Related items per user"). */
export interface MapUsersOptions {
  /**
   * Interactions file (CSV, TSV or JSON Lines; gzip detected; read as
   * prepare reads its inputs): turns a related-items output into rows per
   * user, from the items each user touched. Default: none (a plain export).
   */
  mapUsers?: string;
  /** Its user id column. Default: USER_ID, user_id, customer_id, ... */
  mapUserColumn?: string;
  /** Its item id column. Default: ITEM_ID, item_id, sku, ... */
  mapItemColumn?: string;
  /** Which of a user's items are mapped: `latest` (default), `most-frequent` or `all`. */
  mapPick?: MapPick;
  /** Its time column (epoch seconds or milliseconds, ISO 8601). Default: TIMESTAMP, event_time, ts if there is one; `latest` needs one. */
  mapTimeColumn?: string;
  /** Drop recommended items the user touched (any row of the interactions file). Default false. */
  excludeSeen?: boolean;
}

export interface ResolvedMapUsers {
  file: string;
  userColumn: string | undefined;
  itemColumn: string | undefined;
  pick: MapPick;
  timeColumn: string | undefined;
  excludeSeen: boolean;
}

/**
 * The map-users settings, checked against the rest of the export's: each
 * needs --map-users, which writes one file or stream (any format).
 */
export function resolveMapUsers(
  o: MapUsersOptions & { maxFileSize?: number; since?: string },
): ResolvedMapUsers | undefined {
  if (!o.mapUsers) {
    for (const [given, flag] of [
      [o.mapUserColumn, '--map-user-column'],
      [o.mapItemColumn, '--map-item-column'],
      [o.mapPick, '--map-pick'],
      [o.mapTimeColumn, '--map-time-column'],
      [o.excludeSeen, '--exclude-seen'],
    ] as const)
      if (given !== undefined && given !== false)
        throw usage(`${flag} needs --map-users INTERACTIONS.csv (the items each user touched)`);
    return undefined;
  }
  const pick = o.mapPick ?? 'latest';
  if (!MAP_PICKS.includes(pick)) throw notOneOf('--map-pick', String(pick), MAP_PICKS);
  if (o.maxFileSize !== undefined)
    throw usage('--max-file-size is not done with --map-users: write one file, then split it by user');
  return {
    file: o.mapUsers,
    userColumn: o.mapUserColumn,
    itemColumn: o.mapItemColumn,
    pick,
    timeColumn: o.mapTimeColumn,
    excludeSeen: o.excludeSeen ?? false,
  };
}
