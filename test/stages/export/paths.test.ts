import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ExportOptions, exportOutputs } from '../../../src/stages/export/index.js';
import { prepare } from '../../../src/stages/prepare/index.js';
import { report } from '../../../src/stages/report/index.js';

/**
 * Files a command reads or writes checked against each other before any
 * work (export/paths.ts, io/output.ts checkOutputs): found by a user's
 * trial, each of these ran to exit 0 and replaced a file it was reading
 * (the CRM export, the catalog, a source, PREV's first part), or wrote
 * the export and then failed on REMOVED's missing folder.
 */

let dir: string;
const line = (u: string, items: string[]) =>
  JSON.stringify({ input: { userId: u }, output: { recommendedItems: items, scores: items.map(() => 0.5) } });
const OUT = [line('00123', ['a', 'b']), line('4638', ['c']), line('663', ['a'])].join('\n');
const CRM = 'Record ID,Email,First Name\n00123,zoe@example.com,Zoë\n4638,jo@example.com,"Smith, Jo"\n';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pb-paths-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh folder with the trial's files: up.out, hubspot.csv, items.csv. */
async function files(name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d);
  await writeFile(join(d, 'up.out'), `${OUT}\n`);
  await writeFile(join(d, 'hubspot.csv'), CRM);
  await writeFile(join(d, 'items.csv'), 'ITEM_ID,title\na,A\nb,B\nc,C\n');
  return d;
}

async function refused(o: ExportOptions, pattern: RegExp): Promise<void> {
  await assert.rejects(exportOutputs(o), (err: Error) => {
    assert.match(err.message, pattern);
    return true;
  });
}

test('an output that is the users file, the catalog or a source is refused, and the file is left as it was', async () => {
  const d = await files('inputs');
  const src = join(d, 'up.out');
  const users = { users: join(d, 'hubspot.csv'), userKey: 'Record ID', userFields: ['Email'] };
  await refused(
    { sources: [src], ...users, output: join(d, 'hubspot.csv') },
    /hubspot\.csv: is also an input \(the users file \S+hubspot\.csv\): writing the output there/,
  );
  await refused(
    { sources: [src], catalog: join(d, 'items.csv'), output: join(d, 'items.csv') },
    /is also an input \(the catalog \S+items\.csv\)/,
  );
  await refused(
    { sources: [src], output: join(d, 'x.csv'), errors: src },
    /up\.out: is also an input \(a source \S+up\.out\): writing the errors file there/,
  );
  await refused(
    { sources: [src], output: join(d, 'x.csv'), onInvalid: 'skip', rejects: src },
    /writing the rejects file there/,
  );
  assert.equal(await readFile(join(d, 'hubspot.csv'), 'utf8'), CRM);
  assert.equal(await readFile(src, 'utf8'), `${OUT}\n`);
  assert.ok(!existsSync(join(d, 'x.csv')));
});

test('a users file, catalog or interactions file from stdin is refused with the fix; a missing folder says to make it', async () => {
  const d = await files('stdin');
  for (const [o, flag] of [
    [{ users: '-', userKey: 'k' }, '--users'],
    [{ catalog: '-' }, '--catalog'],
  ] as const)
    await refused(
      { sources: [join(d, 'up.out')], output: join(d, 'x.csv'), ...o },
      new RegExp(`^${flag} reads a file, not standard input \\(-\\): save it to a file first$`),
    );
  await refused(
    { sources: [join(d, 'up.out')], output: join(d, 'nope', 'x.csv') },
    /x\.csv: cannot write: the folder does not exist \(create it first\)$/,
  );
});

test('two outputs that are one file are refused: the output and the errors file', async () => {
  const d = await files('twice');
  await refused(
    { sources: [join(d, 'up.out')], output: join(d, 'e.csv'), errors: join(d, 'e.csv') },
    /e\.csv: is both the output and the errors file: one would replace the other/,
  );
  assert.ok(!existsSync(join(d, 'e.csv')));
});

test('--since: REMOVED over the users file, or in a missing folder, is refused before the export is written', async () => {
  const d = await files('removed');
  await writeFile(join(d, 'w1.out'), `${OUT}\n`);
  const base = { sources: [join(d, 'up.out')], since: join(d, 'w1.out'), output: join(d, 'delta.csv') };
  await refused(
    { ...base, users: join(d, 'hubspot.csv'), userKey: 'Record ID', removed: join(d, 'hubspot.csv') },
    /writing REMOVED there/,
  );
  await refused(
    { ...base, removed: join(d, 'nope', 'r.csv') },
    /r\.csv: cannot write: the folder does not exist/,
  );
  await refused(
    { ...base, removed: join(d, 'r.csv'), errors: join(d, 'nope', 'e.jsonl') },
    /e\.jsonl: cannot write: the folder does not exist/,
  );
  assert.ok(!existsSync(join(d, 'delta.csv')), 'no export without its REMOVED');
  assert.equal(await readFile(join(d, 'hubspot.csv'), 'utf8'), CRM);
});

test('--max-file-size: next week over PREV written in parts is refused; PREV given as its first part is refused with the fix', async () => {
  const d = await files('parts');
  const week1: ExportOptions = {
    sources: [join(d, 'up.out')],
    format: 'csv-wide',
    maxFileSize: 1_000_000,
    output: join(d, 'braze.csv'),
  };
  await exportOutputs(week1);
  const part1 = await readFile(join(d, 'braze-00001.csv'), 'utf8');
  await refused(
    { ...week1, since: join(d, 'braze.csv'), removed: join(d, 'removed.csv') },
    /braze\.csv: is written in parts, and part \S+braze-00001\.csv is also an input \(PREV \S+braze-00001\.csv\)/,
  );
  assert.equal(await readFile(join(d, 'braze-00001.csv'), 'utf8'), part1);
  // A second part beside the first: PREV named by its first part alone would miss the second's keys.
  await writeFile(join(d, 'braze-00002.csv'), 'userId,item_1,score_1\n663,a,0.5\n');
  await refused(
    { ...week1, since: join(d, 'braze-00001.csv'), removed: join(d, 'r.csv'), output: join(d, 'w2.csv') },
    /--since \S+braze-00001\.csv: this is part 1 of an export written in parts \(\S+braze-00002\.csv is beside it\).*give --since \S+braze\.csv, which reads every part/,
  );
  await assert.rejects(
    report({ sources: [join(d, 'up.out')], since: join(d, 'braze-00002.csv'), output: join(d, 'r.html') }),
    /this is part 2 of an export written in parts/,
  );
});

test('prepare: the rejects file and the output one file; report: report.json over the catalog', async () => {
  const d = await files('others');
  await writeFile(join(d, 'emails.txt'), 'u1\nu2\n');
  await assert.rejects(
    prepare({
      recipe: 'user-personalization',
      sources: [join(d, 'emails.txt')],
      output: join(d, 'p.jsonl'),
      onInvalid: 'skip',
      rejects: join(d, 'p.jsonl'),
    }),
    /p\.jsonl: is both the output and the rejects file/,
  );
  await writeFile(join(d, 'r.json'), '{"itemId":"a","title":"A"}\n');
  await assert.rejects(
    report({ sources: [join(d, 'up.out')], catalog: join(d, 'r.json'), output: join(d, 'r.html') }),
    /r\.json: is also an input \(the catalog \S+r\.json\): writing report\.json there/,
  );
  assert.equal(await readFile(join(d, 'r.json'), 'utf8'), '{"itemId":"a","title":"A"}\n');
  // -o names the page: -o x.json wrote HTML into x.json and the JSON into x.json.json.
  await assert.rejects(
    report({ sources: [join(d, 'up.out')], output: join(d, 'x.json') }),
    /-o \S+x\.json: -o names the page \(report\.html\); report\.json is written beside it: give -o \S+x\.html/,
  );
});
