import { PbError } from '../../errors.js';
import type { RowSource } from '../../io/rows-source.js';

/** What the messages call a table and its option for the columns to join. */
export interface TableNames {
  file: string;
  /** "the users file", "the catalog". */
  what: string;
  /** --user-fields, --catalog-columns, or a pipeline file's key. */
  columnsOption: string;
}

/**
 * The columns a table joins when none is named: every column but the id's, by this rule. A column
 * with no name in the header (Excel's trailing `,` columns) is no column when no row has a value
 * under it, and is refused when one does (a value nobody can name in the output). A name the header
 * repeats is refused: which of the two would be the joined one is a guess. Both refusals say what
 * to do; naming the columns (`columnsOption`) leaves such columns out, and only a column asked for
 * is then checked. Finding the values reads the table once more, and only when the header has a
 * column without a name.
 */
export async function defaultColumns(
  header: readonly string[],
  idCol: number,
  keyed: boolean,
  t: TableNames,
  reopen: () => Promise<RowSource>,
): Promise<string[]> {
  const unnamed: number[] = [];
  const at = new Map<string, number[]>();
  header.forEach((h, i) => {
    if (i === idCol) return;
    if (h.trim() === '') unnamed.push(i);
    else at.set(h, [...(at.get(h) ?? []), i]);
  });
  const fix = `or name the columns to join with ${t.columnsOption} (the others are left out)`;
  for (const [name, cols] of at) {
    if (cols.length > 1)
      throw new PbError(
        'PB_USAGE',
        `${t.what} has ${JSON.stringify(name)} ${cols.length === 2 ? 'twice' : `${cols.length} times`} in its header (columns ${cols.map((i) => i + 1).join(' and ')}), and without ${t.columnsOption} every column is joined: rename one in the file, ${fix}`,
        { file: t.file },
      );
  }
  if (unnamed.length > 0 && !keyed) {
    const found = await firstValueUnder(await reopen(), unnamed);
    if (found)
      throw new PbError(
        'PB_USAGE',
        `column ${found.col + 1} has no name in the header but has values (${JSON.stringify(found.value)} on line ${found.line}), and without ${t.columnsOption} every column is joined: name it in the header, ${fix}`,
        { file: t.file },
      );
  }
  return [...at.keys()];
}

/** The first non-blank value in one of `cols`, read from the start (the source is closed after). */
async function firstValueUnder(
  src: RowSource,
  cols: readonly number[],
): Promise<{ line: number; col: number; value: string } | undefined> {
  try {
    for await (const batch of src.batches) {
      for (const row of batch) {
        const values = row.values as string[];
        for (const col of cols) {
          const v = values[col];
          if (typeof v === 'string' && v.trim() !== '') return { line: row.line, col, value: v };
        }
      }
    }
    return undefined;
  } finally {
    await src.close();
  }
}
