/** JSON string contents (the bytes between the quotes) as values and as canonical bytes. */

/** A JSON string's content (between the quotes, escapes included) as its value. */
export function decodeString(buf: Uint8Array, start: number, end: number): string {
  return JSON.parse(`"${Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8')}"`);
}

/**
 * The canonical bytes of a JSON string's content: what JSON.stringify
 * writes between the quotes. A string without escapes is already canonical
 * (a raw quote, backslash or control character cannot occur in it); one
 * with escapes is decoded and re-encoded, so `\u00e9` and `é` are one key.
 */
export function canonicalString(buf: Uint8Array, start: number, end: number, escaped: boolean): Buffer {
  const view = Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
  if (!escaped) return view;
  return Buffer.from(JSON.stringify(decodeString(buf, start, end)).slice(1, -1));
}
