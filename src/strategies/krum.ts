// Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui, Stainer 2017, "Machine Learning with
// Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS). Each member's model is scored
// by the sum of squared distances to its K − f − 2 nearest others; Krum adopts the
// best-scored model, Multi-Krum the plain average of the m best. With K > 2f + 2 no f
// Byzantine members can make a far-away model win. With fewer members the neighbour count is
// clamped to at least 1 and the rule still runs, without that guarantee.
//
// Unlike Flower, which weights the Multi-Krum average by numExamples, the m models are
// averaged uniformly as in the paper: a selected member's claimed example count cannot
// stretch the aggregate.

import { z } from 'zod';
import { type Parameters, makeParameters } from '../protocol/tensors.js';
import { coordinateMean, multiKrum } from '../core/robust.js';
import { BaseStrategy } from './base.js';
import { aggregateMetrics } from './common.js';
import { parseOptions } from './options.js';
import { maxTolerated, robustCandidates } from './robust-common.js';
import { INDIVIDUAL_TRAITS, type Failure, type TrainAggregate, type TrainResult } from './strategy.js';

/** f: Byzantine members tolerated. Default per round ⌊(K − 3)/2⌋ (at least 0), K = members with examples. */
const tolerated = z.number().int().min(0).optional();

export const KrumOptionsSchema = z.object({ f: tolerated }).strict();
export const MultiKrumOptionsSchema = z
  .object({
    f: tolerated,
    /** m: models averaged. Default per round K − f; capped at K. */
    m: z.number().int().min(1).optional(),
  })
  .strict();
export type KrumOptions = z.input<typeof KrumOptionsSchema>;
export type MultiKrumOptions = z.input<typeof MultiKrumOptionsSchema>;

abstract class KrumFamily extends BaseStrategy {
  override readonly traits = INDIVIDUAL_TRAITS;
  readonly f: number | undefined;
  /** Member ids whose models made the last aggregate, best first. */
  lastSelected: string[] = [];

  protected constructor(f: number | undefined) {
    super();
    this.f = f;
  }

  protected abstract selectCount(K: number, f: number): number;

  /** Adds `tolerated` (f used this round) and `selected` (models averaged). */
  override aggregateTrain(_serverRound: number, current: Parameters, results: TrainResult[], _failures: Failure[]): TrainAggregate | null {
    const usable = robustCandidates(current, results);
    if (usable === null) return null;
    const K = usable.length;
    const f = this.f ?? maxTolerated(K);
    const vectors = usable.map((r) => r.parameters.data);
    const chosen = multiKrum(vectors, f, Math.min(this.selectCount(K, f), K));
    this.lastSelected = chosen.map((i) => usable[i]!.memberId);
    const data = chosen.length === 1 ? new Float32Array(vectors[chosen[0]!]!) : coordinateMean(chosen.map((i) => vectors[i]!));
    return { parameters: makeParameters(current.specs, data), metrics: { ...aggregateMetrics(results), tolerated: f, selected: chosen.length } };
  }
}

export class Krum extends KrumFamily {
  readonly name = 'krum';

  constructor(options: KrumOptions = {}) {
    super(parseOptions('krum', KrumOptionsSchema, options).f);
  }

  protected selectCount(): number {
    return 1;
  }
}

export class MultiKrum extends KrumFamily {
  readonly name = 'multikrum';
  readonly m: number | undefined;

  constructor(options: MultiKrumOptions = {}) {
    const parsed = parseOptions('multikrum', MultiKrumOptionsSchema, options);
    super(parsed.f);
    this.m = parsed.m;
  }

  protected selectCount(K: number, f: number): number {
    return this.m ?? Math.max(1, K - f);
  }
}
