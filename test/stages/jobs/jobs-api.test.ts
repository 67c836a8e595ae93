import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ListBatchInferenceJobsCommand, PersonalizeClient } from '@aws-sdk/client-personalize';
import { S3Client } from '@aws-sdk/client-s3';
import { type Emulator, startEmulator } from '../../../src/emulator/index.js';
import { readJsonDoc } from '../../../src/io/doc.js';
import { configureS3, defaultS3Client, s3Settings } from '../../../src/io/s3.js';
import { jobStatus, submit, waitJobs } from '../../../src/stages/jobs/index.js';
import type { JobState } from '../../../src/stages/jobs/model.js';
import { shard } from '../../../src/stages/shard/index.js';
import { useTmp, writeText } from '../../helpers.js';

// The jobs functions as a library uses them: its own clients (or client config) in, a signal
// that stops them, against the emulator over HTTP. The package-wide S3 settings point at a port
// where nothing answers while the calls run, so only the connection passed in can reach S3.

const BUCKET = 'api';
const SV = 'arn:aws:personalize:us-east-1:123456789012:solution/emails/1';
const ROLE = 'arn:aws:iam::123456789012:role/PersonalizeBatch';
const NOWHERE = { endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const tmp = useTmp();
let emu: Emulator;
let run = 0;

before(async () => {
  emu = await startEmulator({ buckets: [BUCKET], stepMs: 30, items: 100 });
});

after(async () => {
  defaultS3Client().destroy();
  await emu.close();
});

/** `n` users in shards of `per` on the emulator's S3 (made through the package-wide client); the manifest. */
async function shardsOnS3(n: number, per: number): Promise<{ manifest: string; prefix: string }> {
  const prefix = `s3://${BUCKET}/api-${run++}/`;
  const input = await writeText(
    tmp.fresh('in.jsonl'),
    Array.from({ length: n }, (_, i) => `{"userId":"u${i}"}\n`).join(''),
  );
  const before = s3Settings();
  configureS3({ endpoint: emu.s3Endpoint, credentials: { ...emu.credentials } });
  try {
    const s = await shard({
      recipe: 'user-personalization',
      input,
      out: `${prefix}shards/`,
      maxRecords: per,
    });
    return { manifest: s.manifest, prefix };
  } finally {
    configureS3(before);
  }
}

/** Runs `fn` with the package-wide S3 client pointed where nothing answers. */
async function withoutDefaultS3<T>(fn: () => Promise<T>): Promise<T> {
  const before = s3Settings();
  configureS3(NOWHERE);
  try {
    return await fn();
  } finally {
    configureS3(before);
  }
}

/** A client's sends counted by a middleware only that client has. */
function counted<C extends PersonalizeClient | S3Client>(client: C): { client: C; calls: string[] } {
  const calls: string[] = [];
  (client.middlewareStack as PersonalizeClient['middlewareStack']).add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return { client, calls };
}

function personalizeClient(): PersonalizeClient {
  return new PersonalizeClient({
    endpoint: emu.personalizeEndpoint,
    region: emu.region,
    credentials: { ...emu.credentials },
    maxAttempts: 1,
  });
}

function s3Client(): S3Client {
  return new S3Client({
    endpoint: emu.s3Endpoint,
    region: emu.region,
    credentials: { ...emu.credentials },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function isAbortError(err: unknown): boolean {
  assert.equal((err as Error).name, 'AbortError', String((err as Error).stack));
  assert.equal((err as { code?: string }).code, 'ABORT_ERR');
  return true;
}

describe('jobs through the library', () => {
  test('a ready PersonalizeClient and S3Client are the ones used, and left open', async () => {
    const { manifest, prefix } = await shardsOnS3(30, 10);
    const p = counted(personalizeClient());
    const s3 = counted(s3Client());
    const common = { personalize: p.client, s3: s3.client, pollIntervalMs: 20 };
    const done = await withoutDefaultS3(async () => {
      const s = await submit({
        ...common,
        manifest,
        output: `${prefix}out/`,
        solutionVersionArn: SV,
        roleArn: ROLE,
        jobNamePrefix: 'ready',
      });
      assert.equal(s.created, 3);
      const w = await waitJobs({ ...common, state: s.state });
      const st = await jobStatus({ ...common, state: s.state });
      return { w, st };
    });
    assert.equal(done.w.counts.active, 3);
    assert.equal(done.st.jobs.length, 3);
    assert.equal(p.calls.filter((c) => c === 'CreateBatchInferenceJobCommand').length, 3);
    assert.ok(p.calls.includes('DescribeBatchInferenceJobCommand'));
    assert.ok(s3.calls.includes('GetObjectCommand'), s3.calls.join(' '));
    // Not destroyed by the library: the application's clients still work.
    await p.client.send(new ListBatchInferenceJobsCommand({}));
    p.client.destroy();
    s3.client.destroy();
  });

  test('client config (endpoint, region, credentials) makes the clients', async () => {
    const { manifest, prefix } = await shardsOnS3(10, 10);
    const s = await withoutDefaultS3(() =>
      submit({
        manifest,
        output: `${prefix}out/`,
        solutionVersionArn: SV,
        roleArn: ROLE,
        jobNamePrefix: 'config',
        wait: true,
        pollIntervalMs: 20,
        personalize: {
          endpoint: emu.personalizeEndpoint,
          credentials: { ...emu.credentials },
          maxAttempts: 1,
        },
        s3: { endpoint: emu.s3Endpoint, credentials: { ...emu.credentials } },
      }),
    );
    assert.equal(s.counts.active, 1);
  });

  test('an abort during a Create rejects with AbortError, keeps the attempt, and the next submit pays once', async () => {
    const { manifest, prefix } = await shardsOnS3(40, 10);
    const ac = new AbortController();
    const options = {
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'abort',
      // Local: its writes do not go through S3, which refuses to start once aborted.
      state: tmp.fresh('abort-state.json'),
      pollIntervalMs: 20,
      wait: true,
      personalize: personalizeClient(),
      s3: s3Client(),
    };
    let creates = 0;
    emu.on('create', (job) => {
      // The second job exists in the service; its answer has not reached the client.
      if (job.jobName.startsWith('abort-') && ++creates === 2) ac.abort();
    });
    const t0 = Date.now();
    await assert.rejects(submit({ ...options, signal: ac.signal }), isAbortError);
    assert.ok(Date.now() - t0 < 5000);
    const state = (await readJsonDoc(options.state)) as JobState;
    const attempts = state.shards.flatMap((sh) => sh.jobs);
    assert.equal(attempts.length, 2, JSON.stringify(state.shards));
    assert.equal(attempts[1]?.arn, undefined, 'the cut-off Create is kept by name, without its ARN');
    const again = await submit(options);
    const jobs = emu.jobs().filter((j) => j.jobName.startsWith('abort-'));
    assert.equal(jobs.length, 4, jobs.map((j) => j.jobName).join(' '));
    assert.equal(again.created, 2);
    assert.equal(again.counts.active, 4);
    options.personalize.destroy();
    options.s3.destroy();
  });

  test('an abort while waiting between polls rejects at once; an aborted signal starts nothing', async () => {
    const { manifest, prefix } = await shardsOnS3(10, 10);
    const personalize = counted(personalizeClient());
    const s3 = s3Client();
    const s = await submit({
      manifest,
      output: `${prefix}out/`,
      solutionVersionArn: SV,
      roleArn: ROLE,
      jobNamePrefix: 'slow',
      personalize: personalize.client,
      s3,
    });
    const ac = new AbortController();
    const waiting = waitJobs({
      state: s.state,
      personalize: personalize.client,
      s3,
      pollIntervalMs: 60_000,
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(new Error('shutting down')), 200);
    const t0 = Date.now();
    await assert.rejects(waiting, (err) => isAbortError(err) && (err as Error).cause instanceof Error);
    assert.ok(Date.now() - t0 < 2000, 'the minute-long pause was cut short');
    const calls = personalize.calls.length;
    await assert.rejects(
      jobStatus({ state: s.state, personalize: personalize.client, s3, signal: AbortSignal.abort() }),
      isAbortError,
    );
    assert.equal(personalize.calls.length, calls, 'no call after the abort');
    const w = await waitJobs({ state: s.state, personalize: personalize.client, s3, pollIntervalMs: 20 });
    assert.equal(w.counts.active, 1);
    personalize.client.destroy();
    s3.destroy();
  });
});
