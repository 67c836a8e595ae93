import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse/sync';
import { type Emulator, generateCatalog, startEmulator } from '../../../src/emulator/index.js';
import { openSource } from '../../../src/io/input.js';
import { configureS3, defaultS3Client } from '../../../src/io/s3.js';
import { emailListCsv } from '../../../src/sample.js';
import { runPipeline } from '../../../src/stages/run/index.js';
import type { PipelineFile } from '../../../src/stages/run/pipeline.js';
import { makeTmp, useTmp } from '../../helpers.js';
import { LOADER, PRELOAD, srcPath } from '../../paths.js';

// Shared by run.test.ts, run-resume.test.ts and run-demo.test.ts (files, so the runner runs them side
// by side): an emulator per test file, the pipeline folders, what the tests read back, and `run`
// killed as a child process and resumed.

export const BUCKET = 'work';
export const SV = 'arn:aws:personalize:us-east-1:123456789012:solution/emails/1';
export const ROLE = 'arn:aws:iam::123456789012:role/PersonalizeBatch';
export const ITEMS = 300;
export const tmp = useTmp();
export const root = fileURLToPath(new URL('../../..', import.meta.url));

export let emu: Emulator;
export let catalogFile: string;
let serial = 0;
let own: Awaited<ReturnType<typeof makeTmp>>;

before(async () => {
  own = await makeTmp();
  catalogFile = join(own.dir, 'items.csv');
  const c = generateCatalog(ITEMS);
  const names = c.column('ITEM_NAME') as readonly string[];
  // A title that looks like a formula: the export must neutralise it.
  await writeFile(
    catalogFile,
    `ITEM_ID,ITEM_NAME\n${c.ids.map((id, i) => `${id},${i === 0 ? '=HYPERLINK("x")' : names[i]}`).join('\n')}\n`,
  );
  emu = await startEmulator({ buckets: [BUCKET], stepMs: 40, catalog: catalogFile });
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  configureS3({ endpoint: emu.s3Endpoint, credentials: { ...emu.credentials }, region: emu.region });
});

after(async () => {
  defaultS3Client().destroy();
  await emu?.close();
  await own?.cleanup();
});

/** A folder with an e-mail list of `rows` rows (5% repeats, `bad` broken rows) and a pipeline file; its path. */
export async function setup(
  rows: number,
  edit: (p: PipelineFile) => void = () => {},
  bad = 3,
): Promise<{ dir: string; file: string; work: string; prefix: string }> {
  const n = serial++;
  const dir = tmp.fresh(`run-${n}`);
  await pipelineDir(dir, rows, bad);
  const prefix = `t${n}`;
  const work = `s3://${BUCKET}/run-${n}/`;
  const p: PipelineFile = {
    version: 1,
    recipe: 'user-personalization',
    input: { sources: ['emails.csv'], column: 'user_id' },
    work,
    shards: { maxRecords: Math.ceil(rows / 4) },
    jobs: {
      solutionVersionArn: SV,
      roleArn: ROLE,
      numResults: 5,
      jobNamePrefix: prefix,
      pollInterval: '40ms',
    },
    output: { dir: 'out', catalog: catalogFile, catalogColumns: ['ITEM_NAME'] },
  };
  edit(p);
  const file = join(dir, 'pipeline.json');
  await writeFile(file, JSON.stringify(p, null, 2));
  return { dir, file, work, prefix };
}

async function pipelineDir(dir: string, rows: number, bad: number): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await pipeline(
    Readable.from(emailListCsv({ rows, duplicateRate: 0.05, badRows: bad, seed: rows })),
    createWriteStream(join(dir, 'emails.csv')),
  );
}

export const connect = () => ({
  s3: { endpoint: emu.s3Endpoint, credentials: { ...emu.credentials }, region: emu.region },
  personalize: { endpoint: emu.personalizeEndpoint, credentials: { ...emu.credentials }, region: emu.region },
});

export const AWS_ARGS = () => [
  '--endpoint-url',
  emu.s3Endpoint,
  '--personalize-endpoint-url',
  emu.personalizeEndpoint,
];

export async function readText(uri: string): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of openSource(uri)) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

export function jobsOf(prefix: string) {
  return emu.jobs().filter((j) => j.jobName.startsWith(`${prefix}-`));
}

export async function keysUnder(uri: string): Promise<string[]> {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri) as RegExpExecArray;
  const r = await defaultS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
  return (r.Contents ?? []).map((c) => (c.Key as string).slice((key as string).length)).sort();
}

/** The oracle: user ids a straightforward CSV reading of the list keeps (4 fields, id 1..256 chars), first seen first. */
export async function expectedUsers(dir: string): Promise<string[]> {
  const rows = parseCsv(await readFile(join(dir, 'emails.csv')), { relax_column_count: true }) as string[][];
  const seen = new Set<string>();
  for (const r of rows.slice(1)) {
    const id = r[1] ?? '';
    if (r.length === 4 && id.length > 0 && id.length <= 256) seen.add(id);
  }
  return [...seen];
}

export function child(file: string): ChildProcess {
  return spawn(process.execPath, [...LOADER, ...PRELOAD, srcPath('src/bin.ts'), 'run', file], {
    cwd: root,
    env: { ...process.env, ...emu.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export async function finish(
  c: ChildProcess,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
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
export function uninterrupted(rows: number): Promise<{ dir: string }> {
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
export async function killAndResume(
  rows: number,
  when: (c: ChildProcess, ctx: { dir: string; work: string; prefix: string }) => Promise<void>,
  signal: 'SIGKILL' | 'SIGINT' = 'SIGKILL',
  afterKill: (killed: { code: number | null; stderr: string }, dir: string) => Promise<void> = async () => {},
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

export const poll = async (check: () => Promise<boolean>) => {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
};

/** `s3://bucket/key/` as the emulator's slowS3 fault sees it: `/bucket/key/`. */
export const s3Path = (uri: string) => uri.slice('s3:/'.length);

/** Waits until the export has its temporary file, the job outputs' reads held so that it is still at work. */
export async function duringExport(
  _c: ChildProcess,
  { dir, work }: { dir: string; work: string },
): Promise<void> {
  emu.injectFault({ slowS3: new RegExp(`^GET ${s3Path(work)}output/.*\\.out$`), slowS3Ms: 300 });
  await poll(async () => {
    const names = await readdir(join(dir, 'out')).catch(() => [] as string[]);
    return names.some((n) => n.startsWith('.recommendations.csv.tmp-'));
  });
  emu.injectFault({ slowS3: undefined });
}
