import { hashBytes } from './byteset.js';

/**
 * A Bloom filter of keys as bytes: "maybe held" or "surely not", in a fixed
 * number of bits whatever the number of keys. The users join asks it which
 * CRM rows could be users of the outputs: a CRM file holds many more users
 * than one run recommends to, and the rows it rules out are never decoded or
 * held. A false "maybe" costs one row kept for nothing; the join itself then
 * matches keys exactly, so no answer depends on it. Blocked: a key's bits all
 * sit in one 64-byte block, one cache miss a look where a classic filter of
 * 16 MiB took five (the look was a fifth of a 5-million-row users file's
 * read). With 10 bits a key, about 1 key in 100 it never saw passes.
 */
export class KeyFilter {
  private readonly words: Uint32Array;
  /** Blocks of 512 bits (one 64-byte cache line): every probe of a key lands in its one block. */
  private readonly blockMask: number;
  /** Keys added (with repeats). */
  added = 0;

  /**
   * A filter for about `keys` keys, at most `maxBytes` of memory (a power of two, at least 128 KiB);
   * or, given shared() of another, a view of that one's bits (a worker asks the same filter).
   */
  constructor(keys: number, maxBytes: number, shared?: SharedArrayBuffer) {
    let bytes = 128 * 1024;
    while (bytes * 8 < keys * BITS_PER_KEY && bytes * 2 <= maxBytes) bytes *= 2;
    this.words = new Uint32Array(shared ?? new SharedArrayBuffer(bytes));
    this.blockMask = this.words.byteLength / 64 - 1;
  }

  get bytes(): number {
    return this.words.byteLength;
  }

  /** The bits, for a worker's `new KeyFilter(0, 0, shared)`: read there, not copied. */
  shared(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  /** Adds the keys of a filter of the same size (its shared() bits, `added` keys): the union, as if added here. */
  merge(bits: SharedArrayBuffer, added: number): void {
    const other = new Uint32Array(bits);
    if (other.length !== this.words.length) throw new Error('KeyFilter.merge: filters of different sizes');
    const words = this.words;
    for (let i = 0; i < words.length; i++) words[i] = (words[i] as number) | (other[i] as number);
    this.added += added;
  }

  add(buf: Uint8Array, start: number, end: number): void {
    this.added++;
    const h = hashBytes(buf, start, end);
    const base = (h & this.blockMask) << 4;
    // The bits within the block from a second hash mixed out of the first (one pass over the key).
    let g = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    for (let i = 0; i < HASHES; i++) {
      g = Math.imul(g ^ (g >>> 12), 0x297a2d39) ^ i;
      const bit = g >>> 23; // 0..511
      const w = base + (bit >>> 5);
      this.words[w] = (this.words[w] as number) | (1 << (bit & 31));
    }
  }

  has(buf: Uint8Array, start: number, end: number): boolean {
    const h = hashBytes(buf, start, end);
    const base = (h & this.blockMask) << 4;
    let g = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    for (let i = 0; i < HASHES; i++) {
      g = Math.imul(g ^ (g >>> 12), 0x297a2d39) ^ i;
      const bit = g >>> 23;
      if (((this.words[base + (bit >>> 5)] as number) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

const BITS_PER_KEY = 10;
const HASHES = 6;
