// `concord run start|list|show|stop` and `concord status`: the operator's view of runs. What
// the commands do is in run-actions.ts, loaded when one runs.

import type { Command } from 'commander';
import { lazyAction } from './options.js';

/** The options of every command that talks to a coordinator (withConn). */
export interface Conn {
  coordinator?: string;
  token?: string;
  json?: boolean;
}

export const withConn = (c: Command): Command =>
  c
    .option('--coordinator <url>', 'coordinator URL (or $CONCORD_COORDINATOR)')
    .option('--token <token>', 'operator or API token (or $CONCORD_OPERATOR_TOKEN, or .concord/operator-token)')
    .option('--ca <file>', "PEM of the coordinator's CA or self-signed certificate to pin for HTTPS (or $CONCORD_CA)")
    .option('--json', 'machine-readable output')
    .hook('preAction', async (command) => (await import('./operator-api.js')).useCa((command.opts() as { ca?: string }).ca));

const actions = () => import('./run-actions.js');

export function registerRunCommands(program: Command): void {
  const run = program.command('run').description('start and inspect federated training runs');

  withConn(run.command('start'))
    .description('start a run from a JSON run configuration (see README: configuration)')
    .requiredOption('--config <file>', 'run configuration JSON')
    .option('--watch', 'print each round as it completes until the run ends')
    .action(lazyAction(actions, 'startRun'));

  withConn(run.command('list')).description('list runs').action(lazyAction(actions, 'listRuns'));

  withConn(run.command('show')).description('show a run and its rounds').argument('<runId>').action(lazyAction(actions, 'showRun'));

  withConn(run.command('stop'))
    .description('stop a running run: its round loop ends after the current step, the run is marked stopped with your reason, and the audit log records it')
    .argument('<runId>')
    .option('--reason <text>', 'why the run is stopped (kept with the run and in the audit log)')
    .action(lazyAction(actions, 'stopRun'));

  withConn(program.command('status')).description('members (online or not) and runs at a glance').action(lazyAction(actions, 'showStatus'));
}
