// The ways a run's contributions can be valued (valuation/federated.ts; auto: exact up to
// 10 members per round, Monte Carlo beyond). Apart so that the CLI can list them in --help
// without loading the valuation code.

export const VALUATION_METHODS = ['auto', 'exact', 'monte-carlo', 'loo'] as const;
