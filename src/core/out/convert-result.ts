import type { RowGroupMeta } from '../parquet/row-group.js';

/** What a conversion answers for a piece: counts, invalid lines, and the sum of pieces' counts. */

/** An invalid line: its 0-based index in the piece, the reason and (the start of) its text. */
export interface InvalidLine {
  index: number;
  reason: string;
  text: string;
  /** Only the first bytes of a long line are kept in `text`. */
  cut: boolean;
}

export interface ConvertCounts {
  /** Lines consumed, blank ones included. */
  lines: number;
  blank: number;
  /** Keys exported (lines with output). */
  records: number;
  /** Exported lines without a key (an empty input): their key cell is empty, null in jsonl. */
  withoutKey: number;
  /** Rows (csv-long: one per id; otherwise one per key). */
  rows: number;
  errorLines: number;
  catalogMissing: number;
  /** Exported lines whose user is not in the users file (their user columns empty, or dropped). */
  usersMissing: number;
  /** Of those, the lines dropped (usersRequired): not counted in records or rows. */
  usersDropped: number;
  /** Text cells cut to maxCellBytes. */
  cellsCut: number;
  /** Lines with data the layout has no column for (scores, reasons, theme). */
  droppedScores: number;
  droppedReasons: number;
  droppedThemes: number;
  /** csv-wide measure: widest line, and what any line carried. */
  maxWidth: number;
  sawScores: boolean;
  sawReasons: boolean;
  sawTheme: boolean;
  /** The key field (KEY_*) of the first error line, for a header when no line has recommendations. */
  errorKey: number;
  /** A users join on disk's first pass: lines whose key scan and parse give different groups (see user-groups.ts). */
  keyScanMisses: number;
}

export interface ConvertResult extends ConvertCounts {
  out: Buffer;
  /** Error lines (error not null), each byte for byte as read, ending in LF (a CRLF source's CR dropped). */
  errors: Buffer;
  invalid: InvalidLine[];
  /** failFast and invalid[0] stopped the piece. */
  failed: boolean;
  /** optimistic, and a line did not fit the guessed width or layout. */
  overflow: boolean;
  /** cfg.parquet: `out` is this row group (absent without rows). */
  rowGroup?: RowGroupMeta;
}

export function emptyCounts(): ConvertCounts {
  return {
    lines: 0,
    blank: 0,
    records: 0,
    withoutKey: 0,
    rows: 0,
    errorLines: 0,
    catalogMissing: 0,
    usersMissing: 0,
    usersDropped: 0,
    cellsCut: 0,
    droppedScores: 0,
    droppedReasons: 0,
    droppedThemes: 0,
    maxWidth: 0,
    sawScores: false,
    sawReasons: false,
    sawTheme: false,
    errorKey: 0,
    keyScanMisses: 0,
  };
}

/** Adds b's counts into a (max and or for the measures). */
export function addCounts(a: ConvertCounts, b: ConvertCounts): void {
  a.lines += b.lines;
  a.blank += b.blank;
  a.records += b.records;
  a.withoutKey += b.withoutKey;
  a.rows += b.rows;
  a.errorLines += b.errorLines;
  a.catalogMissing += b.catalogMissing;
  a.usersMissing += b.usersMissing;
  a.usersDropped += b.usersDropped;
  a.cellsCut += b.cellsCut;
  a.droppedScores += b.droppedScores;
  a.droppedReasons += b.droppedReasons;
  a.droppedThemes += b.droppedThemes;
  a.maxWidth = Math.max(a.maxWidth, b.maxWidth);
  a.sawScores ||= b.sawScores;
  a.sawReasons ||= b.sawReasons;
  a.sawTheme ||= b.sawTheme;
  if (a.errorKey === 0) a.errorKey = b.errorKey;
  a.keyScanMisses += b.keyScanMisses;
}
