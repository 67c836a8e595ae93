import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse/sync';
import { exportOutputs } from '../../../src/stages/export/index.js';
import { sqlForOutputs, sqlForPrepare } from '../../../src/stages/sql/index.js';
import { rejectsWith, throwsWith, useDuckDB, useS3rver, useTmp } from '../../helpers.js';
import { REFERENCE, randomFile } from '../../out-fixtures.js';

const tmp = useTmp();
const con = useDuckDB();

/** A folder of outputs: plain and gzipped files, _CHECK beside them. */
async function outputs(): Promise<string> {
  const dir = tmp.fresh('out');
  await mkdir(join(dir, 'b'), { recursive: true });
  await writeFile(join(dir, '_CHECK'), 'x');
  const random = randomFile(11, 80, {
    kind: 'recommendations',
    keyField: 'userId',
    scores: true,
    reasons: false,
    errorRate: 0.1,
  });
  await writeFile(join(dir, 'a.json.out'), `${REFERENCE.userPersonalization}\n${random.text}`);
  await writeFile(
    join(dir, 'b', 'c.json.out.gz'),
    gzipSync(`${REFERENCE.userPersonalization.replace('4638', 'u2')}\n`),
  );
  return dir;
}

const sortRows = (rows: string[][]) => rows.map((r) => JSON.stringify(r)).sort();

describe('sqlForOutputs: the shape and the catalog read from the files', () => {
  test('a folder and a semicolon, gzipped catalog: the query gives export --catalog rows', async () => {
    const dir = await outputs();
    const cat = tmp.fresh('items.csv');
    await writeFile(cat, gzipSync('item_id;Title;Price\n1104;"Boots; red";9.50\n3102;Hat;\n'));
    const sql = await sqlForOutputs({
      engine: 'duckdb',
      source: dir,
      catalog: cat,
      catalogColumns: ['title'],
    });
    assert.match(sql, /delim = ';', compression = 'gzip'/);
    const reader = await con().runAndReadAll(sql);
    assert.deepEqual(reader.columnNames(), ['userId', 'rank', 'itemId', 'score', 'Title']);
    const got = reader.getRows().map((r) => r.map((v) => (v === null ? '' : String(v))));

    const out = tmp.fresh('rows.csv');
    await exportOutputs({
      sources: [dir],
      output: out,
      escapeFormulas: false,
      catalog: cat,
      catalogColumns: ['Title'],
      errors: tmp.fresh('errors.jsonl'),
    });
    const [header, ...rows] = parseCsv(await readFile(out, 'utf8')) as string[][];
    assert.deepEqual(header, reader.columnNames());
    const want = rows.map((r) => r.map((v, i) => (i === 3 && v !== '' ? String(Number(v)) : v)));
    assert.ok(want.some((r) => r[4] === 'Boots; red') && want.some((r) => r[0] === 'u2'));
    assert.deepEqual(sortRows(got), sortRows(want));
  });

  test('a catalog DuckDB cannot read as it is, or without a header, is refused with the fix', async () => {
    const dir = await outputs();
    const utf16 = tmp.fresh('items16.csv');
    await writeFile(
      utf16,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('ITEM_ID,TITLE\n1,a\n', 'utf16le')]),
    );
    await rejectsWith(
      sqlForOutputs({ engine: 'duckdb', source: dir, catalog: utf16 }),
      'PB_USAGE',
      /iconv -f utf-16le/,
    );
    const noId = tmp.fresh('noid.csv');
    await writeFile(noId, 'NAME,TITLE\n1,a\n');
    await rejectsWith(
      sqlForOutputs({ engine: 'duckdb', source: dir, catalog: noId }),
      'PB_USAGE',
      /--catalog-id-column/,
    );
  });

  test('a source whose first lines export nothing has no shape', async () => {
    const file = tmp.fresh('errors.out');
    await writeFile(file, `${REFERENCE.error}\n`);
    await rejectsWith(sqlForOutputs({ engine: 'duckdb', source: file }), 'PB_PARSE', /no exported line/);
  });

  test('--table: a table name only', async () => {
    await rejectsWith(
      sqlForOutputs({ engine: 'spark', source: 'x.out', table: 'a b' }),
      'PB_USAGE',
      /--table "a b": use letters, digits and _/,
    );
  });

  describe('on S3', () => {
    const s3 = useS3rver();
    before(async () => {
      for (const [key, body] of [
        ['run/_CHECK', '{}'],
        ['run/users.json.out', `${REFERENCE.themes}\n`],
      ] as const)
        await s3().client.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: body }));
    });

    test('a prefix: Athena LOCATION, Spark path, DuckDB glob; the shape from its first object', async () => {
      const athena = await sqlForOutputs({ engine: 'athena', source: 's3://bucket/run/', raw: true });
      assert.match(athena, /\nLOCATION 's3:\/\/bucket\/run\/';\n/);
      assert.match(athena, /AS "source_item",[\s\S]*AS "theme"\n/);
      const spark = await sqlForOutputs({ engine: 'spark', source: 's3://bucket/run/', raw: true });
      assert.match(
        spark,
        /OPTIONS \(path 's3:\/\/bucket\/run\/', mode 'FAILFAST', pathGlobFilter '\*\.out\*', recursiveFileLookup 'true'\)/,
      );
      const duck = await sqlForOutputs({ engine: 'duckdb', source: 's3://bucket/run/', raw: true });
      assert.match(duck, /\['s3:\/\/bucket\/run\/\*\*\/\*\.out'\]/);
      const object = await sqlForOutputs({
        engine: 'athena',
        source: 's3://bucket/run/users.json.out',
        raw: true,
      });
      assert.match(
        object,
        /\nLOCATION 's3:\/\/bucket\/run\/';\n/,
        "an object: Athena's LOCATION is its folder",
      );
    });
  });
});

describe('sqlForPrepare', () => {
  test('the engine resolved; Athena writes to S3 only', () => {
    const o = { recipe: 'aws-user-personalization', table: 't', column: 'c', to: 'out.jsonl' };
    assert.match(sqlForPrepare({ ...o, engine: 'DuckDB', raw: true }), /^COPY \(/);
    throwsWith(() => sqlForPrepare({ ...o, engine: 'athena' }), 'PB_USAGE', /UNLOAD writes to S3/);
    throwsWith(() => sqlForPrepare({ ...o, engine: 'sparky' }), 'PB_USAGE', /did you mean spark/);
  });
});
