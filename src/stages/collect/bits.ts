/** Decisions are bits by line number (output lines and input lines numbered apart). */

/** A bit per line number, grown as lines are numbered. */
export class Bits {
  private bytes = new Uint8Array(1024);

  set(n: number): void {
    const i = Math.floor(n / 8);
    if (i >= this.bytes.length) {
      const bigger = new Uint8Array(Math.max(2 * this.bytes.length, i + 1));
      bigger.set(this.bytes);
      this.bytes = bigger;
    }
    this.bytes[i] = (this.bytes[i] as number) | (1 << (n % 8));
  }

  /** The bits for lines 0 to n - 1, in an array of exactly that many bits (rounded up to bytes). */
  sized(n: number): Uint8Array {
    const out = new Uint8Array(Math.ceil(n / 8));
    out.set(this.bytes.subarray(0, Math.min(out.length, this.bytes.length)));
    return out;
  }

  /** sized(n), and this lets go of its own array (grown by doubling: up to twice the bits), empty again. */
  take(n: number): Uint8Array {
    const out = this.sized(n);
    this.bytes = new Uint8Array(1024);
    return out;
  }
}

export function setBit(bits: Uint8Array, n: number): void {
  const i = Math.floor(n / 8);
  bits[i] = (bits[i] as number) | (1 << (n % 8));
}

export function getBit(bits: Uint8Array, n: number): boolean {
  return ((bits[Math.floor(n / 8)] as number) & (1 << (n % 8))) !== 0;
}
