// `concord analytics run|approve|list|show|report`: federated statistics over the members' data (src/analytics),
// checked by the coordinator against the agreement, released exact with the minimum count or
// with DP noise at a stated ε. What the commands do is in analytics-actions.ts.

import type { Command } from 'commander';
import { lazyAction } from './options.js';
import { withConn } from './run-commands.js';

const actions = () => import('./analytics-actions.js');

export function registerAnalyticsCommands(program: Command): void {
  const analytics = program.command('analytics').description('federated analytics: counts, means, histograms, quantiles, correlations, survival curves over every member’s data, never pooled');
  withConn(analytics.command('run'))
    .description('run a query (JSON or YAML; see README: analytics) and print what was released')
    .requiredOption('--query <file>', 'the query file')
    .option('--approval <file...>', "data owners' signed approvals of the query (concord analytics approve), where the agreement asks for them")
    .action(lazyAction(actions, 'runAnalytics'));
  analytics
    .command('approve')
    .description("sign a query as a member's data owner (offline): the approval file travels with the query to the coordinator and to the member")
    .requiredOption('--query <file>', 'the query file, exactly as it will be run')
    .requiredOption('--member <name>', 'the member whose owner decides (its agreement name)')
    .requiredOption('--identity <file>', "the data owner's identity file (Ed25519 key)")
    .option('--reject', 'reject the query instead')
    .option('--reason <text>', 'why (kept with the decision)')
    .option('--out <file>', 'write the approval here (default: stdout)')
    .option('--json', 'machine-readable output')
    .action(lazyAction(actions, 'approveAnalytics'));
  withConn(analytics.command('list')).description('list queries and their status').action(lazyAction(actions, 'listAnalytics'));
  withConn(analytics.command('report'))
    .description('write every query and its released result, with charts, as one self-contained HTML file')
    .requiredOption('--out <file>', 'the HTML file to write')
    .action(lazyAction(actions, 'analyticsReport'));
  withConn(analytics.command('show'))
    .description('show one query and its released result')
    .argument('<queryId>')
    .action(lazyAction(actions, 'showAnalytics'));
}
