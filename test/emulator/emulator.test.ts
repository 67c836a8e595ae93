import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  type BatchInferenceJob,
  type BatchSegmentJob,
  CreateBatchInferenceJobCommand,
  type CreateBatchInferenceJobCommandInput,
  CreateBatchSegmentJobCommand,
  type CreateBatchSegmentJobCommandInput,
  DescribeBatchInferenceJobCommand,
  DescribeBatchSegmentJobCommand,
  InvalidInputException,
  InvalidNextTokenException,
  LimitExceededException,
  ListBatchInferenceJobsCommand,
  ListBatchSegmentJobsCommand,
  PersonalizeClient,
  paginateListBatchInferenceJobs,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
} from '@aws-sdk/client-personalize';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runEmulate } from '../../src/cli/commands/emulate.js';
import { generateCatalog, loadCatalog } from '../../src/emulator/catalog.js';
import { type Emulator, resolveEmulatorOptions, startEmulator } from '../../src/emulator/index.js';
import { PbError } from '../../src/errors.js';
import { makeS3Client } from '../../src/io/s3.js';
import { validator } from '../../src/schemas.js';
import { cli, prng, sink, useTmp, writeText } from '../helpers.js';
import { LOADER, srcPath } from '../paths.js';

// The emulator through the real AWS SDK clients over HTTP: nothing mocked.

const BUCKET = 'personalize-batch-demo';
const ROLE = 'arn:aws:iam::123456789012:role/PersonalizeBatch';
const sv = (name: string) => `arn:aws:personalize:us-east-1:123456789012:solution/${name}/1`;
const tmp = useTmp();

interface Env {
  emu: Emulator;
  p: PersonalizeClient;
  s3: S3Client;
}

async function open(options: Parameters<typeof startEmulator>[0]): Promise<Env> {
  const emu = await startEmulator(options);
  return { emu, p: personalize(emu.personalizeEndpoint), s3: s3For(emu.s3Endpoint) };
}

async function shut(e: Env | undefined): Promise<void> {
  if (!e) return;
  e.p.destroy();
  e.s3.destroy();
  await e.emu.close();
}

function personalize(endpoint: string, extra: Record<string, unknown> = {}): PersonalizeClient {
  return new PersonalizeClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'any', secretAccessKey: 'any' },
    maxAttempts: 1,
    ...extra,
  });
}

function s3For(endpoint: string): S3Client {
  return makeS3Client({ endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
}

async function put(e: Env, key: string, body: string, bucket = BUCKET): Promise<void> {
  await e.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body) }),
  );
}

async function get(e: Env, key: string): Promise<string> {
  const r = await e.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await r.Body?.transformToString('utf8')) ?? '';
}

async function keysUnder(e: Env, prefix: string): Promise<string[]> {
  const r = await e.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((c) => c.Key as string).sort();
}

function inference(
  name: string,
  input: string,
  output: string,
  extra: Partial<CreateBatchInferenceJobCommandInput> = {},
): CreateBatchInferenceJobCommandInput {
  return {
    jobName: name,
    solutionVersionArn: sv('user-model'),
    roleArn: ROLE,
    jobInput: { s3DataSource: { path: `s3://${BUCKET}/${input}` } },
    jobOutput: { s3DataDestination: { path: `s3://${BUCKET}/${output}` } },
    ...extra,
  };
}

function segment(
  name: string,
  input: string,
  output: string,
  extra: Partial<CreateBatchSegmentJobCommandInput> = {},
): CreateBatchSegmentJobCommandInput {
  return {
    jobName: name,
    solutionVersionArn: sv('item-affinity-model'),
    roleArn: ROLE,
    jobInput: { s3DataSource: { path: `s3://${BUCKET}/${input}` } },
    jobOutput: { s3DataDestination: { path: `s3://${BUCKET}/${output}` } },
    ...extra,
  };
}

const TERMINAL = new Set(['ACTIVE', 'CREATE FAILED']);

/** Creates an inference job and polls Describe until it is ACTIVE or CREATE FAILED. */
async function runInference(e: Env, input: CreateBatchInferenceJobCommandInput): Promise<BatchInferenceJob> {
  const { batchInferenceJobArn: arn } = await e.p.send(new CreateBatchInferenceJobCommand(input));
  assert.ok(arn);
  for (;;) {
    const j = (await e.p.send(new DescribeBatchInferenceJobCommand({ batchInferenceJobArn: arn })))
      .batchInferenceJob as BatchInferenceJob;
    if (TERMINAL.has(j.status as string)) return j;
    await sleep(5);
  }
}

async function runSegment(e: Env, input: CreateBatchSegmentJobCommandInput): Promise<BatchSegmentJob> {
  const { batchSegmentJobArn: arn } = await e.p.send(new CreateBatchSegmentJobCommand(input));
  assert.ok(arn);
  for (;;) {
    const j = (await e.p.send(new DescribeBatchSegmentJobCommand({ batchSegmentJobArn: arn })))
      .batchSegmentJob as BatchSegmentJob;
    if (TERMINAL.has(j.status as string)) return j;
    await sleep(5);
  }
}

/** The CLI as a user starts it: plain node (tsx only to load TypeScript), no OpenSSL or other flags. */
const NODE_ARGS = LOADER;

async function runChild(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const jsonl = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
const linesOf = (text: string) => text.split('\n').filter((l) => l !== '');

/** An output line as the tests read it; its shape is checked against schemas/ separately (null output on error lines). */
interface Line {
  input: { userId?: string; itemId?: string; itemList?: string[]; itemAttributes?: string };
  output: {
    recommendedItems: string[];
    scores?: number[];
    theme: string;
    itemsThemeRelevanceScores: number[];
    usersList: string[];
    recommendedUsers: string[];
  };
  error?: string | null;
  itemAttributes?: string;
}
const parse = (text: string) => linesOf(text).map((l) => JSON.parse(l) as Line);

function assertSchema(file: string, lines: unknown[]): void {
  const validate = validator(file);
  for (const l of lines)
    assert.ok(validate(l), `${JSON.stringify(l)} vs ${file}: ${JSON.stringify(validate.errors)}`);
}

/** Sorted copies, to compare multisets. */
const sorted = (xs: string[]) => [...xs].sort();

async function rejects(p: Promise<unknown>): Promise<Error & { name: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected the call to fail');
}

describe('emulated batch inference jobs', () => {
  let e: Env;
  before(async () => {
    e = await open({ stepMs: 20, maxRunning: 50 });
  });
  after(() => shut(e));

  const rand = prng(11);
  const users = Array.from({ length: 250 }, (_, i) => ({ userId: `u-${i}-${Math.floor(rand() * 1e6)}` }));
  const fileA = jsonl(users.slice(0, 180));
  const fileB = jsonl(users.slice(180)).replace(/\n/g, '\r\n');

  test('a user-personalization job goes PENDING -> IN_PROGRESS -> ACTIVE and writes .out files and _CHECK', async () => {
    await put(e, 'up/in/a.jsonl', fileA);
    await put(e, 'up/in/b.jsonl', fileB);
    await put(e, 'up/in/empty/', '');
    await put(e, 'up/in/zero.jsonl', '');
    const job = await runInference(e, inference('up-1', 'up/in/', 'up/out/'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    assert.equal(job.jobName, 'up-1');
    assert.equal(
      job.batchInferenceJobArn,
      'arn:aws:personalize:us-east-1:123456789012:batch-inference-job/up-1',
    );
    assert.equal(job.numResults, 250, 'numResults counts the output lines');
    assert.equal(job.batchInferenceJobMode, 'BATCH_INFERENCE');
    assert.equal(job.roleArn, ROLE);
    assert.deepEqual(job.jobInput, { s3DataSource: { path: `s3://${BUCKET}/up/in/` } });
    assert.ok(job.creationDateTime instanceof Date && job.lastUpdatedDateTime instanceof Date);
    assert.ok((job.lastUpdatedDateTime as Date) >= (job.creationDateTime as Date));
    const seen = e.emu.jobs().find((j) => j.jobName === 'up-1');
    assert.deepEqual(
      seen?.history.map((h) => h.status),
      ['CREATE PENDING', 'CREATE IN_PROGRESS', 'ACTIVE'],
    );
    assert.equal(seen?.family, 'user-personalization');
    // zero-byte objects (a folder marker, an empty file) are not input
    assert.deepEqual(await keysUnder(e, 'up/out/'), [
      'up/out/_CHECK',
      'up/out/a.jsonl.out',
      'up/out/b.jsonl.out',
    ]);

    for (const [name, source] of [
      ['a', fileA],
      ['b', fileB],
    ] as const) {
      const text = await get(e, `up/out/${name}.jsonl.out`);
      const out = parse(text);
      const inputs = linesOf(source.replace(/\r/g, ''));
      assert.deepEqual(
        sorted(out.map((l) => JSON.stringify(l.input))),
        sorted(inputs),
        'every input line is echoed exactly once',
      );
      assert.notDeepEqual(
        out.map((l) => JSON.stringify(l.input)),
        inputs,
        'lines come back shuffled',
      );
      assertSchema('output-recommendations.schema.json', out);
      for (const l of out) {
        assert.equal(l.error, null);
        const items = l.output.recommendedItems as string[];
        const scores = l.output.scores as number[];
        assert.equal(items.length, 25, 'numResults defaults to 25');
        assert.equal(new Set(items).size, 25);
        for (const it of items) assert.ok(e.emu.catalog.ids.includes(it), `${it} is from the catalog`);
        assert.equal(scores.length, 25);
        for (let i = 1; i < scores.length; i++) assert.ok((scores[i] as number) <= (scores[i - 1] as number));
        assert.ok(scores.every((s) => s > 0));
        assert.ok(scores.reduce((a, b) => a + b, 0) < 1, 'the top 25 of 1000 hold part of the mass');
      }
      assert.match(text, /\d\.\d+E-\d/, 'small scores are written in E-notation like the service');
    }
  });

  test('the same input gives byte-identical output on a second run', async () => {
    const job = await runInference(e, inference('up-2', 'up/in/', 'up/out-again/'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    for (const f of ['a.jsonl.out', 'b.jsonl.out']) {
      assert.equal(await get(e, `up/out-again/${f}`), await get(e, `up/out/${f}`));
    }
  });

  test('lines are shuffled within blocks of 10000, so memory stays bounded; 12000 lines take two blocks', async () => {
    const many = Array.from({ length: 12_000 }, (_, i) => `{"userId":"big-${i}"}`);
    await put(e, 'many/in.jsonl', `${many.join('\n')}\n`);
    const job = await runInference(e, inference('many', 'many/', 'many-out/'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    const text = await get(e, 'many-out/in.jsonl.out');
    assert.ok(text.length > 5 * 1024 * 1024, 'big enough for a multipart upload');
    const echoed = parse(text).map((l) => JSON.stringify(l.input));
    assert.equal(echoed.length, 12_000);
    assert.deepEqual(sorted(echoed.slice(0, 10_000)), sorted(many.slice(0, 10_000)));
    assert.deepEqual(sorted(echoed.slice(10_000)), sorted(many.slice(10_000)));
    assert.notDeepEqual(echoed.slice(10_000), many.slice(10_000));
  });

  test('numResults is honoured', async () => {
    await put(e, 'few/in.jsonl', jsonl(users.slice(0, 20)));
    const job = await runInference(e, inference('few', 'few/', 'few-out/', { numResults: 3 }));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    for (const l of parse(await get(e, 'few-out/in.jsonl.out')))
      assert.equal(l.output.recommendedItems.length, 3);
  });

  test('the input path is a prefix, as in the service: s3://b/folder also takes folder_test/', async () => {
    await put(e, 'pfx/data/x.jsonl', jsonl(users.slice(0, 3)));
    await put(e, 'pfx/data_test/y.jsonl', jsonl(users.slice(3, 5)));
    await put(e, 'pfx/other/z.jsonl', jsonl(users.slice(5, 6)));
    const job = await runInference(e, inference('pfx', 'pfx/data', 'pfx-out'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    assert.equal(job.numResults, 5);
    assert.deepEqual(await keysUnder(e, 'pfx-out/'), [
      'pfx-out/_CHECK',
      'pfx-out/x.jsonl.out',
      'pfx-out/y.jsonl.out',
    ]);
  });

  test('records the service would reject become error lines; the rest go on', async () => {
    const lines = [
      '{"userId":"fine"}',
      '{"userId":5}',
      '{"user":"x"}',
      '{"userId":""}',
      '{"userId":"a","extra":1}',
      '[1,2]',
      `{"userId":"${'x'.repeat(257)}"}`,
    ];
    await put(e, 'bad/in.jsonl', `${lines.join('\n')}\n`);
    const job = await runInference(e, inference('bad-records', 'bad/', 'bad-out/'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    assert.equal(job.numResults, 7, 'error lines count in numResults');
    const out = parse(await get(e, 'bad-out/in.jsonl.out'));
    const byInput = new Map(out.map((l) => [JSON.stringify(l.input), l]));
    assert.equal(byInput.get('{"userId":"fine"}')?.error, null);
    const expect: [string, RegExp][] = [
      ['{"userId":5}', /userId: must be a string/],
      ['{"user":"x"}', /userId: missing/],
      ['{"userId":""}', /userId: empty/],
      ['{"userId":"a","extra":1}', /extra: not a field/],
      ['[1,2]', /must be a JSON object/],
      [lines[6] as string, /userId: longer than 256/],
    ];
    for (const [input, reason] of expect) {
      const l = byInput.get(input);
      assert.equal(l?.output, null, input);
      assert.match(String(l?.error), reason);
    }
    // (the schema wants a string key in the echoed input, which these records lack)
    assertSchema(
      'output-recommendations.schema.json',
      out.filter((l) => typeof l.input.userId === 'string'),
    );
    assert.equal(e.emu.jobs().find((j) => j.jobName === 'bad-records')?.errorLines, 6);
  });

  test('Popularity-Count: the same popular items for everyone, no scores, no error key', async () => {
    await put(e, 'pop/in.jsonl', jsonl(users.slice(0, 30)));
    const job = await runInference(
      e,
      inference('pop', 'pop/', 'pop-out/', { solutionVersionArn: sv('popularity-count') }),
    );
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    const out = parse(await get(e, 'pop-out/in.jsonl.out'));
    assertSchema('output-recommendations.schema.json', out);
    const first = JSON.stringify(out[0]?.output.recommendedItems);
    for (const l of out) {
      assert.equal(JSON.stringify(l.output.recommendedItems), first);
      assert.equal(l.output.scores, undefined);
      assert.ok(!('error' in l), 'the docs example has no error key');
    }
  });

  test('related items (SIMS): itemId input, no scores, never the item itself', async () => {
    const items = e.emu.catalog.ids.slice(0, 40).map((itemId) => ({ itemId }));
    await put(e, 'sims/in.jsonl', jsonl(items));
    const job = await runInference(
      e,
      inference('sims', 'sims/', 'sims-out/', { solutionVersionArn: sv('my-sims') }),
    );
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    const out = parse(await get(e, 'sims-out/in.jsonl.out'));
    assert.equal(out.length, 40);
    assertSchema('output-recommendations.schema.json', out);
    for (const l of out) {
      assert.equal(l.output.scores, undefined);
      assert.ok(!l.output.recommendedItems.includes(l.input.itemId as string));
      assert.equal(l.output.recommendedItems.length, 25);
    }
  });

  test('personalized ranking: the itemList re-ordered; unknown items score 0 and come last', async () => {
    const ids = e.emu.catalog.ids;
    const records = Array.from({ length: 20 }, (_, i) => ({
      userId: `r-${i}`,
      itemList: [ids[i] as string, 'not-in-catalog', ids[i + 1] as string, ids[i + 50] as string],
    }));
    await put(e, 'rank/in.jsonl', jsonl(records));
    const job = await runInference(e, inference('rank', 'rank/', 'rank-out/'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    assert.equal(e.emu.jobs().find((j) => j.jobName === 'rank')?.family, 'personalized-ranking');
    const out = parse(await get(e, 'rank-out/in.jsonl.out'));
    assertSchema('output-ranking.schema.json', out);
    for (const l of out) {
      const got = l.output.recommendedItems as string[];
      assert.deepEqual(sorted(got), sorted(l.input.itemList ?? []));
      assert.equal(got[3], 'not-in-catalog');
      const scores = l.output.scores as number[];
      assert.equal(scores[3], 0);
      const known = scores.slice(0, 3);
      assert.ok(Math.abs(known.reduce((a, b) => a + b, 0) - 1) < 0.01, 'known items share the mass');
      assert.ok((known[0] as number) >= (known[1] as number) && (known[1] as number) >= (known[2] as number));
    }
  });

  test('THEME_GENERATION: a theme from the item-name column and relevance scores', async () => {
    const ids = e.emu.catalog.ids;
    const names = e.emu.catalog.column('ITEM_NAME') as readonly string[];
    await put(e, 'theme/in.jsonl', jsonl(ids.slice(0, 10).map((itemId) => ({ itemId }))));
    const job = await runInference(
      e,
      inference('themes', 'theme/', 'theme-out/', {
        solutionVersionArn: sv('similar-items'),
        batchInferenceJobMode: 'THEME_GENERATION',
        themeGenerationConfig: { fieldsForThemeGeneration: { itemName: 'ITEM_NAME' } },
        numResults: 8,
      }),
    );
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    assert.equal(job.batchInferenceJobMode, 'THEME_GENERATION');
    assert.deepEqual(job.themeGenerationConfig, { fieldsForThemeGeneration: { itemName: 'ITEM_NAME' } });
    const out = parse(await get(e, 'theme-out/in.jsonl.out'));
    assertSchema('output-themes.schema.json', out);
    for (const l of out) {
      const name = names[ids.indexOf(l.input.itemId as string)] as string;
      assert.ok(l.output.theme.includes(name), `${l.output.theme} names ${name}`);
      assert.equal(l.output.recommendedItems.length, 8);
      assert.equal(l.output.itemsThemeRelevanceScores.length, 8);
      assert.equal(l.output.scores, undefined);
    }
  });

  test('jobs that the service would fail end CREATE FAILED with a reason, and write nothing', async () => {
    await put(e, 'nonjson/ok.jsonl', '{"userId":"1"}\n');
    await put(e, 'nonjson/bad.jsonl', '{"userId":"1"}\n\n{"userId":"2"\n');
    await put(e, 'bom/in.jsonl', '\ufeff{"userId":"1"}\n');
    await put(
      e,
      'attr/in.jsonl',
      jsonl(Array.from({ length: 11 }, (_, i) => ({ itemAttributes: `ITEMS.genre = "g${i}"` }))),
    );
    await put(
      e,
      'many-themes/in.jsonl',
      jsonl(Array.from({ length: 101 }, (_, i) => ({ itemId: e.emu.catalog.ids[i] }))),
    );
    await put(e, 'dup/one/in.jsonl', '{"userId":"1"}\n');
    await put(e, 'dup/two/in.jsonl', '{"userId":"2"}\n');
    const themes = {
      solutionVersionArn: sv('similar-items'),
      batchInferenceJobMode: 'THEME_GENERATION' as const,
      themeGenerationConfig: { fieldsForThemeGeneration: { itemName: 'ITEM_NAME' } },
    };
    const cases: [string, Promise<{ status?: string; failureReason?: string }>, RegExp][] = [
      [
        'missing',
        runInference(e, inference('f-missing', 'nothing-here/', 'f1/')),
        /s3:\/\/personalize-batch-demo\/nothing-here\/: no input data/,
      ],
      [
        'not JSON',
        runInference(e, inference('f-json', 'nonjson/', 'f2/')),
        /s3:\/\/personalize-batch-demo\/nonjson\/bad\.jsonl:3: not JSON/,
      ],
      [
        'BOM',
        runInference(e, inference('f-bom', 'bom/', 'f3/')),
        /bom\/in\.jsonl:1: not JSON: the file starts with a byte order mark/,
      ],
      [
        '11 attribute queries',
        runSegment(
          e,
          segment('f-attr', 'attr/', 'f4/', { solutionVersionArn: sv('item-attribute-affinity') }),
        ),
        /attr\/in\.jsonl: 11 records; the limit is 10 Item-Attribute-Affinity queries per input file/,
      ],
      [
        '101 theme records',
        runInference(e, inference('f-themes', 'many-themes/', 'f5/', themes)),
        /101 records; the limit is 100 records with themes/,
      ],
      [
        'no such column',
        runInference(
          e,
          inference('f-col', 'theme/', 'f6/', {
            ...themes,
            themeGenerationConfig: { fieldsForThemeGeneration: { itemName: 'TITLE' } },
          }),
        ),
        /no column TITLE \(columns: ITEM_ID, ITEM_NAME, GENRE, CREATION_TIMESTAMP\)/,
      ],
      [
        'no output bucket',
        runInference(e, {
          ...inference('f-bucket', 'up/in/', 'x/'),
          jobOutput: { s3DataDestination: { path: 's3://no-such-bucket/out/' } },
        }),
        /s3:\/\/no-such-bucket\/out\/: no such bucket/,
      ],
      [
        'same base name twice',
        runInference(e, inference('f-dup', 'dup/', 'f8/')),
        /would both write in\.jsonl\.out/,
      ],
      [
        'segment recipe in an inference job',
        runInference(e, inference('f-kind', 'up/in/', 'f9/', { solutionVersionArn: sv('item-affinity') })),
        /use a batch segment job/,
      ],
    ];
    for (const [what, job, reason] of cases) {
      const j = await job;
      assert.equal(j.status, 'CREATE FAILED', what);
      assert.match(String(j.failureReason), reason, what);
    }
    for (const prefix of ['f1/', 'f2/', 'f3/', 'f4/', 'f5/', 'f6/', 'f8/', 'f9/']) {
      assert.deepEqual(await keysUnder(e, prefix), [], `a failed job writes nothing (${prefix})`);
    }
  });

  test('segment jobs: Item-Affinity and Item-Attribute-Affinity write usersList from the user population', async () => {
    const items = e.emu.catalog.ids.slice(0, 12).map((itemId) => ({ itemId }));
    await put(e, 'seg/items.jsonl', jsonl(items));
    const job = await runSegment(e, segment('seg-items', 'seg/items', 'seg-out/', { numResults: 7 }));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    assert.equal(
      job.batchSegmentJobArn,
      'arn:aws:personalize:us-east-1:123456789012:batch-segment-job/seg-items',
    );
    assert.equal(job.numResults, 7, 'users per line');
    assert.ok(!('batchInferenceJobMode' in job));
    const out = parse(await get(e, 'seg-out/items.jsonl.out'));
    assertSchema('output-segment.schema.json', out);
    assert.equal(out.length, 12);
    for (const l of out) {
      assert.equal(l.error, null);
      assert.equal(l.output.usersList.length, 7);
      for (const u of l.output.usersList) assert.match(u, /^user-\d{6}$/);
    }

    await put(
      e,
      'seg/attrs.jsonl',
      jsonl([{ itemAttributes: 'ITEMS.genre = "comedy"' }, { itemAttributes: 'ITEMS.genre IN ("a")' }]),
    );
    const attrs = await runSegment(
      e,
      segment('seg-attrs', 'seg/attrs', 'seg-out2/', { solutionVersionArn: sv('attribute-affinity') }),
    );
    assert.equal(attrs.status, 'ACTIVE', attrs.failureReason);
    const out2 = parse(await get(e, 'seg-out2/attrs.jsonl.out'));
    assertSchema('output-segment.schema.json', out2);
    const good = out2.find((l) => l.error === null);
    assert.equal(good?.output.usersList.length, 25, 'segments default to 25 users');
    const bad = out2.find((l) => l.error !== null);
    assert.match(String(bad?.error), /only = is allowed/);
  });

  test('the per-file query quota is per file: 25 attribute queries in files of 10, 10 and 5 are one job, one .out each', async () => {
    const q = (i: number) => ({ itemAttributes: `ITEMS.genre = "g${i}"` });
    const all = Array.from({ length: 25 }, (_, i) => q(i));
    for (const [k, part] of [all.slice(0, 10), all.slice(10, 20), all.slice(20)].entries())
      await put(e, `seg/multi/input-0000${k}.jsonl`, jsonl(part));
    const job = await runSegment(
      e,
      segment('seg-multi', 'seg/multi/', 'seg-multi-out/', { solutionVersionArn: sv('attribute-affinity') }),
    );
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    const outs = (await keysUnder(e, 'seg-multi-out/')).filter((k) => k.endsWith('.out'));
    assert.equal(outs.length, 3);
    const lines = [];
    for (const k of outs) lines.push(...parse(await get(e, k)));
    assert.deepEqual(
      lines.map((l) => JSON.stringify(l.input)).sort(),
      all.map((x) => JSON.stringify(x)).sort(),
    );
    assert.ok(lines.every((l) => l.error === null));
  });
});

describe('the Personalize API surface', () => {
  let e: Env;
  before(async () => {
    e = await open({ stepMs: 20, maxRunning: 50 });
    await put(e, 'api/in.jsonl', '{"userId":"1"}\n');
  });
  after(() => shut(e));

  test('a reused job name is ResourceAlreadyExistsException; the other job type has its own names', async () => {
    await e.p.send(new CreateBatchInferenceJobCommand(inference('twice', 'api/', 'api-out/')));
    const err = await rejects(
      e.p.send(new CreateBatchInferenceJobCommand(inference('twice', 'api/', 'api-out2/'))),
    );
    assert.ok(err instanceof ResourceAlreadyExistsException, err.name);
    assert.match(err.message, /batch-inference-job\/twice already exists/);
    const seg = await e.p.send(new CreateBatchSegmentJobCommand(segment('twice', 'api/', 'api-seg/')));
    assert.match(String(seg.batchSegmentJobArn), /batch-segment-job\/twice$/);
  });

  test('an unknown ARN is ResourceNotFoundException, for either job type', async () => {
    const unknown = 'arn:aws:personalize:us-east-1:123456789012:batch-inference-job/never';
    const err = await rejects(
      e.p.send(new DescribeBatchInferenceJobCommand({ batchInferenceJobArn: unknown })),
    );
    assert.ok(err instanceof ResourceNotFoundException, err.name);
    const known = 'arn:aws:personalize:us-east-1:123456789012:batch-inference-job/twice';
    const cross = await rejects(e.p.send(new DescribeBatchSegmentJobCommand({ batchSegmentJobArn: known })));
    assert.ok(cross instanceof ResourceNotFoundException, cross.name);
  });

  test('requests that break the model are InvalidInputException naming the field', async () => {
    const base = inference('valid-name', 'api/', 'api-out/');
    const cases: [Partial<CreateBatchInferenceJobCommandInput>, RegExp][] = [
      [
        { jobName: 'has space' },
        /at 'jobName' failed to satisfy constraint: Member must satisfy regular expression/,
      ],
      [{ jobName: '-leading-dash' }, /'jobName'/],
      [
        { jobName: 'x'.repeat(64) },
        /'jobName' failed to satisfy constraint: Member must have length less than or equal to 63/,
      ],
      [{ jobName: '' }, /'jobName'.*greater than or equal to 1/],
      [{ roleArn: 'PersonalizeRole' }, /'roleArn'/],
      [{ solutionVersionArn: 'arn:aws:s3:::bucket' }, /'solutionVersionArn'/],
      [{ filterArn: 'x'.repeat(300) }, /'filterArn'/],
      [{ numResults: 0 }, /'numResults'.*greater than or equal to 1/],
      [{ jobInput: { s3DataSource: { path: 'ftp://b/k' } } }, /'jobInput.s3DataSource.path'/],
      [
        { jobOutput: { s3DataDestination: { path: 's3://b/o/', kmsKeyArn: 'not-a-key' } } },
        /'jobOutput.s3DataDestination.kmsKeyArn'/,
      ],
      [
        { tags: Array.from({ length: 201 }, (_, i) => ({ tagKey: `k${i}`, tagValue: 'v' })) },
        /'tags'.*less than or equal to 200/,
      ],
      [{ tags: [{ tagKey: '', tagValue: 'v' }] }, /'tags.1.member.tagKey'/],
      [{ batchInferenceJobMode: 'SOMETIMES' as 'THEME_GENERATION' }, /'batchInferenceJobMode'.*enum/],
      [{ batchInferenceJobMode: 'THEME_GENERATION' }, /themeGenerationConfig .* is required/],
      [{ themeGenerationConfig: { fieldsForThemeGeneration: { itemName: '1bad' } } }, /itemName/],
      [{ batchInferenceJobConfig: { rankingInfluence: { POPULARITY: 2 } } }, /rankingInfluence.POPULARITY/],
    ];
    for (const [change, message] of cases) {
      const err = await rejects(e.p.send(new CreateBatchInferenceJobCommand({ ...base, ...change })));
      assert.ok(err instanceof InvalidInputException, `${JSON.stringify(change).slice(0, 80)}: ${err.name}`);
      assert.match(err.message, message);
    }
    assert.ok(!e.emu.jobs().some((j) => j.jobName === 'valid-name'), 'no job was made');
    const ok = await e.p.send(
      new CreateBatchInferenceJobCommand({
        ...base,
        numResults: 5,
        filterArn: 'arn:aws:personalize:us-east-1:123456789012:filter/f',
        batchInferenceJobConfig: {
          itemExplorationConfig: { explorationWeight: '0.3' },
          rankingInfluence: { FRESHNESS: 0.5 },
        },
        tags: [{ tagKey: 'team', tagValue: 'growth' }],
        jobInput: {
          s3DataSource: {
            path: `s3://${BUCKET}/api/`,
            kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/abc',
          },
        },
      }),
    );
    const d = await e.p.send(
      new DescribeBatchInferenceJobCommand({ batchInferenceJobArn: ok.batchInferenceJobArn }),
    );
    assert.deepEqual(d.batchInferenceJob?.batchInferenceJobConfig, {
      itemExplorationConfig: { explorationWeight: '0.3' },
      rankingInfluence: { FRESHNESS: 0.5 },
    });
    assert.equal(d.batchInferenceJob?.filterArn, 'arn:aws:personalize:us-east-1:123456789012:filter/f');
    assert.equal(d.batchInferenceJob?.numResults, 5, 'numResults as requested until the job is ACTIVE');
  });

  test('List pages newest first with nextToken, filters by solution version, and new jobs do not shift pages', async () => {
    for (const n of ['la-1', 'la-2', 'la-3']) {
      await e.p.send(
        new CreateBatchInferenceJobCommand(
          inference(n, 'api/', `${n}/`, { solutionVersionArn: sv('list-a') }),
        ),
      );
    }
    for (const n of ['lb-1', 'lb-2']) {
      await e.p.send(
        new CreateBatchInferenceJobCommand(
          inference(n, 'api/', `${n}/`, { solutionVersionArn: sv('list-b') }),
        ),
      );
    }
    const page1 = await e.p.send(
      new ListBatchInferenceJobsCommand({ solutionVersionArn: sv('list-a'), maxResults: 2 }),
    );
    assert.deepEqual(
      page1.batchInferenceJobs?.map((j) => j.jobName),
      ['la-3', 'la-2'],
    );
    assert.ok(page1.nextToken);
    await e.p.send(
      new CreateBatchInferenceJobCommand(
        inference('la-4', 'api/', 'la-4/', { solutionVersionArn: sv('list-a') }),
      ),
    );
    const page2 = await e.p.send(
      new ListBatchInferenceJobsCommand({
        solutionVersionArn: sv('list-a'),
        maxResults: 2,
        nextToken: page1.nextToken,
      }),
    );
    assert.deepEqual(
      page2.batchInferenceJobs?.map((j) => j.jobName),
      ['la-1'],
    );
    assert.equal(page2.nextToken, undefined);
    const s = page2.batchInferenceJobs?.[0];
    assert.equal(s?.solutionVersionArn, sv('list-a'));
    assert.equal(s?.batchInferenceJobMode, 'BATCH_INFERENCE');
    assert.ok(s?.creationDateTime instanceof Date);

    const names: string[] = [];
    for await (const page of paginateListBatchInferenceJobs({ client: e.p, pageSize: 2 }, {})) {
      assert.ok((page.batchInferenceJobs?.length ?? 0) <= 2);
      for (const j of page.batchInferenceJobs ?? []) names.push(j.jobName as string);
    }
    assert.equal(new Set(names).size, names.length, 'no job twice');
    for (const n of ['la-1', 'la-2', 'la-3', 'la-4', 'lb-1', 'lb-2', 'twice'])
      assert.ok(names.includes(n), n);
    assert.deepEqual(names.slice(0, 1), ['la-4']);

    const segs = await e.p.send(new ListBatchSegmentJobsCommand({}));
    assert.deepEqual(
      segs.batchSegmentJobs?.map((j) => j.jobName),
      ['twice'],
    );
  });

  test('List refuses bad maxResults and tokens it did not issue', async () => {
    for (const maxResults of [0, 101]) {
      const err = await rejects(e.p.send(new ListBatchInferenceJobsCommand({ maxResults })));
      assert.ok(err instanceof InvalidInputException, err.name);
      assert.match(err.message, /'maxResults'/);
    }
    const bogus = await rejects(e.p.send(new ListBatchInferenceJobsCommand({ nextToken: 'not-a-token' })));
    assert.ok(bogus instanceof InvalidNextTokenException, bogus.name);
    const a = await e.p.send(
      new ListBatchInferenceJobsCommand({ solutionVersionArn: sv('list-a'), maxResults: 1 }),
    );
    const other = await rejects(
      e.p.send(
        new ListBatchInferenceJobsCommand({ solutionVersionArn: sv('list-b'), nextToken: a.nextToken }),
      ),
    );
    assert.ok(other instanceof InvalidNextTokenException, 'a token belongs to its filter');
  });

  test('the wire: unknown operations, bodies that are not JSON, other methods', async () => {
    const call = (target: string | undefined, body: string, method = 'POST') =>
      fetch(`${e.emu.personalizeEndpoint}/`, {
        method,
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          ...(target ? { 'x-amz-target': target } : {}),
        },
        body: method === 'POST' ? body : undefined,
      });
    const unknown = await call('AmazonPersonalize.CreateCampaign', '{}');
    assert.equal(unknown.status, 400);
    const u = (await unknown.json()) as { __type: string; message: string };
    assert.equal(u.__type, 'UnknownOperationException');
    assert.match(u.message, /CreateCampaign is not emulated.*CreateBatchInferenceJob/);
    const broken = await call('AmazonPersonalize.ListBatchInferenceJobs', '{"maxResults":');
    assert.equal(broken.status, 400);
    assert.equal(((await broken.json()) as { __type: string }).__type, 'SerializationException');
    const noTarget = await call(undefined, '{}');
    assert.equal(((await noTarget.json()) as { __type: string }).__type, 'UnknownOperationException');
    const viaGet = await call('AmazonPersonalize.ListBatchInferenceJobs', '', 'GET');
    assert.equal(viaGet.status, 400);
    await viaGet.arrayBuffer();
    const typo = await call('AmazonPersonalize.CreateBatchInferenceJob', '{"jobNme":"x"}');
    const t = (await typo.json()) as { __type: string; message: string };
    assert.equal(t.__type, 'InvalidInputException');
    assert.match(t.message, /Unknown field 'jobNme'/, 'a field the model lacks is pointed out, not ignored');
    const bare = await call('AmazonPersonalize.CreateBatchSegmentJob', '{}');
    assert.match(
      ((await bare.json()) as { message: string }).message,
      /Value null at 'jobName' .*must not be null/,
    );
    const empty = await call('AmazonPersonalize.ListBatchSegmentJobs', '');
    assert.equal(empty.status, 200, 'an empty body is an empty request');
    assert.equal(empty.headers.get('content-type'), 'application/x-amz-json-1.1');
    assert.ok(Array.isArray(((await empty.json()) as { batchSegmentJobs: unknown[] }).batchSegmentJobs));
  });
});

describe('quota, faults, hooks and options', () => {
  let e: Env;
  let items: string;
  before(async () => {
    items = await writeText(
      tmp.fresh('items.csv'),
      'ITEM_ID,TITLE,GENRE\nA1,"Dune, Part One",scifi\nA2,Arrival,scifi\nA2,Duplicate,x\nA3,Heat,crime\nA4,Up,family\n',
    );
    e = await open({
      stepMs: 20,
      maxRunning: 2,
      statusSpelling: 'model',
      segmentLayout: 'documented',
      catalog: items,
      quotas: { maxFiles: 2, maxBytes: 2000 },
    });
    await put(e, 'q/in.jsonl', '{"userId":"1"}\n{"userId":"2"}\n');
  });
  after(() => shut(e));

  test('more than maxRunning pending or in-progress jobs of a type is LimitExceededException; a slot frees when one ends', async () => {
    e.emu.injectFault({ slowJobs: /^held-/, slowMs: Number.POSITIVE_INFINITY });
    const a = await e.p.send(new CreateBatchInferenceJobCommand(inference('held-1', 'q/', 'held-1/')));
    await e.p.send(new CreateBatchInferenceJobCommand(inference('held-2', 'q/', 'held-2/')));
    const err = await rejects(
      e.p.send(new CreateBatchInferenceJobCommand(inference('held-3', 'q/', 'held-3/'))),
    );
    assert.ok(err instanceof LimitExceededException, err.name);
    assert.match(err.message, /2 batch inference jobs are already pending or in progress; the limit is 2/);
    // the segment quota is separate
    await put(e, 'q-items/in.jsonl', '{"itemId":"A1"}\n');
    const seg = await runSegment(e, segment('seg-free', 'q-items/', 'seg-free/'));
    assert.equal(seg.status, 'ACTIVE', seg.failureReason);
    // held: IN PROGRESS (the model's spelling) until the fault is lifted
    for (;;) {
      const d = await e.p.send(
        new DescribeBatchInferenceJobCommand({ batchInferenceJobArn: a.batchInferenceJobArn }),
      );
      if (d.batchInferenceJob?.status === 'IN PROGRESS') break;
      assert.equal(d.batchInferenceJob?.status, 'PENDING');
      await sleep(5);
    }
    e.emu.injectFault({ slowJobs: undefined });
    const third = await (async () => {
      for (;;) {
        try {
          return await runInference(e, inference('held-3', 'q/', 'held-3/'));
        } catch (err) {
          if (!(err instanceof LimitExceededException)) throw err;
          await sleep(5);
        }
      }
    })();
    assert.equal(third.status, 'ACTIVE', third.failureReason);
    const held = e.emu.jobs().find((j) => j.jobName === 'held-1');
    assert.deepEqual(
      held?.history.map((h) => h.status),
      ['PENDING', 'IN PROGRESS', 'ACTIVE'],
    );
  });

  test('failJobs: a named job ends CREATE FAILED with the reason and writes nothing', async () => {
    e.emu.injectFault({ failJobs: ['doomed'] });
    const j = await runInference(e, inference('doomed', 'q/', 'doomed/'));
    assert.equal(j.status, 'CREATE FAILED');
    assert.match(String(j.failureReason), /faults\.failJobs/);
    assert.deepEqual(await keysUnder(e, 'doomed/'), []);
    e.emu.injectFault({ failJobs: undefined });
  });

  test('slowS3: matching requests (METHOD /bucket/key) wait slowS3Ms before s3rver answers; the rest do not', async () => {
    const get = async (key: string) => {
      const t = performance.now();
      const r = await e.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(await r.Body?.transformToString(), '{"userId":"1"}\n{"userId":"2"}\n');
      return performance.now() - t;
    };
    e.emu.injectFault({ slowS3: [`GET /${BUCKET}/q/in.jsonl`], slowS3Ms: 400 });
    assert.ok((await get('q/in.jsonl')) >= 400);
    // A minute's hold for PUTs only: the GET comes back long before (a margin for a loaded machine).
    e.emu.injectFault({ slowS3: new RegExp(`^PUT /${BUCKET}/`), slowS3Ms: 60_000 });
    assert.ok((await get('q/in.jsonl')) < 30_000, 'a GET does not match PUT');
    e.emu.injectFault({ slowS3: undefined });
    assert.equal(e.emu.faults().slowS3Ms, 60_000);
  });

  test('throttling: the next N requests fail as the SDK sees throttling, and retries absorb it', async () => {
    e.emu.injectFault({ throttle: 2 });
    const first = await rejects(e.p.send(new ListBatchInferenceJobsCommand({})));
    assert.equal(first.name, 'ThrottlingException');
    assert.ok(!(first instanceof LimitExceededException));
    await rejects(e.p.send(new ListBatchInferenceJobsCommand({})));
    assert.equal(e.emu.faults().throttle, 0);
    await e.p.send(new ListBatchInferenceJobsCommand({}));

    e.emu.injectFault({ throttle: 1, throttleError: 'LimitExceededException' });
    const limit = await rejects(e.p.send(new ListBatchSegmentJobsCommand({})));
    assert.ok(limit instanceof LimitExceededException, limit.name);

    // A retry strategy with no backoff, to see the SDK classify and retry without waiting seconds.
    const kinds: string[] = [];
    const fast = {
      mode: 'standard',
      acquireInitialRetryToken: async () => ({ getRetryCount: () => 0, getRetryDelay: () => 0 }),
      refreshRetryTokenForRetry: async (
        token: { getRetryCount: () => number },
        info: { errorType: string },
      ) => {
        kinds.push(info.errorType);
        const n = token.getRetryCount() + 1;
        if (n >= 5) throw new Error('out of retries');
        return { getRetryCount: () => n, getRetryDelay: () => 1 };
      },
      recordSuccess: () => {},
    };
    const patient = personalize(e.emu.personalizeEndpoint, { retryStrategy: fast, maxAttempts: 5 });
    e.emu.injectFault({ throttle: 2, throttleError: 'ThrottlingException' });
    const r = await patient.send(new ListBatchInferenceJobsCommand({}));
    patient.destroy();
    assert.equal(r.$metadata.attempts, 3);
    assert.deepEqual(kinds, ['THROTTLING', 'THROTTLING']);
  });

  test('the create hook runs after the job exists and before the caller learns its ARN', async () => {
    const order: string[] = [];
    const operations: string[] = [];
    e.emu.on('request', (r) => {
      operations.push(r.operation);
    });
    e.emu.on('create', async (job) => {
      if (job.jobName !== 'hooked') return;
      order.push('hook');
      assert.ok(e.emu.jobs().some((j) => j.jobName === 'hooked'));
      const other = personalize(e.emu.personalizeEndpoint);
      const d = await other.send(new DescribeBatchInferenceJobCommand({ batchInferenceJobArn: job.arn }));
      other.destroy();
      // Visible to other clients already. PENDING lasts the emulator's step (tens of ms), which a busy
      // machine can outlast before this Describe is answered: the job itself is the point.
      assert.equal(d.batchInferenceJob?.jobName, 'hooked');
      assert.match(String(d.batchInferenceJob?.status), /^(PENDING|IN PROGRESS)$/);
      order.push('described');
    });
    const r = await e.p.send(new CreateBatchInferenceJobCommand(inference('hooked', 'q/', 'hooked/')));
    order.push('response');
    assert.deepEqual(order, ['hook', 'described', 'response']);
    assert.match(String(r.batchInferenceJobArn), /hooked$/);
    assert.deepEqual(operations.slice(0, 2), ['CreateBatchInferenceJob', 'DescribeBatchInferenceJob']);
  });

  test('input quotas (files, bytes) fail the job', async () => {
    for (const k of ['a', 'b', 'c']) await put(e, `three/${k}.jsonl`, '{"userId":"1"}\n');
    await put(e, 'big/in.jsonl', jsonl(Array.from({ length: 150 }, (_, i) => ({ userId: `user-${i}` }))));
    const files = await runInference(e, inference('too-many-files', 'three/', 'tm/'));
    assert.match(String(files.failureReason), /more than 2 input files/);
    const bytes = await runInference(e, inference('too-many-bytes', 'big/', 'tb/'));
    assert.match(String(bytes.failureReason), /the limit is 2000 bytes per job/);
  });

  test('an Items CSV is the catalog; the documented segment layout', async () => {
    assert.deepEqual(e.emu.catalog.ids, ['A1', 'A2', 'A3', 'A4']);
    await put(e, 'csv/in.jsonl', jsonl([{ itemId: 'A1' }, { itemId: 'A3' }]));
    const j = await runInference(
      e,
      inference('csv-themes', 'csv/', 'csv-out/', {
        solutionVersionArn: sv('similar-items'),
        batchInferenceJobMode: 'THEME_GENERATION',
        themeGenerationConfig: { fieldsForThemeGeneration: { itemName: 'TITLE' } },
      }),
    );
    assert.equal(j.status, 'ACTIVE', j.failureReason);
    const out = parse(await get(e, 'csv-out/in.jsonl.out'));
    const a1 = out.find((l) => l.input.itemId === 'A1');
    assert.match(String(a1?.output.theme), /Dune, Part One/);
    assert.deepEqual(
      sorted(a1?.output.recommendedItems ?? []),
      ['A2', 'A3', 'A4'],
      'every other item: the catalog is small',
    );

    await put(e, 'docs/in.jsonl', jsonl([{ itemAttributes: 'ITEMS.GENRE = "scifi"' }, { itemId: 'A2' }]));
    const seg = await runSegment(
      e,
      segment('docs-layout', 'docs/', 'docs-out/', {
        solutionVersionArn: sv('attribute-affinity'),
        numResults: 3,
      }),
    );
    assert.equal(seg.status, 'ACTIVE', seg.failureReason);
    const lines = parse(await get(e, 'docs-out/in.jsonl.out'));
    assertSchema('output-segment.schema.json', lines);
    const attr = lines.find((l) => 'itemAttributes' in l);
    assert.equal(attr?.itemAttributes, 'ITEMS.GENRE = "scifi"');
    assert.equal(attr?.input, undefined, 'no input wrapper in the documented layout');
    assert.equal(attr?.output.recommendedUsers.length, 3);
  });
});

describe('catalogs', () => {
  test('the generated catalog is deterministic', () => {
    const a = generateCatalog(50);
    const b = generateCatalog(50);
    assert.deepEqual(a.ids, b.ids);
    assert.deepEqual(a.column('ITEM_NAME'), b.column('ITEM_NAME'));
    assert.equal(a.ids[0], 'item-00001');
    assert.equal(a.column('item_name'), a.column('ITEM_NAME'), 'column names match case-insensitively');
    assert.throws(() => generateCatalog(0), PbError);
  });

  test('an Items file without an id column is a usage error naming the file', async () => {
    const path = await writeText(tmp.fresh('no-id.csv'), 'TITLE,GENRE\nx,y\n');
    await assert.rejects(loadCatalog(path), (err: unknown) => {
      assert.ok(err instanceof PbError && err.code === 'PB_USAGE', String(err));
      assert.match(err.message, /no-id\.csv: cannot find the item id column/);
      return true;
    });
  });
});

describe('emulate command', () => {
  test('a bucket S3 would refuse is a usage error: a pipeline could not use it', () => {
    for (const name of ['pb', 'My-Bucket', '-x-', 'a_b'])
      assert.throws(
        () => resolveEmulatorOptions({ buckets: [name] }),
        (err: unknown) =>
          err instanceof PbError &&
          err.code === 'PB_USAGE' &&
          err.message.includes(`not an S3 bucket name: ${name} (`),
      );
    assert.deepEqual(resolveEmulatorOptions({ buckets: ['pbtrial', 'in.out-1'] }).buckets, [
      'pbtrial',
      'in.out-1',
    ]);
  });

  test('prints the environment, serves the SDK, logs transitions and stops cleanly on abort', async () => {
    const out = sink();
    const err = sink();
    const ac = new AbortController();
    const done = runEmulate(
      ['--port', '0', '--s3-port', '0', '--step', '20ms'],
      { stdin: new PassThrough(), stdout: out.stream, stderr: err.stream },
      ac.signal,
    );
    while (!out.text().includes('Stop with Ctrl-C')) await sleep(5);
    const env = Object.fromEntries(
      linesOf(out.text())
        .filter((l) => l.startsWith('export '))
        .map((l) => l.slice(7).split('=') as [string, string]),
    );
    for (const k of [
      'AWS_ENDPOINT_URL_PERSONALIZE',
      'AWS_ENDPOINT_URL_S3',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_REGION',
      'AWS_REQUEST_CHECKSUM_CALCULATION',
      'AWS_RESPONSE_CHECKSUM_VALIDATION',
    ]) {
      assert.ok(env[k], `${k} is printed`);
    }
    assert.match(out.text(), /aws personalize create-batch-inference-job/);
    const e: Env = {
      emu: undefined as unknown as Emulator,
      p: personalize(env.AWS_ENDPOINT_URL_PERSONALIZE as string),
      s3: s3For(env.AWS_ENDPOINT_URL_S3 as string),
    };
    await put(e, 'cli/in.jsonl', '{"userId":"1"}\n');
    const job = await runInference(e, inference('from-cli', 'cli/', 'cli-out/'));
    assert.equal(job.status, 'ACTIVE', job.failureReason);
    e.p.destroy();
    e.s3.destroy();
    ac.abort();
    assert.equal(await done, 0);
    assert.match(err.text(), /batch inference job from-cli: CREATE IN_PROGRESS/);
    assert.match(err.text(), /batch inference job from-cli: ACTIVE \(user-personalization: 1 line, 0 errors/);
    await assert.rejects(fetch(env.AWS_ENDPOINT_URL_PERSONALIZE as string), 'the endpoint is closed');
  });

  for (const [sig, closed] of [
    ['SIGTERM', false],
    // Its terminal closed: a hangup, and nothing left to print "stopping" to.
    ['SIGHUP', true],
  ] as const) {
    test(`as a child process: --json, then exit 0 on ${sig}${closed ? ' with stderr closed' : ''}, the temporary data removed`, async () => {
      const bin = srcPath('src/bin.ts');
      const child = spawn(
        process.execPath,
        [
          ...NODE_ARGS,
          bin,
          'emulate',
          '--port',
          '0',
          '--s3-port',
          '0',
          '--json',
          ...(closed ? [] : ['--quiet']),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('exit', (code, signal) => resolve([code, signal])),
      );
      for await (const c of child.stdout) {
        stdout += (c as Buffer).toString();
        if (stdout.includes('\n')) break;
      }
      const info = JSON.parse(stdout.split('\n')[0] as string) as {
        env: Record<string, string>;
        personalizeEndpoint: string;
        dataDir: string;
      };
      assert.ok(existsSync(info.dataDir));
      assert.equal(info.env.AWS_ENDPOINT_URL_PERSONALIZE, info.personalizeEndpoint);
      const p = personalize(info.personalizeEndpoint);
      const list = await p.send(new ListBatchInferenceJobsCommand({}));
      p.destroy();
      assert.deepEqual(list.batchInferenceJobs, []);
      if (closed) child.stderr.destroy();
      child.kill(sig);
      const [code, signal] = await exited;
      assert.equal(signal, null, stderr);
      assert.equal(code, 0, stderr);
      assert.ok(!existsSync(info.dataDir), 'the temporary S3 folder is removed');
    });
  }

  test('--help has examples; bad options are usage errors (exit 2)', async () => {
    const help = await cli(['emulate', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:\n {2}personalize-batch emulate/);
    for (const args of [
      ['--step', 'soon'],
      ['--status-spelling', 'legacy'],
      ['--port', '70000'],
      ['extra'],
    ]) {
      const r = await cli(['emulate', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    // Durations go through parseDuration, and its messages name the option.
    const step = await cli(['emulate', '--step', 'soon']);
    assert.match(step.stderr, /--step takes a duration such as 60s, 2m or 500ms, got "soon"/);
    const slow = await cli(['emulate', '--slow', '1000h']);
    assert.equal(slow.code, 2);
    assert.match(slow.stderr, /--slow must be at most/);
  });

  test('a port in use is an I/O error (exit 1) that names the port and the option', async () => {
    const first = await startEmulator({ stepMs: 0 });
    try {
      const port = new URL(first.personalizeEndpoint).port;
      const r = await cli(['emulate', '--port', port, '--s3-port', '0']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`port ${port} .*is in use.*--port`));
    } finally {
      await first.close();
    }
  });

  test('as a child process, a port in use is one line on stderr, exit 1, and no temporary folder left', async () => {
    const bin = srcPath('src/bin.ts');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = String((busy.address() as AddressInfo).port);
    try {
      for (const [option, other] of [
        ['--s3-port', '--port'],
        ['--port', '--s3-port'],
      ] as const) {
        // Its own TMPDIR: the emulator's pb-emulator-* folder would show up here, and only here.
        const tmpdir = tmp.fresh('tmpdir');
        await mkdir(tmpdir);
        const r = await runChild([...NODE_ARGS, bin, 'emulate', option, port, other, '0', '--quiet'], {
          ...process.env,
          TMPDIR: tmpdir,
        });
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr.split('\n').filter((l) => l !== '');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0] as string,
          new RegExp(`^personalize-batch: port ${port} .*is in use.*${option}`),
        );
        assert.equal(r.stdout, '');
        assert.deepEqual(
          (await readdir(tmpdir)).filter((n) => n.startsWith('pb-emulator-')),
          [],
          `${option}: nothing left in TMPDIR`,
        );
      }
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  test('close() removes a temporary data folder and keeps a given one', async () => {
    const temp = await startEmulator({ stepMs: 0 });
    assert.ok(existsSync(temp.dataDir));
    await temp.close();
    assert.ok(!existsSync(temp.dataDir));
    const dir = tmp.fresh('kept');
    const kept = await startEmulator({ dataDir: dir, buckets: ['one', 'two'] });
    await kept.close();
    assert.ok(existsSync(dir));
  });
});
