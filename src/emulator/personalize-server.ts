import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Fault } from './faults.js';
import type { Reply } from './operations.js';

/**
 * The wire layer: Amazon Personalize's awsJson1_1 protocol over HTTP on
 * 127.0.0.1. `POST /` with `X-Amz-Target: AmazonPersonalize.<Operation>` and
 * a JSON body; answers 200 with JSON, or 400 with
 * `{"__type":"<Name>Exception","message":...}` (the SDK reads `__type`).
 * Signatures are not checked: any credentials work.
 */

const TARGET_PREFIX = 'AmazonPersonalize.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Requests are small JSON documents; anything bigger is refused rather than buffered. */
const MAX_BODY = 1024 * 1024;

/** Answers one operation; the server only parses and serializes. */
export type Handler = (operation: string, body: unknown) => Promise<Reply>;

export interface PersonalizeServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startPersonalizeServer(port: number, handle: Handler): Promise<PersonalizeServer> {
  const server = createServer((req, res) => {
    serve(req, res, handle).catch((err: unknown) => {
      send(res, 500, { __type: 'InternalFailure', message: (err as Error)?.message ?? String(err) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, handle: Handler): Promise<void> {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (req.method !== 'POST' || !target.startsWith(TARGET_PREFIX)) {
    req.resume();
    return error(res, {
      type: 'UnknownOperationException',
      message: `expected POST / with an X-Amz-Target: ${TARGET_PREFIX}<Operation> header (got ${req.method} ${req.url}, target "${target}")`,
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) {
      req.resume();
      return error(res, { type: 'SerializationException', message: `request body over ${MAX_BODY} bytes` });
    }
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch (err) {
      return error(res, {
        type: 'SerializationException',
        message: `the body is not JSON: ${(err as Error).message}`,
      });
    }
  }
  const reply = await handle(target.slice(TARGET_PREFIX.length), body);
  if (reply.ok) send(res, 200, reply.body);
  else error(res, reply.fault);
}

function error(res: ServerResponse, f: Fault): void {
  send(res, 400, { __type: f.type, message: f.message }, { 'x-amzn-ErrorType': `${f.type}:` });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(data),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(data);
}
