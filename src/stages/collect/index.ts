import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteIndex, hashBytes } from '../../core/byteset.js';
import { docKindOf, wrongKind } from '../../core/doc-kind.js';
import {
  canonicalString,
  KEY_ATTRIBUTES,
  KEY_NONE,
  KEY_USER,
  LINE_BLANK,
  LINE_ERROR,
  LINE_OK,
  OutLineParser,
} from '../../core/out-lines.js';
import { PbError, usage } from '../../errors.js';
import { checkDocKind, expandBatchInputs } from '../../io/doc-kind.js';
import { openSource, wholeLines } from '../../io/input.js';
import { expandOutSources, type OutItem, readOutItems } from '../../io/out-reader.js';
import { writeOutput } from '../../io/output.js';
import { isS3Uri } from '../../io/s3.js';
import { eachLine, eachPartition, type PartitionSet, SpillDir } from '../../io/spill.js';
import { SideFile } from '../export/index.js';

/** Options of `collect`. */
export interface CollectOptions {
  /** Output sources: .out files, folders, s3:// prefixes, or `-`. Give these or `state`. */
  sources?: string[];
  /** The job state file (local or s3://): its shards' `output` prefixes are the sources, their `input`s the input. */
  state?: string;
  /** Batch input to reconcile against: manifest.json files (their shards' `uri`s) or batch-input JSON Lines. */
  inputs?: string[];
  /** Merged output lines (JSON Lines): a path (atomic; .gz), s3://bucket/key or `-`. Default `-`. */
  output?: string;
  /** Input records with no output line, byte for byte. Default: missing.jsonl beside the output. */
  missing?: string;
  /** Error lines of keys that have no successful line. Default: errors.jsonl beside the output. */
  errors?: string;
  /** `fail` (default) or `skip` (to `rejects`) for malformed output lines. */
  onInvalid?: 'fail' | 'skip';
  rejects?: string;
  /** Longest line in bytes. Default 128 MiB. */
  maxLineLength?: number;
  /** Memory for one partition's keys at a time. Default 64 MiB. */
  memoryBudget?: number;
  /** Folder for partitions and for spooling stdin. Default the OS temp folder. */
  tmpDir?: string;
  stdin?: Readable;
  stdout?: Writable;
  /** Bytes per piece of lines. Default 1 MiB. */
  pieceSize?: number;
}

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

export const COLLECT_DEFAULTS = {
  memoryBudget: 64 * 1024 * 1024,
  maxLineLength: 128 * 1024 * 1024,
  pieceSize: 1024 * 1024,
} as const;

/** The shape of the lead's job state file that collect reads. */
interface JobState {
  /** `inputs`: every file of the shard; state files written before shards had several hold `input` only. */
  shards: { input?: unknown; inputs?: unknown; output?: unknown }[];
}

const TAB = 9;
const LF = 10;
const TYPE_OK = 79; // 'O'
const TYPE_ERROR = 69; // 'E'
const TYPE_INPUT = 73; // 'I'
const KEY_TAGS = [0, 117, 105, 97]; // '', 'u', 'i', 'a' for KEY_USER, KEY_ITEM, KEY_ATTRIBUTES

/** Where missing.jsonl and errors.jsonl go by default: beside the output. */
export function besideOutput(output: string, name: string): string {
  if (output === '-') return name;
  if (isS3Uri(output)) return output.replace(/[^/]*$/, name);
  return join(dirname(output), name);
}

/**
 * Merges shard outputs into one JSON Lines stream and reconciles it with the
 * batch input, in bounded memory for any number of keys:
 *
 * 1. Every output line (then every input line) is numbered and its key
 *    written, with the line's number and type, to hash partitions on disk.
 * 2. Each partition is loaded alone (a ByteIndex of its keys) and decides per
 *    key: its first successful line is kept; other successful lines are
 *    duplicates; error lines count only for keys with no success; an input
 *    key with no line at all is missing. Decisions are bits by line number.
 *    A line without a key (an error line echoing a number id or an input
 *    without the key; an empty input) never reaches a partition: it is kept
 *    in step 1, as nothing can deduplicate it or match it to an input.
 * 3. The sources are read again: kept lines go to the output, kept error
 *    lines to errors.jsonl, missing input lines (byte for byte) to missing.jsonl.
 *
 * Memory: one partition's keys (the budget), plus two bits per output line
 * and one per input line (50 million of each: about 19 MB). Disk: about
 * 10 bytes per line plus the key in the partitions (1.9 GB measured for
 * 50 million 9-character keys, benchmarks/collect.bench.mjs). Every source is read twice (stdin is
 * spooled to disk first); a source that changes in between is an error.
 */
export async function collect(options: CollectOptions): Promise<CollectSummary> {
  const started = process.hrtime.bigint();
  const o = { ...options };
  if ((o.state === undefined) === (o.sources === undefined || o.sources.length === 0)) {
    throw usage('collect needs --state URI or output SOURCEs (one or the other)');
  }
  const onInvalid = o.onInvalid ?? 'fail';
  if (onInvalid !== 'fail' && onInvalid !== 'skip')
    throw usage(`--on-invalid must be fail or skip, got "${onInvalid}"`);
  if (onInvalid === 'skip' && !o.rejects) throw usage('--on-invalid skip needs --rejects FILE');
  const output = o.output ?? '-';
  const budget = o.memoryBudget ?? COLLECT_DEFAULTS.memoryBudget;
  const maxLineLength = o.maxLineLength ?? COLLECT_DEFAULTS.maxLineLength;
  const pieceSize = o.pieceSize ?? COLLECT_DEFAULTS.pieceSize;
  if (!(budget > 0) || !(maxLineLength > 0) || !(pieceSize > 0)) throw usage('sizes must be above 0');
  const tmpDir = o.tmpDir ?? tmpdir();

  let sources = o.sources ? [...o.sources] : [];
  let inputs = o.inputs ? [...o.inputs] : [];
  if (o.state !== undefined) {
    const state = await readJsonFile<JobState>(o.state, o.stdin);
    if (!state || !Array.isArray(state.shards)) {
      throw new PbError('PB_INVALID_RECORD', 'not a job state file: no shards list', { file: o.state });
    }
    sources = state.shards.map((s, i) => {
      if (typeof s.output !== 'string' || s.output === '') {
        throw new PbError('PB_INVALID_RECORD', `shards[${i}].output: expected a URI`, { file: o.state });
      }
      return s.output;
    });
    if (inputs.length === 0) {
      inputs = state.shards.flatMap((s) => {
        if (Array.isArray(s.inputs))
          return s.inputs.filter((u): u is string => typeof u === 'string' && u !== '');
        return typeof s.input === 'string' && s.input !== '' ? [s.input] : [];
      });
    }
  }
  if ([...sources, ...inputs].filter((s) => s === '-').length > 1)
    throw usage('stdin (-) can be given only once');

  const spill = new SpillDir(tmpDir);
  let spoolDir: string | undefined;
  const spool = async (name: string): Promise<string> => {
    if (name !== '-') return name;
    spoolDir ??= await mkdtemp(join(tmpDir, 'personalize-batch-collect-'));
    const path = join(spoolDir, 'stdin');
    await pipeline(o.stdin ?? process.stdin, createWriteStream(path));
    return path;
  };
  const missingPath = inputs.length > 0 ? (o.missing ?? besideOutput(output, 'missing.jsonl')) : null;
  const errorsPath = o.errors ?? besideOutput(output, 'errors.jsonl');
  const rejects = o.rejects ? new SideFile(o.rejects, o.stdout) : undefined;
  const s: CollectSummary = {
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
    missingFile: missingPath,
    errorsFile: errorsPath,
    seconds: 0,
    warnings: [],
  };
  let errorsWithoutKey = 0;
  try {
    const spooled = await Promise.all(sources.map(spool));
    // A file named directly is read whatever its name, so its content must be output.
    for (const src of spooled) await checkDocKind(src, 'out');
    sources = await expandOutSources(spooled);
    // Manifests (by content, whatever the name) stand for their shards' files.
    inputs = await expandBatchInputs(await Promise.all(inputs.map(spool)), { manifests: 'expand' });
    // Inputs are read after every output: a missing one should not wait that long to be reported.
    for (const file of inputs) {
      if (isS3Uri(file)) continue;
      try {
        await stat(file);
      } catch (err) {
        throw new PbError('PB_IO', 'cannot read: no such file', { file }, { cause: err });
      }
    }
    s.sources = sources.length;
    s.inputFiles = inputs.length;
    const readOpts = { stdin: o.stdin, pieceSize, maxLineLength };

    // 1. Keys to partitions.
    const parts = await spill.partitions();
    const keyer = new Keyer(parts, maxLineLength);
    const linesPerSource: number[] = [];
    for (const source of sources) {
      const before = keyer.ordinal;
      for await (const { item, lineOf } of numbered(source, readOpts)) {
        if (item.kind === 'bad') {
          await invalid(source, lineOf(0), item.reason, item.text);
          continue;
        }
        const r = keyer.outputs(item.bytes);
        s.blankLines += r.blank;
        for (const p of r.problems) await invalid(source, lineOf(p.index), p.reason, p.text);
        if (r.wait) await r.wait;
      }
      linesPerSource.push(keyer.ordinal - before);
    }
    s.outputLines = keyer.ordinal;
    s.errorLines = keyer.errorLines;
    s.outputWithoutKey = keyer.withoutKey;
    errorsWithoutKey = keyer.errorsWithoutKey;
    s.failedKeys = errorsWithoutKey;
    const inputLines: number[] = [];
    for (const file of inputs) {
      const before = keyer.inputOrdinal;
      let first = true;
      for await (const seg of inputPieces(file, o.stdin, maxLineLength)) {
        if (first) {
          // Read by content: an .out file in an input folder is not batch input.
          const wrong = wrongKind(docKindOf(seg), 'batch-input', file);
          if (wrong) throw wrong;
          first = false;
        }
        const w = keyer.inputs(seg);
        if (w) await w;
      }
      inputLines.push(keyer.inputOrdinal - before);
    }
    s.inputRecords = keyer.inputOrdinal;
    s.inputWithoutKey = keyer.inputWithoutKey;
    await parts.close();

    // 2. Decide per key, one partition at a time (lines without a key are kept already).
    const keepOut = keyer.keepOut.sized(keyer.ordinal);
    const keepError = keyer.keepError.sized(keyer.ordinal);
    const missing = new Uint8Array(Math.ceil(keyer.inputOrdinal / 8));
    const hasInput = inputs.length > 0;
    // Half the budget for the reload estimate (eachPartition's), half for the per-key state arrays.
    for await (const [part, , expect] of eachPartition(spill, parts, budget / 2)) {
      const d = decidePartition(part, expect, keepOut, keepError, missing, hasInput);
      const r = await d;
      s.duplicates += r.duplicates;
      s.failedKeys += r.failedKeys;
      s.recovered += r.recovered;
      s.missing += r.missing;
      s.inputDuplicates += r.inputDuplicates;
      s.unexpected += r.unexpected;
    }

    // 3. Write what was decided.
    const errors = new SideFile(errorsPath, o.stdout);
    const missingFile = missingPath ? new SideFile(missingPath, o.stdout) : undefined;
    try {
      await errors.write(Buffer.alloc(0));
      await missingFile?.write(Buffer.alloc(0));
      const merged = async function* (): AsyncGenerator<Buffer> {
        let ordinal = 0;
        for (const [i, source] of sources.entries()) {
          const first = ordinal;
          for await (const { item } of numbered(source, readOpts)) {
            if (item.kind === 'bad') continue;
            const r = pickLines(item.bytes, ordinal, keepOut, keepError);
            ordinal += r.lines;
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
      };
      await writeOutput(output, o.stdout ?? process.stdout, bufferedBy(merged(), 4 * pieceSize));
      let inputOrdinal = 0;
      for (const [i, file] of inputs.entries()) {
        const first = inputOrdinal;
        for await (const seg of inputPieces(file, o.stdin, maxLineLength)) {
          const r = pickInputs(seg, inputOrdinal, missing);
          inputOrdinal += r.lines;
          if (r.out.length > 0) await missingFile?.write(r.out);
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
      await errors.close();
      await missingFile?.close();
    } catch (err) {
      await errors.abort();
      await missingFile?.abort();
      throw err;
    }
  } finally {
    await rejects?.close();
    await spill.dispose();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
  if (s.duplicates > 0)
    s.warnings.push(
      `${s.duplicates} lines repeat a key already seen (another shard or a rerun); the first was kept`,
    );
  if (s.unexpected > 0) s.warnings.push(`${s.unexpected} output keys are not in the input`);
  if (s.outputWithoutKey > 0)
    s.warnings.push(
      `${s.outputWithoutKey} output lines have no userId, itemId or itemAttributes string to join on (an error line echoing a number id or a record without the key, or an empty input); all were kept${errorsWithoutKey > 0 ? `, error lines in ${errorsPath}` : ''}${inputs.length > 0 ? ', but they cannot be matched to input records, so the missing file cannot account for them' : ''}`,
    );
  if (s.inputDuplicates > 0) s.warnings.push(`${s.inputDuplicates} input lines repeat an earlier input key`);
  if (s.inputWithoutKey > 0)
    s.warnings.push(
      `${s.inputWithoutKey} input lines have no userId, itemId or itemAttributes and were not reconciled`,
    );
  s.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return s;

  async function invalid(file: string, line: number, reason: string, text: string): Promise<void> {
    if (onInvalid === 'fail') {
      const parse = /^(not valid JSON|truncated|line longer|a JSON value longer)/.test(reason);
      throw new PbError(parse ? 'PB_PARSE' : 'PB_INVALID_RECORD', reason, { file, line });
    }
    s.invalid++;
    await rejects?.write(Buffer.from(`${JSON.stringify({ file, line, reason, text })}\n`));
  }
}

/** A source's items in order, each with the line numbers of its lines. */
async function* numbered(
  source: string,
  opts: { stdin?: Readable; pieceSize: number; maxLineLength: number },
): AsyncGenerator<{ item: OutItem; lineOf: (i: number) => number }> {
  let next = 1;
  for await (const item of readOutItems(source, opts)) {
    if (item.kind === 'bad') {
      const line = item.line ?? next;
      if (item.line === undefined) next++;
      yield { item, lineOf: () => line };
      continue;
    }
    const numbers = item.lineNumbers;
    const base = next;
    if (!numbers) next += linesIn(item.bytes);
    yield { item, lineOf: (i) => (numbers ? (numbers[i] as number) : base + i) };
  }
}

/** Lines in a piece of whole lines (the last may lack its LF). */
function linesIn(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(LF); i !== -1; i = b.indexOf(LF, i + 1)) n++;
  return b.length > 0 && b[b.length - 1] !== LF ? n + 1 : n;
}

/**
 * Step 1's per-line work, synchronous over a piece: number every non-blank
 * line and write `tag+key TAB type+number` to its partition.
 */
class Keyer {
  ordinal = 0;
  inputOrdinal = 0;
  errorLines = 0;
  inputWithoutKey = 0;
  withoutKey = 0;
  errorsWithoutKey = 0;
  /**
   * Lines without a key skip the partitions: with nothing to join or
   * deduplicate them by, each is kept, so its bit is set here.
   */
  readonly keepOut = new Bits();
  readonly keepError = new Bits();
  private readonly parser = new OutLineParser();
  private key = Buffer.allocUnsafe(1024);
  private readonly payload = Buffer.allocUnsafe(32);

  constructor(
    private readonly parts: PartitionSet,
    private readonly maxLineLength: number,
  ) {}

  outputs(piece: Buffer): {
    lines: number;
    blank: number;
    problems: { index: number; reason: string; text: string }[];
    wait: Promise<unknown> | undefined;
  } {
    const problems: { index: number; reason: string; text: string }[] = [];
    const waits: Promise<void>[] = [];
    let lines = 0;
    let blank = 0;
    let p = 0;
    const n = piece.length;
    const parser = this.parser;
    while (p < n) {
      let nl = piece.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && piece[nl - 1] === 13 ? nl - 1 : nl;
      const index = lines++;
      const status =
        e - p > this.maxLineLength ? (isBlank(piece, p, e) ? LINE_BLANK : -1) : parser.parse(piece, p, e);
      if (status === LINE_BLANK) blank++;
      else {
        const ord = this.ordinal++;
        if (status === LINE_OK || status === LINE_ERROR) {
          if (status === LINE_ERROR) this.errorLines++;
          if (parser.keyField === KEY_NONE) this.keepWithoutKey(ord, status === LINE_ERROR);
          else {
            const klen = this.setKey(
              parser.keyField,
              piece,
              parser.keyStart,
              parser.keyEnd,
              parser.keyEscaped,
            );
            const w = this.put(klen, status === LINE_OK ? TYPE_OK : TYPE_ERROR, ord);
            if (w) waits.push(w);
          }
        } else {
          const reason =
            status === -1
              ? `line longer than ${this.maxLineLength} bytes (--max-line-length)`
              : parser.problem;
          problems.push({ index, reason, text: piece.toString('utf8', p, Math.min(e, p + 65536)) });
        }
      }
      p = nl + 1;
    }
    return { lines, blank, problems, wait: waits.length > 0 ? Promise.all(waits) : undefined };
  }

  private keepWithoutKey(ord: number, error: boolean): void {
    this.withoutKey++;
    if (error) {
      this.errorsWithoutKey++;
      this.keepError.set(ord);
    } else this.keepOut.set(ord);
  }

  /** Input lines: their key by a quick look at lines prepare writes, else JSON.parse. */
  inputs(seg: Buffer): Promise<unknown> | undefined {
    const waits: Promise<void>[] = [];
    let p = 0;
    const n = seg.length;
    while (p < n) {
      let nl = seg.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && seg[nl - 1] === 13 ? nl - 1 : nl;
      if (!isBlank(seg, p, e)) {
        const ord = this.inputOrdinal++;
        const klen = this.inputKey(seg, p, e);
        if (klen < 0) this.inputWithoutKey++;
        else {
          const w = this.put(klen, TYPE_INPUT, ord);
          if (w) waits.push(w);
        }
      }
      p = nl + 1;
    }
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  private inputKey(seg: Buffer, s: number, e: number): number {
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const prefix = INPUT_PREFIXES[f] as Buffer;
      if (e - s <= prefix.length || seg.compare(prefix, 0, prefix.length, s, s + prefix.length) !== 0)
        continue;
      let i = s + prefix.length;
      while (i < e && seg[i] !== 34 && seg[i] !== 92 && (seg[i] as number) >= 32) i++;
      if (i < e && seg[i] === 34) return this.setKey(f, seg, s + prefix.length, i, false);
      break;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(seg.toString('utf8', s, e));
    } catch {
      return -1;
    }
    if (!obj || typeof obj !== 'object') return -1;
    const r = obj as Record<string, unknown>;
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const v = r[['', 'userId', 'itemId', 'itemAttributes'][f] as string];
      if (typeof v === 'string') {
        const canon = Buffer.from(JSON.stringify(v).slice(1, -1));
        return this.setKey(f, canon, 0, canon.length, false);
      }
    }
    return -1;
  }

  /** key = tag byte + canonical key bytes; returns its length. */
  private setKey(field: number, buf: Uint8Array, s: number, e: number, escaped: boolean): number {
    const bytes = escaped ? canonicalString(buf, s, e, true) : undefined;
    const len = (bytes ? bytes.length : e - s) + 1;
    if (this.key.length < len) this.key = Buffer.allocUnsafe(2 * len);
    this.key[0] = KEY_TAGS[field] as number;
    if (bytes) bytes.copy(this.key, 1);
    else for (let i = 0; i < e - s; i++) this.key[1 + i] = buf[s + i] as number;
    return len;
  }

  private put(klen: number, type: number, ordinal: number): Promise<void> | undefined {
    this.payload[0] = type;
    const plen = 1 + this.payload.write(String(ordinal), 1, 'latin1');
    return this.parts.write(this.key, 0, klen, hashBytes(this.key, 0, klen), this.payload, 0, plen);
  }
}

const INPUT_PREFIXES = [
  Buffer.alloc(0),
  Buffer.from('{"userId":"'),
  Buffer.from('{"itemId":"'),
  Buffer.from('{"itemAttributes":"'),
];

interface Decision {
  duplicates: number;
  failedKeys: number;
  recovered: number;
  missing: number;
  inputDuplicates: number;
  unexpected: number;
}

/** Step 2 for one partition: per key, which line is kept, which error reported, which input missing. */
async function decidePartition(
  part: AsyncIterable<Buffer>,
  expect: { keys: number; keyBytes: number },
  keepOut: Uint8Array,
  keepError: Uint8Array,
  missing: Uint8Array,
  hasInput: boolean,
): Promise<Decision> {
  const index = new ByteIndex(expect);
  // Entries bound the keys from above.
  const ok = new Float64Array(expect.keys).fill(-1);
  const err = new Float64Array(expect.keys).fill(-1);
  const inp = new Float64Array(expect.keys).fill(-1);
  const d: Decision = {
    duplicates: 0,
    failedKeys: 0,
    recovered: 0,
    missing: 0,
    inputDuplicates: 0,
    unexpected: 0,
  };
  for await (const seg of part) {
    eachLine(seg, (ks, ke, ps, pe) => {
      const id = index.add(seg, ks, ke, hashBytes(seg, ks, ke));
      let ord = 0;
      for (let i = ps + 1; i < pe; i++) ord = ord * 10 + ((seg[i] as number) - 48);
      const type = seg[ps];
      if (type === TYPE_OK) {
        if (ok[id] === -1) ok[id] = ord;
        else d.duplicates++;
      } else if (type === TYPE_ERROR) {
        // A second error line of a key (a rerun failed it again) is a repeat too: every line is counted.
        if (err[id] === -1) err[id] = ord;
        else d.duplicates++;
      } else if (inp[id] === -1) inp[id] = ord;
      else d.inputDuplicates++;
    });
  }
  for (let id = 0; id < index.size; id++) {
    const o = ok[id] as number;
    const e = err[id] as number;
    const i = inp[id] as number;
    if (o >= 0) {
      setBit(keepOut, o);
      if (e >= 0) d.recovered++;
    } else if (e >= 0) {
      setBit(keepError, e);
      d.failedKeys++;
    } else if (i >= 0) {
      setBit(missing, i);
      d.missing++;
    }
    if (hasInput && i < 0 && (o >= 0 || e >= 0)) d.unexpected++;
  }
  return d;
}

/** A bit per line number, grown as lines are numbered. */
class Bits {
  private bytes = new Uint8Array(1024);

  set(n: number): void {
    const i = Math.floor(n / 8);
    if (i >= this.bytes.length) {
      const bigger = new Uint8Array(Math.max(2 * this.bytes.length, i + 1));
      bigger.set(this.bytes);
      this.bytes = bigger;
    }
    this.bytes[i] = (this.bytes[i] as number) | (1 << (n % 8));
  }

  /** The bits for lines 0 to n - 1, in an array of exactly that many bits (rounded up to bytes). */
  sized(n: number): Uint8Array {
    const out = new Uint8Array(Math.ceil(n / 8));
    out.set(this.bytes.subarray(0, Math.min(out.length, this.bytes.length)));
    return out;
  }
}

function setBit(bits: Uint8Array, n: number): void {
  const i = Math.floor(n / 8);
  bits[i] = (bits[i] as number) | (1 << (n % 8));
}

function getBit(bits: Uint8Array, n: number): boolean {
  return ((bits[Math.floor(n / 8)] as number) & (1 << (n % 8))) !== 0;
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

function isBlank(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c !== 32 && c !== TAB && c !== 13 && c !== LF) return false;
  }
  return true;
}

/** Input files as pieces of whole lines (a line over the limit is a PB_PARSE error). */
function inputPieces(
  file: string,
  stdin: Readable | undefined,
  maxLineLength: number,
): AsyncGenerator<Buffer> {
  return wholeLines(
    openSource(file, { stdin }),
    maxLineLength,
    () =>
      new PbError('PB_PARSE', `an input line longer than ${maxLineLength} bytes (--max-line-length)`, {
        file,
      }),
  );
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

/** A small JSON file (a manifest, a state file), local or s3://, read whole (at most 64 MiB). */
async function readJsonFile<T>(name: string, stdin: Readable | undefined): Promise<T | undefined> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of openSource(name, { stdin })) {
    total += c.length;
    if (total > 64 * 1024 * 1024)
      throw new PbError('PB_LIMIT', 'larger than 64 MiB: not a manifest or state file', { file: name });
    parts.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as T;
  } catch (err) {
    throw new PbError('PB_PARSE', `not valid JSON (${(err as Error).message})`, { file: name });
  }
}
