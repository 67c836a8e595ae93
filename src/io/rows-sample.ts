import { Utf8Check, withoutBom } from '../core/encoding.js';
import { type OptionNames, SNIFF_RECORDS } from '../core/sniff.js';
import { PbError } from '../errors.js';
import { notUtf8 } from './not-utf8.js';

const SNIFF_LIMIT = 64 * 1024;
const LF = 10;

/** The first records of a source, read to decide how to read it (and then replayed). */
export interface Sample {
  /** The source ended within the sample. */
  ended: boolean;
  /** The file uses CR alone as line end (an old Mac's): read as LF. */
  crOnly: boolean;
  /** The sample's complete lines as text, past a byte order mark and the lines skipped (CR read as LF). */
  text: string;
  /** Lines skipped before the data. */
  skip: number;
  /** The line the reading starts on: 1, or one past the lines skipped. */
  firstLine: number;
  /** The bytes replay() leaves out at the start: the byte order mark and the lines skipped. */
  skipBytes: number;
  /** The bytes from the start (the byte order mark and lines skipped left out), then the rest; once. */
  replay(): AsyncGenerator<Buffer>;
}

/**
 * Peeks at the first records (or 64 KiB) of a source: checked as UTF-8, the byte order mark
 * dropped, the lines before the data skipped. `next` reads the source's next chunk.
 */
export async function readSample(
  file: string,
  next: () => Promise<IteratorResult<Buffer>>,
  skipLines: number,
  names: OptionNames,
): Promise<Sample> {
  const head: Buffer[] = [];
  let ended = false;
  // Peek at the first records (or 64 KiB) to decide.
  let headBytes = 0;
  let headLines = 0;
  while (!ended && headBytes < SNIFF_LIMIT && headLines <= SNIFF_RECORDS + 1) {
    const r = await next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headBytes += r.value.length;
    for (
      let i = r.value.indexOf(LF);
      i !== -1 && headLines <= SNIFF_RECORDS + 1;
      i = r.value.indexOf(LF, i + 1)
    )
      headLines++;
  }
  const headBuf = Buffer.concat(head);
  // The file uses CR alone as line end (an old Mac's): read as LF.
  const crOnly = !headBuf.includes(LF) && /\r[^\n]/.test(headBuf.toString('latin1'));
  // A bad byte in what was peeked is reported before any guess made from it.
  const bad = new Utf8Check().push(headBuf);
  if (bad >= 0) throw notUtf8(file, headBuf, bad, 1, names, { crOnly });
  // A byte order mark is dropped here, once, for every reader (replay() skips its bytes).
  const bomBytes = withoutBom(headBuf).length === headBuf.length ? 0 : 3;
  let text = headBuf.toString('utf8', bomBytes);
  if (!ended) {
    // Only complete lines count: the last one may go on in the next chunk
    // (unless there is no line end at all, as in a minified JSON array).
    const cut = text.lastIndexOf('\n');
    if (cut >= 0) text = text.slice(0, cut + 1);
  }
  if (crOnly) text = text.replace(/\r/g, '\n');
  const { skip, skipChars } = linesBefore(file, text, skipLines, ended);
  const skipBytes = bomBytes + Buffer.byteLength(text.slice(0, skipChars), 'utf8');
  text = text.slice(skipChars);
  const firstLine = skip + 1;
  return { ended, crOnly, text, skip, firstLine, skipBytes, replay: replayer(head, skipBytes, ended, next) };
}

/** Lines before the data: --skip-lines, or PowerShell's `#TYPE ...` line (Export-Csv before 6.0); the characters they take. */
function linesBefore(
  file: string,
  text: string,
  skipLines: number,
  ended: boolean,
): { skip: number; skipChars: number } {
  let skip = skipLines;
  if (skip === 0 && /^#TYPE [^\n]*\n/.test(text)) skip = 1;
  let skipChars = 0;
  for (let k = 0; k < skip; k++) {
    const nl = text.indexOf('\n', skipChars);
    if (nl === -1) {
      if (!ended)
        throw new PbError(
          'PB_USAGE',
          `the first ${skip} lines are longer than ${SNIFF_LIMIT} bytes together; skip fewer`,
          { file },
        );
      skipChars = text.length;
      break;
    }
    skipChars = nl + 1;
  }
  return { skip, skipChars };
}

/** The peeked chunks from `skipBytes` on, then the rest of the source; a source is read once. */
function replayer(
  head: Buffer[],
  skipBytes: number,
  ended: boolean,
  next: () => Promise<IteratorResult<Buffer>>,
): () => AsyncGenerator<Buffer> {
  let used = false;
  const replay = async function* (): AsyncGenerator<Buffer> {
    if (used) throw new Error('personalize-batch: a RowSource can be read once');
    used = true;
    let left = skipBytes;
    for (const c of head) {
      if (left >= c.length) {
        left -= c.length;
        continue;
      }
      yield left > 0 ? c.subarray(left) : c;
      left = 0;
    }
    if (ended) return;
    for (let r = await next(); !r.done; r = await next()) yield r.value;
  };
  return replay;
}
