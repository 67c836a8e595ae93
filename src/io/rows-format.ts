import { ConcatenatedJson, type OutItem } from '../core/json-values.js';
import {
  checkNotAligned,
  type Delimited,
  type JsonLayout,
  jsonLayout,
  type OptionNames,
  oneColumnHasHeader,
  sepLineOf,
  sniffDelimiter,
} from '../core/sniff.js';
import { isObject, parseJson } from './rows-json.js';
import type { Detection, Format, RowOptions } from './rows-source.js';

const LF = 10;

export interface Decision {
  format: Format;
  delimiter: string | null;
  delimiterFrom: Detection['delimiterFrom'];
  sepLine: boolean;
  jsonLayout?: JsonLayout;
  warning?: string;
}

/** The format rule, on the first complete lines of decoded text. */
export function decide(
  file: string,
  body: string,
  ended: boolean,
  opts: RowOptions,
  names: OptionNames,
  startLine: number,
  firstValue: () => unknown,
): Decision {
  const firstLine = body.split('\n').find((l) => l.trim() !== '');
  const given = opts.delimiter;
  const sep = firstLine === undefined ? null : sepLineOf(firstLine);
  const delimited = (fallback: string): Decision => {
    if (sep !== null) {
      // Excel's `sep=` line is never the header, whoever names the delimiter.
      const delimiter = given ?? sep;
      return {
        format: fmtOf(delimiter),
        delimiter,
        delimiterFrom: given ? 'option' : 'sep-line',
        sepLine: true,
      };
    }
    if (given !== undefined)
      return { format: fmtOf(given), delimiter: given, delimiterFrom: 'option', sepLine: false };
    const s = sniffDelimiter(body, ended, file, names, startLine);
    if (s.delimiter === null)
      return { format: 'csv', delimiter: fallback, delimiterFrom: 'detected', sepLine: false };
    return sniffed(s);
  };
  switch (opts.format) {
    case 'plain':
      return { format: 'plain', delimiter: null, delimiterFrom: null, sepLine: false };
    case 'jsonl':
      return { format: 'jsonl', delimiter: null, delimiterFrom: null, sepLine: false };
    case 'json':
      return {
        format: 'json',
        delimiter: null,
        delimiterFrom: null,
        sepLine: false,
        jsonLayout: firstLine === undefined ? undefined : jsonLayout(firstLine),
      };
    case 'tsv':
      return { format: 'tsv', delimiter: '\t', delimiterFrom: 'option', sepLine: false };
    case 'csv':
      return delimited(',');
    default:
      break;
  }
  if (firstLine === undefined)
    return { format: 'plain', delimiter: null, delimiterFrom: null, sepLine: false };
  const trimmed = firstLine.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const layout = jsonLayout(trimmed);
    // A first object that runs past its line is pretty-printed JSON only if it ends as one value;
    // otherwise it is a broken line of JSON Lines, which the row reader reports with its number.
    const spreadOk = layout !== 'spread' || isObject(firstValue());
    if (layout === 'lines' || !spreadOk)
      return { format: 'jsonl', delimiter: null, delimiterFrom: null, sepLine: false };
    return { format: 'json', delimiter: null, delimiterFrom: null, sepLine: false, jsonLayout: layout };
  }
  if (given !== undefined || sep !== null) return delimited(',');
  const s = sniffDelimiter(body, ended, file, names, startLine);
  if (s.delimiter !== null) return sniffed(s);
  // One column: a header by the header rule, else a list of ids.
  checkNotAligned(body, file, names);
  if (opts.header !== false && oneColumnHasHeader(body, ended, opts.column, file, names, startLine))
    return { format: 'csv', delimiter: ',', delimiterFrom: 'detected', sepLine: false };
  return { format: 'plain', delimiter: null, delimiterFrom: null, sepLine: false };
}

/** What was decided, as the summaries print it. */
export function detectionOf(d: Decision, namedHeader: boolean, skip: number): Detection {
  const { format, delimiter } = d;
  const layout = d.jsonLayout;
  const detection: Detection = {
    format,
    delimiter,
    delimiterFrom: delimiter === null ? null : d.delimiterFrom,
    header: namedHeader,
  };
  if (skip > 0) detection.skippedLines = skip;
  if (format === 'json' && layout !== undefined && layout !== 'lines') detection.jsonLayout = layout;
  return detection;
}

function sniffed(s: Delimited): Decision {
  const d = s.delimiter as string;
  const out: Decision = {
    format: fmtOf(d),
    delimiter: d,
    delimiterFrom: s.sepLine ? 'sep-line' : 'detected',
    sepLine: s.sepLine,
  };
  if (s.warning !== undefined) out.warning = s.warning;
  return out;
}

function fmtOf(delimiter: string): Format {
  return delimiter === '\t' ? 'tsv' : 'csv';
}

/** The first value of JSON text that is not JSON Lines (undefined when the sample holds none whole). */
export function firstJsonValue(text: string): unknown {
  const concat = new ConcatenatedJson({
    pieceSize: 1 << 20,
    maxLineLength: Number.MAX_SAFE_INTEGER,
    unwrapArray: true,
  });
  let value: unknown;
  const take = (x: OutItem) => {
    if (value === undefined && x.kind === 'lines') {
      const first = x.bytes.toString('utf8', 0, x.bytes.indexOf(LF));
      value = parseJson(first);
    }
  };
  concat.push(text, take);
  // Values cut off by the end of the sample come out as bad items, which are ignored here.
  concat.end(take);
  return value;
}
