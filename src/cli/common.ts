/** What every command shares: argument parsing, AWS connection options, output. */
import type { Readable, Writable } from 'node:stream';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { alternatives, closest } from '../core/suggest.js';
import { PbError } from '../errors.js';
import type { PersonalizeSettings } from '../io/clients.js';
import type { S3Options } from '../io/s3.js';

/** The process streams, injectable so tests drive the CLI in-process. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** The environment the AWS settings are read from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C (bin.ts): passed as every command's `signal`, its reason a CliInterrupt. */
  signal?: AbortSignal;
}

/** The commands that resume after an interruption (the jobs' state is kept in the work folder). */
const RESUMING = new Set(['run', 'demo', 'submit', 'wait', 'status']);

/** The reason bin.ts aborts a command with on SIGINT, SIGTERM or SIGHUP. */
export class CliInterrupt extends Error {
  constructor(readonly signalName: 'SIGINT' | 'SIGTERM' | 'SIGHUP') {
    super(`interrupted (${signalName})`);
    this.name = 'CliInterrupt';
  }

  /** 128 plus the signal's number, as a shell reports a process the signal ended. */
  get exitCode(): number {
    return 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[this.signalName];
  }

  /**
   * What the user is told: the commands that create or follow jobs pick up where they stopped
   * (the jobs already created keep running); the others removed what they were writing and start
   * over (a user's trial read "resume" of prepare and export, which do not).
   */
  hint(command?: string): string {
    const head = `interrupted (${this.signalName});`;
    if (command !== undefined && RESUMING.has(command)) return `${head} run the same command again to resume`;
    if (command !== undefined)
      return `${head} nothing half-written was left; run the same command again to start over`;
    return `${head} run the same command again (run, submit and wait resume where they stopped; the others start over)`;
  }
}

/**
 * What the environment says about where AWS calls go, read here at the edge so the stages
 * take it as options. The SDK reads AWS_REGION and AWS_ENDPOINT_URL_S3 itself, but not
 * AWS_DEFAULT_REGION (the AWS CLI's and boto3's name), and an S3 endpoint from the
 * environment needs path-style addressing, which the SDK cannot know to turn on.
 */
export function awsEnvironment(io: CliIO): { region?: string; s3Endpoint?: string } {
  const env = io.env ?? process.env;
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    s3Endpoint: env.AWS_ENDPOINT_URL_S3 || undefined,
  };
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Where s3:// paths go; the SDK's default chain (environment, profiles, SSO, roles) fills in the rest. */
export const AWS_OPTIONS = {
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  profile: { type: 'string' },
} as const;

/**
 * A command's connections from its flags, else the environment's settings, built once and passed
 * to the library as its `s3` and `personalize` options. `s3` is undefined when nothing names a
 * setting: the SDK's default chain decides then, as for any library call without `s3`.
 */
export function awsConnections(
  v: { region?: string; 'endpoint-url'?: string; profile?: string; 'personalize-endpoint-url'?: string },
  io: CliIO,
): { s3?: S3Options; personalize: PersonalizeSettings } {
  const env = awsEnvironment(io);
  const region = v.region ?? env.region;
  const endpoint = v['endpoint-url'] ?? env.s3Endpoint;
  const s3 = region || endpoint || v.profile ? defined({ region, endpoint, profile: v.profile }) : undefined;
  return {
    s3,
    personalize: defined({ region, profile: v.profile, endpoint: v['personalize-endpoint-url'] }),
  };
}

/** The entries that are set: an undefined one would hide the SDK's own default. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
}

type Parsed<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true; allowNegative: true }>
>;

/** A command's arguments: positionals allowed, --no-X for switches (see parseChecked). */
export function parse<const O extends OptionsConfig>(
  command: string,
  args: readonly string[],
  options: O,
): Parsed<O> {
  return parseChecked(command, {
    args: [...args],
    options,
    allowPositionals: true,
    strict: true,
    allowNegative: true,
  });
}

/**
 * node's parseArgs, with every mistake as one usage line that names the
 * option and the fix: node's own texts talk about positionals and quote
 * '-- "--x"' with an unbalanced quote, which sends users the wrong way.
 */
export function parseChecked<const T extends ParseArgsConfig>(
  command: string,
  config: T,
): ReturnType<typeof parseArgs<T>> {
  checkArgs(command, config);
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    // checkArgs mirrors strict mode's checks, so this is a safety net: node's first sentence only.
    const first = (err as Error).message.split(/\.\s|\n/)[0] as string;
    throw new PbError('PB_USAGE', `${first} (see ${command} --help)`);
  }
  // An endpoint without its scheme reached the SDK as "TypeError: Invalid URL".
  for (const [name, value] of Object.entries(parsed.values as Record<string, unknown>)) {
    if (!name.endsWith('endpoint-url') || typeof value !== 'string') continue;
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(value).protocol);
    } catch {}
    if (!ok)
      throw new PbError(
        'PB_USAGE',
        `--${name} ${value}: not an http:// or https:// URL${/^[\w.-]+:\d+$/.test(value) ? `; write http://${value}` : ''}`,
      );
  }
  return parsed;
}

/** Strict mode's checks, done on the lenient parse's tokens so each message can say what to do. */
function checkArgs(command: string, config: ParseArgsConfig): void {
  const args = config.args ?? [];
  const options = config.options ?? {};
  const negative = config.allowNegative === true;
  const { tokens } = parseArgs({ ...config, strict: false, allowPositionals: true, tokens: true });
  const help = `(see ${command} --help)`;
  for (const t of tokens) {
    if (t.kind === 'positional' && !config.allowPositionals)
      throw new PbError('PB_USAGE', `${command} takes no arguments, got "${t.value}" ${help}`);
    if (t.kind !== 'option') continue;
    const long = t.rawName.startsWith('--');
    const typed = long ? t.rawName.slice(2) : t.name;
    const negated = negative && long && !Object.hasOwn(options, typed) && typed.startsWith('no-');
    const name = long ? (negated ? typed.slice(3) : typed) : t.name;
    // hasOwn: --constructor must not find Object.prototype's.
    const spec = Object.hasOwn(options, name) ? options[name] : undefined;
    if (negated && spec && spec.type !== 'boolean')
      throw new PbError(
        'PB_USAGE',
        `unknown option ${t.rawName} for ${command}: --${t.name} takes a value ${help}`,
      );
    if (!spec) {
      // A single dash before a long name (-recipe) reads as the letters -r -e -c ...: name the word.
      const raw = (args[t.index] as string).split('=')[0] as string;
      const word = long ? typed : raw.startsWith('-') && !raw.startsWith('--') ? raw.slice(1) : '';
      // A short option in the wrong case, or a zero for the letter o (-O, -0 for -o).
      if (!long && raw.length === 2) {
        const letter = (raw[1] as string).toLowerCase().replace('0', 'o');
        const same = Object.entries(options).find(([, o]) => o.short === letter);
        if (same)
          throw new PbError(
            'PB_USAGE',
            `unknown option ${raw} for ${command}; did you mean -${letter} (--${same[0]})?`,
          );
      }
      const near = closest(word, optionNames(options, negative)).map((n) => `--${n}`);
      if (near.length > 0)
        throw new PbError(
          'PB_USAGE',
          `unknown option ${long ? t.rawName : raw} for ${command}; did you mean ${alternatives(near)}?`,
        );
      throw new PbError('PB_USAGE', `unknown option ${t.rawName} for ${command} ${help}`);
    }
    if (spec.type === 'boolean') {
      if (t.value !== undefined)
        throw new PbError('PB_USAGE', `${t.rawName} takes no value, got ${t.rawName}=${t.value} ${help}`);
    } else if (t.value === undefined) {
      throw new PbError('PB_USAGE', `${t.rawName} needs a value ${help}`);
    } else if (!t.inlineValue && t.value.length > 1 && t.value.startsWith('-')) {
      throw new PbError(
        'PB_USAGE',
        `${t.rawName} needs a value, but the option ${t.value} follows it; a value that starts with - is written --${t.name}=${t.value}`,
      );
    }
  }
}

/** The long names a user may type: each option, and --no-X for the switches that are on by default. */
function optionNames(options: OptionsConfig, negative: boolean): string[] {
  const names: string[] = [];
  for (const [name, spec] of Object.entries(options)) {
    names.push(name);
    if (negative && spec.type === 'boolean' && spec.default === true) names.push(`no-${name}`);
  }
  return names;
}

/**
 * The output of a command that also took the old spelling --out (shard, demo):
 * -o/--output is the one name across commands now.
 */
/** A comma-separated option's names, trimmed, empty ones left out (`--user-fields "email, first_name,"`). */
export function nameList(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

export function outputOption(v: { output?: string; out?: string }): string | undefined {
  if (v.output !== undefined && v.out !== undefined && v.output !== v.out)
    throw new PbError('PB_USAGE', '--out is the old name of --output; give one of them');
  return v.output ?? v.out;
}

export function write(stream: Writable, text: string): void {
  stream.write(text);
}

export function isTTY(stream: Writable): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
}

/** Megabytes, for progress lines. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

/** A one-line progress display on stderr, redrawn in place, only when stderr is a terminal. */
export function progressLine(
  stderr: Writable,
): { show: (text: string) => void; clear: () => void } | undefined {
  if (!isTTY(stderr)) return undefined;
  let shown = false;
  return {
    show: (text) => {
      shown = true;
      stderr.write(`\r\x1b[K${text}`);
    },
    clear: () => {
      if (shown) stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
