import type { FamilyInfo } from '../core/families.js';
import { checkRecord, DEFAULT_LIMITS } from '../core/validate.js';
import { prng } from '../sample.js';
import { type Catalog, generatedUserId } from './catalog.js';

/**
 * One batch-input record in, one output line out, with no I/O: the emulator's
 * stand-in for a model. Everything is a function of the record, the catalog
 * and the job's settings, so the same input always gives the same output.
 * Shapes follow the service's output files (reference §2, §3).
 */

/** Where the segment users go: the layout real runs wrote, or the one the docs show. */
export type SegmentLayout = 'observed' | 'documented';

export interface RecommenderOptions {
  family: FamilyInfo;
  catalog: Catalog;
  /** Size of the generated user population segment jobs draw from. */
  users: number;
  /** Items (or users, for segments) per line. */
  numResults: number;
  /** THEME_GENERATION: the catalog's item-name column (Similar-Items only). */
  themeNames?: readonly string[];
  segmentLayout: SegmentLayout;
}

export interface OutputLine {
  /** The JSON text of the line, without the newline. */
  text: string;
  /** The record was rejected: an error line with output null. */
  error: boolean;
}

/** Builds the per-record function for one job. */
export function makeRecommender(o: RecommenderOptions): (record: unknown) => OutputLine {
  const n = o.catalog.ids.length;
  // Popularity-Count gives everyone the same list: the catalog in a fixed "popularity" order.
  const popular =
    o.family.family === 'popular-items' ? sampleIndices(prng(hash('popularity')), n, n, -1) : [];
  return (record) => {
    const echo = JSON.stringify(record);
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      return errorLine(echo, 'the record must be a JSON object');
    }
    const problem = checkRecord(record, o.family, DEFAULT_LIMITS);
    if (problem) return errorLine(echo, `${problem.field}: ${problem.reason}`);
    const r = record as { userId?: string; itemId?: string; itemList?: string[]; itemAttributes?: string };
    switch (o.family.family) {
      case 'user-personalization': {
        const rand = prng(hash(`user\u0000${r.userId}`));
        const picks = sampleIndices(rand, n, o.numResults, -1);
        const scores = relativeScores(rand, picks.length, n);
        return ok(echo, `{"recommendedItems":${ids(o.catalog, picks)},"scores":[${scores.join(',')}]}`);
      }
      case 'popular-items':
        // No scores for Popularity-Count, and the docs' example has no error key (reference §2).
        return {
          text: `{"input":${echo},"output":{"recommendedItems":${ids(o.catalog, popular.slice(0, o.numResults))}}}`,
          error: false,
        };
      case 'related-items': {
        const self = o.catalog.indexOf(r.itemId as string);
        const rand = prng(hash(`item\u0000${r.itemId}`));
        const picks = sampleIndices(rand, n, o.numResults, self);
        if (o.themeNames) return ok(echo, themed(rand, picks, o.catalog, o.themeNames, self));
        // SIMS and Similar-Items have no scores; the docs' example has no error key.
        return {
          text: `{"input":${echo},"output":{"recommendedItems":${ids(o.catalog, picks)}}}`,
          error: false,
        };
      }
      case 'personalized-ranking':
        return ok(echo, ranked(o.catalog, r.userId as string, r.itemList as string[]));
      case 'item-affinity':
      case 'item-attribute-affinity': {
        const query = r.itemId ?? (r.itemAttributes as string);
        const rand = prng(hash(`${o.family.family}\u0000${query}`));
        const picks = sampleIndices(rand, o.users, o.numResults, -1);
        const users = JSON.stringify(picks.map(generatedUserId));
        if (o.segmentLayout === 'observed') return ok(echo, `{"usersList":${users}}`);
        // The documented layout: recommendedUsers, no error key, and for
        // attribute queries the query at the top level with no input wrapper.
        const head =
          r.itemAttributes !== undefined
            ? `"itemAttributes":${JSON.stringify(r.itemAttributes)}`
            : `"input":${echo}`;
        return { text: `{${head},"output":{"recommendedUsers":${users}}}`, error: false };
      }
    }
  };
}

function ok(echo: string, output: string): OutputLine {
  return { text: `{"input":${echo},"output":${output},"error":null}`, error: false };
}

function errorLine(echo: string, reason: string): OutputLine {
  return { text: `{"input":${echo},"output":null,"error":${JSON.stringify(reason)}}`, error: true };
}

function ids(catalog: Catalog, picks: readonly number[]): string {
  return JSON.stringify(picks.map((i) => catalog.ids[i]));
}

/** FNV-1a over UTF-16 code units: a stable 32-bit seed from a key. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * k distinct indices in [0, n) other than `exclude`, in random order.
 * Rejection sampling while k is small against n; a partial Fisher-Yates
 * over all indices otherwise.
 */
export function sampleIndices(rand: () => number, n: number, k: number, exclude: number): number[] {
  const avail = exclude >= 0 && exclude < n ? n - 1 : n;
  const want = Math.min(k, avail);
  if (want * 4 < n) {
    const seen = new Set<number>();
    const out: number[] = [];
    while (out.length < want) {
      const i = Math.floor(rand() * n);
      if (i === exclude || seen.has(i)) continue;
      seen.add(i);
      out.push(i);
    }
    return out;
  }
  const all: number[] = [];
  for (let i = 0; i < n; i++) if (i !== exclude) all.push(i);
  for (let i = 0; i < want; i++) {
    const j = i + Math.floor(rand() * (all.length - i));
    const t = all[i] as number;
    all[i] = all[j] as number;
    all[j] = t;
  }
  return all.slice(0, want);
}

/**
 * Scores for k recommendations out of a catalog of n, in descending order:
 * relative scores sum to 1 over the whole catalog, so the top k hold only
 * part of it (all of it when k covers the catalog).
 */
function relativeScores(rand: () => number, k: number, n: number): string[] {
  if (k === 0) return [];
  const mass = k >= n ? 1 : Math.min(0.9, (2 * k) / n);
  const w: number[] = [];
  for (let j = 0; j < k; j++) w.push((1 - j / (k + 1)) ** 2 * (0.75 + 0.5 * rand()));
  w.sort((a, b) => b - a);
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => formatScore((x / total) * mass));
}

/**
 * A number the way the service writes scores (Java's Double.toString):
 * E-notation below 0.001, such as `3.773E-4`, so clients that parse scores
 * by hand meet the real format. Four significant digits.
 */
export function formatScore(v: number): string {
  if (v === 0) return '0.0';
  const r = Number(v.toPrecision(4));
  if (Math.abs(r) >= 1e-3) return String(r);
  return r.toExponential().replace('e', 'E').replace('E+', 'E');
}

/**
 * PERSONALIZED_RANKING: the itemList re-ordered. Items in the catalog get
 * scores that sum to 1 and come first; items the model does not know score
 * 0 and keep their input order at the end (reference §2: untrained items
 * score 0).
 */
function ranked(catalog: Catalog, userId: string, items: readonly string[]): string {
  const known: { id: string; w: number }[] = [];
  const unknown: string[] = [];
  for (const id of items) {
    if (catalog.indexOf(id) < 0) unknown.push(id);
    else known.push({ id, w: Math.exp(3 * prng(hash(`rank\u0000${userId}\u0000${id}`))()) });
  }
  known.sort((a, b) => b.w - a.w || (a.id < b.id ? -1 : 1));
  const total = known.reduce((a, b) => a + b.w, 0);
  const order = [...known.map((k) => k.id), ...unknown];
  const scores = [...known.map((k) => formatScore(k.w / total)), ...unknown.map(() => '0.0')];
  return `{"recommendedItems":${JSON.stringify(order)},"scores":[${scores.join(',')}]}`;
}

const THEME_WORDS = [
  'Timeless',
  'Weekend',
  'Hidden-gem',
  'Crowd-favourite',
  'Fresh',
  'Classic',
  'Bold',
  'Easygoing',
];

/**
 * THEME_GENERATION: a theme named after the query item (from the item-name
 * column) and a relevance score per item, roughly -0.2 to 0.6 as the docs
 * describe, in descending order.
 */
function themed(
  rand: () => number,
  picks: readonly number[],
  catalog: Catalog,
  names: readonly string[],
  self: number,
): string {
  const word = THEME_WORDS[Math.floor(rand() * THEME_WORDS.length)] as string;
  const name = self >= 0 ? names[self] : undefined;
  const theme = name ? `${word} picks for fans of ${name}` : `${word} picks`;
  const rel = picks.map(() => Math.round((-0.2 + 0.8 * rand()) * 1000) / 1000).sort((a, b) => b - a);
  return `{"recommendedItems":${ids(catalog, picks)},"theme":${JSON.stringify(theme)},"itemsThemeRelevanceScores":${JSON.stringify(rel)}}`;
}
