import { Readable } from 'node:stream';
import { PbError } from '../../errors.js';
import { writeOutput } from '../../io/output.js';
import { SideFile } from '../export/index.js';
import { getBit } from './bits.js';
import type { Bitsets, Decided } from './decide.js';
import type { CollectProgress } from './events.js';
import type { KeyEvents } from './key-worker.js';
import type { Keyed } from './keys.js';
import type { ResolvedCollectOptions } from './options.js';
import { inputPieces, isBlank, LF, numbered, PiecePool } from './reading.js';
import type { CollectSummary } from './summary.js';

/**
 * Step 3: the sources are read again: kept lines go to the output, kept
 * error lines to the errors file, missing input lines (byte for byte) to
 * the missing file (at the paths in the summary).
 */
export async function writeDecided(
  files: { sources: string[]; inputs: string[] },
  keyed: Keyed,
  decided: Decided,
  o: ResolvedCollectOptions,
  s: CollectSummary,
  progress: CollectProgress,
): Promise<void> {
  const errors = new SideFile(s.errorsFile, o.stdout);
  const missingFile = s.missingFile ? new SideFile(s.missingFile, o.stdout) : undefined;
  const split = keyed.worker?.thread.split ?? { sources: files.sources.length, inputs: files.inputs.length };
  try {
    await errors.write(Buffer.alloc(0));
    await missingFile?.write(Buffer.alloc(0));
    const mine = mergedLines(
      files.sources.slice(0, split.sources),
      keyed.linesPerSource,
      decided.main,
      errors,
      o,
      s,
      progress,
    );
    // The worker's sources follow, numbered from 0 again, with its bits.
    async function* merged(): AsyncGenerator<Buffer> {
      yield* mine;
      if (!decided.worker) return;
      const rest = files.sources.slice(split.sources);
      yield* mergedLines(
        rest,
        keyed.linesPerSource.slice(split.sources),
        decided.worker,
        errors,
        o,
        s,
        progress,
      );
    }
    // One chunk read ahead, not Readable.from's 16 (of 4 MiB each).
    await writeOutput(o.output, o.stdout, Readable.from(merged(), { highWaterMark: 1 }));
    if (missingFile) {
      const inputs = files.inputs.slice(0, split.inputs);
      await writeMissing(inputs, keyed.inputLines, decided.main.missing, missingFile, o, progress);
      if (decided.worker) {
        const rest = files.inputs.slice(split.inputs);
        const counts = keyed.inputLines.slice(split.inputs);
        await writeMissing(rest, counts, decided.worker.missing, missingFile, o, progress);
      }
    }
    await errors.close();
    await missingFile?.close();
  } catch (err) {
    await errors.abort();
    await missingFile?.abort();
    throw err;
  }
}

/**
 * The kept output lines, source after source (numbered from 0), with one
 * thread's bits; the kept error lines go to `errors` on the way.
 */
async function* mergedLines(
  sources: string[],
  linesPerSource: number[],
  { keepOut, keepError }: Bitsets,
  errors: { write(c: Buffer): Promise<void> },
  o: { stdin?: Readable; pieceSize: number; maxLineLength: number },
  s: { written: number },
  progress: KeyEvents,
): AsyncGenerator<Buffer> {
  const pool = new PiecePool(o.pieceSize);
  const readOpts = { stdin: o.stdin, pieceSize: o.pieceSize, maxLineLength: o.maxLineLength, pool };
  // Kept lines are copied once, into chunks of 4 pieces: a buffer per piece, then one to gather
  // them, was 2 MiB of garbage a piece per thread and showed in the peak RSS.
  const size = 4 * o.pieceSize;
  const acc = { buf: Buffer.allocUnsafe(size), at: 0 };
  const scratch = new Scratch();
  let ordinal = 0;
  for (const [i, source] of sources.entries()) {
    const first = ordinal;
    progress.file(source, 'output');
    for await (const { item } of numbered(source, readOpts)) {
      if (item.kind === 'bad') continue;
      if (acc.at + item.bytes.length + 1 > acc.buf.length) {
        if (acc.at > 0) yield acc.buf.subarray(0, acc.at);
        acc.buf = Buffer.allocUnsafe(Math.max(size, item.bytes.length + 1));
        acc.at = 0;
      }
      const r = pickLines(item.bytes, ordinal, keepOut, keepError, acc, scratch);
      pool.recycle(item.bytes);
      ordinal += r.lines;
      s.written += r.kept;
      progress.read(r.lines, item.bytes.length);
      if (r.errors) await errors.write(r.errors);
    }
    // The output is written atomically: this throw discards it.
    if (ordinal - first !== linesPerSource[i]) {
      throw new PbError(
        'PB_IO',
        `changed while collect read it (${linesPerSource[i]} lines, then ${ordinal - first})`,
        { file: source },
      );
    }
  }
  if (acc.at > 0) yield acc.buf.subarray(0, acc.at);
}

/** The input lines no output line answered, byte for byte (numbered from 0, one thread's bits). */
async function writeMissing(
  inputs: string[],
  inputLines: number[],
  missing: Uint8Array,
  missingFile: { write(c: Buffer): Promise<void> },
  o: { stdin?: Readable; maxLineLength: number },
  progress: KeyEvents,
): Promise<void> {
  let inputOrdinal = 0;
  const scratch = new Scratch();
  for (const [i, file] of inputs.entries()) {
    const first = inputOrdinal;
    progress.file(file, 'input');
    for await (const seg of inputPieces(file, o.stdin, o.maxLineLength, true)) {
      const r = pickInputs(seg, inputOrdinal, missing, scratch);
      inputOrdinal += r.lines;
      progress.read(r.lines, seg.length);
      if (r.out.length > 0) await missingFile.write(r.out);
    }
    if (inputOrdinal - first !== inputLines[i]) {
      throw new PbError(
        'PB_IO',
        `changed while collect read it (${inputLines[i]} lines, then ${inputOrdinal - first})`,
        { file },
      );
    }
  }
}

/**
 * A buffer used again for each piece's few picked lines (errors, missing
 * inputs), which then leave in a copy of their own size: a buffer the size
 * of each piece was garbage waiting for a collection (RSS).
 */
class Scratch {
  private buf = Buffer.alloc(0);

  /** At least n bytes, its contents undefined. */
  take(n: number): Buffer {
    if (this.buf.length < n) this.buf = Buffer.allocUnsafeSlow(Math.max(n, 2 * this.buf.length));
    return this.buf;
  }
}

/**
 * Step 3 for a piece of output: the kept lines (LF-terminated) appended to
 * `acc` (room for the whole piece is the caller's), the kept error lines in
 * a buffer of their own (none: undefined).
 */
function pickLines(
  piece: Buffer,
  first: number,
  keepOut: Uint8Array,
  keepError: Uint8Array,
  acc: { buf: Buffer; at: number },
  scratch: Scratch,
): { errors: Buffer | undefined; lines: number; kept: number } {
  const out = acc.buf;
  let errors: Buffer | undefined;
  let oAt = acc.at;
  let eAt = 0;
  let kept = 0;
  let ord = first;
  // Kept lines that end in a bare LF, one after the other, are copied as one run: a copy a line
  // was a sixth of the main thread's time.
  let run = -1;
  let runEnd = 0;
  let p = 0;
  const n = piece.length;
  while (p < n) {
    let nl = piece.indexOf(LF, p);
    if (nl === -1) nl = n;
    const e = nl > p && piece[nl - 1] === 13 ? nl - 1 : nl;
    const blank = isBlank(piece, p, e);
    if (!blank && getBit(keepOut, ord) && e === nl && nl < n) {
      if (run === -1) run = p;
      runEnd = nl + 1;
      kept++;
      ord++;
      p = nl + 1;
      continue;
    }
    if (run !== -1) {
      oAt += piece.copy(out, oAt, run, runEnd);
      run = -1;
    }
    if (!blank) {
      if (getBit(keepOut, ord)) {
        oAt += piece.copy(out, oAt, p, e);
        out[oAt++] = LF;
        kept++;
      } else if (getBit(keepError, ord)) {
        errors ??= scratch.take(piece.length + 1);
        eAt += piece.copy(errors, eAt, p, e);
        errors[eAt++] = LF;
      }
      ord++;
    }
    p = nl + 1;
  }
  if (run !== -1) oAt += piece.copy(out, oAt, run, runEnd);
  acc.at = oAt;
  return { errors: errors && Buffer.from(errors.subarray(0, eAt)), lines: ord - first, kept };
}

/** Step 3 for a piece of input: the missing lines, byte for byte (plus LF). */
function pickInputs(
  seg: Buffer,
  first: number,
  missing: Uint8Array,
  scratch: Scratch,
): { out: Buffer; lines: number } {
  const out = scratch.take(seg.length + 1);
  let at = 0;
  let ord = first;
  let p = 0;
  const n = seg.length;
  while (p < n) {
    let nl = seg.indexOf(LF, p);
    if (nl === -1) nl = n;
    if (!isBlank(seg, p, nl)) {
      if (getBit(missing, ord)) {
        at += seg.copy(out, at, p, nl);
        out[at++] = LF;
      }
      ord++;
    }
    p = nl + 1;
  }
  return { out: Buffer.from(out.subarray(0, at)), lines: ord - first };
}
