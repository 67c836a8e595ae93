import { parentPort, workerData } from 'node:worker_threads';
import tdigest from 'tdigest';
import type { DigestMessage, DigestReply } from '../stages/report/digests.js';

/**
 * Worker entry: the report's score quantiles. One t-digest per rank
 * position, fed the batches of scores the main thread posts while it reads
 * on; at `end`, the quantiles asked for, per rank. A t-digest push costs
 * about a microsecond: on the reading thread, the digests took longer than
 * the reading.
 */

const port = parentPort;
if (!port) throw new Error('digest-worker: not started as a worker');
const { ranks, quantiles } = workerData as { ranks: number; quantiles: number[] };
const digests = Array.from({ length: ranks }, () => new tdigest.TDigest());
port.on('message', (m: DigestMessage) => {
  if (m.type === 'values') {
    const d = digests[m.rank] as InstanceType<typeof tdigest.TDigest>;
    // One push per score: merging repeated values first (a Map per batch) cost more than the pushes it saved.
    const v = m.values;
    for (let i = 0; i < m.n; i++) d.push(v[i] as number);
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
