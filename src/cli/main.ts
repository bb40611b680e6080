// `concord` — the command line. Every command has --help; commands that report take --json.
// Registering the commands loads only commander and small modules; each action imports
// what it needs when it runs (options.ts lazyAction), so --help starts as fast as Node.

import { Command } from 'commander';
import { registerAgreementCommands } from './agreement-commands.js';
import { registerAnalyticsCommands } from './analytics-commands.js';
import { registerCoordinatorCommand } from './coordinator-command.js';
import { registerDataCommands } from './data-commands.js';
import { registerDbCommands } from './db-commands.js';
import { registerDemoCommand } from './demo-command.js';
import { EX_USAGE } from './exit-codes.js';
import { registerGovernanceCommands } from './governance-commands.js';
import { registerModelCommands } from './model-commands.js';
import { registerNodeCommand } from './node-command.js';
import { fail } from './options.js';
import { registerPlanCommand } from './plan-command.js';
import { registerResourcesCommands } from './resources-commands.js';
import { registerPrivacyCommand } from './privacy-command.js';
import { registerRunCommands } from './run-commands.js';
import { registerSharingCommands } from './sharing-commands.js';
import { registerSimulateCommand } from './simulate-command.js';
import { registerAggregatorCommand } from './aggregator-command.js';

const program = new Command('concord')
  .description('Federated learning for consortia whose data never leaves its owner')
  .version('0.1.0')
  .showHelpAfterError()
  // Commander has printed the problem (and the help); a usage error is EX_USAGE, not its 1.
  // Set before the commands are added, which inherit it.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EX_USAGE));

registerDemoCommand(program);
registerSimulateCommand(program);
registerAggregatorCommand(program);
registerCoordinatorCommand(program);
registerDbCommands(program);
registerNodeCommand(program);
registerRunCommands(program);
registerAnalyticsCommands(program);
registerGovernanceCommands(program);
registerAgreementCommands(program);
registerModelCommands(program);
registerPrivacyCommand(program);
registerPlanCommand(program);
registerResourcesCommands(program);
registerSharingCommands(program);
registerDataCommands(program);

// Actions report their own errors (fail); what still escapes is a bug, exit 70.
await program.parseAsync(process.argv).catch((error: unknown) => fail(error, false));
