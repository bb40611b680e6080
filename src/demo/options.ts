// The demo's knobs and their defaults. Apart from demo.ts so that `concord demo --help`
// can show the defaults without loading the demo (TF.js, the data, the coordinator client).

export interface DemoOptions {
  /** What the consortium works on (tasks.ts); its settings apply where no option overrides them. */
  task: string;
  members: number;
  rounds?: number;
  partition: 'iid' | 'dirichlet' | 'shards';
  alpha: number;
  strategy: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed: number;
  /** Digits held out from every member for the final test. */
  testSize: number;
  /** Skip the centralized baseline (saves time in tests); it trains in a worker thread alongside the federation. */
  baseline: boolean;
  /** State and logs go here; wiped at start. */
  dir: string;
  /** Secure aggregation (SecAgg+) in the private run. */
  secure: boolean;
  /** Sample-level differential privacy (DP-SGD in every member) in the private run. */
  dp: boolean;
  /** The least DP-SGD noise multiplier a member trains at; each member's own is calibrated to spend its budget over the run. */
  noiseMultiplier: number;
  clippingNorm: number;
  /** ε budget of every member dataset (δ = 1e-5). */
  epsilonBudget: number;
  /** DP-SGD trains with fewer local epochs (each costs ε) and a larger step (clipped, noisy gradients). */
  dpEpochs: number;
  /** Rounds of the private run under DP-SGD (default: --rounds when given, else 60): more noisy steps reach further at the same ε than the plain run's rounds. */
  dpRounds?: number;
  dpLearningRate: number;
  /** Lots for DP-SGD: larger ones carry less noise per example (σC/B) at the same ε. */
  dpBatchSize: number;
  /** The learning rate falls by this factor each round under DP-SGD, shrinking late rounds' noise. */
  dpLearningRateDecay: number;
}

export const DEMO_DEFAULTS: DemoOptions = {
  task: 'mnist',
  members: 5,
  partition: 'dirichlet',
  alpha: 0.5,
  strategy: 'fedavg',
  seed: 42,
  testSize: 1000,
  baseline: true,
  dir: '.concord/demo',
  secure: false,
  dp: false,
  noiseMultiplier: 0.5,
  // Measured on the demo's five Dirichlet members (docs/privacy.md, "Demo"): large lots, a
  // small clipping norm with a large step (most examples clipped: normalised steps), many
  // rounds with a slow decay. 0.908–0.912 at ε = 8 against 0.887–0.894 with lots of 128, C = 1.
  clippingNorm: 0.25,
  epsilonBudget: 8,
  dpEpochs: 1,
  dpLearningRate: 32,
  dpBatchSize: 1024,
  dpLearningRateDecay: 0.98,
};

export const DEMO_DELTA = 1e-5;

/** Rounds of the private run under DP-SGD when neither --dp-rounds nor --rounds is given. */
export const DEMO_DP_ROUNDS = 60;
