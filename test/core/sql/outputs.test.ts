import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { sniffLayout } from '../../../src/core/out-convert.js';
import { outputSql } from '../../../src/core/sql/outputs.js';
import { exportOutputs } from '../../../src/stages/export/index.js';
import { useDuckDB, useTmp } from '../../helpers.js';
import { AWS_DOC_EXAMPLES, FAILED, REFERENCE, randomFile } from '../../out-fixtures.js';

// The DuckDB text run for real against export csv-long on the same lines,
// for every output shape: the same columns in the same order, ids and text
// exactly, scores as numbers, error lines nowhere.

const tmp = useTmp();
const con = useDuckDB();

type Rows = { header: string[]; rows: string[][] };

/** A score cell as a number's text, so 3.773E-4 and 0.0003773 compare equal; '' stays ''. */
function normalize(header: string[], row: string[]): string[] {
  return row.map((v, i) => (header[i] === 'score' && v !== '' ? String(Number(v)) : v));
}

function sorted(r: Rows): Rows {
  const rows = r.rows.map((row) => normalize(r.header, row));
  return { header: r.header, rows: rows.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
}

async function viaExport(file: string, catalog?: string): Promise<Rows> {
  const out = tmp.fresh('rows.csv');
  await exportOutputs({
    sources: [file],
    output: out,
    format: 'csv-long',
    escapeFormulas: false,
    errors: tmp.fresh('errors.jsonl'),
    catalog,
  });
  const text = await import('node:fs/promises').then((fs) => fs.readFile(out, 'utf8'));
  const [header, ...rows] = parseCsv(text, { relax_column_count: false }) as string[][];
  return sorted({ header: header as string[], rows });
}

async function viaDuckdb(sql: string): Promise<Rows> {
  const reader = await con().runAndReadAll(sql);
  const header = reader.columnNames();
  const rows = reader.getRows().map((row) => row.map((v) => (v === null ? '' : String(v))));
  return sorted({ header, rows });
}

async function sqlFor(
  text: string,
  catalog?: { file: string; columns: string[] },
): Promise<{ sql: string; file: string }> {
  const file = tmp.fresh('job.out');
  await writeFile(file, text);
  const sniffed = sniffLayout(Buffer.from(text));
  assert.ok(sniffed, 'a layout');
  const sql = outputSql({
    engine: 'duckdb',
    layout: sniffed.layout,
    source: { paths: [file], path: file, folder: false, location: undefined },
    catalog: catalog && { source: catalog.file, idColumn: 'ITEM_ID', columns: catalog.columns },
  });
  return { sql, file };
}

/** An error line that still holds ids: error not null decides, whatever the rest holds. */
const ERROR_WITH_IDS =
  '{"input":{"userId":"9"},"output":{"recommendedItems":["x"],"scores":[1]},"error":"boom"}';
const lines = (...l: string[]) => `${l.join('\n')}\n`;
const random = (seed: number, o: Parameters<typeof randomFile>[2]) =>
  randomFile(seed, 60, { errorRate: 0.15, ...o }).text;

const SHAPES: Record<string, string> = {
  'user-personalization (scores, E-notation, shorter scores)':
    lines(REFERENCE.userPersonalization, REFERENCE.error, ERROR_WITH_IDS, FAILED.numberId) +
    random(1, { kind: 'recommendations', keyField: 'userId', scores: true, reasons: false }),
  'v2 with reasons':
    lines(REFERENCE.v2Reasons) + random(2, { kind: 'recommendations', keyField: 'userId', reasons: true }),
  'popularity-count (no scores, an empty input first)':
    lines(...AWS_DOC_EXAMPLES.popularityCount.slice(0, 1), REFERENCE.popularity) +
    random(3, { kind: 'recommendations', keyField: 'userId', scores: false, reasons: false }),
  'related items (source_item, no scores)':
    lines(REFERENCE.similarItems, FAILED.withoutKey) +
    random(4, { kind: 'recommendations', keyField: 'itemId', scores: false, reasons: false }),
  'personalized ranking (a null score)': lines(REFERENCE.ranking) + random(5, { kind: 'ranking' }),
  'themes (theme, negative relevance)': lines(REFERENCE.themes) + random(6, { kind: 'themes' }),
  'segments by item (usersList and recommendedUsers)':
    lines(REFERENCE.segmentItem, REFERENCE.segmentDocItem) +
    random(7, { kind: 'segment', keyField: 'itemId' }),
  'segments by attributes (input and top-level itemAttributes)':
    lines(REFERENCE.segmentAttributes, REFERENCE.segmentDocAttributes) +
    random(8, { kind: 'segment', keyField: 'itemAttributes' }),
};

describe('sql --engine duckdb: the same rows as export csv-long', () => {
  for (const [name, text] of Object.entries(SHAPES)) {
    test(name, async () => {
      const { sql, file } = await sqlFor(text);
      const want = await viaExport(file);
      const got = await viaDuckdb(sql);
      assert.deepEqual(got.header, want.header);
      assert.ok(want.rows.length > 20, `enough rows to compare (${want.rows.length})`);
      assert.deepEqual(got.rows, want.rows);
    });
  }

  test('--catalog: read_csv joined, a clashing column renamed as export does', async () => {
    const text = SHAPES['user-personalization (scores, E-notation, shorter scores)'] as string;
    const cat = tmp.fresh('items.csv');
    await writeFile(cat, 'ITEM_ID,title,score\n1104,"Boots, red",9\n608,Hat,\n');
    const { sql, file } = await sqlFor(text, { file: cat, columns: ['title', 'score'] });
    const want = await viaExport(file, cat);
    const got = await viaDuckdb(sql);
    assert.deepEqual(got.header, ['userId', 'rank', 'itemId', 'score', 'title', 'catalog_score']);
    assert.deepEqual(got.header, want.header);
    assert.ok(got.rows.some((r) => r[4] === 'Boots, red'));
    assert.deepEqual(got.rows, want.rows);
  });

  test('reasons in another layout (UNCONFIRMED in batch) do not break a shape without a reason column', async () => {
    const other =
      '{"input":{"userId":"8"},"output":{"recommendedItems":["a","b"],"scores":[0.6,0.4],"reasons":"Promoted item"},"error":null}';
    const file = tmp.fresh('job.out');
    await writeFile(file, lines(REFERENCE.userPersonalization, other));
    const layout = {
      kind: 'recommendations',
      keyField: 'userId',
      users: false,
      score: true,
      reason: false,
      theme: false,
    } as const;
    const sql = outputSql({
      engine: 'duckdb',
      layout,
      source: { paths: [file], path: file, folder: false, location: undefined },
    });
    const got = await viaDuckdb(sql);
    assert.deepEqual(
      got.rows.filter((r) => r[0] === '8'),
      [
        ['8', '1', 'a', '0.6'],
        ['8', '2', 'b', '0.4'],
      ],
    );
  });
});
