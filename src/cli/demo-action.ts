// What `concord demo` does (registered in demo-command.ts): run the demo consortium, print
// a short table of what it achieved and its one-line JSON summary, and — on a terminal —
// keep the coordinator and its dashboard up until Ctrl-C.

import { runDemo, type DemoResult } from '../demo/demo.js';
import { DEMO_DEFAULTS, type DemoOptions } from '../demo/options.js';
import { ANALYTICS_DEMO } from '../demo/tasks.js';
import { demoTable } from './demo-table.js';
import { createProgress, formatSeconds, silentProgress } from './progress.js';

export async function demo(opts: typeof DEMO_DEFAULTS & { quiet?: boolean; keep?: boolean }): Promise<void> {
  const started = Date.now();
  const progress = opts.quiet ? silentProgress : createProgress();
  if (opts.task === ANALYTICS_DEMO.name) {
    const { runAnalyticsDemo } = await import('../demo/analytics-demo.js');
    process.stdout.write(JSON.stringify(await runAnalyticsDemo({ members: opts.members, dir: opts.dir, log: (line) => progress.log(line) })) + '\n');
    process.exit(0);
  }
  // Held up for the dashboard when someone is watching: both ends on a terminal, unless --no-keep.
  const keepServing = opts.keep !== false && !opts.quiet && Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const summary = await runDemo({ ...DEMO_DEFAULTS, ...opts, partition: opts.partition as DemoOptions['partition'], progress, keepServing });
  const seconds = (Date.now() - started) / 1000;
  if (!opts.quiet) process.stderr.write('\n' + demoTable(summary, seconds) + '\n' + nextSteps(summary) + '\n');
  process.stdout.write(JSON.stringify(summaryLine(summary)) + '\n');
  if (!keepServing) process.exit(0);
  process.stderr.write(`\nthe coordinator and its dashboard stay up: ${summary.url}/?token=${summary.token}\npress Ctrl-C to stop them (done in ${formatSeconds(seconds)})\n`);
  const stop = (): void => {
    summary.stop();
    process.stderr.write('stopped\n');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Commands that work as printed, from the folder the demo ran in. */
function nextSteps(s: DemoResult): string {
  return [
    `report: ${s.reportFile}`,
    `model:  ${s.modelDir}/model.json (a TF.js Layers model)`,
    `again, from the database: npx concord report --db ${s.db} --run ${s.runId} --out report.html`,
    `                          npx concord export --db ${s.db} --run ${s.runId} --out model`,
  ].join('\n');
}

/** The JSON line: keys named by the task's metric (accuracy and centralizedAccuracy, or rmse and centralizedRmse). */
export function summaryLine(s: DemoResult): Record<string, unknown> {
  const { task, rounds, members, metric, score, centralizedScore, seconds, bytesPerMemberPerRound, privacy, contributions, co2Grams } = s;
  const centralizedKey = `centralized${metric === 'rmse' ? 'Rmse' : 'Accuracy'}`;
  const line: Record<string, unknown> = { task, rounds, members, [metric]: round4(score), [centralizedKey]: centralizedScore === null ? null : round4(centralizedScore), seconds: Math.round(seconds * 10) / 10, bytesPerMemberPerRound };
  if (privacy) {
    const { scoreWithoutPrivacy, cost, ...rest } = privacy;
    line.privacy = { ...rest, epsilon: privacy.epsilon === null ? null : round4(privacy.epsilon), [`${metric}WithoutPrivacy`]: round4(scoreWithoutPrivacy), [`${metric}Cost`]: round4(cost) };
  }
  line.contributions = contributions === null ? null : Object.fromEntries(Object.entries(contributions).map(([name, phi]) => [name, round4(phi)]));
  line.co2Grams = Math.round(co2Grams * 100) / 100;
  return line;
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;
