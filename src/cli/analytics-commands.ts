// `concord analytics run|list|show`: federated statistics over the members' data (src/analytics),
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
    .action(lazyAction(actions, 'runAnalytics'));
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
