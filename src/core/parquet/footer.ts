import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import type { RowGroupMeta } from './row-group.js';

/**
 * The file's footer: the schema (csv-long's columns, typed), each row
 * group's column chunks at their offsets in the file, then the footer's
 * length and the closing magic. The Thrift is hyparquet-writer's.
 */

/** The first and last four bytes of a Parquet file. */
export const PARQUET_MAGIC = Buffer.from('PAR1');

export interface FooterColumn {
  name: string;
  type: 'VARCHAR' | 'INTEGER' | 'DOUBLE';
  /** On every row (rank, the id): no definition levels. */
  required: boolean;
}

/** A row group placed in the file: its first byte's offset. */
export interface PlacedRowGroup {
  at: number;
  meta: RowGroupMeta;
}

const PHYSICAL = { VARCHAR: 'BYTE_ARRAY', INTEGER: 'INT32', DOUBLE: 'DOUBLE' } as const;

function schemaOf(columns: FooterColumn[]) {
  return [
    { name: 'schema', num_children: columns.length },
    ...columns.map((c) => ({
      name: c.name,
      type: PHYSICAL[c.type],
      repetition_type: c.required ? 'REQUIRED' : 'OPTIONAL',
      ...(c.type === 'VARCHAR' && { converted_type: 'UTF8', logical_type: { type: 'STRING' } }),
    })),
  ];
}

/** The footer's bytes: metadata, its length, PAR1. */
export function parquetFooter(columns: FooterColumn[], groups: PlacedRowGroup[]): Buffer {
  let rows = 0;
  const rowGroups = groups.map(({ at, meta }) => {
    rows += meta.rows;
    let size = 0;
    let compressed = 0;
    const chunks = meta.chunks.map((c, i) => {
      size += c.uncompressed;
      compressed += c.compressed;
      return {
        file_offset: BigInt(at + c.start),
        meta_data: {
          type: c.type,
          encodings: c.encodings,
          path_in_schema: [(columns[i] as FooterColumn).name],
          codec: c.codec,
          num_values: BigInt(c.values),
          total_uncompressed_size: BigInt(c.uncompressed),
          total_compressed_size: BigInt(c.compressed),
          data_page_offset: BigInt(at + c.data),
          dictionary_page_offset: c.dictionary >= 0 ? BigInt(at + c.dictionary) : undefined,
        },
      };
    });
    return {
      columns: chunks,
      total_byte_size: BigInt(size),
      num_rows: BigInt(meta.rows),
      file_offset: BigInt(at),
      total_compressed_size: BigInt(compressed),
    };
  });
  const w = new ByteWriter(4096 + groups.length * columns.length * 64);
  writeMetadata(w, {
    version: 1,
    schema: schemaOf(columns),
    num_rows: BigInt(rows),
    row_groups: rowGroups,
    created_by: 'personalize-batch',
  } as unknown as Parameters<typeof writeMetadata>[1]);
  return Buffer.concat([w.getBytes(), PARQUET_MAGIC]);
}
