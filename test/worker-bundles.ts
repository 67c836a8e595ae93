/**
 * Worker threads for the tests, each bundled into one file by esbuild (the
 * transformer tsx runs on the same sources). A worker started through tsx
 * (io/workers.ts) registers tsx's loader in the worker and again in its
 * loader thread, then loads its modules one by one through them: about
 * 0.75 s of CPU and, on a busy machine, seconds of wall time for every
 * worker; the suite starts about 300. A bundle starts in about 0.15 s.
 *
 * Built once, by the first process that needs it (the test runner, which
 * loads this through scratch.ts before it starts the test files and hands
 * them the map in PB_TEST_WORKER_BUNDLES), into
 * node_modules/.cache/, and rebuilt when any of its source files changed
 * (their SHA-256, in the manifest beside the bundle). Inside the repository,
 * so the packages a bundle imports resolve as they do from src/. Each
 * module's `import.meta.url` is its source file's, as under tsx: modules
 * find files beside them (schemas/, a worker of their own).
 *
 * io/workers.ts looks the bundle up in a map on globalThis; without this
 * preload (a CLI child, a README example) workers start through tsx as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(root, 'node_modules/.cache/personalize-batch-test-workers');
/** Read by src/io/workers.ts: worker entry URL (.ts) -> bundle URL. */
const BUNDLES = Symbol.for('personalize-batch: test worker bundles');

interface Manifest {
  bundle: string;
  /** Source path (from the repository root) -> its SHA-256 when the bundle was built. */
  inputs: Record<string, string>;
}

/** Every worker entry under src/: a `*-worker.ts` that runs on a worker thread. */
function entries(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) found.push(...entries(path));
    else if (e.name.endsWith('-worker.ts') && readFileSync(path, 'utf8').includes('parentPort'))
      found.push(path);
  }
  return found;
}

// Synchronous reads: a hundred small files, read before any test runs (async reads waited on a busy
// machine's thread pool for seconds).
const hashes = new Map<string, string>();
function sha(path: string): string | undefined {
  let h = hashes.get(path);
  if (h === undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(root, path));
    } catch {
      return undefined;
    }
    h = createHash('sha256').update(bytes).digest('hex');
    hashes.set(path, h);
  }
  return h;
}

function upToDate(m: Manifest | undefined): boolean {
  if (!m || !existsSync(join(OUT, m.bundle))) return false;
  for (const [path, h] of Object.entries(m.inputs)) if (sha(path) !== h) return false;
  return true;
}

async function build(entry: string, name: string): Promise<Manifest> {
  const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'error',
    plugins: [
      {
        name: 'source-import-meta-url',
        setup(b) {
          b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => ({
            contents: (await readFile(args.path, 'utf8')).replaceAll(
              'import.meta.url',
              JSON.stringify(pathToFileURL(args.path).href),
            ),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  const inputs: Record<string, string> = {};
  for (const p of Object.keys(result.metafile.inputs)) {
    inputs[p] = sha(p) as string;
  }
  const text = result.outputFiles[0]?.text ?? '';
  const bundle = `${name}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`;
  // Test files build side by side: each writes a whole file and renames it into place.
  const tmp = join(OUT, `.${bundle}.${process.pid}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(OUT, bundle));
  return { bundle, inputs };
}

async function prepare(): Promise<Map<string, string>> {
  mkdirSync(OUT, { recursive: true });
  const map = new Map<string, string>();
  for (const entry of entries(join(root, 'src'))) {
    const name = relative(join(root, 'src'), entry).replace(/\.ts$/, '').replaceAll('/', '_');
    const manifestPath = join(OUT, `${name}.json`);
    let old: Manifest | undefined;
    try {
      old = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    } catch {
      old = undefined;
    }
    let m = old;
    if (!upToDate(old)) {
      m = await build(entry, name);
      const tmp = `${manifestPath}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(m));
      await rename(tmp, manifestPath);
    }
    map.set(pathToFileURL(entry).href, pathToFileURL(join(OUT, (m as Manifest).bundle)).href);
  }
  return map;
}

/** Set by the first process that checked the bundles (the runner) for the test files it starts. */
const ENV = 'PB_TEST_WORKER_BUNDLES';

/**
 * Builds what changed and hands io/workers.ts the map; where esbuild is missing, workers go through
 * tsx. A test file's process takes the map its runner checked a moment before (in the environment).
 */
export async function useWorkerBundles(): Promise<void> {
  const given = process.env[ENV];
  if (given) {
    (globalThis as Record<symbol, unknown>)[BUNDLES] = new Map(JSON.parse(given) as [string, string][]);
    return;
  }
  if (!existsSync(join(dirname(fileURLToPath(import.meta.url)), '../node_modules/esbuild'))) return;
  const map = await prepare();
  (globalThis as Record<symbol, unknown>)[BUNDLES] = map;
  process.env[ENV] = JSON.stringify([...map]);
}
