// Prometheus metrics of one coordinator process (prom-client, a registry of its own so
// several coordinators in one process keep theirs apart): rounds committed and how long they
// took, members online, bytes of tasks and results, refused requests by error code, ε spent
// per dataset, runs driven here, and Node's process metrics. Served on a listener of its own
// (serveMetrics, `concord coordinator --metrics-port`), never on the port members and
// people use: scrapes need no token, so that listener belongs on an internal address.

import { createServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  membersOnline(): number;
  runsDriven(): number;
  /** ε spent so far per dataset (all runs), read at each scrape. */
  epsilonSpent(): Promise<{ datasetId: string; epsilon: number }[]>;
}

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly rounds: Counter<'run'>;
  private readonly roundSeconds: Histogram;
  private readonly bytesTotal: Counter<'direction'>;
  private readonly refusals: Counter<'code'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'concord_' }); // concord_process_*, concord_nodejs_*
    this.rounds = new Counter({ name: 'concord_rounds_total', help: 'Rounds committed by this coordinator process', labelNames: ['run'], registers });
    this.roundSeconds = new Histogram({ name: 'concord_round_duration_seconds', help: 'Wall time of committed rounds, from start to commit', buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600], registers });
    this.bytesTotal = new Counter({ name: 'concord_bytes_total', help: 'Bytes of task frames sent to members (out) and results received from them (in)', labelNames: ['direction'], registers });
    this.refusals = new Counter({ name: 'concord_refusals_total', help: 'Requests refused, by error code', labelNames: ['code'], registers });
    new Gauge({ name: 'concord_members_online', help: 'Members online now (polling, or working and heard from)', registers, collect() {
      this.set(sources.membersOnline());
    } });
    new Gauge({ name: 'concord_runs_driven', help: "Runs whose round loop this process drives now (with replicas: whose lease it holds)", registers, collect() {
      this.set(sources.runsDriven());
    } });
    new Gauge({ name: 'concord_privacy_epsilon_spent', help: 'Differential privacy spent so far per member dataset (ε, at the run budget\'s δ)', labelNames: ['dataset'], registers, async collect() {
      this.reset();
      for (const d of await sources.epsilonSpent()) if (Number.isFinite(d.epsilon)) this.set({ dataset: d.datasetId }, d.epsilon);
    } });
  }

  roundCommitted(runId: string, seconds: number): void {
    this.rounds.inc({ run: runId });
    this.roundSeconds.observe(seconds);
  }

  bytes(direction: 'in' | 'out', count: number): void {
    this.bytesTotal.inc({ direction }, count);
  }

  refused(code: string): void {
    this.refusals.inc({ code });
  }
}

/** A plain HTTP listener serving GET /metrics in Prometheus' text format. */
export async function serveMetrics(metrics: CoordinatorMetrics, port: number, host: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics could not be collected: ${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
