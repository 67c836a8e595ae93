import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkS3rverListing } from '../src/emulator/s3-server.js';
import { throwsWith, useTmp } from './helpers.js';

// scripts/patch-s3rver.mjs (postinstall) and the emulator's check that it ran.

const tmp = useTmp();
const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../scripts/patch-s3rver.mjs', import.meta.url));

// The two token functions as s3rver 3.7.1 ships them (lib/controllers/bucket.js, MIT),
// exported here so the patched result can be called.
const UPSTREAM = `'use strict';

const crypto = require('crypto');

function generateContinuationToken(bucket, keyName, region) {
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
}

module.exports = { generateContinuationToken, decipherContinuationToken };
`;

/** A consumer's tree: s3rver hoisted next to personalize-batch, whose postinstall runs in its own folder. */
async function consumerTree(bucketJs: string): Promise<{ pkg: string; bucket: string }> {
  const root = tmp.fresh('consumer');
  const s3rver = join(root, 'node_modules', 's3rver');
  const pkg = join(root, 'node_modules', 'personalize-batch');
  const bucket = join(s3rver, 'lib', 'controllers', 'bucket.js');
  await mkdir(dirname(bucket), { recursive: true });
  await mkdir(join(pkg, 'scripts'), { recursive: true });
  await writeFile(
    join(s3rver, 'package.json'),
    '{"name":"s3rver","version":"3.7.1","main":"lib/s3rver.js"}\n',
  );
  await writeFile(bucket, bucketJs);
  await copyFile(SCRIPT, join(pkg, 'scripts', 'patch-s3rver.mjs'));
  return { pkg, bucket };
}

test('postinstall replaces the DES tokens with plain ones that s3rver reads back, once', async () => {
  const { pkg, bucket } = await consumerTree(UPSTREAM);
  const first = await run(process.execPath, ['scripts/patch-s3rver.mjs'], { cwd: pkg });
  assert.equal(first.stderr, '');
  const patched = await readFile(bucket, 'utf8');
  assert.doesNotMatch(patched, /createCipheriv|createDecipheriv/);
  const { generateContinuationToken, decipherContinuationToken } = createRequire(import.meta.url)(bucket) as {
    generateContinuationToken: (bucket: string, key: string, region: string) => string;
    decipherContinuationToken: (token: string) => string;
  };
  const token = generateContinuationToken('b', 'many/in-1000.jsonl', 'us-east-1');
  assert.match(token, /^[A-Za-z0-9+/]+=*$/);
  assert.equal(decipherContinuationToken(token), 'us-east-1/b/many/in-1000.jsonl');
  await run(process.execPath, ['scripts/patch-s3rver.mjs'], { cwd: pkg });
  assert.equal(await readFile(bucket, 'utf8'), patched, 'a second run changes nothing');
});

test('postinstall leaves an s3rver it does not know alone, says so, and never fails the install', async () => {
  const { pkg, bucket } = await consumerTree('// some other s3rver\n');
  const r = await run(process.execPath, ['scripts/patch-s3rver.mjs'], { cwd: pkg });
  assert.match(
    r.stderr,
    /^personalize-batch postinstall: .*bucket\.js is not the s3rver 3\.7\.1 this patch knows/,
  );
  assert.equal(await readFile(bucket, 'utf8'), '// some other s3rver\n');
});

test('the emulator refuses an s3rver that still uses DES on a Node without it, naming the fix', async () => {
  const { bucket } = await consumerTree(UPSTREAM);
  const err = throwsWith(() => checkS3rverListing(bucket, false), 'PB_IO', /listing past 1,000 keys/);
  assert.match(err.message, /run `node .*scripts\/patch-s3rver\.mjs` once/);
  checkS3rverListing(bucket, true);
  // The s3rver this package runs with: patched by its own postinstall.
  checkS3rverListing();
});
