/**
 * The batch-output line parser's face: OutLineParser reads one `.out` line
 * in place (core/out/line-parser.ts, on core/out/line-fields.ts and
 * core/out/json-scan.ts), and these are the names of what it tells;
 * KeyScan (core/out/key-scan.ts) reads the key and lists of the service's
 * usual lines for `export --since` and leaves any other line to it.
 */

export { isSpace } from './out/json-scan.js';
export { type KeyedLine, KeyScan, KeyScanLines } from './out/key-scan.js';
export { OutLineParser } from './out/line-parser.js';
export {
  KEY_ATTRIBUTES,
  KEY_ITEM,
  KEY_NAMES,
  KEY_NONE,
  KEY_USER,
  KIND_NAMES,
  KIND_RANKING,
  KIND_RECOMMENDATIONS,
  KIND_SEGMENT,
  KIND_THEMES,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
  LINE_OK,
  type OutKeyField,
  type OutKind,
  SPAN_COMMA,
  SPAN_ESCAPED,
  Spans,
} from './out/line-shapes.js';
export { canonicalString, decodeString } from './out/strings.js';
