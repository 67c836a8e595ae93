import type { Layout } from '../../core/out-convert.js';
import { PbError } from '../../errors.js';
import type { ResolvedExportOptions } from './options.js';

// What a writing pass refuses, said the same way when the partitioned users
// join (users-spill.ts) finds it first while splitting the lines.

/** Refuses a layout the joins cannot take (before any row is written). */
/** The header's layout when no line had recommendations: the key of error lines, or userId. */
export function keyOnlyLayout(key: Layout['keyField'] | undefined): Layout {
  return {
    kind: 'recommendations',
    keyField: key ?? 'userId',
    users: false,
    score: false,
    reason: false,
    theme: false,
  };
}

export function checkJoinLayout(layout: Layout, catalog: boolean, users: boolean): void {
  // The catalog joins recommended items; a segment line recommends users (its item is the key).
  if (layout.users && catalog)
    throw new PbError(
      'PB_USAGE',
      'this is batch segment output (users for each item): --catalog joins the items a job recommends, and a segment job recommends none; export it without --catalog',
    );
  if (users && (layout.users || layout.keyField !== 'userId'))
    throw new PbError(
      'PB_USAGE',
      `this output is keyed by ${layout.keyField} (${layout.kind}${layout.users ? ': users for each item' : ''}), not by user id: --users joins a user's attributes to the recommendations for that user (user-personalization, personalized-ranking); export it without --users`,
    );
}

/** An invalid line: thrown with --on-invalid fail, else its rejects record. */
export function invalidRecord(
  o: Pick<ResolvedExportOptions, 'onInvalid'>,
  file: string,
  line: number,
  reason: string,
  text: string,
  cut: boolean,
): Buffer {
  const parse = /^(not valid JSON|truncated|line longer|a JSON value longer)/.test(reason);
  // Stopped here, nothing was skipped: the reader's "skipped to the next line that starts with {" is for --on-invalid skip.
  if (o.onInvalid === 'fail')
    throw new PbError(
      parse ? 'PB_PARSE' : 'PB_INVALID_RECORD',
      reason.replace(/; skipped to the next line that starts with \{$/, ''),
      { file, line },
    );
  const rec = cut ? { file, line, reason, text, cut: true } : { file, line, reason, text };
  return Buffer.from(`${JSON.stringify(rec)}\n`);
}

/** The warning of an export with no row; a --since delta whose keys are all unchanged drops it (delta/fast.ts). */
export const NO_RECOMMENDATIONS = 'no line had recommendations to export';
