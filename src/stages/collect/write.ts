import { PbError } from '../../errors.js';
import { writeOutput } from '../../io/output.js';
import { SideFile } from '../export/index.js';
import { getBit } from './bits.js';
import type { Decided } from './decide.js';
import type { CollectProgress } from './events.js';
import type { Keyed } from './keys.js';
import type { ResolvedCollectOptions } from './options.js';
import { inputPieces, isBlank, LF, numbered } from './reading.js';
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
  try {
    await errors.write(Buffer.alloc(0));
    await missingFile?.write(Buffer.alloc(0));
    const split = keyed.worker?.thread.split;
    const merged = mergedLines(
      files.sources,
      keyed.linesPerSource,
      decided,
      split?.sources,
      errors,
      o,
      s,
      progress,
    );
    await writeOutput(o.output, o.stdout, bufferedBy(merged, 4 * o.pieceSize));
    if (missingFile)
      await writeMissing(files.inputs, keyed.inputLines, decided, split?.inputs, missingFile, o, progress);
    await errors.close();
    await missingFile?.close();
  } catch (err) {
    await errors.abort();
    await missingFile?.abort();
    throw err;
  }
}

/**
 * The kept output lines, source after source; the kept error lines go to
 * `errors` on the way. From source `split` on, the lines are the worker's:
 * numbered from 0 again, with its bits.
 */
async function* mergedLines(
  sources: string[],
  linesPerSource: number[],
  decided: Decided,
  split: number | undefined,
  errors: SideFile,
  o: ResolvedCollectOptions,
  s: CollectSummary,
  progress: CollectProgress,
): AsyncGenerator<Buffer> {
  const readOpts = { stdin: o.stdin, pieceSize: o.pieceSize, maxLineLength: o.maxLineLength };
  let ordinal = 0;
  let { keepOut, keepError } = decided.main;
  for (const [i, source] of sources.entries()) {
    if (i === split && decided.worker) {
      ({ keepOut, keepError } = decided.worker);
      ordinal = 0;
    }
    const first = ordinal;
    progress.file(source, 'output');
    for await (const { item } of numbered(source, readOpts)) {
      if (item.kind === 'bad') continue;
      const r = pickLines(item.bytes, ordinal, keepOut, keepError);
      ordinal += r.lines;
      progress.read(r.lines, item.bytes.length);
      if (r.errors.length > 0) await errors.write(r.errors);
      if (r.out.length > 0) {
        s.written += r.kept;
        yield r.out;
      }
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
}

/** The input lines no output line answered, byte for byte (from input `split` on, the worker's). */
async function writeMissing(
  inputs: string[],
  inputLines: number[],
  decided: Decided,
  split: number | undefined,
  missingFile: SideFile,
  o: ResolvedCollectOptions,
  progress: CollectProgress,
): Promise<void> {
  let inputOrdinal = 0;
  let missing = decided.main.missing;
  for (const [i, file] of inputs.entries()) {
    if (i === split && decided.worker) {
      missing = decided.worker.missing;
      inputOrdinal = 0;
    }
    const first = inputOrdinal;
    progress.file(file, 'input');
    for await (const seg of inputPieces(file, o.stdin, o.maxLineLength)) {
      const r = pickInputs(seg, inputOrdinal, missing);
      inputOrdinal += r.lines;
      progress.read(r.lines, seg.length);
      if (r.out.length > 0) await missingFile.write(r.out);
    }
    if (inputOrdinal - first !== inputLines[i]) {
      throw new PbError(
        'PB_IO',
        `changed while collect read it (${inputLines[i]} lines, then ${inputOrdinal - first})`,
        {
          file,
        },
      );
    }
  }
}

/** Step 3 for a piece of output: the kept lines (LF-terminated) and kept error lines. */
function pickLines(
  piece: Buffer,
  first: number,
  keepOut: Uint8Array,
  keepError: Uint8Array,
): { out: Buffer; errors: Buffer; lines: number; kept: number } {
  const out = Buffer.allocUnsafe(piece.length + 1);
  const errors = Buffer.allocUnsafe(piece.length + 1);
  let oAt = 0;
  let eAt = 0;
  let kept = 0;
  let ord = first;
  let p = 0;
  const n = piece.length;
  while (p < n) {
    let nl = piece.indexOf(LF, p);
    if (nl === -1) nl = n;
    const e = nl > p && piece[nl - 1] === 13 ? nl - 1 : nl;
    if (!isBlank(piece, p, e)) {
      if (getBit(keepOut, ord)) {
        oAt += piece.copy(out, oAt, p, e);
        out[oAt++] = LF;
        kept++;
      } else if (getBit(keepError, ord)) {
        eAt += piece.copy(errors, eAt, p, e);
        errors[eAt++] = LF;
      }
      ord++;
    }
    p = nl + 1;
  }
  return { out: out.subarray(0, oAt), errors: errors.subarray(0, eAt), lines: ord - first, kept };
}

/** Step 3 for a piece of input: the missing lines, byte for byte (plus LF). */
function pickInputs(seg: Buffer, first: number, missing: Uint8Array): { out: Buffer; lines: number } {
  const out = Buffer.allocUnsafe(seg.length + 1);
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
  return { out: out.subarray(0, at), lines: ord - first };
}

/** Gathers chunks up to `size` bytes, so a source of tiny pieces does not become tiny writes. */
async function* bufferedBy(src: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let total = 0;
  for await (const c of src) {
    parts.push(c);
    total += c.length;
    if (total >= size) {
      yield Buffer.concat(parts, total);
      parts = [];
      total = 0;
    }
  }
  if (total > 0) yield Buffer.concat(parts, total);
}
