import { RecordSplitter } from '../core/lines.js';
import { CLI_OPTION_NAMES } from '../core/sniff.js';
import { PbError } from '../errors.js';
import { decide, detectionOf, firstJsonValue } from './rows-format.js';
import { headerOf } from './rows-header.js';
import { jsonBatches } from './rows-json.js';
import { readSample } from './rows-sample.js';
import { type RowOptions, type RowSource, rowShapeOf } from './rows-source.js';
import { textBatches } from './rows-text.js';

// One module to import the row reader from, for the code that reads rows and the code that builds
// them itself (the byte fast path).
export { notUtf8 } from './not-utf8.js';
export {
  type Detection,
  FORMATS,
  type Format,
  type Row,
  type RowOptions,
  type RowShape,
  type RowSource,
  rowShapeOf,
} from './rows-source.js';
export { toRows } from './rows-text.js';

/**
 * Opens one stream of UTF-8 bytes (see openText) for reading rows. The
 * format is decided from the first lines (README, "How inputs are read"):
 * `{` or `[` is JSON (JSON Lines when the first line is one value), else
 * the delimiter rule (sniffDelimiter) gives CSV with a header, or one
 * column, whose first line is a header by the header rule
 * (oneColumnHasHeader) or else an id. The sniff only peeks: the bytes are
 * replayed from the start to whichever reader (`batches` or `raw`) is used.
 * Bytes that are not UTF-8 stop the reading with the line they are on.
 */
export async function readRows(
  file: string,
  bytes: AsyncIterable<Buffer>,
  opts: RowOptions,
): Promise<RowSource> {
  const names = opts.names ?? CLI_OPTION_NAMES;
  const it = bytes[Symbol.asyncIterator]();
  const next = async (): Promise<IteratorResult<Buffer>> => {
    try {
      return await it.next();
    } catch (err) {
      throw err instanceof PbError
        ? err
        : new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file });
    }
  };

  const { ended, crOnly, text, skip, firstLine, skipBytes, replay } = await readSample(
    file,
    next,
    opts.skipLines ?? 0,
    names,
  );
  // The first JSON value of the sample, parsed once for the format rule and the header.
  let firstJson: { value: unknown } | undefined;
  const firstValue = () => {
    if (firstJson === undefined) firstJson = { value: firstJsonValue(text) };
    return firstJson.value;
  };
  const d = decide(file, text, ended, opts, names, firstLine, firstValue);
  const { format, delimiter } = d;

  const { header, simpleHeader, keyed, headerRecords, shape } = headerOf(
    file,
    text,
    ended,
    d,
    opts,
    firstValue,
  );

  const splitter = new RecordSplitter({ delimiter, maxRecordLength: opts.maxLineLength, file });
  splitter.nextLine = firstLine;
  const namedHeader = !keyed && header !== null && opts.header !== false;
  const detection = detectionOf(d, namedHeader, skip);

  const source: RowSource = {
    file,
    format,
    delimiter,
    keyed,
    header,
    namedHeader,
    headerRecords,
    firstLine,
    shape,
    detection,
    simpleHeader,
    crOnly,
    raw: { [Symbol.asyncIterator]: replay },
    rawFrom: skipBytes,
    batches: {
      [Symbol.asyncIterator]: () =>
        format === 'json'
          ? jsonBatches(file, replay(), rowShapeOf(source), opts.maxLineLength, names, it, firstLine)
          : textBatches(file, replay(), rowShapeOf(source), splitter, headerRecords, crOnly, names, it),
    },
    blankLines: () => splitter.blankLines,
    keepFields: (n) => splitter.keepFields(n),
    fullRow: (row) => (row.text !== undefined && delimiter !== null ? row.text.split(delimiter) : row.values),
    empty: ended && text.trim() === '',
    warnings: d.warning === undefined ? [] : [d.warning],
    close: async () => {
      await it.return?.();
    },
  };
  return source;
}
