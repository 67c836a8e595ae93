import { hashBytes, partitionOf } from '../byteset.js';
import type { OutLineParser } from './line-parser.js';
import { KEY_USER } from './line-shapes.js';
import { decodeString } from './strings.js';

/**
 * A users join on disk reads the sources once per group of users (see
 * stages/export/users-spill.ts): each pass converts the lines of its group's
 * users only. The first pass parses and checks every line (blank and invalid
 * lines are counted and recorded there, in file order); the later ones skip
 * the other groups' lines by their key's bytes alone, where the line starts
 * as the service writes it, before any parse.
 */
export interface UserGroupPass {
  /** The group of each fine partition of the user key's hash (partitionOf over groupOf.length). */
  groupOf: readonly number[];
  group: number;
  /** The first pass: every line parsed, counted and checked. */
  first: boolean;
  /**
   * Later passes may skip a line by its key's bytes: false when the first
   * pass found a line whose key scan and parse disagree (a repeated
   * `userId`, say), so that every line is parsed.
   */
  scan: boolean;
}

/** `{"input":{"userId":"`: where the service's lines hold the user key. */
const PREFIX = Buffer.from('{"input":{"userId":"');
const QUOTE = 34;
const BACKSLASH = 92;

/** The group of line [p, e) by a scan of its key's bytes, or -1 when the line does not start as the service writes it. */
export function scannedGroup(pass: UserGroupPass, piece: Uint8Array, p: number, e: number): number {
  const n = PREFIX.length;
  if (e - p <= n) return -1;
  for (let k = 0; k < n; k++) if (piece[p + k] !== PREFIX[k]) return -1;
  const s = p + n;
  let q = s;
  while (q < e && piece[q] !== QUOTE && piece[q] !== BACKSLASH) q++;
  if (q >= e || piece[q] !== QUOTE) return -1;
  return groupOfHash(pass, hashBytes(piece, s, q));
}

/**
 * The group of the line the parser just read (exported or an error line):
 * by its user key's bytes as the users table holds them; 0 without one.
 */
export function parsedGroup(pass: UserGroupPass, parser: OutLineParser, piece: Uint8Array): number {
  if (parser.keyField !== KEY_USER) return 0;
  if (parser.keyEscaped) {
    const key = Buffer.from(decodeString(piece, parser.keyStart, parser.keyEnd));
    return groupOfHash(pass, hashBytes(key, 0, key.length));
  }
  return groupOfHash(pass, hashBytes(piece, parser.keyStart, parser.keyEnd));
}

function groupOfHash(pass: UserGroupPass, h: number): number {
  return pass.groupOf[partitionOf(h, pass.groupOf.length)] as number;
}
