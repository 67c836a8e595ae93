import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  type BatchInferenceJob,
  CreateBatchInferenceJobCommand,
  DescribeBatchInferenceJobCommand,
  PersonalizeClient,
} from '@aws-sdk/client-personalize';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { runEmulate } from '../../src/cli/commands/emulate.js';
import { makeS3Client } from '../../src/io/s3.js';
import { cli, sink, useTmp, writeText } from '../helpers.js';

// `personalize-batch emulate` against the AWS CLI, when one is installed
// (it is not a dependency): the CLI is a second, independent client of the
// wire protocol and of the printed environment.

const hasAws = spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0;
const hasBoto3 = spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' }).status === 0;
const run = promisify(execFile);
const tmp = useTmp();

test('the AWS CLI runs a batch job against `emulate` with the printed environment', {
  skip: hasAws ? false : 'the aws command is not installed',
}, async () => {
  const out = sink();
  const ac = new AbortController();
  const done = runEmulate(
    ['--port', '0', '--s3-port', '0', '--step', '20ms', '--json', '--quiet'],
    { stdin: new PassThrough(), stdout: out.stream, stderr: sink().stream },
    ac.signal,
  );
  try {
    while (!out.text().includes('\n')) await new Promise((r) => setTimeout(r, 5));
    const info = JSON.parse(out.text()) as { env: Record<string, string> };
    // Only the printed environment: no profile or config file of this machine.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: tmp.dir(),
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      ...info.env,
    };
    // execFile, not spawnSync: the emulator answers from this very process.
    const aws = (...args: string[]) => run('aws', args, { env, encoding: 'utf8' });
    const input = await writeText(tmp.fresh('batch.jsonl'), '{"userId":"1"}\n{"userId":"2"}\n');
    await aws('s3', 'cp', input, 's3://personalize-batch-demo/input/batch.jsonl');
    const created = JSON.parse(
      (
        await aws(
          'personalize',
          'create-batch-inference-job',
          '--job-name',
          'cli-1',
          '--solution-version-arn',
          'arn:aws:personalize:us-east-1:123456789012:solution/demo/1',
          '--role-arn',
          'arn:aws:iam::123456789012:role/PersonalizeBatch',
          '--job-input',
          's3DataSource={path=s3://personalize-batch-demo/input/}',
          '--job-output',
          's3DataDestination={path=s3://personalize-batch-demo/output/}',
        )
      ).stdout,
    ) as { batchInferenceJobArn: string };
    assert.match(created.batchInferenceJobArn, /batch-inference-job\/cli-1$/);
    let status = '';
    while (status !== 'ACTIVE' && status !== 'CREATE FAILED') {
      const d = await aws(
        'personalize',
        'describe-batch-inference-job',
        '--batch-inference-job-arn',
        created.batchInferenceJobArn,
      );
      status = (JSON.parse(d.stdout) as { batchInferenceJob: { status: string } }).batchInferenceJob.status;
    }
    assert.equal(status, 'ACTIVE');
    const result = await aws('s3', 'cp', 's3://personalize-batch-demo/output/batch.jsonl.out', '-');
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { input: { userId: string } });
    assert.deepEqual(lines.map((l) => l.input.userId).sort(), ['1', '2']);
    const missing = await aws(
      'personalize',
      'describe-batch-inference-job',
      '--batch-inference-job-arn',
      'arn:aws:personalize:us-east-1:123456789012:batch-inference-job/nope',
    ).then(
      () => assert.fail('describing an unknown job must fail'),
      (err: { stderr: string }) => err.stderr,
    );
    assert.match(missing, /ResourceNotFoundException/);
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
});

// Past 1,000 objects every listing is paginated, and s3rver 3.7.1 made its
// continuation tokens with DES, which Node 17+ (OpenSSL 3) refuses unless
// started with --openssl-legacy-provider: the second page was HTTP 500 for
// every client. These run as a user starts the emulator: plain node, no flags.
describe('1,005 objects under one prefix, as every client lists them', () => {
  const COUNT = 1005;
  const BUCKET = 'personalize-batch-demo';
  const ac = new AbortController();
  let done: Promise<number> | undefined;
  let env: NodeJS.ProcessEnv = {};
  let personalizeEndpoint = '';
  const keys = Array.from({ length: COUNT }, (_, i) => `many/in-${String(i + 1).padStart(4, '0')}.jsonl`);

  before(async () => {
    const out = sink();
    done = runEmulate(
      ['--port', '0', '--s3-port', '0', '--step', '20ms', '--json', '--quiet'],
      { stdin: new PassThrough(), stdout: out.stream, stderr: sink().stream },
      ac.signal,
    );
    while (!out.text().includes('\n')) await new Promise((r) => setTimeout(r, 5));
    const info = JSON.parse(out.text()) as { env: Record<string, string>; personalizeEndpoint: string };
    personalizeEndpoint = info.personalizeEndpoint;
    env = {
      PATH: process.env.PATH,
      HOME: tmp.dir(),
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      ...info.env,
    };
    const s3 = makeS3Client({
      endpoint: info.env.AWS_ENDPOINT_URL_S3,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const limit = pLimit(16);
    await Promise.all(
      keys.map((key) =>
        limit(() =>
          s3.send(
            new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: '{"userId":"1"}\n', ContentLength: 15 }),
          ),
        ),
      ),
    );
    s3.destroy();
  });
  after(async () => {
    ac.abort();
    assert.equal(await done, 0);
  });

  const aws = (...args: string[]) => run('aws', args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });

  test('`aws s3 ls` lists all 1,005', {
    skip: hasAws ? false : 'the aws command is not installed',
  }, async () => {
    const { stdout } = await aws('s3', 'ls', `s3://${BUCKET}/many/`);
    const listed = stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).pop());
    assert.equal(listed.length, COUNT);
    assert.deepEqual(
      listed,
      keys.map((k) => k.slice('many/'.length)),
    );
  });

  test('`aws s3api list-objects-v2 --max-keys 2` gives a NextContinuationToken that gives the next page', {
    skip: hasAws ? false : 'the aws command is not installed',
  }, async () => {
    type Page = { Contents: { Key: string }[]; NextContinuationToken?: string; IsTruncated?: boolean };
    const listPage = async (...extra: string[]) =>
      JSON.parse(
        (
          await aws(
            's3api',
            'list-objects-v2',
            '--bucket',
            BUCKET,
            '--prefix',
            'many/',
            '--max-keys',
            '2',
            ...extra,
          )
        ).stdout,
      ) as Page;
    const first = await listPage();
    assert.deepEqual(
      first.Contents.map((o) => o.Key),
      keys.slice(0, 2),
    );
    assert.ok(first.NextContinuationToken, 'a NextContinuationToken');
    const second = await listPage('--continuation-token', first.NextContinuationToken);
    assert.deepEqual(
      second.Contents.map((o) => o.Key),
      keys.slice(2, 4),
    );
  });

  test('a boto3 paginator lists all 1,005 in pages of 100', {
    skip: hasBoto3 ? false : 'python3 with boto3 is not installed',
  }, async () => {
    // boto3 reads AWS_ENDPOINT_URL_S3 and the checksum settings from the printed environment too.
    const script = [
      'import boto3, json, sys',
      "s3 = boto3.client('s3')",
      "pages = s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1], Prefix='many/', PaginationConfig={'PageSize': 100})",
      'sizes = []; keys = []',
      'for p in pages:',
      "    sizes.append(p.get('KeyCount', 0)); keys += [o['Key'] for o in p.get('Contents', [])]",
      "print(json.dumps({'sizes': sizes, 'keys': keys}))",
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, BUCKET], {
      env,
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const r = JSON.parse(stdout) as { sizes: number[]; keys: string[] };
    assert.deepEqual(r.sizes, [...Array(10).fill(100), 5]);
    assert.deepEqual(r.keys, keys);
  });

  test("the tool's own validate lists all 1,005 and says a job cannot read them (1,000-file quota)", async () => {
    // In this process, as the printed environment would set it for a shell.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    });
    const r = await cli([
      'validate',
      '--recipe',
      'user-personalization',
      `s3://${BUCKET}/many/`,
      '--endpoint-url',
      env.AWS_ENDPOINT_URL_S3 as string,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout + r.stderr, /1005 files: a job reads at most 1000 input files under its path/);
    assert.match(r.stdout + r.stderr, /1,005 records in 1,005 files/);
  });

  test('an emulated job over the 1,005 files fails on the 1,000-file quota', async () => {
    const p = new PersonalizeClient({
      endpoint: personalizeEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    });
    try {
      const { batchInferenceJobArn } = await p.send(
        new CreateBatchInferenceJobCommand({
          jobName: 'many-files',
          solutionVersionArn: 'arn:aws:personalize:us-east-1:123456789012:solution/demo/1',
          roleArn: 'arn:aws:iam::123456789012:role/PersonalizeBatch',
          jobInput: { s3DataSource: { path: `s3://${BUCKET}/many/` } },
          jobOutput: { s3DataDestination: { path: `s3://${BUCKET}/many-out/` } },
        }),
      );
      let job: BatchInferenceJob | undefined;
      while (job?.status !== 'ACTIVE' && job?.status !== 'CREATE FAILED') {
        await new Promise((r) => setTimeout(r, 20));
        job = (await p.send(new DescribeBatchInferenceJobCommand({ batchInferenceJobArn })))
          .batchInferenceJob;
      }
      assert.equal(job.status, 'CREATE FAILED');
      assert.match(String(job.failureReason), /more than 1000 input files under the input path/);
    } finally {
      p.destroy();
    }
  });
});
