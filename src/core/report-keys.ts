import { WASM_BASE64 } from './report-keys-wasm.js';

/**
 * report-keys.wat's exports: a shared keys table's add for one thread, as
 * report-scan.wat imports it (begin, word, end per key), and the flush of
 * the keys it has not yet counted.
 */
export interface KeyAdder {
  begin(len: number): number;
  word(i: number, w: bigint): void;
  end(hash: number): number;
  touch(hash: number): void;
  flush(): void;
}

let wasmModule: WebAssembly.Module | undefined;

/**
 * This thread's adder to the table in `memory` (stages/report/shared-keys.ts
 * lays it out; its header is read once here, so the table is made first).
 */
export function keyAdder(memory: WebAssembly.Memory): KeyAdder {
  wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
  const exports = new WebAssembly.Instance(wasmModule, { keys: { memory } })
    .exports as unknown as KeyAdder & {
    init(): void;
  };
  exports.init();
  return exports;
}
