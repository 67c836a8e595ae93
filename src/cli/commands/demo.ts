import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify/sync';
import { generateCatalog, startEmulator } from '../../emulator/index.js';
import { PbError } from '../../errors.js';
import { emailListCsv } from '../../sample.js';
import { type RunSummary, runPipeline } from '../../stages/run/index.js';
import type { PipelineFile } from '../../stages/run/pipeline.js';
import type { CliIO } from '../common.js';
import { outputOption, parseChecked } from '../common.js';
import { describeRun, RunReporter } from './run.js';

const HELP = `Usage: personalize-batch demo [-o DIR] [--users N] [--json]

Runs the main job end to end on an embedded default, with no AWS account and no network:
starts the local batch emulator (S3 and Personalize on 127.0.0.1) in this process,
generates an e-mail list (N rows, default 100000, with about 5% duplicates and a few broken
rows) and an items catalog, writes pipeline.json for them, and runs it as \`run\` would:
prepare, shard (25,000 users per job), upload, check, one batch job per shard, wait,
collect and export to a CSV of recommendations with catalog titles. The emulator stands in
for Personalize (deterministic picks from the catalog), it does not recommend.

Files (in DIR): emails.csv and items.csv (the inputs), pipeline.json, recommendations.csv,
merged.jsonl (the jobs' output lines, merged), rejects.jsonl (the broken rows, with file, line
and reason), missing.jsonl, errors.jsonl and summary.json.

Options:
  -o, --output DIR   output folder (default ./personalize-batch-demo); --out, its old
                     name, still works
      --users N      rows in the generated e-mail list (default 100000)
      --json         print the summary as JSON
  -h, --help

Example:
  personalize-batch demo -o /tmp/demo`;

/** The demo's job settings: an ARN shape the emulator accepts, 25,000 users per shard. */
export const DEMO = {
  items: 500,
  usersPerShard: 25_000,
  numResults: 10,
  bucket: 'personalize-batch-demo',
  solutionVersionArn:
    'arn:aws:personalize:us-east-1:123456789012:solution/demo-user-personalization/1a2b3c4d',
  roleArn: 'arn:aws:iam::123456789012:role/PersonalizeBatchDemo',
} as const;

export async function runDemo(args: readonly string[], io: CliIO): Promise<number> {
  const v = parseDemoArgs(args).values;
  if (v.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const rows = Number(v.users ?? 100_000);
  if (!Number.isInteger(rows) || rows <= 0)
    throw new PbError('PB_USAGE', `--users takes a whole number, got "${v.users}"`);
  const dir = resolve(outputOption(v) ?? 'personalize-batch-demo');
  const summary = await demo(dir, rows, new RunReporter(io));
  if (v.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else
    io.stdout.write(
      `demo: ${rows.toLocaleString('en')} e-mail rows and ${DEMO.items} catalog items in ${dir}, run against the local emulator\n` +
        `(its s3:// storage is temporary: shards and job outputs are gone once the demo ends)\n${describeRun(summary)}`,
    );
  return summary.exitCode;
}

/** Generates the inputs in `dir`, starts the emulator, runs the pipeline against it, stops it. */
export async function demo(dir: string, rows: number, reporter?: RunReporter): Promise<RunSummary> {
  await mkdir(dir, { recursive: true });
  await pipeline(
    Readable.from(emailListCsv({ rows, duplicateRate: 0.05, badRows: 6, seed: 7 })),
    createWriteStream(join(dir, 'emails.csv')),
  );
  const catalog = generateCatalog(DEMO.items);
  const names = catalog.column('ITEM_NAME') as readonly string[];
  const genres = catalog.column('GENRE') as readonly string[];
  await writeFile(
    join(dir, 'items.csv'),
    stringify([['ITEM_ID', 'ITEM_NAME', 'GENRE'], ...catalog.ids.map((id, i) => [id, names[i], genres[i]])]),
  );
  const file: PipelineFile = {
    version: 1,
    recipe: 'user-personalization',
    input: { sources: ['emails.csv'], column: 'user_id', onInvalid: 'skip' },
    // A fresh prefix per run: the emulator's storage is temporary anyway.
    work: `s3://${DEMO.bucket}/demo-${Date.now().toString(36)}/`,
    shards: { maxRecords: DEMO.usersPerShard },
    jobs: {
      solutionVersionArn: DEMO.solutionVersionArn,
      roleArn: DEMO.roleArn,
      numResults: DEMO.numResults,
      jobNamePrefix: 'demo',
      pollInterval: '250ms',
    },
    output: {
      dir: '.',
      format: 'csv-long',
      catalog: 'items.csv',
      catalogColumns: ['ITEM_NAME', 'GENRE'],
      // Beside the rest, since the emulator's S3 is gone when the demo ends.
      merged: 'merged.jsonl',
    },
  };
  const pipelineFile = join(dir, 'pipeline.json');
  await writeFile(pipelineFile, `${JSON.stringify(file, null, 2)}\n`);
  const emu = await startEmulator({ catalog: join(dir, 'items.csv'), stepMs: 300, buckets: [DEMO.bucket] });
  try {
    return await runPipeline({
      pipeline: pipelineFile,
      s3: { endpoint: emu.s3Endpoint, credentials: emu.credentials, region: emu.region },
      personalize: { endpoint: emu.personalizeEndpoint, credentials: emu.credentials, region: emu.region },
      onEvent: reporter ? (e) => reporter.event(e) : undefined,
    });
  } finally {
    reporter?.clear();
    await emu.close();
  }
}

function parseDemoArgs(args: readonly string[]) {
  return parseChecked('demo', {
    args: [...args],
    options: {
      output: { type: 'string', short: 'o' },
      out: { type: 'string' },
      users: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
}
