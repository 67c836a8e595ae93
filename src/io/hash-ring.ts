/**
 * The shared ring between OffThreadHasher (hasher.ts) and its worker
 * (hash-worker.ts): the control slots, the record ops and sizes, and what
 * the worker is given and posts back.
 *
 * Layout of the SharedArrayBuffer: a control block of Int32 slots (each
 * written by one side, on its own 64-byte line so the two threads do not
 * fight over a cache line), then a byte ring of a power-of-two size. The
 * producer (the thread that owns the OffThreadHasher) appends records and
 * publishes `head`; the worker hashes them in order and publishes `tail`.
 * Both are free-running 32-bit byte counters: `(head - tail) >>> 0` is the
 * bytes in use and `counter & (size - 1)` the position, so full and empty
 * never look alike.
 *
 * A record is a 16-byte header of four Int32 (op, stream id, payload
 * length, second stream id or 0) and its payload, padded to 8 bytes. A
 * record that does not fit before the end of the ring is preceded by a WRAP
 * marker that sends the reader back to offset 0; a payload is at most a
 * quarter of the ring, so larger updates become several records.
 *
 * Waking: each side sets a WAITING slot before it sleeps with Atomics.wait,
 * and the other notifies only when that slot is set (a notify is a syscall;
 * most updates find the worker busy). Atomics.wait compares the slot it
 * sleeps on first, so a record published between the check and the sleep is
 * never missed.
 */

/** Control slots (Int32 indexes), one 64-byte line per writer. */
export const HEAD = 0;
export const TAIL = 16;
export const WORKER_WAITING = 32;
export const PRODUCER_WAITING = 48;
/** The tail the waiting producer needs before it is worth waking it. */
export const WAKE_AT = 49;
/** Set by either side when the worker cannot go on; the producer stops waiting. */
export const FAILED = 64;
/** Bytes of UTF-8 at ERROR_AT: why the worker failed, readable while this thread cannot get its 'error' event. */
export const ERROR_LENGTH = 65;
export const CONTROL_INTS = 80;
export const ERROR_AT = CONTROL_INTS * 4;
export const ERROR_BYTES = 1024;
/** Where the ring starts. */
export const CONTROL_BYTES = ERROR_AT + ERROR_BYTES;

export const OP_WRAP = 1;
export const OP_UPDATE = 2;
export const OP_DIGEST = 3;
export const OP_CLOSE = 4;
export const HEADER_BYTES = 16;

/** Bytes a record with `len` payload bytes takes in the ring. */
export function recordBytes(len: number): number {
  return (HEADER_BYTES + len + 7) & ~7;
}

/** What the worker gets at start. */
export interface HashWorkerData {
  sab: SharedArrayBuffer;
  ringBytes: number;
}

/** What the worker posts back: one digest, in the order DIGEST records were written. */
export interface HashWorkerReply {
  id: number;
  hex: string;
}
