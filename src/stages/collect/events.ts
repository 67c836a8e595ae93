/**
 * What collect tells `onEvent`: each step as it starts, each file as a step starts reading it,
 * and running counts about every 250 ms (lines and bytes read in steps 1 and 3, keyed lines
 * decided in step 2).
 */

/** The three steps: keys to partitions, a decision per partition, the files written. */
export type CollectStep = 'keys' | 'decide' | 'write';

export type CollectEvent =
  | { type: 'step'; step: CollectStep }
  /** A file starts being read: an output source (`.out`) or a batch-input file. */
  | { type: 'file'; step: 'keys' | 'write'; file: string; role: 'output' | 'input' }
  /** Lines (non-blank, output and input together) and bytes read so far in this step. */
  | { type: 'progress'; step: 'keys' | 'write'; lines: number; bytesRead: number }
  /** Keyed lines (output and input) decided so far, of all of them, partition by partition. */
  | { type: 'progress'; step: 'decide'; linesDecided: number; linesKeyed: number };

const EVERY_MS = 250;

/** The counts of the step in progress, told to `onEvent` at most every 250 ms (and at each step's end). */
export class CollectProgress {
  private lines = 0;
  private bytes = 0;
  private last = 0;
  private current: CollectStep = 'keys';

  constructor(private readonly onEvent: ((e: CollectEvent) => void) | undefined) {}

  step(step: CollectStep): void {
    if (this.current !== 'decide' && (this.lines > 0 || this.bytes > 0)) this.tell();
    this.current = step;
    this.lines = 0;
    this.bytes = 0;
    this.last = Date.now();
    this.onEvent?.({ type: 'step', step });
  }

  file(file: string, role: 'output' | 'input'): void {
    if (this.current !== 'decide') this.onEvent?.({ type: 'file', step: this.current, file, role });
  }

  /** Lines and bytes read in step 1 or 3. */
  read(lines: number, bytes: number): void {
    this.lines += lines;
    this.bytes += bytes;
    if (this.onEvent && Date.now() - this.last >= EVERY_MS) this.tell();
  }

  /** Step 2: a partition decided; the last one is always told. */
  decided(done: number, of: number): void {
    if (!this.onEvent) return;
    if (done < of && Date.now() - this.last < EVERY_MS) return;
    this.last = Date.now();
    this.onEvent({ type: 'progress', step: 'decide', linesDecided: done, linesKeyed: of });
  }

  /** The last counts of step 3, once the files are written. */
  end(): void {
    if (this.lines > 0 || this.bytes > 0) this.tell();
  }

  private tell(): void {
    this.last = Date.now();
    if (this.current === 'decide') return;
    this.onEvent?.({ type: 'progress', step: this.current, lines: this.lines, bytesRead: this.bytes });
  }
}
