import {
  Exposure,
  type RankScores,
  REPORT_QUANTILES,
  REPORT_RANKS,
  type ReportJson,
} from '../../core/report.js';
import type { ReportCatalog } from './catalog.js';
import type { Counted } from './joined.js';
import type { ResolvedReportOptions } from './options.js';
import type { Tally } from './scan.js';
import type { SinceCounts } from './since.js';

const SAMPLE = 20;
/** The package and its version as report.json names them. */
export const REPORT_TOOL = 'personalize-batch 0.1.0 report';

export interface Gathered {
  o: ResolvedReportOptions;
  files: string[];
  tally: Tally;
  keys: Counted;
  items: Counted;
  catalog: ReportCatalog | undefined;
  input: { files: string[]; withoutKey: number; lines: number } | undefined;
  /** Awaited once the tables are read back: the digest worker finishes meanwhile. */
  quantiles: Promise<number[][]>;
  since: SinceCounts | undefined;
}

/** report.json from what the pass gathered: the two tables read back once each (a partition at a time past the budget). */
export async function assembleReport(g: Gathered): Promise<ReportJson> {
  const { tally } = g;
  const items = await itemFigures(g);
  const keys = await keyFigures(g);
  const quantiles = await g.quantiles;
  return {
    version: 1,
    tool: REPORT_TOOL,
    sources: g.files,
    keyField: tally.keyField,
    idField: tally.segment ? 'userId' : 'itemId',
    counts: {
      lines: tally.lines,
      blank: tally.blank,
      invalid: tally.invalid,
      okLines: tally.okLines,
      errorLines: tally.errorLines,
      keys: keys.keys,
      repeatedKeyLines: tally.keyedLines - keys.keys,
      keylessLines: tally.keylessLines,
      slots: tally.slots,
      itemsPerLine: tally.lengths.summary(),
      distinctItems: items.exposure.items,
      spilled: g.keys.spilled || g.items.spilled,
    },
    errors: errorMessages(tally),
    invalidSamples: tally.invalidSamples,
    missing: g.input
      ? {
          input: g.input.files,
          inputKeys: keys.inputKeys,
          missingKeys: keys.missingKeys,
          sample: keys.sample,
        }
      : null,
    catalog: items.catalog,
    concentration: items.concentration,
    scores: scoreFigures(tally, quantiles),
    since: sinceFigures(g),
    shards: tally.shards,
  };
}

/** Exposure and the catalog's figures, from the items' table. */
async function itemFigures(g: Gathered) {
  const { catalog } = g;
  const exposure = new Exposure();
  let recommended = 0;
  let notInCatalog = 0;
  const notInCatalogSample: string[] = [];
  await g.items.each((buf, s, e, count) => {
    exposure.add(count, () => idText(buf, s, e));
    if (!catalog) return;
    if (catalog.find(buf, s, e) >= 0) recommended++;
    else {
      notInCatalog++;
      if (notInCatalogSample.length < SAMPLE) notInCatalogSample.push(idText(buf, s, e));
    }
  });
  const top = exposure.topItems();
  if (catalog)
    for (const t of top) {
      const b = Buffer.from(JSON.stringify(t.id).slice(1, -1));
      const title = catalog.title(catalog.find(b, 0, b.length));
      if (title !== undefined) t.title = title;
    }
  const share = exposure.topShare(0.01);
  const catalogItems = catalog?.catalog.size ?? 0;
  const concentration: ReportJson['concentration'] = {
    top,
    top1PercentItems: share.items,
    top1PercentShare: share.share,
    gini: exposure.gini(),
    giniCatalog: catalog ? exposure.gini(Math.max(0, catalogItems - recommended)) : null,
  };
  const figures: ReportJson['catalog'] = catalog
    ? {
        file: catalog.file,
        items: catalogItems,
        recommended,
        coverage: catalogItems > 0 ? recommended / catalogItems : 0,
        notInCatalog,
        notInCatalogSample,
      }
    : null;
  return { exposure, concentration, catalog: figures };
}

/** Distinct keys, and the input's keys with no output line. */
async function keyFigures(g: Gathered) {
  // No input: every key was seen in the outputs (`b` is 0), so the count is the figure.
  if (!g.input && g.keys.distinct)
    return { keys: await g.keys.distinct(), missingKeys: 0, inputKeys: 0, sample: [] };
  let keys = 0;
  let missingKeys = 0;
  let inputKeys = 0;
  const sample: string[] = [];
  await g.keys.each((buf, s, e, out, input) => {
    if (input > 0) inputKeys++;
    if (out > 0) keys++;
    else if (input > 0) {
      missingKeys++;
      if (sample.length < SAMPLE) sample.push(idText(buf, s, e));
    }
  });
  return { keys, missingKeys, inputKeys, sample };
}

function sinceFigures(g: Gathered): ReportJson['since'] {
  if (!g.since) return null;
  const s = g.since;
  return {
    prev: g.o.since as string,
    k: g.o.k,
    prevKeys: s.prevKeys,
    newKeys: s.newKeys,
    goneKeys: s.goneKeys,
    changedKeys: s.changedKeys,
    unchangedKeys: s.unchangedKeys,
    meanJaccard: s.meanJaccard,
    jaccardHistogram: s.jaccard.bins(),
  };
}

function idText(buf: Buffer, s: number, e: number): string {
  const raw = buf.toString('utf8', s, e);
  // Canonical JSON string content: escapes only where JSON needs them.
  return raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
}

function errorMessages(t: Tally): { message: string; count: number }[] {
  const list = [...t.messages].map(([message, count]) => ({ message, count }));
  list.sort((a, b) => b.count - a.count || (a.message < b.message ? -1 : 1));
  const out = list.slice(0, 20);
  const rest = list.slice(20).reduce((n, m) => n + m.count, 0) + t.otherMessages;
  if (rest > 0) out.push({ message: '(other messages)', count: rest });
  return out;
}

function scoreFigures(t: Tally, quantiles: number[][]): ReportJson['scores'] {
  if (t.bins.every((b) => b.n === 0)) return null;
  const ranks: RankScores[] = [];
  REPORT_RANKS.forEach((rank, i) => {
    const b = t.bins[i];
    if (!b || b.n === 0) return;
    const q: Record<string, number> = {};
    REPORT_QUANTILES.forEach((p, j) => {
      q[`p${String(Math.round(p * 100)).padStart(2, '0')}`] = quantiles[i]?.[j] as number;
    });
    ranks.push({
      rank,
      count: b.n,
      min: b.min,
      max: b.max,
      mean: b.sum / b.n,
      quantiles: q,
      histogram: b.bins(),
    });
  });
  return {
    method:
      't-digest (npm tdigest 0.1.3, default compression 0.01) on a worker thread, fed centroids of neighbouring scores: from 2^-40 to 2^8 counted in buckets 1/4096 of an octave wide, others sorted in batches of 65,536; min, max, mean and bins exact',
    ranks,
  };
}
