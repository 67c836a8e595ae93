import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { noStream, PbError, usage } from '../../errors.js';
import { checkDocKind, expandBatchInputs } from '../../io/doc-kind.js';
import { openSource } from '../../io/input.js';
import { expandOutSources } from '../../io/out-reader.js';
import { makeTempDir } from '../../io/output.js';
import { isS3Uri } from '../../io/s3.js';
import type { ResolvedCollectOptions } from './options.js';

/** The shape of the lead's job state file that collect reads. */
interface JobState {
  /** `inputs`: every file of the shard; state files written before shards had several hold `input` only. */
  shards: { input?: unknown; inputs?: unknown; output?: unknown }[];
}

/** The sources and inputs as given: in the options, or in the job state file. */
export async function listSources(
  o: ResolvedCollectOptions,
): Promise<{ sources: string[]; inputs: string[] }> {
  let sources = o.sources;
  let inputs = o.inputs;
  if (o.state !== undefined) {
    const state = await readJsonFile<JobState>(o.state, o.stdin);
    if (!state || !Array.isArray(state.shards)) {
      throw new PbError('PB_INVALID_RECORD', 'not a job state file: no shards list', { file: o.state });
    }
    sources = state.shards.map((s, i) => {
      if (typeof s.output !== 'string' || s.output === '') {
        throw new PbError('PB_INVALID_RECORD', `shards[${i}].output: expected a URI`, { file: o.state });
      }
      return s.output;
    });
    if (inputs.length === 0) {
      inputs = state.shards.flatMap((s) => {
        if (Array.isArray(s.inputs))
          return s.inputs.filter((u): u is string => typeof u === 'string' && u !== '');
        return typeof s.input === 'string' && s.input !== '' ? [s.input] : [];
      });
    }
  }
  if ([...sources, ...inputs].filter((s) => s === '-').length > 1)
    throw usage('stdin (-) can be given only once');
  return { sources, inputs };
}

/**
 * Every source is read twice, so `-` (stdin) is copied to a file first, in
 * a folder of its own under the temp folder.
 */
export class StdinSpool {
  private dir: string | undefined;

  constructor(
    private readonly tmpDir: string,
    private readonly stdin: Readable | undefined,
  ) {}

  /** The name to read `name` by: itself, or for `-` the file stdin was copied to. */
  async spool(name: string): Promise<string> {
    if (name !== '-') return name;
    if (!this.stdin) throw noStream('collect', 'stdin');
    this.dir ??= await makeTempDir(this.tmpDir, 'personalize-batch-collect-');
    const path = join(this.dir, 'stdin');
    await pipeline(this.stdin, createWriteStream(path));
    return path;
  }

  async dispose(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The files to read: stdin spooled, folders and prefixes standing for their
 * .out files, manifests for their shards' files; each input checked to exist.
 */
export async function expandSources(
  given: { sources: string[]; inputs: string[] },
  spool: StdinSpool,
): Promise<{ sources: string[]; inputs: string[] }> {
  const spooled = await Promise.all(given.sources.map((name) => spool.spool(name)));
  // A file named directly is read whatever its name, so its content must be output.
  for (const src of spooled) await checkDocKind(src, 'out');
  const sources = await expandOutSources(spooled);
  // Manifests (by content, whatever the name) stand for their shards' files.
  const inputs = await expandBatchInputs(await Promise.all(given.inputs.map((name) => spool.spool(name))), {
    manifests: 'expand',
  });
  // Inputs are read after every output: a missing one should not wait that long to be reported.
  for (const file of inputs) {
    if (isS3Uri(file)) continue;
    try {
      await stat(file);
    } catch (err) {
      throw new PbError('PB_IO', 'cannot read: no such file', { file }, { cause: err });
    }
  }
  return { sources, inputs };
}

/** A small JSON file (a manifest, a state file), local or s3://, read whole (at most 64 MiB). */
async function readJsonFile<T>(name: string, stdin: Readable | undefined): Promise<T | undefined> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of openSource(name, { stdin })) {
    total += c.length;
    if (total > 64 * 1024 * 1024)
      throw new PbError('PB_LIMIT', 'larger than 64 MiB: not a manifest or state file', { file: name });
    parts.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as T;
  } catch (err) {
    throw new PbError('PB_PARSE', `not valid JSON (${(err as Error).message})`, { file: name });
  }
}
