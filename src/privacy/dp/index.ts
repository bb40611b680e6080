// Differential privacy for Concord: clipping, CSPRNG Gaussian noise, DP-FedAvg as a strategy
// wrapper (central or distributed noise, fixed or adaptive clipping), the member-side
// privatization, DP-SGD's per-example math, and the per-dataset budget ledger.

export { type ClipInfo, accumulateClippedUpdate, clipFactor, clipInPlace, clipUpdate, clipVector, l2Norm, updateNorm } from './clip.js';
export { addGaussianNoise, createSecureRandom, gaussianNoise, secureRandom, standardNormal } from './gaussian.js';
export {
  ADAPTIVE_CLIPPING_DEFAULTS,
  type AdaptiveClippingOptions,
  defaultClippedCountStddev,
  nextClippingNorm,
  noisedUnclippedFraction,
  unclippedIndicator,
  updateNoiseMultiplier,
} from './adaptive-clipping.js';
export {
  DifferentialPrivacyOptionsSchema,
  type DifferentialPrivacyOptions,
  DifferentiallyPrivateStrategy,
  type MemberPrivacySettings,
  type PrivacyRoundRecord,
  type PrivacySpentResult,
  type RoundCharge,
  withDifferentialPrivacy,
} from './dp-fedavg.js';
export { type DistributedNoiseOptions, type PrivatizeUpdateOptions, type PrivatizedUpdate, UNCLIPPED_METRIC, distributedNoiseStddev, privatizeUpdate } from './member.js';
export { type PrivatizeBatchOptions, privatizeBatchGradients } from './dp-sgd.js';
export { type BudgetLedgerState, BudgetLedgerStateSchema, type PrivacyBudget, PrivacyBudgetLedger, type PrivacyCharge, type PrivacySpent } from './budget.js';
