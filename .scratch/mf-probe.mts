import { loadMemberData } from '../src/data/spec.js';
import { familyOf } from '../src/model/families/index.js';
import { ModelSpecSchema } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { parameterSpecs } from '../src/model/build.js';
import { initBackend } from '../src/model/backend.js';
await initBackend('wasm');
const M = 5;
const factors = Number(process.env.K ?? 8), lr = Number(process.env.LR ?? 0.02), l2 = Number(process.env.L2 ?? 0.02);
const spec = ModelSpecSchema.parse({ family: 'mf', items: 400, factors, ratingRange: [1, 5], l2 });
const shares = await Promise.all(Array.from({ length: M }, (_, i) => loadMemberData(`ratings:member=${i},members=${M},partition=source,seed=42`)));
const fam = familyOf(spec);
const specs = parameterSpecs(spec);
console.log(specs, shares.map(s => [s.train.y.length, s.holdout.y.length]));
// initial params: seeded small random item factors
const n = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
let rnd = 1; const rand = () => { rnd = (rnd * 16807) % 2147483647; return rnd / 2147483647; };
const init = new Float32Array(n); for (let i = 0; i < 400 * factors; i++) init[i] = (rand() * 2 - 1) * 0.05;
// centralized
const pool = { x: new Float32Array(shares.flatMap(s => [...s.train.x])), y: new Int32Array(shares.flatMap(s => [...s.train.y])), inputShape: [2], classes: 6 };
const hold = { x: new Float32Array(shares.flatMap(s => [...s.holdout.x])), y: new Int32Array(shares.flatMap(s => [...s.holdout.y])), inputShape: [2], classes: 6 };
const E = Number(process.env.E ?? 20);
const c = fam.learner!(spec);
let g = makeParameters(specs, init);
for (let e = 0; e < E; e++) { g = (await c.train(g, pool, { epochs: 1, learningRate: lr, seed: e } as never)).parameters; }
console.log('central', E, (await c.evaluate(g, hold)).metrics);
const R = Number(process.env.R ?? 20), LE = Number(process.env.LE ?? 1);
const learners = shares.map(() => fam.learner!(spec));
g = makeParameters(specs, init);
for (let r = 0; r < R; r++) {
  const outs = await Promise.all(learners.map((l, i) => l.train(g, shares[i]!.train, { epochs: LE, learningRate: lr * Number(process.env.DECAY ?? 1) ** r, seed: r } as never)));
  const tot = outs.reduce((a, o) => a + o.numExamples, 0);
  const avg = new Float32Array(n);
  for (const o of outs) for (let j = 0; j < n; j++) avg[j] += o.parameters.data[j]! * o.numExamples / tot;
  const SL = Number(process.env.SL ?? 1);
  for (let j = 0; j < n; j++) avg[j] = g.data[j]! + SL * (avg[j]! - g.data[j]!);
  g = makeParameters(specs, avg);
  if ((r + 1) % 5 === 0) {
    const ev = await Promise.all(learners.map((l, i) => l.evaluate(g, shares[i]!.holdout)));
    const mse = ev.reduce((a, e) => a + e.loss * e.numExamples, 0) / ev.reduce((a, e) => a + e.numExamples, 0);
    console.log('fed round', r + 1, Math.sqrt(mse));
  }
}
