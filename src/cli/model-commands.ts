// `concord export` (a round's global model as a standard TF.js model) and
// `concord fuse` (one-shot model fusion θ = Σ λ_k θ_k of independently trained models);
// model-actions.ts does the work.

import type { Command } from 'commander';
import { DEFAULT_DB } from '../coordinator/defaults.js';
import { lazyAction, parseIntOption, parseNumberOption } from './options.js';

const actions = () => import('./model-actions.js');

export function registerModelCommands(program: Command): void {
  program
    .command('export')
    .description("write a run's global model after round N as a TensorFlow.js model (model.json + weights.bin)")
    .requiredOption('--run <id>', 'run id')
    .option('--round <n>', 'round (default: the last completed one; 0 = initial model)', parseIntOption('--round'))
    .requiredOption('--out <dir>', 'output directory')
    .option('--db <url>', 'read from this coordinator database', DEFAULT_DB)
    .option('--coordinator <url>', 'read from a running coordinator instead of a database')
    .option('--token <token>', 'operator token (with --coordinator)')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'exportModel'));

  program
    .command('fuse')
    .description('fuse independently trained models of the same architecture: θ = Σ λ_k θ_k (two models: λθ_A + (1−λ)θ_B)')
    .requiredOption('--model <dir...>', 'TF.js model directories (repeat --model)')
    .option('--lambda <λ...>', 'weights: one λ for two models, or one per model summing to 1 (default: equal)', (v: string, prev: number[] | undefined) => [...(prev ?? []), parseNumberOption('--lambda')(v)])
    .requiredOption('--out <dir>', 'output directory')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'fuseModels'));
}
