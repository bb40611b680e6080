// `concord resources set` (a member declares its compute, signed with its own key) and
// `concord resources show` (the consortium's declarations, ready for `concord plan`).

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadIdentity } from '../governance/identity.js';
import { CoordinatorClient } from '../node/client.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { coordinatorUrl, fail, operatorRequest, operatorToken, parseNumberOption } from './options.js';
import { withConn } from './run-commands.js';

interface SetOptions {
  coordinator?: string;
  name: string;
  stateDir: string;
  ca?: string;
  capacity?: number;
  unlimited?: boolean;
  efficiency: number;
  costPerUnit?: number;
  availability?: number;
  carbonIntensity?: number;
  powerWatts?: number;
  unitsPerHour?: number;
  json?: boolean;
}

export function registerResourcesCommands(program: Command): void {
  const resources = program.command('resources').description("members' declared compute resources, the input of resource planning");

  resources
    .command('set')
    .description("declare this member's resources to the coordinator, signed with the member node's key")
    .option('--coordinator <url>', 'coordinator URL (or $CONCORD_COORDINATOR)')
    .requiredOption('--name <name>', 'the member (as enrolled by `concord node --name`)')
    .option('--state-dir <dir>', "the member node's state directory (identity and enrollment)", '.concord/nodes')
    .option('--ca <file>', "PEM of the coordinator's CA to pin for HTTPS (or $CONCORD_CA)")
    .option('--capacity <units>', 'R_i: most units of work (e.g. sample-epochs) per planning period', parseNumberOption('--capacity'))
    .option('--unlimited', 'declare no capacity limit instead of --capacity')
    .requiredOption('--efficiency <f>', 'f_i in (0, 1]: the share of a unit of work that counts as effective compute', parseNumberOption('--efficiency'))
    .option('--cost-per-unit <cost>', 'price of one unit of work', parseNumberOption('--cost-per-unit'))
    .option('--availability <share>', 'largest share of its capacity the consortium may use, in [0, 1]', parseNumberOption('--availability'))
    .option('--carbon-intensity <g>', 'grid carbon intensity, gCO2/kWh (default 475)', parseNumberOption('--carbon-intensity'))
    .option('--power-watts <W>', 'power draw while working', parseNumberOption('--power-watts'))
    .option('--units-per-hour <n>', 'units of work per hour while working', parseNumberOption('--units-per-hour'))
    .option('--json', 'machine-readable output')
    .action(async (opts: SetOptions) => {
      try {
        if ((opts.capacity === undefined) === !opts.unlimited) {
          throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'give either --capacity or --unlimited', { details: { field: '--capacity' } });
        }
        const identity = await loadIdentity(join(opts.stateDir, `${opts.name}.identity.json`));
        let memberId: string;
        try {
          memberId = (JSON.parse(await readFile(join(opts.stateDir, `${opts.name}.json`), 'utf8')) as { memberId: string }).memberId;
        } catch (cause) {
          throw new ConcordError(ErrorCode.UNAUTHENTICATED, `${opts.name} has not enrolled from ${opts.stateDir}; start \`concord node --name ${opts.name}\` once first`, { details: { field: '--state-dir' }, cause });
        }
        const ca = opts.ca ?? process.env.CONCORD_CA;
        const client = new CoordinatorClient(coordinatorUrl(opts.coordinator), { identity, credentials: { memberId }, ...(ca ? { ca: await readFile(ca) } : {}) });
        const declaration = {
          capacity: opts.unlimited ? null : opts.capacity,
          efficiency: opts.efficiency,
          ...(opts.costPerUnit !== undefined ? { costPerUnit: opts.costPerUnit } : {}),
          ...(opts.availability !== undefined ? { availability: opts.availability } : {}),
          ...(opts.carbonIntensity !== undefined ? { carbonIntensity: opts.carbonIntensity } : {}),
          ...(opts.powerWatts !== undefined ? { powerWatts: opts.powerWatts } : {}),
          ...(opts.unitsPerHour !== undefined ? { unitsPerHour: opts.unitsPerHour } : {}),
        };
        const accepted = await client.declareResources(declaration);
        process.stdout.write(opts.json ? JSON.stringify(accepted) + '\n' : `declared resources of ${opts.name}: ${JSON.stringify(accepted.resources)}\n`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });

  withConn(resources.command('show'))
    .description("the consortium's declared resources as a resources document (use with `concord plan --resources`)")
    .action(async (opts: { coordinator?: string; token?: string; json?: boolean }) => {
      try {
        const document = await operatorRequest<{ members: Record<string, unknown>[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/resources');
        if (opts.json) return void process.stdout.write(JSON.stringify(document) + '\n');
        if (document.members.length === 0) return void process.stdout.write('no member has declared resources yet\n');
        for (const m of document.members) process.stdout.write(`${String(m.name).padEnd(16)} ${JSON.stringify({ ...m, name: undefined })}\n`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });
}
