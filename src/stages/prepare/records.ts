import type { BatchInput } from '../../core/build.js';
import type { OptionNames } from '../../core/option-names.js';
import { usage } from '../../errors.js';
import { abortable, throwIfAborted } from '../../io/abort.js';
import type { Row } from '../../io/rows.js';
import { closePass, finishSummary, openPass } from './chunks.js';
import {
  type PrepareEvent,
  type PrepareOptions,
  type ResolvedPrepareOptions,
  resolvePrepareOptions,
} from './options.js';
import type { RecordPass } from './record-pass.js';
import { builderFor, checkSourceKind } from './sources.js';
import { emptySummary, type PrepareSummary } from './summary.js';

/** What prepareRecords reads: ids (strings), or rows (objects, the id in `column` or a usual id field). */
export type RecordSource = Iterable<string | object> | AsyncIterable<string | object>;

/** prepare's options that apply to records in memory (the rest are about files and formats). */
export type PrepareRecordsOptions = Pick<
  PrepareOptions,
  | 'recipe'
  | 'column'
  | 'itemColumn'
  | 'itemListColumn'
  | 'listSeparator'
  | 'attributes'
  | 'filters'
  | 'filterConstants'
  | 'valueSeparator'
  | 'since'
  | 'timestampColumn'
  | 'where'
  | 'dedupe'
  | 'memoryBudget'
  | 'tmpDir'
  | 'parallelDrainMinBytes'
  | 'onInvalid'
  | 'rejects'
  | 'allowEmailIds'
  | 'maxItemList'
  | 'optionNames'
> & {
  /** What messages, rejects and the summary call the source. Default `(records)`. */
  name?: string;
  /** Aborting stops reading the source, removes the spill folder and throws an AbortError. */
  signal?: AbortSignal;
  onEvent?: (e: PrepareEvent) => void;
};

export type { PrepareEvent } from './options.js';

/** What messages call the options: prepareRecords' own names, not the CLI's flags. */
const RECORDS_OPTION_NAMES: OptionNames = {
  delimiter: 'delimiter',
  encoding: 'encoding',
  column: 'options.column',
  format: 'format',
  allowEmailIds: 'options.allowEmailIds',
  skipLines: 'skipLines',
  noHeader: 'rows (objects)',
  itemColumn: 'options.itemColumn',
  itemListColumn: 'options.itemListColumn',
  timestampColumn: 'options.timestampColumn',
  attributes: 'options.attributes',
  since: 'options.since',
  where: 'options.where',
  filterColumn: (name, column) => `options.filters ['${name}=${column ?? 'FIELD'}']`,
};

/** Rows handed to the record pass at a time: one await per batch, not per row. */
const BATCH = 1024;

/**
 * prepare() on values in memory: yields the batch-input records prepare
 * writes (as objects), with its rules: ids trimmed, blank ones dropped,
 * exact dedupe within `memoryBudget` (spilled to `tmpDir` past it),
 * filterValues, the service's limits, bad records failing the run or (with
 * `onInvalid: 'skip'`) going to `rejects`. A row's line is its position in
 * the source (1-based). Returns prepare's summary.
 */
export async function* prepareRecords(
  source: RecordSource,
  options: PrepareRecordsOptions,
): AsyncGenerator<BatchInput, PrepareSummary, undefined> {
  const { signal, onEvent } = options;
  const name = options.name ?? '(records)';
  throwIfAborted(signal);
  if (options.onInvalid === 'skip' && !options.rejects)
    throw usage(
      "prepareRecords: onInvalid 'skip' needs rejects (a file or s3:// key), so that no record is lost silently",
    );
  if (options.rejects === '-')
    throw usage('prepareRecords: rejects needs a file (or s3:// key): there is no stdout here');
  const optionNames = { ...RECORDS_OPTION_NAMES, ...options.optionNames };
  const opts = resolvePrepareOptions({ ...options, optionNames, sources: [name] });
  const started = performance.now();
  const s = emptySummary(opts);
  const parts = openPass(opts, s, {
    spillFirst: false,
    parallelDrainMinBytes: options.parallelDrainMinBytes,
    progress: onEvent && ((p: Omit<PrepareEvent, 'type'>) => onEvent({ type: 'progress', ...p })),
  });
  const { pass } = parts;
  try {
    for await (const chunk of recordLines(source, pass, opts, name, signal)) {
      throwIfAborted(signal);
      s.bytesWritten += Buffer.byteLength(chunk);
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      for (let p = 0; p < text.length; ) {
        const nl = text.indexOf('\n', p);
        const end = nl === -1 ? text.length : nl;
        if (end > p) yield JSON.parse(text.slice(p, end)) as BatchInput;
        p = end + 1;
      }
    }
  } finally {
    await closePass(parts);
  }
  return finishSummary(s, opts, parts, started);
}

/**
 * The source's values as rows through the record pass, then what the pass
 * held back (groups, spilled dedupe). The first value decides: strings are
 * plain ids, objects rows with the first object's keys as the header (as
 * JSON Lines are read); a value of the other kind, or neither, is a bad record.
 */
async function* recordLines(
  source: RecordSource,
  pass: RecordPass,
  opts: ResolvedPrepareOptions,
  name: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<string | Buffer> {
  const s = pass.s;
  let plan: ReturnType<typeof builderFor> | undefined;
  let ids = false;
  let batch: Row[] = [];
  let line = 0;
  const face = { file: name, fullRow: (r: Row) => r.values };
  const flush = async () => {
    if (!plan || batch.length === 0) return '';
    const rows = batch;
    batch = [];
    const chunk = await pass.processRows(rows, face, plan.build, plan.legacyOk, plan.where?.test);
    pass.showProgress();
    return chunk;
  };
  for await (const value of abortable(source, signal)) {
    line++;
    const isText = typeof value === 'string';
    const isRow = !isText && typeof value === 'object' && value !== null && !Array.isArray(value);
    if (isText && value.trim() === '') {
      s.blankLines++;
      continue;
    }
    if (plan === undefined && (isText || isRow)) {
      ids = isText;
      const shape = { keyed: isRow, header: isRow ? Object.keys(value) : null };
      checkSourceKind(shape, name);
      plan = builderFor(shape, name, opts);
    }
    if (!(isText || isRow) || isText !== ids) {
      const reason = !(isText || isRow)
        ? `neither an id (a string) nor a row (an object): ${describe(value)}; give ids as strings`
        : ids
          ? 'a row (an object) among ids (strings): give one or the other'
          : 'an id (a string) among rows (objects): give one or the other';
      await pass.invalid(name, line, '(row)', reason, value);
      continue;
    }
    s.recordsRead++;
    batch.push({ line, values: isText ? [value] : (value as Record<string, unknown>) });
    if (batch.length >= BATCH) {
      const chunk = await flush();
      if (chunk !== '') yield chunk;
      // A source that never waits would keep the abort's timer or event from ever running.
      if (signal) await new Promise((r) => setImmediate(r));
    }
  }
  const chunk = await flush();
  if (chunk !== '') yield chunk;
  for await (const out of pass.drain()) {
    throwIfAborted(signal);
    yield out;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
