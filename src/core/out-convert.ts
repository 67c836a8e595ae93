/**
 * The export conversion's face: Converter turns pieces of batch-output lines
 * into csv-long, csv-wide or jsonl bytes (core/out/converter.ts, writing
 * through core/out/csv-long.ts, csv-wide.ts and jsonl.ts), and sniffLayout
 * and the header functions fix an export's columns (core/out/layout.ts).
 */

// Exported here as before; it lives in its own module since the catalog renders its cells with it too.
export { csvCell } from './csv-cell.js';
export {
  type ConvertConfig,
  EXPORT_FORMATS,
  type ExportFormat,
  isParquetFormat,
  type Layout,
  type OutputFormat,
  PARQUET_FORMATS,
  type ParquetFormat,
} from './out/convert-config.js';
export {
  addCounts,
  type ConvertCounts,
  type ConvertResult,
  emptyCounts,
  type InvalidLine,
} from './out/convert-result.js';
export { Converter, layoutMismatch } from './out/converter.js';
export { csvHeader, headerBytes, outputHeader, sniffLayout, userColumnNames } from './out/layout.js';
export { parsedGroup, scannedGroup, type UserGroupPass } from './out/user-groups.js';
