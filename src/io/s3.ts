import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { ListObjectsV2CommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as Storage from '@aws-sdk/lib-storage';
import { PbError } from '../errors.js';
import { checkAborted, scopeS3, scopeSignal } from './scope.js';

const require = createRequire(import.meta.url);
let sdk: typeof S3Sdk | undefined;
let storage: typeof Storage | undefined;

/**
 * The AWS SDK for S3, loaded on first use (its CommonJS build, so that this
 * stays synchronous): loading it took 0.15 s of every start, a command that
 * only reads and writes local files included.
 */
export function s3Sdk(): typeof S3Sdk {
  if (!sdk) {
    quietSdkWarning('@aws-sdk/client-s3');
    sdk = require('@aws-sdk/client-s3') as typeof S3Sdk;
  }
  return sdk;
}

let sdkWarningWanted = false;

/** The CLI's user set the SDK's own switch to something other than "true": leave the warning to the SDK. */
export function allowSdkWarning(): void {
  sdkWarningWanted = true;
}

/**
 * The AWS SDK's Node-version warning off before a client of `pkg` is made: the library prints
 * nothing, and this package pins SDK versions that support Node 20, so the warning (that releases
 * from 2027 need Node 22) tells a user of it nothing to act on. The SDK keeps "warned already" in
 * an exported `state` of @aws-sdk/core/client, the copy `pkg` itself loads; setting it is what
 * its own switch (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, which the CLI sets) does,
 * without touching the process's environment. An SDK laid out otherwise is left as it is.
 */
export function quietSdkWarning(pkg: string): void {
  if (sdkWarningWanted) return;
  try {
    const core = createRequire(require.resolve(pkg))('@aws-sdk/core/client') as {
      state?: { warningEmitted?: boolean };
    };
    if (core.state) core.state.warningEmitted = true;
  } catch {
    // No such module in this SDK version: nothing to turn off.
  }
}

function s3Storage(): typeof Storage {
  storage ??= require('@aws-sdk/lib-storage') as typeof Storage;
  return storage;
}

/** An S3 bucket name, as S3 takes it (schemas/pipeline.schema.json's s3Prefix holds the same rule). */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const BUCKET_NAME_RULE =
  '3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit';

/** `s3://bucket/key`, split. */
export interface S3Location {
  bucket: string;
  key: string;
}

export function isS3Uri(s: string): boolean {
  return s.startsWith('s3://');
}

/** A name inside a folder: a local path, or a key under an `s3://` prefix (which joins with `/`). */
export function inFolder(dir: string, name: string): string {
  return isS3Uri(dir) ? `${dir.endsWith('/') ? dir : `${dir}/`}${name}` : join(dir, name);
}

export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  const bucket = m?.[1];
  if (!bucket) throw new PbError('PB_USAGE', `not an S3 URI (s3://bucket/key): ${uri}`);
  return { bucket, key: m?.[2] ?? '' };
}

/**
 * Connection settings: any S3ClientConfig entry, with these defaults; everything else comes from
 * the AWS SDK's default chain (env, profiles, SSO, roles).
 */
export interface S3Options extends S3ClientConfig {
  region?: string;
  /**
   * An S3-compatible endpoint (MinIO, LocalStack, a test server). The CLI passes AWS_ENDPOINT_URL_S3
   * here; a library user passes it too, for the path-style and checksum defaults below.
   */
  endpoint?: string;
  /** Path-style addressing, which most S3-compatible servers need. Default: on when an endpoint is given. */
  forcePathStyle?: boolean;
  /**
   * Checksums only where the API requires them. Some S3-compatible servers
   * store the aws-chunked framing of a streamed PutObject as data when the
   * SDK's default (WHEN_SUPPORTED) is used. Default: on when an endpoint is given.
   */
  checksumsWhenRequired?: boolean;
  /** A profile from the shared config and credentials files (like AWS_PROFILE). */
  profile?: string;
  /** Attempts per request (the SDK's retry), default 3. */
  maxAttempts?: number;
}

let configured: S3Options = {};
let shared: S3Client | undefined;

/** Settings for the client that commands use for s3:// paths (the CLI's --region, --endpoint-url, --profile). */
export function configureS3(o: S3Options): void {
  configured = { ...o };
  shared?.destroy();
  shared = undefined;
}

/** The settings configureS3 was last given (to put them back after a temporary change). */
export function s3Settings(): S3Options {
  return { ...configured };
}

/** The client of the library call in progress (its `s3` option), else the one for commands, made on first use. */
export function defaultS3Client(): S3Client {
  const own = scopeS3();
  if (own) return own;
  shared ??= makeS3Client(configured);
  return shared;
}

/**
 * Sources as given, with each `s3://bucket/prefix/` (a trailing slash)
 * replaced by the objects under it, in key order.
 */
export async function expandSources(sources: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const src of sources) {
    if (!isS3Uri(src) || !src.endsWith('/')) {
      out.push(src);
      continue;
    }
    const before = out.length;
    for await (const o of listS3(defaultS3Client(), src)) out.push(`s3://${o.bucket}/${o.key}`);
    if (out.length === before) throw new PbError('PB_IO', 'no objects under this prefix', { file: src });
  }
  return out;
}

export function makeS3Client(o: S3Options = {}): S3Client {
  const { checksumsWhenRequired, ...config } = o;
  const custom = o.endpoint !== undefined;
  const whenRequired = checksumsWhenRequired ?? custom;
  return new (s3Sdk().S3Client)({
    ...config,
    // Without a region the SDK's chain decides (AWS_REGION, the profile's region); an
    // S3-compatible server answers in any region, so one is made up for it.
    region: o.region ?? (custom ? 'us-east-1' : undefined),
    forcePathStyle: o.forcePathStyle ?? custom,
    ...(whenRequired
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  });
}

/**
 * Whether an object exists. Asked of the listing, not HeadObject: without
 * s3:ListBucket on the whole bucket S3 answers a missing object with 403, and
 * a policy scoped to the work prefix allows listing that prefix.
 */
export async function s3ObjectExists(uri: string): Promise<boolean> {
  const { key } = parseS3Uri(uri);
  for await (const o of listS3(defaultS3Client(), uri, 1)) return o.key === key;
  return false;
}

/** Deletes an object (S3 answers a missing one with success too). */
export async function deleteS3(uri: string): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    await defaultS3Client().send(new (s3Sdk().DeleteObjectCommand)({ Bucket: bucket, Key: key }));
  } catch (err) {
    throw s3Error(uri, err);
  }
}

/** Plain words for the S3 errors users hit, with the URI. */
/** The SDK found no region in the options, AWS_REGION or the profile. */
export const NO_REGION =
  'no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), pass --region, or give your AWS profile a region';

export function s3Error(uri: string, err: unknown): PbError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  let reason: string;
  switch (e.name) {
    case 'NoSuchBucket':
      reason = 'no such bucket';
      break;
    case 'NoSuchKey':
    case 'NotFound':
      // A prefix given without its slash is read as one object's key.
      reason = uri.endsWith('/')
        ? 'no such object'
        : 'no such object (for every object under a prefix, end it with /)';
      break;
    case 'AccessDenied':
      reason = `access denied (${e.message ?? 'check the s3:GetObject, s3:PutObject and s3:ListBucket permissions'})`;
      break;
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      reason = `the bucket is in another region (${e.message ?? ''}); pass --region`;
      break;
    case 'CredentialsProviderError':
      reason = `no AWS credentials (${e.message ?? ''}): set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or use the environment \`personalize-batch emulate\` prints`;
      break;
    default:
      if (e.name === 'Error' && e.message === 'Region is missing') reason = NO_REGION;
      else if (e.name === 'Error' && /ECONNREFUSED/.test(e.message ?? ''))
        reason = `nothing answers at the S3 endpoint (${e.message}): is the emulator running, or --endpoint-url right?`;
      else reason = `${e.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
  }
  return new PbError('PB_IO', reason, { file: uri }, { cause: err });
}

/**
 * Keys under a prefix, in key order (S3 lists in UTF-8 binary order), page
 * by page. Zero-byte "folder" markers and `_CHECK` objects are skipped.
 */
export async function* listS3(
  client: S3Client,
  uri: string,
  pageSize = 1000,
): AsyncGenerator<S3Location & { size: number; etag?: string }> {
  const { bucket, key: prefix } = parseS3Uri(uri);
  let token: string | undefined;
  do {
    checkAborted();
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new (s3Sdk().ListObjectsV2Command)({
          Bucket: bucket,
          Prefix: prefix,
          ContinuationToken: token,
          MaxKeys: pageSize,
        }),
      );
    } catch (err) {
      throw s3Error(uri, err);
    }
    for (const o of page.Contents ?? []) {
      const k = o.Key ?? '';
      const size = o.Size ?? 0;
      if ((size === 0 && k.endsWith('/')) || k.split('/').pop() === '_CHECK') continue;
      yield { bucket, key: k, size, etag: o.ETag };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

export interface ReadS3Options {
  /** Times a broken read is resumed from the last byte received. Default 5. */
  resumes?: number;
}

/**
 * An object's bytes. When the connection drops mid-body the read goes on
 * with a Range request from the last byte received, so a multi-gigabyte
 * read survives a reset without starting over or repeating bytes; the ETag
 * is pinned (If-Match) so a changed object is an error, not a mix.
 */
export async function* readS3(
  client: S3Client,
  uri: string,
  opts: ReadS3Options = {},
): AsyncGenerator<Buffer> {
  const { bucket, key } = parseS3Uri(uri);
  let offset = 0;
  let etag: string | undefined;
  let resumes = opts.resumes ?? 5;
  const signal = scopeSignal();
  for (;;) {
    let body: AsyncIterable<Uint8Array>;
    try {
      checkAborted(signal);
      const res = await client.send(
        new (s3Sdk().GetObjectCommand)({
          Bucket: bucket,
          Key: key,
          Range: offset > 0 ? `bytes=${offset}-` : undefined,
          IfMatch: etag,
        }),
        { abortSignal: signal },
      );
      etag ??= res.ETag;
      body = res.Body as AsyncIterable<Uint8Array>;
    } catch (err) {
      checkAborted(signal);
      throw s3Error(uri, err);
    }
    try {
      for await (const chunk of body) {
        checkAborted(signal);
        offset += chunk.length;
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      return;
    } catch (err) {
      checkAborted(signal);
      if (resumes-- <= 0) throw s3Error(uri, err);
    }
  }
}

export interface WriteS3Options {
  /** Bytes per part, default 8 MiB (S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once, default 4. Memory is at most queueSize x partSize. */
  queueSize?: number;
}

/**
 * Streams bytes to an object through a multipart upload: memory is at most
 * queueSize x partSize, nothing is staged on disk, and a failed upload is
 * aborted so no partial object appears under the key.
 */
export async function writeS3(
  client: S3Client,
  uri: string,
  body: AsyncIterable<Buffer | string>,
  opts: WriteS3Options = {},
): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  const signal = scopeSignal();
  const upload = new (s3Storage().Upload)({
    client,
    params: { Bucket: bucket, Key: key, Body: Readable.from(body, { objectMode: false }) },
    partSize: opts.partSize ?? 8 * 1024 * 1024,
    queueSize: opts.queueSize ?? 4,
    leavePartsOnError: false,
  });
  // An abort stops the upload and lib-storage aborts the multipart upload: no object appears.
  const stop = () => void upload.abort().catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  try {
    checkAborted(signal);
    await upload.done();
  } catch (err) {
    // lib-storage aborts the multipart upload itself; make sure, in case the
    // failure came before it knew the upload id.
    const id = (upload as unknown as { uploadId?: string }).uploadId;
    if (id)
      await client
        .send(new (s3Sdk().AbortMultipartUploadCommand)({ Bucket: bucket, Key: key, UploadId: id }))
        .catch(() => {});
    checkAborted(signal);
    throw err instanceof PbError ? err : s3Error(uri, err);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
