/**
 * Item-Attribute-Affinity queries: `ITEMS.genre = "Comedy" AND ITEMS.audience = "teen"`.
 * The service allows only `=` and `AND`, and wants `"` and `\` inside values
 * escaped with a backslash (reference: prepare-input-data-user-segment).
 */

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Escapes a value for use inside the double quotes of a query. */
export function escapeAttributeValue(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}

/**
 * Builds a query from (column, value) pairs; empty values are left out, so a
 * row with no attribute set yields ''. Column names may be given with or
 * without the `ITEMS.` prefix.
 */
export function buildAttributeQuery(pairs: ReadonlyArray<readonly [string, string]>): string {
  const parts: string[] = [];
  for (const [column, value] of pairs) {
    if (value === '') continue;
    const name = column.replace(/^ITEMS\./i, '');
    parts.push(`ITEMS.${name} = "${escapeAttributeValue(value)}"`);
  }
  return parts.join(' AND ');
}

export function isValidColumnName(name: string): boolean {
  return COLUMN.test(name.replace(/^ITEMS\./i, ''));
}

/**
 * Checks a query against the grammar the service accepts and returns the
 * reason it is wrong, or null. Values are double-quoted strings with `\`
 * escapes, or bare numbers; clauses are joined by AND.
 */
export function checkAttributeQuery(query: string): string | null {
  let i = 0;
  const n = query.length;
  const ws = () => {
    while (i < n && (query[i] === ' ' || query[i] === '\t')) i++;
  };
  let clauses = 0;
  for (;;) {
    ws();
    if (!query.startsWith('ITEMS.', i)) {
      return clauses === 0
        ? 'must start with ITEMS.<column> = "<value>"'
        : `expected ITEMS.<column> after AND at character ${i + 1}`;
    }
    i += 6;
    const colStart = i;
    while (i < n && /[A-Za-z0-9_]/.test(query[i] as string)) i++;
    const column = query.slice(colStart, i);
    if (!COLUMN.test(column)) return `bad column name at character ${colStart + 1}`;
    ws();
    if (query[i] !== '=') {
      return query.slice(i, i + 2).toUpperCase() === 'IN' || /[<>!]/.test(query[i] ?? '')
        ? `only = is allowed (column ${column})`
        : `expected = after ITEMS.${column}`;
    }
    i++;
    ws();
    if (query[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = query[i];
        if (c === '\\') {
          if (i + 1 >= n) return `dangling backslash in the value of ${column}`;
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        i++;
      }
      if (!closed) return `unclosed quote in the value of ${column} (escape quotes inside values as \\")`;
    } else {
      const m = /^-?\d+(\.\d+)?/.exec(query.slice(i));
      if (!m) return `the value of ${column} must be a double-quoted string or a number`;
      i += m[0].length;
    }
    clauses++;
    ws();
    if (i >= n) return null;
    if (query.startsWith('AND', i) && /\s/.test(query[i + 3] ?? '')) {
      i += 3;
      continue;
    }
    return query.slice(i, i + 2).toUpperCase() === 'OR'
      ? 'only AND may join conditions (no OR)'
      : `unexpected text at character ${i + 1}: ${JSON.stringify(query.slice(i, i + 20))}`;
  }
}
