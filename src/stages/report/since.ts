import { hashBytes } from '../../core/byteset.js';
import { checkSameRecipe, ListDigest, type Recipe, recipeOf } from '../../core/delta.js';
import type { OutKeyField, OutLineParser } from '../../core/out-lines.js';
import { jaccard, type ReportJson, UnitBins } from '../../core/report.js';
import { eachLine, eachPartition, type PartitionSet, type SpillDir } from '../../io/spill.js';
import { DeltaKeys, TYPE_OK, TYPE_PREV } from '../export/delta/keys.js';
import { readPrev } from '../export/delta/prev.js';

/** A list's digest that also keeps a 32-bit hash of each of its first k ids, for the Jaccard overlap. */
class IdsDigest extends ListDigest {
  hashes: number[] = [];
  constructor(private readonly k: number) {
    super();
  }
  override reset(): void {
    super.reset();
    // reset() runs in ListDigest's constructor too, before the fields here exist.
    if (this.hashes) this.hashes.length = 0;
  }
  override id(buf: Uint8Array, start: number, end: number): void {
    if (this.count < this.k) this.hashes.push(hashBytes(buf, start, end, 0x5eed));
    super.id(buf, start, end);
  }
}

const HEX = Buffer.from('0123456789abcdef');

/**
 * export --since's key writer (PREV read as export reads it: `.out`,
 * csv-long, csv-wide or jsonl), its partition lines carrying, after the
 * type and the whole list's digest, the hashes of the first k ids: a key's
 * two lists meet in one partition, and one partition at a time is held.
 */
export class SinceKeys extends DeltaKeys {
  declare readonly digest: IdsDigest;
  private readonly out: Buffer;
  /** PREV's recipe, once read (readSince): undefined for a PREV with no keyed line. */
  prevRecipe: Recipe | undefined;

  constructor(
    parts: PartitionSet,
    readonly k: number,
  ) {
    super(parts, false);
    (this as { digest: ListDigest }).digest = new IdsDigest(k);
    this.out = Buffer.allocUnsafe(17 + 8 * k);
  }

  override put(key: Uint8Array, ks: number, ke: number, type: number): Promise<void> | undefined {
    const p = this.out;
    p[0] = type;
    this.digest.hexInto(p, 1);
    let at = 17;
    for (const h of this.digest.hashes) {
      for (let i = 7; i >= 0; i--) p[at++] = HEX[(h >>> (4 * i)) & 15] as number;
    }
    return this.parts.write(key, ks, ke, hashBytes(key, ks, ke, this.parts.seed), p, 0, at);
  }

  /** None: the partitions carry the first k ids' hashes too, which the scan does not give. */
  override lineScanner(): undefined {
    return undefined;
  }

  /** A current `.out` line with recommendations (its key known to be there). */
  current(parser: OutLineParser, buf: Uint8Array): Promise<void> | undefined {
    this.outLine(parser, buf, 0);
    const w = this.outKey(parser, buf, TYPE_OK, true, 0);
    return w === false ? undefined : w;
  }
}

/** What the partitions cost to reload: the key and payload as strings in two maps. */
function weigh(_payload: Uint8Array, ps: number, pe: number): number {
  return 2 * (pe - ps) + 120;
}

export function sincePartitions(spill: SpillDir): Promise<PartitionSet> {
  return spill.partitions(0x51ce, undefined, weigh);
}

/** PREV into the partitions (a CSV's header read back through `rename`); its key count. */
export async function readSince(
  prev: string,
  keys: SinceKeys,
  maxLineLength: number,
  rename?: Record<string, string>,
): Promise<number> {
  const r = await readPrev(prev, keys, { top: 0, escapeFormulas: true, maxLineLength, rename });
  keys.prevRecipe = r.recipe;
  return r.keys;
}

/**
 * Keys of two recipes never match: a related-items output against its
 * --map-users export (users) would count every key new and every PREV key
 * gone. Refused as export --since refuses it.
 */
export function checkSinceRecipe(
  prev: string,
  keys: SinceKeys,
  outputs: { keyField: string | null; segment: boolean },
): void {
  if (outputs.keyField === null) return;
  checkSameRecipe(prev, keys.prevRecipe, recipeOf(outputs.keyField as OutKeyField, outputs.segment));
}

/** report.json's since counts (the fields are named once, in core/report.ts), the Jaccard bins still to render. */
export type SinceCounts = Omit<NonNullable<ReportJson['since']>, 'prev' | 'k' | 'jaccardHistogram'> & {
  jaccard: UnitBins;
};

/**
 * One partition at a time: a key only in the outputs is new, only in PREV
 * gone; in both, changed when the ordered lists' digests differ, and its
 * first k ids' overlap (by 32-bit hash: two ids of one key's lists collide
 * about once in 10 million keys) counts towards the mean. A key's first
 * line wins on either side, as export --since counts a repeated key once.
 */
export async function decideSince(
  spill: SpillDir,
  parts: PartitionSet,
  budget: number,
): Promise<SinceCounts> {
  const c: SinceCounts = {
    prevKeys: 0,
    newKeys: 0,
    goneKeys: 0,
    changedKeys: 0,
    unchangedKeys: 0,
    meanJaccard: null,
    jaccard: new UnitBins(),
  };
  let sum = 0;
  let both = 0;
  for await (const [pieces] of eachPartition(spill, parts, budget)) {
    const prev = new Map<string, string>();
    const cur = new Map<string, string>();
    for await (const seg of pieces) {
      eachLine(seg, (ks, ke, ps, pe) => {
        const key = seg.toString('latin1', ks, ke);
        const side = seg[ps] === TYPE_PREV ? prev : cur;
        if (!side.has(key)) side.set(key, seg.toString('latin1', ps + 1, pe));
      });
    }
    c.prevKeys += prev.size;
    for (const [key, p] of cur) {
      const q = prev.get(key);
      if (q === undefined) {
        c.newKeys++;
        continue;
      }
      if (q.slice(0, 16) === p.slice(0, 16)) c.unchangedKeys++;
      else c.changedKeys++;
      const j = jaccard(hashList(p), hashList(q));
      c.jaccard.add(j);
      sum += j;
      both++;
    }
    for (const key of prev.keys()) if (!cur.has(key)) c.goneKeys++;
  }
  c.meanJaccard = both > 0 ? sum / both : null;
  return c;
}

function hashList(payload: string): string[] {
  const out: string[] = [];
  for (let i = 16; i + 8 <= payload.length; i += 8) out.push(payload.slice(i, i + 8));
  return out;
}
