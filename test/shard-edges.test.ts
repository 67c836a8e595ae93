import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { openLinesReusing } from '../src/io/input.js';
import { useTmp } from './helpers.js';

// Edge cases found reviewing the shard speed work (reused read buffers,
// synchronous writes, the hasher thread).

const { fresh } = useTmp();

/**
 * Writes argv[2]'s bytes into the named pipe argv[3], read before the pipe
 * is opened so the first write follows the open at once, as a producer
 * already running does. Exit 3 when the reader went away (EPIPE).
 */
const PIPE_WRITER = `
const fs = require('node:fs');
const [src, fifo] = process.argv.slice(1);
const data = fs.readFileSync(src);
const fd = fs.openSync(fifo, 'w');
let at = 0;
try {
  while (at < data.length) at += fs.writeSync(fd, data, at);
} catch (err) {
  process.stderr.write(err.code + ' after ' + at + ' bytes');
  process.exit(3);
}
`;

test('a named pipe as input is opened once: its writer is never cut off and every byte arrives', {
  skip: process.platform === 'win32',
}, async () => {
  let text = '';
  for (let i = 0; text.length < 1_000_000; i++) text += `${JSON.stringify({ userId: `u${i}` })}\n`;
  const data = Buffer.from(text);
  const src = fresh('pipe-data.jsonl');
  await writeFile(src, data);
  // The loss depends on timing (the writer's first write between a close and
  // a second open of the pipe), so a few tries.
  for (let attempt = 0; attempt < 3; attempt++) {
    const fifo = fresh('pipe');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn(process.execPath, ['-e', PIPE_WRITER, src, fifo], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    writer.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = once(writer, 'exit') as Promise<[number | null, string | null]>;
    // A reader left waiting for a writer that is gone would wait forever: end it with one.
    let release: NodeJS.Timeout | undefined;
    void exited.then(() => {
      release = setTimeout(() => {
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {}
      }, 1000);
    });
    const copies: Buffer[] = [];
    for await (const c of openLinesReusing(fifo, {}, 1e9, () => undefined)) copies.push(Buffer.from(c));
    const [code] = await exited;
    clearTimeout(release);
    const got = Buffer.concat(copies);
    assert.equal(code, 0, `attempt ${attempt}: the writer failed: ${stderr}`);
    assert.equal(got.length, data.length, `attempt ${attempt}: bytes read`);
    assert.ok(got.equals(data));
  }
});
