// `concord coordinator`: run the coordinator service until SIGINT/SIGTERM.

import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { DEFAULT_DB, DEFAULT_PORT, startCoordinatorService } from '../coordinator/service.js';
import { fingerprint } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { RunConfigSchema, parseMessage } from '../protocol/messages.js';
import { fail, parseIntOption } from './options.js';

export function registerCoordinatorCommand(program: Command): void {
  program
    .command('coordinator')
    .description('run the coordinator: enrolls members, drives runs round by round, keeps state in the database')
    .option('--port <port>', `TCP port (0 picks a free one)`, parseIntOption('--port'), DEFAULT_PORT)
    .option('--host <host>', 'address to listen on; 0.0.0.0 accepts members from other hosts', '127.0.0.1')
    .option('--db <url>', 'SQLite file (or sqlite:PATH); postgres://… for deployment', DEFAULT_DB)
    .option('--operator-token <token>', 'operator API token (default: kept in operator-token beside the database)')
    .option('--eval-data <spec>', 'held-out data the coordinator evaluates every global model on, e.g. mnist:test')
    .option('--run <file>', 'start this run configuration (JSON) once the coordinator is up')
    .option('--max-body-mb <mb>', 'largest accepted request body in MiB', parseIntOption('--max-body-mb'), 64)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM); nodes and the CLI pin it with --ca')
    .option('--tls-key <file>', 'private key (PEM) of --tls-cert')
    .option('--open-enrollment', 'admit new member nodes without an invitation (the default, for a local consortium)', true)
    .option('--no-open-enrollment', 'admit new member nodes only with an invitation from "concord invite"')
    .option('--agreement <file>', 'enforce this cooperation agreement (YAML); later versions only by signed amendment ("concord agreement")')
    .option('--json', 'machine-readable output: one JSON object per line')
    .action(async (opts: { port: number; host: string; db: string; operatorToken?: string; evalData?: string; run?: string; maxBodyMb: number; tlsCert?: string; tlsKey?: string; openEnrollment: boolean; agreement?: string; json?: boolean }) => {
      const json = Boolean(opts.json);
      try {
        const say = (event: Record<string, unknown>, human: string): void => {
          if (json) process.stdout.write(JSON.stringify(event) + '\n');
          else process.stdout.write(human + '\n');
        };
        if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) {
          throw new ConcordError(ErrorCode.INVALID_ARGUMENT, '--tls-cert and --tls-key go together', { details: { field: opts.tlsCert ? '--tls-key' : '--tls-cert' } });
        }
        const service = await startCoordinatorService({
          ...(opts.tlsCert && opts.tlsKey ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey } } : {}),
          openEnrollment: opts.openEnrollment,
          ...(opts.agreement ? { agreementFile: opts.agreement } : {}),
          port: opts.port,
          host: opts.host,
          db: opts.db,
          ...(opts.operatorToken ? { operatorToken: opts.operatorToken } : {}),
          ...(opts.evalData ? { evalData: opts.evalData } : {}),
          bodyLimitBytes: opts.maxBodyMb * 1024 * 1024,
          onEvent: (e) => say({ event: e.kind, runId: e.runId, round: e.round, message: e.message }, `[${e.runId}] ${e.message}`),
        });
        const key = fingerprint(service.publicKey);
        say(
          { event: 'listening', url: service.url, db: opts.db, coordinatorKey: key, openEnrollment: opts.openEnrollment },
          `Concord coordinator listening on ${service.url} (state in ${opts.db}); audit key ${key}; ${opts.openEnrollment ? 'open enrollment' : 'enrollment by invitation only'}`,
        );
        if (opts.run) {
          const config = parseMessage(RunConfigSchema, JSON.parse(await readFile(opts.run, 'utf8')), `run config ${opts.run}`);
          const res = await service.coordinator.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${service.operatorToken}` }, payload: config });
          const body = res.json() as { runId?: string; error?: { message: string } };
          if (!body.runId) throw new Error(body.error?.message ?? 'could not start the run');
          say({ event: 'run-created', runId: body.runId }, `started run ${body.runId}`);
        }
        const stop = async (): Promise<void> => {
          await service.close();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      } catch (error) {
        fail(error, json);
      }
    });
}
