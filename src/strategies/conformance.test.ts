import { FedAdagrad, FedAdam, FedAvg, FedAvgM, FedProx, FedYogi } from './index.js';
import { strategyConformance } from './strategy-conformance.js';

strategyConformance('fedavg', () => new FedAvg());
strategyConformance('fedprox', () => new FedProx({ mu: 0.1 }));
strategyConformance('fedavgm', () => new FedAvgM({ serverLearningRate: 0.7, momentum: 0.9 }));
strategyConformance('fedadam', () => new FedAdam());
strategyConformance('fedyogi', () => new FedYogi());
strategyConformance('fedadagrad', () => new FedAdagrad());
