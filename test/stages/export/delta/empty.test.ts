import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SINCE_TABLE } from '../../../../src/stages/export/delta/fast.js';
import { type ExportOptions, exportOutputs } from '../../../../src/stages/export/index.js';
import { useTmp } from '../../../helpers.js';

// A week with no change: the delta has no row, and still the whole export's columns (its layout, and
// csv-wide's width without --top), so that --rename finds them and REMOVED is written.

const tmp = useTmp();

const lines = [
  ['u1', ['i1', 'i2', 'i3'], [0.5, 0.4, 0.3]],
  ['u2', ['i3'], [0.9]],
  ['u3', ['i1', 'i4'], [0.2, 0.1]],
] as const;
const OUT = lines
  .map(([k, items, scores]) =>
    JSON.stringify({ input: { userId: k }, output: { recommendedItems: items, scores }, error: null }),
  )
  .join('\n');

const cases: { name: string; o: Partial<ExportOptions> }[] = [
  {
    name: 'csv-wide --top 5',
    o: {
      format: 'csv-wide',
      top: 5,
      rename: { userId: 'external_id', item_1: 'rec_1', score_1: 'rec_score_1' },
    },
  },
  {
    name: 'csv-wide, width from the lines',
    o: { format: 'csv-wide', rename: { item_3: 'third', score_3: 's3' } },
  },
  { name: 'csv-long', o: { format: 'csv-long', rename: { score: 'rec_score' } } },
];

for (const { name, o } of cases) {
  test(`--since over the same outputs (${name}): the full export's header, no row, REMOVED with its header`, async () => {
    const src = tmp.fresh('w.out');
    await writeFile(src, `${OUT}\n`);
    const full = tmp.fresh('full.csv');
    await exportOutputs({ sources: [src], output: full, errors: tmp.fresh('e.jsonl'), ...o });
    const header = (await readFile(full, 'utf8')).split('\r\n')[0] as string;
    for (const table of [true, false]) {
      SINCE_TABLE.enabled = table;
      try {
        const output = tmp.fresh('delta.csv');
        const removed = tmp.fresh('removed.csv');
        const s = await exportOutputs({
          sources: [src],
          output,
          removed,
          since: full,
          errors: tmp.fresh('e.jsonl'),
          ...o,
        });
        assert.equal(s.rows, 0);
        assert.equal(s.since?.unchanged, 3);
        // No row is what an unchanged week gives: no warning says otherwise.
        assert.deepEqual(s.warnings, []);
        assert.equal(await readFile(output, 'utf8'), `${header}\r\n`, `table path: ${table}`);
        assert.equal(await readFile(removed, 'utf8'), `${header.split(',')[0]}\r\n`);
      } finally {
        SINCE_TABLE.enabled = true;
      }
    }
  });
}

test('--since: a rename of a column no such export has is still refused', async () => {
  const src = tmp.fresh('w.out');
  await writeFile(src, `${OUT}\n`);
  const full = tmp.fresh('full.csv');
  await exportOutputs({ sources: [src], output: full, errors: tmp.fresh('e.jsonl'), format: 'csv-long' });
  await assert.rejects(
    exportOutputs({
      sources: [src],
      output: tmp.fresh('d.csv'),
      removed: tmp.fresh('r.csv'),
      since: full,
      format: 'csv-long',
      rename: { item_9: 'x' },
    }),
    /--rename: this export has no column item_9/,
  );
});
