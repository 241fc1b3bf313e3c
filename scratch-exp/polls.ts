import { looksWithin } from '../functions/core/polling.js';
for (const h of [0.1, 1, 4, 14, 37]) console.log(h, 'h', looksWithin(h * 3600, 10), looksWithin(h * 3600, 60), 'old', Math.ceil(h * 3600 / 10), Math.ceil(h*3600/60));
