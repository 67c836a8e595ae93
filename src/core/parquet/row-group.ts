import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import type { Layout } from '../out/convert-config.js';
import type { OutLineParser } from '../out/line-parser.js';
import { SPAN_ESCAPED } from '../out/line-shapes.js';
import { decodeString } from '../out/strings.js';
import { Bytes, bitWidth, Levels, LineValues, packIndices, parseNumber } from './encode.js';

/**
 * One row group of csv-long's columns (key, rank, id, then score and
 * score_text, reason, theme as the layout has them) built from the parser's
 * spans line by line, then written as column chunks: a dictionary page and
 * a data page (v1) each. Each conversion worker builds the row group of its
 * piece; the main thread places them in order and writes the footer
 * (footer.ts). Values are csv-long's cells without CSV quoting or the
 * formula guard: strings decoded, scores as printed and as doubles.
 */

/** A page compressor and its Parquet codec name. */
export interface PageCodec {
  name: 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';
  compress(b: Uint8Array): Uint8Array;
}

export type ChunkType = 'BYTE_ARRAY' | 'INT32' | 'DOUBLE';

/** A column chunk as the footer describes it; offsets from the row group's first byte. */
export interface ChunkMeta {
  type: ChunkType;
  codec: PageCodec['name'];
  encodings: string[];
  values: number;
  uncompressed: number;
  compressed: number;
  start: number;
  dictionary: number;
  data: number;
}

export interface RowGroupMeta {
  rows: number;
  chunks: ChunkMeta[];
}

const NONE: PageCodec = { name: 'UNCOMPRESSED', compress: (b) => b };
const PIPE = 124;

/** Builds the row group of one piece; reset by finish(). */
export class RowGroupBuilder {
  private rows = 0;
  private key = new LineValues();
  private theme = new LineValues();
  private rankIdx = new Int32Array(1 << 16);
  private maxRank = 0;
  private ids = new Bytes(1 << 20);
  private scores = new Bytes(1 << 19);
  private texts = new Bytes(1 << 19);
  private scoreLevels = new Levels();
  private reasons = new Bytes(1 << 12);
  private reasonLevels = new Levels();
  private readonly chunks = new ChunkWriter();
  private src: Buffer | undefined;
  private srcView: DataView = new DataView(new ArrayBuffer(0));

  constructor(
    private readonly layout: Layout,
    private readonly codec: PageCodec,
  ) {}

  /** The parsed line's first `count` ids as rows. */
  addLine(p: OutLineParser, src: Buffer, count: number): void {
    const layout = this.layout;
    if (p.keyField === 0) this.key.none(count);
    else if (p.keyEscaped) this.decoded(this.key, src, p.keyStart, p.keyEnd, count);
    else this.key.add(src, p.keyStart, p.keyEnd, count);
    if (layout.theme) {
      if (p.themeStart < 0) this.theme.none(count);
      else if (p.themeEscaped) this.decoded(this.theme, src, p.themeStart, p.themeEnd, count);
      else this.theme.add(src, p.themeStart, p.themeEnd, count);
    }
    this.ranks(count);
    if (count > 0) plainStrings(this.ids, src, this.viewOf(src), p.ids.data, count, true);
    if (layout.score) this.addScores(p, src, count);
    if (layout.reason) this.addReasons(p, src, count);
    this.rows += count;
  }

  /** The piece's DataView, made once a piece. */
  private viewOf(src: Buffer): DataView {
    if (src !== this.src) {
      this.src = src;
      this.srcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    return this.srcView;
  }

  private decoded(col: LineValues, src: Buffer, s: number, e: number, count: number): void {
    const b = Buffer.from(decodeString(src, s, e));
    col.add(b, 0, b.length, count);
  }

  private ranks(count: number): void {
    if (this.rows + count > this.rankIdx.length) {
      const r = new Int32Array(2 * (this.rows + count));
      r.set(this.rankIdx.subarray(0, this.rows));
      this.rankIdx = r;
    }
    const idx = this.rankIdx;
    const base = this.rows;
    for (let i = 0; i < count; i++) idx[base + i] = i;
    if (count > this.maxRank) this.maxRank = count;
  }

  private addScores(p: OutLineParser, src: Buffer, count: number): void {
    const sc = p.scores;
    const n = sc ? Math.min(sc.n, count) : 0;
    const data = sc ? sc.data : undefined;
    const levels = this.scoreLevels;
    if (n > 0) {
      const d = data as Int32Array;
      const out = this.scores;
      out.ensure(8 * n);
      const view = out.view;
      let at = out.at;
      let run = 0;
      for (let i = 0; i < n; i++) {
        const s = d[i * 3] as number;
        if (s < 0) {
          levels.add(1, run);
          run = 0;
          levels.add(0, 1);
          continue;
        }
        run++;
        view.setFloat64(at, parseNumber(src, s, d[i * 3 + 1] as number), true);
        at += 8;
      }
      levels.add(1, run);
      out.at = at;
      plainStrings(this.texts, src, this.viewOf(src), d, n, false);
    }
    levels.add(0, count - n);
  }

  /** csv-long's reason cell: the list joined by |, NULL without one. */
  private addReasons(p: OutLineParser, src: Buffer, count: number): void {
    const r = p.reasons;
    const n = r ? Math.min(r.n, count) : 0;
    for (let i = 0; i < n; i++) {
      const s = (r as { data: Int32Array }).data[i * 3] as number;
      if (s < 0) {
        this.reasonLevels.add(0, 1);
        continue;
      }
      const list = JSON.parse(
        src.toString('utf8', s, (r as { data: Int32Array }).data[i * 3 + 1]),
      ) as string[];
      const b = Buffer.from(list.join(String.fromCharCode(PIPE)));
      this.reasons.value(b, 0, b.length);
      this.reasonLevels.add(1, 1);
    }
    this.reasonLevels.add(0, count - n);
  }

  /**
   * The row group's bytes (in a buffer from `alloc`; none without rows) and
   * chunks; the builder starts afresh.
   */
  finish(alloc: (size: number) => Buffer): { bytes: Buffer; meta: RowGroupMeta } {
    const rows = this.rows;
    const meta: RowGroupMeta = { rows, chunks: [] };
    if (rows === 0) return { bytes: alloc(0), meta };
    const w = this.chunks;
    w.begin(rows);
    meta.chunks.push(w.lineValues(this.key, this.codec));
    const max = this.maxRank;
    const dict = w.dict();
    for (let r = 1; r <= max; r++) dict.u32(r);
    const body = w.body(undefined);
    packIndices(body, this.rankIdx, rows, bitWidth(max));
    meta.chunks.push(w.chunk('INT32', max, 'RLE_DICTIONARY', this.codec));
    w.body(undefined).bytes(this.ids.buf, 0, this.ids.at);
    meta.chunks.push(w.chunk('BYTE_ARRAY', -1, 'PLAIN', this.codec));
    if (this.layout.score) {
      // Doubles of printed scores are noise to a compressor: stored as they are.
      w.body(this.scoreLevels).bytes(this.scores.buf, 0, this.scores.at);
      meta.chunks.push(w.chunk('DOUBLE', -1, 'PLAIN', NONE));
      w.body(this.scoreLevels).bytes(this.texts.buf, 0, this.texts.at);
      meta.chunks.push(w.chunk('BYTE_ARRAY', -1, 'PLAIN', this.codec));
    }
    if (this.layout.reason) {
      w.body(this.reasonLevels).bytes(this.reasons.buf, 0, this.reasons.at);
      meta.chunks.push(w.chunk('BYTE_ARRAY', -1, 'PLAIN', this.codec));
    }
    if (this.layout.theme) meta.chunks.push(w.lineValues(this.theme, this.codec));
    const bytes = alloc(w.out.at).subarray(0, w.out.at);
    bytes.set(w.out.written(), 0);
    this.reset();
    return { bytes, meta };
  }

  private reset(): void {
    this.rows = 0;
    this.key.reset();
    this.theme.reset();
    this.maxRank = 0;
    this.ids.at = 0;
    this.scores.at = 0;
    this.texts.at = 0;
    this.scoreLevels.reset();
    this.reasons.at = 0;
    this.reasonLevels.reset();
  }
}

/**
 * The first n spans as PLAIN strings (length, bytes), nulls (start -1)
 * skipped; decoded where `escapes` and the span is flagged. One bound for
 * the line (a decoded string is never longer than its JSON text), and the
 * bytes copied a 4-byte word at a time, as csv-long's are: a byte loop
 * over each short id took a quarter of the row group's time.
 */
function plainStrings(
  out: Bytes,
  src: Buffer,
  sv: DataView,
  d: Int32Array,
  n: number,
  escapes: boolean,
): void {
  let first = 0;
  while (first < n && (d[first * 3] as number) < 0) first++;
  if (first === n) return;
  let last = n - 1;
  while ((d[last * 3] as number) < 0) last--;
  out.ensure(4 * n + (d[last * 3 + 1] as number) - (d[first * 3] as number) + 4);
  const b = out.buf;
  const dv = out.view;
  const limit = sv.byteLength - 3;
  let at = out.at;
  for (let i = first; i <= last; i++) {
    const s = d[i * 3] as number;
    const e = d[i * 3 + 1] as number;
    if (s < 0) continue;
    if (escapes && ((d[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0) {
      const v = Buffer.from(decodeString(src, s, e));
      dv.setUint32(at, v.length, true);
      at += 4;
      for (let k = 0; k < v.length; k++) b[at++] = v[k] as number;
      continue;
    }
    dv.setUint32(at, e - s, true);
    at += 4;
    if (e <= limit) {
      // Words past e land in the slack ensured above, and the next value overwrites them.
      for (let k = s; k < e; k += 4) dv.setUint32(at + k - s, sv.getUint32(k, true), true);
      at += e - s;
    } else for (let k = s; k < e; k++) b[at++] = src[k] as number;
  }
  out.at = at;
}

/**
 * Writes a row group's column chunks one after the other into one buffer,
 * each page's body assembled in a second one (both kept between pieces).
 */
class ChunkWriter {
  readonly out = new Bytes(1 << 20);
  private readonly dictBytes = new Bytes(1 << 12);
  private readonly bodyBytes = new Bytes(1 << 20);
  private rows = 0;
  private hasDict = false;

  begin(rows: number): void {
    this.out.at = 0;
    this.rows = rows;
  }

  /** The next chunk's dictionary page values (PLAIN), to fill. */
  dict(): Bytes {
    this.hasDict = true;
    this.dictBytes.at = 0;
    return this.dictBytes;
  }

  /** The next chunk's data page body, to fill after the definition levels (of an optional column). */
  body(levels: Levels | undefined): Bytes {
    this.bodyBytes.at = 0;
    levels?.writeTo(this.bodyBytes);
    return this.bodyBytes;
  }

  lineValues(col: LineValues, codec: PageCodec): ChunkMeta {
    const d = this.dict();
    d.bytes(col.dict.buf, 0, col.dict.at);
    col.writeIndices(this.body(col.levels));
    return this.chunk('BYTE_ARRAY', col.entries, 'RLE_DICTIONARY', codec);
  }

  /** The chunk of the dictionary (if dict() was called) and body given: its pages written to out. */
  chunk(
    type: ChunkType,
    dictValues: number,
    encoding: 'PLAIN' | 'RLE_DICTIONARY',
    codec: PageCodec,
  ): ChunkMeta {
    const start = this.out.at;
    let uncompressed = 0;
    let dictionary = -1;
    const withDict = this.hasDict;
    if (withDict) {
      dictionary = start;
      uncompressed += this.page(this.dictBytes.written(), codec, {
        type: 'DICTIONARY_PAGE',
        dictionary_page_header: { num_values: dictValues, encoding: 'PLAIN' },
      });
      this.hasDict = false;
    }
    const data = this.out.at;
    uncompressed += this.page(this.bodyBytes.written(), codec, {
      type: 'DATA_PAGE',
      data_page_header: {
        num_values: this.rows,
        encoding,
        definition_level_encoding: 'RLE',
        repetition_level_encoding: 'RLE',
      },
    });
    return {
      type,
      codec: codec.name,
      encodings: withDict ? ['PLAIN', 'RLE', 'RLE_DICTIONARY'] : ['PLAIN', 'RLE'],
      values: this.rows,
      uncompressed,
      compressed: this.out.at - start,
      start,
      dictionary,
      data,
    };
  }

  /** A page: its header (Thrift, by hyparquet-writer), then its compressed body. Returns its uncompressed size. */
  private page(body: Uint8Array, codec: PageCodec, header: Record<string, unknown>): number {
    const packed = codec.compress(body);
    const h = new ByteWriter(64);
    writePageHeader(h, {
      ...header,
      uncompressed_page_size: body.length,
      compressed_page_size: packed.length,
    } as unknown as Parameters<typeof writePageHeader>[1]);
    const head = h.getBytes();
    this.out.bytes(head, 0, head.length);
    this.out.bytes(packed, 0, packed.length);
    return head.length + body.length;
  }
}
