import { checkOutputs, type NamedPath } from '../../io/output.js';
import { checkWholePrev, partsOf } from './delta/prev.js';
import type { ResolvedExportOptions } from './options.js';

/**
 * Export's files checked before any work (io/output.ts checkOutputs): the
 * output (in parts under --max-file-size), the errors and rejects files and
 * REMOVED against each other and against every file read: the sources, the
 * users file, the catalog, the interactions file, and PREV (each of its
 * parts when it was written in parts). Over PREV, next week's --since would
 * find every key new; over the users file, the CRM export is gone.
 */
export async function checkExportPaths(
  o: ResolvedExportOptions,
  sources: readonly string[],
  since?: { since: string; removed: string },
): Promise<void> {
  const outputs: NamedPath[] = [
    ['the output', o.output],
    ['the errors file', o.errors],
    ['the rejects file', o.rejects],
    ['REMOVED', since?.removed],
  ];
  const inputs: NamedPath[] = [
    ...sources.map((s): NamedPath => ['a source', s]),
    ['the users file', o.users],
    ['the catalog', o.catalog],
    ['the interactions file', o.map?.file],
  ];
  if (since) {
    await checkWholePrev(since.since);
    const prev = (await partsOf(since.since)) ?? [since.since];
    for (const p of prev) inputs.push(['PREV', p]);
  }
  await checkOutputs(outputs, inputs, { parts: o.maxFileSize > 0 });
}
