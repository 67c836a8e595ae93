import { stat } from 'node:fs/promises';
import { KeyFilter } from '../../core/key-filter.js';
import { decodeString, KEY_USER, LINE_BLANK, LINE_INVALID, OutLineParser } from '../../core/out-lines.js';
import { prefetch } from '../../io/input.js';
import { readOutItems } from '../../io/out-reader.js';
import { isS3Uri } from '../../io/s3.js';
import type { ResolvedExportOptions } from './options.js';

/**
 * The users the outputs name, as a KeyFilter, for a users file past
 * --memory-budget: one quick read of the sources for their user keys, so
 * that only the CRM rows of those users are held or partitioned. Only local
 * files are read twice; with stdin or s3:// sources there is no filter.
 * Memory: the filter, at most a quarter of the budget.
 */
export async function outputUserKeys(
  sources: readonly string[],
  o: ResolvedExportOptions,
): Promise<KeyFilter | undefined> {
  if (sources.some((s) => s === '-' || isS3Uri(s))) return undefined;
  let bytes = 0;
  for (const s of sources) bytes += (await stat(s)).size;
  let filter: KeyFilter | undefined;
  const parser = new OutLineParser();
  for (const source of sources) {
    // Read ahead: the reads (thread pool, the other core) overlap the keying here, as they did not in turn.
    const items = readOutItems(source, { pieceSize: o.pieceSize, maxLineLength: o.maxLineLength });
    for await (const item of prefetch(items, 2)) {
      if (item.kind === 'bad') continue;
      filter ??= new KeyFilter(expectedKeys(item.bytes, bytes), Math.floor(o.memoryBudget / 4));
      addKeys(item.bytes, filter, parser);
    }
  }
  return filter ?? new KeyFilter(0, 0);
}

/**
 * About how many keys the sources hold: their bytes over the first piece's
 * bytes a line, with half again to spare. A filter sized for 64-byte lines
 * was 8 times too large for the service's 500-byte ones, and its looks,
 * cache misses past the CPU's cache, were a fifth of a 5-million-row read.
 * Too low an estimate lets more rows through (the join stays exact).
 */
function expectedKeys(first: Buffer, bytes: number): number {
  let lines = 0;
  for (let p = first.indexOf(LF); p !== -1; p = first.indexOf(LF, p + 1)) lines++;
  const perLine = first.length / Math.max(1, lines);
  return Math.ceil((1.5 * bytes) / Math.max(16, perLine));
}

const LF = 10;
const CR = 13;
const QUOTE = 34;
const BACKSLASH = 92;
/** `{"input":{"userId":"`, as the service writes it (or with spaces: then the parser finds it). */
const PREFIX = Buffer.from('{"input":{"userId":"');

/** Each line's user key into the filter; a line in another form (or a key with escapes) through the parser. */
function addKeys(piece: Buffer, filter: KeyFilter, parser: OutLineParser): void {
  const n = piece.length;
  let p = 0;
  while (p < n) {
    let nl = piece.indexOf(LF, p);
    if (nl === -1) nl = n;
    let k = 0;
    while (k < PREFIX.length && piece[p + k] === PREFIX[k]) k++;
    let done = false;
    if (k === PREFIX.length) {
      const s = p + k;
      let e = s;
      while (e < nl && piece[e] !== QUOTE && piece[e] !== BACKSLASH) e++;
      if (piece[e] === QUOTE) {
        filter.add(piece, s, e);
        done = true;
      }
    }
    const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
    const status = done ? LINE_BLANK : parser.parse(piece, p, e);
    if (status !== LINE_BLANK && status !== LINE_INVALID && parser.keyField === KEY_USER) {
      if (parser.keyEscaped) {
        const key = Buffer.from(decodeString(piece, parser.keyStart, parser.keyEnd));
        filter.add(key, 0, key.length);
      } else filter.add(piece, parser.keyStart, parser.keyEnd);
    }
    p = nl + 1;
  }
}
