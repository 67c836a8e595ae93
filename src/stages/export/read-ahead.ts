/**
 * Reads ahead: up to `depth` items are requested before the consumer asks,
 * so reading overlaps with converting and writing.
 */
export async function* prefetch<T>(src: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const it = src[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      while (queue.length < depth) {
        const p = it.next();
        // Rejections are seen when awaited below; this keeps a queued one from counting as unhandled.
        p.catch(() => {});
        queue.push(p);
      }
      const r = await (queue.shift() as Promise<IteratorResult<T>>);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}
