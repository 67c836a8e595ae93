import { usage } from '../../../errors.js';
import type { DeltaCounts } from './decide.js';

/** The options of `export --since`, beside export's own (see ExportOptions). */
export interface SinceOptions {
  /** A previous export (csv-long, csv-wide, jsonl; .gz too) or its .out files: only new or changed keys are exported. */
  since?: string;
  /** With `since`, required: the keys PREV has and the sources do not, one per line under a header naming the key. */
  removed?: string;
  /** With `since`: a key whose scores changed (ids the same, in order) is changed too. Default false. */
  sinceScores?: boolean;
  /** With `since`: memory for PREV's table of keys, or past it for one partition of keys. Default 64 MiB. */
  memoryBudget?: number;
}

export interface ResolvedSince {
  since: string;
  removed: string;
  sinceScores: boolean;
  memoryBudget: number;
}

/** What --since found, in the export's summary. */
export interface SinceSummary extends DeltaCounts {
  prev: string;
  prevFormat: string;
  removedFile: string;
  /** With --users: REMOVED also holds these users file's columns; `missing` keys had no row there (cells empty). */
  removedUsers?: { columns: string[]; missing: number; fromPrev: number };
}

export const SINCE_DEFAULTS = { memoryBudget: 64 * 1024 * 1024 } as const;

/** The --since options resolved once; undefined when there is no --since (and then none of its companions). */
export function resolveSince(o: SinceOptions): ResolvedSince | undefined {
  if (o.since === undefined) {
    if (o.removed !== undefined) throw usage('--removed needs --since PREV (the previous export)');
    if (o.sinceScores) throw usage('--since-scores needs --since PREV (the previous export)');
    return undefined;
  }
  if (o.since === '' || o.since === '-')
    throw usage('--since needs a file or folder (PREV is read first, not from stdin)');
  if (o.removed === undefined || o.removed === '')
    throw usage(
      '--since needs --removed FILE too: the keys PREV has and the sources lack go there (e.g. --removed removed.csv)',
    );
  const budget = o.memoryBudget ?? SINCE_DEFAULTS.memoryBudget;
  if (!(budget > 0)) throw usage(`--memory-budget must be above 0, got ${budget}`);
  return { since: o.since, removed: o.removed, sinceScores: o.sinceScores ?? false, memoryBudget: budget };
}
