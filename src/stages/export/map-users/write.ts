import type { Catalog } from '../../../core/catalog.js';
import { csvCell } from '../../../core/csv-cell.js';
import { renameHeader } from '../../../core/email-files.js';
import type { MappedRow } from '../../../core/map-users.js';
import { userColumnNames } from '../../../core/out-convert.js';
import type { ResolvedExportOptions } from '../options.js';

/**
 * CSV rows of the users' mapped lists: `userId,source_item,rank,itemId[,score]`,
 * then the catalog's columns (per recommended item) and the users file's
 * (per user), named and cut as a plain csv-long export names and cuts them.
 * Rows are built as strings: this path is bound by the interactions' disk
 * partitions, not by the 120 MB/s conversion loop.
 */
export class MappedRows {
  readonly header: string[];
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
    catalogColumns: readonly string[],
    userColumns: readonly string[],
  ) {
    const h = ['userId', 'source_item', 'rank', 'itemId'];
    if (scores) h.push('score');
    const taken = new Set(h);
    for (const c of catalogColumns) {
      let name = c;
      while (taken.has(name)) name = `catalog_${name}`;
      taken.add(name);
      h.push(name);
    }
    h.push(...userColumnNames(userColumns, h));
    this.header = o.rename ? renameHeader(h, o.rename) : h;
    this.eol = o.crlf ? '\r\n' : '\n';
  }

  headerLine(): string {
    return (
      (this.o.bom ? '\uFEFF' : '') +
      this.header.map((c) => csvCell(c, this.o.escapeFormulas)).join(',') +
      this.eol
    );
  }

  /** A user's rows as CSV text; '' when --users-required drops a user not in the users file. */
  rowsOf(user: string, rows: readonly MappedRow[]): string {
    if (rows.length === 0) return '';
    let userCells = '';
    if (this.users) {
      const u = this.lookup(this.users, user);
      if (u < 0) {
        this.usersMissing++;
        if (this.o.usersRequired) {
          this.usersDropped++;
          return '';
        }
        userCells = ','.repeat(this.users.columns);
      } else userCells = this.cells(this.users, u);
    }
    const esc = this.o.escapeFormulas;
    const userCell = csvCell(user, esc);
    let out = '';
    for (const r of rows) {
      out += `${userCell},${csvCell(r.source, esc)},${r.rank},${csvCell(r.item, esc)}`;
      if (this.scores) out += `,${r.score ?? ''}`;
      if (this.catalog) {
        const item = this.lookup(this.catalog, r.item);
        if (item < 0) this.catalogMissing++;
        out += item < 0 ? ','.repeat(this.catalog.columns) : this.cells(this.catalog, item);
      }
      out += userCells + this.eol;
    }
    return out;
  }

  private lookup(table: Catalog, id: string): number {
    const key = Buffer.from(id);
    return table.lookup(key, 0, key.length, false);
  }

  /** A table row's cells, each after a comma, as the table rendered them. */
  private cells(table: Catalog, item: number): string {
    let out = '';
    for (let c = 0; c < table.columns; c++) {
      if (this.scratch.length < table.maxCellBytes) this.scratch = Buffer.alloc(table.maxCellBytes);
      const end = table.copyCell(item, c, this.scratch, 0);
      if (table.isCut(item, c)) this.cellsCut++;
      out += `,${this.scratch.toString('utf8', 0, end)}`;
    }
    return out;
  }
}
