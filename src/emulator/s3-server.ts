import { createCipheriv } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import S3rver from 's3rver';
import { PbError } from '../errors.js';

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
}): Promise<S3Server> {
  const s3rver = new S3rver({
    silent: true,
    directory: o.directory,
    configureBuckets: o.buckets.map((name) => ({ name, configs: [] })),
  });
  await s3rver.configureBuckets();
  const server = createServer(s3rver.callback());
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

let listingChecked = false;

/**
 * Refuses to go on when s3rver would answer HTTP 500 to every listing past
 * one page: s3rver 3.7.1 enciphers continuation tokens with DES, which
 * Node 17+ (OpenSSL 3) has only under --openssl-legacy-provider.
 * scripts/patch-s3rver.mjs, run on install, replaces the cipher; this catches
 * an install that skipped scripts (--ignore-scripts, pnpm's default) before
 * a job or a client meets the 500.
 */
export function checkS3rverListing(bucketJs?: string, hasDes = desAvailable()): void {
  if (bucketJs === undefined && listingChecked) return;
  const file = bucketJs ?? createRequire(import.meta.url).resolve('s3rver/lib/controllers/bucket.js');
  if (!hasDes && /createCipheriv\(\s*'des'/.test(readFileSync(file, 'utf8'))) {
    throw new PbError(
      'PB_IO',
      `s3rver enciphers its listing tokens with DES, which Node ${process.versions.node} (OpenSSL 3) refuses, so ` +
        `every S3 listing past 1,000 keys would fail: run \`node ${patchScript()}\` once (npm install runs it unless scripts are off)`,
      { file },
    );
  }
  if (bucketJs === undefined) listingChecked = true;
}

function desAvailable(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

/** The patch script, from src/emulator (tsx) or dist/src/emulator (built). */
function patchScript(): string {
  for (const up of ['../../scripts/', '../../../scripts/']) {
    const path = fileURLToPath(new URL(`${up}patch-s3rver.mjs`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return 'scripts/patch-s3rver.mjs';
}
