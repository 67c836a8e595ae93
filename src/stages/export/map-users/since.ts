import { rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { hashBytes } from '../../../core/byteset.js';
import { canonicalBytes, checkMapped, ListDigest, scoreText } from '../../../core/delta.js';
import type { MappedRow } from '../../../core/map-users.js';
import { PbError, usage } from '../../../errors.js';
import { makeTempDir } from '../../../io/output.js';
import type { DeltaCounts } from '../delta/decide.js';
import { NoKeys } from '../delta/keys.js';
import type { ResolvedSince } from '../delta/options.js';
import { type PrevRead, prevReadOptions, readPrev } from '../delta/prev.js';
import { readPrevTable } from '../delta/prev-table.js';
import { removedHeader, removedKeyLines, writeRemoved } from '../delta/removed-users.js';
import { eachEntry, PrevTable, SEEN_OK, type SharedTable, tableKeys } from '../delta/table.js';
import type { ResolvedExportOptions } from '../options.js';
import { checkExportPaths } from '../paths.js';
import type { ExportSummary } from '../summary.js';

/**
 * `export --map-users --since PREV`: only the users whose merged list is new
 * or changed against PREV (the previous `--map-users` export, in any of our
 * formats) are written, and REMOVED lists PREV's users that got no rows.
 * PREV's users and list digests are held in the `--since` table
 * (delta/table.ts) within --memory-budget; each user's list is digested as
 * it is written, as a PREV export's is read: its ids in order (and scores
 * with --since-scores), the source items not compared. A PREV that does not
 * fit is refused, as the users table with --map-users is.
 */
export class MappedSince {
  readonly counts: DeltaCounts = { new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 };
  private readonly digest = new ListDigest();
  private readonly table: PrevTable | undefined;

  private constructor(
    shared: SharedTable | undefined,
    readonly read: PrevRead,
    readonly d: ResolvedSince,
    private readonly o: ResolvedExportOptions,
  ) {
    this.table = shared && new PrevTable(shared);
  }

  static async open(d: ResolvedSince, o: ResolvedExportOptions): Promise<MappedSince> {
    const held = await readPrevTable(d, o);
    const read = held?.read ?? (await whyNotHeld(d, o));
    if (read.recipe && read.recipe.keyColumn !== 'userId')
      throw usage(
        `--since ${d.since} is keyed by ${read.recipe.keyColumn}: with --map-users, --since takes the previous --map-users export (keyed by userId), not the related-items output`,
      );
    checkMapped(d.since, read.recipe, true);
    return new MappedSince(held?.table, read, d, o);
  }

  /** Whether a user's rows are written: new or changed against PREV (the user is marked seen). */
  keep(user: string, rows: readonly MappedRow[]): boolean {
    const digest = this.digest;
    digest.reset();
    for (const r of rows) {
      const b = canonicalBytes(r.item);
      digest.id(b, 0, b.length);
      if (this.d.sinceScores) digest.score(scoreText(r.score));
    }
    const k = canonicalBytes(user);
    const e = this.table ? this.table.find(k, 0, k.length, hashBytes(k, 0, k.length)) : -1;
    if (e < 0) {
      this.counts.new++;
      return true;
    }
    const t = this.table as PrevTable;
    t.mark(e, SEEN_OK);
    if (t.same(e, digest.wordA(), digest.wordB())) {
      this.counts.unchanged++;
      return false;
    }
    this.counts.changed++;
    return true;
  }

  /** REMOVED: the header, then PREV's users no written or unchanged user matched, in PREV's order. */
  removedLines(header: string): AsyncGenerator<string> {
    const t = this.table;
    const gone: number[] = [];
    if (t)
      eachEntry(t.w, t.shared.regions, (e) => {
        if ((t.flags(e) & SEEN_OK) === 0) gone.push(e);
      });
    this.counts.removed = gone.length;
    return removedKeyLines(header, t ? tableKeys(t, gone) : [], this.o);
  }
}

/**
 * PREV read again when the table did not take it: its own mistakes (not an
 * export, not UTF-8) come out as they would without --map-users; an empty
 * PREV makes every user new; else it is too large (or repeats a key).
 */
async function whyNotHeld(d: ResolvedSince, o: ResolvedExportOptions): Promise<PrevRead> {
  const read = await readPrev(d.since, new NoKeys(d.sinceScores), prevReadOptions(o));
  if (read.keys === 0) return read;
  throw new PbError(
    'PB_LIMIT',
    `with --map-users, --since holds PREV's ${read.keys} users in memory: they need more than --memory-budget (${d.memoryBudget} bytes), or a user is in PREV twice; raise --memory-budget, or give the previous --map-users export as it was written`,
    { file: d.since },
  );
}

/**
 * The map-users export's --since ends: PREV checked and held before the
 * export (open), REMOVED written after it (finish), with the users file's
 * columns when there is one.
 */
export async function openMappedSince(
  d: ResolvedSince,
  o: ResolvedExportOptions,
  inputs: readonly string[],
): Promise<MappedSince> {
  // Over PREV, the output would hold only the changes: the next --since would find every user new.
  await checkExportPaths(o, inputs, d);
  return MappedSince.open(d, o);
}

export async function finishMappedSince(
  summary: ExportSummary,
  since: MappedSince,
  o: ResolvedExportOptions,
  stdout: Writable | undefined,
): Promise<ExportSummary> {
  const d = since.d;
  const dir = await makeTempDir(o.tmpDir, 'personalize-batch-since-');
  try {
    const lines = since.removedLines(removedHeader('userId', o));
    const users = await writeRemoved(d, o, stdout, lines, summary, dir);
    return {
      ...summary,
      since: {
        ...since.counts,
        prev: d.since,
        prevFormat: since.read.format,
        removedFile: d.removed,
        ...(users && { removedUsers: users }),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
