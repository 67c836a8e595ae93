/**
 * What an input file is, decided from its first bytes and lines by fixed,
 * documented rules (README, "How inputs are read"), with no stream code.
 * Where the content could mean two things the functions here throw a usage
 * error that names the option that settles it, rather than guess.
 * The rules live in the modules gathered here (the first bytes, the
 * delimiter, the one-column header); the JSON layout rule is this one's own.
 */

export { CLI_OPTION_NAMES, type OptionNames } from './option-names.js';
export { type BinaryKind, sniffBinary, sniffBom, sniffNul } from './sniff-bytes.js';
export {
  checkNotAligned,
  DELIMITERS,
  type Delimited,
  type FieldShape,
  fieldsFit,
  isDelimiterChar,
  parseDelimiter,
  SNIFF_RECORDS,
  sepLineOf,
  shapeOf,
  sniffDelimiter,
} from './sniff-delimiter.js';
export { HEADER_WORDS, oneColumnHasHeader } from './sniff-header.js';

/** How JSON text is laid out, judged from its first non-blank line. */
export type JsonLayout = 'lines' | 'array' | 'spread' | 'packed';

/**
 * `lines`: the first line holds one value and nothing else (JSON Lines, or a
 * broken line the row reader will report); `array`: a top-level array;
 * `spread`: the first value runs past its line (pretty-printed); `packed`:
 * several values on one line (as the AWS docs' examples print them).
 * A string- and escape-aware bracket count; JSON.parse checks the values later.
 */
export function jsonLayout(firstLine: string): JsonLayout {
  const line = firstLine.trim();
  if (line.startsWith('[')) return 'array';
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) values++;
    } else if (depth === 0 && c !== 32 && c !== 9 && c !== 44 && c !== 13) {
      // A scalar between values: not something that splits into objects.
      return 'lines';
    }
  }
  if (depth > 0 || inString) return 'spread';
  return values > 1 ? 'packed' : 'lines';
}
