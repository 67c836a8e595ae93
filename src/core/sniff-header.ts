import { PbError } from '../errors.js';
import { normalizeName } from './columns.js';
import type { OptionNames } from './option-names.js';
import { sampleRecords } from './sniff-delimiter.js';

/** The header rule for a one-column file, and the words it knows headers by. */

/**
 * First lines that mark a one-column file as having a header: the id column
 * names prepare looks for (README), `id`, and the usual e-mail column names,
 * compared after normalizeName (no case, spaces, `_`, `-` or `.`).
 */
export const HEADER_WORDS: readonly string[] = [
  'id',
  'userid',
  'user',
  'customerid',
  'itemid',
  'item',
  'productid',
  'sku',
  'itemattributes',
  'email',
  'emailaddress',
  'mail',
];

/** Words header names are made of: a first line built of them, over ids, may be a header. */
const HEADERISH_WORDS: readonly string[] = [
  'user',
  'users',
  'username',
  'name',
  'names',
  'id',
  'ids',
  'mail',
  'email',
  'customer',
  'customers',
  'kunde',
  'kunden',
  'kundennummer',
  'client',
  'clients',
  'item',
  'items',
  'product',
  'products',
  'sku',
  'skus',
  'member',
  'members',
  'account',
  'contact',
  'login',
  'handle',
  'number',
  'nummer',
  'nr',
  'no',
  'code',
];

/**
 * The header rule for a one-column file. Its first line is a header when it
 * is one of HEADER_WORDS or the column asked for (both after normalizeName).
 * A first line that is a plain name (letters, spaces, `_ - .`) could be
 * either when it is made of header words (`username`, `Kunden Nr`) or sits
 * over lines that all have a digit or `@` (`Kundennummer` over `10001`): a
 * usage error. Anything else is a list of ids with no header.
 */
export function oneColumnHasHeader(
  text: string,
  ended: boolean,
  column: string | undefined,
  file: string,
  names: OptionNames,
  firstLine = 1,
): boolean {
  const recs = sampleRecords(
    text.charCodeAt(0) === 0xfeff ? text.slice(1) : text,
    ended,
    null,
    file,
    firstLine,
  );
  const first = recs[0];
  if (!first) return column !== undefined;
  const value = (first.fields[0] as string).trim();
  const unquoted = /^"(.*)"$/.exec(value)?.[1] ?? value;
  const norm = normalizeName(unquoted);
  if (column !== undefined) {
    if (norm === normalizeName(column)) return true;
    throw new PbError(
      'PB_USAGE',
      `${names.column} ${JSON.stringify(column)}: the file has one column, and its first line ${JSON.stringify(unquoted)} is not that name; leave out ${names.column} to read every line as an id, or give the header's name`,
      { file, line: first.line },
    );
  }
  if (HEADER_WORDS.includes(norm)) return true;
  const rest = recs.slice(1);
  const marked = (s: string) => /[\d@]/.test(s);
  // A name: letters, maybe with spaces, _ - . between them; not a query or a sentence.
  const nameLike = /^\p{L}[\p{L} _.-]{0,62}$/u.test(unquoted);
  // One of its words is what headers are made of (username, Kunden Nr, Login name).
  const words = unquoted
    .split(/[\s_.-]+|(?<=\p{Ll})(?=\p{Lu})/u)
    .map((w) => w.toLowerCase())
    .filter((w) => w !== '');
  const headerish = words.some((w) => HEADERISH_WORDS.includes(w));
  if (rest.length > 0 && nameLike && (headerish || rest.every((r) => marked(r.fields[0] as string)))) {
    throw new PbError(
      'PB_USAGE',
      `the first line ${JSON.stringify(unquoted)} looks like a header over the ids below it, but is not a name this tool knows; pass ${names.column} ${JSON.stringify(unquoted)} to read it as the header${names.format ? `, or ${names.format} plain to read it as an id` : ''}`,
      { file, line: first.line },
    );
  }
  return false;
}
