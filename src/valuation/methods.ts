// The ways a run's contributions can be valued: one record per method saying which game it
// plays, what it needs, what it rewards and how it is biased (docs/sharing.md has the
// long form). Apart from the valuation code so that the CLI can list the methods in --help
// and the agreement can name them without loading TensorFlow or the estimators.

import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { closestName } from '../protocol/problems.js';

export const VALUATION_METHODS = ['auto', 'exact', 'monte-carlo', 'loo', 'final-model', 'gtg', 'retrain'] as const;
export type ValuationMethodName = (typeof VALUATION_METHODS)[number];

/** The coordinator's default when the agreement names none and updates were kept. */
export const DEFAULT_VALUATION_METHOD: ValuationMethodName = 'final-model';

export interface ValuationMethodInfo {
  name: ValuationMethodName;
  /** round-wise: one game per round over that round's updates; final-model: one game over models rebuilt from all stored updates; retrain: one game over models trained per coalition. */
  game: 'round-wise' | 'final-model' | 'retrain';
  /** What must exist to compute it: the run's stored updates, or a function that trains on a coalition's data. */
  needs: 'stored-updates' | 'train-function';
  rewards: string;
  biases: string;
  cites: string;
}

export const VALUATION_METHOD_INFO: Record<ValuationMethodName, ValuationMethodInfo> = {
  auto: {
    name: 'auto',
    game: 'round-wise',
    needs: 'stored-updates',
    rewards: 'as exact up to 10 members per round, as monte-carlo beyond',
    biases: 'those of the round-wise game',
    cites: 'Wang, Rong, Xia, Yang 2020, arXiv 2009.06192',
  },
  exact: {
    name: 'exact',
    game: 'round-wise',
    needs: 'stored-updates',
    rewards: "each round's accuracy gain, divided by Shapley values over FedAvg of that round's updates, summed over rounds",
    biases: 'late rounds add small, noisy, often negative marginals; a member whose update is useful only with the others (label-skewed data) is penalised every round, so its value sinks as rounds are added',
    cites: 'Wang, Rong, Xia, Yang 2020, arXiv 2009.06192',
  },
  'monte-carlo': {
    name: 'monte-carlo',
    game: 'round-wise',
    needs: 'stored-updates',
    rewards: 'as exact, estimated from sampled permutations per round',
    biases: 'as exact, plus Monte Carlo error (reported) and, with truncation, a bias it does not cover',
    cites: 'Wang et al. 2020; Castro, Gómez, Tejada 2009; Ghorbani & Zou 2019, arXiv 1904.02868',
  },
  loo: {
    name: 'loo',
    game: 'round-wise',
    needs: 'stored-updates',
    rewards: 'what each round would have lost without the member, summed',
    biases: 'members with similar data share no credit: duplicated or redundant data is worth 0 to each holder',
    cites: 'Cook 1977; Ghorbani & Zou 2019 §2',
  },
  'final-model': {
    name: 'final-model',
    game: 'final-model',
    needs: 'stored-updates',
    rewards: "the final accuracy of the model rebuilt from each coalition's stored updates, divided by Shapley values",
    biases: "updates were computed from the model everyone built, not the coalition's own, so members that help on top of others are credited as if they had had that help alone; v(N) is the FedAvg replay, not a server optimizer's model",
    cites: 'Song, Tong, Wei 2019 (IEEE Big Data, OR method); Liu et al. 2022',
  },
  gtg: {
    name: 'gtg',
    game: 'round-wise',
    needs: 'stored-updates',
    rewards: 'as exact, with rounds that gained little skipped and permutations truncated and guided',
    biases: 'truncation sets small marginals to 0 (a bias toward members that act early in permutations); skipping rounds drops their, usually negative, late-round marginals',
    cites: 'Liu, Chen, Yang, Zhang, Yu 2022, ACM TIST 13(4), arXiv 2109.02053',
  },
  retrain: {
    name: 'retrain',
    game: 'retrain',
    needs: 'train-function',
    rewards: "the accuracy of a model trained on each coalition's data alone: the data Shapley value of members",
    biases: 'the reference, but training noise enters every coalition value; one training per coalition (64 for 6 members), so only where the data is (a simulation or the demo)',
    cites: 'Ghorbani & Zou 2019, arXiv 1904.02868; Jia et al. 2019, arXiv 1902.10275',
  },
};

/** The method name, or an error naming the field and the closest valid name. */
export function valuationMethod(value: unknown, field = 'method'): ValuationMethodName {
  if (typeof value === 'string' && (VALUATION_METHODS as readonly string[]).includes(value)) return value as ValuationMethodName;
  const closest = typeof value === 'string' ? closestName(value, VALUATION_METHODS) : undefined;
  throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${field} must be one of ${VALUATION_METHODS.join(', ')}, got ${JSON.stringify(value)}${closest ? ` (did you mean "${closest}"?)` : ''}`, {
    details: { field, expected: VALUATION_METHODS, received: value },
  });
}
