import { isAscii } from 'node:buffer';
import { asWindows1252, withoutBom } from '../core/encoding.js';
import type { OptionNames } from '../core/sniff.js';
import { PbError } from '../errors.js';

const LF = 10;

/** The line a bad byte is on, and a message that names the fix. */
export function notUtf8(
  file: string,
  chunk: Uint8Array,
  offset: number,
  lineAtChunk: number,
  names: OptionNames,
  context: { utf8Before?: boolean; crOnly?: boolean } = {},
): PbError {
  // Line ends: LF, or CR alone in a file that uses CR (an old Mac's).
  const breakAt = (i: number) => chunk[i] === LF || (context.crOnly === true && chunk[i] === 13);
  let line = lineAtChunk;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (breakAt(i)) {
      line++;
      lineStart = i + 1;
    }
  }
  const start = Math.max(lineStart, offset - 40);
  let end = offset;
  while (end < chunk.length && end < offset + 40 && !breakAt(end)) end++;
  const bytes = chunk.subarray(start, end);
  const text = (start > lineStart ? '…' : '') + asWindows1252(bytes).replace(/\r$/, '');
  const shownAs = end < chunk.length && !breakAt(end) && chunk[end] !== 13 ? `${text}…` : text;
  const byte = `byte 0x${(chunk[offset] as number).toString(16).toUpperCase().padStart(2, '0')}`;
  // Accents read as UTF-8 before this line: the file holds two encodings, and no one option reads it.
  const mixed = context.utf8Before === true || !isAscii(withoutBom(chunk.subarray(0, lineStart)));
  let fix: string;
  if (mixed)
    fix = `the lines before it hold UTF-8 text with accents, so the file mixes two encodings: fix this line (as windows-1252 it reads ${JSON.stringify(shownAs)}) or save the file in one encoding`;
  else if (names.encoding === '')
    fix = `save the file as UTF-8 (if Excel saved it on Windows it is windows-1252, which reads this line as ${JSON.stringify(shownAs)})`;
  else
    fix = `if the file was saved by Excel on Windows it is windows-1252, which ${names.encoding} windows-1252 reads (this line as ${JSON.stringify(shownAs)}); if that is not the text, name the file's encoding with ${names.encoding} (windows-1250, windows-1251, shift_jis, gb18030, ...)${context.crOnly ? '; a file with CR line ends from an old Mac is macintosh' : ''}`;
  return new PbError('PB_PARSE', `not UTF-8: ${byte} cannot be read as text; ${fix}`, { file, line });
}
