/**
 * Shared test helpers: temp folders, a seeded PRNG, a re-chunking stdin,
 * and thin wrappers around prepare() / validateFiles() / run() that capture output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import type { CliIO } from '../src/cli/index.js';
import { PbError, type PbErrorCode } from '../src/errors.js';
import type {
  ExportOptions,
  ExportSummary,
  PrepareOptions,
  PrepareSummary,
  ValidateOptions,
  ValidateSummary,
} from '../src/index.js';
import { prng } from '../src/sample.js';

// The stages, the CLI, the S3 client and ajv are imported where a helper needs them: a test file
// that uses none of them does not load the whole package through tsx (about a second of CPU a file).

/** mulberry32 from the sample generator: same seed, same sequence. */
export { prng };

/**
 * export() of one input given as stdin (re-chunked when `chunks` says so),
 * its output captured as text and bytes; its errors file a fresh one in
 * `tmp`. `exportTextIn(tmp)` gives the function for a test file's folder.
 */
export function exportTextIn(tmp: { fresh: (name: string) => string }) {
  return async (
    input: string | Buffer,
    opts: Omit<ExportOptions, 'sources' | 'stdin' | 'stdout' | 'output'> & {
      chunks?: number | { seed: number; max: number };
    } = {},
  ): Promise<{ out: string; bytes: Buffer; summary: ExportSummary }> => {
    const out = sink();
    const { chunks, ...rest } = opts;
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
    const { exportOutputs } = await import('../src/stages/export/index.js');
    const summary = await exportOutputs({
      errors: tmp.fresh('errors.jsonl'),
      ...rest,
      sources: ['-'],
      stdin: stdinOf(chunks === undefined ? bytes : split(bytes, chunks)),
      stdout: out.stream,
    });
    await new Promise((r) => setImmediate(r));
    const text = out.text();
    return { out: text, bytes: Buffer.from(text), summary };
  };
}

/**
 * A temp folder for the calling test file, made before its tests and removed
 * after them; `fresh(name)` gives a new path in it on every call, so tests
 * never see each other's files.
 */
export function useTmp(): { fresh: (name: string) => string; dir: () => string } {
  let tmp: Awaited<ReturnType<typeof makeTmp>> | undefined;
  let n = 0;
  before(async () => {
    tmp = await makeTmp();
  });
  after(async () => {
    await tmp?.cleanup();
  });
  const dir = () => {
    if (!tmp) throw new Error('useTmp(): used outside a test');
    return tmp.dir;
  };
  return { fresh: (name: string) => join(dir(), `${n++}-${name}`), dir };
}

/** A temp folder per test file; call `cleanup` in `after`. */
export async function makeTmp(): Promise<{
  dir: string;
  path: (name: string) => string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'pb-test-'));
  return {
    dir,
    path: (name: string) => join(dir, name),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function writeText(path: string, data: string | Buffer): Promise<string> {
  await writeFile(path, data);
  return path;
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Splits bytes into pieces: a fixed size, or random sizes from a seed (1 to maxRandom bytes). */
export function split(data: Buffer, how: number | { seed: number; max: number }): Buffer[] {
  const out: Buffer[] = [];
  const rand = typeof how === 'number' ? undefined : prng(how.seed);
  let i = 0;
  while (i < data.length) {
    const n = typeof how === 'number' ? how : 1 + Math.floor((rand as () => number)() * how.max);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** A stdin that delivers exactly these chunks, one Buffer per read (object mode keeps the boundaries). */
export function stdinOf(chunks: Buffer[] | Buffer | string): Readable {
  const list =
    typeof chunks === 'string' ? [Buffer.from(chunks)] : Buffer.isBuffer(chunks) ? [chunks] : chunks;
  return Readable.from(list);
}

/** Collects everything written to a PassThrough as one string. */
export function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (c: Buffer) => parts.push(c));
  return { stream, text: () => Buffer.concat(parts).toString('utf8') };
}

export interface PrepareResult {
  out: string;
  lines: string[];
  records: Record<string, unknown>[];
  summary: PrepareSummary;
}

/** Runs prepare() with stdin fed from `input` (chunked as given) and output captured from stdout. */
export async function prepareStdin(
  opts: Omit<PrepareOptions, 'stdin' | 'stdout' | 'sources' | 'output'> & { sources?: string[] },
  input: Buffer[] | Buffer | string,
): Promise<PrepareResult> {
  const out = sink();
  const { prepare } = await import('../src/stages/prepare/index.js');
  const summary = await prepare({ sources: ['-'], ...opts, stdin: stdinOf(input), stdout: out.stream });
  await new Promise((r) => setImmediate(r));
  return parsed(out.text(), summary);
}

/** Runs prepare() on files (no stdin) with output captured from stdout. */
export async function prepareFiles(
  opts: Omit<PrepareOptions, 'stdin' | 'stdout' | 'output'> & { sources: string[] },
): Promise<PrepareResult> {
  const out = sink();
  const { prepare } = await import('../src/stages/prepare/index.js');
  const summary = await prepare({ ...opts, stdout: out.stream });
  await new Promise((r) => setImmediate(r));
  return parsed(out.text(), summary);
}

export function parsed(out: string, summary: PrepareSummary): PrepareResult {
  const lines = out === '' ? [] : out.replace(/\n$/, '').split('\n');
  assert.ok(out === '' || out.endsWith('\n'), 'output ends with a newline');
  return { out, lines, records: lines.map((l) => JSON.parse(l) as Record<string, unknown>), summary };
}

/** Asserts that the promise rejects with a PbError of this code, and returns it for more checks. */
export async function rejectsWith(
  p: Promise<unknown>,
  code: PbErrorCode,
  message?: RegExp,
): Promise<PbError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  return expectPbError(caught, code, message);
}

/** Synchronous version of rejectsWith. */
export function throwsWith(fn: () => unknown, code: PbErrorCode, message?: RegExp): PbError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  return expectPbError(caught, code, message);
}

function expectPbError(caught: unknown, code: PbErrorCode, message: RegExp | undefined): PbError {
  assert.ok(caught instanceof PbError, `expected a PbError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** validateFiles() collecting every reported message. */
export async function validate(
  opts: Omit<ValidateOptions, 'onProblem'>,
): Promise<{ summary: ValidateSummary; messages: string[] }> {
  const messages: string[] = [];
  const { validateFiles } = await import('../src/stages/validate/index.js');
  const summary = await validateFiles({ ...opts, onProblem: (m) => messages.push(m) });
  return { summary, messages };
}

/** Runs the CLI in-process. */
export async function cli(
  argv: string[],
  stdin: string | Buffer = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const io: CliIO = { stdin: stdinOf(stdin), stdout: out.stream, stderr: err.stream };
  const { run } = await import('../src/cli/index.js');
  const code = await run(argv, io);
  await new Promise((r) => setImmediate(r));
  return { code, stdout: out.text(), stderr: err.text() };
}

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** Ids of the records (userId, itemId or itemAttributes), in output order. */
export function keys(records: Record<string, unknown>[]): string[] {
  return records.map((r) => String(r.userId ?? r.itemId ?? r.itemAttributes));
}

// ajv's default strict mode (strictRequired off): see the todo in schemas.test.ts for strict: true.
let ajvInstance: AjvClass | undefined;
const compiled = new Map<string, ValidateFunction>();

function ajv(): AjvClass {
  ajvInstance ??= new (createRequire(import.meta.url)('ajv') as typeof import('ajv')).Ajv({
    allErrors: true,
  });
  return ajvInstance;
}

/** An ajv validator for a file in schemas/, read straight from disk (not through src/schemas.ts). */
export function schemaValidator(file: string): ValidateFunction {
  let fn = compiled.get(file);
  if (!fn) {
    const path = fileURLToPath(new URL(`../schemas/${file}`, import.meta.url));
    fn = ajv().compile(JSON.parse(readFileSync(path, 'utf8')) as object);
    compiled.set(file, fn);
  }
  return fn;
}

/** Asserts that every record passes the schema, with ajv's errors in the message. */
export function assertSchema(file: string, records: unknown[]): void {
  const fn = schemaValidator(file);
  for (const r of records)
    assert.ok(fn(r), `${JSON.stringify(r)} vs ${file}: ${ajv().errorsText(fn.errors)}`);
}

/** The fixed credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * s3rver for a describe block (or a whole file): started before its tests,
 * the package-wide S3 client pointed at it, both undone after. Returns the
 * running server (call it in a test or a later hook).
 */
export function useS3rver(): () => S3rverHandle {
  let s3: S3rverHandle | undefined;
  before(async () => {
    s3 = await startS3rver();
    const { configureS3 } = await import('../src/io/s3.js');
    configureS3({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
  });
  after(async () => {
    const { configureS3 } = await import('../src/io/s3.js');
    configureS3({});
    await s3?.close();
  });
  return () => {
    if (!s3) throw new Error('useS3rver: s3rver is not running (call it inside a test or a later hook)');
    return s3;
  };
}

export type S3rverHandle = Awaited<ReturnType<typeof startS3rver>>;

/**
 * s3rver on 127.0.0.1 (a real S3-compatible server the real SDK talks to)
 * with one bucket, `bucket`, stored in a temporary folder, and a client for
 * it. Loaded on demand: most test files need no S3.
 */
export async function startS3rver(): Promise<{
  port: number;
  endpoint: string;
  client: S3Client;
  close(): Promise<void>;
}> {
  // Through the emulator's loader, for its plain continuation tokens: listings past one page work under plain node.
  const { loadS3rver } = await import('../src/emulator/s3-server.js');
  const S3rver = loadS3rver();
  const dir = await mkdtemp(join(tmpdir(), 'pb-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: 'bucket', configs: [] }],
  });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const { makeS3Client } = await import('../src/io/s3.js');
  const client = makeS3Client({ endpoint, credentials: S3RVER_CREDENTIALS });
  return {
    port,
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A stdin that aborts `ac` once `after` chunks were read from it, then goes on with `more`
 * chunks: a call that ignored the abort would read them all and resolve.
 */
export function abortingStdin(
  chunk: (i: number) => string,
  ac: AbortController,
  after: number,
  more = 4000,
): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i === after) ac.abort();
      this.push(i < after + more ? chunk(i++) : null);
    },
  });
}

/** The rejection node's APIs give an aborted call. */
export function isAbortError(err: unknown): true {
  assert.equal((err as Error).name, 'AbortError', String((err as Error).stack ?? err));
  assert.equal((err as { code?: string }).code, 'ABORT_ERR');
  return true;
}

/**
 * An in-memory DuckDB for the tests of a file (or block) that check outputs
 * with SQL: opened before them, closed after; loaded on demand, as most test
 * files need none. Returns the connection (call it in a test).
 */
export function useDuckDB(): () => DuckDBConnection {
  let db: DuckDBInstance | undefined;
  let con: DuckDBConnection | undefined;
  before(async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
  });
  after(() => {
    con?.closeSync();
    db?.closeSync();
  });
  return () => {
    if (!con) throw new Error('useDuckDB: the database is not open (call it inside a test)');
    return con;
  };
}
