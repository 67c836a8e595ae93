import { createCipheriv } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PbError } from '../errors.js';

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
