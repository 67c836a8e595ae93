/**
 * Names the options a message points at (the CLI's flags by default; the
 * pipeline file has its own). An empty `format` or `skipLines`: the command
 * has no such option (a join table), and the message gives the other fix.
 */
export interface OptionNames {
  delimiter: string;
  encoding: string;
  column: string;
  format: string;
  allowEmailIds: string;
  skipLines: string;
  noHeader: string;
  itemColumn: string;
  itemListColumn: string;
  timestampColumn: string;
  attributes: string;
  since: string;
  where: string;
  /** A filter placeholder filled from a column. */
  filterColumn: (name: string, column?: string) => string;
}

export const CLI_OPTION_NAMES: OptionNames = {
  delimiter: '--delimiter',
  encoding: '--encoding',
  column: '--column',
  format: '--format',
  allowEmailIds: '--allow-email-ids',
  skipLines: '--skip-lines',
  noHeader: '--no-header',
  itemColumn: '--item-column',
  itemListColumn: '--item-list-column',
  timestampColumn: '--timestamp-column',
  attributes: '--attributes',
  since: '--since',
  where: '--where',
  filterColumn: (name, column) => `--filter-value ${name}=${column ?? 'COLUMN'}`,
};
