#!/usr/bin/env node
import { run } from './cli.js';

// A closed stdout (`... | head`) is a normal way to stop reading, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// The AWS SDK warns on every start that its releases from 2027 will need Node 22. This
// package pins SDK versions that support Node 20, so that tells users nothing they can act
// on. The SDK's own switch turns it off (unless the user set it either way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const code = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.exitCode = code;
