// `concord coordinator`: run the coordinator service until SIGINT/SIGTERM (coordinator-action.ts).

import type { Command } from 'commander';
import { DEFAULT_DB, DEFAULT_HOST, DEFAULT_PORT } from '../coordinator/defaults.js';
import { lazyAction, parseIntOption, parseNumberOption } from './options.js';

const actions = () => import('./coordinator-action.js');

export function registerCoordinatorCommand(program: Command): void {
  program
    .command('coordinator')
    .description('run the coordinator: enrolls members, drives runs round by round, keeps state in the database')
    .option('--port <port>', `TCP port (0 picks a free one)`, parseIntOption('--port'), DEFAULT_PORT)
    .option('--host <host>', 'address to listen on; 0.0.0.0 accepts members from other hosts', DEFAULT_HOST)
    .option('--db <url>', 'SQLite file (or sqlite:PATH); postgres://user:password@host:port/database for deployment and replicas', DEFAULT_DB)
    .option('--identity <file>', "the coordinator's Ed25519 audit-signing key (default: coordinator.identity.json beside a SQLite database, .concord/ for PostgreSQL); replicas share one")
    .option('--lease-seconds <s>', 'PostgreSQL: how long a replica holds a run unless it renews; another replica takes over within about this long after it dies', parseIntOption('--lease-seconds'), 10)
    .option('--nats <url>', 'NATS server(s) with JetStream where `concord aggregator` shards listen; runs may then ask for hierarchicalAggregation')
    .option('--retention <policy>', 'which checkpoints and kept updates to keep: last=N,every=K,updates=M (any of them) or all', 'all')
    .option('--operator-token <token>', 'operator API token (default: kept in operator-token beside the database)')
    .option('--eval-data <spec>', 'held-out data the coordinator evaluates every global model on, e.g. mnist:test')
    .option('--run <file>', 'start this run configuration (JSON) once the coordinator is up')
    .option('--max-body-mb <mb>', 'largest accepted request body in MiB', parseIntOption('--max-body-mb'), 64)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM); nodes and the CLI pin it with --ca')
    .option('--tls-key <file>', 'private key (PEM) of --tls-cert')
    .option('--open-enrollment', 'admit new member nodes without an invitation (the default, for a local consortium)', true)
    .option('--no-open-enrollment', 'admit new member nodes only with an invitation from "concord invite"')
    .option('--agreement <file>', 'enforce this cooperation agreement (YAML); later versions only by signed amendment ("concord agreement")')
    .option('--data-schema <file>', 'the consortium data schema (YAML/JSON) for analytics queries, when the agreement carries none (docs/schema.md)')
    .option('--analytics-epsilon <ε>', "each dataset's privacy budget for DP analytics releases where the agreement states none", parseNumberOption('--analytics-epsilon'))
    .option('--analytics-delta <δ>', 'δ of that budget', parseNumberOption('--analytics-delta'), 1e-5)
    .option('--metrics-port <port>', 'serve Prometheus metrics at /metrics on this port (a listener of its own, no token: keep it internal)', parseIntOption('--metrics-port'))
    .option('--metrics-host <host>', 'address of the metrics listener', '127.0.0.1')
    .option('--log-level <level>', 'structured JSON request logs on stderr: fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--json', 'machine-readable output: one JSON object per line')
    .action(lazyAction(actions, 'startCoordinator'));
}
