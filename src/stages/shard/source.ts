import type { Readable } from 'node:stream';
import { docKindOf, FIRST_BYTES, firstRecordProblem, wrongKind } from '../../core/doc-kind.js';
import type { FamilyInfo } from '../../core/families.js';
import { PbError } from '../../errors.js';
import { expandBatchInputs, peekHead } from '../../io/doc-kind.js';
import { openSource, peekStream } from '../../io/input.js';

const LF = 10;

/**
 * The bytes to shard when they are not one local file or S3 object read as it is: a folder or an
 * `s3://bucket/prefix/` (its files in name order, the tool's manifest.json and _CHECK left out, each
 * ending its last line), or stdin. A named file is checked by content and read by the caller.
 */
export async function shardSource(
  input: string,
  stdin: Readable | undefined,
  family: FamilyInfo,
): Promise<AsyncIterable<Buffer> | undefined> {
  if (input === '-') {
    const { head, rest } = await peekStream(openSource('-', { stdin }), FIRST_BYTES);
    checkShardHead(head, input, family);
    return rest;
  }
  // A file or object: its first bytes are read once, here; the caller reads it whole.
  const head = await peekHead(input);
  if (head) {
    checkShardHead(head, input, family);
    return undefined;
  }
  // A folder or prefix (each file checked as it is read below), or a pipe or a missing file (left
  // to the caller's open, which says so).
  const files = await expandBatchInputs([input], { manifests: 'as-is' });
  if (files.length === 1 && files[0] === input) return undefined;
  return (async function* () {
    for (const file of files) {
      const { head, rest } = await peekStream(openSource(file), FIRST_BYTES);
      checkShardHead(head, file, family);
      let last = LF;
      for await (const chunk of rest) {
        if (chunk.length === 0) continue;
        last = chunk[chunk.length - 1] as number;
        yield chunk;
      }
      // The next file's first record must not join this file's last line.
      if (last !== LF) yield Buffer.from('\n');
    }
  })();
}

/** The file's kind and its first record, from its first bytes: anything but batch input of this family is refused. */
function checkShardHead(head: Buffer, file: string, family: FamilyInfo): void {
  const wrong = wrongKind(docKindOf(head), 'batch-input', file);
  if (wrong) throw wrong;
  const problem = firstRecordProblem(head, family);
  if (problem) throw new PbError('PB_USAGE', problem, { file });
}
