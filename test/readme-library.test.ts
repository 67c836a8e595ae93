/**
 * The README's "Library" examples run as written (the package's names
 * pointed at src/), each in an empty folder of its own, one after another in
 * one child process, and print what their comments say: one example per
 * public function, the job functions against the in-process emulator.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { useTmp } from './helpers.js';

const tmp = useTmp();
const root = join(import.meta.dirname, '..');

/** The first ts block under the README heading that starts with `heading`. */
async function example(heading: string): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n### ${heading}`);
  assert.ok(at >= 0, heading);
  const blocks = readme.slice(at).split('\n### ')[1]?.split('```ts\n').slice(1) ?? [];
  // The readOutput section's first block is the record's type, not an example.
  const code = blocks.find((b) => b.includes("from 'personalize-batch'"));
  assert.ok(code, `${heading}: an example`);
  return code.slice(0, code.indexOf('```'));
}

/** Every example the tests below read, in the order the runner takes them (the job functions last). */
const HEADINGS = [
  'prepareRecords',
  'readOutput',
  'createExportStream',
  '`report`',
  'Aborting',
  'prepare and createPrepareStream',
  '`validateFiles`',
  '`shard`',
  '`collect`',
  '`exportOutputs`',
  'Errors',
  '`submit`',
  '`waitJobs`',
  '`jobStatus`',
  '`runPipeline`',
] as const;

// One child process runs every example, one after another, each from its own empty folder: a process
// each cost 15 start-ups through tsx (about 40 s of CPU). Each example's stdout follows a marker line.
const RUNNER = `import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
for (const { heading, dir, file } of JSON.parse(process.argv[2])) {
  process.chdir(dir);
  writeSync(1, '\\u0001' + heading + '\\u0001\\n');
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    writeSync(1, '\\u0002' + String(err?.stack ?? err) + '\\n');
  }
}
`;

interface Ran {
  stdout: string;
  dir: string;
  error?: string;
}

let results: Promise<Map<string, Ran>> | undefined;

async function runAll(): Promise<Map<string, Ran>> {
  const list: { heading: string; dir: string; file: string }[] = [];
  for (const heading of HEADINGS) {
    const dir = tmp.fresh('example');
    await mkdir(dir);
    const code = (await example(heading))
      .replaceAll(
        "from 'personalize-batch'",
        `from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)}`,
      )
      .replaceAll(
        "from 'personalize-batch/emulator'",
        `from ${JSON.stringify(pathToFileURL(join(root, 'src/emulator/index.ts')).href)}`,
      );
    const file = join(dir, 'example.mts');
    await writeFile(file, code);
    // Worker threads run the sources through tsx, which they find from the working folder.
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    list.push({ heading, dir, file });
  }
  const runner = join(tmp.fresh('runner'), 'runner.mjs');
  await mkdir(dirname(runner));
  await writeFile(runner, RUNNER);
  const loader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', loader, runner, JSON.stringify(list)],
    {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const parts = stdout.split('\u0001');
  const out = new Map<string, Ran>();
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const heading = parts[i] as string;
    const text = (parts[i + 1] as string).slice(1);
    const at = text.indexOf('\u0002');
    const dir = list.find((e) => e.heading === heading)?.dir as string;
    // An example that threw fails its own test with its stack; the others still run.
    out.set(
      heading,
      at >= 0 ? { stdout: text.slice(0, at), dir, error: text.slice(at + 1) } : { stdout: text, dir },
    );
  }
  return out;
}

async function run(heading: (typeof HEADINGS)[number]): Promise<{ stdout: string; dir: string }> {
  results ??= runAll();
  const r = (await results).get(heading);
  assert.ok(r, `${heading}: the runner printed no marker for it`);
  assert.equal(r.error, undefined, `${heading} threw`);
  return r;
}

describe('README, Library: the examples run', () => {
  test('prepareRecords', async () => {
    const { stdout } = await run('prepareRecords');
    assert.equal(
      stdout,
      '{"userId":"c1","filterValues":{"TIER":"\\"gold\\""}}\n{"userId":"c2","filterValues":{"TIER":"\\"silver\\",\\"gold\\""}}\n2 1\n',
    );
  });

  test('readOutput', async () => {
    const { stdout } = await run('readOutput');
    assert.equal(
      stdout,
      'u1 i1 0.5 0.5\nu1 i2 0.0003773 3.773E-4\nu2 failed: Failed to process the record\n',
    );
  });

  test('createExportStream', async () => {
    const { stdout, dir } = await run('createExportStream');
    assert.equal(stdout, '2\n');
    const csv = await readFile(join(dir, 'recs.csv'), 'utf8');
    assert.match(csv, /^userId,item_1,item_2,score_1,score_2\r\nu1,i1,i2,0.5,0.25\r\nu2,i3,,0.75,\r\n$/);
  });

  test('report', async () => {
    const { stdout, dir } = await run('`report`');
    assert.equal(stdout, "report.json 2 3 { id: 'i1', count: 2, share: 0.5 }\n");
    assert.match(await readFile(join(dir, 'report.html'), 'utf8'), /^<!DOCTYPE html>/);
  });

  test('Aborting and progress', async () => {
    const { stdout } = await run('Aborting');
    assert.match(stdout, /^aborted after \d+ records\n$/);
  });
});

describe('README, Library: the other functions', () => {
  test('prepare and createPrepareStream', async () => {
    const { stdout, dir } = await run('prepare and createPrepareStream');
    assert.equal(stdout, '2 1\n2\n');
    const expected = '{"userId":"u1"}\n{"userId":"u2"}\n';
    assert.equal(await readFile(join(dir, 'batch.jsonl'), 'utf8'), expected);
    assert.equal(await readFile(join(dir, 'batch-2.jsonl'), 'utf8'), expected);
  });

  test('validateFiles', async () => {
    const { stdout } = await run('`validateFiles`');
    assert.match(stdout, /^batch\.jsonl:2: userId: .+\n3 1\n$/);
  });

  test('shard', async () => {
    const { stdout, dir } = await run('`shard`');
    assert.equal(stdout, `${join(dir, 'shards/manifest.json')} 3 10000\n`);
  });

  test('collect', async () => {
    const { stdout } = await run('`collect`');
    assert.equal(stdout, '2 1 missing.jsonl\n');
  });

  test('exportOutputs', async () => {
    const { stdout, dir } = await run('`exportOutputs`');
    const csv = 'userId,rank,itemId,score,TITLE\r\nu1,1,i1,0.5,Blue shoes\r\nu1,2,i2,0.25,Red hat\r\n';
    assert.equal(stdout, `2 1\n${csv}\n`);
    assert.match(await readFile(join(dir, 'errors.jsonl'), 'utf8'), /"error":"Failed to process the record"/);
  });

  test('Errors', async () => {
    const { stdout } = await run('Errors');
    assert.match(stdout, /^PB_INVALID_RECORD \(records\) 2 userId\nlooks like an e-mail address; .+\n$/);
  });
});

// Against the emulator.
describe('README, Library: the job functions', () => {
  test('submit', async () => {
    const { stdout } = await run('`submit`');
    assert.match(
      stdout,
      /^shard 0: (pb-\w+)-00000\nshard 1: \1-00001\ns3:\/\/work\/out\/state\.json 2 \{ .*active: 2, failed: 0 \}\n$/,
    );
  });

  test('waitJobs', async () => {
    const { stdout } = await run('`waitJobs`');
    assert.match(stdout, /\n\{ .*active: 3, failed: 0 \}\n$/);
    assert.equal(stdout.match(/ ACTIVE\n/g)?.length, 3);
  });

  test('jobStatus', async () => {
    const { stdout } = await run('`jobStatus`');
    assert.match(stdout, /^0 pb-\w+-00000 (CREATE PENDING|CREATE IN_PROGRESS|ACTIVE)\n$/);
  });

  test('runPipeline', async () => {
    const { stdout, dir } = await run('`runPipeline`');
    assert.equal(stdout, `[ 'prepare', 'validate' ] 0 ${join(dir, 'out/recommendations.csv')}\n`);
  });
});
