import type { Catalog } from '../../../core/catalog.js';
import { csvCell } from '../../../core/csv-cell.js';
import { renameHeader } from '../../../core/email-files.js';
import type { MappedRow } from '../../../core/map-users.js';
import { userColumnNames } from '../../../core/out-convert.js';
import type { ResolvedExportOptions } from '../options.js';

/**
 * The users' mapped lists in the export's format, laid out as a plain
 * export of a user-keyed output lays out its rows, with the source item of
 * each recommended item added:
 * - csv-long: `userId,source_item,rank,itemId[,score]`, then the catalog's
 *   columns (per recommended item) and the users file's (per user);
 * - csv-wide: `userId,item_1..item_N,source_item_1..source_item_N[,score_1..score_N]`,
 *   then each catalog column numbered 1..N, then the users file's columns
 *   once; N is the most rows a user has, known at the end: rowsOf() gives
 *   a spool line (the cells, JSON) and wideRow() renders it;
 * - jsonl: `{"userId":..., <user fields>, "items":[{"itemId":...,"source_item":...[,"score":...], <catalog fields>}]}`.
 * Names, formula guards and cut cells as the plain export's. Rows are
 * built as strings: this path is bound by the interactions' disk
 * partitions, not by the 120 MB/s conversion loop.
 */
export class MappedRows {
  /** The CSV header (csv-wide: once `width` is final, see wideHeader); [] for jsonl. */
  header: string[];
  /** csv-wide: the most rows a user has so far. */
  width = 0;
  /** Rows with a recommended item not in the catalog; users not in the users file; text cells cut. */
  catalogMissing = 0;
  usersMissing = 0;
  usersDropped = 0;
  cellsCut = 0;
  private readonly eol: string;
  private scratch = Buffer.alloc(1024);

  constructor(
    private readonly o: ResolvedExportOptions,
    private readonly scores: boolean,
    private readonly catalog: Catalog | undefined,
    private readonly users: Catalog | undefined,
    private readonly catalogColumns: readonly string[],
    private readonly userColumns: readonly string[],
  ) {
    this.eol = o.crlf ? '\r\n' : '\n';
    this.header = o.format === 'csv-long' ? this.longHeader() : [];
  }

  private longHeader(): string[] {
    const h = ['userId', 'source_item', 'rank', 'itemId'];
    if (this.scores) h.push('score');
    const taken = new Set(h);
    for (const c of this.catalogColumns) {
      let name = c;
      while (taken.has(name)) name = `catalog_${name}`;
      taken.add(name);
      h.push(name);
    }
    h.push(...userColumnNames(this.userColumns, h));
    return this.o.rename ? renameHeader(h, this.o.rename) : h;
  }

  /** csv-wide's header for the final width: numbered columns, a clashing catalog name prefixed as csv-wide's. */
  wideHeader(): string[] {
    const n = this.width;
    const h = ['userId'];
    const numbered = (name: string) => {
      for (let i = 1; i <= n; i++) h.push(`${name}_${i}`);
    };
    numbered('item');
    numbered('source_item');
    if (this.scores) numbered('score');
    const taken = new Set(h);
    const clashes = (name: string) => {
      for (let i = 1; i <= n; i++) if (taken.has(`${name}_${i}`)) return true;
      return false;
    };
    for (const c of this.catalogColumns) {
      let name = c;
      while (clashes(name)) name = `catalog_${name}`;
      numbered(name);
      for (let i = 1; i <= n; i++) taken.add(`${name}_${i}`);
    }
    h.push(...userColumnNames(this.userColumns, h));
    this.header = this.o.rename ? renameHeader(h, this.o.rename) : h;
    return this.header;
  }

  /** The header line (BOM first if asked); '' for jsonl. csv-wide: after every user's rowsOf(). */
  headerLine(): string {
    if (this.o.format === 'jsonl') return '';
    const h = this.o.format === 'csv-wide' ? this.wideHeader() : this.header;
    return (
      (this.o.bom ? '\uFEFF' : '') + h.map((c) => csvCell(c, this.o.escapeFormulas)).join(',') + this.eol
    );
  }

  /** Whether rowsOf() drops this user: --users-required and no row in the users file. */
  drops(user: string): boolean {
    return this.users !== undefined && this.o.usersRequired && this.lookup(this.users, user) < 0;
  }

  /**
   * A user's rows as text (csv-wide: a spool line for wideRow); '' when the
   * user has none, or --users-required drops a user not in the users file.
   */
  rowsOf(user: string, rows: readonly MappedRow[]): string {
    if (rows.length === 0) return '';
    let u = -1;
    if (this.users) {
      u = this.lookup(this.users, user);
      if (u < 0) {
        this.usersMissing++;
        if (this.o.usersRequired) {
          this.usersDropped++;
          return '';
        }
      }
    }
    const items = this.catalog ? rows.map((r) => this.itemOf(r.item)) : [];
    if (this.o.format === 'jsonl') return this.jsonOf(user, u, rows, items);
    const userCells = this.users ? this.cells(this.users, u) : '';
    if (this.o.format === 'csv-wide') return this.spoolOf(user, rows, items, userCells);
    const esc = this.o.escapeFormulas;
    const userCell = csvCell(user, esc);
    let out = '';
    rows.forEach((r, i) => {
      out += `${userCell},${csvCell(r.source, esc)},${r.rank},${csvCell(r.item, esc)}`;
      if (this.scores) out += `,${r.score ?? ''}`;
      if (this.catalog) out += this.cells(this.catalog, items[i] as number);
      out += userCells + this.eol;
    });
    return out;
  }

  /** One JSON Lines record: the user's fields (nulls when not in the file) before the items. */
  private jsonOf(user: string, u: number, rows: readonly MappedRow[], items: number[]): string {
    let out = `{"userId":${JSON.stringify(user)}`;
    if (this.users) out += this.json(this.users, u);
    out += ',"items":[';
    rows.forEach((r, i) => {
      if (i > 0) out += ',';
      out += `{"itemId":${JSON.stringify(r.item)},"source_item":${JSON.stringify(r.source)}`;
      if (this.scores) out += `,"score":${r.score ?? 'null'}`;
      if (this.catalog) out += this.json(this.catalog, items[i] as number);
      out += '}';
    });
    return `${out}]}\n`;
  }

  /** csv-wide's cells of a user, grouped, as one JSON line: [user, ids, sources, scores, catalog columns, user cells]. */
  private spoolOf(user: string, rows: readonly MappedRow[], items: number[], userCells: string): string {
    this.width = Math.max(this.width, rows.length);
    const esc = this.o.escapeFormulas;
    const catalog: string[][] = [];
    if (this.catalog)
      for (let c = 0; c < this.catalog.columns; c++)
        catalog.push(items.map((item) => (item < 0 ? '' : this.cell(this.catalog as Catalog, item, c))));
    const line = [
      csvCell(user, esc),
      rows.map((r) => csvCell(r.item, esc)),
      rows.map((r) => csvCell(r.source, esc)),
      this.scores ? rows.map((r) => r.score ?? '') : [],
      catalog,
      userCells,
    ];
    return `${JSON.stringify(line)}\n`;
  }

  /** A spool line (without its newline) as its csv-wide row, each group padded to the width. */
  wideRow(line: string): string {
    const [user, ids, sources, scores, catalog, userCells] = JSON.parse(line) as [
      string,
      string[],
      string[],
      string[],
      string[][],
      string,
    ];
    let out = user;
    const padded = (cells: string[]) => {
      for (let i = 0; i < this.width; i++) out += `,${cells[i] ?? ''}`;
    };
    padded(ids);
    padded(sources);
    if (this.scores) padded(scores);
    for (const col of catalog) padded(col);
    return out + userCells + this.eol;
  }

  /** The catalog's row of a recommended item, or -1 (counted). */
  private itemOf(id: string): number {
    const item = this.lookup(this.catalog as Catalog, id);
    if (item < 0) this.catalogMissing++;
    return item;
  }

  private lookup(table: Catalog, id: string): number {
    const key = Buffer.from(id);
    return table.lookup(key, 0, key.length, false);
  }

  /** A table row's cells, each after a comma, as the table rendered them; empty ones for -1. */
  private cells(table: Catalog, item: number): string {
    if (item < 0) return ','.repeat(table.columns);
    let out = '';
    for (let c = 0; c < table.columns; c++) out += `,${this.cell(table, item, c)}`;
    return out;
  }

  private cell(table: Catalog, item: number, c: number): string {
    if (this.scratch.length < table.maxCellBytes) this.scratch = Buffer.alloc(table.maxCellBytes);
    const end = table.copyCell(item, c, this.scratch, 0);
    if (table.isCut(item, c)) this.cellsCut++;
    return this.scratch.toString('utf8', 0, end);
  }

  /** A table row's JSON fields (`,"name":value...`; nulls for -1), as the table rendered them. */
  private json(table: Catalog, item: number): string {
    if (this.scratch.length < table.maxJsonBytes) this.scratch = Buffer.alloc(table.maxJsonBytes);
    const end = table.copyJson(item, this.scratch, 0);
    return this.scratch.toString('utf8', 0, end);
  }
}
