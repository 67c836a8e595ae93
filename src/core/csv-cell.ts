const FORMULA_CHARS = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);

/** One CSV text cell from a string: formula guard, then RFC 4180 quoting when needed. */
export function csvCell(value: string, escapeFormulas: boolean): string {
  let v = value;
  if (escapeFormulas && v.length > 0 && FORMULA_CHARS.has(v[0] as string)) v = `'${v}`;
  if (/[",\r\n]/.test(v)) return `"${v.replace(/"/g, '""')}"`;
  return v;
}
