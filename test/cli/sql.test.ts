import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { cli, useDuckDB, useTmp } from '../helpers.js';
import { REFERENCE } from '../out-fixtures.js';

const tmp = useTmp();
const con = useDuckDB();

async function outputsFolder(): Promise<string> {
  const dir = tmp.fresh('out');
  await mkdir(join(dir, 'part2'), { recursive: true });
  await writeFile(join(dir, '_CHECK'), 'x');
  await writeFile(join(dir, 'a.json.out'), `${REFERENCE.userPersonalization}\n${REFERENCE.error}\n`);
  await writeFile(
    join(dir, 'part2', 'b.json.out.gz'),
    gzipSync('{"input":{"userId":"5"},"output":{"recommendedItems":["9"],"scores":[0.5]},"error":null}\n'),
  );
  return dir;
}

describe('personalize-batch sql', () => {
  test('--help shows every option with examples', async () => {
    const r = await cli(['sql', '--help']);
    assert.equal(r.code, 0);
    for (const o of ['--engine', '--raw', '--catalog', '--stage', '--recipe', '--where', '--to', 'Examples:'])
      assert.ok(r.stdout.includes(o), o);
  });

  test('a folder of plain and gzipped outputs: the printed query runs in DuckDB', async () => {
    const dir = await outputsFolder();
    const r = await cli(['sql', '--engine', 'duckdb', '--raw', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.startsWith('--'), 'no comment header with --raw');
    const rows = (await con().runAndReadAll(r.stdout.replace(/;\s*$/, ''))).getRowObjectsJson();
    const seen = rows.map((x) => `${x.userId} ${x.rank} ${x.itemId} ${x.score}`).sort();
    assert.deepEqual(seen, [
      '4638 1 1104 0.0023',
      '4638 2 3102 0.0003773',
      '4638 3 608 0.000012',
      '5 1 9 0.5',
    ]);
    const full = await cli(['sql', '--engine', 'duckdb', dir]);
    assert.match(full.stdout, /^-- personalize-batch sql --engine duckdb/);
    assert.match(full.stdout, /columns: userId, rank, itemId, score/);
  });

  test('usage mistakes exit 2 with the fix', async () => {
    const dir = await outputsFolder();
    const cases: [string[], RegExp][] = [
      [['sql', dir], /needs --engine duckdb\|athena\|spark/],
      [['sql', '--engine', 'duckd', dir], /did you mean duckdb/],
      [['sql', '--engine', 'athena', dir], /Athena reads S3/],
      [['sql', '--engine', 'duckdb'], /needs SOURCE/],
      [['sql', '--engine', 'spark', '--catalog', 'items', dir], /--catalog-columns/],
      [['sql', '--engine', 'duckdb', '--to', 'x.jsonl', dir], /--to is for --stage prepare/],
      [
        ['sql', '--engine', 'duckdb', '--stage', 'prepare', '--recipe', 'user-personalization'],
        /needs --table, --column, --to/,
      ],
      [
        [
          'sql',
          '--engine',
          'athena',
          '--stage',
          'prepare',
          '--recipe',
          'popular-items',
          '--table',
          't',
          '--column',
          'c',
          '--to',
          'out/',
        ],
        /UNLOAD writes to S3/,
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, message);
    }
  });

  test('segment outputs refuse --catalog', async () => {
    const file = tmp.fresh('seg.out');
    await writeFile(file, `${REFERENCE.segmentItem}\n`);
    const cat = tmp.fresh('items.csv');
    await writeFile(cat, 'ITEM_ID,TITLE\n1,a\n');
    const r = await cli(['sql', '--engine', 'duckdb', '--catalog', cat, file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /segment output/);
  });

  test('--stage prepare prints the statement', async () => {
    const r = await cli([
      'sql',
      '--engine',
      'spark',
      '--stage',
      'prepare',
      '--recipe',
      'aws-sims',
      '--table',
      'shop.items',
      '--column',
      'item_id',
      '--to',
      's3://b/in/',
      '--raw',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^INSERT OVERWRITE DIRECTORY 's3:\/\/b\/in\/'/);
    assert.match(r.stdout, /SELECT DISTINCT id AS `itemId`/);
    assert.match(r.stdout, /FROM `shop`\.`items`/);
  });
});
