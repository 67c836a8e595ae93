import { csvCell } from '../csv-cell.js';
import { renameHeader } from '../email-files.js';
import type { ConvertConfig, Layout } from './convert-config.js';
import { OutLineParser } from './line-parser.js';
import {
  KEY_NAMES,
  KEY_NONE,
  KIND_NAMES,
  KIND_SEGMENT,
  KIND_THEMES,
  type OutKeyField,
  type OutKind,
} from './line-shapes.js';

/** The columns of an export: sniffed from its first exported lines, and its CSV header row. */

const LF = 10;
const CR = 13;

/**
 * The CSV header row (without its line end) for a layout. Every name is
 * distinct: related items and themes echo an `itemId` and recommend items,
 * so their key column is `source_item` (in csv-long and csv-wide alike), and
 * a catalog column named like one of ours gets a `catalog_` prefix. The
 * users file's columns come last, once per row (csv-wide too), a name taken
 * by an earlier column with a `user_` prefix.
 */
export function csvHeader(cfg: ConvertConfig, layout: Layout): string[] {
  const key = keyColumn(layout);
  const id = layout.users ? 'userId' : 'itemId';
  if (cfg.format === 'csv-long') {
    const h = [key, 'rank', id];
    if (layout.score) h.push('score');
    if (layout.reason) h.push('reason');
    if (layout.theme) h.push('theme');
    const taken = new Set(h);
    for (const c of cfg.catalogColumns) {
      let name = c;
      while (taken.has(name)) name = `catalog_${name}`;
      taken.add(name);
      h.push(name);
    }
    h.push(...userColumnNames(cfg.userColumns, h));
    return h;
  }
  const n = cfg.width;
  const h: string[] = [key];
  if (layout.theme) h.push('theme');
  const numbered = (name: string) => {
    for (let i = 1; i <= n; i++) h.push(`${name}_${i}`);
  };
  numbered(layout.users ? 'user' : 'item');
  if (layout.score) numbered('score');
  if (layout.reason) numbered('reason');
  const taken = new Set(h);
  const clashes = (name: string) => {
    for (let i = 1; i <= n; i++) if (taken.has(`${name}_${i}`)) return true;
    return false;
  };
  for (const c of cfg.catalogColumns) {
    let name = c;
    while (clashes(name)) name = `catalog_${name}`;
    numbered(name);
    for (let i = 1; i <= n; i++) taken.add(`${name}_${i}`);
  }
  h.push(...userColumnNames(cfg.userColumns, h));
  return h;
}

/**
 * The users file's columns as the export names them: as in its header, or
 * with a `user_` prefix (repeated) while an earlier column, or an earlier
 * one of them, has the name. JSON Lines records pass their own top-level
 * names (the key, theme, items).
 */
export function userColumnNames(fields: readonly string[], before: readonly string[]): string[] {
  const taken = new Set(before);
  return fields.map((f) => {
    let name = f;
    while (taken.has(name)) name = `user_${name}`;
    taken.add(name);
    return name;
  });
}

/** The key column's name: the echoed input field, except `source_item` where the rows also hold an itemId. */
function keyColumn(layout: Layout): string {
  return layout.keyField === 'itemId' && !layout.users ? 'source_item' : layout.keyField;
}

/** The header as written: csvHeader with the export's renames (checked: see renameHeader). */
export function outputHeader(cfg: ConvertConfig, layout: Layout): string[] {
  const h = csvHeader(cfg, layout);
  return cfg.rename ? renameHeader(h, cfg.rename) : h;
}

export function headerBytes(cfg: ConvertConfig, layout: Layout): Buffer {
  if (cfg.format === 'jsonl') return Buffer.alloc(0);
  // Row groups follow the magic; the footer names the columns.
  if (cfg.parquet) return Buffer.from('PAR1');
  const cells = outputHeader(cfg, layout).map((c) => csvCell(c, cfg.escapeFormulas));
  return Buffer.from(cells.join(',') + (cfg.crlf ? '\r\n' : '\n'));
}

/**
 * The layout from the exported lines (error null, output present) of a
 * piece: key column and id kind from the first such line; score, reason and
 * theme columns when any of them has one; and the widest of those lines.
 * Undefined when there is none. A line without a key (the empty input of
 * Popularity-Count) leaves the key column to the first line with one;
 * userId when the piece has none.
 */
export function sniffLayout(
  piece: Uint8Array,
  parser = new OutLineParser(),
): { layout: Layout; width: number } | undefined {
  let layout: Layout | undefined;
  let keyed = false;
  let width = 0;
  let p = 0;
  const n = piece.length;
  while (p < n) {
    let nl = piece.indexOf(LF, p);
    if (nl === -1) nl = n;
    const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
    if (parser.parse(piece, p, e) === 0) {
      const key = parser.keyField;
      const users = parser.kind === KIND_SEGMENT;
      if (!layout) {
        layout = {
          kind: KIND_NAMES[parser.kind] as OutKind,
          keyField: key === KEY_NONE ? 'userId' : (KEY_NAMES[key] as OutKeyField),
          users,
          score: false,
          reason: false,
          theme: false,
        };
        keyed = key !== KEY_NONE;
      } else if (!keyed && key !== KEY_NONE && users === layout.users) {
        layout.keyField = KEY_NAMES[key] as OutKeyField;
        keyed = true;
      }
      if ((key === KEY_NONE || KEY_NAMES[key] === layout.keyField) && users === layout.users) {
        layout.score ||= parser.scores !== undefined;
        layout.reason ||= parser.reasons !== undefined;
        layout.theme ||= parser.kind === KIND_THEMES;
        width = Math.max(width, parser.ids.n);
      }
    }
    p = nl + 1;
  }
  return layout && { layout, width };
}
