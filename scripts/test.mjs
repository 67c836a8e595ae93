#!/usr/bin/env node
// npm test's runner start: the suite runs as JavaScript, not through tsx.
//
// Under tsx every test process (about 300, and the CLI children many of them
// start) registered tsx's loader, which Node 20 runs on a thread of its own,
// and sent each module it loaded through it: about 0.3 s of CPU a process
// before any test ran, a third of the suite's CPU on 2 cores. Here esbuild
// (the transformer tsx runs) turns each src/ and test/ .ts file into a .js
// file once, into a copy of the repository in dist-test/, and the runner and
// its files load those with plain node. (Not under node_modules/.cache/: a
// worktree whose node_modules is a link to another's would share it.)
//
// The copy: src/ and test/ copied file by file (fixtures and the .ts sources
// too, so that a test reading a file beside it finds it), a .js beside each
// .ts, and every other top-level entry (schemas/, scripts/, README.md,
// package.json, node_modules/; not dot files) a symbolic link to the
// repository's own. So a
// module's `import.meta.url` points into the copy and every path relative to
// it resolves as it does from the sources. A .js keeps an inline source map
// to its .ts: with --enable-source-maps, stacks and test locations name the
// source files. Only files whose source changed are written again.
//
//   node scripts/test.mjs [test/FILE.test.ts ...]
//
// FILE ... runs those files only (paths as in the repository). The runner is
// test/run.ts (the order files start in, PB_TEST_TIMES). Running a file
// through tsx still works: `node --import tsx/esm --import ./test/scratch.ts
// test/run.ts FILE`.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The copy the suite runs from (test/helpers.ts' REPO finds the repository from it). */
export const COPY = join(root, 'dist-test');
const TREES = ['src', 'test'];

/**
 * Packages plain node cannot import that tsx could: dt-sql-parser's ESM build imports directories
 * (`./parser`), which only a bundler or tsx's resolver accepts. Each is bundled once into the copy
 * (per installed version) and the transpiled files import the bundle.
 */
const BUNDLED = ['dt-sql-parser'];

const esbuild = createRequire(join(root, 'package.json'))('esbuild');

/** Each top-level entry but src/, test/, dot files and the copy itself: a link to the repository's own. */
function linkTop() {
  for (const name of readdirSync(root)) {
    if (TREES.includes(name) || name.startsWith('.') || join(root, name) === COPY) continue;
    const link = join(COPY, name);
    const target = join(root, name);
    let current;
    try {
      current = readlinkSync(link);
    } catch {}
    if (current === target) continue;
    rmSync(link, { recursive: true, force: true });
    symlinkSync(target, link);
  }
}

/** dt-sql-parser and the like as one ESM file each, rebuilt when the installed version changes. */
function bundlePackages() {
  const specifiers = new Map();
  for (const name of BUNDLED) {
    const pkg = join(root, 'node_modules', name, 'package.json');
    if (!existsSync(pkg)) continue;
    const { version } = JSON.parse(readFileSync(pkg, 'utf8'));
    const out = join(COPY, 'bundled', `${name.replace('/', '+')}@${version}.mjs`);
    if (!existsSync(out)) {
      mkdirSync(dirname(out), { recursive: true });
      esbuild.buildSync({
        entryPoints: [name],
        absWorkingDir: root,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile: `${out}.tmp`,
        logLevel: 'error',
      });
      copyFileSync(`${out}.tmp`, out);
      rmSync(`${out}.tmp`);
    }
    specifiers.set(name, out);
  }
  return specifiers;
}

const transpiled = (path) => path.endsWith('.ts') && !path.endsWith('.d.ts') && !path.includes('/fixtures/');

/** The .ts file as the .js the copy holds: transpiled, bundled packages pointed at their bundles. */
function transpile(source, text, bundles, jsPath) {
  let { code } = esbuild.transformSync(text, {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: source,
  });
  for (const [name, bundle] of bundles) {
    let rel = relative(dirname(jsPath), bundle);
    if (!rel.startsWith('.')) rel = `./${rel}`;
    code = code.replaceAll(`from "${name}"`, `from ${JSON.stringify(rel)}`);
  }
  return code;
}

/** src/ or test/ mirrored into the copy; returns how many files were written. */
function mirror(tree, bundles) {
  const from = join(root, tree);
  const to = join(COPY, tree);
  const wanted = new Set();
  let written = 0;
  for (const rel of readdirSync(from, { recursive: true, encoding: 'utf8' })) {
    const source = join(from, rel);
    if (!statSync(source).isFile()) continue;
    const copy = join(to, rel);
    wanted.add(copy);
    const bytes = readFileSync(source);
    let same = false;
    try {
      same = readFileSync(copy).equals(bytes);
    } catch {}
    const js = copy.replace(/\.ts$/, '.js');
    if (transpiled(rel)) wanted.add(js);
    if (same && (!transpiled(rel) || existsSync(js))) continue;
    mkdirSync(dirname(copy), { recursive: true });
    // The .js first: a copy whose .ts matches has its .js written.
    if (transpiled(rel)) writeFileSync(js, transpile(source, bytes.toString('utf8'), bundles, js));
    writeFileSync(copy, bytes);
    written++;
  }
  // Files whose source is gone (a test file deleted must not keep running).
  if (existsSync(to))
    for (const rel of readdirSync(to, { recursive: true, encoding: 'utf8' })) {
      const path = join(to, rel);
      if (!wanted.has(path) && lstatSync(path).isFile()) rmSync(path);
    }
  return written;
}

/** Builds the copy; returns the number of files written. */
export function buildCopy() {
  mkdirSync(COPY, { recursive: true });
  linkTop();
  const bundles = bundlePackages();
  // Another esbuild or another bundle: every .js written again, not only those whose source changed.
  const stamp = JSON.stringify({ esbuild: esbuild.version, bundles: [...bundles] });
  const stampPath = join(COPY, 'bundled', 'stamp.json');
  if (!existsSync(stampPath) || readFileSync(stampPath, 'utf8') !== stamp) {
    for (const tree of TREES) rmSync(join(COPY, tree), { recursive: true, force: true });
    mkdirSync(dirname(stampPath), { recursive: true });
    writeFileSync(stampPath, stamp);
  }
  let written = 0;
  for (const tree of TREES) written += mirror(tree, bundles);
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildCopy();
  const scratch = pathToFileURL(join(COPY, 'test', 'scratch.js')).href;
  const args = [
    '--enable-source-maps',
    '--import',
    scratch,
    join(COPY, 'test', 'run.js'),
    ...process.argv.slice(2),
  ];
  const child = spawn(process.execPath, args, { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}
