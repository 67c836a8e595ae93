/**
 * Sources opened a few ahead of the one being read, handed out in order. Why: an object on S3 costs
 * a round trip before its first byte, so a thousand small shards read one after another wait a
 * thousand round trips (validate of 1,005 one-line objects on the emulator: 9.7 s). Each source
 * opened ahead holds what opening it read (openText: its first 64 KiB at most), so the memory is
 * `depth` times that.
 */
export class ReadAhead<T, R> {
  readonly #items: readonly T[];
  readonly #open: (item: T) => Promise<R>;
  readonly #close: (opened: R) => Promise<void>;
  readonly #depth: number;
  readonly #opened = new Map<number, Promise<R>>();
  #next = 0;

  /** `close` releases a source opened but never taken (the reader stopped early). */
  constructor(
    items: readonly T[],
    open: (item: T) => Promise<R>,
    close: (opened: R) => Promise<void>,
    depth: number,
  ) {
    this.#items = items;
    this.#open = open;
    this.#close = close;
    this.#depth = Math.max(1, depth);
  }

  /** Item i opened (or its opening's error), after starting the next ones up to the depth. */
  take(i: number): Promise<R> {
    while (this.#next < this.#items.length && this.#next < i + this.#depth) {
      const p = this.#open(this.#items[this.#next] as T);
      // Its error is the taker's, when it takes it; until then it must not count as unhandled.
      p.catch(() => {});
      this.#opened.set(this.#next++, p);
    }
    const p = this.#opened.get(i);
    if (!p) throw new Error(`ReadAhead: item ${i} taken twice or out of range`);
    this.#opened.delete(i);
    return p;
  }

  /** Closes what was opened and not taken. */
  async close(): Promise<void> {
    const left = [...this.#opened.values()];
    this.#opened.clear();
    this.#next = this.#items.length;
    await Promise.all(left.map((p) => p.then(this.#close, () => {})));
  }
}
