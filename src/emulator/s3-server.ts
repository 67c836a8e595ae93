import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire, Module } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';
import type S3rver from 's3rver';
import { PbError } from '../errors.js';
import { mendStore } from './s3-store.js';

export interface S3Server {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * s3rver on 127.0.0.1 with these buckets. A failed listen (EADDRINUSE,
 * EACCES) rejects with Node's error: s3rver's own run() leaves it to an
 * unhandled 'error' event, which killed the process with a stack trace and
 * left the data folder behind.
 */
export async function startS3Server(o: {
  port: number;
  directory: string;
  buckets: readonly string[];
  /** How long to hold a request (`METHOD /bucket/key`) before s3rver sees it; 0 for none. */
  delay?: (request: string) => number;
}): Promise<S3Server> {
  const S3rverClass = loadS3rver();
  const s3rver = new S3rverClass({
    silent: true,
    directory: o.directory,
    configureBuckets: o.buckets.map((name) => ({ name, configs: [] })),
  });
  await s3rver.configureBuckets();
  const serve = s3rver.callback();
  const delay = o.delay;
  const server = createServer(
    delay === undefined
      ? serve
      : (req, res) => {
          const ms = delay(`${req.method} ${decodeURIComponent((req.url ?? '').split('?')[0] as string)}`);
          if (ms > 0) setTimeout(() => serve(req, res), ms);
          else serve(req, res);
        },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

// s3rver 3.7.1 (lib/controllers/bucket.js) enciphers ListObjectsV2 continuation
// tokens with single DES. OpenSSL 3 (Node 17+) has DES only in its legacy
// provider, which Node loads only under --openssl-legacy-provider, so every
// truncated listing (past 1,000 keys, or past max-keys) was HTTP 500 for the
// AWS CLI, boto3 and the SDKs. s3rver is unmaintained and makes the token in a
// closure, so the two functions are swapped in the module's source as it is
// loaded: a plain base64 token (clients treat tokens as opaque, and with no
// cipher nothing depends on the OpenSSL build, FIPS included). A postinstall
// patch would not reach consumers: npm 11 and pnpm skip dependencies' install
// scripts unless the project allows them.
const DES_TOKENS = `function generateContinuationToken(bucket, keyName, region) {
  const key = Buffer.alloc(8, 'S3RVER', 'utf8');
  const iv = crypto.randomBytes(8);
  // ensure the first byte of IV lies between [212, 216)
  iv[0] = (iv[0] & 0b00000011) | 0b11010100;
  // use DES for its 8-byte block size
  // (real S3 has blocks of lengths [9,8,7] repeating)
  const cipher = crypto.createCipheriv('des', key, iv);
  return Buffer.concat([
    iv,
    cipher.update(\`\${region}/\${bucket}/\${keyName}\`, 'utf8'),
    cipher.final(),
  ]).toString('base64');
}

function decipherContinuationToken(token) {
  const buf = Buffer.from(token, 'base64');
  if (buf.length < 8) return '';
  const key = Buffer.alloc(8, 'S3RVER', 'utf8');
  const iv = buf.slice(0, 8);
  const decipher = crypto.createDecipheriv('des', key, iv);
  const ciphertext = buf.slice(8);
  return Buffer.concat([
    decipher.update(ciphertext),
    decipher.final(),
  ]).toString('utf8');
}`;

// A token that does not decode to region/bucket/key is refused by the caller (InvalidArgument), as before.
const PLAIN_TOKENS = `function generateContinuationToken(bucket, keyName, region) {
  return Buffer.from(\`\${region}/\${bucket}/\${keyName}\`, 'utf8').toString('base64');
}

function decipherContinuationToken(token) {
  return Buffer.from(token, 'base64').toString('utf8');
}`;

let loaded: typeof S3rver | undefined;

/** Marks the bucket controller compiled here, so a second copy of this module (src and dist in one process) knows it. */
const PLAIN = Symbol.for('personalize-batch: s3rver plain continuation tokens');

/**
 * The S3rver class, with plain continuation tokens and a PUT answered only
 * once its object is written (s3-store.ts). Tests and benchmarks that
 * run s3rver themselves load it here too. Throws PB_IO when the tokens would
 * still need DES on a Node without it: an s3rver this code does not know, or
 * one loaded (by someone else's require) before this ran.
 */
export function loadS3rver(): typeof S3rver {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const file = require.resolve('s3rver/lib/controllers/bucket.js');
  const source = readFileSync(file, 'utf8');
  const entry = require.cache[file] as (Module & { [PLAIN]?: true }) | undefined;
  if (entry === undefined && source.includes(DES_TOKENS)) {
    // Documented: require.cache takes added entries; s3rver's own require('./controllers/bucket') then finds this one.
    require.cache[file] = compileCommonJs(file, source.replace(DES_TOKENS, PLAIN_TOKENS));
  } else if (!entry?.[PLAIN] && /createCipheriv\(\s*'des'/.test(source) && !desAvailable()) {
    throw new PbError(
      'PB_IO',
      entry
        ? 's3rver was loaded before personalize-batch could take DES out of its listing tokens, which this Node refuses: load personalize-batch first, or start node with --openssl-legacy-provider'
        : 'this s3rver enciphers its listing tokens with DES, which this Node refuses, and is not the 3.7.1 personalize-batch knows: install s3rver 3.7.1, or start node with --openssl-legacy-provider',
      { file },
    );
  }
  loaded = require('s3rver') as typeof S3rver;
  mendStore(require);
  return loaded;
}

/** A CommonJS module from this source, as Node would have made it from the file. */
function compileCommonJs(file: string, source: string): Module & { [PLAIN]: true } {
  const m = Object.assign(new Module(file), { [PLAIN]: true as const });
  m.filename = file;
  const body = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], {
    filename: file,
  });
  body.call(m.exports, m.exports, createRequire(file), m, file, dirname(file));
  m.loaded = true;
  return m;
}

function desAvailable(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}
