// Makes a PREV for `export --since` benchmarks from a .out file: the item list of every
// EVERY-th line reversed (1: every key changed, 2: about half), the other lines as they are.
//   node benchmarks/since-prev.mjs benchmarks/data/out-500mb-seed7.out benchmarks/data/out-500mb-half.out 2
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

const [, , input, output, every] = process.argv;
if (!input || !output || !(Number(every) >= 1)) {
  console.error('usage: node benchmarks/since-prev.mjs IN.out OUT.out EVERY');
  process.exit(2);
}
const out = createWriteStream(output);
let n = 0;
for await (const line of createInterface({
  input: createReadStream(input),
  crlfDelay: Number.POSITIVE_INFINITY,
})) {
  let l = line;
  if (n++ % Number(every) === 0) {
    const m = /"recommendedItems":\[([^\]]*)\]/.exec(l);
    if (m) l = l.replace(m[0], `"recommendedItems":[${m[1].split(',').reverse().join(',')}]`);
  }
  if (!out.write(`${l}\n`)) await once(out, 'drain');
}
out.end();
await once(out, 'close');
