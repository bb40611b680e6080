// `concord node`: run a member node next to its data until SIGINT/SIGTERM (node-action.ts).

import type { Command } from 'commander';
import { DEFAULT_CARBON_INTENSITY, DEFAULT_POWER_WATTS } from '../node/energy.js';
import { lazyAction, parseIntOption, parseNumberOption } from './options.js';

const actions = () => import('./node-action.js');

export function registerNodeCommand(program: Command): void {
  program
    .command('node')
    .description("run a member node: trains on this member's own data when the coordinator asks; raw data never leaves")
    .option('--coordinator <url>', 'coordinator URL, or several replicas comma-separated (or $CONCORD_COORDINATOR)')
    .requiredOption('--name <name>', 'member name (letters, digits, . _ -)')
    .requiredOption('--data <spec>', 'data spec, e.g. mnist:member=0,members=5,partition=dirichlet,alpha=0.5 or csv:FILE,label=COLUMN')
    .option('--state-dir <dir>', 'where the node keeps its identity (Ed25519 key) and enrollment', '.concord/nodes')
    .option('--invitation <code>', "the operator's single-use invitation code, needed for the first enrollment unless the coordinator has open enrollment (or $CONCORD_INVITATION)")
    .option('--ca <file>', "PEM of the coordinator's CA or self-signed certificate; HTTPS then trusts only it (or $CONCORD_CA)")
    .option('--privacy-budget <ε>', "this member's own differential-privacy budget; it then refuses tasks without DP or beyond it", parseNumberOption('--privacy-budget'))
    .option('--privacy-delta <δ>', 'δ of that budget', parseNumberOption('--privacy-delta'), 1e-5)
    .option('--power-watts <W>', 'power this node draws while training, used when RAPL energy counters are unreadable', parseNumberOption('--power-watts'), DEFAULT_POWER_WATTS)
    .option('--carbon-intensity <g>', "grid carbon intensity where this node runs, gCO2e/kWh (default: world average)", parseNumberOption('--carbon-intensity'), DEFAULT_CARBON_INTENSITY)
    .option('--analytics-min-count <k>', 'with a schema= data spec: refuse analytics queries whose minimum count per released cell is below k (default 5)', parseIntOption('--analytics-min-count'))
    .option('--analytics-queries <types>', 'with a schema= data spec: answer only these analytics query types (comma-separated, e.g. count,mean,histogram)')
    .option('--owner-key <key|file>', "the data owner's public key (base64url, or an identity/key file); the node then trains only on plans this owner approved")
    .option('--json', 'machine-readable log lines')
    .action(lazyAction(actions, 'runNode'));
}
