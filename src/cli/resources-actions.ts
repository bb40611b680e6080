// What `concord resources set|show` do (registered in resources-commands.ts).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadIdentity } from '../governance/identity.js';
import { CoordinatorClient } from '../node/client.js';
import { readCa } from '../node/coordinator-fetch.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { operatorRequest, operatorToken } from './operator-api.js';
import { coordinatorUrl } from './options.js';

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

export async function resourcesSet(opts: SetOptions): Promise<void> {
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
  const client = new CoordinatorClient(coordinatorUrl(opts.coordinator), { identity, credentials: { memberId }, ...(ca ? { ca: readCa(ca, opts.ca ? '--ca' : 'CONCORD_CA') } : {}) });
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
}

export async function resourcesShow(opts: { coordinator?: string; token?: string; json?: boolean }): Promise<void> {
  const document = await operatorRequest<{ members: Record<string, unknown>[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/resources');
  if (opts.json) return void process.stdout.write(JSON.stringify(document) + '\n');
  if (document.members.length === 0) return void process.stdout.write('no member has declared resources yet\n');
  for (const m of document.members) process.stdout.write(`${String(m.name).padEnd(16)} ${JSON.stringify({ ...m, name: undefined })}\n`);
}

