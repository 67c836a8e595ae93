/** What every command shares: argument parsing, AWS connection options, output. */
import type { Readable, Writable } from 'node:stream';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { PbError } from '../errors.js';
import { configureS3 } from '../io/s3.js';

/** The process streams, injectable so tests drive the CLI in-process. */
export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Where s3:// paths go; the SDK's default chain (environment, profiles, SSO, roles) fills in the rest. */
export const AWS_OPTIONS = {
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  profile: { type: 'string' },
} as const;

export function configureAws(v: { region?: string; 'endpoint-url'?: string; profile?: string }): void {
  if (v.region || v['endpoint-url'] || v.profile) {
    configureS3({ region: v.region, endpoint: v['endpoint-url'], profile: v.profile });
  }
}

type Parsed<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true; allowNegative: true }>
>;

export function parse<const O extends OptionsConfig>(args: readonly string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true, allowNegative: true });
  } catch (err) {
    throw new PbError('PB_USAGE', (err as Error).message);
  }
}

export function write(stream: Writable, text: string): void {
  stream.write(text);
}

export function isTTY(stream: Writable): boolean {
  return (stream as NodeJS.WriteStream).isTTY === true;
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
