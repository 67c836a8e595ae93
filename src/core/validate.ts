import { type ErrorObject, validator } from '../schemas.js';
import { checkAttributeQuery } from './attributes.js';
import { NULL_MARKERS } from './cell-values.js';
import type { FamilyInfo } from './families.js';

/** Service limits that validation enforces. Defaults are the documented quotas. */
export interface Limits {
  /** Items in one personalized-ranking itemList. The batch maximum is undocumented; 500 is the real-time one. */
  maxItemList: number;
  /** Records in one input file (50 million; 500 for Item-Affinity and 10 for Item-Attribute-Affinity). */
  maxRecordsPerFile?: number;
  /** Bytes in all the input of one job (1 GB). */
  maxBytesPerJob: number;
}

export const DEFAULT_LIMITS: Limits = { maxItemList: 500, maxBytesPerJob: 1_000_000_000 };

export interface Problem {
  field: string;
  reason: string;
}

/**
 * Rules of this tool on top of the service's, for the records it writes and
 * checks (the service itself takes both): no id that looks like an e-mail
 * address unless allowed, and no U+FFFD anywhere.
 */
export interface RecordPolicy {
  /** Ids that look like e-mail addresses pass. Default false. */
  allowEmailIds?: boolean;
  /** Appended to the e-mail reason: what to do instead. */
  emailHint?: string;
}

/** local@domain.tld with no spaces: what an e-mail column holds. */
export function looksLikeEmail(s: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[A-Za-z]{2,}$/.test(s.trim());
}

const REPLACEMENT = '\uFFFD';

/**
 * Checks one parsed input line against its family's schema and the per-record
 * service limits (and, given a policy, this tool's rules). Returns the first
 * problem, or null; never throws.
 */
export function checkRecord(
  value: unknown,
  family: FamilyInfo,
  limits: Limits,
  policy?: RecordPolicy,
): Problem | null {
  const validate = validator(family.inputSchema);
  if (!validate(value)) return describe((validate.errors ?? [])[0], family);
  if (policy) {
    const p = checkPolicy(value as Record<string, unknown>, policy);
    if (p) return p;
  }
  const rec = value as { itemList?: unknown[]; itemAttributes?: string };
  if (rec.itemList && rec.itemList.length > limits.maxItemList) {
    return {
      field: 'itemList',
      reason: `${rec.itemList.length} items exceed the limit of ${limits.maxItemList} (--max-item-list)`,
    };
  }
  if (rec.itemAttributes !== undefined) {
    const bad = checkAttributeQuery(rec.itemAttributes);
    if (bad) return { field: 'itemAttributes', reason: bad };
  }
  return null;
}

function describe(err: ErrorObject | undefined, family: FamilyInfo): Problem {
  if (!err) return { field: '(record)', reason: 'does not match the schema' };
  const path = err.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const field = path === '' ? '(record)' : path;
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return { field: String(p.missingProperty), reason: `missing (a ${family.family} line needs it)` };
    case 'additionalProperties':
      return {
        field: String(p.additionalProperty),
        reason: `not a field of a ${family.family} line (allowed: ${allowed(family)})`,
      };
    case 'maxLength':
      return { field, reason: `longer than ${p.limit} characters (service limit)` };
    case 'minLength':
      return { field, reason: 'empty' };
    case 'minItems':
      return { field, reason: 'empty list' };
    case 'type':
      return { field, reason: `must be ${p.type === 'object' || p.type === 'array' ? 'an' : 'a'} ${p.type}` };
    case 'pattern':
      if (err.propertyName !== undefined) {
        return {
          field: `${field}.${err.propertyName}`,
          reason: 'filter parameter names are letters, digits and _ (without the $)',
        };
      }
      if (field.startsWith('filterValues.')) {
        return {
          field,
          reason: 'must be values in escaped double quotes joined by commas, like "\\"a\\",\\"b\\""',
        };
      }
      return { field, reason: `does not match ${p.pattern}` };
    case 'propertyNames':
      return { field, reason: 'filter parameter names are letters, digits and _ (without the $)' };
    default:
      return { field, reason: err.message ?? 'does not match the schema' };
  }
}

function allowed(family: FamilyInfo): string {
  switch (family.family) {
    case 'personalized-ranking':
      return 'userId, itemList, filterValues';
    case 'item-attribute-affinity':
      return 'itemAttributes, filterValues';
    default:
      return `${family.key}, filterValues`;
  }
}

function checkPolicy(rec: Record<string, unknown>, policy: RecordPolicy): Problem | null {
  for (const key of ['userId', 'itemId'] as const) {
    const v = rec[key];
    if (typeof v !== 'string') continue;
    if (v.includes(REPLACEMENT)) return replaced(key);
    const damage = idDamage(v);
    if (damage) return { field: key, reason: damage };
    if (!policy.allowEmailIds && looksLikeEmail(v)) {
      return {
        field: key,
        reason: `looks like an e-mail address${policy.emailHint ? `; ${policy.emailHint}` : ''}`,
      };
    }
  }
  if (Array.isArray(rec.itemList)) {
    for (const x of rec.itemList) {
      if (typeof x !== 'string') continue;
      if (x.includes(REPLACEMENT)) return replaced('itemList');
      const damage = idDamage(x);
      if (damage) return { field: 'itemList', reason: `${JSON.stringify(x)} ${damage}` };
    }
  }
  if (typeof rec.itemAttributes === 'string' && rec.itemAttributes.includes(REPLACEMENT))
    return replaced('itemAttributes');
  const fv = rec.filterValues;
  if (fv && typeof fv === 'object') {
    for (const [k, v] of Object.entries(fv))
      if (typeof v === 'string' && v.includes(REPLACEMENT)) return replaced(`filterValues.${k}`);
  }
  return null;
}

/**
 * What a spreadsheet or a copy did to an id, when it shows: a line break or
 * other control character (a multi-line cell picked as the id), an
 * invisible character, a number shortened to scientific notation (its
 * digits are gone), an error value, the ' text marker. The service would
 * take any of them and match no user.
 */
export function idDamage(id: string): string | null {
  const control = /\p{Cc}/u.exec(id);
  if (control) {
    const c = control[0];
    return c === '\n' || c === '\r'
      ? 'contains a line break (a multi-line cell?); pick the id column with --column'
      : `contains the control character U+${hex(c)}`;
  }
  const invisible = /\p{Cf}/u.exec(id);
  if (invisible) return `contains an invisible character (U+${hex(invisible[0])}); remove it from the source`;
  const space = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/.exec(id);
  if (space)
    return `contains a space that is not one (U+${hex(space[0])}, a no-break space or the like); replace it in the source`;
  if (NULL_MARKERS.has(id))
    return 'is a null marker from a database, pandas or a spreadsheet (NULL, \\N, None, NaN, N/A), not an id: the row has no id';
  if (/^-?\d+\.0+$/.test(id))
    return `looks like a whole number written as a decimal (as pandas writes an id column with gaps): the id is probably ${JSON.stringify(id.replace(/\.0+$/, ''))}; write the ids as text`;
  if (/^-?\d+(?:[.,]\d+)?E[+-]?\d+$/i.test(id))
    return 'looks like a number a spreadsheet shortened to scientific notation, so its digits are lost; format the column as text in the spreadsheet and export again';
  if (/^#(?:N\/A|REF!|VALUE!|NAME\?|DIV\/0!|NULL!|NUM!|SPILL!|CALC!|GETTING_DATA)$/i.test(id))
    return 'is a spreadsheet error value, not an id';
  if (/^'[\d=+\-@]/.test(id))
    return `starts with ', the text marker a spreadsheet adds: the id is probably ${JSON.stringify(id.slice(1))}; remove the ' in the source`;
  return null;
}

// Beside the cell rules, so the fast path's worker loads it without the schemas.
export { NULL_MARKERS } from './cell-values.js';

/**
 * A Popularity-Count line in the shape an older AWS example shows, `{}` or
 * `{"itemId": "105"}`, as the compact line to write; null for anything else.
 * prepare passes such lines through and validate lets them pass, each with one warning.
 */
export function legacyPopularityLine(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const keys = Object.keys(v);
  if (keys.length === 0) return '{}';
  if (keys.length !== 1 || keys[0] !== 'itemId') return null;
  const id = (v as Record<string, unknown>).itemId;
  if (typeof id !== 'string' || id.trim() === '' || id.length > 256 || id.includes(REPLACEMENT)) return null;
  return `{"itemId":${JSON.stringify(id.trim())}}`;
}

function hex(c: string): string {
  return (c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0');
}

function replaced(field: string): Problem {
  return {
    field,
    reason:
      'contains U+FFFD, the character that stands in for bytes lost in decoding: the text was read with the wrong encoding before it got here; go back to the original file (prepare reads it with --encoding)',
  };
}
