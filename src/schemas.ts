import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * `schemas/` is the single source of truth for line shapes. It sits at the
 * package root, which is one level above `src/` when run through tsx and two
 * above `dist/src/` when compiled, so look upwards for it.
 */
function findSchemaDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, 'input-user.schema.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('personalize-batch: cannot find the schemas/ folder next to the package');
}

export const SCHEMA_DIR = findSchemaDir();

// strictRequired is off: the output schemas say "one of these keys" with
// anyOf [{required:[a]}, {required:[b]}], which is valid JSON Schema.
const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false, strictRequired: false });
const cache = new Map<string, ValidateFunction>();
// Configuration files are small and a person fixes them: report every mistake at once.
const ajvAll = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
const configCache = new Map<string, ValidateFunction>();

function compiled(with_: Ajv, store: Map<string, ValidateFunction>, file: string): ValidateFunction {
  let fn = store.get(file);
  if (!fn) {
    fn = with_.compile(loadSchema(file));
    store.set(file, fn);
  }
  return fn;
}

export function loadSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
}

/** Compiled validator for a schema file in `schemas/`, compiled once per process. */
export function validator(file: string): ValidateFunction {
  return compiled(ajv, cache, file);
}

/** Like validator(), but collecting every error (for files a person writes, such as the pipeline). */
export function configValidator(file: string): ValidateFunction {
  return compiled(ajvAll, configCache, file);
}

export type { ErrorObject };
