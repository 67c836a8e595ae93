/**
 * AbortSignal for the library's long-running functions: the error they
 * reject with, and an async iteration raced against the signal, so that a
 * source which waits (a database cursor, a stalled stream) does not hold an
 * abort up.
 */

/**
 * The error an aborted operation rejects with, as node's own APIs do: the
 * signal's reason when it is already an AbortError, else an AbortError whose
 * `cause` is the reason (so `err.name === 'AbortError'` holds whatever the
 * caller passed to `abort()`).
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new DOMException('The operation was aborted', 'AbortError');
  // The lib types lack DOMException's options argument: the cause is set as node sets it.
  Object.defineProperty(err, 'cause', { value: reason, configurable: true, writable: true });
  return err;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Settles with the promise, or rejects with the AbortError as soon as the signal aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * The values of a sync or async iterable, each wait raced against the
 * signal. On abort (or when the consumer stops early) the source is told to
 * stop with return(): an async generator's `finally` runs as soon as its
 * pending step settles; it is not awaited, as a source stuck in a wait
 * would otherwise hold the abort up.
 */
export async function* abortable<T>(
  source: Iterable<T> | AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T, void, undefined> {
  throwIfAborted(signal);
  if (Symbol.asyncIterator in source) {
    const it = source[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        const r = await raceAbort(it.next(), signal);
        if (r.done) {
          done = true;
          return;
        }
        yield r.value;
      }
    } finally {
      if (!done) Promise.resolve(it.return?.()).catch(() => {});
    }
  }
  // A sync source never waits: a check per value is enough.
  for (const v of source as Iterable<T>) {
    throwIfAborted(signal);
    yield v;
  }
}
