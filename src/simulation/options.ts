// `concord simulate`'s knobs and their defaults, apart from simulate.ts so that --help can
// show them without loading the coordinator, TF.js or the data.

/** How virtual members draw their shares (population.ts). */
export const DEFAULT_POPULATION = { task: 'mnist' as const, seed: 42, alpha: 0.5, minExamples: 20, maxExamples: 60, holdout: 0.2, test: 1000 };

/** Under secure aggregation, members whose state each thread keeps between a round's stages (simulated-members.ts). */
export const DEFAULT_KEPT_MEMBERS = 4096;

export interface SimulateOptions {
  members: number;
  rounds: number;
  /** Fraction of the population that trains each round. */
  fraction: number;
  /** Fraction that evaluates the new model on its holdout each round. */
  evaluateFraction: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  strategy: string;
  /** Worker threads that train members; 0 trains them in this thread. */
  workers: number;
  secure: boolean;
  seed: number;
  alpha: number;
  minExamples: number;
  maxExamples: number;
  /** Under secure aggregation: members whose state each thread keeps between a round's stages (at least the round's members). */
  maxKept: number;
  dir: string;
  port: number;
  /** Options of the strategy (e.g. FedBuff's bufferSize, concurrency). Default {}. */
  strategyOptions?: Record<string, unknown>;
  /** The run's `differentialPrivacy` block (checked by the run schema), e.g. client level for FedBuff. */
  differentialPrivacy?: Record<string, unknown>;
  /**
   * Simulated device time (device-time.ts): each member's answer is held until this many
   * seconds after its task started (× slowFactor for the slowFraction of slow members).
   * Default 0: answers go back as soon as they are computed.
   */
  deviceSeconds?: number;
  slowFraction?: number;
  slowFactor?: number;
  /** Hierarchical aggregation: shard aggregators (`concord aggregator`) on this NATS server sum each round's updates in `shards` groups. */
  nats?: string;
  shards?: number;
  /** Fewest members one shard group may sum (hierarchicalAggregation.minGroupSize). */
  minGroupSize?: number;
  /** Keep the coordinator (and its dashboard) up when done, until stop() is called. */
  keepServing?: boolean;
}

export const SIMULATE_DEFAULTS: SimulateOptions = {
  members: 1000,
  rounds: 3,
  fraction: 0.1,
  evaluateFraction: 0.02,
  epochs: 1,
  batchSize: 8,
  learningRate: 0.1,
  strategy: 'fedavg',
  workers: 2,
  secure: false,
  seed: DEFAULT_POPULATION.seed,
  alpha: DEFAULT_POPULATION.alpha,
  minExamples: DEFAULT_POPULATION.minExamples,
  maxExamples: DEFAULT_POPULATION.maxExamples,
  maxKept: DEFAULT_KEPT_MEMBERS,
  dir: '.concord/simulate',
  port: 0,
};

