import { parentPort, workerData } from 'node:worker_threads';
import tdigest from 'tdigest';
import { batchCentroids } from '../core/report.js';
import type { DigestMessage, DigestReply } from '../stages/report/digests.js';

/**
 * Worker entry: the report's score quantiles. One t-digest per rank
 * position, fed the batches of scores the main thread posts while it reads
 * on; at `end`, the quantiles asked for, per rank.
 *
 * A t-digest push costs about a microsecond (a red-black tree walk): one
 * push per score was 7 s of CPU per GB of outputs, as much as the parsing.
 * So each batch is sorted first and pushed as centroids of neighbouring
 * scores (core/report.ts batchCentroids): about 40 times fewer pushes for a batch of
 * 64 Ki scores, none merged for a small one.
 */

const port = parentPort;
if (!port) throw new Error('digest-worker: not started as a worker');
const { ranks, quantiles } = workerData as { ranks: number; quantiles: number[] };
const digests = Array.from({ length: ranks }, () => new tdigest.TDigest());
port.on('message', (m: DigestMessage) => {
  if (m.type === 'values') {
    const d = digests[m.rank] as InstanceType<typeof tdigest.TDigest>;
    const { means, counts } = batchCentroids(m.values.subarray(0, m.n));
    // In a random order, as scores come: ascending pushes each land past the digest's max and grow it.
    const order = shuffled(means.length);
    for (const i of order) d.push(means[i] as number, counts[i] as number);
    port.postMessage({ taken: true } satisfies DigestReply);
    return;
  }
  const reply: DigestReply = {
    quantiles: digests.map((d) => {
      if (d.size() === 0) return quantiles.map(() => Number.NaN);
      d.compress();
      return d.percentile(quantiles) as number[];
    }),
  };
  port.postMessage(reply);
});

function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return order;
}
