import { hashBytes } from './byteset.js';

/**
 * A Bloom filter of keys as bytes: "maybe held" or "surely not", in a fixed
 * number of bits whatever the number of keys. The users join asks it which
 * CRM rows could be users of the outputs: a CRM file holds many more users
 * than one run recommends to, and the rows it rules out are never decoded or
 * held. A false "maybe" costs one row kept for nothing; the join itself then
 * matches keys exactly, so no answer depends on it. With 10 bits a key and 5
 * hashes, about 1 key in 100 it never saw passes.
 */
export class KeyFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  /** Keys added (with repeats). */
  added = 0;

  /** A filter for about `keys` keys, at most `maxBytes` of memory (a power of two, at least 128 KiB). */
  constructor(keys: number, maxBytes: number) {
    let bytes = 128 * 1024;
    while (bytes * 8 < keys * BITS_PER_KEY && bytes * 2 <= maxBytes) bytes *= 2;
    this.bits = new Uint32Array(bytes / 4);
    this.mask = bytes * 8 - 1;
  }

  get bytes(): number {
    return this.bits.byteLength;
  }

  add(buf: Uint8Array, start: number, end: number): void {
    this.added++;
    const h1 = hashBytes(buf, start, end);
    const h2 = hashBytes(buf, start, end, SEED) | 1;
    for (let i = 0; i < HASHES; i++) {
      const b = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[b >>> 5] = (this.bits[b >>> 5] as number) | (1 << (b & 31));
    }
  }

  has(buf: Uint8Array, start: number, end: number): boolean {
    const h1 = hashBytes(buf, start, end);
    const h2 = hashBytes(buf, start, end, SEED) | 1;
    for (let i = 0; i < HASHES; i++) {
      const b = (h1 + Math.imul(i, h2)) & this.mask;
      if (((this.bits[b >>> 5] as number) & (1 << (b & 31))) === 0) return false;
    }
    return true;
  }
}

const BITS_PER_KEY = 10;
const HASHES = 5;
const SEED = 0x9e3779b9;
