#!/usr/bin/env node
import { CliInterrupt } from './cli/common.js';
import { run } from './cli/index.js';
import { removeTemporaryFiles } from './io/output.js';
import { allowSdkWarning } from './io/s3.js';

// A closed stdout (`... | head`) is a normal way to stop reading, not an error.
// The run stops there, so what it was writing beside stdout (errors.jsonl, spill folders) is
// removed, as on Ctrl-C: a file that looks complete must be complete.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') {
    removeTemporaryFiles();
    process.exit(0);
  }
  throw err;
});

// A closed stderr (`2>&1 | head`, quitting less) must not stop a run half-way, jobs
// created and nothing exported: messages and progress are dropped and the work goes on.
process.stderr.on('error', () => {});

// The AWS SDK warns on every start that its releases from 2027 will need Node 22. This
// package pins SDK versions that support Node 20, so that tells users nothing they can act
// on. The SDK's own switch turns it off (unless the user set it either way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// The library turns it off for its clients whatever the environment says; set either way, the
// switch is the user's, so the library is told to leave it to the SDK.
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED !== 'true') allowSdkWarning();

// Ctrl-C aborts the command through its `signal`, as a library caller would: reads and writes
// stop, temporary files and partial outputs are removed, and run() says how to go on (jobs
// already created keep running in the service; every command that creates or follows them
// resumes). A command that does not stop within FORCE_MS, or a second Ctrl-C, ends the process
// the blunt way: temporary files removed here, the same message, the same exit code.
const FORCE_MS = 3000;
const interrupt = new AbortController();
const forceExit = (reason: CliInterrupt): never => {
  removeTemporaryFiles();
  process.stderr.write(`\npersonalize-batch: ${reason.hint(process.argv[2])}\n`);
  process.exit(reason.exitCode);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    // A command with its own shutdown (emulate stops its servers) handles the signal itself.
    if (process.listenerCount(signal) > 0) return;
    const reason = new CliInterrupt(signal);
    interrupt.abort(reason);
    // Any further signal (these handlers make the other signals' first ones step aside) forces it.
    for (const again of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.once(again, () => forceExit(reason));
    setTimeout(() => forceExit(reason), FORCE_MS).unref();
  });
}

const code = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupt.signal,
});
if (interrupt.signal.aborted) {
  // Stopped by the signal: what an open handle (stdin, a socket) would keep waiting for is not
  // waited for, as before the signal went through the commands.
  removeTemporaryFiles();
  process.exit(code);
}
process.exitCode = code;
