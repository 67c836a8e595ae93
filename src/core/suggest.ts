/** "Did you mean" for mistyped command and option names. */
import { type PbError, usage } from '../errors.js';

/**
 * Optimal string alignment distance (Damerau–Levenshtein with adjacent
 * transpositions, no substring edited twice): `prepaer` is one edit from
 * `prepare`, where plain Levenshtein counts two.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        (d[(i - 1) * cols + j] as number) + 1,
        (d[i * cols + j - 1] as number) + 1,
        (d[(i - 1) * cols + j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, (d[(i - 2) * cols + j - 2] as number) + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1] as number;
}

/**
 * The names `typed` was probably meant to be: the nearest within an edit
 * budget that grows with its length (two edits turn any 2-letter word into
 * any other), else the names it is the start of (`--endpoint` for
 * `--endpoint-url`, `--out` for `--output`). Case is ignored. Empty when
 * nothing is close.
 */
export function closest(typed: string, names: readonly string[]): string[] {
  const t = typed.toLowerCase();
  if (t === '') return [];
  const budget = t.length <= 2 ? 0 : t.length <= 4 ? 1 : 2;
  let best = budget + 1;
  let near: string[] = [];
  for (const name of names) {
    const d = editDistance(t, name.toLowerCase());
    if (d < best) {
      best = d;
      near = [name];
    } else if (d === best) near.push(name);
  }
  if (near.length > 0) return near.slice(0, 3);
  if (t.length < 2) return [];
  return names.filter((n) => n.toLowerCase().startsWith(t)).slice(0, 4);
}

/** Alternatives for a message: `--a`, `--a or --b`, `--a, --b or --c`. */
export function alternatives(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** The usage error for a value outside its choices: them, and the closest, if one is close. */
export function notOneOf(option: string, value: string, choices: readonly string[]): PbError {
  const near = closest(value, choices);
  return usage(
    `${option} must be one of ${choices.join(', ')}, got "${value}"${near.length > 0 ? `; did you mean ${alternatives(near)}?` : ''}`,
  );
}
