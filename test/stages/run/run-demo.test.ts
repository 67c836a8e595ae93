import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { run } from '../../../src/cli/index.js';
import type { ReportJson } from '../../../src/stages/report/index.js';
import type { RunSummary } from '../../../src/stages/run/index.js';
import { loadPipeline } from '../../../src/stages/run/pipeline.js';
import { cli } from '../../helpers.js';
import { AWS_ARGS, BUCKET, duringExport, keysUnder, killAndResume, setup, tmp } from './run-fixture.js';

// `run` interrupted with Ctrl-C and resumed, the demo, and progress on stderr, against the emulator
// (run-fixture.ts): beside run-resume.test.ts, so the two halves run side by side.

describe('run: interrupted', () => {
  test('Ctrl-C (SIGINT) during the export: exit 130, no temporary file left, a hint to resume', async () => {
    let checked = false;
    await killAndResume(400, duringExport, 'SIGINT', async (killed, dir) => {
      assert.equal(killed.code, 130, killed.stderr);
      assert.match(killed.stderr, /interrupted \(SIGINT\); run the same command again to resume/);
      assert.deepEqual(
        (await readdir(join(dir, 'out'))).filter((n) => n.includes('.tmp-')),
        [],
      );
      checked = true;
    });
    assert.ok(checked);
  });
});

describe('demo', () => {
  test('the README’s first command: two weeks of an e-mail list through the emulator: opt-in filter, titles and CRM columns, then only what changed', async () => {
    const dir = tmp.fresh('demo');
    // 32,000 rows, not the README's 100,000: the same paths (two shards, both weeks) in a third of the time.
    const r = await cli(['demo', '--out', dir, '--users', '32000', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const [one, two] = (JSON.parse(r.stdout) as { weeks: [RunSummary, RunSummary] }).weeks;
    // The oracle: week 1's list read plainly, the users who opted in, first seen first.
    const rows = parseCsv(await readFile(join(dir, 'emails-week-1.csv')), {
      relax_column_count: true,
    }) as string[][];
    const optedIn = new Set<string>();
    const all = new Set<string>();
    for (const row of rows.slice(1)) {
      const id = row[1] ?? '';
      if (row.length !== 5 || id.length === 0 || id.length > 256) continue;
      all.add(id);
      if (row[4] === 'true') optedIn.add(id);
    }
    assert.equal(one.records.read, 32_000);
    assert.equal(one.records.written, optedIn.size);
    assert.ok(one.records.filteredOut > 3000, `${one.records.filteredOut} left out by input.where`);
    assert.equal(one.shards.count, Math.ceil(optedIn.size / 25_000));
    assert.equal(one.shards.count, 2, 'two shards: the paths of several');
    assert.equal(one.jobs.active, one.shards.count);
    assert.deepEqual(one.collect && [one.collect.missing, one.collect.written], [0, optedIn.size]);
    const csv = await readFile(join(dir, 'recommendations.csv'), 'utf8');
    const lines = csv.split('\r\n');
    assert.equal(lines[0], 'userId,rank,itemId,score,ITEM_NAME,GENRE,email,first_name');
    assert.equal(lines.length - 2, optedIn.size * 10);
    assert.match(
      lines[1] as string,
      /^([^,]+),1,item-\d{5},[\d.e-]+,[A-Z][a-z]+ [A-Z][a-z]+ [A-Za-z ]+,[a-z]+,[a-zé]+\.\1@example\.com,[A-Z][a-zé]+$/,
    );
    assert.equal(await readFile(join(dir, 'missing.jsonl'), 'utf8'), '');
    // Week 2: who opted in now, against week 1.
    const now = new Set<string>();
    for (const row of parseCsv(await readFile(join(dir, 'emails.csv')), {
      relax_column_count: true,
    }) as string[][])
      if (row.length === 5 && all.has(row[1] as string) && row[4] === 'true') now.add(row[1] as string);
    const added = [...now].filter((u) => !optedIn.has(u));
    const gone = [...optedIn].filter((u) => !now.has(u));
    assert.ok(added.length > 300 && gone.length > 300, `${added.length} new, ${gone.length} gone`);
    assert.deepEqual(two.export?.since && { ...two.export.since, prev: '' }, {
      prev: '',
      new: added.length,
      changed: 0,
      unchanged: now.size - added.length,
      removed: gone.length,
    });
    const changes = parseCsv(await readFile(join(dir, 'changes-week-2.csv')), { columns: true }) as Record<
      string,
      string
    >[];
    assert.deepEqual(new Set(changes.map((c) => c.userId)), new Set(added));
    // The users gone, with their e-mail address and first name from the CRM file (output.users).
    const removed = parseCsv(await readFile(join(dir, 'removed-week-2.csv'))) as string[][];
    assert.deepEqual(removed[0], ['userId', 'email', 'first_name']);
    assert.deepEqual(
      removed
        .slice(1)
        .map((r) => r[0])
        .sort(),
      gone.sort(),
    );
    for (const [user, email, name] of removed.slice(1)) {
      assert.match(email as string, new RegExp(`^[a-zé]+\\.${user}@example\\.com$`));
      assert.match(name as string, /^[A-Z][a-zé]+$/);
    }
    assert.equal((await readdir(join(dir, 'history'))).length, 2);
    // Week 2's report: everyone who opted in now, and what changed since week 1's run.
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as ReportJson;
    assert.equal(report.counts.keys, now.size);
    assert.deepEqual(
      report.since && [report.since.newKeys, report.since.goneKeys, report.since.changedKeys],
      [added.length, gone.length, 0],
    );
    assert.equal(report.since?.meanJaccard, 1);
    assert.equal(two.files.report, join(dir, 'report.html'));
    // The pipeline file it ran is there to read and valid.
    const p = await loadPipeline(join(dir, 'pipeline.json'));
    assert.equal(p.output.file, join(dir, 'changes-week-2.csv'));
    // The demo put the shared S3 settings back (they point at this file's emulator).
    assert.deepEqual(await keysUnder(`s3://${BUCKET}/no-such-prefix/`), []);
  });
});

describe('run: progress', () => {
  const CLEAR = '\r\x1b[K';
  async function runWith(isTTY: boolean, file: string): Promise<{ code: number; err: string; out: string }> {
    let err = '';
    let out = '';
    const stderr = new Writable({
      write(chunk, _enc, cb) {
        err += chunk;
        cb();
      },
    });
    const stdout = new Writable({
      write(chunk, _enc, cb) {
        out += chunk;
        cb();
      },
    });
    Object.assign(stderr, { isTTY });
    const code = await run(['run', file, ...AWS_ARGS()], { stdin: Readable.from([]), stdout, stderr });
    return { code, err, out };
  }

  test('on a terminal: a live line for records and jobs, cleared before each step line and at the end', async () => {
    const { file } = await setup(400);
    const r = await runWith(true, file);
    assert.equal(r.code, 0, r.err);
    const live = r.err.split(CLEAR);
    assert.ok(
      live.some((t) =>
        /^jobs: 0\/4 finished \(0 active, 0 failed\), \d running, \d pending, 0 waiting$/.test(t),
      ),
    );
    assert.ok(live.includes('jobs: 4/4 finished (4 active, 0 failed), 0 running, 0 pending, 0 waiting'));
    // Every step line starts on a cleared line, and no live line is left on the screen.
    for (const m of r.err.matchAll(
      /([^\n]*)personalize-batch: (prepare|validate|jobs|collect|export): started/g,
    ))
      assert.ok(m[1] === '' || (m[1] as string).endsWith(CLEAR), JSON.stringify(m[1]));
    const tail = r.err.slice(r.err.lastIndexOf('\n') + 1);
    assert.ok(tail === '' || tail.endsWith(CLEAR), JSON.stringify(tail));
    assert.match(r.out, /^run done/);
  });

  test('not on a terminal: step lines only, no control characters', async () => {
    const { file } = await setup(400);
    const r = await runWith(false, file);
    assert.equal(r.code, 0, r.err);
    assert.ok(!r.err.includes('\r') && !r.err.includes('\x1b'));
    assert.deepEqual(
      [...r.err.matchAll(/personalize-batch: (\w+): started/g)].map((m) => m[1]),
      ['prepare', 'validate', 'jobs', 'collect', 'export', 'report'],
    );
    assert.equal([...r.err.matchAll(/created job/g)].length, 4);
  });
});
