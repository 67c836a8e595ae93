/**
 * What the three engines spell differently: identifiers, string literals,
 * the comment header. Everything here builds text; nothing runs a query.
 */

export const SQL_ENGINES = ['duckdb', 'athena', 'spark'] as const;
export type SqlEngine = (typeof SQL_ENGINES)[number];

/** An identifier, always quoted (names such as `rank`, `input`, `output` are keywords somewhere). */
export function ident(engine: SqlEngine, name: string): string {
  if (engine === 'spark') return `\`${name.replace(/`/g, '``')}\``;
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A string literal. Spark SQL reads backslash escapes inside literals (unless
 * spark.sql.parser.escapedStringLiterals is set), so its backslashes are doubled;
 * DuckDB and Athena (Trino) take a backslash as itself.
 */
export function literal(engine: SqlEngine, text: string): string {
  if (engine === 'spark') return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `'${text.replace(/'/g, "''")}'`;
}

/** A `--` comment block, one line per entry (blank entries as bare `--`). */
export function commentBlock(lines: readonly string[]): string {
  return lines.map((l) => (l === '' ? '--' : `-- ${l}`)).join('\n');
}

/** What a query reads: local files (DuckDB), or an S3 prefix or a path all three can read. */
export interface SqlSource {
  /**
   * DuckDB: the paths or globs read_json reads (a file, `DIR/**\/*.out`, `s3://b/p/**\/*.out`).
   * Athena: unused (see location). Spark: the first is the path of the view.
   */
  paths: string[];
  /** The folder or S3 prefix the outputs are under (Athena's LOCATION, ending in `/`). */
  location: string;
}
