/**
 * The one place a library call's `s3` and `personalize` options become clients: settings (any
 * client config) make a client the call owns and destroys when it ends; a ready client (an
 * application's own, with its middleware, credentials and agents) is used as it is and left
 * open; nothing given means the AWS SDK's default chain. `withCall` runs a call with its S3
 * client and its AbortSignal in scope and turns whatever an abort made fail into the AbortError.
 */
import { createRequire } from 'node:module';
import type * as PersonalizeSdk from '@aws-sdk/client-personalize';
import type { PersonalizeClient, PersonalizeClientConfig } from '@aws-sdk/client-personalize';
import type { S3Client } from '@aws-sdk/client-s3';
import { abortError } from '../errors.js';
import { makeS3Client, quietSdkWarning, type S3Options } from './s3.js';
import { checkAborted, inScope } from './scope.js';

const require = createRequire(import.meta.url);

/** S3 settings, or a ready `S3Client`. */
export type S3Connection = S3Options | S3Client;

/** Personalize client config (`endpoint` a string: the emulator's, say), or a ready `PersonalizeClient`. */
export interface PersonalizeSettings extends PersonalizeClientConfig {
  /** Default: the SDK's chain (AWS_REGION, the profile's region); with an endpoint, us-east-1. */
  region?: string;
  /** A Personalize-compatible endpoint (the emulator); AWS_ENDPOINT_URL_PERSONALIZE also works. */
  endpoint?: string;
}
export type PersonalizeConnection = PersonalizeSettings | PersonalizeClient;

/**
 * A client, not settings. Asked of its shape, not `instanceof`: an application's client comes
 * from its own copy of the SDK, often another version than this package's.
 */
export function isClient<C extends { send: unknown }>(c: object | undefined): c is C {
  return typeof (c as { send?: unknown } | undefined)?.send === 'function';
}

/** The client and whether this call made it (and so destroys it). */
export interface Resolved<C> {
  client: C;
  owned: boolean;
}

export function resolvePersonalize(c: PersonalizeConnection = {}): Resolved<PersonalizeClient> {
  if (isClient<PersonalizeClient>(c)) return { client: c, owned: false };
  quietSdkWarning('@aws-sdk/client-personalize');
  const sdk = require('@aws-sdk/client-personalize') as typeof PersonalizeSdk;
  const client = new sdk.PersonalizeClient({
    ...c,
    // Without a region the SDK's chain decides (AWS_REGION, the profile's region); a stand-in
    // service answers in any region, so one is made up for it.
    region: c.region ?? (c.endpoint !== undefined ? 'us-east-1' : undefined),
  });
  return { client, owned: true };
}

/**
 * Runs one library call: its S3 connection (made on first use, destroyed at the end when made
 * here) and its signal in scope for every read and write below. Once the signal is aborted,
 * whatever failed because of it rejects as the AbortError.
 */
export async function withCall<T>(
  o: { s3?: S3Connection; signal?: AbortSignal },
  fn: () => Promise<T>,
): Promise<T> {
  const { signal } = o;
  checkAborted(signal);
  let made: S3Client | undefined;
  const s3 = o.s3;
  const get =
    s3 === undefined
      ? undefined
      : isClient<S3Client>(s3)
        ? () => s3
        : () => {
            made ??= makeS3Client(s3);
            return made;
          };
  try {
    return await inScope({ s3: get, signal }, fn);
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    throw err;
  } finally {
    made?.destroy();
  }
}

/** What every library call that reads or writes takes besides its own options. */
export interface CallOptions {
  /** S3 client config, or a ready `S3Client` (used as it is, left open), for s3:// paths. Default: the SDK's chain. */
  s3?: S3Connection;
  /**
   * Stops the call: reads and writes stop at the next chunk, temporary files and partial outputs
   * are removed, and the call rejects with an AbortError (`err.name === 'AbortError'`).
   */
  signal?: AbortSignal;
}
