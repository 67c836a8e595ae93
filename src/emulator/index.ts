import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { PbError } from '../errors.js';
import { trackTemporary } from '../io/output.js';
import { BUCKET_NAME, BUCKET_NAME_RULE, makeS3Client } from '../io/s3.js';
import { type Catalog, generateCatalog, loadCatalog } from './catalog.js';
import { DEFAULT_FAULTS, type Faults, matches, mergeFaults } from './faults.js';
import { type EmulatedJob, JobStore, type StatusSpelling } from './jobs.js';
import { callOperation, type Reply } from './operations.js';
import { type Handler, startPersonalizeServer } from './personalize-server.js';
import type { SegmentLayout } from './recommend.js';
import { DEFAULT_QUOTAS, type Quotas, runJob } from './runner.js';
import { loadS3rver, type S3Server, startS3Server } from './s3-server.js';

/**
 * A local stand-in for Amazon Personalize batch jobs, for dry runs and
 * tests: an S3-compatible endpoint (s3rver) and a Personalize endpoint that
 * speaks the real wire protocol, both on 127.0.0.1. Jobs really read their
 * input from the S3 endpoint and write output files in the service's
 * layout; the recommendations are deterministic picks from a catalog, not
 * a model.
 */
export interface EmulatorOptions {
  /** Personalize endpoint port; 0 (default) takes any free port. The CLI defaults to 4570. */
  port?: number;
  /** S3 endpoint port; 0 (default) takes any free port. The CLI defaults to 4571. */
  s3Port?: number;
  /** Where s3rver keeps objects. Default: a temporary folder, removed by close(); a given folder is kept. */
  dataDir?: string;
  /** Buckets created at start. Default ['personalize-batch-demo']. */
  buckets?: readonly string[];
  /** An Items file (CSV/TSV with an ITEM_ID column; local or s3://). Default: a generated catalog of `items` items. */
  catalog?: string;
  /** Size of the generated catalog (ids item-00001, ...). Default 1000. */
  items?: number;
  /** Size of the generated user population segment jobs draw from (ids user-000001, ...). Default 10000. */
  users?: number;
  /** Time in CREATE PENDING, and the least time in CREATE IN_PROGRESS, in ms. Default 2000. */
  stepMs?: number;
  /** Pending plus in-progress jobs per job type before LimitExceededException. Default 5 (the service quota). */
  maxRunning?: number;
  /** Region in ARNs and in `env`. Default us-east-1. The account id is always 123456789012. */
  region?: string;
  /** Status names: `observed` (CREATE PENDING, CREATE IN_PROGRESS; default) or `model` (PENDING, IN PROGRESS). */
  statusSpelling?: StatusSpelling;
  /** Segment output: `observed` ({input, output:{usersList}, error}; default) or `documented` (recommendedUsers). */
  segmentLayout?: SegmentLayout;
  /** Input quotas; default the service's (1000 files, 1 GB, 50M records, 100 with themes, 500 / 10 queries). */
  quotas?: Partial<Quotas>;
  /** Faults injected from the start; see Faults. */
  faults?: Partial<Faults>;
}

export const EMULATOR_DEFAULTS = {
  port: 0,
  s3Port: 0,
  buckets: ['personalize-batch-demo'] as readonly string[],
  items: 1000,
  users: 10_000,
  stepMs: 2000,
  maxRunning: 5,
  region: 'us-east-1',
  statusSpelling: 'observed' as StatusSpelling,
  segmentLayout: 'observed' as SegmentLayout,
} as const;

export const EMULATOR_ACCOUNT = '123456789012';

/** s3rver accepts only these credentials; the Personalize endpoint accepts any. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface RequestEvent {
  operation: string;
  body: unknown;
}

export interface Emulator {
  readonly personalizeEndpoint: string;
  readonly s3Endpoint: string;
  readonly region: string;
  /** The folder s3rver keeps objects in (removed by close() when it was a temporary one). */
  readonly dataDir: string;
  readonly credentials: { readonly accessKeyId: 'S3RVER'; readonly secretAccessKey: 'S3RVER' };
  /**
   * The environment that points the AWS SDKs and the AWS CLI here:
   * AWS_ENDPOINT_URL_PERSONALIZE, AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
   * AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_DEFAULT_REGION and the two
   * WHEN_REQUIRED checksum settings s3rver needs.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly catalog: Catalog;
  /** Every job created so far, both types, oldest first (snapshots). */
  jobs(): EmulatedJob[];
  /**
   * `create`: after a Create call made the job and before its HTTP answer is
   * sent (awaited), so a test can kill a client between "the job exists" and
   * "the client knows its ARN". `request`: every Personalize request, before
   * it is handled (awaited). `status`: every status change, creation included.
   */
  on(event: 'create', fn: (job: EmulatedJob) => void | Promise<void>): void;
  on(event: 'request', fn: (e: RequestEvent) => void | Promise<void>): void;
  on(event: 'status', fn: (job: EmulatedJob) => void): void;
  /** Changes faults at runtime (merged into the current ones); slow jobs already in progress follow the change. */
  injectFault(f: Partial<Faults>): void;
  /** The faults in force now (a copy; `throttle` counts down). */
  faults(): Faults;
  /** Stops both servers, waits for running job workers, removes a temporary data folder. */
  close(): Promise<void>;
}

interface Resolved {
  port: number;
  s3Port: number;
  dataDir: string | undefined;
  buckets: readonly string[];
  catalog: string | undefined;
  items: number;
  users: number;
  stepMs: number;
  maxRunning: number;
  region: string;
  statusSpelling: StatusSpelling;
  segmentLayout: SegmentLayout;
  quotas: Quotas;
  faults: Faults;
}

/** Options copied and checked once, with the defaults filled in. */
export function resolveEmulatorOptions(o: EmulatorOptions = {}): Resolved {
  const d = EMULATOR_DEFAULTS;
  const r: Resolved = {
    port: whole(o.port ?? d.port, 'port', 0, 65535),
    s3Port: whole(o.s3Port ?? d.s3Port, 's3Port', 0, 65535),
    dataDir: o.dataDir,
    buckets: [...(o.buckets ?? d.buckets)],
    catalog: o.catalog,
    items: whole(o.items ?? d.items, 'items', 1, 10_000_000),
    users: whole(o.users ?? d.users, 'users', 1, 100_000_000),
    stepMs: whole(o.stepMs ?? d.stepMs, 'stepMs', 0, 2 ** 31 - 1),
    maxRunning: whole(o.maxRunning ?? d.maxRunning, 'maxRunning', 1, 1_000_000),
    region: o.region ?? d.region,
    statusSpelling: o.statusSpelling ?? d.statusSpelling,
    segmentLayout: o.segmentLayout ?? d.segmentLayout,
    quotas: { ...DEFAULT_QUOTAS, ...o.quotas },
    faults: mergeFaults(DEFAULT_FAULTS, o.faults ?? {}),
  };
  if (!['observed', 'model'].includes(r.statusSpelling)) {
    throw new PbError('PB_USAGE', `statusSpelling is observed or model, got ${r.statusSpelling}`);
  }
  if (!['observed', 'documented'].includes(r.segmentLayout)) {
    throw new PbError('PB_USAGE', `segmentLayout is observed or documented, got ${r.segmentLayout}`);
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(r.region))
    throw new PbError('PB_USAGE', `not a region name: ${r.region}`);
  if (r.buckets.length === 0) throw new PbError('PB_USAGE', 'the emulator needs at least one bucket');
  // s3rver takes any name; S3 and a pipeline's work prefix do not, so a bucket made here would be refused later.
  for (const b of r.buckets)
    if (!BUCKET_NAME.test(b))
      throw new PbError('PB_USAGE', `not an S3 bucket name: ${b} (${BUCKET_NAME_RULE})`);
  for (const [k, v] of Object.entries(r.quotas)) whole(v, `quotas.${k}`, 0, Number.MAX_SAFE_INTEGER);
  return r;
}

function whole(v: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new PbError('PB_USAGE', `${name} must be a whole number from ${min} to ${max}, got ${v}`);
  }
  return v;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const o = resolveEmulatorOptions(options);
  const catalog = o.catalog !== undefined ? await loadCatalog(o.catalog) : generateCatalog(o.items);
  // The S3 side starts first (the store's jobs write through it) and reads the store's faults once it is open.
  let faults = (): Faults => o.faults;
  const s3 = await startS3Side(o, (request) => {
    const f = faults();
    return matches(f.slowS3, request) ? f.slowS3Ms : 0;
  });
  const hooks: Hooks = { create: [], request: [], status: [] };
  const store = openStore(o, s3.client, catalog, hooks);
  faults = () => store.peekFaults();
  let server: Awaited<ReturnType<typeof startPersonalizeServer>>;
  try {
    server = await startPersonalizeServer(o.port, handler(store, hooks));
  } catch (err) {
    await s3.close();
    throw listenError(err, o.port, 'Personalize', '--port', 'port');
  }

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await server.close();
    await store.close();
    await s3.close();
  };

  return {
    personalizeEndpoint: server.url,
    s3Endpoint: s3.endpoint,
    region: o.region,
    dataDir: s3.dataDir,
    credentials: CREDENTIALS,
    env: Object.freeze(emulatorEnv(server.url, s3.endpoint, o.region)),
    catalog,
    jobs: () => store.jobs(),
    on: ((event: keyof Hooks, fn: never) => {
      const list = hooks[event] as unknown[] | undefined;
      if (!list)
        throw new PbError('PB_USAGE', `unknown emulator event "${String(event)}" (create, request, status)`);
      list.push(fn);
    }) as Emulator['on'],
    injectFault: (f) => store.injectFault(f),
    faults: () => store.currentFaults(),
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/** The S3 side: s3rver on its data folder, and the client the jobs read and write with. */
interface S3Side {
  endpoint: string;
  dataDir: string;
  client: S3Client;
  /** Stops the client and s3rver, and removes the data folder when it is a temporary one. */
  close(): Promise<void>;
}

async function startS3Side(o: Resolved, delay: (request: string) => number): Promise<S3Side> {
  // Before the temporary folder: its refusal leaves nothing to clean up.
  loadS3rver();
  const ownDir = o.dataDir === undefined;
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'pb-emulator-')));
  // Removed by close(), or by the CLI's Ctrl-C handler if the process is interrupted first.
  const tracked = ownDir ? trackTemporary(dataDir) : undefined;
  const dropDataDir = async () => {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    tracked?.done();
  };
  let s3rver: S3Server;
  try {
    s3rver = await startS3Server({ port: o.s3Port, directory: dataDir, buckets: o.buckets, delay });
  } catch (err) {
    await dropDataDir();
    throw listenError(err, o.s3Port, 'S3', '--s3-port', 's3Port');
  }
  const endpoint = `http://127.0.0.1:${s3rver.port}`;
  // s3rver answers 500 now and then when several writers create folders under one prefix at once: retry more.
  const client = makeS3Client({
    endpoint,
    region: o.region,
    credentials: { ...CREDENTIALS },
    maxAttempts: 8,
  });
  const close = async () => {
    client.destroy();
    await s3rver.close();
    await dropDataDir();
  };
  return { endpoint, dataDir, client, close };
}

/** Who is told what: the functions given to `Emulator.on`, by event. */
interface Hooks {
  create: ((job: EmulatedJob) => void | Promise<void>)[];
  request: ((e: RequestEvent) => void | Promise<void>)[];
  status: ((job: EmulatedJob) => void)[];
}

/** The job store, its jobs run against the emulator's S3 and catalog. */
function openStore(o: Resolved, s3: S3Client, catalog: Catalog, hooks: Hooks): JobStore {
  const env = { s3, catalog, users: o.users, quotas: o.quotas, segmentLayout: o.segmentLayout };
  return new JobStore({
    stepMs: o.stepMs,
    maxRunning: o.maxRunning,
    region: o.region,
    account: EMULATOR_ACCOUNT,
    spelling: o.statusSpelling,
    faults: o.faults,
    runner: (spec, signal) => runJob(env, spec, signal),
    onStatus: (job) => {
      for (const fn of hooks.status) fn(job);
    },
  });
}

/** A Personalize request answered: the request hooks, an armed throttle, the operation, then the create hooks. */
function handler(store: JobStore, hooks: Hooks): Handler {
  return async (operation: string, body: unknown): Promise<Reply> => {
    for (const fn of hooks.request) await fn({ operation, body: structuredClone(body) });
    const throttled = store.takeThrottle();
    if (throttled) return { ok: false, fault: throttled };
    const reply = callOperation(store, operation, body);
    if (reply.ok && reply.created) for (const fn of hooks.create) await fn(reply.created);
    return reply;
  };
}

/** The environment that points the AWS SDKs and the AWS CLI at the emulator (see Emulator.env). */
function emulatorEnv(
  personalizeEndpoint: string,
  s3Endpoint: string,
  region: string,
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_PERSONALIZE: personalizeEndpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}

/**
 * A port in use is a common, expected failure: one line that names the
 * port and how to pick another, for the CLI and the API alike.
 */
function listenError(err: unknown, port: number, endpoint: string, flag: string, option: string): PbError {
  const e = err as NodeJS.ErrnoException;
  const reason =
    e.code === 'EADDRINUSE'
      ? `port ${port} for the ${endpoint} endpoint is in use on 127.0.0.1: choose another with ${flag} N (${option} in the API; 0 picks a free one)`
      : `cannot start the ${endpoint} endpoint on port ${port}: ${e.message}`;
  return new PbError('PB_IO', reason, {}, { cause: err });
}

export type { Catalog } from './catalog.js';
export { generateCatalog, loadCatalog } from './catalog.js';
export type { Faults } from './faults.js';
export type { EmulatedJob, JobKind, Phase, StatusSpelling } from './jobs.js';
export type { SegmentLayout } from './recommend.js';
export { DEFAULT_QUOTAS, familyFromArn, type Quotas } from './runner.js';
