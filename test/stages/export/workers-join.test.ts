import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { type ExportOptions, type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { prng, sink, stdinOf, useTmp } from '../../helpers.js';
import { randomFile } from '../../out-fixtures.js';

// Joined exports on the two conversion workers (the tables shared with
// them) give the bytes and counts of the export on this thread alone.

const tmp = useTmp();
const VALUES = [
  'Zoë',
  'Smith, Jo',
  'say "hi"',
  'two\nlines',
  '=1+2',
  '',
  '  padded  ',
  'ü€ü€ü€ü€',
  '+cut me',
];

/** A random .out file, a catalog of some of its items and a users file of some of its users. */
async function inputs(seed: number) {
  const { text, lines } = randomFile(seed, 400, {
    kind: 'recommendations',
    keyField: 'userId',
    messy: true,
    errorRate: 0.05,
    scores: true,
  });
  const rand = prng(seed);
  const pick = () => VALUES[Math.floor(rand() * VALUES.length)] as string;
  const items = [...new Set(lines.flatMap((l) => l.expected.ids))].filter(() => rand() < 0.7);
  const users = [...new Set(lines.map((l) => l.expected.key))].filter(() => rand() < 0.7);
  const source = tmp.fresh(`src-${seed}.out`);
  const catalog = tmp.fresh(`items-${seed}.csv`);
  const crm = tmp.fresh(`crm-${seed}.csv`);
  await writeFile(source, text);
  await writeFile(
    catalog,
    stringify([['ITEM_ID', 'TITLE', 'URL'], ...items.map((i) => [i, pick(), pick()])]),
  );
  await writeFile(crm, stringify([['customer_id', 'email'], ...users.map((u) => [u, pick()])]));
  return { source, catalog, crm };
}

/** The summary without what differs between two runs of the same export (time, file names). */
function counts(s: ExportSummary) {
  const { seconds: _s, errorsFile: _e, parts: _p, ...rest } = s;
  return rest;
}

type Opts = Omit<ExportOptions, 'sources' | 'output' | 'stdout' | 'workers' | 'pieceSize'>;

/** Exports to a file (workers write at offsets) or to stdout (outputs sent back); the bytes, errors and summary. */
async function run(source: string, workers: number, toFile: boolean, o: Opts) {
  // Small pieces: the workers start from the third piece, so most pieces go to them.
  // One errors file for every run (the summary's warnings name it).
  const errors = join(tmp.dir(), 'errors.jsonl');
  const common = { ...o, sources: [source], workers, pieceSize: 700, errors };
  if (toFile) {
    const output = tmp.fresh(`out-${workers}.txt`);
    const s = await exportOutputs({ ...common, output });
    return { bytes: await readFile(output), errors: await readFile(errors), summary: counts(s) };
  }
  const out = sink();
  const s = await exportOutputs({ ...common, output: '-', stdout: out.stream, stdin: stdinOf('') });
  await new Promise((r) => setImmediate(r));
  return { bytes: Buffer.from(out.text()), errors: await readFile(errors), summary: counts(s) };
}

describe('joined exports on the workers', () => {
  // Each join in each format once, on its own random input, to a file or to stdout in turn
  // (worker threads start slowly under the test loader: the matrix is not crossed twice).
  const joins: [string, (f: Awaited<ReturnType<typeof inputs>>) => Opts][] = [
    ['catalog', ({ catalog }) => ({ catalog, maxCellBytes: 6 })],
    ['users', ({ crm }) => ({ users: crm, userKey: 'customer_id' })],
    ['users required', ({ crm }) => ({ users: crm, userKey: 'customer_id', usersRequired: true })],
    ['both', ({ catalog, crm }) => ({ catalog, catalogColumns: ['URL'], users: crm })],
  ];
  for (const [j, [what, opts]] of joins.entries()) {
    test(`${what}: 2 workers give the bytes, errors and counts of 0, in csv-long, csv-wide and jsonl`, async () => {
      const files = await inputs(j + 1);
      for (const [f, format] of (['csv-long', 'csv-wide', 'jsonl'] as const).entries()) {
        const join = opts(files);
        const o = { ...join, format, maxCellBytes: format === 'jsonl' ? undefined : join.maxCellBytes };
        // csv-wide to a file guesses its width (3 passes when wrong), to stdout measures (2): like with like.
        const toFile = (j + f) % 2 === 0;
        const want = await run(files.source, 0, toFile, o);
        const got = await run(files.source, 2, toFile, o);
        const where = `${format}, ${toFile ? 'file' : 'stdout'}`;
        assert.ok(want.summary.rows > 100, `${where}: ${want.summary.rows} rows`);
        assert.equal(got.bytes.toString(), want.bytes.toString(), where);
        assert.ok(got.errors.equals(want.errors), where);
        assert.deepEqual(got.summary, want.summary, where);
        if (what === 'catalog' && format !== 'jsonl') assert.ok(want.summary.cellsCut > 0, where);
        if (what.startsWith('users')) assert.ok(want.summary.usersMissing > 0, where);
      }
    });
  }
});
