// What `concord demo` does (registered in demo-command.ts): run the demo consortium and
// print its one-line JSON summary.

import { runDemo } from '../demo/demo.js';
import { DEMO_DEFAULTS, type DemoOptions } from '../demo/options.js';
import { ANALYTICS_DEMO } from '../demo/tasks.js';

export async function demo(opts: typeof DEMO_DEFAULTS & { quiet?: boolean }): Promise<void> {
  const started = Date.now();
  const log = opts.quiet ? () => undefined : (line: string) => process.stderr.write(line + '\n');
  if (opts.task === ANALYTICS_DEMO.name) {
    const { runAnalyticsDemo } = await import('../demo/analytics-demo.js');
    process.stdout.write(JSON.stringify(await runAnalyticsDemo({ members: opts.members, dir: opts.dir, log })) + '\n');
    process.exit(0);
  }
  const summary = await runDemo({ ...DEMO_DEFAULTS, ...opts, partition: opts.partition as DemoOptions['partition'], log });
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; inspect with: concord export --db ${summary.db} --run ${summary.runId} --out model`);
  const { task, rounds, members, metric, score, centralizedScore, seconds, bytesPerMemberPerRound, privacy, contributions, co2Grams } = summary;
  // Keys named by the task's metric: accuracy and centralizedAccuracy, or rmse and centralizedRmse.
  const centralizedKey = `centralized${metric === 'rmse' ? 'Rmse' : 'Accuracy'}`;
  const line: Record<string, unknown> = { task, rounds, members, [metric]: round4(score), [centralizedKey]: centralizedScore === null ? null : round4(centralizedScore), seconds: Math.round(seconds * 10) / 10, bytesPerMemberPerRound };
  if (privacy) {
    const { scoreWithoutPrivacy, cost, ...rest } = privacy;
    line.privacy = { ...rest, epsilon: privacy.epsilon === null ? null : round4(privacy.epsilon), [`${metric}WithoutPrivacy`]: round4(scoreWithoutPrivacy), [`${metric}Cost`]: round4(cost) };
  }
  line.contributions = contributions === null ? null : Object.fromEntries(Object.entries(contributions).map(([name, phi]) => [name, round4(phi)]));
  line.co2Grams = Math.round(co2Grams * 100) / 100;
  process.stdout.write(JSON.stringify(line) + '\n');
  process.exit(0);
}

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;
