#!/usr/bin/env node
// Times `personalize-batch shard` on a generated batch-input file (JSON Lines of
// {"userId":...}), by size and by hash (8 shards), locally and to a local S3
// server (s3rver, started here on 127.0.0.1), side by side with `split -C`.
// Prints a markdown table: wall s, MB/s, peak RSS.
//   npm run build && node --openssl-legacy-provider benchmarks/shard.bench.mjs --mb 1000
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import S3rver from 's3rver';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const mb = Number(opt('mb', '1000'));
const dataDir = opt('data', join(here, 'data'));
const outDir = opt('out', join(here, 'out'));
const bin = join(root, 'dist', 'src', 'bin.js');
if (!existsSync(bin)) throw new Error('run `npm run build` first');

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
const add = (tool, r) => rows.push({ tool, ...r, mbs: bytes / 1e6 / r.wall });

const splitDir = join(outDir, 'split');
await rm(splitDir, { recursive: true, force: true });
await mkdir(splitDir, { recursive: true });
add(
  'split -C (8 pieces)',
  await timed('split', ['-C', String(Math.ceil(bytes / 8)), file, join(splitDir, 'x')]),
);
await rm(splitDir, { recursive: true, force: true });

const local = join(outDir, 'shards');
await rm(local, { recursive: true, force: true });
add(
  'shard by size (1 GB shards), local',
  await timed('node', [bin, 'shard', '--recipe', 'user-personalization', file, '--out', local]),
);
await rm(local, { recursive: true, force: true });
add(
  'shard --shards 8, local',
  await timed('node', [
    bin,
    'shard',
    '--recipe',
    'user-personalization',
    file,
    '--out',
    local,
    '--shards',
    '8',
  ]),
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
try {
  add(
    'shard by size, to local S3 (s3rver)',
    await timed(
      'node',
      [bin, 'shard', '--recipe', 'user-personalization', file, '--out', 's3://bench/size/', ...endpoint],
      s3env,
    ),
  );
  add(
    'shard --shards 8, to local S3 (s3rver)',
    await timed(
      'node',
      [
        bin,
        'shard',
        '--recipe',
        'user-personalization',
        file,
        '--out',
        's3://bench/hash/',
        '--shards',
        '8',
        ...endpoint,
      ],
      s3env,
    ),
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
