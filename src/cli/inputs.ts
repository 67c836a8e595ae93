import { count } from '../core/units.js';
import type { PrepareSummary } from '../stages/prepare/index.js';

/**
 * How each source was read, one line per kind of source: format, delimiter
 * and where it came from, header, id column, encoding, gzip. Sources read
 * the same way share a line.
 */
export function describeInputs(s: Pick<PrepareSummary, 'inputs' | 'inputsNotListed'>): string[] {
  const groups = new Map<string, string[]>();
  for (const d of s.inputs) {
    const parts: string[] = [];
    switch (d.format) {
      case 'plain':
        parts.push('plain text, one id per line, no header');
        break;
      case 'jsonl':
        parts.push('JSON Lines');
        break;
      case 'json':
        parts.push(
          d.jsonLayout === 'array'
            ? 'a JSON array, read as records'
            : d.jsonLayout === 'spread'
              ? 'JSON objects over several lines, read as records'
              : 'several JSON objects a line, read as records',
        );
        break;
      default: {
        const delim = d.delimiter === '\t' ? 'TAB' : `"${d.delimiter}"`;
        const from =
          d.delimiterFrom === 'option'
            ? ' (as given)'
            : d.delimiterFrom === 'sep-line'
              ? ' (its sep= line)'
              : '';
        const n = d.columns?.length ?? 0;
        const kind = d.format === 'tsv' ? 'TSV' : 'CSV';
        parts.push(
          !d.header
            ? `${kind}, delimiter ${delim}${from}, no header (columns numbered 1 to ${n})`
            : n === 1
              ? `one column with a header`
              : `${kind}, delimiter ${delim}${from}, header with ${n} columns`,
        );
      }
    }
    if (d.skippedLines) parts.push(`${count(d.skippedLines, 'line')} skipped first`);
    if (d.idColumn !== undefined) parts.push(`id column ${JSON.stringify(d.idColumn)}`);
    const enc = d.encoding.startsWith('utf-')
      ? d.encoding.toUpperCase().replace(/(16|32)(LE|BE)$/, '$1 $2')
      : d.encoding;
    parts.push(
      d.encodingFrom === 'bom'
        ? `${enc} (byte order mark)`
        : d.encodingFrom === 'option'
          ? `${enc} (as given)`
          : enc,
    );
    if (d.gzip) parts.push('gzip');
    const key = parts.join(', ');
    const files = groups.get(key) ?? [];
    files.push(d.file);
    groups.set(key, files);
  }
  const lines: string[] = [];
  for (const [what, files] of groups) {
    const who =
      files.length === 1
        ? (files[0] as string)
        : `${files.length} sources (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', ...' : ''})`;
    lines.push(`${who === '-' ? 'stdin' : who}: ${what}`);
  }
  if (s.inputsNotListed > 0) lines.push(`${s.inputsNotListed} more sources (not listed)`);
  return lines;
}
