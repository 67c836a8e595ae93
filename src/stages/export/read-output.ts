import { Readable } from 'node:stream';
import { errorRecord, type OutputRecord, okRecord } from '../../core/out/record.js';
import { LINE_BLANK, LINE_ERROR, LINE_INVALID, OutLineParser } from '../../core/out-lines.js';
import { usage } from '../../errors.js';
import { abortable, abortError, throwIfAborted } from '../../io/abort.js';
import { checkDocKind } from '../../io/doc-kind.js';
import { expandOutSources, type OutItem, readOutItems } from '../../io/out-reader.js';
import { invalidRecord } from './line-checks.js';
import { EXPORT_DEFAULTS } from './options.js';

export type { OutputItem, OutputRecord } from '../../core/out/record.js';

/** A `.out` file, a folder or `s3://bucket/prefix/` (their `*.out` files), or a stream of `.out` bytes. */
export type OutputSource = string | Readable | AsyncIterable<Uint8Array>;

export interface ReadOutputOptions {
  /** `fail` (default): an invalid line throws (PB_PARSE or PB_INVALID_RECORD, naming file:line). `skip`: counted, told by onEvent, and left out. */
  onInvalid?: 'fail' | 'skip';
  /** Longest line in bytes; a longer one is invalid. Default 128 MiB (export's). */
  maxLineLength?: number;
  /** Aborting stops reading (stream sources are destroyed) and throws an AbortError. */
  signal?: AbortSignal;
  onEvent?: (e: ReadOutputEvent) => void;
}

export type ReadOutputEvent =
  | { type: 'source'; file: string }
  | { type: 'invalid'; file: string; line: number; reason: string }
  | { type: 'progress'; lines: number; bytesRead: number };

/** readOutput's return value. */
export interface ReadOutputSummary {
  /** Files and streams read (folders and prefixes expanded). */
  sources: number;
  lines: number;
  /** Records yielded, error lines included. */
  records: number;
  errorLines: number;
  blank: number;
  /** Invalid lines skipped (onInvalid 'skip'). */
  invalid: number;
  bytesRead: number;
}

/** Lines are parsed a piece at a time: small, so that records follow a stream closely and an abort reads little ahead. */
const PIECE = 64 * 1024;
const LF = 10;
const CR = 13;
const TOO_LONG = -1;

/**
 * Batch outputs as records: each `.out` line (any kind, error lines
 * included, in order) becomes an OutputRecord. Memory: one 64 KiB piece of
 * lines and the longest line. Returns the counts.
 */
export async function* readOutput(
  sources: OutputSource | readonly OutputSource[],
  options: ReadOutputOptions = {},
): AsyncGenerator<OutputRecord, ReadOutputSummary, undefined> {
  const { signal, onEvent } = options;
  const onInvalid = options.onInvalid ?? 'fail';
  if (onInvalid !== 'fail' && onInvalid !== 'skip')
    throw usage(`onInvalid must be fail or skip, got "${onInvalid}"`);
  const maxLineLength = options.maxLineLength ?? EXPORT_DEFAULTS.maxLineLength;
  if (!Number.isInteger(maxLineLength) || maxLineLength <= 0)
    throw usage(`maxLineLength must be a positive whole number of bytes, got ${maxLineLength}`);
  throwIfAborted(signal);
  const list: readonly OutputSource[] =
    typeof sources === 'string' || !Array.isArray(sources) ? [sources as OutputSource] : sources;
  const streams = list.filter((s) => typeof s !== 'string').length;
  const s: ReadOutputSummary = {
    sources: 0,
    lines: 0,
    records: 0,
    errorLines: 0,
    blank: 0,
    invalid: 0,
    bytesRead: 0,
  };
  const parser = new OutLineParser();
  let lastProgress = Date.now();
  let streamNo = 0;
  for (const src of list) {
    let names: { file: string; stdin?: Readable }[];
    if (typeof src === 'string') {
      if (src === '-')
        throw usage("readOutput never takes the process's stdin: pass that stream (or any other) itself");
      await checkDocKind(src, 'out');
      names = (await expandOutSources([src])).map((file) => ({ file }));
    } else {
      streamNo++;
      const stdin = src instanceof Readable ? src : Readable.from(src, { objectMode: false });
      names = [{ file: streams === 1 ? '(stream)' : `(stream ${streamNo})`, stdin }];
    }
    for (const { file, stdin } of names) {
      s.sources++;
      onEvent?.({ type: 'source', file });
      const onAbort = () => stdin?.destroy(abortError(signal as AbortSignal));
      signal?.addEventListener('abort', onAbort, { once: true });
      const items = readOutItems(stdin ? '-' : file, {
        stdin,
        pieceSize: PIECE,
        maxLineLength,
        onBytes: (n) => {
          s.bytesRead += n;
        },
      });
      const next = { line: 1 };
      try {
        for await (const item of abortable(items, signal)) {
          for (const rec of itemRecords(item, parser, file, next, s, onInvalid, maxLineLength, onEvent)) {
            throwIfAborted(signal);
            s.records++;
            yield rec;
          }
          if (onEvent && Date.now() - lastProgress > 250) {
            lastProgress = Date.now();
            onEvent({ type: 'progress', lines: s.lines, bytesRead: s.bytesRead });
          }
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }
  return s;
}

/**
 * One item's records: a piece's lines parsed in order (line numbers from
 * the fallback's list, else counted on), or a bad item as an invalid line.
 */
function* itemRecords(
  item: OutItem,
  parser: OutLineParser,
  file: string,
  next: { line: number },
  s: ReadOutputSummary,
  onInvalid: 'fail' | 'skip',
  maxLineLength: number,
  onEvent: ReadOutputOptions['onEvent'],
): Generator<OutputRecord> {
  const invalid = (line: number, reason: string, text: string) => {
    // Throws with 'fail', naming file:line, as export does.
    invalidRecord({ onInvalid }, file, line, reason, text, false);
    s.invalid++;
    onEvent?.({ type: 'invalid', file, line, reason });
  };
  if (item.kind === 'bad') {
    const line = item.line ?? next.line;
    if (item.line === undefined) next.line++;
    s.lines++;
    invalid(line, item.reason, item.text);
    return;
  }
  const buf = item.bytes;
  const numbers = item.lineNumbers;
  let index = 0;
  for (let p = 0; p < buf.length; index++) {
    let nl = buf.indexOf(LF, p);
    if (nl === -1) nl = buf.length;
    const e = nl > p && buf[nl - 1] === CR ? nl - 1 : nl;
    const line = numbers ? (numbers[index] as number) : next.line + index;
    s.lines++;
    // The reader cuts only lines longer than a piece; a shorter limit is checked here, as export does.
    const status = e - p > maxLineLength ? TOO_LONG : parser.parse(buf, p, e);
    if (status === LINE_BLANK) s.blank++;
    else if (status === TOO_LONG)
      invalid(
        line,
        `line longer than ${maxLineLength} bytes (maxLineLength)`,
        buf.toString('utf8', p, p + 1024),
      );
    else if (status === LINE_INVALID) invalid(line, parser.problem, buf.toString('utf8', p, e));
    else if (status === LINE_ERROR) {
      s.errorLines++;
      yield errorRecord(parser, buf, p, e, file, line);
    } else yield okRecord(parser, buf, file, line);
    p = nl + 1;
  }
  if (!numbers) next.line += index;
}
