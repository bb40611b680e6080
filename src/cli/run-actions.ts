// What `concord run start|list|show|stop` and `concord status` do (registered in run-commands.ts).

import type { RunFootprint } from '../coordinator/footprint.js';
import type { PlanExecution } from '../coordinator/plan-policy.js';
import { RunConfigSchema } from '../protocol/messages.js';
import type { MemberRecord, RoundSummary, RunRecord } from '../storage/storage.js';
import { operatorRequest, operatorToken } from './operator-api.js';
import { coordinatorUrl, readConfigFile } from './options.js';
import type { Conn } from './run-commands.js';
import { formatFootprint, formatPlanExecution, gramsText } from './sharing-format.js';

export function formatRound(r: RoundSummary, total: number): string {
  const acc = r.evalMetrics.accuracy;
  const test = r.serverEval?.metrics.accuracy;
  return [
    `round ${String(r.round).padStart(String(total).length)}/${total}`,
    `${r.participants.length} reported${r.failures.length ? `, ${r.failures.length} dropped` : ''}`,
    `loss ${r.evalLoss?.toFixed(4) ?? '-'}`,
    // A regression's holdout is measured by the RMSE of all members' holdout rows (√ of the pooled loss).
    acc === undefined && r.evalMetrics.rmse !== undefined && r.evalLoss !== null ? `holdout rmse ${Math.sqrt(r.evalLoss).toFixed(4)}` : `holdout acc ${acc !== undefined ? acc.toFixed(4) : '-'}`,
    ...(test !== undefined ? [`test acc ${test.toFixed(4)}`] : []),
    ...(r.trainMetrics.plannedUnits !== undefined ? [`work ${r.trainMetrics.examplesProcessed ?? 0}/${r.trainMetrics.plannedUnits} planned`] : []),
    ...(r.trainMetrics.energyJoules !== undefined ? [`${(r.trainMetrics.energyJoules / 3600).toFixed(2)} Wh`] : []),
    `${((r.completedAt - r.startedAt) / 1000).toFixed(1)} s`,
  ].join(' · ');
}

export async function startRun(opts: Conn & { config: string; watch?: boolean }): Promise<void> {
  const url = coordinatorUrl(opts.coordinator);
  const token = operatorToken(opts.token);
  const config = await readConfigFile(opts.config, '--config', RunConfigSchema);
  const { runId } = await operatorRequest<{ runId: string }>(url, token, 'POST', '/v1/runs', config);
  if (opts.json && !opts.watch) return void process.stdout.write(JSON.stringify({ runId }) + '\n');
  if (!opts.json) process.stdout.write(`started run ${runId}\n`);
  if (opts.watch) {
    const final = await watchRun(url, token, runId, (r, total) => {
      process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : formatRound(r, total) + '\n');
    });
    if (opts.json) process.stdout.write(JSON.stringify({ runId, status: final.status, error: final.error }) + '\n');
    else process.stdout.write(`run ${runId} ${final.status}${final.error ? `: ${final.error}` : ''}\n`);
    if (final.status !== 'completed') process.exitCode = 1;
  }
}

export async function listRuns(opts: Conn): Promise<void> {
  const { runs } = await operatorRequest<{ runs: RunRecord[] }>(coordinatorUrl(opts.coordinator), operatorToken(opts.token), 'GET', '/v1/runs');
  if (opts.json) return void process.stdout.write(JSON.stringify({ runs }) + '\n');
  if (runs.length === 0) return void process.stdout.write('no runs yet\n');
  for (const r of runs) process.stdout.write(`${r.runId}  ${r.status.padEnd(9)}  ${r.config.name}  ${r.config.strategy.name}  ${r.config.rounds} rounds${r.error ? `  (${r.error})` : ''}\n`);
}

export async function showRun(runId: string, opts: Conn): Promise<void> {
  const url = coordinatorUrl(opts.coordinator);
  const token = operatorToken(opts.token);
  const path = `/v1/runs/${encodeURIComponent(runId)}`;
  const body = await operatorRequest<{ run: RunRecord; rounds: RoundSummary[] }>(url, token, 'GET', path);
  const { plan } = await operatorRequest<{ plan: PlanExecution | null }>(url, token, 'GET', `${path}/plan`);
  const footprint = await operatorRequest<RunFootprint>(url, token, 'GET', `${path}/footprint`);
  if (opts.json) return void process.stdout.write(JSON.stringify({ ...body, plan, footprint }) + '\n');
  process.stdout.write(`run ${body.run.runId} (${body.run.config.name}): ${body.run.status}${body.run.error ? ` — ${body.run.error}` : ''}\n`);
  for (const r of body.rounds) process.stdout.write(formatRound(r, body.run.config.rounds) + '\n');
  if (plan) process.stdout.write(formatPlanExecution(plan));
  if (footprint.members.length > 0) process.stdout.write(formatFootprint(footprint));
}

export async function stopRun(runId: string, opts: Conn & { reason?: string }): Promise<void> {
  const body = opts.reason !== undefined ? { reason: opts.reason } : {};
  const result = await operatorRequest<{ runId: string; status: string; stopped: boolean; reason: string }>(
    coordinatorUrl(opts.coordinator),
    operatorToken(opts.token),
    'POST',
    `/v1/runs/${encodeURIComponent(runId)}/stop`,
    body,
  );
  if (opts.json) return void process.stdout.write(JSON.stringify(result) + '\n');
  process.stdout.write(result.stopped ? `run ${result.runId} ${result.reason}\n` : `run ${result.runId} was not running: ${result.reason}\n`);
}

export async function showStatus(opts: Conn): Promise<void> {
  const url = coordinatorUrl(opts.coordinator);
  const token = operatorToken(opts.token);
  const { members } = await operatorRequest<{ members: (MemberRecord & { online: boolean })[] }>(url, token, 'GET', '/v1/members');
  const { runs } = await operatorRequest<{ runs: RunRecord[] }>(url, token, 'GET', '/v1/runs');
  const { datasets } = await operatorRequest<{ datasets: { datasetId: string; epsilon: number; delta: number; budget: number | null; charges: number }[] }>(url, token, 'GET', '/v1/privacy');
  const footprints = await Promise.all(runs.map((r) => operatorRequest<RunFootprint>(url, token, 'GET', `/v1/runs/${encodeURIComponent(r.runId)}/footprint`)));
  if (opts.json) return void process.stdout.write(JSON.stringify({ coordinator: url, members, runs, privacy: datasets, footprints: Object.fromEntries(runs.map((r, i) => [r.runId, footprints[i]])) }) + '\n');
  process.stdout.write(`coordinator ${url}\nmembers (${members.length}):\n`);
  for (const m of members) process.stdout.write(`  ${m.name.padEnd(16)} ${m.online ? 'online ' : 'offline'}  ${m.dataset.numExamples} examples (${m.dataset.name})${m.revoked ? '  REVOKED' : ''}\n`);
  process.stdout.write(`runs (${runs.length}):\n`);
  runs.forEach((r, i) => process.stdout.write(`  ${r.runId}  ${r.status.padEnd(9)}  ${r.config.name}  ${gramsText(footprints[i]!.total.co2Grams)}\n`));
  const latest = footprints.length - 1;
  if (latest >= 0 && footprints[latest]!.members.length > 0) {
    process.stdout.write(`latest run ${runs[latest]!.runId}: `);
    process.stdout.write(formatFootprint(footprints[latest]!));
  }
  if (datasets.length > 0) {
    process.stdout.write('privacy budgets (ε spent / budget at δ):\n');
    for (const d of datasets) process.stdout.write(`  ${d.datasetId.padEnd(40)} ${d.epsilon.toFixed(3)} / ${d.budget ?? '∞'}  (δ=${d.delta}, ${d.charges} charges)\n`);
  }
}

/** Polls a run and reports each newly completed round; resolves when the run ends. */
export async function watchRun(url: string, token: string, runId: string, onRound: (r: RoundSummary, total: number) => void, pollMs = 300): Promise<RunRecord> {
  let seen = 0;
  for (;;) {
    const { run, rounds } = await operatorRequest<{ run: RunRecord; rounds: RoundSummary[] }>(url, token, 'GET', `/v1/runs/${encodeURIComponent(runId)}`);
    for (const r of rounds) if (r.round > seen) { onRound(r, run.config.rounds); seen = r.round; }
    if (run.status !== 'running' && run.status !== 'pending') return run;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
