/**
 * What one library call brings with it down to the reads and writes: its S3 client and its
 * AbortSignal. Carried in an AsyncLocalStorage so that two calls running at once (a Lambda
 * handling two events, a test suite) each reach S3 through their own client and stop on their
 * own signal, without threading both through every source and sink.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import { abortError } from '../errors.js';

export interface Scope {
  /** The call's S3 client, made on first use. */
  s3?: () => S3Client;
  signal?: AbortSignal;
}

const storage = new AsyncLocalStorage<Scope>();

/** Runs `fn` with the scope's entries replaced by the ones `patch` names (an inner call inherits the rest). */
export function inScope<T>(patch: Scope, fn: () => Promise<T>): Promise<T> {
  const next: Scope = { ...storage.getStore() };
  if (patch.s3) next.s3 = patch.s3;
  if (patch.signal) next.signal = patch.signal;
  return storage.run(next, fn);
}

/** The S3 client of the call in progress, if it brought one. */
export function scopeS3(): S3Client | undefined {
  return storage.getStore()?.s3?.();
}

/** The signal of the call in progress, if it brought one. */
export function scopeSignal(): AbortSignal | undefined {
  return storage.getStore()?.signal;
}

/** Throws the AbortError of the call's signal (or the one given) once it is aborted: read and write loops ask between chunks. */
export function checkAborted(signal: AbortSignal | undefined = scopeSignal()): void {
  if (signal?.aborted) throw abortError(signal);
}
