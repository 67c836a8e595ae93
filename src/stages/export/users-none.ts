import type { ConvertCounts } from '../../core/out/convert-result.js';
import { PbError } from '../../errors.js';
import { readOutHead } from '../../io/out-head.js';
import { usersFileHead } from './catalog.js';
import type { CurrentRead } from './delta/current.js';
import type { DeltaCounts } from './delta/decide.js';
import type { ResolvedExportOptions } from './options.js';

/**
 * With --users-required, an export none of whose users is in the users file would be a header and
 * nothing else, which a scheduled upload sends as it is. No user matching at all is almost always
 * the wrong key column (an e-mail column for the user ids), so the export stops before its output
 * is committed, and says which column of the file holds the export's ids when its first rows show
 * one. Without --users-required the recommendations are all written (their user columns empty) and
 * a warning says the same (summary.ts): they are the output, the user columns are extras.
 */
export function stopWhenNoUserMatched(
  o: ResolvedExportOptions,
  sources: readonly string[],
): ((counts: ConvertCounts) => Promise<void>) | undefined {
  if (!o.usersRequired) return undefined;
  return async (c) => {
    if (c.records > 0 || c.usersDropped === 0) return;
    throw await noUserMatched(o, sources, c.usersDropped);
  };
}

/**
 * export --since --users-required: the sources have keys with recommendations and the users file none
 * of them. The delta would write no row and list every key of PREV in REMOVED (an unsubscribe of the
 * whole audience), so it stops as the plain export does, before either file is written.
 */
export async function stopWhenNoKeyKept(
  o: ResolvedExportOptions,
  sources: readonly string[],
  cur: CurrentRead,
  counts: DeltaCounts,
): Promise<void> {
  if (o.users === undefined || !o.usersRequired || counts.new + counts.changed + counts.unchanged > 0) return;
  let always = 0;
  for (const byte of cur.always.sized(cur.lines)) for (let b = byte; b !== 0; b &= b - 1) always++;
  const keyed = cur.lines - always;
  if (keyed > 0) throw await noUserMatched(o, sources, keyed, ' and REMOVED would list every key of PREV');
}

/** Rows of each side compared for the message: a glance, not a join (the first MiB of the outputs). */
const SAMPLE = 2000;

async function noUserMatched(
  o: ResolvedExportOptions,
  sources: readonly string[],
  n: number,
  removed = '',
): Promise<PbError> {
  const ids = await exportUserIds(sources[0]);
  const { header, idCol, rows } = await usersFileHead(o, SAMPLE);
  const key = header[idCol] as string;
  const few = (xs: string[]) =>
    xs.length === 0
      ? '(none read)'
      : `${xs
          .slice(0, 3)
          .map((x) => JSON.stringify(x))
          .join(', ')}${xs.length > 3 ? ', ...' : ''}`;
  const fileKeys = rows.map((r) => r[idCol] as string).filter((k) => k !== '');
  // The column of the file's first rows that holds most of the export's first ids.
  let best = -1;
  let bestHits = 0;
  header.forEach((_, i) => {
    const hits = rows.filter((r) => ids.has(r[i] as string)).length;
    if (hits > bestHits) [best, bestHits] = [i, hits];
  });
  const fix =
    best >= 0 && best !== idCol
      ? `Its column "${header[best]}" holds them: use --user-key "${header[best]}"`
      : `Give --user-key the column that holds the export's user ids (the header has ${header.map((h) => JSON.stringify(h)).join(', ')}), or check that --users names the right file`;
  return new PbError(
    'PB_USAGE',
    `none of the ${n} user${n === 1 ? '' : 's'} of this export is in the users file by its key column "${key}" (--user-key): ${ids.size > 0 ? `the export's user ids are like ${few([...ids])}, ` : ''}the file's "${key}" values like ${few(fileKeys)}; with --users-required no row would be written${removed}, so nothing was. ${fix}`,
    { file: o.users },
  );
}

/** The user ids of the first lines of the first output (its first MiB). */
async function exportUserIds(source: string | undefined): Promise<Set<string>> {
  const ids = new Set<string>();
  // Stdin was read once already: no ids to show from it.
  if (source === undefined || source === '-') return ids;
  const { head } = await readOutHead(source);
  for (const line of head.toString('utf8').split('\n')) {
    try {
      const id = (JSON.parse(line) as { input?: { userId?: unknown } }).input?.userId;
      if (typeof id === 'string' && id.trim() !== '') ids.add(id.trim());
    } catch {
      // A line that does not parse has no id to show; the export counted it already.
    }
    if (ids.size >= SAMPLE) break;
  }
  return ids;
}
