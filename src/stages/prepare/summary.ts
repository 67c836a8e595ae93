import type { RowBuilder } from '../../core/build.js';
import type { Detection, RowSource } from '../../io/rows.js';
import type { TextInfo } from '../../io/text.js';
import type { ShardSummary } from '../shard/index.js';
import type { ResolvedPrepareOptions } from './options.js';

/** One source as it was read: what detection found (or the options said). */
export interface InputDetection extends Detection {
  file: string;
  encoding: string;
  encodingFrom: TextInfo['encodingFrom'];
  gzip: boolean;
  /** The header's column names (CSV/TSV), or the first object's keys (JSON); absent for plain ids. */
  columns?: string[];
  /** The column the ids came from; absent for plain ids. */
  idColumn?: string;
}

/** Sources listed one by one in a summary; past this only counted. */
const INPUTS_LISTED = 100;

export interface PrepareSummary {
  family: string;
  sources: number;
  /** How each source was read (the first 100; `inputsNotListed` counts the rest). */
  inputs: InputDetection[];
  inputsNotListed: number;
  /** Popularity-Count lines without a userId (`{}`, `{"itemId": ...}`), written as they are. */
  legacyPopularityLines?: number;
  recordsRead: number;
  written: number;
  duplicates: number;
  rejected: number;
  /** Rows left out by --since. */
  inactive: number;
  /** Rows left out by --where: neither rejected nor counted as duplicates. */
  filteredOut: number;
  blankLines: number;
  bytesRead: number;
  bytesWritten: number;
  spilled: boolean;
  seconds: number;
  warnings: string[];
  /** With shardOut: what shard() wrote. */
  shard?: ShardSummary;
}

/** A summary with nothing counted yet. */
export function emptySummary(opts: ResolvedPrepareOptions): PrepareSummary {
  return {
    family: opts.family.family,
    sources: opts.sources.length,
    inputs: [],
    inputsNotListed: 0,
    recordsRead: 0,
    written: 0,
    duplicates: 0,
    rejected: 0,
    inactive: 0,
    filteredOut: 0,
    blankLines: 0,
    bytesRead: 0,
    bytesWritten: 0,
    spilled: false,
    seconds: 0,
    warnings: [],
  };
}

/** Records how a source is read, for the summary. */
export function noteInput(s: PrepareSummary, src: RowSource, info: TextInfo, build: RowBuilder): void {
  if (s.inputs.length >= INPUTS_LISTED) {
    s.inputsNotListed++;
    return;
  }
  const d: InputDetection = {
    file: src.file,
    ...src.detection,
    encoding: info.encoding,
    encodingFrom: info.encodingFrom,
    gzip: info.gzip,
  };
  if (src.header !== null) d.columns = [...src.header];
  if (build.idColumn !== undefined) d.idColumn = build.idColumn;
  s.inputs.push(d);
}

/** The warnings the totals call for: nothing written, legacy lines (counted here too), the service's quotas exceeded. */
export function warnOnTotals(s: PrepareSummary, opts: ResolvedPrepareOptions, legacy: number): void {
  if (s.written === 0) {
    s.warnings.push(
      s.rejected > 0
        ? 'no records written: every row was rejected'
        : s.inactive > 0 || s.filteredOut > 0
          ? `no records written: every row was ${[
              s.inactive > 0 ? `before ${opts.names.since}` : '',
              s.filteredOut > 0 ? `left out by ${opts.names.where}` : '',
            ]
              .filter((x) => x !== '')
              .join(' or ')}`
          : 'no records written: the sources hold no data rows',
    );
  }
  if (legacy > 0) {
    s.legacyPopularityLines = legacy;
    s.warnings.push(
      `${legacy} Popularity-Count line${legacy === 1 ? ' has' : 's have'} no userId ({} or {"itemId": ...}, as an older AWS example shows): written as they are, though the service's current docs show {"userId": "..."} lines`,
    );
  }
  if (s.written > opts.family.maxRecordsPerFile) {
    s.warnings.push(
      `${s.written} records exceed the ${opts.family.family} quota of ${opts.family.maxRecordsPerFile} per input file: split them with \`personalize-batch shard\``,
    );
  }
  if (s.bytesWritten > opts.limits.maxBytesPerJob) {
    s.warnings.push(
      `${s.bytesWritten} bytes exceed the 1 GB input quota of one job: split them with \`personalize-batch shard\``,
    );
  }
}
