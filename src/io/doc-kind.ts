import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type DocKind, docKindOf, type WantedKind, wrongKind } from '../core/doc-kind.js';
import { PbError } from '../errors.js';
import { readJsonDoc } from './doc.js';
import { openSource, peekStream } from './input.js';
import { defaultS3Client, isS3Uri, listS3 } from './s3.js';

/** Bytes read to tell a file's kind: a manifest's or an output line's first keys come far sooner. */
const PEEK_BYTES = 64 * 1024;

/** Names the tool writes next to batch input, skipped when a folder or prefix is read as input. */
const OWN_DOCS = new Set(['manifest.json']);

/**
 * The kind of a regular file or an S3 object, from its first 64 KiB (gunzipped). Undefined for
 * stdin and named pipes: reading them here would take bytes the command needs (see peekStream in
 * input.ts).
 */
export async function peekDocKind(name: string): Promise<DocKind | undefined> {
  const head = await peekHead(name);
  return head === undefined ? undefined : docKindOf(head);
}

/** The first 64 KiB (gunzipped) of a regular file or an S3 object; undefined for stdin, pipes and folders. */
export async function peekHead(name: string): Promise<Buffer | undefined> {
  if (name === '-') return undefined;
  if (isS3Uri(name) && name.endsWith('/')) return undefined;
  if (!isS3Uri(name)) {
    try {
      if (!(await stat(name)).isFile()) return undefined;
    } catch {
      // Missing or unreadable: the command's own open says so, with its own wording.
      return undefined;
    }
  }
  const { head } = await peekStream(openSource(name), PEEK_BYTES, true);
  return head;
}

/** Refuses a named file whose content is not what the command reads (see wrongKind). */
export async function checkDocKind(name: string, want: WantedKind): Promise<DocKind | undefined> {
  const kind = await peekDocKind(name);
  if (kind === undefined) return undefined;
  const err = wrongKind(kind, want, name);
  if (err) throw err;
  return kind;
}

/** The files one job would read: a file, a folder or prefix, or one shard of a manifest. */
export interface JobInput {
  /** What to name in a message about the whole: the source as given, or the shard's folder. */
  job: string;
  /** A file or stdin named as it is, a folder or prefix listed, or a manifest's shard. */
  from: 'file' | 'folder' | 'shard';
  files: string[];
}

/**
 * Batch-input sources as files: a folder (recursively) or an `s3://bucket/prefix/` stands for the
 * files under it, in name order, without the tool's own manifest.json, `_CHECK` and folder markers.
 * A file whose content is a shard manifest stands for its shards' files when `manifests` is
 * 'expand'; any other file is checked by content against `want`. With 'as-is' a file is not read
 * here: its reader tells its kind from what it reads anyway.
 */
export async function expandBatchInputs(
  sources: readonly string[],
  options: { manifests: 'expand' | 'refuse' | 'as-is'; want?: WantedKind },
): Promise<string[]> {
  return (await expandJobInputs(sources, options)).flatMap((g) => g.files);
}

/** expandBatchInputs, grouped by the job that would read them (a manifest gives one group per shard). */
export async function expandJobInputs(
  sources: readonly string[],
  options: { manifests: 'expand' | 'refuse' | 'as-is'; want?: WantedKind },
): Promise<JobInput[]> {
  const want = options.want ?? 'batch-input';
  const out: JobInput[] = [];
  for (const src of sources) {
    if (src === '-') {
      out.push({ job: src, from: 'file', files: [src] });
      continue;
    }
    const listed = await listFolder(src);
    if (listed !== undefined) {
      if (listed.length === 0)
        throw new PbError(
          'PB_IO',
          isS3Uri(src) ? 'no objects under this prefix' : 'no files in this folder',
          { file: src },
        );
      out.push({ job: src, from: 'folder', files: listed });
      continue;
    }
    const kind = options.manifests === 'as-is' ? undefined : await peekDocKind(src);
    if (kind === 'manifest' && options.manifests === 'expand') {
      out.push(...(await manifestShards(src)));
      continue;
    }
    const err = kind === undefined ? undefined : wrongKind(kind, want, src);
    if (err) throw err;
    out.push({ job: src, from: 'file', files: [src] });
  }
  return out;
}

/** The files of a folder or S3 prefix, or undefined when `src` is a file or object. */
async function listFolder(src: string): Promise<string[] | undefined> {
  if (isS3Uri(src)) {
    if (!src.endsWith('/')) return undefined;
    const found: string[] = [];
    for await (const o of listS3(defaultS3Client(), src)) {
      if (!OWN_DOCS.has(basename(o.key))) found.push(`s3://${o.bucket}/${o.key}`);
    }
    return found;
  }
  let isDir = false;
  try {
    isDir = (await stat(src)).isDirectory();
  } catch {
    return undefined;
  }
  return isDir ? walk(src) : undefined;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    // Hidden files are an editor's or a finished shard run's leftovers, never batch input.
    if (e.name.startsWith('.') || OWN_DOCS.has(e.name) || e.name === '_CHECK') continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(path)));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

/**
 * The batch-input files a manifest lists, per shard in order: each shard's `files`, or its one
 * `uri` in manifests written before shards could hold several files.
 */
export async function manifestShards(name: string): Promise<JobInput[]> {
  const m = (await readJsonDoc(name)) as {
    shards?: { uri?: unknown; files?: unknown; folder?: unknown }[];
  } | null;
  if (!m || !Array.isArray(m.shards)) {
    throw new PbError('PB_INVALID_RECORD', 'not a shard manifest: no shards list', { file: name });
  }
  return m.shards.map((sh, i) => {
    const job = typeof sh.folder === 'string' ? sh.folder : `${name} shards[${i}]`;
    if (sh.files === undefined) {
      if (typeof sh.uri !== 'string') {
        throw new PbError('PB_INVALID_RECORD', `shards[${i}].uri: expected a URI`, { file: name });
      }
      return { job, from: 'shard' as const, files: [sh.uri] };
    }
    if (!Array.isArray(sh.files)) {
      throw new PbError('PB_INVALID_RECORD', `shards[${i}].files: expected a list`, { file: name });
    }
    return {
      job,
      from: 'shard' as const,
      files: sh.files.map((f: { uri?: unknown } | null, k) => {
        if (typeof f?.uri !== 'string') {
          throw new PbError('PB_INVALID_RECORD', `shards[${i}].files[${k}].uri: expected a URI`, {
            file: name,
          });
        }
        return f.uri;
      }),
    };
  });
}
