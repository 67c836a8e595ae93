import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { PersonalizeClient } from '@aws-sdk/client-personalize';
import { type Emulator, startEmulator } from '../../../src/emulator/index.js';
import { emailListCsv } from '../../../src/sample.js';
import { runPipeline } from '../../../src/stages/run/index.js';
import type { PipelineFile } from '../../../src/stages/run/pipeline.js';
import { isAbortError, useTmp } from '../../helpers.js';

// runPipeline stopped by its signal: in prepare (a big input still being read) and while the
// jobs run; what it leaves, and a rerun that goes on from there paying for no job twice.

const BUCKET = 'work';
const SV = 'arn:aws:personalize:us-east-1:123456789012:solution/emails/1';
const ROLE = 'arn:aws:iam::123456789012:role/PersonalizeBatch';
const tmp = useTmp();
let emu: Emulator;
let serial = 0;

before(async () => {
  emu = await startEmulator({ buckets: [BUCKET], stepMs: 40, items: 100 });
});

after(async () => {
  await emu.close();
});

async function setup(rows: number, perShard: number): Promise<{ file: string; dir: string; prefix: string }> {
  const n = serial++;
  const dir = tmp.fresh(`run-${n}`);
  await mkdir(dir, { recursive: true });
  await pipeline(
    Readable.from(emailListCsv({ rows, duplicateRate: 0, badRows: 0, seed: rows })),
    createWriteStream(join(dir, 'emails.csv')),
  );
  const prefix = `ab${n}`;
  const p: PipelineFile = {
    version: 1,
    recipe: 'user-personalization',
    input: { sources: ['emails.csv'], column: 'user_id' },
    work: `s3://${BUCKET}/abort-${n}/`,
    shards: { maxRecords: perShard },
    jobs: {
      solutionVersionArn: SV,
      roleArn: ROLE,
      numResults: 5,
      jobNamePrefix: prefix,
      pollInterval: '40ms',
    },
    output: { dir: 'out' },
  };
  const file = join(dir, 'pipeline.json');
  await writeFile(file, JSON.stringify(p));
  return { file, dir, prefix };
}

const connect = () => ({
  s3: { endpoint: emu.s3Endpoint, credentials: { ...emu.credentials } },
  personalize: new PersonalizeClient({
    endpoint: emu.personalizeEndpoint,
    region: emu.region,
    credentials: { ...emu.credentials },
  }),
});

/** Every file under `dir`, relative, the pipeline's own two aside. */
async function filesUnder(dir: string): Promise<string[]> {
  const all = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  return all.filter((f) => f !== 'emails.csv' && f !== 'pipeline.json').sort();
}

test('an abort in prepare (input still being read) rejects with AbortError: no output, no temp file', async () => {
  const { file, dir } = await setup(400_000, 100_000);
  const ac = new AbortController();
  const c = connect();
  await assert.rejects(
    runPipeline({
      pipeline: file,
      ...c,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'progress' && e.stage === 'prepare' && e.records > 0) ac.abort();
      },
    }),
    isAbortError,
  );
  assert.deepEqual(await filesUnder(dir), []);
  c.personalize.destroy();
});

test('an abort while the jobs run rejects at once; the rerun finishes with one job per shard', async () => {
  const { file, dir, prefix } = await setup(2_000, 500);
  const ac = new AbortController();
  const c = connect();
  await assert.rejects(
    runPipeline({
      pipeline: file,
      ...c,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'job' && e.event.type === 'created') ac.abort();
      },
    }),
    isAbortError,
  );
  // prepare's rejects file is the finished step's; nothing of the steps after it.
  assert.deepEqual(await filesUnder(dir), [join('out', 'rejects.jsonl')]);
  const made = emu.jobs().filter((j) => j.jobName.startsWith(`${prefix}-`)).length;
  assert.ok(made >= 1 && made < 4, `${made} jobs before the abort`);
  const s = await runPipeline({ pipeline: file, ...c });
  const jobs = emu.jobs().filter((j) => j.jobName.startsWith(`${prefix}-`));
  assert.equal(jobs.length, 4, jobs.map((j) => j.jobName).join(' '));
  assert.deepEqual(s.resumed.includes('prepare'), true);
  assert.ok((await filesUnder(dir)).includes(join('out', 'summary.json')));
  c.personalize.destroy();
});
