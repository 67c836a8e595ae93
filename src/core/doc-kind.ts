import { PbError } from '../errors.js';

/**
 * What a JSON file is, read from its content, never its name: the AWS docs name batch input
 * `batch.json`, the service names output `<input name>.out`, and shard writes `manifest.json`.
 */
export type DocKind =
  /** manifest.json as shard and prepare --shard-out write it: `shards` with `family`. */
  | 'manifest'
  /** submit's state file: `shards` with `runId`. */
  | 'job-state'
  /** run's pipeline file: `recipe` with `work` or `jobs`. */
  | 'pipeline'
  /** Batch-job output: `input` with `output` or `error` (the service's `.out` lines). */
  | 'out'
  /** Any other JSON object: a batch-input record (userId, itemId, itemList, ...). */
  | 'batch-input'
  /** Text that does not start like JSON: a CSV, a plain list. */
  | 'text'
  /** Not a JSON object first (a JSON array...), or nothing at all. */
  | 'other';

/** The kind of a document whose first object has these top-level keys. */
export function docKindOfKeys(keys: readonly string[]): DocKind {
  const has = (k: string) => keys.includes(k);
  if (has('shards') && has('runId')) return 'job-state';
  // A pretty-printed manifest names its family and limits before a long shards list.
  if ((has('shards') && (has('family') || has('records'))) || (has('family') && has('limits')))
    return 'manifest';
  if (has('recipe') && (has('work') || has('jobs'))) return 'pipeline';
  // No batch-input record has `input` (with output or error); a list with an "error" column stays a list.
  if (has('input') && (has('output') || has('error'))) return 'out';
  if (has('error') && keys.every((k) => k === 'error' || k === 'output' || k === 'input')) return 'out';
  // The AWS docs' Item-Attribute-Affinity output: the query's itemAttributes beside output, no input
  // wrapper. A segment job's input line holds the query alone.
  if (has('itemAttributes') && has('output')) return 'out';
  return 'batch-input';
}

/**
 * The kind of a document from its first bytes: the top-level keys of its first object, read by a
 * small scanner (strings and nesting respected) so a manifest of a thousand shards, pretty-printed,
 * needs only its first lines. `head` is UTF-8 with no byte order mark (a BOM is skipped if present).
 */
export function docKindOf(head: Uint8Array): DocKind {
  const i = contentStart(head);
  if (head[i] === 0x7b) return docKindOfKeys(keysFrom(head, i));
  return i < head.length && head[i] !== 0x5b ? 'text' : 'other';
}

/** Where the content starts: past a UTF-8 byte order mark and white space. */
function contentStart(head: Uint8Array): number {
  let i = bomLength(head);
  while (i < head.length && isSpace(head[i] as number)) i++;
  return i;
}

function bomLength(head: Uint8Array): number {
  return head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
}

/** The top-level keys of the object that opens at head[start], as far as `head` goes. */
function keysFrom(head: Uint8Array, start: number): string[] {
  let i = start;
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (; i < head.length; i++) {
    const c = head[i] as number;
    if (c === 0x22) {
      // A string: find its end, past escapes.
      let j = i + 1;
      while (j < head.length && head[j] !== 0x22) j += head[j] === 0x5c ? 2 : 1;
      if (j >= head.length) break;
      if (depth === 1 && expectKey) {
        keys.push(Buffer.from(head.subarray(i + 1, j)).toString('utf8'));
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      expectKey = c === 0x7b && depth === 1;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) break;
    } else if (c === 0x2c && depth === 1) expectKey = true;
  }
  return keys;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** What a command reads. */
export type WantedKind = 'batch-input' | 'out' | 'prepare-source';

/**
 * The error for a file of the wrong kind: what it is (by content) and the command that takes it.
 * Undefined when the kind is one the command reads.
 */
export function wrongKind(kind: DocKind, want: WantedKind, file: string): PbError | undefined {
  const ok: Record<WantedKind, readonly DocKind[]> = {
    'batch-input': ['batch-input', 'text', 'other'],
    'prepare-source': ['batch-input', 'text', 'other'],
    out: ['out', 'other'],
  };
  if (ok[want].includes(kind)) return undefined;
  const q = JSON.stringify(file);
  const what: Record<DocKind, string> = {
    manifest: 'a shard manifest (it lists "shards")',
    'job-state': 'a job state file (as submit writes it)',
    pipeline: 'a pipeline file',
    out: 'batch-job output ("input" with "output" or "error" on each line, as in .out files)',
    'batch-input': 'batch input (records such as {"userId": ...})',
    text: 'text, not JSON (a CSV or a list)',
    other: 'not JSON',
  };
  const fix: Record<WantedKind, Partial<Record<DocKind, string>>> = {
    'batch-input': {
      manifest: `submit it (submit --manifest ${q}), validate it (validate ${q} reads its shards), or give the shard files`,
      'job-state': `status --state ${q} shows its jobs`,
      pipeline: `run ${q} runs it`,
      out: `export ${q} turns it into CSV or JSON Lines; collect merges several`,
    },
    'prepare-source': {
      manifest: `its shards are batch input already: submit it (submit --manifest ${q}) or validate it (validate ${q})`,
      'job-state': `status --state ${q} shows its jobs`,
      pipeline: `run ${q} runs it`,
      out: `export ${q} turns it into CSV or JSON Lines; collect merges several`,
    },
    out: {
      manifest: `give the jobs' output folder (the --output of submit), or pass the manifest to collect --input to reconcile against it`,
      'job-state': `give the jobs' output folder, or collect --state ${q}`,
      pipeline: `run ${q} runs it, exports included`,
      text: 'export reads what a batch job writes (JSON Lines, in .out files); a list of users or items is made into batch input with prepare',
      'batch-input': `a job reads it: shard it (shard -o s3://bucket/prefix/), submit the manifest, then export the jobs' output folder (collect takes it as --input)`,
    },
  };
  return new PbError(
    'PB_USAGE',
    `by its content this is ${what[kind]}, not ${wantName(want)}; ${fix[want][kind] ?? ''}`,
    {
      file,
    },
  );
}

function wantName(want: WantedKind): string {
  if (want === 'out') return 'batch-job output';
  if (want === 'prepare-source') return 'a list to prepare';
  return 'batch input';
}

/** How many first bytes firstRecordProblem is given (a line that runs past them is not judged). */
export const FIRST_BYTES = 64 * 1024;

/**
 * Why `head` (a file's first bytes) is not batch-input JSON Lines for this family, or undefined.
 * Shard copies bytes without reading each record (validate does that): its first record is checked,
 * so a CSV, a JSON array, objects side by side or another family's records are refused before a job
 * is paid for. A first line longer than `head` is not judged.
 */
export function firstRecordProblem(
  head: Uint8Array,
  family: { family: string; key: string },
): string | undefined {
  let start = bomLength(head);
  for (let n = 1; ; n++) {
    let end = head.indexOf(0x0a, start);
    if (end < 0) end = head.length;
    const line = Buffer.from(head.subarray(start, end)).toString('utf8').trim();
    if (line === '') {
      if (end >= head.length) return undefined;
      start = end + 1;
      continue;
    }
    const fix = `batch input is one JSON object per line: run \`personalize-batch prepare --recipe ${family.family} FILE -o FILE.jsonl\` (validate lists every problem)`;
    const shown = `${JSON.stringify(line.slice(0, 40))}${line.length > 40 ? '...' : ''}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // The first line goes on past the bytes read: not judged here.
      if (end >= head.length && head.length >= FIRST_BYTES) return undefined;
      return `line ${n} is ${line.startsWith('{') ? 'not one JSON object' : 'not JSON'} (${shown}); ${fix}`;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return `line ${n} is ${Array.isArray(value) ? 'a JSON array' : 'not a JSON object'} (${shown}); ${fix}`;
    const keys = Object.keys(value);
    // Popularity-Count lines of an older AWS example have no userId ({} or {"itemId": ...}).
    if (family.family === 'popular-items' || keys.includes(family.key)) return undefined;
    return `line ${n} has no "${family.key}" (its keys: ${keys.map((k) => JSON.stringify(k)).join(', ') || 'none'}), which ${family.family} records need: is --recipe right?`;
  }
}
