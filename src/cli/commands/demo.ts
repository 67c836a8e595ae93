import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
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
generates an e-mail list (N rows, default 100000, with about 5% duplicates, a few broken
rows and an opt_in column) and an items catalog, writes pipeline.json for them, and runs it
as \`run\` would, twice, as two weeks of a newsletter:

  week 1: prepare the users who opted in (input.where "opt_in = true"), shard (25,000 users a
          job), upload, check, one batch job per shard, wait, collect, and export a CSV of
          recommendations with the catalog's titles and each user's e-mail and first name
          joined from the CRM export (output.users); the run is kept in history/
  week 2: the list again, with a different tenth of the users opted out: only the users whose
          recommendations are new or changed since week 1 are exported (output.since "last"),
          and the users gone are listed

The emulator stands in for Personalize (deterministic picks from the catalog), it does not
recommend.

Files (in DIR): emails.csv (week 2's list; week 1's is emails-week-1.csv), crm.csv (the CRM
export the e-mail addresses and first names come from) and items.csv (the inputs), pipeline.json, recommendations.csv (week 1, everyone), changes-week-2.csv and
removed-week-2.csv (week 2; the users gone, with their e-mail address), merged.jsonl (the jobs' output lines, merged), rejects.jsonl (the
broken rows, with file, line and reason), missing.jsonl, errors.jsonl, summary.json, report.html
and report.json (week 2's report: counts, top items, scores, what changed since week 1; open
report.html in a browser) and history/.

Options:
  -o, --output DIR   output folder (default ./personalize-batch-demo); --out, its old
                     name, still works
      --users N      rows in the generated e-mail list (default 100000)
      --json         print both weeks' summaries as JSON: {"weeks": [week 1, week 2]}
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
  const weeks = await demo(dir, rows, new RunReporter(io), io.signal);
  if (v.json) io.stdout.write(`${JSON.stringify({ weeks })}\n`);
  else
    io.stdout.write(
      `demo: ${rows.toLocaleString('en')} e-mail rows and ${DEMO.items} catalog items in ${dir}, run against the local emulator\n` +
        `(its s3:// storage is temporary: shards and job outputs are gone once the demo ends)\n\n` +
        `week 1: everyone who opted in\n${describeRun(weeks[0])}\n` +
        `week 2: a different tenth opted out; only what changed since week 1\n${describeRun(weeks[1])}`,
    );
  return Math.max(weeks[0].exitCode, weeks[1].exitCode);
}

/**
 * Generates the inputs in `dir`, starts the emulator, runs the pipeline against it for two weeks
 * of the list (the second exports only what changed), stops it.
 */
export async function demo(
  dir: string,
  rows: number,
  reporter?: RunReporter,
  signal?: AbortSignal,
): Promise<[RunSummary, RunSummary]> {
  await mkdir(dir, { recursive: true });
  const catalog = generateCatalog(DEMO.items);
  const names = catalog.column('ITEM_NAME') as readonly string[];
  const genres = catalog.column('GENRE') as readonly string[];
  await writeFile(
    join(dir, 'items.csv'),
    stringify([['ITEM_ID', 'ITEM_NAME', 'GENRE'], ...catalog.ids.map((id, i) => [id, names[i], genres[i]])]),
  );
  const emu = await startEmulator({ catalog: join(dir, 'items.csv'), stepMs: 300, buckets: [DEMO.bucket] });
  try {
    const week = async (n: 1 | 2): Promise<RunSummary> => {
      await writeList(dir, rows, n);
      const pipelineFile = join(dir, 'pipeline.json');
      await writeFile(pipelineFile, `${JSON.stringify(demoPipeline(n), null, 2)}\n`);
      return runPipeline({
        pipeline: pipelineFile,
        s3: { endpoint: emu.s3Endpoint, credentials: emu.credentials, region: emu.region },
        personalize: { endpoint: emu.personalizeEndpoint, credentials: emu.credentials, region: emu.region },
        onEvent: reporter ? (e) => reporter.event(e) : undefined,
        signal,
      });
    };
    const first = await week(1);
    // Week 1's list is kept beside week 2's, to compare.
    await copyFile(join(dir, 'emails.csv'), join(dir, 'emails-week-1.csv'));
    // History names have a resolution of a second: week 2's must sort after week 1's.
    await sleep(1000);
    return [first, await week(2)];
  } finally {
    reporter?.clear();
    await emu.close();
  }
}

/**
 * The e-mail list of a week (the same users, a different tenth of them opted out), and the CRM
 * export it came from: one row per user, without the list's broken rows (a users file's row that
 * cannot be read stops the export, as a catalog's does).
 */
async function writeList(dir: string, rows: number, week: number): Promise<void> {
  const list = () => emailListCsv({ rows, duplicateRate: 0.05, badRows: 6, seed: 7, optInWeek: week });
  await pipeline(Readable.from(list()), createWriteStream(join(dir, 'emails.csv')));
  const seen = new Set<string>();
  await pipeline(
    Readable.from(
      (function* () {
        for (const chunk of list()) {
          let out = '';
          for (const line of chunk.split('\n')) {
            const f = line.split(',');
            const id = f[1] ?? '';
            if (f.length !== 5 || seen.has(id) || id === '' || id.length > 256) continue;
            seen.add(id);
            out += `${id === 'user_id' ? 'customer_id' : id},${f[0]},${f[2]}\n`;
          }
          yield out;
        }
      })(),
    ),
    createWriteStream(join(dir, 'crm.csv')),
  );
}

function demoPipeline(week: 1 | 2): PipelineFile {
  return {
    version: 1,
    recipe: 'user-personalization',
    input: { sources: ['emails.csv'], column: 'user_id', onInvalid: 'skip', where: 'opt_in = true' },
    // A fresh prefix per run: the emulator's storage is temporary anyway.
    work: `s3://${DEMO.bucket}/demo-${Date.now().toString(36)}-week-${week}/`,
    shards: { maxRecords: DEMO.usersPerShard },
    jobs: {
      solutionVersionArn: DEMO.solutionVersionArn,
      roleArn: DEMO.roleArn,
      numResults: DEMO.numResults,
      jobNamePrefix: `demo-w${week}`,
      pollInterval: '250ms',
    },
    output: {
      dir: '.',
      format: 'csv-long',
      catalog: 'items.csv',
      catalogColumns: ['ITEM_NAME', 'GENRE'],
      // Each row gets the user's e-mail address and first name from the CRM export.
      users: 'crm.csv',
      userKey: 'customer_id',
      userFields: ['email', 'first_name'],
      ...(week === 2 ? { file: 'changes-week-2.csv', since: 'last', removed: 'removed-week-2.csv' } : {}),
      // Beside the rest, since the emulator's S3 is gone when the demo ends.
      merged: 'merged.jsonl',
    },
  };
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
