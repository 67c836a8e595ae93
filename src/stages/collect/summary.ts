export interface CollectSummary {
  sources: number;
  inputFiles: number;
  /** Non-blank output lines read. */
  outputLines: number;
  /** Lines written to the merged output. */
  written: number;
  /** Successful lines dropped because their key had one already (another shard, or a rerun). */
  duplicates: number;
  /** Lines whose error is not null. */
  errorLines: number;
  /**
   * Failed records: keys with error lines only (their first error line is in
   * the errors file), plus each error line without a key (see outputWithoutKey).
   */
  failedKeys: number;
  /**
   * Output lines with no userId, itemId or itemAttributes string to join on:
   * error lines echoing a number id or an input without the key, and the
   * empty input of Popularity-Count. Every one is kept (error lines in the
   * errors file), none is deduplicated, and none can be matched to an input
   * record, so the missing file cannot account for them.
   */
  outputWithoutKey: number;
  /** Error lines of keys that also have a successful line (a rerun recovered them). */
  recovered: number;
  invalid: number;
  blankLines: number;
  /** Non-blank input lines read. */
  inputRecords: number;
  /** Input records with no output line at all (written to the missing file). */
  missing: number;
  /** Input lines repeating an earlier input key (only the first can be missing). */
  inputDuplicates: number;
  /** Input lines without a userId, itemId or itemAttributes. */
  inputWithoutKey: number;
  /** Output keys that are not in the input. */
  unexpected: number;
  output: string;
  missingFile: string | null;
  errorsFile: string;
  seconds: number;
  warnings: string[];
}

/** A summary with every count at 0. */
export function emptySummary(output: string, missingFile: string | null, errorsFile: string): CollectSummary {
  return {
    sources: 0,
    inputFiles: 0,
    outputLines: 0,
    written: 0,
    duplicates: 0,
    errorLines: 0,
    failedKeys: 0,
    outputWithoutKey: 0,
    recovered: 0,
    invalid: 0,
    blankLines: 0,
    inputRecords: 0,
    missing: 0,
    inputDuplicates: 0,
    inputWithoutKey: 0,
    unexpected: 0,
    output,
    missingFile,
    errorsFile,
    seconds: 0,
    warnings: [],
  };
}

/** The warnings the counts call for. */
export function addWarnings(
  s: CollectSummary,
  /** Error lines without a key (kept in the errors file). */
  errorsWithoutKey: number,
  hasInput: boolean,
): void {
  if (s.duplicates > 0)
    s.warnings.push(
      `${s.duplicates === 1 ? '1 line repeats' : `${s.duplicates} lines repeat`} a key already seen (another shard or a rerun); the first was kept`,
    );
  if (s.unexpected > 0) s.warnings.push(`${s.unexpected} output keys are not in the input`);
  if (s.outputWithoutKey > 0)
    s.warnings.push(
      `${s.outputWithoutKey} output lines have no userId, itemId or itemAttributes string to join on (an error line echoing a number id or a record without the key, or an empty input); all were kept${errorsWithoutKey > 0 ? `, error lines in ${s.errorsFile}` : ''}${hasInput ? ', but they cannot be matched to input records, so the missing file cannot account for them' : ''}`,
    );
  if (s.inputDuplicates > 0) s.warnings.push(`${s.inputDuplicates} input lines repeat an earlier input key`);
  if (s.inputWithoutKey > 0)
    s.warnings.push(
      `${s.inputWithoutKey} input lines have no userId, itemId or itemAttributes and were not reconciled`,
    );
}
