import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { describeRun } from '../../../src/cli/commands/run.js';
import { generateCatalog } from '../../../src/emulator/index.js';
import { readJsonDoc } from '../../../src/io/doc.js';
import type { ReportJson } from '../../../src/stages/report/index.js';
import { type RunSummary, runPipeline } from '../../../src/stages/run/index.js';
import { loadPipeline, type PipelineFile, resolvePipeline } from '../../../src/stages/run/pipeline.js';
import { cli, rejectsWith, throwsWith } from '../../helpers.js';
import {
  AWS_ARGS,
  BUCKET,
  catalogFile,
  connect,
  emu,
  expectedUsers,
  ITEMS,
  jobsOf,
  keysUnder,
  readText,
  root,
  SV,
  setup,
} from './run-fixture.js';

// `run` end to end against the emulator (S3 and Personalize over HTTP, the
// real SDK clients): uninterrupted, dry, wrong and failed. Killed and resumed,
// the demo and progress: run-resume.test.ts.

describe('run', () => {
  test('end to end with several shards: one job each, CSV with catalog titles, rejects, reports; a rerun reuses it all', async () => {
    const { dir, file, work, prefix } = await setup(2000);
    const r = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as RunSummary;
    assert.equal(s.shards.count, 4);
    assert.equal(s.jobs.active, 4);
    assert.equal(s.jobs.created, 4);
    assert.equal(jobsOf(prefix).length, 4);
    const users = await expectedUsers(dir);
    assert.equal(s.records.written, users.length);
    assert.equal(s.records.rejected, 3);
    assert.equal(s.records.duplicates, 2000 - 3 - users.length);
    assert.deepEqual(
      s.inputs.map((d) => [d.format, d.delimiter, d.idColumn, d.encoding]),
      [['csv', ',', 'user_id', 'utf-8']],
      'how the source was read',
    );
    assert.deepEqual(s.collect && [s.collect.missing, s.collect.errorKeys, s.collect.written], [
      0,
      0,
      users.length,
    ]);

    const csv = parseCsv(await readFile(join(dir, 'out', 'recommendations.csv')), {
      columns: true,
    }) as Record<string, string>[];
    assert.deepEqual(Object.keys(csv[0] ?? {}), ['userId', 'rank', 'itemId', 'score', 'ITEM_NAME']);
    assert.equal(csv.length, users.length * 5);
    assert.deepEqual(new Set(csv.map((row) => row.userId)), new Set(users));
    const catalog = generateCatalog(ITEMS);
    const names = catalog.column('ITEM_NAME') as readonly string[];
    for (const row of csv) {
      const i = catalog.indexOf(row.itemId as string);
      assert.ok(i >= 0, row.itemId);
      assert.equal(row.ITEM_NAME, i === 0 ? `'=HYPERLINK("x")` : names[i]);
    }
    const rejects = (await readFile(join(dir, 'out', 'rejects.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(rejects.length, 3);
    assert.match(rejects[0] as string, /"file":"[^"]*emails\.csv","line":\d+/);
    assert.equal(await readFile(join(dir, 'out', 'missing.jsonl'), 'utf8'), '');
    const summaryFile = JSON.parse(await readFile(join(dir, 'out', 'summary.json'), 'utf8')) as RunSummary;
    assert.equal(summaryFile.export?.rows, users.length * 5);
    // The report: the jobs' outputs shard by shard, reconciled with the manifest.
    assert.equal(s.files.report, join(dir, 'out', 'report.html'));
    const report = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8')) as ReportJson;
    assert.equal(report.counts.keys, users.length);
    assert.equal(report.counts.slots, users.length * 5);
    assert.equal(report.shards.length, 4);
    assert.equal(
      report.shards.reduce((n, x) => n + x.okLines, 0),
      users.length,
    );
    assert.deepEqual(report.missing && [report.missing.inputKeys, report.missing.missingKeys], [
      users.length,
      0,
    ]);
    assert.equal(report.catalog?.items, ITEMS);
    assert.match(await readFile(join(dir, 'out', 'report.html'), 'utf8'), /<svg /);
    assert.deepEqual(await keysUnder(`${work}input/`), [
      'manifest.json',
      'shard-00000/input.jsonl',
      'shard-00001/input.jsonl',
      'shard-00002/input.jsonl',
      'shard-00003/input.jsonl',
    ]);

    // The same command again: every step reused, no job created, the same files.
    const before = await readFile(join(dir, 'out', 'recommendations.csv'));
    const again = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /reused: prepare, validate, collect, export, report/);
    assert.match(
      again.stdout,
      /\n {2}input {8}\S+emails\.csv: CSV, delimiter ",", header with 4 columns, id column "user_id", UTF-8\n/,
      'kept in run.json',
    );
    assert.match(again.stdout, /0 created by this call/);
    assert.equal(jobsOf(prefix).length, 4);
    assert.deepEqual(await readFile(join(dir, 'out', 'recommendations.csv')), before);

    // A finished step whose file is gone is done again; the steps before it are not.
    await rm(join(dir, 'out', 'recommendations.csv'));
    const third = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /collect: done before, reused/);
    assert.match(third.stderr, /export: started/);
    assert.deepEqual(await readFile(join(dir, 'out', 'recommendations.csv')), before);
  });

  test('--dry-run prints the plan with the job names the run then uses, and uploads nothing', async () => {
    const { file, work, prefix } = await setup(800);
    const dry = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: nothing uploaded, no job created/);
    assert.deepEqual(await keysUnder(work), []);
    assert.equal(jobsOf(prefix).length, 0);
    const planned = [...dry.stdout.matchAll(/input\.jsonl {2}job (\S+)/g)].map((m) => m[1]);
    assert.equal(planned.length, 4);
    assert.match(dry.stdout, new RegExp(`${work}input/shard-00003/input\\.jsonl`));
    assert.match(dry.stdout, /recommendations\.csv/);

    const s = await runPipeline({ pipeline: file, ...connect() });
    assert.equal(s.exitCode, 0);
    assert.deepEqual(
      jobsOf(prefix)
        .map((j) => j.jobName)
        .sort(),
      [...planned].sort(),
    );

    // Once the shards exist, the plan is made from them and the state file, not from the sources.
    await writeFile(join(file, '..', 'emails.csv'), 'user_id\nchanged\n');
    const later = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(later.code, 0, later.stderr);
    assert.match(later.stderr, /dry run: the shards made/);
    assert.match(later.stdout, /resumes: prepare, validate, jobs, collect, export/);
    assert.deepEqual(
      [...later.stdout.matchAll(/input\.jsonl {2}job (\S+)/g)].map((m) => m[1]),
      planned,
    );
    assert.equal(jobsOf(prefix).length, 4);
  });

  test('no record to run (empty, header only, every row rejected): no shard, no job, exit 1 and why; the dry run plans none', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'empty',
        '',
        /no record to run: the source held no record \(empty, or a header and nothing under it\)/,
      ],
      ['header only', 'user_id,email\r\n', /no record to run: the source held no record/],
      [
        'every row rejected',
        'user_id,email\n,a@example.com\n,b@example.com\n',
        /no record to run: every record rejected: see \S+rejects\.jsonl for each reason/,
      ],
    ];
    for (const [label, text, why] of cases) {
      const { file, work, prefix } = await setup(10);
      await writeFile(join(file, '..', 'emails.csv'), text);
      const dry = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
      assert.equal(dry.code, 1, `${label}: ${dry.stderr}`);
      assert.match(dry.stdout, why, label);
      assert.match(dry.stdout, /A run would stop here: no shard, no job/, label);
      assert.match(dry.stdout, /shards {7}0 \(0 bytes\)/, label);
      assert.doesNotMatch(dry.stdout, /input\.jsonl {2}job/, label);
      assert.doesNotMatch(
        dry.stdout,
        /recommendations\.csv|merged\.jsonl|missing\.jsonl/,
        `${label}: files a stopped run never writes`,
      );
      const r = await cli(['run', file, ...AWS_ARGS()]);
      assert.equal(r.code, 1, `${label}: ${r.stderr}`);
      assert.match(r.stdout, why, label);
      assert.match(r.stdout, /Stopped after prepare: no shard, no job/, label);
      assert.doesNotMatch(r.stdout, /missing\.jsonl/, `${label}: no advice to resubmit what does not exist`);
      assert.equal(jobsOf(prefix).length, 0, `${label}: no job was paid for`);
      assert.deepEqual(
        (await keysUnder(work)).filter((k) => k.includes('shard-')),
        [],
        `${label}: no shard uploaded`,
      );
      // A rerun stops the same way, without reading the sources again.
      const again = await cli(['run', file, ...AWS_ARGS()]);
      assert.equal(again.code, 1, label);
      assert.equal(jobsOf(prefix).length, 0, label);
    }
  });

  test('output.mapUsers: a related-items run through the emulator becomes rows per user (latest item, its list)', async () => {
    const ids = (await readFile(catalogFile, 'utf8'))
      .trim()
      .split('\n')
      .slice(1, 6)
      .map((l) => l.split(',')[0] as string);
    const { dir, file } = await setup(10, (p) => {
      p.recipe = 'related-items';
      p.input = { sources: ['items-in.csv'], column: 'ITEM_ID' };
      p.jobs.solutionVersionArn = 'arn:aws:personalize:us-east-1:123456789012:solution/similar-items/1';
      p.output.mapUsers = 'views.csv';
      p.output.mapPick = 'latest';
    });
    await writeFile(join(dir, 'items-in.csv'), `ITEM_ID\n${ids.join('\n')}\n`);
    // u1 saw ids[0] then ids[1] (latest); u2 saw ids[2]; u3's time does not parse (to the rejects).
    await writeFile(
      join(dir, 'views.csv'),
      `USER_ID;ITEM_ID;TIMESTAMP\nu1;${ids[0]};1767571200\nu1;${ids[1]};1767574800\nu2;${ids[2]};1767571200\nu3;${ids[3]};yesterday\n`,
    );
    const r = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(r.code, 0, r.stderr);
    const rows = parseCsv(await readFile(join(dir, 'out', 'recommendations.csv')), {
      columns: true,
    }) as Record<string, string>[];
    assert.deepEqual(Object.keys(rows[0] ?? {}).slice(0, 4), ['userId', 'source_item', 'rank', 'itemId']);
    assert.deepEqual([...new Set(rows.map((row) => `${row.userId}<-${row.source_item}`))].sort(), [
      `u1<-${ids[1]}`,
      `u2<-${ids[2]}`,
    ]);
    assert.deepEqual(
      rows.filter((row) => row.userId === 'u1').map((row) => row.rank),
      ['1', '2', '3', '4', '5'],
    );
    const rejects = await readFile(join(dir, 'out', 'map-users-rejects.jsonl'), 'utf8');
    assert.match(rejects, /views\.csv","line":5/);
    // Week 2 against week 1's export: the report's since would compare the jobs' lines (keyed by
    // source item) with users, so it has none; the export's since is the delta per user.
    await writeFile(join(dir, 'week-1.csv'), await readFile(join(dir, 'out', 'recommendations.csv')));
    const p = JSON.parse(await readFile(file, 'utf8'));
    p.output.since = 'week-1.csv';
    await writeFile(file, JSON.stringify(p));
    const r2 = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(r2.code, 0, r2.stderr);
    const since = JSON.parse(r2.stdout).export.since;
    assert.deepEqual([since.new, since.changed, since.unchanged, since.removed], [0, 0, 2, 0]);
    const json = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8'));
    assert.equal(json.since, null);
  });

  test('output.mapUsers: a wrong column is named by its pipeline field, before any job', async () => {
    const { dir, file, prefix } = await setup(10, (p) => {
      p.recipe = 'related-items';
      p.input = { sources: ['items-in.csv'], column: 'ITEM_ID' };
      p.jobs.solutionVersionArn = 'arn:aws:personalize:us-east-1:123456789012:solution/similar-items/1';
      p.output.mapUsers = 'views.csv';
      p.output.mapUserColumn = 'visitor';
      p.output.mapTimeColumn = 'WHEN';
    });
    await writeFile(join(dir, 'items-in.csv'), 'ITEM_ID\ni1\n');
    await writeFile(join(dir, 'views.csv'), 'USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1767571200\n');
    for (const args of [['--dry-run'], []]) {
      const r = await cli(['run', file, ...args, ...AWS_ARGS()]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /no column "visitor" for \$\.output\.mapUserColumn; the header has "USER_ID"/);
      assert.doesNotMatch(r.stderr, /--map-/);
    }
    assert.equal(jobsOf(prefix).length, 0, 'no job was paid for');
    // The time column's message names its field too, once the user column is right.
    const p = JSON.parse(await readFile(file, 'utf8')) as { output: Record<string, unknown> };
    p.output.mapUserColumn = 'USER_ID';
    await writeFile(file, JSON.stringify(p));
    const r = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no column "WHEN" for \$\.output\.mapTimeColumn/);
  });

  test('output.users reaches export: user columns in every row; a wrong userKey stops the run before any job', async () => {
    const bad = await setup(40, (p) => {
      p.output.users = 'crm.csv';
      p.output.userKey = 'custmer_id';
      p.output.userFields = ['emial'];
    });
    await writeFile(join(bad.dir, 'crm.csv'), 'customer_id;email\n');
    const dry = await cli(['run', bad.file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(dry.code, 2);
    assert.match(dry.stderr, /no column "custmer_id" for \$\.output\.userKey.*did you mean "customer_id"/);
    // Both mistakes in one report (a user's trial fixed the key, ran again, and met the field).
    assert.match(dry.stderr, /; and no column "emial" for \$\.output\.userFields.*did you mean "email"/);
    assert.equal(jobsOf(bad.prefix).length, 0, 'no job was paid for');
    // With S3 out of reach (no credentials, a wrong endpoint), the column is still named first.
    const away = await cli(['run', bad.file, '--dry-run', '--endpoint-url', 'http://127.0.0.1:9']);
    assert.equal(away.code, 2, away.stderr);
    assert.match(away.stderr, /no column "custmer_id" for \$\.output\.userKey/);
    // The export written over the users file: refused by the plan, not found at the export after the jobs.
    const over = await setup(40, (p) => {
      p.output.users = 'crm.csv';
      p.output.userKey = 'customer_id';
      p.output.dir = '.';
      p.output.file = 'crm.csv';
    });
    await writeFile(join(over.dir, 'crm.csv'), 'customer_id;email\n');
    const plan = await cli(['run', over.file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(plan.code, 2);
    assert.match(
      plan.stderr,
      /crm\.csv: is also an input \(\$\.output\.users \S+crm\.csv\): writing \$\.output\.file there/,
    );
    assert.equal(await readFile(join(over.dir, 'crm.csv'), 'utf8'), 'customer_id;email\n');

    const { dir, file } = await setup(60, (p) => {
      p.output.users = 'crm.csv';
      p.output.userKey = 'customer_id';
      p.output.userFields = ['first_name'];
      p.output.usersRequired = true;
    });
    const users = await expectedUsers(dir);
    const known = users.filter((_, i) => i % 2 === 0);
    const crmText = `customer_id;first_name\n${known.map((u, i) => `${u};Zoë ${i}`).join('\n')}\n`;
    await writeFile(join(dir, 'crm.csv'), crmText);
    const r = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(r.code, 0, r.stderr);
    const csv = parseCsv(await readFile(join(dir, 'out', 'recommendations.csv')), {
      columns: true,
    }) as Record<string, string>[];
    assert.deepEqual(Object.keys(csv[0] ?? {}), [
      'userId',
      'rank',
      'itemId',
      'score',
      'ITEM_NAME',
      'first_name',
    ]);
    const names = new Map(known.map((u, i) => [u, `Zoë ${i}`]));
    assert.deepEqual(
      new Set(csv.map((row) => row.userId)),
      new Set(known),
      '--users-required dropped the rest',
    );
    for (const row of csv) assert.equal(row.first_name, names.get(row.userId as string));
    // The summary says how the join went: the file's users, the exported users it lacks (dropped).
    const s = JSON.parse(r.stdout) as RunSummary;
    const dropped = users.length - known.length;
    assert.deepEqual(s.export?.users, { inFile: known.length, missing: dropped, dropped });
    assert.match(
      describeRun(s),
      new RegExp(
        `; users file: ${known.length} users, ${dropped} of the export's not in it \\(${dropped} dropped\\)\\n`,
      ),
    );
    // errors.jsonl is written even when empty (an earlier run's must not stay): the listing says it is.
    assert.equal(s.collect?.errorKeys, 0);
    assert.match(describeRun(s), /\n {4}errors {3}\S+errors\.jsonl \(empty: no error line\)\n/);
    assert.equal((await readFile(s.files.errors as string, 'utf8')).length, 0);
    // rejects.jsonl likewise: listed with the rows rejected, and said to be empty when none was.
    assert.equal(s.records.rejected, 3);
    assert.match(describeRun(s), /\n {4}rejects {2}\S+rejects\.jsonl\n/);
    const clean = describeRun({ ...s, records: { ...s.records, rejected: 0 } });
    assert.match(clean, /\n {4}rejects {2}\S+rejects\.jsonl \(empty: no row rejected\)\n/);
  });

  test('output.since "last": the first run keeps its lines in OUT/history/, the next exports only new keys and lists the gone', async () => {
    const { dir, file, work } = await setup(60, (p) => {
      p.output.since = 'last';
    });
    const first = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /output\.since "last": no earlier run in \S+history: this export holds every key/,
    );
    const one = JSON.parse(first.stdout) as RunSummary;
    const users = await expectedUsers(dir);
    assert.equal(one.export?.records, users.length);
    assert.equal(one.export?.since, undefined);
    assert.match(one.files.history ?? '', /out\/history\/\d{8}T\d{6}Z-merged\.out\.gz$/);

    // Next week: two users gone, one new, the rest the same; a new work prefix, the same OUT.
    const [goneA, goneB] = users as [string, string];
    const csv = (await readFile(join(dir, 'emails.csv'), 'utf8'))
      .split('\n')
      .filter((line) => !line.includes(`,${goneA},`) && !line.includes(`,${goneB},`))
      .join('\n');
    await writeFile(join(dir, 'emails.csv'), `${csv.trimEnd()}\nnew@example.com,newcomer,New,2026-12-01\n`);
    const p = JSON.parse(await readFile(file, 'utf8')) as PipelineFile;
    p.work = `${work}week-2/`;
    await writeFile(file, JSON.stringify(p));
    // History names have a resolution of a second: the second run's must sort after the first's.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(second.code, 0, second.stderr);
    const two = JSON.parse(second.stdout) as RunSummary;
    assert.deepEqual(two.export?.since && { ...two.export.since, prev: undefined }, {
      prev: undefined,
      new: 1,
      changed: 0,
      unchanged: users.length - 2,
      removed: 2,
    });
    assert.equal(two.export?.since?.prev, one.files.history);
    const recs = parseCsv(await readFile(join(dir, 'out', 'recommendations.csv')), {
      columns: true,
    }) as Record<string, string>[];
    assert.deepEqual(new Set(recs.map((r) => r.userId)), new Set(['newcomer']));
    const removed = (await readFile(join(dir, 'out', 'removed.csv'), 'utf8')).trim().split(/\r?\n/);
    assert.deepEqual(removed.slice(1).sort(), [goneA, goneB].sort());
    assert.equal((await readdir(join(dir, 'out', 'history'))).length, 2);
    // A rerun of the same week reuses its export and compares with the same week, not its own entry.
    const again = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok((JSON.parse(again.stdout) as RunSummary).resumed.includes('export'));
    assert.equal((await readdir(join(dir, 'out', 'history'))).length, 2);
  });

  test('input.where reaches prepare: counted in the plan; a bad expression or column is reported by path, nothing uploaded', async () => {
    const { file, work, prefix } = await setup(40, (p) => {
      p.input.where = 'signup_date >= 2025-07-01';
    });
    const csv =
      'email,user_id,first_name,signup_date\na@x,u1,A,2025-01-01\nb@x,u2,B,2025-08-01\nc@x,u3,C,2026-01-01\n';
    await writeFile(join(file, '..', 'emails.csv'), csv);
    const dry = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /records {6}3 read, 2 to run, 0 duplicates, 0 rejected, 1 left out by input\.where/,
    );

    const none = await setup(10, (p) => {
      p.input.where = "first_name = 'nobody'";
    });
    const stop = await cli(['run', none.file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(stop.code, 1, stop.stderr);
    assert.match(stop.stdout, /no record to run: .*\b9 records left out by \$\.input\.where/);

    const bad = await setup(10, (p) => {
      p.input.where = 'signup_date >= and';
    });
    const r = await cli(['run', bad.file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /\$\.input\.where: expected a value after '>=', got 'and' .* at character 16:\n {2}signup_date >= and\n {17}\^/,
    );
    const unknown = await setup(10, (p) => {
      p.input.where = 'signup >= 2025-01-01';
    });
    const r2 = await cli(['run', unknown.file, ...AWS_ARGS()]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(
      r2.stderr,
      /\$\.input\.sources\[0\]: \S*emails\.csv: \$\.input\.where: no column "signup" \(the header has "email", "user_id", "first_name", "signup_date"; did you mean "signup_date"\?\)/,
    );
    assert.deepEqual(await keysUnder(unknown.work), []);
    assert.equal(jobsOf(prefix).length + jobsOf(unknown.prefix).length, 0);
    assert.deepEqual(await keysUnder(work), []);
  });

  test("output.rename: the report step reads since's export back through it, as the export step does", async () => {
    const { dir, file } = await setup(40, (p) => {
      p.output.rename = { userId: 'external_id' };
    });
    const r1 = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(r1.code, 0, r1.stderr);
    await writeFile(join(dir, 'week-1.csv'), await readFile(join(dir, 'out', 'recommendations.csv')));
    const p = JSON.parse(await readFile(file, 'utf8'));
    p.output.since = 'week-1.csv';
    await writeFile(file, JSON.stringify(p));
    const r2 = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(r2.code, 0, r2.stderr);
    const users = await expectedUsers(dir);
    assert.equal(JSON.parse(r2.stdout).export.since.unchanged, users.length);
    const json = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8')) as ReportJson;
    assert.deepEqual(
      json.since && [json.since.newKeys, json.since.goneKeys, json.since.changedKeys],
      [0, 0, 0],
    );
  });

  test("the report step reads the catalog with the export's settings: a windows-1252 catalog with ; gives titles in both", async () => {
    const { dir, file } = await setup(40, (p) => {
      p.output.catalog = 'kat.csv';
      p.output.catalogEncoding = 'windows-1252';
      p.output.catalogDelimiter = ';';
      p.output.catalogColumns = ['Titel'];
    });
    const ids = generateCatalog(ITEMS).ids;
    await writeFile(
      join(dir, 'kat.csv'),
      Buffer.from(`ITEM_ID;Titel\r\n${ids.map((id) => `${id};Käse ${id}`).join('\r\n')}\r\n`, 'latin1'),
    );
    const r = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(r.code, 0, r.stderr);
    const csv = parseCsv(await readFile(join(dir, 'out', 'recommendations.csv')), { columns: true });
    assert.equal(
      (csv as Record<string, string>[])[0]?.Titel,
      `Käse ${(csv as Record<string, string>[])[0]?.itemId}`,
    );
    const report = JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8')) as ReportJson;
    assert.equal(report.catalog?.items, ITEMS);
    for (const t of report.concentration.top) assert.equal(t.title, `Käse ${t.id}`);
  });

  test('a catalog column that is not in the catalog stops the run before any job, naming the key; so does the dry run', async () => {
    const { file, prefix } = await setup(40, (p) => {
      p.output.catalogColumns = ['Title'];
    });
    const dry = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(dry.code, 2);
    assert.match(dry.stderr, /no column "Title" for \$\.output\.catalogColumns; the header has "ITEM_ID", /);
    const r = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no column "Title" for \$\.output\.catalogColumns/);
    assert.equal(jobsOf(prefix).length, 0, 'no job was paid for');
  });

  test('pipeline mistakes are reported by JSON path, all at once, before anything is uploaded', async () => {
    const { file, work, prefix } = await setup(50, (p) => {
      (p as unknown as Record<string, unknown>).recipie = 'x';
      p.jobs.numResults = 'ten' as unknown as number;
      p.shards = { maxBytes: 'huge' };
      p.output.format = 'xlsx' as 'jsonl';
      p.input.sources = [];
    });
    const r = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(r.code, 2);
    for (const path of [
      /\$\.recipie: unknown field/,
      /\$\.jobs\.numResults: must be integer/,
      /\$\.shards\.maxBytes: must be a number of bytes or a size/,
      /\$\.output\.format: must be one of "csv-long", "csv-wide", "jsonl"/,
      /\$\.input\.sources: must NOT have fewer than 1 items/,
    ])
      assert.match(r.stderr, path);
    assert.match(r.stderr, /pipeline\.json: 5 problems/);
    assert.deepEqual(await keysUnder(work), []);
    assert.equal(jobsOf(prefix).length, 0);

    // Rules beyond the schema, also by path.
    const bad = await setup(50, (p) => {
      p.recipe = 'item-affinity';
      p.shards = { maxRecordsPerFile: 600 };
      p.jobs.explorationWeight = 0.5;
      p.jobs.roleArn = 'arn:aws:iam::1:role/x';
    });
    const r2 = await cli(['run', bad.file, ...AWS_ARGS()]);
    assert.equal(r2.code, 2);
    assert.match(
      r2.stderr,
      /\$\.shards\.maxRecordsPerFile: item-affinity takes at most 500 records per input file/,
    );
    assert.match(r2.stderr, /\$\.jobs\.explorationWeight: batch segment jobs take no such field/);
    assert.match(r2.stderr, /\$\.jobs\.roleArn: expected arn:aws:iam::ACCOUNT:role\/NAME/);
    assert.deepEqual(await keysUnder(bad.work), []);
  });

  test('the pipeline file is checked whole, then every source and the catalog, in one report each, before prepare starts', async () => {
    // A recipe typo used to hide every rule problem behind it, and the schema's problems hid the rules'.
    const one = await setup(20, (p) => {
      p.recipe = 'user-personalisation';
      p.jobs.explorationWeight = 1.5;
      p.shards = { maxRecords: '60M' };
      (p.jobs as unknown as Record<string, unknown>).numResult = 5;
    });
    const r = await cli(['run', one.file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /pipeline\.json: 4 problems/);
    for (const path of [
      /\$\.jobs\.numResult: unknown field/,
      /\$\.recipe: unknown recipe "user-personalisation"; did you mean user-personalization\?/,
      /\$\.jobs\.explorationWeight: expected a number from 0 to 1/,
      /\$\.shards\.maxRecords: a batch job takes at most 50M/,
    ])
      assert.match(r.stderr, path);

    // Sources: a missing file, an .out file, a wrong column; and the catalog's column, all at once.
    const two = await setup(20, (p) => {
      p.input.sources = ['emails.csv', 'gone.csv', 'results.jsonl', 'other.csv'];
      p.input.column = 'Kundennummer';
      p.output.catalogColumns = ['Title'];
    });
    const dir = join(two.file, '..');
    await writeFile(
      join(dir, 'results.jsonl'),
      '{"input":{"userId":"1"},"output":{"recommendedItems":["a"]},"error":null}\n',
    );
    await writeFile(join(dir, 'other.csv'), 'Kunde;Name\r\n1;A\r\n');
    for (const argv of [['--dry-run'], []]) {
      const r2 = await cli(['run', two.file, ...argv, ...AWS_ARGS()]);
      assert.equal(r2.code, 2, r2.stderr);
      assert.match(r2.stderr, /5 problems/);
      assert.match(r2.stderr, /\$\.input\.sources\[1\]: \S*gone\.csv: cannot read: no such file/);
      assert.match(
        r2.stderr,
        /\$\.input\.sources\[2\]: \S*results\.jsonl: by its content this is batch-job output/,
      );
      assert.match(r2.stderr, /emails\.csv: no column "Kundennummer" for \$\.input\.column/);
      assert.match(
        r2.stderr,
        /other\.csv: no column "Kundennummer" for \$\.input\.column; the header has "Kunde", "Name"/,
      );
      assert.match(r2.stderr, /no column "Title" for \$\.output\.catalogColumns/);
      assert.doesNotMatch(r2.stderr, /--column|prepare: started/);
    }
    assert.deepEqual(await keysUnder(two.work), []);
    assert.equal(jobsOf(two.prefix).length, 0);
  });

  test('warnings from every step reach the console in run: a catalog that matches nothing, also when resumed', async () => {
    const { file, prefix } = await setup(60, (p) => {
      p.output.catalog = 'other-items.csv';
    });
    await writeFile(join(file, '..', 'other-items.csv'), 'ITEM_ID,ITEM_NAME\nnot-an-item,Nothing\n');
    const r = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /personalize-batch: warning: none of the \d+ recommendations names an item in the catalog \(\S+other-items\.csv\): is it the catalog of this dataset/,
    );
    assert.match(r.stdout, /warnings {5}\d+ \(above, and in the summary's warnings\)/);
    const s = JSON.parse(await readFile(join(file, '..', 'out', 'summary.json'), 'utf8')) as RunSummary;
    assert.ok(s.warnings.some((w) => /names an item in the catalog/.test(w)));
    assert.ok(jobsOf(prefix).length > 0);
    // Resumed: the same warnings again, from run.json.
    const again = await cli(['run', file, ...AWS_ARGS()]);
    assert.match(again.stderr, /warning: none of the \d+ recommendations names an item in the catalog/);
  });

  test('every problem in the job fields is reported at once, by path', () => {
    const p = {
      version: 1,
      recipe: 'user-personalization',
      input: { sources: ['a.csv'] },
      work: 's3://bucket/x/',
      jobs: {
        solutionVersionArn: SV,
        roleArn: 'arn:aws:iam::1:role/x',
        explorationWeight: 3,
        rankingInfluence: { SPEED: 0.5 },
        tags: { '': 'x' },
      },
      output: { dir: 'o' },
    };
    const err = throwsWith(() => resolvePipeline(p, 'p.json'), 'PB_USAGE', /p\.json: 4 problems/);
    for (const path of ['roleArn', 'explorationWeight', 'rankingInfluence', 'tags'])
      assert.match(err.message, new RegExp(`\\$\\.jobs\\.${path}: `));
    // A two-letter bucket (the emulator used to make one) is named as the reason, not only the shape.
    throwsWith(
      () =>
        resolvePipeline(
          {
            ...p,
            work: 's3://pb/x/',
            jobs: { solutionVersionArn: SV, roleArn: 'arn:aws:iam::111122223333:role/x' },
          },
          'p.json',
        ),
      'PB_USAGE',
      /\$\.work: must be an S3 prefix such as s3:\/\/bucket\/prefix\/, its bucket name 3 to 63 lowercase/,
    );
  });

  test('output.bom, rename, maxFileSize and maxCellBytes reach export: BOM, renamed header, parts; rerun reuses the parts', async () => {
    const { dir, file } = await setup(400, (p) => {
      p.output = {
        ...p.output,
        bom: true,
        rename: { userId: 'external_id', ITEM_NAME: 'Title' },
        // One part: run's pieces are 1 MiB of lines (the split itself is tested in export's tests).
        maxFileSize: '1MB',
        maxCellBytes: 5,
      };
    });
    const s = await runPipeline({ pipeline: file, ...connect() });
    assert.equal(s.exitCode, 0);
    const parts = s.files.exportParts as string[];
    assert.deepEqual(parts, [join(dir, 'out', 'recommendations-00001.csv')]);
    for (const part of parts) {
      const bytes = await readFile(part);
      assert.ok(bytes.length <= 1_000_000);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
      const rows = parseCsv(bytes.subarray(3)) as string[][];
      assert.deepEqual(rows[0], ['external_id', 'rank', 'itemId', 'score', 'Title']);
      for (const r of rows.slice(1)) assert.ok(Buffer.byteLength(r[4] as string) <= 5, r[4]);
    }
    // The summary lists the parts written, not the name they are numbered from (no such file).
    const described = describeRun(s);
    assert.match(described, /\n {4}export {3}\S*recommendations-00001\.csv\n/);
    assert.doesNotMatch(described, /recommendations\.csv/);
    const again = await runPipeline({ pipeline: file, ...connect() });
    assert.ok(again.resumed.includes('export'));
    assert.deepEqual(again.files.exportParts, parts);
  });

  test('output.bom, rename and maxCellBytes are refused with jsonl; maxFileSize needs a local dir', () => {
    const base = {
      version: 1,
      recipe: 'user-personalization',
      input: { sources: ['a.csv'] },
      work: 's3://bucket/x/',
      jobs: { solutionVersionArn: SV, roleArn: 'arn:aws:iam::111122223333:role/x' },
    };
    const err = throwsWith(
      () =>
        resolvePipeline(
          { ...base, output: { dir: 'o', format: 'jsonl', bom: true, rename: { a: 'b' }, maxCellBytes: 9 } },
          'p.json',
        ),
      'PB_USAGE',
      /3 problems/,
    );
    for (const f of ['bom', 'rename', 'maxCellBytes'])
      assert.match(err.message, new RegExp(`\\$\\.output\\.${f}: CSV only`));
    throwsWith(
      () => resolvePipeline({ ...base, output: { dir: 's3://b/o/', maxFileSize: '500MB' } }, 'p.json'),
      'PB_USAGE',
      /\$\.output\.maxFileSize: parts are written to a local folder only/,
    );
    const p = resolvePipeline(
      { ...base, output: { dir: 'o', maxFileSize: '500MB', maxCellBytes: 255 } },
      'p.json',
    );
    assert.equal(p.output.maxFileSize, 500_000_000);
    assert.equal(p.output.maxCellBytes, 255);
  });

  test('output.removed and sinceScores need output.since; since "last" needs the history kept', () => {
    const base = {
      version: 1,
      recipe: 'user-personalization',
      input: { sources: ['a.csv'] },
      work: 's3://bucket/x/',
      jobs: { solutionVersionArn: SV, roleArn: 'arn:aws:iam::111122223333:role/x' },
    };
    const err = throwsWith(
      () =>
        resolvePipeline({ ...base, output: { dir: 'o', removed: 'gone.csv', sinceScores: true } }, 'p.json'),
      'PB_USAGE',
      /p\.json: 2 problems/,
    );
    assert.match(err.message, /\$\.output\.removed: needs \$\.output\.since/);
    assert.match(err.message, /\$\.output\.sinceScores: needs \$\.output\.since/);
    throwsWith(
      () => resolvePipeline({ ...base, output: { dir: 'o', since: 'last', history: false } }, 'p.json'),
      'PB_USAGE',
      /\$\.output\.since: "last" is the newest run in OUT\/history\/, which output\.history false stops keeping/,
    );
    // "last" is the job's output, keyed by source item; mapUsers' rows per user compare with an export.
    throwsWith(
      () =>
        resolvePipeline(
          { ...base, recipe: 'related-items', output: { dir: 'o', since: 'last', mapUsers: 'views.csv' } },
          'p.json',
        ),
      'PB_USAGE',
      /\$\.output\.since: "last" is the previous run's job output, keyed by source item, and \$\.output\.mapUsers writes rows per user: give the previous run's export/,
    );
    const mapped = resolvePipeline(
      { ...base, recipe: 'related-items', output: { dir: '/o', since: 'week-1.csv', mapUsers: 'views.csv' } },
      '/p/p.json',
    );
    assert.equal(mapped.output.since, '/p/week-1.csv');
    const p = resolvePipeline({ ...base, output: { dir: '/o', since: 'last' } }, 'p.json');
    assert.deepEqual(
      [p.output.since, p.output.removed, p.output.history],
      ['last', '/o/removed.csv', '/o/history'],
    );
    // The report: OUT/report.html unless output.report is false; anything else is refused by the schema.
    assert.deepEqual(p.output.report, { html: '/o/report.html' });
    const set = resolvePipeline(
      { ...base, output: { dir: '/o', report: { locale: 'de-DE', k: 5 } } },
      'p.json',
    );
    assert.deepEqual(set.output.report, { html: '/o/report.html', locale: 'de-DE', k: 5 });
    const off = resolvePipeline({ ...base, output: { dir: '/o', report: false } }, 'p.json');
    assert.equal(off.output.report, undefined);
    throwsWith(
      () => resolvePipeline({ ...base, output: { dir: '/o', report: 'yes' } } as never, 'p.json'),
      'PB_USAGE',
      /\$\.output\.report/,
    );
    const bad = throwsWith(
      () =>
        resolvePipeline(
          { ...base, output: { dir: '/o', report: { locale: 'xx-!!', catalogTitleColumn: 'TITLE' } } },
          'p.json',
        ),
      'PB_USAGE',
      /2 problems/,
    );
    assert.match(bad.message, /\$\.output\.report\.locale: "xx-!!" is not a BCP 47 language tag/);
    assert.match(bad.message, /\$\.output\.report\.catalogTitleColumn: needs \$\.output\.catalog/);
  });

  test('output.merged - is refused: stdout holds the summary, and a library run has no stdout', () => {
    const p = {
      version: 1,
      recipe: 'user-personalization',
      input: { sources: ['a.csv'] },
      work: 's3://bucket/x/',
      jobs: { solutionVersionArn: SV, roleArn: 'arn:aws:iam::111122223333:role/x' },
      output: { dir: 'o', merged: '-' },
    };
    throwsWith(
      () => resolvePipeline(p, 'p.json'),
      'PB_USAGE',
      /\$\.output\.merged: - \(stdout\) holds the run's summary, not its files: name a file/,
    );
  });

  test('output.users and its fields resolve; refused for outputs not keyed by user id, or without users', () => {
    const base = {
      version: 1,
      recipe: 'user-personalization',
      input: { sources: ['a.csv'], memoryBudget: '8MiB' },
      work: 's3://bucket/x/',
      jobs: { solutionVersionArn: SV, roleArn: 'arn:aws:iam::111122223333:role/x' },
    };
    const ok = resolvePipeline(
      {
        ...base,
        output: {
          dir: 'o',
          users: 'crm.csv',
          userKey: 'customer_id',
          userFields: ['email'],
          usersDelimiter: 'semicolon',
          usersEncoding: 'windows-1252',
          usersRequired: true,
        },
      },
      '/d/p.json',
    );
    assert.equal(ok.output.users, join('/d', 'crm.csv'));
    assert.deepEqual(
      [ok.output.userKey, ok.output.userFields, ok.output.usersDelimiter, ok.output.usersRequired],
      ['customer_id', ['email'], ';', true],
    );
    assert.equal(ok.input.memoryBudget, 8 * 1024 * 1024);
    const err = throwsWith(
      () =>
        resolvePipeline(
          {
            ...base,
            recipe: 'related-items',
            output: { dir: 'o', users: 'crm.csv', usersEncoding: 'klingon' },
          },
          'p.json',
        ),
      'PB_USAGE',
    );
    assert.match(err.message, /\$\.output\.users: related-items output is keyed by itemId, not by user id/);
    assert.match(err.message, /\$\.output\.usersEncoding: /);
    throwsWith(
      () => resolvePipeline({ ...base, output: { dir: 'o', userKey: 'x' } }, 'p.json'),
      'PB_USAGE',
      /\$\.output\.userKey: needs \$\.output\.users/,
    );
  });

  test('output.mapUsers and its fields resolve for related items; refused for other keys, or alone', () => {
    const base = {
      version: 1,
      recipe: 'related-items',
      input: { sources: ['a.csv'] },
      work: 's3://bucket/x/',
      jobs: { solutionVersionArn: SV, roleArn: 'arn:aws:iam::111122223333:role/x' },
    };
    const ok = resolvePipeline(
      {
        ...base,
        output: {
          dir: 'o',
          mapUsers: 'views.csv',
          mapUserColumn: 'USER_ID',
          mapItemColumn: 'ITEM_ID',
          mapPick: 'all',
          mapTimeColumn: 'TIMESTAMP',
          excludeSeen: true,
          users: 'crm.csv',
        },
      },
      '/d/p.json',
    );
    assert.equal(ok.output.mapUsers, join('/d', 'views.csv'));
    assert.deepEqual(
      [
        ok.output.mapUserColumn,
        ok.output.mapItemColumn,
        ok.output.mapPick,
        ok.output.mapTimeColumn,
        ok.output.excludeSeen,
      ],
      ['USER_ID', 'ITEM_ID', 'all', 'TIMESTAMP', true],
    );
    assert.equal(ok.output.mapRejects, join('/d', 'o', 'map-users-rejects.jsonl'));
    const err = throwsWith(
      () =>
        resolvePipeline(
          {
            ...base,
            recipe: 'user-personalization',
            output: { dir: 'o', mapUsers: 'v.csv', format: 'jsonl' },
          },
          'p.json',
        ),
      'PB_USAGE',
    );
    assert.match(err.message, /\$\.output\.mapUsers: maps related items .*keyed by userId/);
    // Any format: only the key was wrong.
    assert.doesNotMatch(err.message, /format/);
    const wide = resolvePipeline(
      { ...base, output: { dir: 'o', mapUsers: 'v.csv', format: 'csv-wide' } },
      '/d/p.json',
    );
    assert.equal(wide.output.format, 'csv-wide');
    throwsWith(
      () => resolvePipeline({ ...base, output: { dir: 'o', excludeSeen: true } }, 'p.json'),
      'PB_USAGE',
      /\$\.output\.excludeSeen: needs \$\.output\.mapUsers/,
    );
  });

  test('pipeline.example.json is valid against the schema and resolves', async () => {
    const p = await loadPipeline(join(root, 'pipeline.example.json'));
    assert.equal(p.family.family, 'user-personalization');
    assert.equal(p.jobs.pollIntervalMs, 60_000);
    assert.equal(p.shards.maxRecords, 5_000_000);
    assert.equal(p.output.file, join(root, 'results', 'newsletter-2026-12', 'recommendations.csv'));
    assert.deepEqual(p.jobs.filterArn?.split(':')[5], 'filter/country-and-genres');
    // Every top-level section of the schema is in the example.
    const schema = JSON.parse(await readFile(join(root, 'schemas', 'pipeline.schema.json'), 'utf8')) as {
      properties: Record<string, unknown>;
    };
    const example = JSON.parse(await readFile(join(root, 'pipeline.example.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(example).sort(), Object.keys(schema.properties).sort());
  });

  test('a job that fails for good: the rest is exported, its records are in missing.jsonl, exit 1 with what to do', async () => {
    const { dir, file, prefix } = await setup(400);
    emu.injectFault({
      failJobs: new RegExp(`^${prefix}-\\w+-00002$`),
      failReason: 'Emulated: input not readable',
    });
    try {
      const r = await cli(['run', file, ...AWS_ARGS()]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /next: shard 2 \(job t\d+-\w+-00002\) failed: Emulated: input not readable/);
      const missing = (await readFile(join(dir, 'out', 'missing.jsonl'), 'utf8')).trim().split('\n');
      const manifest = (await readJsonDoc(`s3://${BUCKET}/run-${prefix.slice(1)}/input/manifest.json`)) as {
        shards: { records: number }[];
      };
      assert.equal(missing.length, manifest.shards[2]?.records);
      const csv = (await readFile(join(dir, 'out', 'recommendations.csv'), 'utf8')).trim().split('\r\n');
      const users = await expectedUsers(dir);
      assert.equal(csv.length - 1, (users.length - missing.length) * 5);
    } finally {
      emu.injectFault({ failJobs: undefined });
    }
    assert.equal(jobsOf(prefix).length, 4);
  });

  test('a segment family runs one batch segment job over a shard of several files and exports segments.csv', async () => {
    // 10 items at 4 queries a file (item-affinity allows 500): one shard of 4 + 4 + 2, one job.
    const items = Array.from({ length: 10 }, (_, i) => `item-0000${i}`);
    const { dir, file, prefix, work } = await setup(10, (p) => {
      p.recipe = 'aws-item-affinity';
      p.input = { sources: ['items.csv'] };
      p.shards = { maxRecordsPerFile: 4 };
      p.jobs.numResults = 3;
      p.output = { dir: 'out', format: 'csv-long' };
    });
    await writeFile(join(dir, 'items.csv'), `ITEM_ID\n${items.join('\n')}\n`);
    // The plan shows one shard folder: its first file, how many more, and the job's name.
    const dry = await cli(['run', file, '--dry-run', ...AWS_ARGS()]);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = [...dry.stdout.matchAll(/(\S+) \(\+(\d+) more files\) {2}job (\S+)/g)];
    assert.deepEqual(
      plan.map((m) => [m[1], m[2]]),
      [[`${work}input/shard-00000/input-00000.jsonl`, '2']],
    );
    const s = await runPipeline({ pipeline: file, ...connect() });
    assert.equal(s.exitCode, 0, s.advice.join('\n'));
    assert.equal(s.shards.count, 1);
    assert.deepEqual(
      jobsOf(prefix).map((j) => j.jobName),
      [plan[0]?.[3]],
    );
    const shard0 = `${work}input/shard-00000/`;
    assert.deepEqual(
      s.shards.uris,
      [0, 1, 2].map((k) => `${shard0}input-0000${k}.jsonl`),
    );
    const jobs = jobsOf(prefix);
    assert.deepEqual(
      jobs.map((j) => j.kind),
      ['batch-segment-job'],
    );
    // The job read every file: one .out per input file.
    const outs = (await keysUnder(work)).filter((k) => k.endsWith('.out'));
    assert.deepEqual(outs.map((k) => k.slice(k.lastIndexOf('/') + 1)).sort(), [
      'input-00000.jsonl.out',
      'input-00001.jsonl.out',
      'input-00002.jsonl.out',
    ]);
    const csv = parseCsv(await readFile(join(dir, 'out', 'segments.csv')), { columns: true }) as Record<
      string,
      string
    >[];
    assert.deepEqual(Object.keys(csv[0] ?? {}).slice(0, 3), ['itemId', 'rank', 'userId']);
    assert.deepEqual([...new Set(csv.map((r) => r.itemId))].sort(), items);
    assert.ok(csv.every((r) => /^user-\d{6}$/.test(r.userId as string)));
  });

  test("a segment job over several files that fails for good: every file's records are in missing.jsonl", async () => {
    const items = Array.from({ length: 7 }, (_, i) => `item-${i}`);
    const { dir, file, prefix } = await setup(7, (p) => {
      p.recipe = 'aws-item-affinity';
      p.input = { sources: ['items.csv'] };
      p.shards = { maxRecordsPerFile: 3 };
      p.jobs.numResults = 3;
      p.output = { dir: 'out', format: 'csv-long' };
    });
    await writeFile(join(dir, 'items.csv'), `ITEM_ID\n${items.join('\n')}\n`);
    emu.injectFault({ failJobs: new RegExp(`^${prefix}-\\w+-00000$`), failReason: 'Emulated: no' });
    try {
      const s = await runPipeline({ pipeline: file, ...connect() });
      assert.equal(s.exitCode, 1);
      assert.equal(s.shards.uris.length, 3);
      const missing = (await readFile(join(dir, 'out', 'missing.jsonl'), 'utf8')).trim().split('\n');
      assert.deepEqual(
        missing.map((l) => (JSON.parse(l) as { itemId: string }).itemId),
        items,
      );
    } finally {
      emu.injectFault({ failJobs: undefined });
    }
  });

  test('a Create call refused (bad tag): nothing created; fixed $.jobs and changed $.input are then taken, shards remade', async () => {
    const { file, prefix } = await setup(400, (p) => {
      p.jobs.tags = { 'team!': 'crm' };
    });
    const r = await cli(['run', file, ...AWS_ARGS()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tags/);
    assert.equal(jobsOf(prefix).length, 0);
    const p = JSON.parse(await readFile(file, 'utf8')) as PipelineFile;
    p.jobs.tags = { team: 'crm' };
    p.input.dedupe = false;
    await writeFile(file, JSON.stringify(p));
    const again = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /prepare: started/);
    const s = JSON.parse(again.stdout) as RunSummary;
    assert.equal(s.records.duplicates, 0);
    assert.equal(s.jobs.created, s.shards.count);
    assert.equal(jobsOf(prefix).length, s.shards.count);
  });

  test('new source data before any job exists is sharded again; after, only warned about', async () => {
    const { dir, file, prefix } = await setup(200, (p) => {
      p.jobs.tags = { 'bad!': 'x' };
    });
    assert.equal((await cli(['run', file, ...AWS_ARGS()])).code, 1);
    await writeFile(join(dir, 'emails.csv'), 'user_id\nnew-1\nnew-2\nnew-3\n');
    const p = JSON.parse(await readFile(file, 'utf8')) as PipelineFile;
    p.jobs.tags = { team: 'x' };
    await writeFile(file, JSON.stringify(p));
    const r = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as RunSummary;
    assert.deepEqual([s.records.read, s.shards.count, jobsOf(prefix).length], [3, 1, 1]);
    // Jobs exist now: other data is not picked up, only warned about.
    await writeFile(join(dir, 'emails.csv'), 'user_id\nother\n');
    const again = await cli(['run', file, '--json', ...AWS_ARGS()]);
    assert.equal(again.code, 0, again.stderr);
    const s2 = JSON.parse(again.stdout) as RunSummary;
    assert.equal(s2.records.read, 3);
    assert.ok(s2.warnings.some((w) => w.startsWith('the sources changed since the shards were made')));
  });

  test('every job fails: missing.jsonl holds every record as uploaded, exit 1 with how to resubmit', async () => {
    const { dir, file, prefix, work } = await setup(300);
    emu.injectFault({ failJobs: new RegExp(`^${prefix}-`), failReason: 'Emulated: role cannot read' });
    try {
      const r = await cli(['run', file, '--json', ...AWS_ARGS()]);
      assert.equal(r.code, 1, r.stderr);
      const s = JSON.parse(r.stdout) as RunSummary;
      assert.equal(s.jobs.failed, 4);
      assert.equal(s.export, null);
      const missing = await readFile(join(dir, 'out', 'missing.jsonl'), 'utf8');
      let uploaded = '';
      for (const uri of s.shards.uris) uploaded += (await readText(uri)) as string;
      assert.equal(missing, uploaded);
      assert.equal(missing.trim().split('\n').length, s.records.written);
      assert.ok(
        s.advice.some((a) =>
          a.includes(`personalize-batch shard ${join(dir, 'out', 'missing.jsonl')} -o ${work}retry/`),
        ),
      );
    } finally {
      emu.injectFault({ failJobs: undefined });
    }
  });

  test('an S3 output folder: export, rejects, missing, summary, report and the history are written there', async () => {
    const { file, prefix } = await setup(400, (p) => {
      p.output.dir = `s3://${BUCKET}/results-${p.jobs.jobNamePrefix}/`;
    });
    const s = await runPipeline({ pipeline: file, ...connect() });
    assert.equal(s.exitCode, 0, s.advice.join('\n'));
    const dir = `s3://${BUCKET}/results-${prefix}/`;
    const keys = await keysUnder(dir);
    assert.deepEqual(
      keys.map((k) => k.replace(/^history\/\d{8}T\d{6}Z-/, 'history/TIME-')),
      [
        'errors.jsonl',
        'history/TIME-merged.out.gz',
        'missing.jsonl',
        'recommendations.csv',
        'rejects.jsonl',
        'report.html',
        'report.json',
        'summary.json',
      ],
    );
    assert.equal(s.files.history, `${dir}${keys[1]}`);
    assert.equal(s.files.report, `${dir}report.html`);
    assert.equal(
      (JSON.parse(await readText(`${dir}report.json`)) as ReportJson).counts.keys,
      s.records.written,
    );
    const csv = (await readText(`${dir}recommendations.csv`)).trim().split('\r\n');
    assert.equal(csv.length - 1, s.records.written * 5);
    assert.equal((await readText(`${dir}rejects.jsonl`)).trim().split('\n').length, 3);
  });

  test('input settings changed after the shards were made: a usage error, nothing redone', async () => {
    const { file } = await setup(200);
    await runPipeline({ pipeline: file, ...connect() });
    const p = JSON.parse(await readFile(file, 'utf8')) as PipelineFile;
    p.input.dedupe = false;
    await rejectsWith(
      runPipeline({ pipeline: resolvePipeline(p, file), ...connect() }),
      'PB_USAGE',
      /\$\.recipe, \$\.input or \$\.shards changed since the shards were made and jobs created for them .*new \$\.work prefix/,
    );
  });
});
