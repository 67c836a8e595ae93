/**
 * Where the suite runs from, and how its tests start the CLI as a child. `npm test` runs the tests
 * as JavaScript from a transpiled copy of src/ and test/ (scripts/test.mjs); a file run through tsx
 * runs from the repository itself. Either way the same paths work from here.
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** True in the transpiled copy. */
export const COMPILED = import.meta.url.endsWith('.js');
/** The folder the suite runs from: the copy (src/, test/, links to the rest) or the repository. */
export const HERE = fileURLToPath(new URL('..', import.meta.url));
/** The repository's work tree, for git and npm: the copy's package.json is a link into it. */
export const REPO = dirname(realpathSync(join(HERE, 'package.json')));
/** A source module's path under HERE, `src/x.ts` given: its .js in the copy. */
export function srcPath(rel: string): string {
  return join(HERE, COMPILED ? rel.replace(/\.ts$/, '.js') : rel);
}
/** node's arguments before a source module's path: none for the copy's JavaScript, tsx for the sources. */
export const LOADER: readonly string[] = COMPILED ? [] : ['--import', 'tsx'];
/**
 * The tests' preload for a child that starts worker threads, from the sources: they start from the
 * tests' bundles (test/worker-bundles.ts), not through tsx. The copy's workers need none.
 */
export const PRELOAD: readonly string[] = COMPILED
  ? []
  : ['--import', pathToFileURL(join(HERE, 'test', 'scratch.ts')).href];
/** node's arguments that start the CLI (`[...CLI, 'export', ...]`): bin.js, or bin.ts through tsx. */
export const CLI: readonly string[] = [...LOADER, srcPath('src/bin.ts')];
