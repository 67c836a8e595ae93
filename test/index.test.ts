/**
 * The package's public surface, name by name: a change to it (a name added,
 * renamed or made internal) fails here and is made on purpose, with the
 * README's "Library" section, which documents each of these.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

test("'personalize-batch' exports exactly the README's Library names", async () => {
  const lib = await import('../src/index.js');
  assert.deepEqual(Object.keys(lib).sort(), [
    'PbError',
    'collect',
    'concatParts',
    'createExportStream',
    'createPrepareStream',
    'exportOutputs',
    'isPbError',
    'jobStatus',
    'loadPipeline',
    'prepare',
    'prepareRecords',
    'readOutput',
    'report',
    'runPipeline',
    'shard',
    'submit',
    'validateFiles',
    'waitJobs',
  ]);
  for (const [name, value] of Object.entries(lib)) assert.equal(typeof value, 'function', name);
});

test("'personalize-batch/emulator' exports the emulator's names", async () => {
  const emulator = await import('../src/emulator/index.js');
  assert.deepEqual(Object.keys(emulator).sort(), [
    'DEFAULT_QUOTAS',
    'EMULATOR_ACCOUNT',
    'EMULATOR_DEFAULTS',
    'familyFromArn',
    'generateCatalog',
    'loadCatalog',
    'resolveEmulatorOptions',
    'startEmulator',
  ]);
});

test("every runtime name of the library is named in the README's Library section", async () => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n## Library\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const lib = await import('../src/index.js');
  const missing = Object.keys(lib).filter(
    (name) => !section.includes(`\`${name}\``) && !section.includes(`${name}(`),
  );
  assert.deepEqual(missing, []);
});
