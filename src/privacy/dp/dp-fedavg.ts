// Client-level differential privacy for federated rounds: DP-FedAvg (McMahan, Ramage,
// Talwar & Zhang 2018, "Learning Differentially Private Recurrent Language Models",
// arXiv 1710.06963) as a wrapper around any strategy, in the manner of Flower's
// DifferentialPrivacyServerSide{Fixed,Adaptive}Clipping. What is protected is a whole
// member's contribution to a round: the released model is (ε, δ)-indistinguishable whether
// or not any one member took part.
//
// Central mode (a trusted coordinator sees individual updates):
//   Δ_k = clip(θ_k − θ_t, C)                       every sampled member, equal weight
//   Δ̄  = (Σ_k Δ_k + N(0, (z_Δ C)² I)) / m          m = expected members, fixed
//   θ_{t+1} = inner.aggregateTrain(θ_t, [θ_t + Δ̄])  the inner strategy's server optimizer
// Distributed mode (secure aggregation; the coordinator must not be trusted with noise):
// each member clips and adds N(0, (z_Δ C)²/m) itself (member.ts, privatizeUpdate); the
// coordinator only averages, Δ̄ = Σ_k Δ_k / m.
//
// Choices, and why:
// - Equal weights. A weight n_k/n lets one member's influence grow with its reported size;
//   uniform weights bound it by C/m without trusting n_k (the paper's bounded-weight variant
//   is not implemented). Members that report no examples still count as participants.
// - Fixed denominator m, the paper's f_f estimator: dividing by the number that happened to
//   report would make the scale of the release depend on who took part. m defaults to the
//   number of members the inner strategy selected for the round; set `sampledMembers` to pin it.
// - Where noise enters: on the average, *before* the inner strategy. The inner strategy's
//   server optimizer (FedAvgM momentum, FedAdam moments) then sees only the noised average,
//   so its state — which shapes every later model — is post-processing of private releases.
//   Adding the noise after the optimizer step (as Flower does) would leave the optimizer state
//   a function of un-noised updates.
// - Adaptive clipping (Andrew et al. 2021, arXiv 1905.03871; adaptive-clipping.ts): the round's
//   noise uses the C that clipped this round's updates; C moves afterwards.
// - Accounting: each round is one step of the subsampled Gaussian mechanism with
//   q = selected / population and multiplier z, composed in RDP (../rdp.ts). Selection is
//   uniform without replacement of a fixed size, which the Poisson accountant treats as
//   Poisson sampling at rate q — the usual approximation (TF Privacy, Opacus, Flower). With
//   distributed noise and r < m survivors, the round is booked at z·√(r/m).
// - Not protected: the metrics members report (loss, accuracy, numExamples) are passed through
//   as before; publish them only where that is acceptable.

import { z } from 'zod';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { type Parameters, type TensorSpec, makeParameters, totalSize } from '../../protocol/tensors.js';
import type { Random } from '../../core/random.js';
import type { EvaluateAggregate, EvaluateResult, Failure, Instruction, RoundContext, Strategy, StrategyTraits, TrainAggregate, TrainResult } from '../../strategies/strategy.js';
import { aggregateMetrics, checkTrainResults } from '../../strategies/common.js';
import { parseOptions } from '../../strategies/options.js';
import { DEFAULT_ORDERS, computeRdp, epsilonFromRdp } from '../rdp.js';
import { accumulateClippedUpdate } from './clip.js';
import { addGaussianNoise, secureRandom } from './gaussian.js';
import {
  ADAPTIVE_CLIPPING_DEFAULTS,
  defaultClippedCountStddev,
  nextClippingNorm,
  noisedUnclippedFraction,
  unclippedIndicator,
  updateNoiseMultiplier,
} from './adaptive-clipping.js';
import { UNCLIPPED_METRIC } from './member.js';

export const DifferentialPrivacyOptionsSchema = z
  .object({
    /** z: the noise on the sum of clipped updates has std zC (both noises together, with adaptive clipping). */
    noiseMultiplier: z.number().finite().min(0),
    /** C, the L2 clipping norm; with adaptive clipping, its starting value (Andrew et al. suggest 0.1). */
    clippingNorm: z.number().finite().positive(),
    /** Present (even as {}) to adapt C toward a quantile of the update norms. */
    adaptiveClipping: z
      .object({
        /** γ, the fraction of updates that should be left unclipped. Default 0.5. */
        targetQuantile: z.number().min(0).max(1).default(ADAPTIVE_CLIPPING_DEFAULTS.targetQuantile),
        /** η_C, the geometric step size. Default 0.2. */
        clipLearningRate: z.number().finite().positive().default(ADAPTIVE_CLIPPING_DEFAULTS.clipLearningRate),
        /** σ_b, the noise on the count of unclipped updates. Default m/20. */
        clippedCountStddev: z.number().finite().min(0).optional(),
      })
      .strict()
      .optional(),
    /** m, the expected number of members per round: the averaging denominator and noise scale. Default: the number selected. */
    sampledMembers: z.number().int().positive().optional(),
    /** N, the population members are sampled from (q = m/N). Default: the members available when the round is configured. */
    totalMembers: z.number().int().positive().optional(),
    /** Who clips and adds noise: the coordinator ('central', default) or each member ('distributed'). */
    mode: z.enum(['central', 'distributed']).default('central'),
  })
  .strict();

export type DifferentialPrivacyOptions = z.input<typeof DifferentialPrivacyOptionsSchema> & {
  /** Uniform source for the noise. Default: the OS CSPRNG. A seeded source voids the guarantee: tests only. */
  random?: Random;
};

/** What each member of a distributed-mode round must do (privatizeUpdate's options, less the random source). */
export interface MemberPrivacySettings {
  clippingNorm: number;
  /** Per-coordinate std of each member's noise share, z_Δ·C/√m. */
  noiseStddev: number;
  /** Std of the noise on each member's unclipped indicator, σ_b/√m (0 without adaptive clipping). */
  indicatorNoiseStddev: number;
  /** m, the members whose shares add up to the round's noise. */
  expectedMembers: number;
}

/** One round's privacy bookkeeping. */
export interface PrivacyRoundRecord {
  serverRound: number;
  /** m, the averaging denominator. */
  expectedMembers: number;
  /** Members the round asked (≥ m when the inner strategy selected more). */
  selectedMembers: number;
  /** Population; 0 when unknown, which books q = 1 (no amplification by sampling). */
  totalMembers: number;
  /** Updates that reached the aggregate. */
  receivedMembers: number;
  /** q = selectedMembers / totalMembers (1 when unknown). */
  samplingRate: number;
  /** The multiplier the round achieved: z, or z·√(r/m) after distributed-mode dropouts. */
  noiseMultiplier: number;
}

export interface PrivacySpentResult {
  epsilon: number;
  /** The Rényi order that gives ε (NaN before the first round). */
  order: number;
  rounds: number;
}

/** A per-round charge for the budget ledger (budget.ts): one step at rate q with multiplier z. */
export interface RoundCharge {
  samplingRate: number;
  noiseMultiplier: number;
  steps: 1;
}

interface RoundPlan {
  expected: number;
  selected: number;
  total: number;
}

const STATE_VERSION = 1;
const HEADER = 5; // version, clippingNorm, noiseMultiplier, adaptive, rounds
const RECORD = 5; // serverRound, expected, selected, total, received
const STATE_TENSOR = 'dp/state';
const INNER_PREFIX = 'inner/';

function invalid(field: string, message: string, expected: unknown, received: unknown): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected, received } });
}

export class DifferentiallyPrivateStrategy implements Strategy {
  readonly name: string;
  /** Distributed: members clip and noise, the coordinator needs only their sum. Central: it clips each update itself. */
  readonly traits: StrategyTraits;
  readonly options: z.output<typeof DifferentialPrivacyOptionsSchema>;
  private readonly random: Random;
  private readonly initialClippingNorm: number;
  private clippingNorm: number;
  private readonly plans = new Map<number, RoundPlan>();
  private records: PrivacyRoundRecord[] = [];

  constructor(
    readonly inner: Strategy,
    options: DifferentialPrivacyOptions,
  ) {
    const { random, ...rest } = options ?? ({} as DifferentialPrivacyOptions);
    this.name = `dp-${inner.name}`;
    this.options = parseOptions(this.name, DifferentialPrivacyOptionsSchema, rest);
    this.traits = { aggregates: this.options.mode === 'distributed' ? 'sum' : 'individual', acceptsNoisedAverage: false, aggregatesMean: false };
    if (random !== undefined && typeof random !== 'function') throw invalid('random', 'random must be a function returning uniforms in [0, 1)', 'function', typeof random);
    this.random = random ?? secureRandom;
    // Adaptive norms live in float32 from the start, so a checkpoint restores them exactly.
    this.initialClippingNorm = this.options.adaptiveClipping ? Math.fround(this.options.clippingNorm) : this.options.clippingNorm;
    this.clippingNorm = this.initialClippingNorm;
    // Fail at construction, not in round 1, when the count noise cannot fit in the budget.
    if (this.options.sampledMembers !== undefined) this.updateMultiplier(this.options.sampledMembers);
  }

  /** The clipping norm the next round will use. */
  get currentClippingNorm(): number {
    return this.clippingNorm;
  }

  configureTrain(ctx: RoundContext): Instruction[] {
    const instructions = this.inner.configureTrain(ctx);
    if (instructions.length > 0) {
      const expected = this.options.sampledMembers ?? instructions.length;
      this.plans.set(ctx.serverRound, {
        expected,
        selected: Math.max(expected, instructions.length),
        total: this.options.totalMembers ?? ctx.available.length,
      });
    }
    return instructions;
  }

  /** Distributed mode: what each member must do this round (null in central mode, where members only train). */
  memberPrivacy(serverRound: number): MemberPrivacySettings | null {
    if (this.options.mode !== 'distributed') return null;
    const m = this.plan(serverRound).expected;
    const zUpdate = this.updateMultiplier(m);
    const countStddev = this.options.adaptiveClipping ? this.countStddev(m) : 0;
    return {
      clippingNorm: this.clippingNorm,
      noiseStddev: (zUpdate * this.clippingNorm) / Math.sqrt(m),
      indicatorNoiseStddev: countStddev / Math.sqrt(m),
      expectedMembers: m,
    };
  }

  /** The charge a round will make if every expected member contributes (for a ledger check before it runs). */
  roundCharge(serverRound: number): RoundCharge {
    const plan = this.plan(serverRound);
    return { samplingRate: samplingRate(plan), noiseMultiplier: this.options.noiseMultiplier, steps: 1 };
  }

  aggregateTrain(serverRound: number, current: Parameters, results: TrainResult[], failures: Failure[]): TrainAggregate | null {
    if (results.length === 0) return null;
    checkTrainResults(current, results);
    const plan = this.plan(serverRound);
    const m = plan.expected;
    const sum = new Float64Array(current.data.length);
    let indicatorSum = 0;
    if (this.options.mode === 'central') {
      results.forEach((r, i) => {
        const { norm } = accumulateClippedUpdate(sum, current.data, r.parameters.data, this.clippingNorm, `results[${i}].parameters`);
        indicatorSum += unclippedIndicator(norm, this.clippingNorm);
      });
      addGaussianNoise(sum, this.updateMultiplier(m) * this.clippingNorm, this.random);
    } else {
      // Members clipped and noised; clipping their noised updates again would distort the noise.
      results.forEach((r, i) => {
        const local = r.parameters.data;
        for (let j = 0; j < sum.length; j++) sum[j] = sum[j]! + (local[j]! - current.data[j]!);
        if (this.options.adaptiveClipping) indicatorSum += this.reportedIndicator(r, i);
      });
    }
    return this.release(serverRound, current, sum, results.length, indicatorSum, aggregateMetrics(results), failures);
  }

  /**
   * Distributed mode with secure aggregation: the coordinator learns only Σ_k Δ_k over the
   * `members` that survived (and, with adaptive clipping, the sum of their noised
   * indicators). Same release as aggregateTrain.
   */
  aggregateDeltaSum(serverRound: number, current: Parameters, sum: { deltaSum: Float32Array; members: number; unclippedSum?: number }): TrainAggregate | null {
    if (this.options.mode !== 'distributed') {
      throw invalid('mode', `${this.name}: a sum of updates can only be released in distributed mode; central mode clips each update on the coordinator`, 'distributed', this.options.mode);
    }
    if (!Number.isInteger(sum.members) || sum.members < 0) throw invalid('members', `members is ${sum.members}; expected an integer >= 0`, 'integer >= 0', sum.members);
    if (sum.members === 0) return null;
    if (sum.deltaSum.length !== current.data.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `deltaSum holds ${sum.deltaSum.length} values but the model holds ${current.data.length}`, {
        details: { field: 'deltaSum', expected: current.data.length, received: sum.deltaSum.length },
      });
    }
    for (let i = 0; i < sum.deltaSum.length; i++) {
      if (!Number.isFinite(sum.deltaSum[i]!)) {
        throw new ConcordError(ErrorCode.NON_FINITE, `deltaSum holds ${sum.deltaSum[i]} at index ${i}`, { details: { field: `deltaSum[${i}]`, expected: 'finite', received: String(sum.deltaSum[i]) } });
      }
    }
    let indicatorSum = 0;
    if (this.options.adaptiveClipping) {
      if (typeof sum.unclippedSum !== 'number' || !Number.isFinite(sum.unclippedSum)) {
        throw invalid('unclippedSum', 'adaptive clipping needs the sum of the members’ noised indicators (unclippedSum)', 'finite number', sum.unclippedSum);
      }
      indicatorSum = sum.unclippedSum;
    }
    return this.release(serverRound, current, Float64Array.from(sum.deltaSum), sum.members, indicatorSum, { members: sum.members }, []);
  }

  /**
   * Central mode with hierarchical aggregation: shard aggregators clipped each member's update
   * to C and summed them (distributed/partial.ts), so the coordinator holds Σ_k clip(Δ_k) over
   * `members`; the noise is drawn here, once, as aggregateTrain draws it.
   */
  aggregateClippedSum(serverRound: number, current: Parameters, sum: { clippedSum: Float64Array; members: number; metrics: Record<string, number> }): TrainAggregate | null {
    if (this.options.mode !== 'central') {
      throw invalid('mode', `${this.name}: a clipped sum is released in central mode; distributed mode expects members' own noise`, 'central', this.options.mode);
    }
    if (this.options.adaptiveClipping) throw invalid('adaptiveClipping', `${this.name}: adaptive clipping needs each update's norm, which the shards that clipped them do not report`, 'off', 'on');
    if (!Number.isInteger(sum.members) || sum.members < 0) throw invalid('members', `members is ${sum.members}; expected an integer >= 0`, 'integer >= 0', sum.members);
    if (sum.members === 0) return null;
    if (sum.clippedSum.length !== current.data.length) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `clippedSum holds ${sum.clippedSum.length} values but the model holds ${current.data.length}`, { details: { field: 'clippedSum', expected: current.data.length, received: sum.clippedSum.length } });
    }
    const noised = Float64Array.from(sum.clippedSum);
    addGaussianNoise(noised, this.updateMultiplier(this.plan(serverRound).expected) * this.clippingNorm, this.random);
    return this.release(serverRound, current, noised, sum.members, 0, sum.metrics, []);
  }

  configureEvaluate(ctx: RoundContext): Instruction[] {
    return this.inner.configureEvaluate(ctx);
  }

  aggregateEvaluate(serverRound: number, results: EvaluateResult[], failures: Failure[]): EvaluateAggregate | null {
    return this.inner.aggregateEvaluate(serverRound, results, failures);
  }

  /** Every round released so far, oldest first. */
  privacyLog(): readonly PrivacyRoundRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** (ε, order) spent by the rounds so far at δ: their RDP curves added, then converted (../rdp.ts). */
  privacySpent(delta: number, orders: readonly number[] = DEFAULT_ORDERS): PrivacySpentResult {
    if (this.records.length === 0) {
      epsilonFromRdp({ orders, rdp: orders.map(() => 0), delta }); // validates δ and the orders
      return { epsilon: 0, order: NaN, rounds: 0 };
    }
    // Identical rounds are composed as `steps` at once: computeEpsilon's own arithmetic.
    const groups = new Map<string, { q: number; z: number; steps: number }>();
    for (const r of this.records) {
      const key = `${r.samplingRate}:${r.noiseMultiplier}`;
      const g = groups.get(key) ?? { q: r.samplingRate, z: r.noiseMultiplier, steps: 0 };
      g.steps++;
      groups.set(key, g);
    }
    const rdp = orders.map(() => 0);
    for (const g of groups.values()) {
      computeRdp({ samplingRate: g.q, noiseMultiplier: g.z, steps: g.steps, orders }).forEach((v, i) => (rdp[i] = rdp[i]! + v));
    }
    return { ...epsilonFromRdp({ orders, rdp, delta }), rounds: this.records.length };
  }

  /** The inner strategy's state under `inner/…`, after `dp/state`: clipping norm, z, and the round records. */
  saveState(): Parameters {
    const header = [STATE_VERSION, this.clippingNorm, this.options.noiseMultiplier, this.options.adaptiveClipping ? 1 : 0, this.records.length];
    const body = this.records.flatMap((r) => [r.serverRound, r.expectedMembers, r.selectedMembers, r.totalMembers, r.receivedMembers]);
    const own = Float32Array.from([...header, ...body]);
    const inner = this.inner.saveState();
    const specs: TensorSpec[] = [{ name: STATE_TENSOR, shape: [own.length] }, ...(inner?.specs ?? []).map((s) => ({ name: INNER_PREFIX + s.name, shape: [...s.shape] }))];
    const data = new Float32Array(own.length + (inner?.data.length ?? 0));
    data.set(own);
    if (inner) data.set(inner.data, own.length);
    return makeParameters(specs, data);
  }

  loadState(state: Parameters | null): void {
    this.plans.clear();
    if (state === null) {
      this.clippingNorm = this.initialClippingNorm;
      this.records = [];
      this.inner.loadState(null);
      return;
    }
    const first = state.specs[0];
    if (first?.name !== STATE_TENSOR || first.shape.length !== 1) {
      throw invalid('state.tensors[0]', `${this.name} state must start with a 1-D tensor ${STATE_TENSOR}`, STATE_TENSOR, first?.name);
    }
    if (state.data.length !== totalSize(state.specs)) {
      throw new ConcordError(ErrorCode.SHAPE_MISMATCH, `${this.name} state holds ${state.data.length} values but its manifest describes ${totalSize(state.specs)}`, {
        details: { field: 'state.data', expected: totalSize(state.specs), received: state.data.length },
      });
    }
    const own = state.data.subarray(0, first.shape[0]);
    const [version, clippingNorm, noiseMultiplier, adaptive, rounds] = Array.from(own.subarray(0, HEADER));
    if (version !== STATE_VERSION) throw invalid('state.dp.version', `${this.name} state has version ${version}; this build reads ${STATE_VERSION}`, STATE_VERSION, version);
    if (noiseMultiplier !== Math.fround(this.options.noiseMultiplier)) {
      throw invalid('state.dp.noiseMultiplier', `${this.name} state was saved with noise multiplier ${noiseMultiplier}, this run uses ${this.options.noiseMultiplier}`, this.options.noiseMultiplier, noiseMultiplier);
    }
    if ((adaptive === 1) !== Boolean(this.options.adaptiveClipping)) {
      throw invalid('state.dp.adaptive', `${this.name} state was saved ${adaptive === 1 ? 'with' : 'without'} adaptive clipping`, Boolean(this.options.adaptiveClipping), adaptive === 1);
    }
    if (!(clippingNorm! > 0 && Number.isFinite(clippingNorm))) throw invalid('state.dp.clippingNorm', `${this.name} state holds clipping norm ${clippingNorm}`, '> 0', clippingNorm);
    if (!Number.isInteger(rounds) || own.length !== HEADER + RECORD * rounds!) {
      throw invalid('state.dp.rounds', `${this.name} state holds ${own.length} values for ${rounds} rounds`, HEADER + RECORD * (rounds ?? 0), own.length);
    }
    const records: PrivacyRoundRecord[] = [];
    for (let k = 0; k < rounds!; k++) {
      const [serverRound, expected, selected, total, received] = Array.from(own.subarray(HEADER + RECORD * k, HEADER + RECORD * (k + 1)));
      records.push(this.record(serverRound!, { expected: expected!, selected: selected!, total: total! }, received!));
    }
    const innerSpecs = state.specs.slice(1).map((s, i) => {
      if (!s.name.startsWith(INNER_PREFIX)) throw invalid(`state.tensors[${i + 1}].name`, `${this.name} state tensor ${s.name} should be named ${INNER_PREFIX}<tensor>`, `${INNER_PREFIX}<tensor>`, s.name);
      return { name: s.name.slice(INNER_PREFIX.length), shape: [...s.shape] };
    });
    this.inner.loadState(innerSpecs.length === 0 ? null : makeParameters(innerSpecs, state.data.slice(first.shape[0])));
    this.clippingNorm = this.options.adaptiveClipping ? clippingNorm! : this.options.clippingNorm;
    this.records = records;
  }

  private release(
    serverRound: number,
    current: Parameters,
    noisedSum: Float64Array,
    received: number,
    indicatorSum: number,
    memberMetrics: Record<string, number>,
    failures: Failure[],
  ): TrainAggregate | null {
    const plan = this.plan(serverRound);
    const m = plan.expected;
    const usedNorm = this.clippingNorm;
    const next = new Float32Array(current.data.length);
    for (let i = 0; i < next.length; i++) next[i] = current.data[i]! + noisedSum[i]! / m;

    const record = this.record(serverRound, plan, received);
    const metrics: Record<string, number> = {
      ...memberMetrics,
      dpClippingNorm: usedNorm,
      dpNoiseMultiplier: record.noiseMultiplier,
      dpSamplingRate: record.samplingRate,
      // Std actually added to the average: distributed shares scale with how many arrived.
      dpNoiseStddev: (this.updateMultiplier(m) * usedNorm * (this.options.mode === 'central' ? 1 : Math.sqrt(received / m))) / m,
    };
    if (this.options.adaptiveClipping) {
      // Central mode noises the count here; distributed members noised their own indicators.
      const countStddev = this.options.mode === 'central' ? this.countStddev(m) : 0;
      const fraction = noisedUnclippedFraction(indicatorSum, m, countStddev, this.random);
      this.clippingNorm = nextClippingNorm(usedNorm, fraction, this.options.adaptiveClipping);
      metrics.dpUnclippedFraction = fraction;
    }
    this.records.push(record);
    this.plans.delete(serverRound);

    const synthetic: TrainResult = { memberId: 'dp-average', parameters: makeParameters(current.specs, next), numExamples: 1, metrics: {} };
    const out = this.inner.aggregateTrain(serverRound, current, [synthetic], failures);
    if (out === null) return null;
    return { parameters: out.parameters, metrics: { ...out.metrics, ...metrics } };
  }

  private plan(serverRound: number): RoundPlan {
    const plan = this.plans.get(serverRound);
    if (plan) return plan;
    const expected = this.options.sampledMembers;
    if (expected === undefined) {
      throw invalid('sampledMembers', `${this.name}: round ${serverRound} was not configured through this strategy, so its expected number of members is unknown; set sampledMembers`, 'positive integer', undefined);
    }
    return { expected, selected: expected, total: this.options.totalMembers ?? 0 };
  }

  private record(serverRound: number, plan: RoundPlan, received: number): PrivacyRoundRecord {
    const shortfall = this.options.mode === 'distributed' ? Math.sqrt(Math.min(1, received / plan.expected)) : 1;
    return {
      serverRound,
      expectedMembers: plan.expected,
      selectedMembers: plan.selected,
      totalMembers: plan.total,
      receivedMembers: received,
      samplingRate: samplingRate(plan),
      noiseMultiplier: this.options.noiseMultiplier * shortfall,
    };
  }

  private countStddev(m: number): number {
    return this.options.adaptiveClipping?.clippedCountStddev ?? defaultClippedCountStddev(m);
  }

  /** z_Δ: z itself, or what the count noise leaves of it under adaptive clipping. */
  private updateMultiplier(m: number): number {
    const z = this.options.noiseMultiplier;
    if (!this.options.adaptiveClipping) return z;
    try {
      return updateNoiseMultiplier(z, this.countStddev(m));
    } catch (error) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${this.name}: ${(error as Error).message}`, {
        details: { field: 'strategy.options.adaptiveClipping.clippedCountStddev', expected: `> ${z / 2}`, received: this.countStddev(m) },
        cause: error,
      });
    }
  }

  private reportedIndicator(result: TrainResult, index: number): number {
    const value = result.metrics[UNCLIPPED_METRIC];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const field = `results[${index}].metrics.${UNCLIPPED_METRIC}`;
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `result of member ${result.memberId}: ${field} is missing; distributed adaptive clipping needs each member's noised indicator`, {
        details: { field, expected: 'finite number', received: value, memberId: result.memberId },
      });
    }
    return value;
  }
}

function samplingRate(plan: RoundPlan): number {
  return plan.total > 0 ? Math.min(1, plan.selected / plan.total) : 1;
}

/** Wraps `inner` with client-level differential privacy (DP-FedAvg). */
export function withDifferentialPrivacy(inner: Strategy, options: DifferentialPrivacyOptions): DifferentiallyPrivateStrategy {
  return new DifferentiallyPrivateStrategy(inner, options);
}
