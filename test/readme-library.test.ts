/**
 * The README's "Library" examples of prepareRecords, readOutput,
 * createExportStream and aborting run as written (the package name pointed
 * at src/), and print what their comments say.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

async function run(heading: string): Promise<{ stdout: string; dir: string }> {
  const dir = tmp.fresh('example');
  await mkdir(dir);
  const code = (await example(heading)).replaceAll(
    "from 'personalize-batch'",
    `from ${JSON.stringify(pathToFileURL(join(root, 'src/index.ts')).href)}`,
  );
  const file = join(dir, 'example.mts');
  await writeFile(file, code);
  const loader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', loader, file], { cwd: dir });
  return { stdout, dir };
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

  test('Aborting and progress', async () => {
    const { stdout } = await run('Aborting');
    assert.match(stdout, /^aborted after \d+ records\n$/);
  });
});
