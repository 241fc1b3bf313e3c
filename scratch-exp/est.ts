import { estimateRun } from '../functions/core/migrate011/estimate.js';
const base = { mode: 'in-place' as const, trustEtag: false, hashConcurrency: 8, distributedHashingFrom: 1000 };
for (const [label, objects, size, rows] of [['1M', 1e6, 1e6, 10e6], ['100M', 100e6, 0.5e6, 1e9]] as const) {
  for (const cols of [1, 5]) {
    const columnRows = Array(cols).fill(rows / cols);
    const stores = [{ objects, bytes: objects * size, s3: true }];
    for (const mode of ['read', 'etag', 'batch'] as const) {
      const e = estimateRun({ ...base, stores, columnRows, trustEtag: mode === 'etag', s3BatchChecksum: mode === 'batch' });
      console.log(label, cols, mode, Math.round(e.seconds / 60), 'min', e.stateTransitions, Math.round(e.lambdaGbSeconds), e.usd.total.toFixed(2));
    }
  }
}
