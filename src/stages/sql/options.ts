import { SQL_ENGINES, type SqlEngine } from '../../core/sql/dialect.js';
import type { PrepareSqlOptions as CorePrepareSqlOptions } from '../../core/sql/prepare.js';
import { alternatives, closest } from '../../core/suggest.js';
import { PbError } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';

/** Options of `sqlForOutputs` (`personalize-batch sql --engine E SOURCE`). */
export interface OutputsSqlOptions extends CallOptions {
  /** `duckdb`, `athena` or `spark`. */
  engine: string;
  /** A `.out` file, a folder of them, an `s3://` object or prefix (ending in `/`). */
  source: string;
  /**
   * Items joined to each recommended item. DuckDB: a CSV file (its header read here for the
   * columns, the item id column found as export finds it). Athena and Spark: a table you have
   * defined, with `catalogColumns` naming the columns to join.
   */
  catalog?: string;
  /** The catalog's item id column. Default: as export finds it (ITEM_ID, item_id, itemId, ...); Athena and Spark: ITEM_ID. */
  catalogIdColumn?: string;
  /** The catalog columns to join. Default: every column but the id (DuckDB); required for Athena and Spark. */
  catalogColumns?: string[];
  /** Athena's table of lines (its view adds `_rows`) and Spark's view. Default `personalize_batch_out`. */
  table?: string;
  /** The statements only, no comment header. Default false. */
  raw?: boolean;
}

/** Options of `sqlForPrepare` (`personalize-batch sql --engine E --stage prepare`): the core's, the engine by name. */
export type PrepareSqlOptions = Omit<CorePrepareSqlOptions, 'engine'> & { engine: string };

export function resolveEngine(engine: string | undefined): SqlEngine {
  if (engine === undefined)
    throw new PbError('PB_USAGE', `sql needs --engine ${SQL_ENGINES.join('|')} (see sql --help)`);
  const e = engine.toLowerCase();
  if ((SQL_ENGINES as readonly string[]).includes(e)) return e as SqlEngine;
  const near = closest(e, SQL_ENGINES);
  throw new PbError(
    'PB_USAGE',
    `unknown --engine "${engine}": ${near.length > 0 ? `did you mean ${alternatives(near)}?` : `use ${SQL_ENGINES.join(', ')}`}`,
  );
}

/** A name Athena, Spark and DuckDB all take unquoted in messages and as a table: letters, digits, _. */
export function checkTableName(name: string, option: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name))
    throw new PbError(
      'PB_USAGE',
      `${option} ${JSON.stringify(name)}: use letters, digits and _ (a table name)`,
    );
  return name;
}
