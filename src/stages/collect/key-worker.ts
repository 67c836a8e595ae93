import { stat } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { isS3Uri } from '../../io/s3.js';
import type { SpillDir } from '../../io/spill.js';
import { startWorker } from '../../io/workers.js';

/**
 * The second thread of collect (collect-worker.ts), seen from this one:
 * step 1 on the last sources and inputs. Its messages are declared here.
 */

/** Where step 1 tells what it reads. */
export interface KeyEvents {
  file(file: string, role: 'output' | 'input'): void;
  read(lines: number, bytes: number): void;
}

export interface KeyJob {
  sources: string[];
  inputs: string[];
  /** The spill folder; the worker's partition files are named apart from this thread's. */
  dir: string;
  pieceSize: number;
  maxLineLength: number;
}

/** Step 1's result in the worker: its counts, bits of its lines without a key, its partitions (closed). */
export interface WorkerKeyed {
  ordinal: number;
  inputOrdinal: number;
  errorLines: number;
  withoutKey: number;
  errorsWithoutKey: number;
  blankLines: number;
  inputWithoutKey: number;
  linesPerSource: number[];
  inputLines: number[];
  keepOut: Uint8Array;
  keepError: Uint8Array;
  parts: { paths: string[]; entries: number[]; keyBytes: number[] };
}

export type WorkerMessage =
  | { kind: 'file'; file: string; role: 'output' | 'input' }
  | { kind: 'read'; lines: number; bytes: number }
  | { kind: 'keyed'; keyed: WorkerKeyed }
  | { kind: 'gave-up'; reason: string };

const YOUNG_MB = 8;

export interface KeyWorker {
  /** This thread keys sources [0, sources) and inputs [0, inputs); the worker the rest. */
  split: { sources: number; inputs: number };
  /** The worker's step 1; undefined when it gave up (this thread then keys its files). */
  keyed: Promise<WorkerKeyed | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts the worker on the last sources and inputs, about half of each by
 * bytes, when they are local files and there are at least `twoThreadsFrom`
 * bytes; otherwise undefined (one thread does it all).
 */
export async function startKeyWorker(
  files: { sources: string[]; inputs: string[] },
  spill: SpillDir,
  o: { twoThreadsFrom: number; pieceSize: number; maxLineLength: number },
  events: KeyEvents,
): Promise<KeyWorker | undefined> {
  const sizes = async (list: string[]) =>
    list.some(isS3Uri) ? undefined : Promise.all(list.map(async (f) => (await stat(f)).size));
  const sourceBytes = await sizes(files.sources);
  const inputBytes = await sizes(files.inputs);
  if (!sourceBytes || !inputBytes) return undefined;
  const total = [...sourceBytes, ...inputBytes].reduce((a, b) => a + b, 0);
  if (total < o.twoThreadsFrom || !(o.twoThreadsFrom < Number.POSITIVE_INFINITY)) return undefined;
  const split = { sources: halfway(sourceBytes), inputs: halfway(inputBytes) };
  if (split.sources === files.sources.length && split.inputs === files.inputs.length) return undefined;
  const job: KeyJob = {
    sources: files.sources.slice(split.sources),
    inputs: files.inputs.slice(split.inputs),
    dir: await spill.folder(),
    pieceSize: o.pieceSize,
    maxLineLength: o.maxLineLength,
  };
  // A small young generation: the worker allocates little that lives, and the default (up to 48 MB
  // a thread) showed in the peak RSS.
  const worker = startWorker('collect-worker', job, {
    beside: import.meta.url,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB },
  });
  return connect(worker, split, events);
}

/** The first files, up to the one that brings their bytes nearest half the total (at least one file stays here). */
function halfway(bytes: number[]): number {
  const total = bytes.reduce((a, b) => a + b, 0);
  let best = bytes.length;
  let bestGap = total / 2;
  let sum = 0;
  for (let k = 1; k < bytes.length; k++) {
    sum += bytes[k - 1] as number;
    const gap = Math.abs(total / 2 - sum);
    if (gap < bestGap) {
      best = k;
      bestGap = gap;
    }
  }
  return best;
}

function connect(worker: Worker, split: KeyWorker['split'], events: KeyEvents): KeyWorker {
  let onKeyed: ((k: WorkerKeyed | undefined) => void) | undefined;
  const keyed = new Promise<WorkerKeyed | undefined>((resolve) => {
    onKeyed = resolve;
  });
  // A failure is the worker giving up: this thread keys its files and meets the cause itself.
  const giveUp = () => {
    onKeyed?.(undefined);
    onKeyed = undefined;
  };
  worker.on('message', (m: WorkerMessage) => {
    if (m.kind === 'file') events.file(m.file, m.role);
    else if (m.kind === 'read') events.read(m.lines, m.bytes);
    else {
      onKeyed?.(m.kind === 'keyed' ? m.keyed : undefined);
      onKeyed = undefined;
    }
  });
  worker.on('error', giveUp);
  worker.on('exit', giveUp);
  return {
    split,
    keyed,
    async stop() {
      await worker.terminate();
    },
  };
}
