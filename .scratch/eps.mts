import { epsilonOf, sampleLevelCharge } from '../src/privacy/dp/charges.js';
const n = Number(process.env.N ?? 1440);
for (const B of [32, 64, 128, 256]) for (const z of [0.8, 1.0, 1.3, 1.6, 2.0]) for (const [R, E] of [[25, 1], [15, 1], [10, 2], [20, 2], [40, 1]]) {
  const c = sampleLevelCharge(n, { batchSize: B, epochs: E }, z);
  const eps = epsilonOf(Array.from({ length: R }, () => c), 1e-5);
  if (eps <= 8 && eps > 3) console.log(`B=${B} z=${z} R=${R} E=${E} steps=${R * c.steps} eps=${eps.toFixed(2)} noise/B=${(z / B).toFixed(4)}`);
}
