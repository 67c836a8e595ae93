import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { run } from '../../../src/cli/index.js';
import { readJsonDoc } from '../../../src/io/doc.js';
import type { JobState } from '../../../src/stages/jobs/model.js';
import type { ReportJson } from '../../../src/stages/report/index.js';
import { type RunSummary, runPipeline } from '../../../src/stages/run/index.js';
import { loadPipeline } from '../../../src/stages/run/pipeline.js';
import { cli } from '../../helpers.js';
import { AWS_ARGS, BUCKET, connect, emu, jobsOf, keysUnder, root, setup, tmp } from './run-fixture.js';

// `run` killed at four points and resumed, the demo, and progress on stderr,
// against the emulator (run-fixture.ts).

describe('run: killed and resumed', () => {
  function child(file: string): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', 'src/bin.ts', 'run', file], {
      cwd: root,
      env: { ...process.env, ...emu.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  async function finish(c: ChildProcess): Promise<{ code: number | null; stderr: string; stdout: string }> {
    let stderr = '';
    let stdout = '';
    c.stderr?.on('data', (d) => {
      stderr += d;
    });
    c.stdout?.on('data', (d) => {
      stdout += d;
    });
    const code = await new Promise<number | null>((r) => c.once('exit', r));
    return { code, stderr, stdout };
  }

  const baselines = new Map<number, Promise<{ dir: string }>>();
  function uninterrupted(rows: number): Promise<{ dir: string }> {
    let b = baselines.get(rows);
    if (!b) {
      b = setup(rows).then(async (ctx) => {
        const r = await runPipeline({ pipeline: ctx.file, ...connect() });
        assert.equal(r.exitCode, 0);
        return ctx;
      });
      baselines.set(rows, b);
    }
    return b;
  }

  /** Runs the pipeline as a child, kills it with SIGKILL when `when` resolves, then runs it again to the end. */
  async function killAndResume(
    rows: number,
    when: (c: ChildProcess, ctx: { dir: string; work: string; prefix: string }) => Promise<void>,
    signal: 'SIGKILL' | 'SIGINT' = 'SIGKILL',
    afterKill: (
      killed: { code: number | null; stderr: string },
      dir: string,
    ) => Promise<void> = async () => {},
  ): Promise<{
    dir: string;
    prefix: string;
    resumed: { code: number | null; stderr: string; stdout: string };
  }> {
    const ctx = await setup(rows);
    const c = child(ctx.file);
    const done = finish(c);
    await Promise.race([
      when(c, ctx),
      done.then((r) => {
        throw new Error(`run ended (${r.code}) before the kill point: ${r.stderr}`);
      }),
    ]);
    c.kill(signal);
    await afterKill(await done.catch(() => ({ code: null, stderr: '', stdout: '' })), ctx.dir);
    const resumed = await finish(child(ctx.file));
    assert.equal(resumed.code, 0, resumed.stderr);
    // The same output as an uninterrupted run of the same input (one per size: the input is seeded by it).
    const baseline = await uninterrupted(rows);
    assert.deepEqual(
      await readFile(join(ctx.dir, 'out', 'recommendations.csv')),
      await readFile(join(baseline.dir, 'out', 'recommendations.csv')),
    );
    assert.deepEqual(
      await readFile(join(ctx.dir, 'out', 'rejects.jsonl'), 'utf8').then((t) => t.replaceAll(ctx.dir, '')),
      await readFile(join(baseline.dir, 'out', 'rejects.jsonl'), 'utf8').then((t) =>
        t.replaceAll(baseline.dir, ''),
      ),
    );
    // Whatever the killed process left half-written is gone.
    assert.deepEqual(
      (await readdir(join(ctx.dir, 'out'))).filter((n) => n.includes('.tmp-')),
      [],
    );
    const jobs = jobsOf(ctx.prefix);
    assert.equal(jobs.length, 4, jobs.map((j) => j.jobName).join(' '));
    assert.equal(new Set(jobs.map((j) => j.jobName.slice(-5))).size, 4, 'one job per shard');
    return { ...ctx, resumed };
  }

  const poll = async (check: () => Promise<boolean>) => {
    while (!(await check())) await new Promise((r) => setTimeout(r, 5));
  };

  /** `s3://bucket/key/` as the emulator's slowS3 fault sees it: `/bucket/key/`. */
  const s3Path = (uri: string) => uri.slice('s3:/'.length);

  /** Waits until the export has its temporary file, the job outputs' reads held so that it is still at work. */
  async function duringExport(_c: ChildProcess, { dir, work }: { dir: string; work: string }): Promise<void> {
    emu.injectFault({ slowS3: new RegExp(`^GET ${s3Path(work)}output/.*\\.out$`), slowS3Ms: 300 });
    await poll(async () => {
      const names = await readdir(join(dir, 'out')).catch(() => [] as string[]);
      return names.some((n) => n.startsWith('.recommendations.csv.tmp-'));
    });
    emu.injectFault({ slowS3: undefined });
  }

  test('SIGKILL during the upload of the shards', async () => {
    let seen: string[] = [];
    await killAndResume(400, async (_c, { work }) => {
      // Every PUT under input/ held a while, so the kill lands with some shard objects complete
      // and no manifest yet, however fast the machine.
      emu.injectFault({ slowS3: new RegExp(`^PUT ${s3Path(work)}input/`), slowS3Ms: 300 });
      await poll(async () => {
        seen = await keysUnder(`${work}input/`);
        return seen.some((k) => k.endsWith('input.jsonl'));
      });
      emu.injectFault({ slowS3: undefined });
    });
    assert.ok(!seen.includes('manifest.json'), `killed too late: ${seen.join(' ')}`);
  });

  test('SIGKILL between two job creations', async () => {
    const { resumed } = await killAndResume(400, (_c, { prefix }) => {
      return new Promise<void>((resolve) => {
        emu.on('create', (job) => {
          if (job.jobName.startsWith(`${prefix}-`) && jobsOf(prefix).length === 2) resolve();
        });
      });
    });
    assert.match(resumed.stderr, /prepare: done before, reused/);
    assert.match(resumed.stdout, /2 created by this call/);
  });

  test('SIGKILL while waiting for the jobs', async () => {
    const { prefix, resumed } = await killAndResume(400, (_c, { prefix }) => {
      emu.injectFault({ slowJobs: new RegExp(`^${prefix}-`), slowMs: 400 });
      return new Promise<void>((resolve) => {
        emu.on('request', (e) => {
          if (/^Describe/.test(e.operation) && jobsOf(prefix).length === 4) resolve();
        });
      });
    });
    emu.injectFault({ slowJobs: undefined });
    assert.match(resumed.stdout, /0 created by this call/);
    const state = (await readJsonDoc(`s3://${BUCKET}/run-${prefix.slice(1)}/output/state.json`)) as JobState;
    assert.ok(state.shards.every((s) => s.jobs.length === 1));
  });

  test('SIGKILL during the export', async () => {
    const { resumed } = await killAndResume(400, duringExport);
    assert.match(resumed.stderr, /collect: done before, reused/);
    assert.match(resumed.stderr, /export: started/);
  });

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
    // 40,000 rows, not the README's 100,000: the same paths (two shards, both weeks) in a third of the time.
    const r = await cli(['demo', '--out', dir, '--users', '40000', '--json']);
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
    assert.equal(one.records.read, 40_000);
    assert.equal(one.records.written, optedIn.size);
    assert.ok(one.records.filteredOut > 3000, `${one.records.filteredOut} left out by input.where`);
    assert.equal(one.shards.count, Math.ceil(optedIn.size / 25_000));
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
    const removed = (await readFile(join(dir, 'removed-week-2.csv'), 'utf8')).trim().split(/\r?\n/);
    assert.deepEqual(removed.slice(1).sort(), gone.sort());
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
