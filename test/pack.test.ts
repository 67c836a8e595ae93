/**
 * The package as npm publishes it: `npm pack` (its `prepare` script builds
 * dist/), the tarball unpacked into a folder outside the repository, and
 * there an application's script using every public function through
 * `personalize-batch` and `personalize-batch/emulator`, and tsc over a
 * consumer file against the packed .d.ts.
 *
 * No network: the tarball is unpacked as npm would install it, and each of
 * its declared `dependencies` (read from the packed package.json) is linked
 * from this repository's node_modules. Only those are reachable from the
 * package, so a run-time import of anything undeclared (a dev dependency, a
 * transitive one) fails here as it would for a user. (`npm install --offline`
 * of the tarball worked on a warm cache but took half a minute on 2 cores,
 * and it needs every dependency's registry metadata in npm's cache, which a
 * fresh machine's lockfile install may not leave.)
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { makeTmp } from './helpers.js';
import { REPO } from './paths.js';

const exec = promisify(execFile);
const root = REPO;
const fixtures = join(root, 'test/fixtures/pack');

test('the packed tarball installs outside the repo, runs every public function and type-checks', async (t) => {
  const tmp = await makeTmp();
  t.after(() => tmp.cleanup());
  assert.ok(relative(root, tmp.dir).startsWith('..'), `${tmp.dir} is outside ${root}`);

  const packed = await exec('npm', ['pack', '--json', '--pack-destination', tmp.dir], {
    cwd: root,
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
    filename: string;
    files: { path: string }[];
  }[];
  assert.ok(info);
  const files = info.files.map((f) => f.path);
  for (const f of [
    'package.json',
    'README.md',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/emulator/index.js',
    'dist/src/emulator/index.d.ts',
    'dist/src/bin.js',
    'schemas/pipeline.schema.json',
  ])
    assert.ok(files.includes(f), `${f} is in the tarball`);
  const stray = files.filter((f) => /^(test|benchmarks|scripts|src|dist\/test)\/|^\.|node_modules/.test(f));
  assert.deepEqual(stray, [], 'nothing of test/, benchmarks/, scripts/ or src/ in the tarball');

  const app = join(tmp.dir, 'app');
  const pkgDir = join(app, 'node_modules/personalize-batch');
  await mkdir(pkgDir, { recursive: true });
  await exec('tar', ['-xzf', join(tmp.dir, info.filename), '-C', pkgDir, '--strip-components=1']);
  const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  // @types/node is the application's own dev dependency, for tsc.
  for (const dep of [...Object.keys(manifest.dependencies), '@types/node']) {
    await mkdir(dirname(join(app, 'node_modules', dep)), { recursive: true });
    await symlink(join(root, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
  }
  await writeFile(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  await copyFile(join(fixtures, 'consumer.mjs'), join(app, 'consumer.mjs'));
  await copyFile(join(fixtures, 'consumer.ts'), join(app, 'consumer.ts'));
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
    },
    files: ['consumer.ts'],
  };
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));

  const [run, types] = await Promise.all([
    exec(process.execPath, ['consumer.mjs'], { cwd: app }),
    exec(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: app }).catch(
      (err: { stdout?: string; message: string }) => ({
        stdout: `${err.stdout ?? ''}${err.message}`,
        failed: true,
      }),
    ),
  ]);
  assert.ok(!('failed' in types), `tsc over the consumer:\n${types.stdout}`);
  assert.equal(run.stdout.trim().split('\n').at(-1), 'consumer ok', run.stdout + run.stderr);
  assert.equal(run.stderr, '', 'the library prints nothing');
});
