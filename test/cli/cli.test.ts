/**
 * The CLI as a function: run(argv, io) with PassThrough streams. Exit codes
 * (0 ok, 1 bad data, 2 usage), help texts, --json summaries, stdin/stdout,
 * and that each prepare option reaches prepare().
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { run } from '../../src/cli/index.js';
import { cli, listDir, makeTmp, stdinOf, useTmp, writeText } from '../helpers.js';
import { LOADER, srcPath } from '../paths.js';

const { fresh, dir: tmpDir } = useTmp();

const PREP = ['prepare', '--recipe', 'user-personalization'];

describe('help and version', () => {
  test('prepare --help and -h: usage with Examples on stdout, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await cli(['prepare', flag]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: personalize-batch prepare/);
      assert.match(r.stdout, /\nExamples:\n/);
      assert.match(r.stdout, /--on-invalid/);
      assert.equal(r.stderr, '');
    }
  });

  test('validate --help: usage with Examples, exit 0', async () => {
    const r = await cli(['validate', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: personalize-batch validate/);
    assert.match(r.stdout, /\nExamples:\n/);
  });

  test('main --help and help list the commands, exit 0; no command at all exits 2', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await cli(argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.stdout, /Commands:[\s\S]*prepare[\s\S]*validate/);
    }
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /Usage: personalize-batch <command>/);
  });

  test('main --help contains an Examples section', async () => {
    const r = await cli(['--help']);
    assert.match(r.stdout, /Examples:/);
  });

  test('--version prints the version', async () => {
    const r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

describe('the installed command', () => {
  // bin.ts, as a process: an S3 client is made (the SDK warns then) and fails on a closed port.
  const bin = srcPath('src/bin.ts');
  const stderrOf = async (env: Record<string, string>) => {
    const args = [...LOADER, bin, 'validate', '--recipe', 'user-personalization', 's3://b/in.jsonl'];
    const r = await promisify(execFile)(process.execPath, [...args, '--endpoint-url', 'http://127.0.0.1:9'], {
      env: {
        PATH: process.env.PATH ?? '',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'y',
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
    }).catch((err: { code: number; stderr: string }) => err);
    assert.equal((r as { code?: number }).code, 1, r.stderr);
    return r.stderr;
  };

  test("prints no AWS SDK warning about Node 20 (the SDK's own switch turns it back on)", async () => {
    assert.doesNotMatch(await stderrOf({}), /NodeVersionSupportWarning|Warning/);
    assert.match(
      await stderrOf({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' }),
      /NodeVersionSupportWarning/,
      'the check above would see the warning',
    );
  });
});

describe('the installed command reads the AWS settings of its environment (and only it does)', () => {
  const bin = srcPath('src/bin.ts');
  const stderrOf = async (env: Record<string, string>) => {
    const home = await mkdtemp(join(tmpdir(), 'pb-home-'));
    if (env.PROFILE_REGION) {
      await mkdir(join(home, '.aws'));
      await writeFile(join(home, '.aws', 'config'), `[default]\nregion = ${env.PROFILE_REGION}\n`);
    }
    const args = [...LOADER, bin, 'validate', '--recipe', 'user-personalization', 's3://b/in.jsonl'];
    const r = await promisify(execFile)(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'y',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_MAX_ATTEMPTS: '1',
        ...env,
      },
    }).catch((err: { code: number; stderr: string }) => err);
    await rm(home, { recursive: true, force: true });
    assert.equal((r as { code?: number }).code, 1, r.stderr);
    return r.stderr;
  };
  const noRegion =
    /no AWS region: set AWS_REGION \(or AWS_DEFAULT_REGION\), pass --region, or give your AWS profile a region/;

  test('no region anywhere: says so and how to give one, instead of guessing us-east-1', async () => {
    assert.match(await stderrOf({}), noRegion);
  });

  test("AWS_DEFAULT_REGION (the AWS CLI's name, which the SDK does not read) and the profile's region count", async () => {
    // Without a network the call fails on the name; with one, on the fake keys: never on the region.
    assert.doesNotMatch(await stderrOf({ AWS_DEFAULT_REGION: 'eu-west-1' }), noRegion);
    assert.doesNotMatch(await stderrOf({ PROFILE_REGION: 'eu-central-1' }), noRegion);
  });

  test('AWS_ENDPOINT_URL_S3 is an S3-compatible server: path-style, any region', async () => {
    assert.match(
      await stderrOf({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' }),
      /s3:\/\/b\/in\.jsonl: nothing answers at the S3 endpoint \(connect ECONNREFUSED 127\.0\.0\.1:9\)/,
    );
  });
});

describe('the installed command, its stdout closed early (| head -1)', () => {
  const bin = srcPath('src/bin.ts');
  test('exit 0, and nothing half-written is left beside the output or in the temporary folder', async () => {
    const dir = fresh('epipe');
    await mkdir(join(dir, 'tmp'), { recursive: true });
    // Enough output that the reader is gone long before the end; every 7th line an error line.
    let text = '';
    for (let i = 0; i < 60_000; i++)
      text +=
        i % 7 === 0
          ? `{"input":{"userId":"u${i}"},"output":null,"error":"User error: ${i}"}\n`
          : `{"input":{"userId":"u${i}"},"output":{"recommendedItems":["a","b","c"],"scores":[0.3,0.2,0.1]},"error":null}\n`;
    await writeFile(join(dir, 'big.out'), text);
    await writeFile(
      join(dir, 'in.jsonl'),
      Array.from({ length: 60_000 }, (_, i) => `{"userId":"u${i}"}\n`).join(''),
    );
    const at = (name: string) => join(dir, name);
    let csv = 'user_id,email\n';
    for (let i = 0; i < 40_000; i++) csv += `u${i},x\n,bad\n`;
    await writeFile(at('rj.csv'), csv);
    for (const argv of [
      [
        'prepare',
        '--recipe',
        'user-personalization',
        '--on-invalid',
        'skip',
        '--rejects',
        at('r.jsonl'),
        at('rj.csv'),
      ],
      ['export', at('big.out'), '-o', '-', '--errors', at('errors.jsonl')],
      [
        'collect',
        at('big.out'),
        '--input',
        at('in.jsonl'),
        '--tmp-dir',
        at('tmp'),
        '--errors',
        at('errors.jsonl'),
        '--missing',
        at('missing.jsonl'),
      ],
    ]) {
      // From the repository, where tsx resolves; every path points into dir.
      const child = spawn(process.execPath, [...LOADER, bin, ...argv], {
        env: { ...process.env, TMPDIR: join(dir, 'tmp') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      // Read one chunk, then go away as head does.
      await once(child.stdout, 'data');
      child.stdout.destroy();
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, `${argv[0]}: ${stderr}`);
      const left = (await readdir(dir)).filter((f) => f.includes('.tmp-'));
      assert.deepEqual(left, [], `${argv[0]}: temporary files left`);
      // (tsx keeps its cache there too.)
      assert.deepEqual(
        (await readdir(join(dir, 'tmp'))).filter((f) => f.startsWith('personalize-batch')),
        [],
        `${argv[0]}: spill folders left`,
      );
    }
  });
});

describe('the installed command, its stderr closed (2>&1 | head, quitting less)', () => {
  const bin = srcPath('src/bin.ts');
  test('the work goes on to the end: exit 0 and the whole output written', async () => {
    const dir = fresh('stderr-closed');
    await mkdir(dir, { recursive: true });
    let csv = 'user_id,email\n';
    for (let i = 0; i < 100_000; i++) csv += `u${i},x\n`;
    await writeFile(join(dir, 'many.csv'), csv);
    const args = [
      'prepare',
      '--recipe',
      'user-personalization',
      join(dir, 'many.csv'),
      '-o',
      join(dir, 'out.jsonl'),
    ];
    const child = spawn(process.execPath, [...LOADER, bin, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.destroy();
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    const lines = (await readFile(join(dir, 'out.jsonl'), 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 100_000);
  });
});

describe('usage errors exit 2', () => {
  test('unknown command, unknown option, missing recipe, bad values', async () => {
    const cases: [string[], RegExp][] = [
      [['prepare', '--bogus'], /--bogus/],
      [['validate', '--recipe', 'related-items', '--nope', 'x'], /--nope/],
      [['prepare', '-'], /needs --recipe/],
      [['validate', '-'], /needs --recipe/],
      [['validate', '--recipe', 'related-items'], /at least one FILE/],
      [[...PREP, '--memory-budget', 'lots', '-'], /--memory-budget/],
      [[...PREP, '--max-item-list', '0', '-'], /--max-item-list/],
      [[...PREP, '--format', 'xml', '-'], /--format/],
      [[...PREP, '--on-invalid', 'skip', '-'], /--rejects/],
      [['prepare', '--recipe', 'aws-trending-now', '-'], /no batch mode/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(argv, 'u1\n');
      assert.equal(r.code, 2, `${argv.join(' ')} -> ${r.stderr}`);
      assert.match(r.stderr, /^personalize-batch: /, argv.join(' '));
      assert.match(r.stderr, re, argv.join(' '));
      assert.equal(r.stdout, '', argv.join(' '));
    }
  });

  test('an unknown command names the nearest one', async () => {
    const cases: [string[], string][] = [
      [['prepaer'], 'unknown command "prepaer"; did you mean prepare?'],
      [['exprot'], 'unknown command "exprot"; did you mean export?'],
      [['sumbit'], 'unknown command "sumbit"; did you mean submit?'],
      [['stat'], 'unknown command "stat"; did you mean status?'],
      [['frobnicate'], 'unknown command "frobnicate"; run personalize-batch --help'],
      [['--verison'], 'unknown option --verison; did you mean --version?'],
      [
        ['--recipe', 'x'],
        'unknown option --recipe; a command comes first, as in personalize-batch prepare --recipe FAMILY (see personalize-batch --help)',
      ],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.stderr, `personalize-batch: ${message}\n`);
    }
  });

  test('an unknown option names the nearest, for every command, in one line', async () => {
    const cases: [string[], string][] = [
      [['prepare', '--recpie', 'x'], 'unknown option --recpie for prepare; did you mean --recipe?'],
      [['validate', '--recpie', 'x'], 'unknown option --recpie for validate; did you mean --recipe?'],
      [['shard', '--recpie', 'x'], 'unknown option --recpie for shard; did you mean --recipe?'],
      [['submit', '--manifset', 'm'], 'unknown option --manifset for submit; did you mean --manifest?'],
      [['status', '--stat', 's'], 'unknown option --stat for status; did you mean --state?'],
      [['wait', '--sate', 's'], 'unknown option --sate for wait; did you mean --state?'],
      [['collect', '--imput', 'i'], 'unknown option --imput for collect; did you mean --input?'],
      [['export', '--fromat', 'jsonl'], 'unknown option --fromat for export; did you mean --format?'],
      [['run', '--dry-rn', 'p.json'], 'unknown option --dry-rn for run; did you mean --dry-run?'],
      [['demo', '--usres', '5'], 'unknown option --usres for demo; did you mean --users?'],
      [['emulate', '--prot', '1'], 'unknown option --prot for emulate; did you mean --port?'],
      // Case, a prefix, a single dash, a --no- form.
      [['prepare', '--Recipe', 'x'], 'unknown option --Recipe for prepare; did you mean --recipe?'],
      [['export', '--endpoint', 'x'], 'unknown option --endpoint for export; did you mean --endpoint-url?'],
      [['prepare', '-recipe', 'x'], 'unknown option -recipe for prepare; did you mean --recipe?'],
      [['prepare', '--no-dedup'], 'unknown option --no-dedup for prepare; did you mean --no-dedupe?'],
      [
        ['prepare', '--max-rec', '5'],
        'unknown option --max-rec for prepare; did you mean --max-records or --max-records-per-file?',
      ],
      [['prepare', '--zzz'], 'unknown option --zzz for prepare (see prepare --help)'],
      [['prepare', '-x'], 'unknown option -x for prepare (see prepare --help)'],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.stderr, `personalize-batch: ${message}\n`);
    }
  });

  test("option mistakes are one line that says what to do, never node's text about positionals", async () => {
    const cases: [string[], string][] = [
      [['prepare', '--recipe'], '--recipe needs a value (see prepare --help)'],
      [['export', 'x.out', '-o'], '-o needs a value (see export --help)'],
      [
        ['prepare', '--recipe', '--json'],
        '--recipe needs a value, but the option --json follows it; a value that starts with - is written --recipe=--json',
      ],
      [['prepare', '--json=yes'], '--json takes no value, got --json=yes (see prepare --help)'],
      [
        ['prepare', '--no-recipe'],
        'unknown option --no-recipe for prepare: --recipe takes a value (see prepare --help)',
      ],
      [['demo', 'extra'], 'demo takes no arguments, got "extra" (see demo --help)'],
      [['demo', '-o', 'a', '--out', 'b'], '--out is the old name of --output; give one of them'],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.stderr, `personalize-batch: ${message}\n`);
      assert.doesNotMatch(r.stderr, /positional|Did you forget|'-- "/);
    }
  });

  test('-o/--output on every command that writes; --out still works where it was', async () => {
    for (const flag of ['-o', '--output', '--out']) {
      const out = fresh('shards');
      const r = await cli(
        ['shard', '--recipe', 'user-personalization', '-', flag, out, '--json'],
        '{"userId":"1"}\n',
      );
      assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { manifest: string }).manifest, `${out}/manifest.json`);
    }
    for (const command of ['prepare', 'shard', 'export', 'collect', 'demo', 'submit']) {
      const help = await cli([command, '--help']);
      assert.match(help.stdout, /\n {2}-o, --output /, command);
    }
    // submit takes -o: the missing option is now --manifest, not -o.
    const submit = await cli(['submit', '-o', 's3://b/out/']);
    assert.equal(submit.stderr, 'personalize-batch: submit needs --manifest (see submit --help)\n');
  });

  test("each command's --help lists an option once", async () => {
    const top = await cli(['--help']);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1] as string);
    assert.ok(commands.length >= 13, top.stdout);
    for (const command of commands) {
      const help = await cli([command, '--help']);
      assert.equal(help.code, 0, command);
      // The options' list only: the examples below it repeat options on purpose.
      const options = help.stdout.split(/\nExamples?:/)[0] as string;
      const names = [...options.matchAll(/^ {2,6}(?:-[a-zA-Z], )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]);
      const twice = names.filter((n, i) => names.indexOf(n) !== i);
      assert.deepEqual(twice, [], `${command} --help lists ${twice.join(', ')} more than once`);
    }
  });

  test('prepare --where: in the help with an example, counted in the summary, a syntax error exits 2 with a caret', async () => {
    const help = await cli(['prepare', '--help']);
    assert.match(help.stdout, /\n {6}--where EXPR {11}keep only the rows that match/);
    assert.match(
      help.stdout,
      /\n {6}--where "opt_in = true and country in \('DE','AT'\) and last_login >= 2026-01-01"\n/,
    );
    const input = 'user_id,opt_in\nu1,true\nu2,false\nu3,false\n';
    const ok = await cli([...PREP, '--where', 'opt_in = true', '-'], input);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '{"userId":"u1"}\n');
    assert.match(
      ok.stderr,
      /3 rows read, 1 record written to stdout, 0 duplicates removed, 2 rows left out by --where/,
    );
    const json = await cli(
      [...PREP, '--where', 'opt_in = true', '--json', '-o', fresh('w.jsonl'), '-'],
      input,
    );
    assert.equal((JSON.parse(json.stdout) as { filteredOut: number }).filteredOut, 2);
    const bad = await cli([...PREP, '--where', 'opt_in = true and', '-'], input);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      'personalize-batch: --where: expected a column name, got the end at character 18:\n  opt_in = true and\n                   ^\n',
    );
    const unknown = await cli([...PREP, '--where', 'opt_inn = true', '-'], input);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /-: --where: no column "opt_inn" \(the header has "user_id", "opt_in"; did you mean "opt_in"\?\)/,
    );
  });

  test('a missing column is a usage error listing the header', async () => {
    const r = await cli([...PREP, '-'], 'email,name\na@x,A\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot find the user id column; the header has "email", "name"/);
  });
});

describe('prepare through the CLI', () => {
  test('- reads stdin and writes JSON Lines to stdout; the summary goes to stderr', async () => {
    const r = await cli([...PREP, '-'], 'u1\nu2\nu1\n');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '{"userId":"u1"}\n{"userId":"u2"}\n');
    assert.equal(
      r.stderr.split('\n')[0],
      'prepare: stdin: plain text, one id per line, no header, UTF-8',
      'first, how the source was read',
    );
    assert.match(
      r.stderr.split('\n')[1] as string,
      /^prepare \(user-personalization\): 3 rows read, 2 records written to stdout, 1 duplicate removed/,
    );
  });

  test('no source means stdin', async () => {
    const r = await cli(PREP, 'u1\n');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '{"userId":"u1"}\n');
  });

  test('--json: summary parses; on stderr when data is on stdout, on stdout with -o', async () => {
    const a = await cli([...PREP, '--json', '-'], 'u1\nu2\nu1\n');
    assert.equal(a.code, 0);
    const s = JSON.parse(a.stderr) as Record<string, unknown>;
    assert.equal(s.family, 'user-personalization');
    assert.equal(s.recordsRead, 3);
    assert.equal(s.written, 2);
    assert.equal(s.duplicates, 1);
    const out = fresh('out.jsonl');
    const b = await cli([...PREP, '--json', '-o', out, '-'], 'u1\n');
    assert.equal(b.code, 0);
    assert.equal((JSON.parse(b.stdout) as { written: number }).written, 1);
    assert.equal(await readFile(out, 'utf8'), '{"userId":"u1"}\n');
  });

  test('a bad record exits 1 with file:line: field: reason on stderr, and no output file', async () => {
    const dir = await makeTmp();
    try {
      const src = await writeText(`${dir.dir}/in.csv`, 'email,user_id\na@x,u1\n\nb@x,\n');
      const r = await cli([...PREP, src, '-o', `${dir.dir}/out.jsonl`]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `personalize-batch: ${src}:4: user_id: empty\n`);
      assert.deepEqual(await listDir(dir.dir), ['in.csv']);
    } finally {
      await dir.cleanup();
    }
  });

  test('parse and I/O errors exit 1', async () => {
    const parse = await cli([...PREP, '-'], 'email,user_id\na,"open\n');
    assert.equal(parse.code, 1);
    assert.match(parse.stderr, /^personalize-batch: -:2: .*quote/);
    const io = await cli([...PREP, fresh('missing.csv')]);
    assert.equal(io.code, 1);
    assert.match(io.stderr, /cannot read: no such file/);
  });

  test('--on-invalid skip --rejects: exit 0, rejects written, count in the summary', async () => {
    const rejects = fresh('rejects.jsonl');
    const r = await cli(
      [...PREP, '--on-invalid', 'skip', '--rejects', rejects, '-'],
      'email,user_id\na,u1\nb,\nc,u2\n',
    );
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '{"userId":"u1"}\n{"userId":"u2"}\n');
    assert.match(r.stderr, /1 rejected \(see .*rejects\.jsonl\)/);
    const rej = JSON.parse((await readFile(rejects, 'utf8')).trim()) as Record<string, unknown>;
    assert.deepEqual(rej, { file: '-', line: 3, field: 'user_id', reason: 'empty', row: ['b', ''] });
  });

  test('every prepare option reaches prepare()', async () => {
    const cases: [string[], string, string][] = [
      [['--no-dedupe'], 'u1\nu1\n', '{"userId":"u1"}\n{"userId":"u1"}\n'],
      [['--format', 'plain'], 'a,b\n', '{"userId":"a,b"}\n'],
      [['--column', 'member'], 'email,member\nx,m1\n', '{"userId":"m1"}\n'],
      [
        [
          '--filter-value',
          'G=g',
          '--filter-value',
          'H=h',
          '--filter-const',
          'C=x;y',
          '--value-separator',
          ';',
        ],
        'user_id,g,h\nu,a;b,c\n',
        '{"userId":"u","filterValues":{"G":"\\"a\\",\\"b\\"","H":"\\"c\\"","C":"\\"x\\",\\"y\\""}}\n',
      ],
      [
        ['--since', '2024-01-01', '--timestamp-column', 'when'],
        'user_id,when\nold,2023-06-01\nnew,2024-02-01\n',
        '{"userId":"new"}\n',
      ],
      [['--where', "c in ('DE','AT')"], 'user_id,c\nu1,FR\nu2,AT\n', '{"userId":"u2"}\n'],
      [
        ['--memory-budget', '1KB', '--tmp-dir', tmpDir()],
        'u1\nu2\nu1\n',
        '{"userId":"u1"}\n{"userId":"u2"}\n',
      ],
    ];
    for (const [opts, input, expected] of cases) {
      const r = await cli([...PREP, ...opts, '-'], input);
      assert.equal(r.code, 0, `${opts.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, expected, opts.join(' '));
    }
    const rank = await cli(
      [
        'prepare',
        '--recipe',
        'personalized-ranking',
        '--item-list-column',
        'c',
        '--list-separator',
        ';',
        '--max-item-list',
        '2',
        '-',
      ],
      'user_id,c\nu,a;b\n',
    );
    assert.equal(rank.stdout, '{"userId":"u","itemList":["a","b"]}\n');
    const tooLong = await cli(
      ['prepare', '--recipe', 'personalized-ranking', '--item-list-column', 'c', '--max-item-list', '1', '-'],
      'user_id,c\nu,a|b\n',
    );
    assert.equal(tooLong.code, 1);
    const grouped = await cli(
      ['prepare', '--recipe', 'aws-personalized-ranking', '--item-column', 'sku', '-'],
      'user,sku\nu,a\nu,b\n',
    );
    assert.equal(grouped.stdout, '{"userId":"u","itemList":["a","b"]}\n');
    const attrs = await cli(
      ['prepare', '--recipe', 'item-attribute-affinity', '--attributes', 'genre, aud', '-'],
      'genre,aud\nComedy,teen\n',
    );
    assert.equal(
      attrs.stdout,
      '{"itemAttributes":"ITEMS.genre = \\"Comedy\\" AND ITEMS.aud = \\"teen\\""}\n',
    );
    const maxLine = await cli([...PREP, '--max-line-length', '10', '-'], 'u1\nthis-line-is-long\n');
    assert.equal(maxLine.code, 1);
    assert.match(maxLine.stderr, /-:2: line longer than 10/);
  });

  test('a closed stdout (EPIPE) is a normal way to stop: exit 0', async () => {
    const stdout = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    stdout.on('error', () => {});
    const stderr = new PassThrough();
    const code = await run([...PREP, '-'], { stdin: stdinOf('u1\nu2\n'), stdout, stderr });
    assert.equal(code, 0);
  });
});

describe('validate through the CLI', () => {
  test('good file exits 0; problems exit 1 and are printed as file:line: field: reason', async () => {
    const good = await writeText(fresh('good.jsonl'), '{"userId":"1"}\n');
    const ok = await cli(['validate', '--recipe', 'user-personalization', good]);
    assert.equal(ok.code, 0);
    assert.match(ok.stderr, /1 record in 1 file, 0 invalid, 0 problems/);
    const bad = await writeText(fresh('bad.jsonl'), '{"userId":"1"}\n{"userId":""}\n{"x":1}\n');
    const r = await cli(['validate', '--recipe', 'user-personalization', '--max-reported', '1', bad]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], `${bad}:2: userId: empty`);
    assert.match(lines[1] as string, /3 records in 1 file, 2 invalid, 2 problems \(1 not shown\)/);
  });

  test('--json prints a summary that parses; - reads stdin; --max-bytes and --max-item-list', async () => {
    const r = await cli(['validate', '--recipe', 'user-personalization', '--json', '-'], '{"userId":""}\n');
    assert.equal(r.code, 1);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(s.records, 1);
    assert.equal(s.problems, 1);
    assert.equal(r.stderr, '-:1: userId: empty\n');
    const bytes = await cli(
      ['validate', '--recipe', 'user-personalization', '--max-bytes', '10', '-'],
      '{"userId":"1"}\n',
    );
    assert.equal(bytes.code, 1);
    assert.match(bytes.stderr, /\(job\): 15 bytes exceed the 10-byte/);
    const list = await cli(
      ['validate', '--recipe', 'personalized-ranking', '--max-item-list', '1', '-'],
      '{"userId":"1","itemList":["a","b"]}\n',
    );
    assert.equal(list.code, 1);
    assert.match(list.stderr, /itemList: 2 items exceed the limit of 1/);
  });
});

describe('-o to a link, a FIFO, a folder or an input', () => {
  // A temporary file renamed over the name replaced such targets: as root, -o /dev/null became a regular file.
  test('a link is written through, a FIFO in place, a folder and an input refused', {
    skip: process.platform === 'win32',
  }, async () => {
    const { execFileSync } = await import('node:child_process');
    const { lstat, readlink, symlink } = await import('node:fs/promises');
    const dir = fresh('targets');
    await mkdir(dir, { recursive: true });
    const src = join(dir, 'emails.csv');
    await writeFile(src, 'user_id\nu1\nu2\n');
    const out = '{"userId":"u1"}\n{"userId":"u2"}\n';
    const PREPARE = ['prepare', '--recipe', 'user-personalization', src];

    const real = join(dir, 'real.jsonl');
    const link = join(dir, 'link.jsonl');
    await symlink(real, link);
    let r = await cli([...PREPARE, '-o', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await lstat(link)).isSymbolicLink(), 'the link is still a link');
    assert.equal(await readlink(link), real);
    assert.equal(await readFile(real, 'utf8'), out);

    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = readFile(fifo, 'utf8');
    r = await cli([...PREPARE, '-o', fifo]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await reader, out);
    assert.ok((await lstat(fifo)).isFIFO(), 'the FIFO is still a FIFO');

    r = await cli([...PREPARE, '-o', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is a folder: give a file name inside it/);

    r = await cli([...PREPARE, '-o', src]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /emails\.csv: is also an input .*give another file/);
    assert.equal(await readFile(src, 'utf8'), 'user_id\nu1\nu2\n');

    // export, whose local output is written at offsets by its workers, goes the same way.
    const outFile = join(dir, 'x.out');
    await writeFile(outFile, '{"input":{"userId":"u1"},"output":{"recommendedItems":["a"]},"error":null}\n');
    const csvReal = join(dir, 'real.csv');
    const csvLink = join(dir, 'link.csv');
    await symlink(csvReal, csvLink);
    r = await cli(['export', outFile, '-o', csvLink]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await lstat(csvLink)).isSymbolicLink());
    assert.match(await readFile(csvReal, 'utf8'), /^userId,rank,itemId\r?\nu1,1,a/);
    const fifo2 = join(dir, 'fifo2');
    execFileSync('mkfifo', [fifo2]);
    const reader2 = readFile(fifo2, 'utf8');
    r = await cli(['export', outFile, '-o', fifo2]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await reader2, /u1,1,a/);
    assert.ok((await lstat(fifo2)).isFIFO());
  });
});

describe('S3 settings that cannot work are said before any plan', () => {
  test('an endpoint without its scheme is a usage error; run --dry-run reads the work prefix as the run will', async () => {
    const dir = fresh('dry-s3');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'emails.csv'), 'user_id\nu1\n');
    const file = join(dir, 'p.json');
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        recipe: 'user-personalization',
        input: { sources: ['emails.csv'] },
        work: 's3://bucket/x/',
        jobs: {
          solutionVersionArn: 'arn:aws:personalize:us-east-1:123456789012:solution/s/1',
          roleArn: 'arn:aws:iam::123456789012:role/R',
        },
        output: { dir: 'out' },
      }),
    );
    let r = await cli(['run', file, '--dry-run', '--endpoint-url', '127.0.0.1:9']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--endpoint-url 127\.0\.0\.1:9: not an http:\/\/ or https:\/\/ URL; write http:\/\/127\.0\.0\.1:9/,
    );
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' });
    try {
      r = await cli(['run', file, '--dry-run', '--endpoint-url', 'http://127.0.0.1:9']);
    } finally {
      process.env = saved;
    }
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /s3:\/\/bucket\/x\/run\.json: nothing answers at the S3 endpoint .*is the emulator running, or --endpoint-url right\?/,
    );
    assert.doesNotMatch(r.stdout, /plan for/);
  });
});

describe('the installed command, Ctrl-C', () => {
  const bin = srcPath('src/bin.ts');
  // Each command reads a stdin pipe that stays open after a first chunk: it waits for more when
  // the signal comes, so only an abort that also stops that wait ends it promptly.
  for (const [name, argv, partial] of [
    ['prepare', (d: string) => [...PREP, '-', '-o', join(d, 'batch.jsonl')], '.batch.jsonl.tmp-'],
    [
      'shard',
      (d: string) => ['shard', '--recipe', 'user-personalization', '-', '-o', join(d, 'shards')],
      '.shards.tmp-',
    ],
  ] as const) {
    test(`${name}: the abort goes through the command's signal: exit 130, the hint, no temporary file`, async () => {
      const dir = fresh(`ctrl-c-${name}`);
      await mkdir(join(dir, 'tmp'), { recursive: true });
      const child = spawn(process.execPath, [...LOADER, bin, ...argv(dir)], {
        env: { ...process.env, TMPDIR: join(dir, 'tmp') },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      // The child goes away with the pipe still open: its EPIPE is expected.
      child.stdin.on('error', () => {});
      let lines = '';
      for (let i = 0; i < 50_000; i++) lines += `{"userId":"u${i}"}\n`;
      child.stdin.write(lines);
      // Started: its temporary output (prepare) or folder (shard) is there.
      const started = (names: string[]) => names.some((n) => n.startsWith(partial));
      for (let i = 0; !started(await readdir(dir)); i++) {
        assert.ok(i < 500, `${name} never started: ${stderr} ${(await readdir(dir)).join(' ')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      // Every line handed to the pipe, and time to read the pipe's last 64 KiB: the command
      // waits on the pipe now.
      while (child.stdin.writableLength > 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number | null];
      const ms = Date.now() - t0;
      assert.equal(code, 130, stderr);
      assert.match(
        stderr,
        /\npersonalize-batch: interrupted \(SIGINT\); nothing half-written was left; run the same command again to start over\n$/,
      );
      // bin.ts ends a command that ignores its signal after 3 s: well before that, the abort did it.
      assert.ok(ms < 2500, `${ms} ms`);
      assert.deepEqual(
        (await readdir(dir)).filter((n) => n.includes('.tmp-')),
        [],
      );
      assert.deepEqual(
        (await readdir(join(dir, 'tmp'))).filter((n) => n.startsWith('personalize-batch')),
        [],
      );
      child.stdin.destroy();
    });
  }
});

describe('progress on a terminal: shard, validate, collect', () => {
  const CLEAR = '\r\x1b[K';
  /** Lines of batch input on a stdin that pauses 120 ms before each of its chunks. */
  const slowStdin = (chunks: number, perChunk: number, line: (id: string) => string) =>
    Readable.from(
      (async function* () {
        for (let c = 0; c < chunks; c++) {
          await new Promise((r) => setTimeout(r, 120));
          let text = '';
          for (let i = 0; i < perChunk; i++) text += line(`u${c}-${i}`);
          yield Buffer.from(text);
        }
      })(),
    );
  /** run() with a stderr that says it is a terminal and keeps each write apart. */
  async function onTerminal(argv: string[], stdin: Readable, isTTY = true) {
    const writes: string[] = [];
    const stderr = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk.toString());
        cb();
      },
    });
    Object.assign(stderr, { isTTY });
    const code = await run(argv, { stdin, stdout: new PassThrough().resume(), stderr });
    return { code, writes };
  }
  const user = (id: string) => `{"userId":"${id}"}\n`;
  const out = (id: string) =>
    `{"input":{"userId":"${id}"},"output":{"recommendedItems":["i"],"scores":[0.5]},"error":null}\n`;

  for (const [name, argv, line, expect] of [
    [
      'shard',
      (d: string) => ['shard', '--recipe', 'user-personalization', '-', '-o', join(d, 's')],
      user,
      /^shard: [\d,]+ records, \d+ MB$/,
    ],
    [
      'validate',
      () => ['validate', '--recipe', 'user-personalization', '-'],
      user,
      /^validate: [\d,]+ records, 0 problems, \d+ MB read$/,
    ],
    [
      'collect',
      (d: string) => ['collect', '-', '-o', join(d, 'merged.jsonl')],
      out,
      /^collect \((keys|decide|write)\): /,
    ],
  ] as const) {
    test(`${name}: a redrawn line from its onEvent, cleared before the summary; none off a terminal`, async () => {
      const dir = fresh(`tty-${name}`);
      await mkdir(dir, { recursive: true });
      const { code, writes } = await onTerminal([...argv(dir)], slowStdin(8, 2000, line));
      assert.equal(code, 0, writes.join(''));
      const shown = writes.filter((w) => w.startsWith(CLEAR) && w.length > CLEAR.length);
      assert.ok(shown.length >= 1, JSON.stringify(writes));
      // After the clear, the text alone.
      for (const w of shown) assert.match(w.slice(CLEAR.length), expect);
      const summary = writes.findIndex((w) => w.startsWith(`${name}`) || w.startsWith(`${name} (`));
      assert.ok(summary > 0, JSON.stringify(writes));
      assert.equal(writes[summary - 1], CLEAR, 'cleared before the summary');
      const off = fresh(`tty-${name}-off`);
      await mkdir(off, { recursive: true });
      const plain = await onTerminal([...argv(off)], slowStdin(2, 10, line), false);
      assert.equal(plain.code, 0, plain.writes.join(''));
      assert.ok(!plain.writes.join('').includes('\r'), JSON.stringify(plain.writes));
    });
  }
});
