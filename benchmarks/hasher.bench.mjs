#!/usr/bin/env node
// SHA-256 of 1 GB (default) fed in 128 KiB updates from one reused buffer, on
// this thread with node:crypto vs through OffThreadHasher (src/io/hasher.ts).
// Each is run alone and beside simulated main-thread work (counting the
// lines of each chunk, as shard does), and with 32-byte updates.
// Prints wall time, this thread's CPU time (from /proc, Linux only), and the
// time spent inside update() (the copy plus any wait for room in the ring).
//   npm run build && node benchmarks/hasher.bench.mjs --mb 1024
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const lib = join(here, '..', 'dist', 'src', 'io', 'hasher.js');
if (!existsSync(lib)) throw new Error('run `npm run build` first');
const { OffThreadHasher } = await import(lib);

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const total = Number(opt('mb', '1024')) * 1024 * 1024;
const CHUNK = 128 * 1024;

// JSON-Lines-like bytes, a line about every 30 bytes.
const buf = Buffer.alloc(CHUNK);
for (let i = 0, n = 0; i < CHUNK; n++) {
  const line = `{"userId":"u${(Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(36)}"}\n`;
  i += buf.write(line, i);
}

/** CPU seconds of this (the main) thread: utime + stime of /proc/self/task/<pid>. */
function threadCpu() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // fields 14, 15; USER_HZ = 100
}

/** The main-thread work beside the hashing: count line ends. */
function countLines(b) {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

async function run(name, { offThread, work, size = CHUNK, bytes = total }) {
  const hasher = offThread ? new OffThreadHasher() : undefined;
  if (hasher) {
    // Not timed: the worker's start-up (about 40 ms from dist/).
    await hasher.create().update(Buffer.of(1)).digest();
  }
  const oracle = createHash('sha256');
  const stream = hasher ? hasher.create() : oracle;
  const cpu0 = threadCpu();
  const t0 = performance.now();
  let inUpdate = 0;
  let lines = 0;
  for (let done = 0; done < bytes; ) {
    const u = performance.now();
    if (size === CHUNK) {
      stream.update(buf);
      done += CHUNK;
    } else {
      for (let at = 0; at < CHUNK && done < bytes; at += size, done += size)
        stream.update(buf.subarray(at, at + size));
    }
    inUpdate += performance.now() - u;
    if (work) lines += countLines(buf);
  }
  const hex = hasher ? await stream.digest() : oracle.digest('hex');
  const wall = (performance.now() - t0) / 1000;
  const cpu = threadCpu() - cpu0;
  const waits = hasher?.waits ?? 0;
  await hasher?.close();
  console.log(
    `| ${name} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${(inUpdate / 1000).toFixed(2)} | ${hasher ? waits : '-'} |`,
  );
  return { hex, lines };
}

console.log(`${total / 2 ** 20} MiB, ${CHUNK / 1024} KiB updates unless said, node ${process.version}\n`);
console.log('| run | wall s | main-thread CPU s | s in update() | ring-full waits |');
console.log('|---|---|---|---|---|');
const a = await run('node:crypto on the main thread', { offThread: false });
const b = await run('OffThreadHasher', { offThread: true });
const c = await run('count lines + node:crypto', { offThread: false, work: true });
const d = await run('count lines + OffThreadHasher', { offThread: true, work: true });
// A sixteenth of the bytes: 2 million updates per 64 MiB.
const small = { size: 32, bytes: total / 16 };
const e = await run(`${total / 16 / 2 ** 20} MiB in 32-byte updates, node:crypto`, {
  offThread: false,
  ...small,
});
const f = await run(`${total / 16 / 2 ** 20} MiB in 32-byte updates, OffThreadHasher`, {
  offThread: true,
  ...small,
});
if (a.hex !== b.hex || c.hex !== d.hex || e.hex !== f.hex || a.hex !== c.hex)
  throw new Error('digests differ');
if (c.lines !== d.lines) throw new Error('line counts differ');
