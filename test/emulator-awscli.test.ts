import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runEmulate } from '../src/commands/emulate.js';
import { sink, useTmp, writeText } from './helpers.js';

// `personalize-batch emulate` against the AWS CLI, when one is installed
// (it is not a dependency): the CLI is a second, independent client of the
// wire protocol and of the printed environment.

const hasAws = spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0;
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
