import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { parse as parseCsv } from 'csv-parse/sync';
import { parseNumber } from '../../../src/core/parquet/encode.js';
import { PARQUET_ROW_GROUP_ROWS, parquetCopySql, rowGroupRows } from '../../../src/io/parquet.js';
import { readS3 } from '../../../src/io/s3.js';
import { type ExportOptions, exportOutputs } from '../../../src/stages/export/index.js';
import { parquetColumns } from '../../../src/stages/export/parquet.js';
import { useS3rver } from '../../helpers.js';
import { REFERENCE, randomFile } from '../../out-fixtures.js';

// export --format parquet read back by DuckDB: the same rows, in the same
// order, as csv-long's (values as they are: no formula guard), typed.

let dir: string;
let db: DuckDBInstance;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pb-parquet-'));
  db = await DuckDBInstance.create(':memory:');
});

after(async () => {
  db.closeSync();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function file(text: string, name = `in-${n++}.out`): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
  }
}

/** A Parquet file's rows and its columns' types, in file order. */
async function readParquet(path: string): Promise<{ rows: Record<string, unknown>[]; types: string[][] }> {
  const rows = await query(`SELECT * FROM read_parquet('${path}')`);
  const types = (await query(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).map((r) => [
    String(r.column_name),
    String(r.column_type),
  ]);
  return { rows, types };
}

/** csv-long's rows of the same export (LF, no formula guard), as string arrays, header first. */
async function csvLong(o: Omit<ExportOptions, 'output'>): Promise<string[][]> {
  const out = join(dir, `long-${n++}.csv`);
  await exportOutputs({ ...o, output: out, format: 'csv-long', lineEnding: 'lf', escapeFormulas: false });
  return parseCsv(await readFile(out), { relax_column_count: false }) as string[][];
}

/** Parquet rows put back as csv-long cells: rank as digits, the score as its text, NULL as empty. */
function asCells(rows: Record<string, unknown>[], header: string[], withScore: boolean): string[][] {
  return rows.map((r) => {
    const cells: string[] = [];
    for (const [i, name] of header.entries()) {
      const v = i === 3 && withScore ? r[`${name}_text`] : r[name];
      if (i === 3 && withScore && v !== null)
        assert.equal(r[name], Number(v), `score ${String(v)} read as a DOUBLE`);
      cells.push(v === null || v === undefined ? '' : String(v));
    }
    return cells;
  });
}

async function sameAsCsvLong(o: Omit<ExportOptions, 'output'>): Promise<{ rows: number; types: string[][] }> {
  const [header, ...expected] = await csvLong(o);
  const out = join(dir, `out-${n++}.parquet`);
  const s = await exportOutputs({ ...o, output: out, format: 'parquet' });
  assert.equal(s.format, 'parquet');
  const { rows, types } = await readParquet(out);
  const h = header as string[];
  const withScore = h[3] === 'score';
  assert.deepEqual(
    types.map((t) => t[0]),
    s.columns,
  );
  assert.deepEqual(asCells(rows, h, withScore), expected);
  assert.equal(s.rows, expected.length);
  return { rows: rows.length, types };
}

/** csv-wide's rows of the same export (LF, no formula guard), header first. */
async function csvWide(o: Omit<ExportOptions, 'output'>): Promise<string[][]> {
  const out = join(dir, `wide-${n++}.csv`);
  await exportOutputs({ ...o, output: out, format: 'csv-wide', lineEnding: 'lf', escapeFormulas: false });
  return parseCsv(await readFile(out), { relax_column_count: false }) as string[][];
}

/**
 * parquet-wide read back: csv-wide's header and cells, each DOUBLE column
 * followed by its `_text` column holding the cell as printed (the DOUBLE
 * its value), no other column added.
 */
function wideCells(rows: Record<string, unknown>[], types: string[][], header: string[]): string[][] {
  const names = types.map((t) => t[0] as string);
  const doubles = types.filter((t) => t[1] === 'DOUBLE').map((t) => t[0] as string);
  assert.deepEqual(
    names,
    header.flatMap((h) => (doubles.includes(h) ? [h, `${h}_text`] : [h])),
  );
  return rows.map((r) =>
    header.map((name) => {
      const v = doubles.includes(name) ? r[`${name}_text`] : r[name];
      // DuckDB reads some spellings of -0 as 0: the text keeps the sign.
      const d = r[name];
      if (doubles.includes(name))
        assert.equal(
          d === null ? d : (d as number) + 0,
          v === null ? v : Number(v) + 0,
          `${name} ${String(v)}`,
        );
      return v === null || v === undefined ? '' : String(v);
    }),
  );
}

async function sameAsCsvWide(o: Omit<ExportOptions, 'output'>): Promise<{ rows: number; types: string[][] }> {
  const [header, ...expected] = await csvWide(o);
  const out = join(dir, `out-${n++}.parquet`);
  const s = await exportOutputs({ ...o, output: out, format: 'parquet-wide' });
  assert.equal(s.format, 'parquet-wide');
  const { rows, types } = await readParquet(out);
  assert.deepEqual(
    types.map((t) => t[0]),
    s.columns,
  );
  assert.deepEqual(wideCells(rows, types, header as string[]), expected);
  assert.equal(s.rows, expected.length);
  return { rows: rows.length, types };
}

describe('export --format parquet-wide', () => {
  test('every shape: csv-wide rows, each score_i DOUBLE plus score_i_text, empty cells NULL', async () => {
    for (const text of [
      randomFile(21, 150, { kind: 'recommendations', keyField: 'userId', scores: true }).text,
      randomFile(22, 100, { kind: 'recommendations', keyField: 'itemId' }).text,
      `${REFERENCE.ranking}\n${REFERENCE.userPersonalization}\n`,
      randomFile(23, 80, { kind: 'themes' }).text,
      `${REFERENCE.v2Reasons}\n`,
      randomFile(24, 80, { kind: 'recommendations', keyField: 'userId', reasons: true, scores: true }).text,
      `${REFERENCE.segmentItem}\n`,
      `${REFERENCE.segmentAttributes}\n`,
    ])
      await sameAsCsvWide({ sources: [await file(text)] });
  });

  test('--top, --catalog and --users: their columns as strings, scores typed', async () => {
    const src = await file(
      `${REFERENCE.userPersonalization}\n{"input":{"userId":"9"},"output":{"recommendedItems":["1104","x"],"scores":[1,2]},"error":null}\n`,
    );
    const catalog = await file('ITEM_ID,TITLE\n1104,"Tea, green"\n3102,=SUM(A1)\n', 'items-w.csv');
    const users = await file('userId,email\n4638,a@x\n', 'crm-w.csv');
    const { types } = await sameAsCsvWide({ sources: [src], catalog, users, top: 2 });
    assert.deepEqual(
      types.map((t) => t.join(' ')),
      [
        'userId VARCHAR',
        'item_1 VARCHAR',
        'item_2 VARCHAR',
        'score_1 DOUBLE',
        'score_1_text VARCHAR',
        'score_2 DOUBLE',
        'score_2_text VARCHAR',
        'TITLE_1 VARCHAR',
        'TITLE_2 VARCHAR',
        'email VARCHAR',
      ],
    );
  });

  test('--partition-by and --part: the Hive folder, parts in row order', async () => {
    const src = await file(
      randomFile(25, 400, { kind: 'recommendations', keyField: 'userId', scores: true }).text,
    );
    const [, ...expected] = await csvWide({ sources: [src], top: 25 });
    const out = join(dir, 'wide-lake');
    const s = await exportOutputs({
      sources: [src],
      output: out,
      format: 'parquet-wide',
      top: 25,
      partitionBy: { run_date: '2026-12-06' },
    });
    assert.deepEqual(s.parts, [`${out}/run_date=2026-12-06/part-00000.parquet`]);
    const { rows } = await readParquet(`${out}/run_date=2026-12-06/*.parquet`);
    assert.deepEqual(
      rows.map((r) => [r.userId, r.item_1 ?? '', r.score_25_text ?? '']),
      expected.map((r) => [r[0], r[1], r[50]]),
    );
    const parts: unknown[] = [];
    for (const k of [1, 2]) {
      const part = join(dir, `wide-part-${k}.parquet`);
      await exportOutputs({
        sources: [src],
        output: part,
        format: 'parquet-wide',
        top: 25,
        part: { k, n: 2 },
      });
      parts.push(...(await readParquet(part)).rows.map((r) => r.userId));
    }
    assert.deepEqual(
      parts,
      expected.map((r) => r[0]),
    );
  });

  test('refused as parquet is: --since, --bom, .gz', async () => {
    const src = await file(`${REFERENCE.userPersonalization}\n`);
    await assert.rejects(
      exportOutputs({ sources: [src], format: 'parquet-wide', output: join(dir, 'w.parquet'), since: src }),
      /--format parquet-wide writes a plain export/,
    );
    await assert.rejects(
      exportOutputs({ sources: [src], format: 'parquet-wide', output: join(dir, 'w.parquet.gz') }),
      /not \.gz/,
    );
  });
});

describe('export --format parquet', () => {
  test('users with scores (awkward ids, E-notation and long scores): csv-long rows, typed', async () => {
    const f = await file(
      randomFile(7, 300, { kind: 'recommendations', keyField: 'userId', scores: true, reasons: false }).text,
    );
    const { rows, types } = await sameAsCsvLong({ sources: [f] });
    assert.ok(rows > 300);
    assert.deepEqual(types, [
      ['userId', 'VARCHAR'],
      ['rank', 'INTEGER'],
      ['itemId', 'VARCHAR'],
      ['score', 'DOUBLE'],
      ['score_text', 'VARCHAR'],
    ]);
  });

  test('related items, ranking (a null score), themes, reasons, segments', async () => {
    for (const text of [
      randomFile(8, 200, { kind: 'recommendations', keyField: 'itemId' }).text,
      `${REFERENCE.ranking}\n${REFERENCE.userPersonalization}\n`,
      randomFile(9, 100, { kind: 'themes' }).text,
      `${REFERENCE.v2Reasons}\n`,
      randomFile(10, 100, { kind: 'recommendations', keyField: 'userId', reasons: true, scores: true }).text,
      `${REFERENCE.segmentItem}\n`,
      `${REFERENCE.segmentAttributes}\n`,
    ])
      await sameAsCsvLong({ sources: [await file(text)] });
  });

  test("every reference line shape alone (the workers' writer): csv-long rows", async () => {
    for (const [name, line] of Object.entries(REFERENCE)) {
      // The docs' segment examples alone read as batch input (no output key): export refuses them.
      if (name.startsWith('segmentDoc')) continue;
      const src = await file(`${line}\n`, `ref-${name}.out`);
      await sameAsCsvLong({ sources: [src], onInvalid: 'skip', rejects: join(dir, `ref-${name}.rejects`) });
    }
  });

  test('with --catalog and --users columns (strings; missing ones NULL)', async () => {
    const src = await file(
      `${REFERENCE.userPersonalization}\n{"input":{"userId":"9"},"output":{"recommendedItems":["1104","x"],"scores":[1,2]},"error":null}\n`,
    );
    const catalog = await file(
      'ITEM_ID,TITLE,PRICE\n1104,"Tea, green",3.50\n3102,=SUM(A1),7\n608,Zoë,\n',
      'items.csv',
    );
    const users = await file('userId,email,score\n4638,a@x,12\n', 'crm.csv');
    const { types } = await sameAsCsvLong({ sources: [src], catalog, users });
    assert.deepEqual(
      types.map((t) => t.join(' ')),
      [
        'userId VARCHAR',
        'rank INTEGER',
        'itemId VARCHAR',
        'score DOUBLE',
        'score_text VARCHAR',
        'TITLE VARCHAR',
        'PRICE VARCHAR',
        'email VARCHAR',
        'user_score VARCHAR',
      ],
    );
  });

  test("the workers' writer: --top, --rename, CRLF lines, escaped keys, lines without a key", async () => {
    const text = randomFile(31, 400, { kind: 'recommendations', keyField: 'userId', scores: true })
      .text.split('\n')
      .join('\r\n');
    const keyless = '{"input":{},"output":{"recommendedItems":["a","b"],"scores":[1e-7,-0]},"error":null}';
    const src = await file(
      `${text}${keyless}\r\n{"input":{"userId":"\\u00e9\\"x"},"output":{"recommendedItems":["\\n"]},"error":null}\r\n`,
    );
    const { rows } = await sameAsCsvLong({
      sources: [src],
      top: 3,
      rename: { userId: 'external_id' },
      pieceSize: 16 * 1024,
    });
    assert.ok(rows > 400);
    // To stdout the same bytes as to a file: the offsets are the stream's.
    const o = { sources: [src], format: 'parquet' as const, pieceSize: 16 * 1024 };
    const path = join(dir, 'same.parquet');
    await exportOutputs({ ...o, output: path });
    const got: Buffer[] = [];
    const stdout = new Writable({
      write(chunk, _enc, done) {
        got.push(chunk);
        done();
      },
    });
    await exportOutputs({ ...o, output: '-', stdout });
    assert.ok(Buffer.concat(got).equals(await readFile(path)));
  });

  test('JSON numbers read as Number() reads them (the fast path and the rest)', () => {
    let seed = 5;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const cases = [
      '0',
      '-0',
      '1',
      '0.1',
      '3.773E-4',
      '1e22',
      '1e23',
      '123456789012345',
      '1234567890123456',
      '0.17303876723162830',
      '-2.5e-300',
      '9007199254740993',
      '1E+2',
      '0.000001',
    ];
    for (let i = 0; i < 2000; i++) {
      const digits = String(Math.floor(rand() * 10 ** Math.ceil(rand() * 17)));
      const dot = Math.floor(rand() * digits.length);
      const exp = rand() < 0.3 ? `e${rand() < 0.5 ? '-' : ''}${Math.floor(rand() * 30)}` : '';
      cases.push(
        `${rand() < 0.3 ? '-' : ''}${dot > 0 ? `${digits.slice(0, dot)}.${digits.slice(dot)}` : digits}${exp}`,
      );
    }
    for (const c of cases) {
      const b = Buffer.from(` ${c} `);
      assert.ok(Object.is(parseNumber(b, 1, b.length - 1), Number(c)), c);
    }
  });

  test('no rows: a file with the columns and no row', async () => {
    const out = join(dir, 'empty.parquet');
    const s = await exportOutputs({
      sources: [await file(`${REFERENCE.error}\n`)],
      output: out,
      format: 'parquet',
    });
    assert.equal(s.rows, 0);
    assert.deepEqual((await readParquet(out)).rows, []);
  });

  test('a row group per piece, built by the workers; the rows in order', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `"i${i}"`).join(',');
    const lines = 3000;
    let text = '';
    for (let u = 0; u < lines; u++)
      text += `{"input":{"userId":"u${u}"},"output":{"recommendedItems":[${ids}]}}\n`;
    const src = await file(text);
    const out = join(dir, 'big.parquet');
    // 64 KiB pieces: 5 on this thread and the workers, in order.
    await exportOutputs({ sources: [src], output: out, format: 'parquet', pieceSize: 64 * 1024 });
    const groups = await query(
      `SELECT count(DISTINCT row_group_id)::INT AS g, bool_and(row_group_num_rows % 25 = 0) AS whole, min(compression) AS codec, min(created_by) AS by FROM parquet_metadata('${out}') JOIN parquet_file_metadata('${out}') USING (file_name)`,
    );
    assert.deepEqual(groups[0], {
      g: Math.ceil(text.length / (64 * 1024)),
      whole: true,
      codec: 'SNAPPY',
      by: 'personalize-batch',
    });
    const check = await query(
      `SELECT count(*)::INT AS n, bool_and(rank = (r % 25) + 1 AND "userId" = 'u' || (r // 25)) AS ordered FROM (SELECT *, row_number() OVER () - 1 AS r FROM read_parquet('${out}'))`,
    );
    assert.deepEqual(check[0], { n: lines * 25, ordered: true });
  });

  test('wide rows (10 KB catalog titles): row groups of 2,048 rows, not 100,000', async () => {
    const title = 'T'.repeat(10_000);
    const catalog = await file(
      `ITEM_ID,TITLE\n${Array.from({ length: 10 }, (_, i) => `i${i},${title}${i}`).join('\n')}\n`,
      'wide-items.csv',
    );
    const ids = Array.from({ length: 10 }, (_, i) => `"i${i}"`).join(',');
    let text = '';
    for (let u = 0; u < 300; u++)
      text += `{"input":{"userId":"u${u}"},"output":{"recommendedItems":[${ids}]}}\n`;
    const out = join(dir, 'wide.parquet');
    await exportOutputs({ sources: [await file(text)], output: out, format: 'parquet', catalog });
    const meta = await query(
      `SELECT count(DISTINCT row_group_id)::INT AS g, max(row_group_num_rows)::INT AS most FROM parquet_metadata('${out}')`,
    );
    // DuckDB cuts near the size asked for (2,398 of 3,000 rows here), between vectors.
    assert.equal(meta[0]?.g, 2);
    assert.ok((meta[0]?.most as number) < 3000);
  });

  test('--partition-by with --max-file-size: OUT/K=V/part-00000.parquet and on, rows in order', async () => {
    const src = await file(
      randomFile(12, 2600, { kind: 'recommendations', keyField: 'userId', maxIds: 200 }).text,
    );
    const [, ...expected] = await csvLong({ sources: [src] });
    assert.ok(expected.length > 2 * PARQUET_ROW_GROUP_ROWS, `${expected.length} rows`);
    const out = join(dir, 'lake');
    const s = await exportOutputs({
      sources: [src],
      output: out,
      format: 'parquet',
      partitionBy: { run_date: '2026-12-06', recipe: 'up' },
      maxFileSize: 1,
    });
    const folder = join(out, 'run_date=2026-12-06', 'recipe=up');
    const names = (await readdir(folder)).sort();
    assert.deepEqual(names, ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']);
    assert.deepEqual(
      s.parts,
      names.map((f) => `${folder}/${f}`),
    );
    const rows: string[][] = [];
    for (const f of names) {
      const r = await readParquet(join(folder, f));
      rows.push(...r.rows.map((x) => [String(x.userId), String(x.rank), String(x.itemId)]));
    }
    assert.deepEqual(
      rows,
      expected.map((r) => r.slice(0, 3)),
    );
    const hive = await query(
      `SELECT DISTINCT run_date::VARCHAR AS d, recipe FROM read_parquet('${out}/*/*/*.parquet', hive_partitioning = true)`,
    );
    assert.deepEqual(hive, [{ d: '2026-12-06', recipe: 'up' }]);
  });

  test('a failed export leaves no file (nor a temporary one)', async () => {
    const out = join(dir, 'atomic');
    await mkdir(out);
    const src = await file(`${REFERENCE.userPersonalization}\n{"input":\n`);
    const tmpDir = join(dir, 'atomic-tmp');
    await mkdir(tmpDir);
    await assert.rejects(
      exportOutputs({ sources: [src], output: join(out, 'x.parquet'), format: 'parquet', tmpDir }),
      /PB_|invalid|JSON/i,
    );
    await assert.rejects(
      exportOutputs({ sources: [src], output: out, format: 'parquet', partitionBy: { d: '1' }, tmpDir }),
      /PB_|invalid|JSON/i,
    );
    assert.deepEqual(await readdir(out), []);
    assert.deepEqual(await readdir(tmpDir), []);
  });

  test('options refused with their fix', async () => {
    const src = await file(`${REFERENCE.userPersonalization}\n`);
    const cases: [Partial<ExportOptions>, RegExp][] = [
      [{ partitionBy: { d: '1' }, output: join(dir, 'p') }, /add --format parquet/],
      [
        { format: 'parquet', partitionBy: { 'run date': '1' }, output: join(dir, 'p') },
        /letters, digits and _/,
      ],
      [{ format: 'parquet', partitionBy: { d: '2026/12' }, output: join(dir, 'p') }, /Hive escapes/],
      [{ format: 'parquet', partitionBy: { d: '1' }, stdout: process.stdout }, /give -o OUT/],
      [{ format: 'parquet', output: join(dir, 'x.parquet.gz') }, /not \.gz/],
      [{ format: 'parquet', output: join(dir, 'x.parquet'), bom: true }, /--bom is for CSV/],
    ];
    for (const [o, re] of cases) await assert.rejects(exportOutputs({ sources: [src], ...o }), re);
  });

  test('the COPY reads every cell as text and casts only rank and score', () => {
    const cols = parquetColumns(['userId', 'rank', 'itemId', 'score', 'score_text'], {
      kind: 'recommendations',
      keyField: 'userId',
      users: false,
      score: true,
      reason: false,
      theme: false,
    });
    assert.deepEqual(
      cols.map((c) => `${c.name}:${c.type}:${c.from}`),
      [
        'userId:VARCHAR:0',
        'rank:INTEGER:1',
        'itemId:VARCHAR:2',
        'score:DOUBLE:3',
        'score_score_text:VARCHAR:3',
        'score_text:VARCHAR:4',
      ],
    );
    const sql = parquetCopySql({
      rowGroupRows: 100_000,
      csv: "/t/it's.csv",
      csvColumns: 5,
      columns: cols,
      dest: '/t/o',
      fileSizeBytes: 0,
      tempDir: '/t',
    });
    assert.match(sql, /read_csv\('\/t\/it''s\.csv'/);
    assert.match(sql, /CAST\(c1 AS INTEGER\) AS "rank"/);
    assert.doesNotMatch(sql, /FILE_SIZE_BYTES/);
    assert.match(sql, /ROW_GROUP_SIZE 100000\)/);
  });

  test('row groups of 100,000 rows or 8 MiB of csv-long by the average row, in vectors of 2,048', () => {
    assert.equal(rowGroupRows(4_500_000, 100_000), 100_000);
    assert.equal(rowGroupRows(0, 0), 100_000);
    assert.equal(rowGroupRows(3_000 * 120_000, 120_000), 2048);
    assert.equal(rowGroupRows(1_000 * 120_000, 120_000), 8192);
    assert.equal(rowGroupRows(200 * 1024 * 1024, 1), 2048);
  });
});

describe('export --format parquet to S3', () => {
  const s3 = useS3rver();

  test('a partition under an s3:// prefix, uploaded through the multipart writer', async () => {
    const src = await file(
      randomFile(13, 200, { kind: 'recommendations', keyField: 'userId', scores: true }).text,
    );
    const [, ...expected] = await csvLong({ sources: [src] });
    const s = await exportOutputs({
      sources: [src],
      output: 's3://bucket/lake/recs/',
      format: 'parquet',
      partitionBy: { run_date: '2026-12-06' },
    });
    assert.deepEqual(s.parts, ['s3://bucket/lake/recs/run_date=2026-12-06/part-00000.parquet']);
    const parts: Buffer[] = [];
    for await (const c of readS3(s3().client, s.parts?.[0] as string)) parts.push(c);
    const local = join(dir, 'from-s3.parquet');
    await writeFile(local, Buffer.concat(parts));
    const { rows } = await readParquet(local);
    assert.deepEqual(
      rows.map((r) => [r.userId, String(r.rank), r.itemId, r.score_text ?? '']),
      expected.map((r) => r.slice(0, 4)),
    );
  });

  test('parquet-wide under an s3:// prefix too', async () => {
    const src = await file(
      randomFile(26, 50, { kind: 'recommendations', keyField: 'userId', scores: true }).text,
    );
    const [header, ...expected] = await csvWide({ sources: [src] });
    const score1 = (header as string[]).indexOf('score_1');
    const s = await exportOutputs({
      sources: [src],
      output: 's3://bucket/lake/wide/',
      format: 'parquet-wide',
      partitionBy: { run_date: '2026-12-06' },
    });
    assert.deepEqual(s.parts, ['s3://bucket/lake/wide/run_date=2026-12-06/part-00000.parquet']);
    const parts: Buffer[] = [];
    for await (const c of readS3(s3().client, s.parts?.[0] as string)) parts.push(c);
    const local = join(dir, 'wide-from-s3.parquet');
    await writeFile(local, Buffer.concat(parts));
    const { rows } = await readParquet(local);
    assert.deepEqual(
      rows.map((r) => [r.userId, r.item_1 ?? '', r.score_1_text ?? '']),
      expected.map((r) => [r[0], r[1], r[score1]]),
    );
  });
});
