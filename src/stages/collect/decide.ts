import { ByteIndex, hashBytes } from '../../core/byteset.js';
import { eachLine, eachPartition, type SpillDir } from '../../io/spill.js';
import { setBit } from './bits.js';
import type { CollectProgress } from './events.js';
import { type Keyed, TYPE_ERROR, TYPE_OK } from './keys.js';
import type { CollectSummary } from './summary.js';

/** What step 2 decided: bits by line number. */
export interface Decided {
  /** Output lines kept in the merged output. */
  keepOut: Uint8Array;
  /** Error lines kept in the errors file. */
  keepError: Uint8Array;
  /** Input lines with no output line at all. */
  missing: Uint8Array;
}

/**
 * Step 2: decides per key, one partition at a time (lines without a key are
 * kept already), and adds the counts to the summary.
 */
export async function decideKeys(
  spill: SpillDir,
  { keyer, parts }: Keyed,
  hasInput: boolean,
  budget: number,
  s: CollectSummary,
  progress: CollectProgress,
): Promise<Decided> {
  const keepOut = keyer.keepOut.sized(keyer.ordinal);
  const keepError = keyer.keepError.sized(keyer.ordinal);
  const missing = new Uint8Array(Math.ceil(keyer.inputOrdinal / 8));
  // Half the budget for the reload estimate (eachPartition's), half for the per-key state arrays.
  const keyed = parts.entries.reduce((a, b) => a + b, 0);
  let decided = 0;
  for await (const [part, , expect] of eachPartition(spill, parts, budget / 2)) {
    const d = decidePartition(part, expect, keepOut, keepError, missing, hasInput);
    const r = await d;
    decided += expect.keys;
    progress.decided(decided, keyed);
    s.duplicates += r.duplicates;
    s.failedKeys += r.failedKeys;
    s.recovered += r.recovered;
    s.missing += r.missing;
    s.inputDuplicates += r.inputDuplicates;
    s.unexpected += r.unexpected;
  }
  return { keepOut, keepError, missing };
}

interface Decision {
  duplicates: number;
  failedKeys: number;
  recovered: number;
  missing: number;
  inputDuplicates: number;
  unexpected: number;
}

/** Step 2 for one partition: per key, which line is kept, which error reported, which input missing. */
async function decidePartition(
  part: AsyncIterable<Buffer>,
  expect: { keys: number; keyBytes: number },
  keepOut: Uint8Array,
  keepError: Uint8Array,
  missing: Uint8Array,
  hasInput: boolean,
): Promise<Decision> {
  const index = new ByteIndex(expect);
  // Entries bound the keys from above.
  const ok = new Float64Array(expect.keys).fill(-1);
  const err = new Float64Array(expect.keys).fill(-1);
  const inp = new Float64Array(expect.keys).fill(-1);
  const d: Decision = {
    duplicates: 0,
    failedKeys: 0,
    recovered: 0,
    missing: 0,
    inputDuplicates: 0,
    unexpected: 0,
  };
  for await (const seg of part) {
    eachLine(seg, (ks, ke, ps, pe) => {
      const id = index.add(seg, ks, ke, hashBytes(seg, ks, ke));
      let ord = 0;
      for (let i = ps + 1; i < pe; i++) ord = ord * 10 + ((seg[i] as number) - 48);
      const type = seg[ps];
      if (type === TYPE_OK) {
        if (ok[id] === -1) ok[id] = ord;
        else d.duplicates++;
      } else if (type === TYPE_ERROR) {
        // A second error line of a key (a rerun failed it again) is a repeat too: every line is counted.
        if (err[id] === -1) err[id] = ord;
        else d.duplicates++;
      } else if (inp[id] === -1) inp[id] = ord;
      else d.inputDuplicates++;
    });
  }
  for (let id = 0; id < index.size; id++) {
    const o = ok[id] as number;
    const e = err[id] as number;
    const i = inp[id] as number;
    if (o >= 0) {
      setBit(keepOut, o);
      if (e >= 0) d.recovered++;
    } else if (e >= 0) {
      setBit(keepError, e);
      d.failedKeys++;
    } else if (i >= 0) {
      setBit(missing, i);
      d.missing++;
    }
    if (hasInput && i < 0 && (o >= 0 || e >= 0)) d.unexpected++;
  }
  return d;
}
