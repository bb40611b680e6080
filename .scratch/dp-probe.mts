import { loadDataset, loadMemberData } from '../src/data/spec.js';
import { initBackend } from '../src/model/backend.js';
import { createLocalModel } from '../src/model/local-model.js';
import { initialParameters, buildModel } from '../src/model/build.js';
import { setParameters } from '../src/model/weights.js';
import { evaluate } from '../src/model/train.js';
import { ModelSpecSchema } from '../src/protocol/messages.js';
import { makeParameters } from '../src/protocol/tensors.js';
import { epsilonOf, sampleLevelCharge } from '../src/privacy/dp/charges.js';
import { noiseForEpsilon } from '../src/privacy/rdp.js';
await initBackend('wasm');
const env = (k: string, d: number) => Number(process.env[k] ?? d);
const B = env('B', 128), Z = env('Z', 1.6), R = env('R', 25), E = env('E', 1), LR = env('LR', 0.5), C = env('C', 1), M = 5;
const hidden = (process.env.H ?? '128').split(',').filter(Boolean).map(Number);
const common = `members=${M},partition=dirichlet,alpha=0.5,seed=42,test=1000,holdout=${process.env.HOLD ?? 0.2}`;
const shares = await Promise.all(Array.from({ length: M }, (_, i) => loadMemberData(`mnist:member=${i},${common}`)));
const test = await loadDataset('mnist:test,test=1000');
const spec = ModelSpecSchema.parse(process.env.CNN ? { family: 'cnn', inputShape: [28, 28, 1], conv: [{ filters: 8, kernelSize: 5, pool: 2 }, { filters: 16, kernelSize: 5, pool: 2 }], dense: [32], classes: 10 } : { family: 'mlp', inputShape: [784], hidden, classes: 10, activation: process.env.ACT ?? 'relu' });
const ns = shares.map((s) => s.train.y.length);
const EPS = env('EPS', 8);
const zs = ns.map((n) => { if (!process.env.CAL) return Z; const c = sampleLevelCharge(n, { batchSize: B, epochs: E }, 1); return Math.max(Z, noiseForEpsilon({ samplingRate: c.samplingRate, steps: c.steps * R, delta: 1e-5, epsilon: EPS })); });
console.log('z per member', zs.map((z) => z.toFixed(2)).join(' '));
const eps = Math.max(...ns.map((n, i) => epsilonOf(Array.from({ length: R }, () => sampleLevelCharge(n, { batchSize: B, epochs: E }, zs[i]!)), 1e-5)));
console.log(`n=${ns} B=${B} z=${Z} R=${R} E=${E} lr=${LR} C=${C} maxEps=${eps.toFixed(2)}`);
if (eps > 8 && !process.env.FORCE) process.exit(0);
const models = shares.map(() => createLocalModel(spec));
let g = initialParameters(spec, 42);
const evalModel = buildModel(spec, 0);
const t0 = Date.now();
let ema: Float32Array | undefined;
for (let r = 0; r < R; r++) {
  const outs = await Promise.all(models.map((m, i) => m.train(g, shares[i]!.train, { epochs: E, batchSize: B, learningRate: LR * env("DECAY", 1) ** r, optimizer: (process.env.OPT ?? 'sgd') as 'sgd', proximalMu: 0, seed: r }, { dpSgd: { clippingNorm: C, noiseMultiplier: zs[i]! } })));
  const tot = outs.reduce((a, o) => a + o.numExamples, 0);
  const avg = new Float32Array(g.data.length);
  for (const o of outs) for (let j = 0; j < avg.length; j++) avg[j] += o.parameters.data[j]! * o.numExamples / tot;
  g = makeParameters(g.specs, avg);
  const K = env('AVG', 0);
  if (K > 0 && r >= R - K) { ema ??= new Float32Array(avg.length); for (let j = 0; j < avg.length; j++) ema[j] += avg[j]! / K; }
  if ((r + 1) % 5 === 0 || r + 1 === R) { setParameters(evalModel, g); console.log(`round ${r + 1} acc ${(await evaluate(evalModel, test)).accuracy.toFixed(4)} ${((Date.now() - t0) / 1000).toFixed(0)}s`); }
}
if (ema) { setParameters(evalModel, makeParameters(g.specs, ema)); console.log(`average of last ${env('AVG', 0)} acc ${(await evaluate(evalModel, test)).accuracy.toFixed(4)}`); }
