import { expandBatchInputs } from '../../io/doc-kind.js';
import { inputPieces, isBlank } from '../collect/reading.js';
import type { CountTable } from './counts.js';

const LF = 10;
const FIELDS = ['userId', 'itemId', 'itemAttributes'] as const;
const PREFIXES = FIELDS.map((f) => Buffer.from(`{"${f}":"`));

/**
 * The batch input's keys into the keys' table (their second counter), so
 * that a key with input lines and no output line is missing. Manifests
 * stand for their shards' files, as collect reads them. Returns the input
 * lines without a key, and the files read.
 */
export async function countInputKeys(
  given: readonly string[],
  keys: CountTable,
  maxLineLength: number,
): Promise<{ files: string[]; withoutKey: number; lines: number }> {
  const files = await expandBatchInputs([...given], { manifests: 'expand' });
  let withoutKey = 0;
  let lines = 0;
  for (const file of files) {
    for await (const seg of inputPieces(file, undefined, maxLineLength)) {
      const waits: Promise<void>[] = [];
      let p = 0;
      while (p < seg.length) {
        let nl = seg.indexOf(LF, p);
        if (nl === -1) nl = seg.length;
        const e = nl > p && seg[nl - 1] === 13 ? nl - 1 : nl;
        if (!isBlank(seg, p, e)) {
          lines++;
          const key = inputKey(seg, p, e);
          if (key === undefined) withoutKey++;
          else {
            const w = keys.add(key.buf, key.s, key.e, 0, 1);
            if (w) waits.push(w);
          }
        }
        p = nl + 1;
      }
      await Promise.all(waits);
    }
  }
  return { files, withoutKey, lines };
}

/** The key's canonical bytes: by a look at the lines prepare writes, else through JSON.parse. */
function inputKey(seg: Buffer, s: number, e: number): { buf: Uint8Array; s: number; e: number } | undefined {
  for (const prefix of PREFIXES) {
    if (e - s <= prefix.length || seg.compare(prefix, 0, prefix.length, s, s + prefix.length) !== 0) continue;
    let i = s + prefix.length;
    while (i < e && seg[i] !== 34 && seg[i] !== 92 && (seg[i] as number) >= 32) i++;
    if (i < e && seg[i] === 34) return { buf: seg, s: s + prefix.length, e: i };
    break;
  }
  let obj: unknown;
  try {
    obj = JSON.parse(seg.toString('utf8', s, e));
  } catch {
    return undefined;
  }
  if (!obj || typeof obj !== 'object') return undefined;
  for (const f of FIELDS) {
    const v = (obj as Record<string, unknown>)[f];
    if (typeof v === 'string') {
      const canon = Buffer.from(JSON.stringify(v).slice(1, -1));
      return { buf: canon, s: 0, e: canon.length };
    }
  }
  return undefined;
}
