import { encodingName, encodingProblem, isSingleByte, Transcoder, Utf8Evidence } from '../core/encoding.js';
import { CLI_OPTION_NAMES, type OptionNames } from '../core/option-names.js';
import { sniffBinary, sniffBom, sniffNul } from '../core/sniff-bytes.js';
import { PbError } from '../errors.js';
import { type InputContext, openSource, peekStream, type SourceInfo } from './input.js';

/** What openText found out about a source's bytes. */
export interface TextInfo {
  /** The encoding read: `utf-8`, or TextDecoder's name for another (`utf-16le`, `windows-1252`, ...). */
  encoding: string;
  /** How it was known: the default (UTF-8), a byte order mark, or the encoding option. */
  encodingFrom: 'default' | 'bom' | 'option';
  /** The bytes were gzip-compressed (detected by magic bytes, whatever the name). */
  gzip: boolean;
}

export interface TextOptions {
  /** An encoding label TextDecoder knows; default UTF-8 (a byte order mark decides before this). */
  encoding?: string;
  /** Option names for messages. Default the CLI's flags. */
  names?: OptionNames;
  /** Called with the size of each chunk of (decompressed) bytes as it is read. */
  onBytes?: (n: number) => void;
}

/** A source opened by openText. */
export interface OpenedText {
  /** The text as UTF-8 bytes; a reader that stops early closes the source. */
  bytes: AsyncIterable<Buffer>;
  info: TextInfo;
  /** Closes the source when `bytes` is never read (its first bytes were read to decide). */
  close(): Promise<void>;
}

/** Bytes looked at before deciding: enough for an office file's part names. */
const PEEK = 64 * 1024;

/**
 * Opens a source as UTF-8 text bytes. Files that are not text (a workbook,
 * a zip, a PDF, ...) are refused by name; UTF-16 with a byte order mark and
 * any `encoding` TextDecoder knows are decoded into UTF-8; text with NUL
 * bytes and no BOM is refused (UTF-16 without its BOM: the message names
 * the encoding option). UTF-8 itself passes through unchanged: the row
 * reader checks it, since it knows the lines.
 */
export async function openText(name: string, ctx: InputContext, opts: TextOptions = {}): Promise<OpenedText> {
  const names = opts.names ?? CLI_OPTION_NAMES;
  const source: SourceInfo = {};
  const counted = (async function* () {
    for await (const chunk of openSource(name, ctx, source)) {
      opts.onBytes?.(chunk.length);
      yield chunk;
    }
  })();
  const { head: peek, rest } = await peekStream(counted, PEEK);
  const close = async () => {
    await counted.return(undefined);
  };
  try {
    return decide(name, peek, rest, close, source, opts, names);
  } catch (err) {
    // A refused source is closed here: the caller never sees it (an S3 body would hold its socket).
    await close();
    throw err;
  }
}

function decide(
  name: string,
  peek: Buffer,
  rest: AsyncIterable<Buffer>,
  close: () => Promise<void>,
  source: SourceInfo,
  opts: TextOptions,
  names: OptionNames,
): OpenedText {
  const binary = sniffBinary(peek);
  if (binary) {
    throw new PbError('PB_PARSE', `this is ${binary.what}, not a text file: ${binary.fix}`, { file: name });
  }
  const bom = sniffBom(peek);
  const asked = opts.encoding === undefined ? undefined : canonical(opts.encoding, names);
  let encoding = 'utf-8';
  let from: TextInfo['encodingFrom'] = 'default';
  if (bom) {
    if (asked !== undefined && asked !== bom.encoding) {
      throw new PbError(
        'PB_USAGE',
        `starts with a ${label(bom.encoding)} byte order mark, but ${names.encoding} says ${asked}; leave out ${names.encoding} (the mark decides)`,
        { file: name },
      );
    }
    encoding = bom.encoding;
    from = 'bom';
  } else if (asked !== undefined) {
    encoding = asked;
    from = 'option';
  }
  if (!encoding.startsWith('utf-16')) {
    const nul = sniffNul(peek);
    if (nul?.utf16) {
      throw new PbError(
        'PB_PARSE',
        `looks like ${label(nul.utf16)} text without a byte order mark (a NUL byte beside every character); ${names.encoding === '' ? 'save it as UTF-8' : `pass ${names.encoding} ${nul.utf16}`}`,
        { file: name },
      );
    }
    if (nul) {
      throw new PbError(
        'PB_PARSE',
        `a binary file, not text (a NUL byte at byte ${nul.offset}); pass the CSV, TSV, text or JSON file that holds the ids`,
        { file: name },
      );
    }
  }
  const info: TextInfo = { encoding, encodingFrom: from, gzip: source.gzip === true };
  if (encoding === 'utf-8') return { bytes: rest, info, close };
  return { bytes: transcode(name, rest, encoding, names), info, close };
}

function canonical(label: string, names: OptionNames): string {
  const name = encodingName(label);
  if (name !== undefined) return name;
  throw new PbError('PB_USAGE', `${names.encoding} ${encodingProblem(label)}`);
}

function label(encoding: string): string {
  return encoding === 'utf-16le'
    ? 'UTF-16 LE'
    : encoding === 'utf-16be'
      ? 'UTF-16 BE'
      : encoding.toUpperCase();
}

/** Decoded through TextDecoder (fatal) and re-encoded as UTF-8; a bad byte is an error with its line. */
async function* transcode(
  name: string,
  bytes: AsyncIterable<Buffer>,
  encoding: string,
  names: OptionNames,
): AsyncGenerator<Buffer> {
  const t = new Transcoder(encoding);
  let lines = 1;
  const fail = (chunk: Uint8Array | undefined): never => {
    // Where in the chunk: the first character a forgiving decoder had to replace.
    let line = lines;
    if (chunk) {
      const text = new TextDecoder(encoding).decode(chunk);
      const bad = text.indexOf('\uFFFD');
      for (let i = text.indexOf('\n'); i !== -1 && i < bad; i = text.indexOf('\n', i + 1)) line++;
    }
    throw new PbError(
      'PB_PARSE',
      `not valid ${label(encoding)} (${names.encoding} ${encoding}): bytes this encoding cannot have${chunk ? '' : ' at the end of the file'}; name the file's real encoding`,
      { file: name, line },
    );
  };
  // A one-byte encoding given for UTF-8 text would garble every accent (ü as Ã¼): weigh the evidence.
  const evidence = isSingleByte(t.encoding) ? new Utf8Evidence() : undefined;
  let firstUtf8: { line: number; shown: string } | undefined;
  const utf8Refusal = (mixed: boolean) =>
    new PbError(
      'PB_PARSE',
      `${mixed ? 'mixes UTF-8 text with text in another encoding' : 'is UTF-8 text'} (this line reads ${JSON.stringify(firstUtf8?.shown)} as UTF-8), though ${names.encoding} ${encoding} was given, which would garble it; ${mixed ? 'save the file in one encoding first' : `leave out ${names.encoding}`}`,
      { file: name, line: firstUtf8?.line },
    );
  for await (const chunk of bytes) {
    if (evidence) {
      const at = evidence.push(chunk);
      if (at >= 0) {
        let line = lines;
        for (let i = chunk.indexOf(10); i !== -1 && i < at; i = chunk.indexOf(10, i + 1)) line++;
        const start = chunk.lastIndexOf(10, at) + 1;
        let end = chunk.indexOf(10, at);
        if (end === -1) end = chunk.length;
        const shown = Buffer.from(chunk.subarray(start, Math.min(end, start + 80)))
          .toString('utf8')
          .replace(/\r$/, '');
        firstUtf8 = { line, shown };
      }
      // Plenty of UTF-8 and no other high byte: no need to read on.
      if (evidence.valid >= 32 && evidence.invalid === 0) throw utf8Refusal(false);
    }
    let text = '';
    try {
      text = t.push(chunk);
    } catch {
      fail(chunk);
    }
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
    if (text !== '') yield Buffer.from(text, 'utf8');
  }
  let tail = '';
  try {
    tail = t.end();
  } catch {
    fail(undefined);
  }
  if (evidence) {
    // Decided at the end, before the output is committed (outputs are written atomically).
    evidence.end();
    if (evidence.onlyUtf8 || evidence.mixed) throw utf8Refusal(evidence.mixed);
  }
  if (tail !== '') yield Buffer.from(tail, 'utf8');
}
