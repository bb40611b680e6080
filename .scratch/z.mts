import { sampleLevelCharge } from '../src/privacy/dp/charges.js';
import { noiseForEpsilon } from '../src/privacy/rdp.js';
for (const n of [100, 2000]) { const c = sampleLevelCharge(n, { batchSize: 32, epochs: 1 }, 1); console.log(n, noiseForEpsilon({ samplingRate: c.samplingRate, steps: c.steps * 4, delta: 1e-5, epsilon: 3 })); }
