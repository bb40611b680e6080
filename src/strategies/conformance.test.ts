import { FedAdagrad, FedAdam, FedAvg, FedAvgM, FedAvgNormBound, FedMedian, FedProx, FedTrimmedAvg, FedYogi, Krum, MultiKrum } from './index.js';
import { strategyConformance } from './strategy-conformance.js';

strategyConformance('fedavg', () => new FedAvg());
strategyConformance('fedprox', () => new FedProx({ mu: 0.1 }));
strategyConformance('fedavgm', () => new FedAvgM({ serverLearningRate: 0.7, momentum: 0.9 }));
strategyConformance('fedadam', () => new FedAdam());
strategyConformance('fedyogi', () => new FedYogi());
strategyConformance('fedadagrad', () => new FedAdagrad());
strategyConformance('fedmedian', () => new FedMedian());
strategyConformance('fedtrimmedavg', () => new FedTrimmedAvg());
strategyConformance('fedtrimmedavg (beta 0.4)', () => new FedTrimmedAvg({ beta: 0.4 }));
strategyConformance('krum', () => new Krum());
strategyConformance('krum (f 1)', () => new Krum({ f: 1 }));
strategyConformance('multikrum', () => new MultiKrum());
strategyConformance('multikrum (f 1, m 1)', () => new MultiKrum({ f: 1, m: 1 }));
strategyConformance('fedavg-normbound', () => new FedAvgNormBound());
strategyConformance('fedavg-normbound (normBound 2)', () => new FedAvgNormBound({ normBound: 2 }));
