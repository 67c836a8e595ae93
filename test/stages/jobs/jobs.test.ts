import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateBatchInferenceJobCommand, PersonalizeClient } from '@aws-sdk/client-personalize';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { CliIO } from '../../../src/cli/common.js';
import { run as runCli } from '../../../src/cli/index.js';
import { type Emulator, startEmulator } from '../../../src/emulator/index.js';
import { readJsonDoc } from '../../../src/io/doc.js';
import { configureS3, defaultS3Client } from '../../../src/io/s3.js';
import { type JobEvent, jobStatus, submit, waitJobs } from '../../../src/stages/jobs/index.js';
import { type JobState, normalizeStatus } from '../../../src/stages/jobs/model.js';
import { personalizeService } from '../../../src/stages/jobs/service.js';
import { shard } from '../../../src/stages/shard/index.js';
import { cli, rejectsWith, stdinOf, useTmp, writeText } from '../../helpers.js';
import { CLI } from '../../paths.js';

// submit / status / wait end to end against the emulator, through the real
// @aws-sdk clients over HTTP.

const BUCKET = 'work';
const SV = 'arn:aws:personalize:us-east-1:123456789012:solution/emails/1';
const SV_SEG = 'arn:aws:personalize:us-east-1:123456789012:solution/segments/1';
const ROLE = 'arn:aws:iam::123456789012:role/PersonalizeBatch';
const POLL = 25;
const tmp = useTmp();
const root = fileURLToPath(new URL('../../..', import.meta.url));

let emu: Emulator;
let client: PersonalizeClient;
let run = 0;

before(async () => {
  emu = await startEmulator({ buckets: [BUCKET], stepMs: 30, items: 200 });
  // For the CLI run in-process: the SDK's default chain reads these.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_MAX_ATTEMPTS: '1',
  });
  configureS3({ endpoint: emu.s3Endpoint, credentials: { ...emu.credentials }, region: emu.region });
  client = new PersonalizeClient({
    endpoint: emu.personalizeEndpoint,
    region: emu.region,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 1,
  });
});

after(async () => {
  client.destroy();
  defaultS3Client().destroy();
  await emu.close();
});

/** Batch input of `users` users cut into shards of `per` records on the emulator's S3; the manifest URI. */
async function shardsOnS3(
  users: number,
  per: number,
  recipe = 'user-personalization',
): Promise<{ manifest: string; prefix: string }> {
  const prefix = `s3://${BUCKET}/run-${run++}/`;
  const key = recipe === 'item-affinity' ? 'itemId' : 'userId';
  const lines = Array.from({ length: users }, (_, i) => `${JSON.stringify({ [key]: `${key}-${i}` })}\n`).join(
    '',
  );
  const input = await writeText(tmp.fresh('in.jsonl'), lines);
  const s = await shard({ recipe, input, out: `${prefix}shards/`, maxRecords: per });
  return { manifest: s.manifest, prefix };
}

/** submit's command line against the emulator (the region comes from the ARN, so S3's endpoint is named too). */
function submitArgs(manifest: string, output: string, sv: string, jobNamePrefix: string): string[] {
  return [
    'submit',
    '--manifest',
    manifest,
    '--output',
    output,
    '--solution-version-arn',
    sv,
    '--role-arn',
    ROLE,
    '--job-name-prefix',
    jobNamePrefix,
    '--personalize-endpoint-url',
    emu.personalizeEndpoint,
    '--endpoint-url',
    emu.s3Endpoint,
  ];
}

/** Jobs the emulator holds whose name starts with the run's prefix. */
function jobsOf(prefix: string) {
  return emu.jobs().filter((j) => j.jobName.startsWith(prefix));
}

async function keysUnder(uri: string): Promise<string[]> {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri) as RegExpExecArray;
  const r = await defaultS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
  return (r.Contents ?? []).map((c) => (c.Key as string).slice((key as string).length)).sort();
}

describe('submit, status, wait', () => {
  test('a multi-shard run reaches ACTIVE with every output present, and status reads it back', async () => {
    const { manifest, prefix } = await shardsOnS3(50, 20);
    const events: JobEvent[] = [];
    const s = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      numResults: 5,
      jobNamePrefix: 'multi',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
      onEvent: (e) => events.push(e),
    });
    assert.equal(s.jobs.length, 3);
    assert.deepEqual(s.counts, { waiting: 0, pending: 0, running: 0, active: 3, failed: 0 });
    assert.equal(s.created, 3);
    for (const j of s.jobs) {
      assert.equal(j.status, 'ACTIVE');
      assert.deepEqual(await keysUnder(j.output), ['_CHECK', 'input.jsonl.out']);
    }
    const jobs = jobsOf('multi-');
    assert.equal(jobs.length, 3);
    assert.deepEqual(
      jobs.map((j) => (j.request.jobInput as { s3DataSource: { path: string } }).s3DataSource.path).sort(),
      [0, 1, 2].map((i) => `${prefix}shards/shard-0000${i}/`),
    );
    assert.equal(jobs[0]?.request.numResults, 5);
    const state = (await readJsonDoc(s.state)) as JobState;
    assert.equal(s.state, `${prefix}out/state.json`);
    assert.ok(state.shards.every((sh) => sh.jobs.length === 1 && sh.jobs[0]?.arn));
    assert.ok(events.some((e) => e.type === 'created'));
    const st = await jobStatus({ state: s.state, service: personalizeService(client) });
    assert.deepEqual(
      st.jobs.map((j) => [j.shard, j.status, j.records]),
      [
        [0, 'ACTIVE', 20],
        [1, 'ACTIVE', 20],
        [2, 'ACTIVE', 10],
      ],
    );
    // Submitting again finds everything done and creates nothing.
    const again = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'multi',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    assert.equal(again.created, 0);
    assert.equal(jobsOf('multi-').length, 3);
  });

  test('8 shards, 5 slots, one taken by another job: never more than 5 pending or running', async () => {
    const { manifest, prefix } = await shardsOnS3(16, 2);
    // Someone else's job, slow, holding a slot for the first part of the run.
    // Slow jobs, so that the jobs of one round overlap whatever the machine's speed.
    emu.injectFault({ slowJobs: /^(other|quota)-/, slowMs: 300 });
    await client.send(
      new CreateBatchInferenceJobCommand({
        jobName: `other-${run}`,
        solutionVersionArn: SV,
        roleArn: ROLE,
        jobInput: { s3DataSource: { path: (await shardsOnS3(2, 2)).prefix } },
        jobOutput: { s3DataDestination: { path: `${prefix}other/` } },
      }),
    );
    let peak = 0;
    let peakOurs = 0;
    let peakBesideOther = 0;
    emu.on('status', () => {
      const open = emu.jobs().filter((j) => !['ACTIVE', 'CREATE FAILED'].includes(j.status));
      const ours = open.filter((j) => j.jobName.startsWith('quota-')).length;
      peak = Math.max(peak, open.length);
      peakOurs = Math.max(peakOurs, ours);
      if (open.some((j) => j.jobName.startsWith('other-'))) peakBesideOther = Math.max(peakBesideOther, ours);
    });
    const s = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'quota',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    emu.injectFault({ slowJobs: undefined });
    assert.equal(s.counts.active, 8, JSON.stringify(s.jobs.filter((j) => j.status !== 'ACTIVE')));
    assert.equal(jobsOf('quota-').length, 8);
    assert.ok(peak <= 5, `peak ${peak}`);
    assert.ok(peakBesideOther <= 4, `${peakBesideOther} of ours beside the other job`);
    assert.ok(peakOurs >= 3, `the slots were used: at most ${peakOurs} at once`);
  });

  test('a failed job is resubmitted under a new name with --retry-failed, and fails for good without it', async () => {
    const { manifest, prefix } = await shardsOnS3(6, 3);
    emu.injectFault({ failJobs: /^retry-.*-00001$/, failReason: 'emulated: bad luck' });
    const s = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'retry',
      retryFailed: 1,
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    assert.equal(s.counts.active, 2);
    const second = s.jobs.find((j) => j.shard === 1);
    assert.equal(second?.attempts, 2);
    assert.match(second?.name ?? '', /-00001-r1$/);
    assert.deepEqual(
      jobsOf('retry-')
        .map((j) => j.status)
        .sort(),
      ['ACTIVE', 'ACTIVE', 'CREATE FAILED'],
    );

    const other = await shardsOnS3(6, 3);
    emu.injectFault({ failJobs: /^noretry-.*-00000$/ });
    const f = await submit({
      manifest: other.manifest,
      output: `${other.prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'noretry',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    emu.injectFault({ failJobs: undefined });
    assert.equal(f.counts.failed, 1);
    assert.equal(f.jobs[0]?.failureReason, 'emulated: bad luck');
    // wait on the state file says the same, and so does the CLI (exit 1, reason shown).
    const w = await waitJobs({ state: f.state, pollIntervalMs: POLL, service: personalizeService(client) });
    assert.equal(w.counts.failed, 1);
    const r = await cli([
      'status',
      '--state',
      f.state,
      '--personalize-endpoint-url',
      emu.personalizeEndpoint,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /shard\s+job name\s+status\s+records\s+age\s+failure reason/);
    assert.match(r.stdout, /noretry-\w+-00000\s+CREATE FAILED\s+3\s+\S+\s+emulated: bad luck/);
  });

  test('throttling and LimitExceeded are absorbed: the run waits and goes on', async () => {
    const { manifest, prefix } = await shardsOnS3(4, 2);
    emu.injectFault({ throttle: 4, throttleError: 'ThrottlingException' });
    const events: JobEvent[] = [];
    const s = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'throttle',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
      onEvent: (e) => events.push(e),
    });
    assert.equal(s.counts.active, 2);
    assert.equal(emu.faults().throttle, 0, 'every throttled request was made');
    assert.ok(events.filter((e) => e.type === 'throttled').length >= 1);
    emu.injectFault({ throttle: 2, throttleError: 'LimitExceededException' });
    const other = await shardsOnS3(4, 2);
    const t = await submit({
      manifest: other.manifest,
      output: `${other.prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'limit',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    assert.equal(t.counts.active, 2);
    assert.equal(jobsOf('limit-').length, 2);
  });

  test("a manifest with no record creates no job: exit 1 and why; an older manifest's empty shard gets no job", async () => {
    const { manifest, prefix } = await shardsOnS3(0, 4);
    await rejectsWith(
      submit({
        manifest,
        output: `${prefix}out/`,
        solutionVersionArn: SV,
        roleArn: ROLE,
        jobNamePrefix: 'none',
        service: personalizeService(client),
      }),
      'PB_LIMIT',
      /the manifest lists no records \(its input was empty, or every record was rejected\): a batch job needs at least one, so no job was created/,
    );
    const r = await cli(submitArgs(manifest, `${prefix}out/`, SV, 'none'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no job was created/);
    assert.equal(jobsOf('none-').length, 0);

    // A manifest written before empty shards were left out: shard-00001 holds nothing.
    const two = await shardsOnS3(4, 2);
    const { readJsonDoc: read, writeJsonDoc } = await import('../../../src/io/doc.js');
    const m = (await read(two.manifest)) as { shards: { records: number; bytes: number }[] };
    (m.shards[1] as { records: number; bytes: number }).records = 0;
    const old = `${two.prefix}old-manifest.json`;
    await writeJsonDoc(old, m);
    const s = await submit({
      manifest: old,
      output: `${two.prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'oldempty',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    assert.equal(s.jobs.length, 1);
    assert.equal(jobsOf('oldempty-').length, 1);
  });

  test('segment families go through CreateBatchSegmentJob', async () => {
    const { manifest, prefix } = await shardsOnS3(8, 4, 'item-affinity');
    const s = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV_SEG,
      roleArn: ROLE,
      numResults: 10,
      jobNamePrefix: 'seg',
      wait: true,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    assert.equal(s.kind, 'segment');
    assert.equal(s.counts.active, 2, JSON.stringify(s.jobs));
    assert.deepEqual(
      jobsOf('seg-').map((j) => j.kind),
      ['batch-segment-job', 'batch-segment-job'],
    );
    // The CLI with no ranking or exploration flag: nothing the job type refuses is added.
    const r = await cli([...submitArgs(manifest, `${prefix}out-cli/`, SV_SEG, 'segcli'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'segment');
    assert.deepEqual(
      jobsOf('segcli-').map((j) => j.kind),
      ['batch-segment-job', 'batch-segment-job'],
    );
    await rejectsWith(
      submit({
        manifest,
        output: `${prefix}out2/`,
        solutionVersionArn: SV_SEG,
        roleArn: ROLE,
        explorationWeight: '0.3',
        service: personalizeService(client),
      }),
      'PB_USAGE',
      /segment jobs take no --exploration-weight/,
    );
  });

  test('a state file of another run is refused, and local shards are refused before any job', async () => {
    const { manifest, prefix } = await shardsOnS3(4, 2);
    const state = tmp.fresh('state.json');
    await submit({
      manifest,
      output: `${prefix}out/`,
      state,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'own',
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
    await rejectsWith(
      submit({
        manifest,
        output: `${prefix}elsewhere/`,
        state,
        solutionVersionArn: SV,
        roleArn: ROLE,
        service: personalizeService(client),
      }),
      'PB_USAGE',
      /belongs to another run/,
    );
    const local = await shard({
      recipe: 'user-personalization',
      input: await writeText(tmp.fresh('l.jsonl'), '{"userId":"a"}\n'),
      out: tmp.fresh('local-shards'),
    });
    const before = emu.jobs().length;
    await rejectsWith(
      submit({ manifest: local.manifest, output: `${prefix}x/`, solutionVersionArn: SV, roleArn: ROLE }),
      'PB_USAGE',
      /jobs read from S3/,
    );
    assert.equal(emu.jobs().length, before);
  });
});

describe('progress on stderr', () => {
  const CLEAR = '\r\x1b[K';

  /** A stderr that keeps each write apart; `isTTY` as given, `onWrite` sees each write as it comes. */
  function stderrSink(isTTY: boolean, onWrite?: (text: string) => void) {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const text = chunk.toString('utf8');
        writes.push(text);
        onWrite?.(text);
        cb();
      },
    });
    Object.assign(stream, { isTTY });
    return { stream, writes, text: () => writes.join('') };
  }

  /** The CLI in-process with the given stderr; stdout collected. */
  async function cliWith(argv: string[], stderr: Writable): Promise<{ code: number; stdout: string }> {
    const out: string[] = [];
    const stdout = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk.toString('utf8'));
        cb();
      },
    });
    const io: CliIO = { stdin: stdinOf(''), stdout, stderr };
    const code = await runCli(argv, io);
    return { code, stdout: out.join('') };
  }

  /**
   * What a terminal shows after `text`: `\r` goes back to column 0, `\x1b[K`
   * erases to the end of the row, `\n` starts a new row. A progress line left
   * uncleared, or a line written over a longer one, shows up here.
   */
  function screen(text: string): string[] {
    const rows = [''];
    let col = 0;
    for (let i = 0; i < text.length; i++) {
      const last = rows.length - 1;
      const row = rows[last] as string;
      if (text.startsWith('\x1b[K', i)) {
        rows[last] = row.slice(0, col);
        i += 2;
      } else if (text[i] === '\r') col = 0;
      else if (text[i] === '\n') {
        rows.push('');
        col = 0;
      } else {
        rows[last] = row.slice(0, col).padEnd(col) + text[i] + row.slice(col + 1);
        col++;
      }
    }
    return rows;
  }

  test('screen() renders redraws like a terminal', () => {
    assert.deepEqual(screen('abcdef\rxy\n'), ['xycdef', '']);
    assert.deepEqual(screen('abcdef\r\x1b[Kxy\n'), ['xy', '']);
    assert.deepEqual(screen('abc\r\x1b[K'), ['']);
  });

  const progress = (running: number, pending: number, active: number, failed: number, waiting: number) =>
    `${CLEAR}jobs: ${running} running, ${pending} pending, ${active} active, ${failed} failed, ${waiting} waiting`;

  /** Two shards on S3 submitted through the library under `name`, for a `wait` to follow. */
  const submitTwo = async (name: string) => {
    const { manifest, prefix } = await shardsOnS3(4, 2);
    return submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: name,
      pollIntervalMs: POLL,
      service: personalizeService(client),
    });
  };
  const waitCli = (state: string, stderr: Writable) =>
    cliWith(
      [
        'wait',
        '--state',
        state,
        '--personalize-endpoint-url',
        emu.personalizeEndpoint,
        '--poll-interval',
        '20ms',
      ],
      stderr,
    );

  test('wait on a terminal: the counts redrawn in place, cleared before the summary', async () => {
    // Shard 1 held in progress until the progress line has shown it so.
    emu.injectFault({ slowJobs: /^ttywait-.*-00001$/, slowMs: Number.POSITIVE_INFINITY });
    const s = await submitTwo('ttywait');
    let lifted = false;
    const lift = () => emu.injectFault({ slowJobs: undefined, slowMs: 60_000 });
    // Only so that a broken progress line fails the test rather than hanging it.
    const safety = setTimeout(lift, 20_000);
    const err = stderrSink(true, (text) => {
      if (!lifted && text === progress(1, 0, 1, 0, 0)) {
        lifted = true;
        lift();
      }
    });
    const r = await waitCli(s.state, err.stream).finally(() => {
      clearTimeout(safety);
      lift();
    });
    assert.equal(r.code, 0, err.text());
    assert.equal(r.stdout, '');
    assert.ok(lifted, `no "1 running, 1 active" progress line in ${JSON.stringify(err.text())}`);
    const last = err.writes.lastIndexOf(progress(0, 0, 2, 0, 0));
    assert.ok(last >= 0, JSON.stringify(err.writes));
    // After the last redraw: the clear, then the summary on a clean row, nothing else.
    assert.deepEqual(err.writes.slice(last + 1, last + 2), [CLEAR]);
    assert.match(err.writes[last + 2] ?? '', /^jobs \(run \w+, state .*\): 2 shards: 2 active, 0 failed/);
    assert.equal(err.writes.length, last + 3);
    // Every progress write is a redraw (clear first), and each event line starts on a clean row.
    for (const w of err.writes.filter((x) => x.includes('jobs: '))) assert.ok(w.startsWith(CLEAR), w);
    const rows = screen(err.text());
    assert.deepEqual(rows.slice(0, 3), [
      `personalize-batch: resuming from ${s.state}`,
      `personalize-batch: shard 0: ${s.jobs[0]?.name} ACTIVE`,
      `personalize-batch: shard 1: ${s.jobs[1]?.name} ACTIVE`,
    ]);
    assert.match(rows[3] as string, /^jobs \(run /);
    assert.deepEqual(rows.slice(4), ['']);
  });

  test('wait with stderr not a terminal: the event lines only, no redraws', async () => {
    const s = await submitTwo('plainwait');
    const err = stderrSink(false);
    const r = await waitCli(s.state, err.stream);
    assert.equal(r.code, 0, err.text());
    const text = err.text();
    assert.ok(!text.includes('\r') && !text.includes('\x1b'), JSON.stringify(text));
    const lines = text.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.shift(), `personalize-batch: resuming from ${s.state}`);
    assert.match(lines.pop() as string, /^jobs \(run \w+, state .*\): 2 shards: 2 active, 0 failed/);
    // The two shards finish in either order.
    assert.deepEqual(lines.sort(), [
      `personalize-batch: shard 0: ${s.jobs[0]?.name} ACTIVE`,
      `personalize-batch: shard 1: ${s.jobs[1]?.name} ACTIVE`,
    ]);
  });

  for (const tty of [true, false]) {
    test(`submit --wait with a failed job, stderr ${tty ? '' : 'not '}a terminal`, async () => {
      const { manifest, prefix } = await shardsOnS3(4, 2);
      const name = tty ? 'ttysub' : 'plainsub';
      emu.injectFault({ failJobs: new RegExp(`^${name}-.*-00001$`), failReason: 'emulated: bad luck' });
      const err = stderrSink(tty);
      const r = await cliWith(
        [
          'submit',
          '--manifest',
          manifest,
          '--output',
          `${prefix}out/`,
          '--solution-version-arn',
          SV,
          '--role-arn',
          ROLE,
          '--job-name-prefix',
          name,
          '--wait',
          // The region comes from the ARN, so S3 is configured again: name the endpoint.
          '--endpoint-url',
          emu.s3Endpoint,
          '--personalize-endpoint-url',
          emu.personalizeEndpoint,
          '--poll-interval',
          '20ms',
        ],
        err.stream,
      ).finally(() => {
        emu.injectFault({ failJobs: undefined });
        configureS3({ endpoint: emu.s3Endpoint, credentials: { ...emu.credentials }, region: emu.region });
      });
      assert.equal(r.code, 1, err.text());
      const text = err.text();
      const rows = screen(text);
      const jobs = jobsOf(`${name}-`).sort((a, b) => a.jobName.localeCompare(b.jobName));
      assert.equal(jobs.length, 2);
      const [first, second] = jobs.map((j) => j.jobName);
      // The event lines, and after the summary the failure and what to do.
      assert.deepEqual(rows.slice(0, 3), [
        `personalize-batch: state file ${prefix}out/state.json`,
        `personalize-batch: shard 0: created ${first} (${jobs[0]?.arn})`,
        `personalize-batch: shard 1: created ${second} (${jobs[1]?.arn})`,
      ]);
      assert.deepEqual(rows.slice(3, -4).sort(), [
        `personalize-batch: shard 0: ${first} ACTIVE`,
        `personalize-batch: shard 1: ${second} CREATE FAILED: emulated: bad luck`,
      ]);
      assert.match(rows.at(-4) as string, /^jobs \(run \w+, state .*\): 2 shards: 1 active, 1 failed/);
      assert.deepEqual(rows.slice(-3), [
        `personalize-batch: shard 1: job ${second} failed: emulated: bad luck`,
        'personalize-batch: run submit again with --retry-failed N to resubmit the failed shards',
        '',
      ]);
      if (tty) {
        // Right after the creates: both pending; at the end one active, one failed; then cleared.
        assert.ok(err.writes.includes(progress(0, 2, 0, 0, 0)), JSON.stringify(err.writes));
        const last = err.writes.lastIndexOf(progress(0, 0, 1, 1, 0));
        assert.ok(last >= 0, JSON.stringify(err.writes));
        assert.equal(err.writes[last + 1], CLEAR);
        assert.match(err.writes[last + 2] ?? '', /^jobs \(run /);
      } else {
        assert.ok(!text.includes('\r') && !text.includes('\x1b'), JSON.stringify(text));
        assert.equal(rows.join('\n'), text, 'nothing redrawn');
      }
    });
  }
});

describe('crash and resume', () => {
  /** The CLI as a child process (the real bin), pointed at the emulator. */
  function submitChild(args: string[]): ChildProcess {
    return spawn(process.execPath, [...CLI, 'submit', ...args], {
      cwd: root,
      env: { ...process.env, ...emu.env, AWS_MAX_ATTEMPTS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  for (const k of [1, 3]) {
    test(`SIGKILL right after Create call ${k} (job made, ARN not yet known): the next submit finds it, one job per shard`, async () => {
      const { manifest, prefix } = await shardsOnS3(10, 2);
      const name = `crash${k}`;
      const args = [
        '--manifest',
        manifest,
        '--output',
        `${prefix}out/`,
        '--solution-version-arn',
        SV,
        '--role-arn',
        ROLE,
        '--job-name-prefix',
        name,
        '--poll-interval',
        '50ms',
        '--wait',
      ];
      const child = submitChild(args);
      let childErr = '';
      child.stderr?.on('data', (d) => {
        childErr += d;
      });
      let creates = 0;
      const killed = new Promise<void>((resolve, reject) => {
        child.once('exit', (code, signal) => {
          if (signal !== 'SIGKILL')
            reject(new Error(`submit exited ${code} before Create ${k}: ${childErr}`));
        });
        emu.on('create', async (job) => {
          if (!job.jobName.startsWith(`${name}-`)) return;
          creates++;
          if (creates === k) {
            // The job exists; the client has not had the answer. Kill it now.
            child.kill('SIGKILL');
            await new Promise((r) => child.once('exit', r));
            resolve();
          }
        });
      });
      await killed;
      assert.equal(jobsOf(`${name}-`).length, k);
      const again = submitChild(args);
      let err = '';
      again.stderr?.on('data', (d) => {
        err += d;
      });
      const code = await new Promise<number | null>((r) => again.once('exit', r));
      assert.equal(code, 0, err);
      const jobs = jobsOf(`${name}-`);
      assert.equal(jobs.length, 5, jobs.map((j) => j.jobName).join(' '));
      assert.equal(new Set(jobs.map((j) => j.jobName.slice(-5))).size, 5, 'one job per shard');
      assert.ok(jobs.every((j) => normalizeStatus(j.status) === 'ACTIVE'));
      assert.match(err, new RegExp(`found existing job ${name}-\\w+-0000${k - 1}`));
    });
  }
});

describe('Ctrl-C', () => {
  test('wait, between two polls: the abort goes through its signal at once: exit 130 and the hint', async () => {
    // The jobs stay in progress, so wait is in its pause between polls when the signal comes.
    emu.injectFault({ slowJobs: /^ctrlc-/, slowMs: Number.POSITIVE_INFINITY });
    try {
      const { manifest, prefix } = await shardsOnS3(4, 2);
      const s = await submit({
        manifest,
        output: `${prefix}out/`,
        solutionVersionArn: SV,
        roleArn: ROLE,
        jobNamePrefix: 'ctrlc',
        pollIntervalMs: POLL,
        service: personalizeService(client),
      });
      const child = spawn(process.execPath, [...CLI, 'wait', '--state', s.state, '--poll-interval', '10s'], {
        cwd: root,
        env: { ...process.env, ...emu.env, AWS_MAX_ATTEMPTS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr?.on('data', (d) => {
        err += d;
      });
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      for (let i = 0; !err.includes('resuming from'); i++) {
        assert.ok(i < 1000, `wait never started: ${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      child.kill('SIGINT');
      const code = await exited;
      const ms = Date.now() - t0;
      assert.equal(code, 130, err);
      assert.match(
        err,
        /\npersonalize-batch: interrupted \(SIGINT\); run the same command again to resume\n$/,
      );
      // bin.ts forces an exit 3 s after the signal: the abort ended the pause well before.
      assert.ok(ms < 2500, `${ms} ms`);
    } finally {
      emu.injectFault({ slowJobs: undefined, slowMs: 60_000 });
    }
  });
});
