// The members of a simulated consortium, many more than the data has rows for: each virtual
// member draws its own share of the pooled MNIST digits (those outside the global test set)
// with its own label mix — a Dirichlet(α) draw, as in the demo's non-IID partition — and its
// own size. With ten thousand members over nine thousand digits the shares overlap: the
// population models many sites holding similar data, as cross-device studies (FEMNIST,
// Flower's and FedML's simulators) do. Everything about member i follows from the seed and i
// alone, so any thread (or host) can rebuild any member, and nothing is held for members
// not asked: a member's data is gathered when its task runs and dropped after.

import type { Dataset, MemberData } from '../data/dataset.js';
import { loadMnist, MNIST_CLASSES, MNIST_PIXELS } from '../data/mnist.js';
import { planSplits } from '../data/plan.js';
import { dirichlet, seededRandom, shuffle } from '../core/random.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import type { DatasetDescriptor } from '../protocol/messages.js';

export interface PopulationSpec {
  /** What members hold; MNIST digits for now (the 10,000 of the `mnist` package). */
  task: 'mnist';
  members: number;
  /** Seeds every member's share. */
  seed: number;
  /** Dirichlet concentration of each member's label mix (smaller: more skewed). */
  alpha: number;
  /** Each member holds between these many digits (uniformly drawn), before its holdout split. */
  minExamples: number;
  maxExamples: number;
  /** Fraction of each member's share kept as its holdout. */
  holdout: number;
  /** Digits held out from every member as the coordinator's test set (the demo's `mnist:test,test=N`). */
  test: number;
}

/** Simulated member names sort in member order: sim-00000, sim-00001, … */
export function memberName(index: number, members: number): string {
  return `sim-${String(index).padStart(Math.max(5, String(members - 1).length), '0')}`;
}

export function memberIndex(name: string): number | null {
  const match = /^sim-(\d+)$/.exec(name);
  return match ? Number(match[1]) : null;
}

interface Share {
  train: number[];
  holdout: number[];
}

export class Population {
  private readonly digits: Dataset;
  /** Pool digits (not in the test set) by class. */
  private readonly byClass: number[][];

  constructor(readonly spec: PopulationSpec) {
    checkSpec(spec);
    this.digits = loadMnist();
    const pool = planSplits(this.digits.y, { test: spec.test, members: 1, holdout: 0 }).members[0]!.train;
    this.byClass = Array.from({ length: MNIST_CLASSES }, () => [] as number[]);
    for (const i of pool) this.byClass[this.digits.y[i]!]!.push(i);
  }

  get size(): number {
    return this.spec.members;
  }

  /** Which digits member `index` holds: the same in every thread for the same spec. */
  share(index: number): Share {
    if (!Number.isInteger(index) || index < 0 || index >= this.spec.members) {
      throw new ConcordError(ErrorCode.NOT_FOUND, `no simulated member ${index}: the population has ${this.spec.members}`, { details: { field: 'member', expected: `0..${this.spec.members - 1}`, received: index } });
    }
    const { seed, alpha, minExamples, maxExamples, holdout } = this.spec;
    const random = seededRandom(seed, index);
    const size = minExamples + Math.floor(random() * (maxExamples - minExamples + 1));
    const mix = dirichlet(Array.from({ length: MNIST_CLASSES }, () => alpha), random);
    const rows: number[] = [];
    for (let k = 0; k < size; k++) {
      let u = random();
      let c = 0;
      while (c < MNIST_CLASSES - 1 && u >= mix[c]!) u -= mix[c++]!;
      const pool = this.byClass[c]!;
      rows.push(pool[Math.floor(random() * pool.length)]!);
    }
    shuffle(rows, random);
    // At least one training example, and a holdout when the share has room for one.
    const held = Math.min(Math.round(size * holdout), size - 1);
    return { train: rows.slice(held), holdout: rows.slice(0, held) };
  }

  descriptor(index: number): DatasetDescriptor {
    const { train, holdout } = this.share(index);
    return { name: `mnist, simulated member ${index} of ${this.spec.members} (dirichlet alpha=${this.spec.alpha}, seed ${this.spec.seed})`, numExamples: train.length, numHoldout: holdout.length, inputShape: [MNIST_PIXELS], classes: MNIST_CLASSES };
  }

  /** Member `index`'s data, gathered now (a few hundred kilobytes; not kept). */
  data(index: number): MemberData {
    const { train, holdout } = this.share(index);
    return { train: this.gather(train), holdout: this.gather(holdout), descriptor: this.descriptor(index) };
  }

  private gather(rows: number[]): Dataset {
    const x = new Float32Array(rows.length * MNIST_PIXELS);
    const y = new Int32Array(rows.length);
    rows.forEach((row, i) => {
      x.set(this.digits.x.subarray(row * MNIST_PIXELS, (row + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
      y[i] = this.digits.y[row]!;
    });
    return { x, y, inputShape: [MNIST_PIXELS], classes: MNIST_CLASSES };
  }
}

function checkSpec(spec: PopulationSpec): void {
  const problems: string[] = [];
  if (spec.task !== 'mnist') problems.push(`task: only mnist can be simulated, got "${String(spec.task)}"`);
  if (!Number.isInteger(spec.members) || spec.members < 1) problems.push(`members: expected an integer >= 1, got ${spec.members}`);
  if (!(spec.alpha > 0)) problems.push(`alpha: expected > 0, got ${spec.alpha}`);
  if (!Number.isInteger(spec.minExamples) || spec.minExamples < 2) problems.push(`minExamples: expected an integer >= 2, got ${spec.minExamples}`);
  if (!Number.isInteger(spec.maxExamples) || spec.maxExamples < spec.minExamples) problems.push(`maxExamples: expected an integer >= minExamples (${spec.minExamples}), got ${spec.maxExamples}`);
  if (!(spec.holdout >= 0 && spec.holdout < 1)) problems.push(`holdout: expected a fraction in [0, 1), got ${spec.holdout}`);
  if (!Number.isInteger(spec.test) || spec.test < 0 || spec.test >= 10_000) problems.push(`test: expected an integer in [0, 10000), got ${spec.test}`);
  if (problems.length > 0) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `invalid population: ${problems.join('; ')}`, { details: { field: problems[0]!.split(':')[0], problems } });
}
