import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { LOADER, REPO, srcPath } from './paths.js';

// The rules of the layout (issue 15), checked so they stay held.

// The repository itself (git, package.json), also when the suite runs from its transpiled copy.
const root = `${REPO}/`;

test('importing the library loads neither s3rver nor koa: the emulator is its own entry point', async () => {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(pathToFileURL(srcPath('src/index.ts')).href)});
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(cache.filter((k) => /node_modules\\/(s3rver|koa)\\//.test(k))));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...LOADER, '--input-type=module', '-e', script],
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

/**
 * Functions and methods longer than `max` lines, as `file name`. The code is formatted by biome, so
 * a body ends at the first line that is its opening line's indentation and a closing brace. Arrow
 * functions held in constants are not seen.
 */
function longFunctions(file: string, text: string, max: number): string[] {
  const lines = text.split('\n');
  const notNames = new Set([
    'if',
    'for',
    'while',
    'switch',
    'catch',
    'return',
    'await',
    'new',
    'function',
    'else',
    'do',
    'try',
  ]);
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    let m = /^(\s*)(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([\w$]+)/.exec(line);
    if (!m) {
      const method =
        /^(\s*)(?:(?:public|private|protected|static|async|readonly|override|get|set)\s+)*\*?([\w$]+)\s*(?:<[^>]*>)?\(/.exec(
          line,
        );
      if (method && !notNames.has(method[2] as string) && /^\s{2}/.test(line) && !/[;=]\s*$/.test(line))
        m = method;
    }
    if (!m) continue;
    const indent = m[1] as string;
    let open = i;
    while (
      open < lines.length &&
      !/\{\s*$/.test(lines[open] as string) &&
      !/;\s*$/.test(lines[open] as string)
    )
      open++;
    if (open >= lines.length || /;\s*$/.test(lines[open] as string)) continue;
    let close = open + 1;
    while (
      close < lines.length &&
      !(
        (lines[close] as string).startsWith(`${indent}}`) &&
        !(lines[close] as string).startsWith(`${indent} `)
      )
    )
      close++;
    if (close - i + 1 > max) found.push(`${file} ${m[2]}`);
  }
  return found;
}

async function sources(): Promise<Map<string, string>> {
  const { stdout } = await promisify(execFile)(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', 'src'],
    {
      cwd: root,
    },
  );
  const out = new Map<string, string>();
  for (const f of stdout.split('\n').filter((f) => f.endsWith('.ts')))
    out.set(f, await readFile(`${root}${f}`, 'utf8').catch(() => ''));
  return out;
}

test('no source file over 500 lines (generated WebAssembly aside)', async () => {
  const long = [...(await sources())]
    .filter(([f, text]) => !f.endsWith('-wasm.ts') && text.split('\n').length - 1 > 500)
    .map(([f]) => f)
    .sort();
  assert.deepEqual(long, []);
});

test('process (argv, env, stdio, exit, signals) only at the edges', async () => {
  // process.kill(pid, 0), which asks whether a process lives and sends nothing, is not on it.
  const use = /process\.(argv|env|stdout|stdin|stderr|exit|exitCode|on|once|off)\b/;
  // The edges: the CLI and bin.ts for the process, and each worker thread's entry file for
  // its thread (its 'exit' hook is how a dying worker wakes a producer blocked on the ring).
  const edge = (f: string) =>
    f === 'src/bin.ts' || f.startsWith('src/cli/') || /^src\/io\/[a-z]+-worker\.ts$/.test(f);
  const found = [...(await sources())]
    .filter(([f, text]) => !edge(f) && use.test(text))
    .map(([f]) => f)
    .sort();
  assert.deepEqual(found, []);
});

test('the library prints nothing: console.* only in the CLI and bin.ts', async () => {
  const use = /\bconsole\.(log|error|warn|info|debug|trace|dir|table)\b/;
  const edge = (f: string) => f === 'src/bin.ts' || f.startsWith('src/cli/');
  const found = [...(await sources())]
    .filter(([f, text]) => !edge(f) && use.test(text))
    .map(([f]) => f)
    .sort();
  assert.deepEqual(found, []);
});

test('no import cycles (type imports count: a reader follows them too)', async () => {
  const files = await sources();
  const graph = new Map<string, string[]>();
  for (const [f, text] of files) {
    const deps: string[] = [];
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      const parts = `${f.slice(0, f.lastIndexOf('/'))}/${m[1]}.ts`.split('/');
      const path: string[] = [];
      for (const p of parts) {
        if (p === '..') path.pop();
        else if (p !== '.') path.push(p);
      }
      const dep = path.join('/');
      if (files.has(dep)) deps.push(dep);
    }
    graph.set(f, deps);
  }
  // Tarjan's strongly connected components: each of more than one file is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort().join(' -> '));
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  assert.deepEqual(cycles.sort(), []);
});

test('no function over 80 lines', async () => {
  const long = [...(await sources())]
    .filter(([f]) => !f.endsWith('-wasm.ts'))
    .flatMap(([f, text]) => longFunctions(f, text, 80))
    .sort();
  assert.deepEqual([...new Set(long)], []);
});

test('tests mirror the layout: test/DIR/ only where src/DIR/ is', async () => {
  const { stdout } = await promisify(execFile)(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard'],
    {
      cwd: root,
    },
  );
  const files = stdout.split('\n');
  const srcDirs = new Set(
    files.filter((f) => f.startsWith('src/')).map((f) => f.slice(4, f.lastIndexOf('/'))),
  );
  const tests = files.filter((f) => f.startsWith('test/') && f.endsWith('.test.ts'));
  const misplaced = tests.filter((f) => {
    const dir = f.slice(5, f.lastIndexOf('/'));
    // Only the layout's own rules look at the whole tree from the top.
    return dir === 'test' ? f !== 'test/layout.test.ts' : !srcDirs.has(dir);
  });
  assert.deepEqual(misplaced, []);
  assert.ok(tests.length > 30, 'the tests were found');
});

test('npm test runs every test file (a test in a deeper folder once never ran), and SLOW_FIRST names only test files', async () => {
  const { stdout } = await promisify(execFile)(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard'],
    {
      cwd: root,
    },
  );
  const script = (JSON.parse(await readFile(`${root}package.json`, 'utf8')) as { scripts: { test: string } })
    .scripts.test;
  assert.match(script, / node scripts\/test\.mjs$/, 'npm test ends with the runner');
  const { SLOW_FIRST, suiteFiles } = await import('./suite-files.js');
  const tests = stdout
    .split('\n')
    .filter((f) => f.startsWith('test/') && f.endsWith('.test.ts') && !f.startsWith('test/fixtures/'));
  assert.ok(tests.length > 30);
  assert.deepEqual([...suiteFiles()].sort(), tests.sort());
  assert.deepEqual(
    SLOW_FIRST.filter((f) => !tests.includes(f)),
    [],
  );
  assert.equal(new Set(SLOW_FIRST).size, SLOW_FIRST.length, 'no file twice');
});

test("ARCHITECTURE.md's module map names every file of src, folder by folder, and nothing else", async () => {
  const doc = await readFile(`${root}ARCHITECTURE.md`, 'utf8');
  const map = doc.slice(doc.indexOf('## Module map'));
  const named = new Map<string, string[]>();
  for (const row of map.matchAll(/^\| `(src\/[^`]*)` \| (.*) \|$/gm)) {
    const names = [...(row[2] as string).matchAll(/`([\w.-]+\.(?:ts|wat))`/g)].map((m) => m[1] as string);
    named.set(row[1] as string, [...new Set(names)].sort());
  }
  const onDisk = new Map<string, string[]>();
  for (const f of (await sources()).keys()) {
    const dir = f.slice(0, f.lastIndexOf('/') + 1);
    onDisk.set(dir, [...(onDisk.get(dir) ?? []), f.slice(dir.length)]);
  }
  const { stdout } = await promisify(execFile)(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', 'src'],
    {
      cwd: root,
    },
  );
  for (const f of stdout.split('\n').filter((x) => x.endsWith('.wat'))) {
    const dir = f.slice(0, f.lastIndexOf('/') + 1);
    onDisk.set(dir, [...(onDisk.get(dir) ?? []), f.slice(dir.length)]);
  }
  const disk = Object.fromEntries([...onDisk].map(([d, fs]) => [d, fs.sort()]).sort());
  assert.deepEqual(Object.fromEntries([...named].sort()), disk);
});
