// The built-in demo data a visitor can train on without data of their own, one entry per
// kind: real MNIST digits (what `npm start` trains on; a stratified 600 drawn at build time
// from outside the demo's test set, web/vite.config.ts) and two Gaussian blobs in the plane
// for two-feature models. The page offers the one that fits the run it joins; `?shard=ID`
// in the address picks one by name.
import shard from 'virtual:mnist-shard';
import { demoShard, trainRows, type LocalData } from './local-data.js';

export interface DemoShard {
  id: string;
  label: string;
  /** Inputs per example and classes, as the run's model counts them. */
  inputs: number;
  classes: number;
  load(inputShape?: number[]): Promise<LocalData>;
}

const PIXELS = 784;

async function mnistDigits(inputShape?: number[]): Promise<LocalData> {
  const response = await fetch(shard.url);
  if (!response.ok) throw new Error(`the demo digits could not be loaded: ${response.status} ${response.statusText}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const n = shard.count;
  if (bytes.length !== n * (PIXELS + 1)) throw new Error(`the demo digits are damaged: ${bytes.length} bytes, expected ${n * (PIXELS + 1)}`);
  const x = new Float32Array(n * PIXELS);
  for (let i = 0; i < x.length; i++) x[i] = bytes[i]! / 255;
  const y = Int32Array.from(bytes.subarray(n * PIXELS));
  // Rows are row-major pixels either way; the run's model says whether it sees images or vectors.
  const shape = inputShape && inputShape.reduce((a, b) => a * b, 1) === PIXELS ? [...inputShape] : [28, 28, 1];
  return { name: `MNIST digits (${n}, built in)`, x, y, features: PIXELS, inputShape: shape, classes: 10, train: trainRows(n) };
}

export const DEMO_SHARDS: readonly DemoShard[] = [
  { id: 'mnist', label: 'MNIST digits', inputs: PIXELS, classes: 10, load: mnistDigits },
  { id: 'blobs', label: 'two-feature blobs', inputs: 2, classes: 2, load: async () => demoShard() },
];

/** The shard named in the address, else the first that fits the run's model, else the digits (the demo's). */
export function chooseDemoShard(requested: string | null, model: { inputShape: number[]; classes: number; input?: 'features' | 'ids' } | null): { shard: DemoShard | null; why: string } {
  if (requested !== null) {
    const named = DEMO_SHARDS.find((s) => s.id === requested);
    if (!named) return { shard: null, why: `there is no built-in demo data "${requested}" (?shard= takes ${DEMO_SHARDS.map((s) => s.id).join(' or ')})` };
    return { shard: named, why: `chosen in the address (?shard=${named.id})` };
  }
  if (!model) return { shard: DEMO_SHARDS[0]!, why: 'no run is under way: the digits fit the demo runs' };
  // Every built-in shard is feature values; a model of ids (a recommender's users and items) needs the visitor's own file.
  if (model.input === 'ids') return { shard: null, why: "the run's model reads ids, not feature values: no built-in demo data fits it; for a recommendation run pick a ratings file (user,item,rating)" };
  const inputs = model.inputShape.reduce((a, b) => a * b, 1);
  const fits = DEMO_SHARDS.find((s) => s.inputs === inputs && s.classes <= model.classes);
  if (!fits) return { shard: null, why: `no built-in demo data fits a model taking ${inputs} inputs (${model.inputShape.join('×')}) with ${model.classes} classes: pick your own data` };
  return { shard: fits, why: `fits the run's model (${model.inputShape.join('×')} in, ${model.classes} classes)` };
}
