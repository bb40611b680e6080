// What the demo consortium can work on (`npm start -- --task NAME`): each task names its
// real data, how members' shares of it are drawn, the model, the training settings that
// suit it, and how much centralised training the baseline needs for a fair comparison.
// TF-free, so `concord demo --help` can list the tasks without loading them.

import type { ModelSpec } from '../protocol/messages.js';

export interface TaskSettings {
  rounds: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: 'sgd' | 'adam';
  /** Round r trains at learningRate × learningRateDecay^(r−1); default 1. */
  learningRateDecay?: number;
}

export interface DataChoice {
  members: number;
  partition: 'iid' | 'dirichlet' | 'shards';
  alpha: number;
  seed: number;
  testSize: number;
}

export interface DemoTask {
  name: string;
  /** One line for the log and --help. */
  description: string;
  defaults: TaskSettings;
  /** A member's data spec (`member=i`), the pooled training data, and the held-out test set. */
  data(choice: DataChoice, select: { member: number } | 'pool' | 'test'): string;
  model(): ModelSpec;
  /** Epochs of centralised training on the pooled data the baseline gets. */
  baselineEpochs(settings: TaskSettings): number;
  /** Why fewer epochs than the federation trained suffice: printed with the baseline, so the comparison says what it rests on. */
  baselineReason: string;
  /** What the summary reports: accuracy of a classifier, or the RMSE of a regression. */
  metric: 'accuracy' | 'rmse';
  /**
   * Who measures the model: the coordinator on a held-out test set (default), or the members
   * on their holdouts, when only they can run it (a recommender needs each user's factors,
   * which stay on the member). The centralised baseline is then measured on the union of the
   * same holdouts.
   */
  evaluation?: 'coordinator' | 'members';
  /** The centralised baseline's learning rate, when one long run wants another than the federation's rounds. */
  baselineLearningRate?: number;
  /**
   * Rounds whose contributions are valued (the last ones): each round costs a model
   * evaluation per coalition, which larger models make slow. Default: every round.
   */
  valuationRounds?: number;
}

const mnist = (choice: DataChoice, select: { member: number } | 'pool' | 'test'): string => {
  const common = `members=${choice.members},partition=${choice.partition},alpha=${choice.alpha},seed=${choice.seed},test=${choice.testSize}`;
  if (select === 'test') return `mnist:test,test=${choice.testSize}`;
  return select === 'pool' ? `mnist:pool,${common}` : `mnist:member=${select.member},${common}`;
};

export const DEMO_TASKS: Record<string, DemoTask> = {
  mnist: {
    name: 'mnist',
    description: 'MNIST digits with a dense network (784-128-10)',
    defaults: { rounds: 25, epochs: 2, batchSize: 32, learningRate: 0.05, optimizer: 'sgd' },
    data: mnist,
    model: () => ({ family: 'mlp', inputShape: [784], hidden: [128], classes: 10, activation: 'relu' }),
    // Measured on the demo's pooled 9,000 digits (SGD, lr 0.05, batch 32): test accuracy
    // 0.938 after 10 epochs, 0.949 after 20, 0.951 after 30, 0.953 after 50 (the
    // federation's total). Twenty epochs are within half a point of fifty at 40 % of the time.
    baselineEpochs: (s) => Math.min(s.rounds * s.epochs, 20),
    baselineReason: 'pooled training has levelled off by then: 0.949 after 20 epochs, 0.953 after 50',
    metric: 'accuracy',
  },
  cnn: {
    name: 'cnn',
    description: 'MNIST digits as 28×28 images with a small convolutional network (two 5×5 conv + pool blocks, dense 64)',
    // One local epoch a round: 0.974 against 0.978 centralised, in 2.5 minutes on 2 cores (two epochs: 0.975, twice the time).
    defaults: { rounds: 20, epochs: 1, batchSize: 32, learningRate: 0.1, optimizer: 'sgd' },
    data: mnist,
    model: () => ({
      family: 'cnn',
      inputShape: [28, 28, 1],
      conv: [
        { filters: 8, kernelSize: 5, strides: 1, padding: 'same', activation: 'relu', batchNorm: false, pool: 2, dropout: 0 },
        { filters: 16, kernelSize: 5, strides: 1, padding: 'same', activation: 'relu', batchNorm: false, pool: 2, dropout: 0 },
      ],
      dense: [64],
      dropout: 0,
      classes: 10,
      l2: 0,
    }),
    // Centralised training converges in about a dozen epochs on the pooled digits; more would only make the demo slower.
    baselineEpochs: (s) => Math.min(s.rounds * s.epochs, 12),
    baselineReason: 'pooled training converges in about a dozen epochs',
    metric: 'accuracy',
    valuationRounds: 3,
  },
};

const spam =
  (tokenizer: string) =>
  (choice: DataChoice, select: { member: number } | 'pool' | 'test'): string => {
    const common = `members=${choice.members},partition=${choice.partition},alpha=${choice.alpha},seed=${choice.seed},test=${choice.testSize},${tokenizer}`;
    if (select === 'test') return `spam:test,test=${choice.testSize},${tokenizer}`;
    return select === 'pool' ? `spam:pool,${common}` : `spam:member=${select.member},${common}`;
  };

DEMO_TASKS.text = {
  name: 'text',
  description: 'spam filtering on the SpamAssassin mail corpus with a 1-D convolutional text classifier (hashed tokens, 200 per email)',
  defaults: { rounds: 8, epochs: 1, batchSize: 32, learningRate: 0.005, optimizer: 'adam' },
  data: spam('vocab=20000,length=200'),
  model: () => ({ family: 'text', vocabSize: 20_000, sequenceLength: 200, embeddingDim: 32, encoder: { type: 'conv1d', filters: 64, kernelSize: 5 }, dense: [], dropout: 0.2, classes: 2, l2: 0 }),
  baselineEpochs: (s) => Math.min(s.rounds * s.epochs, 4),
  baselineReason: 'as many epochs as the federation trained, at most 4: each pass over 11,000 mails is slow',
  metric: 'accuracy',
  valuationRounds: 2,
};

DEMO_TASKS.transformer = {
  name: 'transformer',
  description: 'spam filtering on the SpamAssassin mail corpus with a small transformer encoder ([CLS] + 63 hashed tokens, 2 heads)',
  defaults: { rounds: 6, epochs: 1, batchSize: 32, learningRate: 0.002, optimizer: 'adam' },
  data: spam('vocab=8000,length=64,cls=1'),
  model: () => ({ family: 'transformer', vocabSize: 8000, sequenceLength: 64, embeddingDim: 32, heads: 2, layers: 1, feedForward: 64, dropout: 0.1, classes: 2, l2: 0 }),
  baselineEpochs: (s) => Math.min(s.rounds * s.epochs, 3),
  baselineReason: 'as many epochs as the federation trained, at most 3: each pass over 11,000 mails is slow',
  metric: 'accuracy',
  valuationRounds: 2,
};

DEMO_TASKS.recsys = {
  name: 'recsys',
  description: 'recommendation: federated matrix factorisation of generated user–item ratings, each member a region\'s service holding its users (their factors never leave it)',
  // Several local epochs with a falling rate: item factors averaged from members whose users
  // differ by region settle 3 % above centralised RMSE instead of 7 % at a constant rate.
  defaults: { rounds: 30, epochs: 3, batchSize: 1, learningRate: 0.04, optimizer: 'sgd', learningRateDecay: 0.93 },
  data: (choice, select) => {
    const common = `members=${choice.members},partition=source,seed=${choice.seed}`;
    if (select === 'test') throw new Error('recsys is evaluated on members\' holdouts; it has no test set');
    return select === 'pool' ? `ratings:pool,${common}` : `ratings:member=${select.member},${common}`;
  },
  model: () => ({ family: 'mf', items: 400, factors: 8, ratingRange: [1, 5], l2: 0.02 }),
  baselineEpochs: () => 30,
  baselineReason: 'at a learning rate of 0.02 the pooled factorisation has converged after 30 epochs',
  baselineLearningRate: 0.02,
  metric: 'rmse',
  evaluation: 'members',
};

export const DEMO_TASK_NAMES = Object.keys(DEMO_TASKS);

/**
 * Not a training task: federated analytics over five hospitals' differently formatted files,
 * with the three-hospital harmonisation study (demo/analytics-demo.ts runs it).
 */
export const ANALYTICS_DEMO = {
  name: 'analytics',
  description: 'federated statistics over five hospitals’ differently formatted records (exact with min-count under SecAgg+, and DP), compared with the pooled computation, plus the harmonisation study',
} as const;
