/**
 * List pagination: a page of jobs, newest first, and the token that continues it, good only for
 * the listing (job type and solution version) that gave it.
 */
import type { Job, JobKind } from './jobs.js';

/** One page of a List call, or undefined when nextToken is not one this listing returned. */
export function listPage(
  all: readonly Job[],
  kind: JobKind,
  filter: string | undefined,
  nextToken: string | undefined,
  max: number,
): { page: Job[]; nextToken: string | undefined } | undefined {
  let before = Number.POSITIVE_INFINITY;
  if (nextToken !== undefined) {
    const t = decodeToken(nextToken);
    if (!t || t.k !== kind || t.f !== (filter ?? null)) return undefined;
    before = t.s;
  }
  // Newest first; the token holds the position of the last job returned, so
  // jobs created between pages never shift a page.
  const matching = all
    .filter(
      (j) =>
        j.kind === kind && j.seq < before && (filter === undefined || j.spec.solutionVersionArn === filter),
    )
    .reverse();
  const page = matching.slice(0, max);
  const more = matching.length > max;
  const last = page[page.length - 1];
  return {
    page,
    nextToken: more && last ? encodeToken({ k: kind, s: last.seq, f: filter ?? null }) : undefined,
  };
}

interface Token {
  k: JobKind;
  s: number;
  f: string | null;
}

function encodeToken(t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(text: string): Token | undefined {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Token;
    if (typeof t?.s === 'number' && typeof t.k === 'string' && (t.f === null || typeof t.f === 'string'))
      return t;
  } catch {
    // not a token of ours
  }
  return undefined;
}
