import type { TableScanner } from '../../../core/table-scan.js';
import { eachUserRow } from '../catalog.js';
import type { ResolvedExportOptions } from '../options.js';
import { plainKey } from '../users-rows.js';
import { NEEDS_ESCAPE } from '../users-spill.js';
import { type DeltaKeys, TYPE_USER } from './keys.js';

/**
 * `--since` with `--users` and `--users-required`: the users file's keys into
 * the partitions beside PREV's and the sources', so that step 2 removes a
 * PREV key the file no longer has, as the full export would drop its rows
 * (a contact the CRM deleted must leave the e-mail tool, not keep last
 * week's recommendations there). Keys only: on the byte path a row costs no
 * string; its columns are read later, by the export, for the kept lines.
 */
export async function keyUsersFile(o: ResolvedExportOptions, keys: DeltaKeys): Promise<void> {
  const onRow = (key: string) => {
    // As the sources' keys are written: JSON string content (most keys need no escape).
    const k = Buffer.from(NEEDS_ESCAPE.test(key) ? JSON.stringify(key).slice(1, -1) : key);
    return keys.put(k, 0, k.length, TYPE_USER, 0, false);
  };
  const onBytes = (piece: Buffer, sc: TableScanner) =>
    plainKey(piece, sc.keyStart, sc.keyEnd)
      ? keys.put(piece, sc.keyStart, sc.keyEnd, TYPE_USER, 0, false)
      : onRow(piece.toString('utf8', sc.keyStart, sc.keyEnd));
  await eachUserRow(o, onRow, undefined, onBytes);
}
