#!/usr/bin/env node
// Times `personalize-batch shard` on a generated batch-input file (JSON Lines of
// {"userId":...}), by size and by hash (8 shards), locally and to a local S3
// server (s3rver, started here on 127.0.0.1), side by side with `split -C`.
// Prints a markdown table: wall s, MB/s, peak RSS.
// With --repeat N each row is the median of N runs (peak RSS: the highest).
// Ends with the targets checked against the figures.
//   npm run build && node benchmarks/shard.bench.mjs --mb 1000 --repeat 3
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const mb = Number(opt('mb', '1000'));
const repeat = Number(opt('repeat', '1'));
const dataDir = opt('data', join(here, 'data'));
const outDir = opt('out', join(here, 'out'));
const bin = join(root, 'dist', 'src', 'bin.js');
if (!existsSync(bin)) throw new Error('run `npm run build` first');
// The emulator's loader: s3rver with continuation tokens that need no --openssl-legacy-provider.
const { loadS3rver } = await import('../dist/src/emulator/s3-server.js');
const S3rver = loadS3rver();

await mkdir(dataDir, { recursive: true });
await mkdir(outDir, { recursive: true });
const file = join(dataDir, `batch-${mb}MB.jsonl`);
if (!existsSync(file) || statSync(file).size < mb * 1e6) {
  process.stderr.write(`[bench] generating ${file}\n`);
  const ws = createWriteStream(file);
  let written = 0;
  let n = 0;
  while (written < mb * 1e6) {
    let chunk = '';
    for (let i = 0; i < 20000; i++, n++) {
      chunk += `{"userId":"u${(Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(36)}"}\n`;
    }
    written += chunk.length;
    if (!ws.write(chunk)) await new Promise((r) => ws.once('drain', r));
  }
  await new Promise((r) => ws.end(r));
}
const bytes = statSync(file).size;
await readFile(file).catch(() => {}); // warm the page cache (up to 2 GB)

/** Runs a command under GNU time; returns wall seconds and peak RSS in MB. */
async function timed(cmd, argv, env = {}) {
  const timeFile = join(outDir, `time-${process.pid}.txt`);
  const started = process.hrtime.bigint();
  const code = await new Promise((res) => {
    const p = spawn('/usr/bin/time', ['-v', '-o', timeFile, cmd, ...argv], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, ...env },
      cwd: outDir,
    });
    p.on('exit', res);
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const t = await readFile(timeFile, 'utf8');
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(t)?.[1] ?? 0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${code}`);
  return { wall, rss };
}

const rows = [];
/** Runs `once` `repeat` times (`before` first, each time); the row is the median wall time and the highest peak RSS. */
async function add(tool, once, before = async () => {}) {
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    await before();
    runs.push(await once());
  }
  const walls = runs.map((r) => r.wall).sort((a, b) => a - b);
  const wall = walls[Math.floor(walls.length / 2)];
  const rss = Math.max(...runs.map((r) => r.rss));
  rows.push({ tool, wall, rss, mbs: bytes / 1e6 / wall, walls });
}

const splitDir = join(outDir, 'split');
const local = join(outDir, 'shards');
const fresh = (dir) => async () => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
};
const shardArgs = (out, ...more) => [
  bin,
  'shard',
  '--recipe',
  'user-personalization',
  file,
  '--out',
  out,
  ...more,
];
await add(
  'split -C (8 pieces)',
  () => timed('split', ['-C', String(Math.ceil(bytes / 8)), file, join(splitDir, 'x')]),
  fresh(splitDir),
);
await rm(splitDir, { recursive: true, force: true });
await add(
  'shard by size (1 GB shards), local',
  () => timed('node', shardArgs(local)),
  () => rm(local, { recursive: true, force: true }),
);
await add(
  'shard --shards 8, local',
  () => timed('node', shardArgs(local, '--shards', '8')),
  () => rm(local, { recursive: true, force: true }),
);
await rm(local, { recursive: true, force: true });

const s3dir = await mkdtemp(join(tmpdir(), 'pb-bench-s3-'));
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: s3dir,
  configureBuckets: [{ name: 'bench', configs: [] }],
});
const { port } = await server.run();
const s3env = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
const endpoint = ['--endpoint-url', `http://127.0.0.1:${port}`];
let run = 0;
try {
  await add('shard by size, to local S3 (s3rver)', () =>
    timed('node', shardArgs(`s3://bench/size-${run++}/`, ...endpoint), s3env),
  );
  await add('shard --shards 8, to local S3 (s3rver)', () =>
    timed('node', shardArgs(`s3://bench/hash-${run++}/`, '--shards', '8', ...endpoint), s3env),
  );
} finally {
  await server.close();
  await rm(s3dir, { recursive: true, force: true });
}

console.log(
  `${(bytes / 1e6).toFixed(1)} MB of batch input; ${new Date().toISOString().slice(0, 10)}, Node ${process.version}\n`,
);
console.log('| tool | wall s | MB/s | peak RSS MB |\n| --- | ---: | ---: | ---: |');
for (const r of rows)
  console.log(`| ${r.tool} | ${r.wall.toFixed(2)} | ${r.mbs.toFixed(0)} | ${r.rss.toFixed(1)} |`);

const [split, size, hash] = rows;
const maxRss = Math.max(...rows.slice(1).map((r) => r.rss));
const verdict = (ok) => (ok ? 'met' : 'NOT met');
console.log(`
Runs per row: ${repeat} (wall s: ${rows.map((r) => r.walls.map((w) => w.toFixed(2)).join('/')).join('; ')})
- size-based sharding at least half the speed of split -C: ${(split.wall / size.wall).toFixed(2)}x, ${verdict(split.wall / size.wall >= 0.5)}
- hash sharding at least 200 MB/s: ${hash.mbs.toFixed(0)} MB/s locally, ${verdict(hash.mbs >= 200)}
- peak RSS under 200 MB: at most ${maxRss.toFixed(1)} MB, ${verdict(maxRss < 200)}`);
