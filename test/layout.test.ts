import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The rules of the layout (issue 15), checked so they stay held.

const root = fileURLToPath(new URL('..', import.meta.url));

test('importing the library loads neither s3rver nor koa: the emulator is its own entry point', async () => {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(`${root}src/index.ts`)});
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(cache.filter((k) => /node_modules\\/(s3rver|koa)\\//.test(k))));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: root,
    },
  );
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1) as string), []);
  const pkg = JSON.parse(await readFile(`${root}package.json`, 'utf8')) as {
    exports: Record<string, { types: string; default: string }>;
  };
  assert.deepEqual(pkg.exports['./emulator'], {
    types: './dist/src/emulator/index.d.ts',
    default: './dist/src/emulator/index.js',
  });
  const emulator = await import('../src/emulator/index.js');
  assert.equal(typeof emulator.startEmulator, 'function');
});

test('every dependency is imported by the code', async () => {
  const pkg = JSON.parse(await readFile(`${root}package.json`, 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const { stdout } = await promisify(execFile)(
    'git',
    ['grep', '-h', '-o', "from '[^'.][^']*'\\|require('[^'.][^']*')", '--', 'src'],
    {
      cwd: root,
    },
  );
  const used = new Set(
    stdout
      .split('\n')
      .map((l) => /['"]([^'"]+)['"]/.exec(l)?.[1] ?? '')
      .map((m) => (m.startsWith('@') ? m.split('/').slice(0, 2).join('/') : (m.split('/')[0] as string))),
  );
  const unused = Object.keys(pkg.dependencies).filter((d) => !used.has(d));
  assert.deepEqual(unused, [], `dependencies no code imports: ${unused.join(', ')}`);
});
