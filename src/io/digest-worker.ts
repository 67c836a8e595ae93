import { parentPort, workerData } from 'node:worker_threads';
import { ScoreDigest } from '../core/score-digest.js';
import type { DigestMessage, DigestReply } from '../stages/report/digests.js';

/**
 * Worker entry: the report's score quantiles. One t-digest per rank
 * position (core/score-digest.ts: most scores only counted in fine buckets
 * as they come, the digest fed the buckets' centroids at the end), fed the
 * batches of scores the main thread posts while it reads on; at `end`, the
 * quantiles asked for, per rank.
 */

const port = parentPort;
if (!port) throw new Error('digest-worker: not started as a worker');
const { ranks, quantiles } = workerData as { ranks: number; quantiles: number[] };
const digests = Array.from({ length: ranks }, () => new ScoreDigest());
port.on('message', (m: DigestMessage) => {
  if (m.type === 'values') {
    (digests[m.rank] as ScoreDigest).add(m.values.subarray(0, m.n));
    const back: DigestReply = { taken: true, values: m.values };
    port.postMessage(back, [m.values.buffer as ArrayBuffer]);
    return;
  }
  const reply: DigestReply = { quantiles: digests.map((d) => d.quantiles(quantiles)) };
  port.postMessage(reply);
});
