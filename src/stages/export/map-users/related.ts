import type { Readable } from 'node:stream';
import type { RelatedList } from '../../../core/map-users.js';
import {
  decodeString,
  KEY_ITEM,
  KEY_NAMES,
  KIND_NAMES,
  KIND_RECOMMENDATIONS,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
  OutLineParser,
  SPAN_ESCAPED,
} from '../../../core/out-lines.js';
import { PbError } from '../../../errors.js';
import { readOutItems } from '../../../io/out-reader.js';
import type { PartitionSet, SpillDir } from '../../../io/spill.js';
import type { ResolvedExportOptions } from '../options.js';
import type { SideFile } from '../side-file.js';

/**
 * The related-items lists of the `.out` sources, held in memory as
 * source item -> its recommended ids and scores as printed (strings: no
 * digit lost) while they fit --memory-budget. Past it, every list (those
 * held first, in the order read) goes to hash partitions on disk by source
 * item (`item<TAB>[[ids],scores]`, see lists-disk.ts) and none is held:
 * repeated source items are then found when a partition is read back.
 * Lines keyed by anything but `input.itemId` are a usage error: only
 * related items have a source item to map a user's items to.
 */

export interface RelatedLists {
  /** The lists held in memory; empty once they went to disk. */
  lists: Map<string, RelatedList>;
  /** The lists on disk by source item (past --memory-budget), not closed: the users' picks join them. */
  disk: PartitionSet | undefined;
  /** The bytes the lists take, as counted against --memory-budget (on disk too). */
  bytes: number;
  lines: number;
  blank: number;
  errorLines: number;
  invalid: number;
  /** Lines for a source item an earlier line had: the first was kept. */
  duplicates: number;
  /** Some line had scores: the output has a score column. */
  scores: boolean;
}

/** What one map entry costs beyond its strings (the Map slot, the arrays, the strings' headers). */
const ENTRY_BYTES = 120;
const ID_BYTES = 40;

export async function loadRelated(
  sources: readonly string[],
  o: ResolvedExportOptions,
  stdin: Readable | undefined,
  side: { errors: SideFile; rejects: SideFile | undefined; spill: SpillDir },
): Promise<RelatedLists> {
  const { errors, rejects, spill } = side;
  const r: RelatedLists = {
    lists: new Map(),
    disk: undefined,
    bytes: 0,
    lines: 0,
    blank: 0,
    errorLines: 0,
    invalid: 0,
    duplicates: 0,
    scores: false,
  };
  const parser = new OutLineParser();
  for (const file of sources) {
    let next = 1;
    for await (const item of readOutItems(file, {
      stdin,
      pieceSize: o.pieceSize,
      maxLineLength: o.maxLineLength,
    })) {
      if (item.kind === 'bad') {
        const line = item.line ?? next;
        if (item.line === undefined) next++;
        r.lines++;
        await invalid(o, r, rejects, file, line, item.reason, item.text);
        continue;
      }
      const buf = item.bytes;
      let s = 0;
      for (let i = 0; s < buf.length; i++) {
        let e = buf.indexOf(10, s);
        if (e === -1) e = buf.length;
        const line = item.lineNumbers ? (item.lineNumbers[i] as number) : next++;
        r.lines++;
        await oneLine(parser, buf, s, e, { file, line, o, r, errors, rejects, spill });
        s = e + 1;
      }
    }
  }
  return r;
}

async function oneLine(
  parser: OutLineParser,
  buf: Buffer,
  s: number,
  e: number,
  c: {
    file: string;
    line: number;
    o: ResolvedExportOptions;
    r: RelatedLists;
    errors: SideFile;
    rejects: SideFile | undefined;
    spill: SpillDir;
  },
): Promise<void> {
  const { file, line, r } = c;
  const status = parser.parse(buf, s, e);
  if (status === LINE_BLANK) {
    r.blank++;
    return;
  }
  if (status === LINE_ERROR) {
    r.errorLines++;
    await c.errors.write(Buffer.concat([buf.subarray(s, e), Buffer.from('\n')]));
    return;
  }
  if (status === LINE_INVALID) {
    await invalid(
      c.o,
      r,
      c.rejects,
      file,
      line,
      parser.problem,
      buf.toString('utf8', s, Math.min(e, s + 1024)),
    );
    return;
  }
  if (parser.kind !== KIND_RECOMMENDATIONS || parser.keyField !== KEY_ITEM) {
    const what =
      parser.kind !== KIND_RECOMMENDATIONS
        ? `${KIND_NAMES[parser.kind]} output`
        : parser.keyField === 0
          ? 'a line with an empty input'
          : `keyed by input.${KEY_NAMES[parser.keyField]}`;
    throw new PbError(
      'PB_USAGE',
      `--map-users maps related items (lines keyed by input.itemId, e.g. Similar-Items), and this line is ${what}: export it without --map-users`,
      { file, line },
    );
  }
  const key = parser.keyEscaped
    ? decodeString(buf, parser.keyStart, parser.keyEnd)
    : buf.toString('utf8', parser.keyStart, parser.keyEnd);
  if (r.lists.has(key)) {
    r.duplicates++;
    return;
  }
  const { list, bytes } = listOf(parser, buf, key);
  if (list.scores) r.scores = true;
  r.bytes += bytes;
  if (r.disk) {
    const w = toDisk(r.disk, key, list);
    if (w) await w;
    return;
  }
  r.lists.set(key, list);
  if (r.bytes > c.o.memoryBudget) await spillLists(r, c.spill);
}

/** The held lists, in the order read, to partitions on disk; later lists follow them there. */
async function spillLists(r: RelatedLists, spill: SpillDir): Promise<void> {
  const disk = await spill.partitions(0, undefined, weighList);
  r.disk = disk;
  for (const [key, list] of r.lists) {
    const w = toDisk(disk, key, list);
    if (w) await w;
  }
  r.lists.clear();
}

function toDisk(disk: PartitionSet, key: string, list: RelatedList): Promise<void> | undefined {
  return disk.writeString(JSON.stringify(key).slice(1, -1), JSON.stringify([list.items, list.scores]));
}

const OPEN_BRACKET = 0x5b;

/**
 * A line's cost when its partition is read back: a list (`[[`) is held as
 * its text (two bytes a character) plus the map entry; a user's pick
 * (`["user",n]`, lists-disk.ts) streams through and costs nothing.
 */
function weighList(payload: Uint8Array, ps: number, pe: number): number {
  return payload[ps + 1] === OPEN_BRACKET ? ENTRY_BYTES + 2 * (pe - ps) : 0;
}

/** A line's list (ids decoded, scores as printed) and the bytes it is counted for. */
function listOf(parser: OutLineParser, buf: Buffer, key: string): { list: RelatedList; bytes: number } {
  const ids = parser.ids;
  const items: string[] = [];
  let bytes = ENTRY_BYTES + 2 * key.length;
  for (let k = 0; k < ids.n; k++) {
    const [a, b, f] = [
      ids.data[3 * k] as number,
      ids.data[3 * k + 1] as number,
      ids.data[3 * k + 2] as number,
    ];
    const id = f & SPAN_ESCAPED ? decodeString(buf, a, b) : buf.toString('utf8', a, b);
    items.push(id);
    bytes += ID_BYTES + 2 * id.length;
  }
  let scores: string[] | null = null;
  const sc = parser.scores;
  if (sc && sc.n > 0) {
    scores = [];
    for (let k = 0; k < sc.n; k++) {
      const a = sc.data[3 * k] as number;
      const v = a < 0 ? '' : buf.toString('latin1', a, sc.data[3 * k + 1] as number);
      scores.push(v);
      bytes += ID_BYTES + 2 * v.length;
    }
  }
  return { list: { items, scores }, bytes };
}

/** A line that is not a valid output line: the export stops, or with --on-invalid skip it goes to --rejects. */
async function invalid(
  o: ResolvedExportOptions,
  r: RelatedLists,
  rejects: SideFile | undefined,
  file: string,
  line: number,
  reason: string,
  text: string,
): Promise<void> {
  const parse = /^(not valid JSON|truncated|line longer|a JSON value longer)/.test(reason);
  if (o.onInvalid === 'fail')
    throw new PbError(parse ? 'PB_PARSE' : 'PB_INVALID_RECORD', reason, { file, line });
  r.invalid++;
  await rejects?.write(Buffer.from(`${JSON.stringify({ file, line, reason, text })}\n`));
}
