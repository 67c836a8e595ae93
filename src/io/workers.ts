import { type ResourceLimits, Worker } from 'node:worker_threads';

/**
 * Starts a worker from a module beside this one (or beside `opts.beside`, a module's URL): the compiled .js in a
 * build, or the .ts source through tsx's loader when the tests run the
 * sources (a worker does not inherit the loader that --import installed).
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
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits });
}
