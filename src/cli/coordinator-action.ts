// What `concord coordinator` does (registered in coordinator-command.ts): run the
// coordinator service until SIGINT/SIGTERM.

import { startCoordinatorService } from '../coordinator/service.js';
import { fingerprint } from '../governance/identity.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { RunConfigSchema } from '../protocol/messages.js';
import { parseRetention } from '../storage/retention.js';
import { redactPassword } from '../storage/storage-url.js';
import { readConfigFile } from './options.js';

export async function startCoordinator(opts: { port: number; host: string; db: string; identity?: string; retention: string; leaseSeconds: number; metricsPort?: number; metricsHost: string; logLevel: string; operatorToken?: string; evalData?: string; run?: string; maxBodyMb: number; tlsCert?: string; tlsKey?: string; openEnrollment: boolean; agreement?: string; dataSchema?: string; analyticsEpsilon?: number; analyticsDelta?: number; nats?: string; json?: boolean }): Promise<void> {
  const json = Boolean(opts.json);
  const say = (event: Record<string, unknown>, human: string): void => {
    if (json) process.stdout.write(JSON.stringify(event) + '\n');
    else process.stdout.write(human + '\n');
  };
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, '--tls-cert and --tls-key go together', { details: { field: opts.tlsCert ? '--tls-key' : '--tls-cert' } });
  }
  const retention = parseRetention(opts.retention);
  if (!Number.isInteger(opts.leaseSeconds) || opts.leaseSeconds < 2) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--lease-seconds must be an integer >= 2, received ${opts.leaseSeconds}`, { details: { field: '--lease-seconds', expected: '>= 2', received: opts.leaseSeconds } });
  }
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(opts.logLevel)) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `--log-level must be one of ${levels.join(', ')}, received ${JSON.stringify(opts.logLevel)}`, { details: { field: '--log-level', expected: levels, received: opts.logLevel } });
  }
  const service = await startCoordinatorService({
    logLevel: opts.logLevel,
    ...(opts.metricsPort !== undefined ? { metrics: { port: opts.metricsPort, host: opts.metricsHost } } : {}),
    retention,
    leaseMs: opts.leaseSeconds * 1000,
    ...(opts.nats ? { nats: opts.nats } : {}),
    ...(opts.identity ? { identityFile: opts.identity } : {}),
    ...(opts.tlsCert && opts.tlsKey ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey } } : {}),
    openEnrollment: opts.openEnrollment,
    ...(opts.agreement ? { agreementFile: opts.agreement } : {}),
    port: opts.port,
    host: opts.host,
    db: opts.db,
    ...(opts.operatorToken ? { operatorToken: opts.operatorToken } : {}),
    ...(opts.evalData ? { evalData: opts.evalData } : {}),
    ...(opts.dataSchema || opts.analyticsEpsilon !== undefined
      ? { analytics: { ...(opts.dataSchema ? { schemaFile: opts.dataSchema } : {}), ...(opts.analyticsEpsilon !== undefined ? { budget: { epsilon: opts.analyticsEpsilon, delta: opts.analyticsDelta ?? 1e-5 } } : {}) } }
      : {}),
    bodyLimitBytes: opts.maxBodyMb * 1024 * 1024,
    onEvent: (e) => say({ event: e.kind, runId: e.runId, round: e.round, message: e.message }, `[${e.runId}] ${e.message}`),
  });
  const key = fingerprint(service.publicKey);
  say(
    { event: 'listening', url: service.url, db: redactPassword(opts.db), coordinatorKey: key, publicKey: service.publicKey, replica: service.coordinator.replica, metrics: service.metricsUrl, openEnrollment: opts.openEnrollment },
    `Concord coordinator listening on ${service.url} (state in ${redactPassword(opts.db)}); audit key ${key}; ${opts.openEnrollment ? 'open enrollment' : 'enrollment by invitation only'}`,
  );
  if (opts.run) {
    const config = await readConfigFile(opts.run, '--run', RunConfigSchema);
    const res = await service.coordinator.app.inject({ method: 'POST', url: '/v1/runs', headers: { authorization: `Bearer ${service.operatorToken}` }, payload: config });
    const body = res.json() as { runId?: string; error?: { code: ErrorCode; message: string; details?: Record<string, unknown> } };
    if (!body.runId) throw new ConcordError(body.error?.code ?? ErrorCode.INTERNAL, body.error?.message ?? 'could not start the run', { details: { ...body.error?.details, source: opts.run } });
    say({ event: 'run-created', runId: body.runId }, `started run ${body.runId}`);
  }
  // SIGTERM/SIGINT: not ready any more, round loops stopped (with replicas the leases are
  // released, so another replica takes the runs over at once; alone, the interrupted round is
  // redone when the coordinator starts again), connections closed, then exit 0.
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await service.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

