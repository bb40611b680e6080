// `concord demo` (what `npm start` runs): a whole consortium on this machine, on real data.

import type { Command } from 'commander';
import { DEMO_DEFAULTS, runDemo } from '../demo/demo.js';
import { fail, parseIntOption, parseNumberOption } from './options.js';

export function registerDemoCommand(program: Command): void {
  const d = DEMO_DEFAULTS;
  program
    .command('demo')
    .description('run a local consortium: a coordinator and member processes federating on real MNIST digits; ends with one JSON summary line on stdout')
    .option('--members <n>', 'member organizations', parseIntOption('--members'), d.members)
    .option('--rounds <n>', 'federated rounds', parseIntOption('--rounds'), d.rounds)
    .option('--partition <kind>', 'iid | dirichlet | shards', d.partition)
    .option('--alpha <α>', 'Dirichlet concentration (smaller = more skewed)', parseNumberOption('--alpha'), d.alpha)
    .option('--strategy <name>', 'fedavg | fedprox | fedavgm | fedadam | fedyogi | fedadagrad | fedmedian | fedtrimmedavg | krum | multikrum | fedavg-normbound', d.strategy)
    .option('--epochs <n>', 'local epochs per round', parseIntOption('--epochs'), d.epochs)
    .option('--batch-size <n>', 'local batch size', parseIntOption('--batch-size'), d.batchSize)
    .option('--learning-rate <lr>', 'local SGD learning rate', parseNumberOption('--learning-rate'), d.learningRate)
    .option('--seed <n>', 'seed for partitions, initial weights and selection', parseIntOption('--seed'), d.seed)
    .option('--secure', 'secure aggregation (SecAgg+): the coordinator only sees the sum of updates')
    .option('--dp', 'differential privacy: DP-SGD inside every member, with a per-dataset ε budget')
    .option('--noise-multiplier <z>', 'DP-SGD noise multiplier', parseNumberOption('--noise-multiplier'), d.noiseMultiplier)
    .option('--clipping-norm <C>', 'DP-SGD per-example clipping norm', parseNumberOption('--clipping-norm'), d.clippingNorm)
    .option('--dp-epochs <n>', 'local epochs per round under DP-SGD (each one spends ε)', parseIntOption('--dp-epochs'), d.dpEpochs)
    .option('--dp-learning-rate <lr>', 'learning rate under DP-SGD', parseNumberOption('--dp-learning-rate'), d.dpLearningRate)
    .option('--epsilon-budget <ε>', 'privacy budget of every member dataset (δ = 1e-5)', parseNumberOption('--epsilon-budget'), d.epsilonBudget)
    .option('--no-baseline', 'skip the centralized baseline')
    .option('--dir <dir>', 'where the demo keeps its database and logs (wiped first)', d.dir)
    .option('--quiet', 'print only the JSON summary')
    .action(async (opts: typeof DEMO_DEFAULTS & { quiet?: boolean }) => {
      try {
        const started = Date.now();
        const log = opts.quiet ? () => undefined : (line: string) => process.stderr.write(line + '\n');
        const summary = await runDemo({ ...DEMO_DEFAULTS, ...opts, partition: opts.partition as typeof d.partition, log });
        log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; inspect with: concord export --db ${summary.db} --run ${summary.runId} --out model`);
        const { rounds, members, accuracy, centralizedAccuracy, seconds, bytesPerMemberPerRound, privacy, contributions, co2Grams } = summary;
        const line: Record<string, unknown> = { rounds, members, accuracy: round4(accuracy), centralizedAccuracy: centralizedAccuracy === null ? null : round4(centralizedAccuracy), seconds: Math.round(seconds * 10) / 10, bytesPerMemberPerRound };
        if (privacy) {
          line.privacy = {
            ...privacy,
            epsilon: privacy.epsilon === null ? null : round4(privacy.epsilon),
            accuracyWithoutPrivacy: round4(privacy.accuracyWithoutPrivacy),
            accuracyCost: round4(privacy.accuracyCost),
          };
        }
        line.contributions = contributions === null ? null : Object.fromEntries(Object.entries(contributions).map(([name, phi]) => [name, round4(phi)]));
        line.co2Grams = Math.round(co2Grams * 100) / 100;
        process.stdout.write(JSON.stringify(line) + '\n');
        process.exit(0);
      } catch (error) {
        fail(error, false);
      }
    });
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;
