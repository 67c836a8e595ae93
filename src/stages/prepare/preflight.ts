import { PbError } from '../../errors.js';
import { expandBatchInputs } from '../../io/doc-kind.js';
import { readRows } from '../../io/rows.js';
import { openText } from '../../io/text.js';
import { type PrepareOptions, resolvePrepareOptions } from './options.js';
import { builderFor, checkSourceKind, rowsOptions } from './sources.js';

/**
 * Every source opened and read as far as its header (the first object for JSON): that it is there,
 * that it is a list and not another kind of file, that its format can be told, and that the columns
 * asked for are in it. Problems are returned with the index of the source given, none thrown, so `run` reports them all
 * before anything is uploaded; nothing is written. Usage errors in the options themselves throw.
 */
export async function checkSources(options: PrepareOptions): Promise<{ source: number; message: string }[]> {
  const opts = resolvePrepareOptions(options);
  const problems: { source: number; message: string }[] = [];
  let source = 0;
  const attempt = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      problems.push({ source, message: err.message });
    }
  };
  for (const [i, given] of opts.sources.entries()) {
    source = i;
    if (given === '-') continue;
    let files: string[] = [];
    await attempt(async () => {
      // Each file's kind is told below, from the first object readRows reads anyway.
      files = await expandBatchInputs([given], { manifests: 'as-is' });
    });
    for (const name of files) {
      await attempt(async () => {
        const text = await openText(name, {}, { encoding: opts.encoding, names: opts.names });
        const src = await readRows(name, text.bytes, rowsOptions(opts));
        try {
          if (src.empty) return;
          checkSourceKind(src, name);
          builderFor(src, name, opts);
        } finally {
          await src.close();
        }
      });
    }
  }
  return problems;
}
