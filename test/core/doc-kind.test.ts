import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { docKindOf, docKindOfKeys } from '../../src/core/doc-kind.js';
import { cli, useTmp } from '../helpers.js';

// Files are told apart by content, never by name: the AWS docs name batch input batch.json, the
// service names output <input>.out, shard writes manifest.json; users rename all of them.

const tmp = useTmp();

const MANIFEST_HEAD = `{
  "version": 1,
  "family": "user-personalization",
  "createdAt": "2026-12-07T00:00:00.000Z",
  "mode": "size",
  "limits": {
    "maxBytes": 1000000000,`;

describe('docKindOf', () => {
  const cases: [string, string][] = [
    [MANIFEST_HEAD, 'manifest'],
    ['{"version":1,"runId":"abc","family":"user-personalization","shards":[', 'job-state'],
    [
      '{"version":1,"recipe":"user-personalization","input":{"sources":["a.csv"]},"work":"s3://b/w/"}',
      'pipeline',
    ],
    ['{"input":{"userId":"1"},"output":{"recommendedItems":["a"],"scores":[0.5]},"error":null}\n', 'out'],
    ['{"input":{"userId":3002},"output":null,"error":"User error: bad"}\n', 'out'],
    ['{"input": {}, "output": {"recommendedItems": ["a"]}}\n', 'out'],
    ['{"error":"Unable to parse the line"}\n', 'out'],
    // The AWS docs' batch segment output for Item-Attribute-Affinity: no input wrapper.
    ['{"itemAttributes":"ITEMS.genres = \\"Comedy\\"","output":{"recommendedUsers":["u5"]}}\n', 'out'],
    ['{"itemAttributes":"ITEMS.genres = \\"Comedy\\""}\n', 'batch-input'],
    ['\ufeff{"userId": "u1"}\n', 'batch-input'],
    ['{"itemId":"i1","filterValues":{"input":"x"}}\n', 'batch-input'],
    // A CRM export with an "error" column is still a list.
    ['{"email":"a@example.com","userId":"u1","error":"bounced"}\n', 'batch-input'],
    ['{"userId":"a\\"input\\":1,\\"output\\":2"}\n', 'batch-input'],
    ['user_id,email\nu1,a@example.com\n', 'text'],
    ['[{"userId":"u1"}]', 'other'],
    ['', 'other'],
  ];
  for (const [text, kind] of cases) {
    test(`${JSON.stringify(text.slice(0, 50))} is ${kind}`, () => {
      assert.equal(docKindOf(Buffer.from(text)), kind);
    });
  }
  test('keys of a first object that is cut short still decide', () => {
    assert.equal(docKindOfKeys(['version', 'family', 'shards']), 'manifest');
    assert.equal(
      docKindOf(Buffer.from('{"version": 1, "family": "x", "shards": [{"index": 0, "uri": "s3://b/')),
      'manifest',
    );
  });
});

describe('every command reads files by content', () => {
  async function setupFiles() {
    const dir = tmp.fresh('kinds');
    await mkdir(dir, { recursive: true });
    const batch = join(dir, 'batch.json');
    await writeFile(batch, '{"userId":"u1"}\n{"userId":"u2"}\n');
    const out = join(dir, 'results.jsonl');
    await writeFile(
      out,
      '{"input":{"userId":"u1"},"output":{"recommendedItems":["a","b"],"scores":[0.5,0.2]},"error":null}\n',
    );
    const shards = join(dir, 'shards');
    const r = await cli(['shard', '--recipe', 'user-personalization', batch, '--out', shards]);
    assert.equal(r.code, 0, r.stderr);
    // A renamed manifest is still one.
    const renamed = join(dir, 'shards.txt');
    await writeFile(renamed, await readFile(join(shards, 'manifest.json')));
    const csv = join(dir, 'emails.csv');
    await writeFile(csv, 'user_id,email\nu1,a@example.com\n');
    return { dir, batch, out, shards, manifest: join(shards, 'manifest.json'), renamed, csv };
  }

  test('wrong kinds are refused with what the file is and the command that takes it (exit 2)', async () => {
    const f = await setupFiles();
    const UP = ['--recipe', 'user-personalization'];
    const refused: [string[], RegExp][] = [
      [
        ['prepare', ...UP, f.out],
        /results\.jsonl: by its content this is batch-job output .*, not a list to prepare; export /,
      ],
      [
        ['prepare', ...UP, f.renamed],
        /shards\.txt: by its content this is a shard manifest \(it lists "shards"\), not a list to prepare; its shards are batch input already/,
      ],
      [['validate', ...UP, f.out], /not batch input; export /],
      [['shard', ...UP, f.out, '--out', join(f.dir, 'x1')], /not batch input; export /],
      [
        ['shard', ...UP, f.manifest, '--out', join(f.dir, 'x2')],
        /a shard manifest \(it lists "shards"\), not batch input; submit it/,
      ],
      [
        ['export', f.batch],
        /batch\.json: by its content this is batch input .*, not batch-job output; a job reads it/,
      ],
      [['export', f.renamed], /not batch-job output; give the jobs' output folder/],
      [
        ['export', f.csv],
        /emails\.csv: by its content this is text, not JSON \(a CSV or a list\), not batch-job output; export reads what a batch job writes/,
      ],
      [['collect', f.batch, '-o', join(f.dir, 'm.jsonl')], /not batch-job output/],
      [
        ['collect', f.out, '--input', f.out, '-o', join(f.dir, 'm.jsonl')],
        /results\.jsonl: .*batch-job output.*, not batch input/,
      ],
    ];
    for (const [argv, message] of refused) {
      const r = await cli(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, argv.join(' '));
    }
    // Nothing was written by a refused shard.
    const r = await cli(['shard', ...UP, '-', '--out', join(f.dir, 'x3')], await readFile(f.manifest));
    assert.equal(r.code, 2, 'stdin is read by content too');
    assert.match(r.stderr, /a shard manifest/);
  });

  test("a file of the AWS docs' Item-Attribute-Affinity output (no input wrapper) is output to export, report and collect", async () => {
    // Its first line decides the kind: such a file was refused by all three as batch input.
    const dir = tmp.fresh('docs-segments');
    await mkdir(dir, { recursive: true });
    const out = join(dir, 'segments.json.out');
    await writeFile(
      out,
      '{"itemAttributes":"ITEMS.genres = \\"Comedy\\"","output":{"recommendedUsers":["u5","u7"]}}\n' +
        '{"itemAttributes":"ITEMS.genres = \\"Drama\\"","output":{"recommendedUsers":["u1"]}}\n',
    );
    const input = join(dir, 'segments.json');
    await writeFile(
      input,
      '{"itemAttributes":"ITEMS.genres = \\"Comedy\\""}\n{"itemAttributes":"ITEMS.genres = \\"Drama\\""}\n',
    );
    const e = await cli(['export', out, '-o', '-']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(
      e.stdout,
      'itemAttributes,rank,userId\r\n"ITEMS.genres = ""Comedy""",1,u5\r\n"ITEMS.genres = ""Comedy""",2,u7\r\n"ITEMS.genres = ""Drama""",1,u1\r\n',
    );
    const r = await cli(['report', out, '-o', join(dir, 'r.html'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const counts = JSON.parse(r.stdout);
    assert.deepEqual([counts.lines, counts.keys, counts.slots, counts.distinctItems], [2, 2, 3, 3]);
    const c = await cli(['collect', out, '--input', input, '-o', join(dir, 'm.jsonl'), '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual([JSON.parse(c.stdout).written, JSON.parse(c.stdout).missing], [2, 0]);
  });

  test('batch.json is batch input for collect --input, a renamed manifest is a manifest, a shard folder is an input folder', async () => {
    const f = await setupFiles();
    for (const input of [f.batch, f.renamed, f.shards]) {
      const r = await cli(['collect', f.out, '--input', input, '-o', join(f.dir, 'merged.jsonl'), '--json']);
      assert.equal(r.code, 1, `${input}: ${r.stderr}`);
      const s = JSON.parse(r.stdout);
      assert.deepEqual([s.inputRecords, s.missing, s.written], [2, 1, 1], input);
    }
    for (const input of [f.renamed, f.shards]) {
      const r = await cli(['validate', '--recipe', 'user-personalization', input, '--json']);
      assert.equal(r.code, 0, `${input}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).records, 2, input);
    }
    const r = await cli([
      'shard',
      '--recipe',
      'user-personalization',
      f.shards,
      '--out',
      join(f.dir, 'again'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).records, 2);
    // An .out file dropped in an input folder is a problem named by file, not records read wrong.
    await writeFile(join(f.shards, 'shard-00000', 'stray.out'), await readFile(f.out));
    const v = await cli(['validate', '--recipe', 'user-personalization', f.shards]);
    assert.equal(v.code, 1);
    assert.match(v.stdout + v.stderr, /stray\.out:1: \(file\): by its content this is batch-job output/);
  });

  test('shard reads its first record: a CSV, a header-only Excel file, side-by-side objects, an array or another family is refused before anything is written', async () => {
    const dir = tmp.fresh('shard-first');
    await mkdir(dir, { recursive: true });
    const cases: [string, string, RegExp][] = [
      [
        'plain.csv',
        'user_id\n1\n2\n',
        /plain\.csv: line 1 is not JSON \("user_id"\); batch input is one JSON object per line: run `personalize-batch prepare/,
      ],
      ['header.csv', 'user_id;email\r\n', /line 1 is not JSON \("user_id;email"\)/],
      ['side.json', '{"userId": "4638"} {"userId": "663"}\n', /line 1 is not one JSON object/],
      ['array.json', '\n[{"userId":"1"}]\n', /line 2 is a JSON array/],
      [
        'items.jsonl',
        '{"itemId":"1"}\n',
        /line 1 has no "userId" \(its keys: "itemId"\), which user-personalization records need: is --recipe right\?/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const file = join(dir, name);
      await writeFile(file, text);
      const out = join(dir, `out-${name}`);
      const r = await cli(['shard', '--recipe', 'user-personalization', file, '-o', out]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      await assert.rejects(readFile(join(out, 'manifest.json')), name);
      const piped = await cli(['shard', '--recipe', 'user-personalization', '-', '-o', `${out}-stdin`], text);
      assert.equal(piped.code, 2, `${name} on stdin`);
    }
    // A byte order mark, blank lines and CRLF before a good first record are fine.
    const ok = join(dir, 'ok.jsonl');
    await writeFile(ok, '\ufeff\r\n{"userId":"1"}\r\n');
    const r = await cli([
      'shard',
      '--recipe',
      'user-personalization',
      ok,
      '-o',
      join(dir, 'ok-out'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).records, 1);
  });

  test('collect --input FOLDER: an .out file in it is refused by name, not read as input', async () => {
    const f = await setupFiles();
    const mix = join(f.dir, 'mix');
    await mkdir(mix);
    await writeFile(join(mix, 'batch.json'), await readFile(f.batch));
    await writeFile(join(mix, 'user.out'), await readFile(f.out));
    const r = await cli(['collect', f.out, '--input', mix, '-o', join(f.dir, 'cm.jsonl')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /user\.out: by its content this is batch-job output/);
  });

  test('validate checks the job quotas per job: each shard of a manifest, each folder, each file', async () => {
    const dir = tmp.fresh('perjob');
    await mkdir(dir, { recursive: true });
    const input = join(dir, 'u.jsonl');
    await writeFile(
      input,
      Array.from({ length: 300 }, (_, i) => `{"userId":"user-${String(i).padStart(5, '0')}"}\n`).join(''),
    );
    const shards = join(dir, 'shards');
    assert.equal(
      (await cli(['shard', '--recipe', 'user-personalization', input, '-o', shards, '--max-records', '100']))
        .code,
      0,
    );
    // Three shards of 2,400 bytes: each fits 3,000 bytes, all three together would not.
    const manifest = join(shards, 'manifest.json');
    const r = await cli([
      'validate',
      '--recipe',
      'user-personalization',
      manifest,
      '--max-bytes',
      '3000',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const folder = await cli(['validate', '--recipe', 'user-personalization', shards, '--max-bytes', '3000']);
    assert.equal(folder.code, 1);
    assert.match(
      folder.stdout + folder.stderr,
      /shards: \(job\): 7200 bytes exceed the 3000-byte input quota of one job/,
    );
  });

  test('a catalog is refused for batch segment output (users per item), in export and in a pipeline file', async () => {
    const dir = tmp.fresh('segcat');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'seg.out'),
      '{"input":{"itemId":"x"},"output":{"usersList":["u1","u2"]},"error":null}\n',
    );
    await writeFile(join(dir, 'items.csv'), 'ITEM_ID,TITLE\nx,X\n');
    const r = await cli([
      'export',
      join(dir, 'seg.out'),
      '--catalog',
      join(dir, 'items.csv'),
      '--catalog-columns',
      'TITLE',
      '-o',
      join(dir, 'seg.csv'),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /batch segment output \(users for each item\): --catalog joins the items a job recommends/,
    );
    await assert.rejects(readFile(join(dir, 'seg.csv')));
    const { resolvePipeline } = await import('../../src/stages/run/pipeline.js');
    assert.throws(
      () =>
        resolvePipeline(
          {
            version: 1,
            recipe: 'item-affinity',
            input: { sources: ['items.csv'] },
            work: 's3://b/w/',
            jobs: {
              solutionVersionArn: 'arn:aws:personalize:us-east-1:123456789012:solution/s/1',
              roleArn: 'arn:aws:iam::123456789012:role/R',
            },
            output: { dir: 'o', catalog: 'items.csv' },
          },
          'p.json',
        ),
      /\$\.output\.catalog: item-affinity jobs return users for each item/,
    );
  });
});
