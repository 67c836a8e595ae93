import type { Writable } from 'node:stream';
import { isParquetFormat, type OutputFormat } from '../../core/out-convert.js';
import { UTF8_BOM } from '../../core/sniff-bytes.js';
import { noStream, PbError, usage } from '../../errors.js';
import { type CallOptions, withCall } from '../../io/clients.js';
import { openSource } from '../../io/input.js';
import { checkNotAnInput, writeOutput } from '../../io/output.js';

/** Options of `export --concat`. */
export interface ConcatOptions extends CallOptions {
  /** Part files (`export --part` outputs) in order; local, `s3://`, gzipped or not. */
  parts: string[];
  /** A path (written atomically; `.gz` compresses), `s3://bucket/key`, or `-` (needs `stdout`). Default `-`. */
  output?: string;
  /** csv-long or csv-wide: one header kept; jsonl: lines joined. Default: jsonl when the first part starts with `{`, else CSV. Parquet is refused. */
  format?: OutputFormat;
  /** Where `-` goes. */
  stdout?: Writable;
}

export interface ConcatSummary {
  parts: number;
  format: 'csv' | 'jsonl';
  /** CSV: the headers dropped (every part's with rows but the first one's; header-only parts are skipped). */
  headersDropped: number;
  bytesWritten: number;
}

/** The longest header a CSV part may have (a csv-wide header with catalog columns stays far below). */
const HEADER_MAX = 16 * 1024 * 1024;
const LF = 10;
const PARQUET_PARTS =
  'Parquet parts need no join: put them in one folder (or S3 prefix), which DuckDB, Athena and Spark read as one table';

/**
 * Joins part files into one, atomically: CSV parts keep the first header
 * and drop the others, which must be equal byte for byte (a byte order mark
 * aside), else the part is named; JSON Lines parts are joined, with an LF
 * added after a part that lacks its last one. Empty parts are skipped.
 * Memory: one read chunk, and a header up to 16 MiB.
 */
export function concatParts(options: ConcatOptions): Promise<ConcatSummary> {
  return withCall(options, async () => {
    const parts = [...options.parts];
    if (parts.length === 0) throw usage('export --concat needs the part files to join, in order');
    const output = options.output ?? '-';
    if (output === '-' && !options.stdout) throw noStream('export --concat', 'stdout');
    if (parts.includes('-')) throw usage('export --concat joins files: give the parts by name, not -');
    if (isParquetFormat(options.format)) throw usage(PARQUET_PARTS);
    await checkNotAnInput(output, parts);
    const kind: ConcatSummary['format'] | undefined =
      options.format === undefined ? undefined : options.format === 'jsonl' ? 'jsonl' : 'csv';
    const state = { kind, header: undefined as Buffer | undefined, dropped: 0, bytes: 0 };
    await writeOutput(output, options.stdout, joined(parts, state));
    return {
      parts: parts.length,
      format: state.kind ?? 'jsonl',
      headersDropped: state.dropped,
      bytesWritten: state.bytes,
    };
  });
}

interface JoinState {
  kind: ConcatSummary['format'] | undefined;
  header: Buffer | undefined;
  /** The first header-only part, written when no part has rows. */
  fallback?: Buffer;
  dropped: number;
  bytes: number;
}

async function* joined(parts: string[], state: JoinState): AsyncGenerator<Buffer> {
  for (const part of parts) {
    const it = openSource(part)[Symbol.asyncIterator]();
    try {
      let head: Buffer = Buffer.alloc(0);
      // CSV: the header line whole (up to HEADER_MAX); JSON Lines: the first chunk.
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        head = head.length === 0 ? r.value : Buffer.concat([head, r.value]);
        state.kind ??=
          head.subarray(head.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0)[0] === 0x7b ? 'jsonl' : 'csv';
        if (state.kind === 'jsonl' || head.indexOf(LF) !== -1 || head.length > HEADER_MAX) break;
      }
      if (head.length === 0) continue;
      if (head.subarray(0, 4).toString('latin1') === 'PAR1')
        throw new PbError('PB_USAGE', PARQUET_PARTS, { file: part });
      let first = head;
      if (state.kind === 'csv') {
        const lf = headerEnd(part, head);
        let rest = head.subarray(lf + 1);
        while (rest.length === 0) {
          const r = await it.next();
          if (r.done) break;
          rest = r.value;
        }
        // A part with no rows (an empty slice, or only error lines) has no columns to agree on.
        if (rest.length === 0) {
          state.fallback ??= Buffer.from(head);
          continue;
        }
        yield* counted(state, [keptHeader(part, head.subarray(0, lf + 1), state), rest]);
        first = Buffer.alloc(0);
      }
      let last = head[head.length - 1];
      yield* counted(state, [first]);
      for (let r = await it.next(); !r.done; r = await it.next()) {
        if (r.value.length === 0) continue;
        last = r.value[r.value.length - 1];
        yield* counted(state, [r.value]);
      }
      if (last !== LF && state.kind === 'jsonl') yield* counted(state, [Buffer.from('\n')]);
    } finally {
      await it.return?.();
    }
  }
  // Every part was header-only: the output still starts with a header.
  if (state.kind === 'csv' && !state.header && state.fallback) yield* counted(state, [state.fallback]);
}

function* counted(state: JoinState, bufs: Buffer[]): Generator<Buffer> {
  for (const b of bufs) {
    if (b.length === 0) continue;
    state.bytes += b.length;
    yield b;
  }
}

/** Where a CSV part's header line ends (its LF). */
function headerEnd(part: string, head: Buffer): number {
  const lf = head.indexOf(LF);
  if (lf === -1)
    throw new PbError(
      'PB_PARSE',
      `no header line in the first ${HEADER_MAX} bytes: not an export's CSV part (for JSON Lines parts give --format jsonl)`,
      { file: part },
    );
  return lf;
}

/** A CSV part's header line: kept for the first part with rows, else checked equal to it and dropped. */
function keptHeader(part: string, line: Buffer, state: JoinState): Buffer {
  const bom = line.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  const header = line.subarray(bom);
  if (!state.header) {
    state.header = Buffer.from(header);
    return line;
  }
  if (!header.equals(state.header))
    throw new PbError(
      'PB_INVALID_RECORD',
      `its header differs from the first part's (${show(header)} against ${show(state.header)}): parts joined under one header must have the same columns; export every part with the same options (csv-wide: the same --top), or join them as separate files`,
      { file: part, line: 1 },
    );
  state.dropped++;
  return Buffer.alloc(0);
}

function show(header: Buffer): string {
  const text = header.toString('utf8').replace(/\r?\n$/, '');
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}
