import { usage } from '../errors.js';
import { alternatives, closest } from './suggest.js';

/** The batch recipe families: each fixes the shape of a batch-input line. */
export const FAMILIES = [
  'user-personalization',
  'popular-items',
  'personalized-ranking',
  'related-items',
  'item-affinity',
  'item-attribute-affinity',
] as const;
export type Family = (typeof FAMILIES)[number];

/** Which key a family's input line carries; also the dedupe and join key. */
export type KeyField = 'userId' | 'itemId' | 'itemAttributes';

export interface FamilyInfo {
  family: Family;
  key: KeyField;
  /** Batch segment job (CreateBatchSegmentJob) rather than batch inference. */
  segment: boolean;
  /** Schema file in `schemas/` for one input line. */
  inputSchema: string;
  /** Queries per input file for segment jobs (service quota, not adjustable). */
  maxRecordsPerFile: number;
}

const MAX_RECORDS = 50_000_000;

const INFO: Record<Family, FamilyInfo> = {
  'user-personalization': {
    family: 'user-personalization',
    key: 'userId',
    segment: false,
    inputSchema: 'input-user.schema.json',
    maxRecordsPerFile: MAX_RECORDS,
  },
  'popular-items': {
    family: 'popular-items',
    key: 'userId',
    segment: false,
    inputSchema: 'input-user.schema.json',
    maxRecordsPerFile: MAX_RECORDS,
  },
  'personalized-ranking': {
    family: 'personalized-ranking',
    key: 'userId',
    segment: false,
    inputSchema: 'input-ranking.schema.json',
    maxRecordsPerFile: MAX_RECORDS,
  },
  'related-items': {
    family: 'related-items',
    key: 'itemId',
    segment: false,
    inputSchema: 'input-item.schema.json',
    maxRecordsPerFile: MAX_RECORDS,
  },
  'item-affinity': {
    family: 'item-affinity',
    key: 'itemId',
    segment: true,
    inputSchema: 'input-item.schema.json',
    maxRecordsPerFile: 500,
  },
  'item-attribute-affinity': {
    family: 'item-attribute-affinity',
    key: 'itemAttributes',
    segment: true,
    inputSchema: 'input-item-attributes.schema.json',
    maxRecordsPerFile: 10,
  },
};

/** AWS recipe names (with or without the `arn:...:recipe/` prefix) to their family. */
const RECIPES: Record<string, Family> = {
  'aws-user-personalization': 'user-personalization',
  'aws-user-personalization-v2': 'user-personalization',
  'aws-hrnn': 'user-personalization',
  'aws-hrnn-metadata': 'user-personalization',
  'aws-hrnn-coldstart': 'user-personalization',
  'aws-popularity-count': 'popular-items',
  'aws-personalized-ranking': 'personalized-ranking',
  'aws-personalized-ranking-v2': 'personalized-ranking',
  'aws-sims': 'related-items',
  'aws-similar-items': 'related-items',
  'aws-item-affinity': 'item-affinity',
  'aws-item-attribute-affinity': 'item-attribute-affinity',
};

/** Recipes the service runs only in real time; batch jobs refuse them. */
const NO_BATCH = new Set(['aws-trending-now', 'aws-next-best-action']);

/**
 * Resolves a family name or an AWS recipe name (`aws-sims`,
 * `arn:aws:personalize:::recipe/aws-sims`) to its family, or throws PB_USAGE.
 */
export function resolveFamily(name: string): FamilyInfo {
  const bare = name
    .trim()
    .replace(/^arn:[^/]*recipe\//, '')
    .toLowerCase();
  if ((FAMILIES as readonly string[]).includes(bare)) return INFO[bare as Family];
  const mapped = RECIPES[bare];
  if (mapped) return INFO[mapped];
  if (NO_BATCH.has(bare) || bare === 'trending-now' || bare === 'next-best-action') {
    throw usage(
      `recipe "${name}" has no batch mode: Amazon Personalize serves Trending-Now and Next-Best-Action in real time only`,
    );
  }
  const near = closest(bare, [...FAMILIES, ...Object.keys(RECIPES)]);
  if (near.length > 0) throw usage(`unknown recipe "${name}"; did you mean ${alternatives(near)}?`);
  throw usage(
    `unknown recipe "${name}": use one of ${FAMILIES.join(', ')} or an AWS recipe name such as ${Object.keys(RECIPES).join(', ')}`,
  );
}

export function familyInfo(family: Family): FamilyInfo {
  return INFO[family];
}
