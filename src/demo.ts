import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { CliIO } from './cli.js';
import { describePrepare } from './cli.js';
import { PbError } from './errors.js';
import { prepare } from './prepare.js';
import { emailListCsv } from './sample.js';
import { validateFiles } from './validate-files.js';

const HELP = `Usage: personalize-batch demo [--out DIR] [--users N] [--json]

Runs the main job on an embedded default, with no AWS account: generates an e-mail list
(N rows, default 100000, with about 5% duplicates and a few broken rows), prepares it
into user-personalization batch input with bad rows going to a rejects file, and
validates the result.

Options:
      --out DIR      output folder (default ./personalize-batch-demo)
      --users N      rows in the generated e-mail list (default 100000)
      --json         print the summary as JSON
  -h, --help

Example:
  npx personalize-batch demo --out /tmp/demo`;

export async function runDemo(args: readonly string[], io: CliIO): Promise<number> {
  let parsed: ReturnType<typeof parseDemoArgs>;
  try {
    parsed = parseDemoArgs(args);
  } catch (err) {
    throw new PbError('PB_USAGE', (err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const rows = Number(v.users ?? 100_000);
  if (!Number.isInteger(rows) || rows <= 0)
    throw new PbError('PB_USAGE', `--users takes a whole number, got "${v.users}"`);
  const dir = resolve(v.out ?? 'personalize-batch-demo');
  await mkdir(dir, { recursive: true });
  const source = join(dir, 'emails.csv');
  const output = join(dir, 'batch-input.jsonl');
  const rejects = join(dir, 'rejects.jsonl');
  await pipeline(
    Readable.from(emailListCsv({ rows, duplicateRate: 0.05, badRows: 6, seed: 7 })),
    createWriteStream(source),
  );
  const summary = await prepare({
    recipe: 'user-personalization',
    sources: [source],
    output,
    onInvalid: 'skip',
    rejects,
  });
  const check = await validateFiles({ recipe: 'user-personalization', files: [output] });
  const report = { source, output, rejects, prepare: summary, validate: check };
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (v.json) io.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    io.stdout.write(
      [
        `demo: generated ${rows} e-mail list rows in ${source}`,
        describePrepare(summary, output, rejects),
        `validate: ${check.records} records, ${check.problems} problems`,
        `files: ${output}`,
        `       ${rejects}`,
        `       ${join(dir, 'summary.json')}`,
        '',
      ].join('\n'),
    );
  }
  return check.problems === 0 ? 0 : 1;
}

function parseDemoArgs(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: {
      out: { type: 'string' },
      users: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
}
