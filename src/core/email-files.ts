import { usage } from '../errors.js';
import { alternatives, closest } from './suggest.js';

/**
 * What e-mail tools (Braze, Klaviyo, Mailchimp) ask of an export's files:
 * header names of their own, numbered parts under a size, and text cells
 * under a byte count. Pure rules; the export applies them.
 */

/** `--rename userId=external_id,email=Email` as pairs, in order; each side trimmed. */
export function parseRenames(spec: string, option = '--rename'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const from = eq < 0 ? '' : part.slice(0, eq).trim();
    const to = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (from === '' || to === '')
      throw usage(
        `${option} takes OLD=NEW pairs separated by commas (userId=external_id), got "${part.trim()}"`,
      );
    if (Object.hasOwn(out, from)) throw usage(`${option} renames ${from} twice`);
    out[from] = to;
  }
  if (Object.keys(out).length === 0) throw usage(`${option} needs at least one OLD=NEW pair`);
  return out;
}

/**
 * The header with `renames` applied. A name the header lacks is a usage
 * error listing the header (and the nearest name); so is a header in which
 * two columns would end up with one name.
 */
export function renameHeader(
  header: readonly string[],
  renames: Readonly<Record<string, string>>,
  option = '--rename',
): string[] {
  for (const from of Object.keys(renames)) {
    if (header.includes(from)) continue;
    const near = closest(from, header);
    throw usage(
      `${option}: this export has no column ${from}${near.length > 0 ? ` (did you mean ${alternatives(near)}?)` : ''}; its columns are ${header.join(', ')}`,
    );
  }
  const out = header.map((h) => (Object.hasOwn(renames, h) ? (renames[h] as string) : h));
  const seen = new Map<string, string>();
  for (let i = 0; i < out.length; i++) {
    const name = out[i] as string;
    const was = seen.get(name);
    if (was !== undefined)
      throw usage(
        `${option}: columns ${was} and ${header[i]} would both be named ${name}; a file tool cannot tell them apart`,
      );
    seen.set(name, header[i] as string);
  }
  return out;
}

/**
 * Part n (from 1) of a split output: `-00001` before the last extension of
 * the file name (`recs.csv` -> `recs-00001.csv`), or at the end when the
 * name has none. Five digits sort right up to 99,999 parts (50 TB at 500 MB).
 */
export function partPath(output: string, n: number): string {
  const slash = Math.max(output.lastIndexOf('/'), output.lastIndexOf('\\'));
  const dot = output.lastIndexOf('.');
  const num = `-${String(n).padStart(5, '0')}`;
  // A leading dot (.hidden) is not an extension.
  if (dot <= slash + 1) return output + num;
  return output.slice(0, dot) + num + output.slice(dot);
}

/** The length of bytes[s, e) cut to at most `max` bytes without splitting a UTF-8 character. */
export function utf8CutLength(bytes: Uint8Array, s: number, e: number, max: number): number {
  if (e - s <= max) return e - s;
  let n = max;
  // Back over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (n > 0 && ((bytes[s + n] as number) & 0xc0) === 0x80) n--;
  return n;
}

/** A string cut to at most `max` UTF-8 bytes on a character boundary; undefined when it fits. */
export function cutText(text: string, max: number): string | undefined {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most strings are answered without encoding.
  if (text.length * 3 <= max) return undefined;
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return undefined;
  return bytes.toString('utf8', 0, utf8CutLength(bytes, 0, bytes.length, max));
}
