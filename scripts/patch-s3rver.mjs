#!/usr/bin/env node
// Run by `postinstall` (here and wherever personalize-batch is installed as a dependency).
//
// s3rver 3.7.1, the S3 endpoint of `personalize-batch emulate`, enciphers its
// ListObjectsV2 continuation tokens with single DES. OpenSSL 3 (Node 17 and later) keeps
// DES in its legacy provider, which Node loads only under --openssl-legacy-provider, so
// every listing past one page (1,000 keys, or fewer with max-keys) was HTTP 500 for the
// AWS CLI, boto3 and the SDKs. s3rver is unmaintained (no release since 2021), so this
// rewrites the two token functions to a plain base64 token: clients treat tokens as
// opaque, and without a cipher nothing depends on what the OpenSSL build offers (a FIPS
// build refuses DES and 3DES alike). Idempotent; the emulator refuses to start, naming
// this script, if the file still calls DES on a Node that lacks it.
//
// It never fails an install: an s3rver it cannot find or does not recognise is reported
// on stderr and left alone.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const MARKER = 'personalize-batch: plain continuation tokens';

const ORIGINAL = `function generateContinuationToken(bucket, keyName, region) {
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

const PATCHED = `// ${MARKER} (scripts/patch-s3rver.mjs): DES needs
// --openssl-legacy-provider on Node 17+, so every paginated listing was HTTP 500.
function generateContinuationToken(bucket, keyName, region) {
  return Buffer.from(\`\${region}/\${bucket}/\${keyName}\`, 'utf8').toString('base64');
}

// A token that does not decode to region/bucket/key is refused by the caller
// (InvalidArgument), as before.
function decipherContinuationToken(token) {
  return Buffer.from(token, 'base64').toString('utf8');
}`;

function warn(message) {
  process.stderr.write(`personalize-batch postinstall: ${message}\n`);
}

let file;
try {
  file = createRequire(import.meta.url).resolve('s3rver/lib/controllers/bucket.js');
} catch {
  warn('s3rver is not installed; the emulator (personalize-batch emulate) needs it');
  process.exit(0);
}
const text = readFileSync(file, 'utf8');
if (text.includes(MARKER)) process.exit(0);
if (!text.includes(ORIGINAL)) {
  warn(`${file} is not the s3rver 3.7.1 this patch knows; left as it is`);
  process.exit(0);
}
try {
  writeFileSync(file, text.replace(ORIGINAL, PATCHED));
} catch (err) {
  warn(`cannot write ${file} (${err.message}); the emulator's S3 listings past 1,000 keys need it`);
}
