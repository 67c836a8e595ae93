import { type ResourceLimits, Worker } from 'node:worker_threads';

/** Where the tests' preload (test/worker-bundles.ts) puts the workers it bundled: entry URL -> bundle URL. */
const BUNDLES = Symbol.for('personalize-batch: test worker bundles');

/**
 * Starts a worker from a module beside this one (or beside `opts.beside`, a module's URL): the compiled .js in a
 * build, or the .ts source through tsx's loader when the tests run the
 * sources (a worker does not inherit the loader that --import installed),
 * or the tests' bundle of that source when they made one.
 */
export function startWorker(
  name: string,
  data: unknown,
  opts: { beside?: string; resourceLimits?: ResourceLimits } = {},
): Worker {
  const beside = opts.beside ?? import.meta.url;
  const resourceLimits = opts.resourceLimits;
  const fromSource = beside.endsWith('.ts');
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, beside);
  if (!fromSource) return new Worker(entry, { workerData: data, resourceLimits });
  const bundle = (globalThis as { [BUNDLES]?: Map<string, string> })[BUNDLES]?.get(entry.href);
  // Started as code, as the tsx boot is: a worker started from a file runs the --import preloads, test/scratch.ts included.
  if (bundle)
    return new Worker(`import(${JSON.stringify(bundle)})`, { eval: true, workerData: data, resourceLimits });
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits });
}
