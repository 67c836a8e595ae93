import type { Readable } from 'node:stream';
import { docKindOf, wrongKind } from '../../core/doc-kind.js';
import type { SpillDir } from '../../io/spill.js';
import type { CollectProgress } from './events.js';
import type { InvalidLines } from './invalid.js';
import { type KeyEvents, type KeyWorker, startKeyWorker, type WorkerKeyed } from './key-worker.js';
import { Keyer, PARTS_IN_FLIGHT } from './keyer.js';
import type { ResolvedCollectOptions } from './options.js';
import { inputPieces, numbered, PiecePool } from './reading.js';
import type { CollectSummary } from './summary.js';

export { TYPE_ERROR, TYPE_INPUT, TYPE_OK, WORKER_TYPE } from './keyer.js';

/** What step 1 found, for the steps after it. */
export interface Keyed {
  /** This thread's: its lines, bits and partitions (written and closed). */
  keyer: Keyer;
  /** Non-blank lines per source and per input file (both threads'): a second reading must find as many. */
  linesPerSource: number[];
  inputLines: number[];
  /** Error lines without a key, both threads'. */
  errorsWithoutKey: number;
  /** The worker thread, when it keyed the last sources and inputs (numbered from 0 in its own files). */
  worker: (WorkerKeyed & { thread: KeyWorker }) | undefined;
}

/**
 * Step 1: every output line (then every input line) is numbered and its key
 * written, with the line's number and type, to hash partitions on disk.
 * From `twoThreadsFrom` bytes of local files, a worker thread keys the last
 * sources and inputs (about half the bytes) into partitions of its own
 * while this thread keys the first ones. The worker gives up on anything
 * but clean lines (an invalid line, an error): this thread then keys its
 * files itself, in order, so reports and numbering are as with one thread.
 */
export async function partitionKeys(
  files: { sources: string[]; inputs: string[] },
  spill: SpillDir,
  o: ResolvedCollectOptions,
  invalid: InvalidLines,
  s: CollectSummary,
  progress: CollectProgress,
): Promise<Keyed> {
  const thread = await startKeyWorker(files, spill, o, progress);
  // Two sets of 256 files: each queues half as much (RSS, measured at 10 M keys).
  const keyer = new Keyer(
    await spill.partitions(0, undefined, undefined, thread ? 2 : undefined, PARTS_IN_FLIGHT),
    o.maxLineLength,
  );
  const mine = thread ? thread.split : { sources: files.sources.length, inputs: files.inputs.length };
  const report = (file: string, line: number, reason: string, text: string) =>
    invalid.report(file, line, reason, text);
  let worker: Keyed['worker'];
  let linesPerSource: number[];
  let inputLines: number[];
  try {
    linesPerSource = await keySources(keyer, files.sources.slice(0, mine.sources), o, report, progress);
    inputLines = await keyInputs(keyer, files.inputs.slice(0, mine.inputs), o, progress);
    const theirs = thread ? await thread.keyed : undefined;
    // Its partitions are closed and told: the rest is this thread's (the worker's memory stops counting).
    await thread?.stop();
    if (theirs && thread) {
      worker = { ...theirs, thread };
      linesPerSource.push(...theirs.linesPerSource);
      inputLines.push(...theirs.inputLines);
    } else {
      // No worker, or it gave up: this thread keys the rest, numbering on.
      linesPerSource.push(
        ...(await keySources(keyer, files.sources.slice(mine.sources), o, report, progress)),
      );
      inputLines.push(...(await keyInputs(keyer, files.inputs.slice(mine.inputs), o, progress)));
    }
  } catch (err) {
    await thread?.stop();
    throw err;
  }
  await keyer.parts.close();
  const w = worker;
  s.outputLines = keyer.ordinal + (w?.ordinal ?? 0);
  s.errorLines = keyer.errorLines + (w?.errorLines ?? 0);
  s.outputWithoutKey = keyer.withoutKey + (w?.withoutKey ?? 0);
  s.blankLines += keyer.blankLines + (w?.blankLines ?? 0);
  s.invalid = invalid.count;
  const errorsWithoutKey = keyer.errorsWithoutKey + (w?.errorsWithoutKey ?? 0);
  s.failedKeys = errorsWithoutKey;
  s.inputRecords = keyer.inputOrdinal + (w?.inputOrdinal ?? 0);
  s.inputWithoutKey = keyer.inputWithoutKey + (w?.inputWithoutKey ?? 0);
  return { keyer, linesPerSource, inputLines, errorsWithoutKey, worker };
}

/** Keys every line of the sources; their non-blank lines, per source. */
export async function keySources(
  keyer: Keyer,
  sources: string[],
  o: { stdin?: Readable; pieceSize: number; maxLineLength: number },
  report: (file: string, line: number, reason: string, text: string) => Promise<void>,
  events: KeyEvents,
): Promise<number[]> {
  const pool = new PiecePool(o.pieceSize);
  const readOpts = { stdin: o.stdin, pieceSize: o.pieceSize, maxLineLength: o.maxLineLength, pool };
  const linesPerSource: number[] = [];
  for (const source of sources) {
    const before = keyer.ordinal;
    events.file(source, 'output');
    for await (const { item, lineOf } of numbered(source, readOpts)) {
      if (item.kind === 'bad') {
        await report(source, lineOf(0), item.reason, item.text);
        continue;
      }
      const ordinal = keyer.ordinal;
      const r = keyer.outputs(item.bytes);
      events.read(keyer.ordinal - ordinal, item.bytes.length);
      // The partitions copied what they keep, and problems are strings.
      pool.recycle(item.bytes);
      for (const p of r.problems) await report(source, lineOf(p.index), p.reason, p.text);
      if (r.wait) await r.wait;
    }
    linesPerSource.push(keyer.ordinal - before);
  }
  return linesPerSource;
}

/** Keys every line of the input files; their non-blank lines, per file. */
export async function keyInputs(
  keyer: Keyer,
  inputs: string[],
  o: { stdin?: Readable; maxLineLength: number },
  events: KeyEvents,
): Promise<number[]> {
  const inputLines: number[] = [];
  for (const file of inputs) {
    const before = keyer.inputOrdinal;
    let first = true;
    events.file(file, 'input');
    for await (const seg of inputPieces(file, o.stdin, o.maxLineLength, true)) {
      if (first) {
        // Read by content: an .out file in an input folder is not batch input.
        const wrong = wrongKind(docKindOf(seg), 'batch-input', file);
        if (wrong) throw wrong;
        first = false;
      }
      const ordinal = keyer.inputOrdinal;
      const w = keyer.inputs(seg);
      events.read(keyer.inputOrdinal - ordinal, seg.length);
      if (w) await w;
    }
    inputLines.push(keyer.inputOrdinal - before);
  }
  return inputLines;
}
