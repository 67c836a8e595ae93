/**
 * The suite's files and the order test/run.ts starts them in. SLOW_FIRST: the files that take the
 * longest, longest first (wall seconds on 2 cores, from `PB_TEST_TIMES=FILE npm test`). A file
 * missing from it runs after them, in path order; a name in it that is no test file fails
 * test/layout.test.ts.
 */
import { readdirSync } from 'node:fs';
import { HERE } from './paths.js';

export const SLOW_FIRST: readonly string[] = [
  'test/stages/run/run.test.ts',
  'test/stages/run/run-demo.test.ts',
  'test/emulator/emulator-awscli.test.ts',
  'test/stages/export/users-spill.test.ts',
  'test/stages/run/run-resume.test.ts',
  'test/stages/report/report.test.ts',
  'test/stages/export/delta/fast.test.ts',
  'test/cli/cli.test.ts',
  'test/stages/jobs/jobs.test.ts',
  'test/emulator/emulator.test.ts',
  'test/stages/export/parquet.test.ts',
  'test/stages/export/map-users.test.ts',
  'test/stages/prepare/fastpath.test.ts',
  'test/pack.test.ts',
  'test/stages/export/workers-join.test.ts',
  'test/stages/export/part.test.ts',
  'test/stages/export/export.test.ts',
  'test/readme-library.test.ts',
  'test/stages/export/delta.test.ts',
  'test/stages/export/users-load.test.ts',
  'test/stages/collect/collect.test.ts',
  'test/io/multipart.test.ts',
  'test/core/sql/dialects.test.ts',
  'test/stages/export/email-files.test.ts',
  'test/stages/export/users-keys.test.ts',
  'test/io/dedupe.test.ts',
];

/** Every test file under test/ (fixtures aside), relative to the repository, in path order. */
export function allTestFiles(): string[] {
  return readdirSync(`${HERE}test`, { recursive: true, encoding: 'utf8' })
    .map((f) => `test/${f}`)
    .filter((f) => f.endsWith('.test.ts') && !f.startsWith('test/fixtures/'))
    .sort();
}

/** The files to run, in the order to start them: `only` (as given) when not empty, else the suite. */
export function suiteFiles(only: readonly string[] = []): string[] {
  if (only.length > 0) return [...only];
  const all = allTestFiles();
  const rank = new Map(SLOW_FIRST.map((f, i) => [f, i]));
  const slow = all.filter((f) => rank.has(f)).sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
  return [...slow, ...all.filter((f) => !rank.has(f))];
}
