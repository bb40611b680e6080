// Robust aggregation under attack, with real training: 7 members on MNIST shares, 2 of them
// malicious, train an MLP through the coordinator; every (attack, defence) pair is one run,
// scored on the global MNIST test set against the honest-only run (the 5 honest members
// with FedAvg). Prints test accuracy (%) and, in brackets, its difference from the
// honest-only run in points. The row "none" runs each defence on the honest members alone:
// what the defence costs when nobody attacks.
//
//   node --import tsx bench/robust-scenario.ts [--quick] [--dirichlet]

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ATTACKS, type AttackName, type Defence, FEDAVG, type RobustScenarioOptions, runRobustScenario } from '../test/support/robust-scenario.js';
import { printTable } from './table.js';

export const DEFENCES: Defence[] = [
  FEDAVG,
  { label: 'fedmedian', strategy: { name: 'fedmedian' } },
  { label: 'trimmed β=0.3', strategy: { name: 'fedtrimmedavg', options: { beta: 0.3 } } },
  { label: 'krum', strategy: { name: 'krum' } },
  { label: 'multikrum', strategy: { name: 'multikrum' } },
  { label: 'normbound', strategy: { name: 'fedavg-normbound' } },
  { label: 'fedavg+valid 10×', strategy: { name: 'fedavg' }, updateValidation: {} },
  { label: 'fedavg+valid 3×', strategy: { name: 'fedavg' }, updateValidation: { maxNormRatio: 3 } },
];

export interface RobustScenarioBenchOptions {
  /** 3 rounds with hidden [32] instead of 10 rounds with hidden [64]. */
  quick?: boolean;
  /** Default: all, 'none' first. */
  attacks?: AttackName[];
  /** Default DEFENCES. */
  defences?: Defence[];
  /** Passed to every run (rounds, hidden, attackScale, partition, seed, …). */
  scenario?: RobustScenarioOptions;
}

export interface RobustScenarioRow {
  attack: AttackName;
  defence: string;
  accuracy: number;
  /** accuracy − honest-only accuracy, in percentage points. */
  deltaPoints: number;
  /** Updates refused by update validation over the run. */
  rejected: number;
  seconds: number;
}

const percent = (x: number): string => (100 * x).toFixed(1);
const signed = (points: number): string => `${points >= 0 ? '+' : '−'}${Math.abs(points).toFixed(1)}`;

export async function benchRobustScenario(options: RobustScenarioBenchOptions = {}): Promise<RobustScenarioRow[]> {
  const scenario: RobustScenarioOptions = { rounds: options.quick ? 3 : 10, hidden: options.quick ? [32] : [64], attackScale: 5, ...options.scenario };
  const attacks = options.attacks ?? [...ATTACKS];
  const defences = options.defences ?? DEFENCES;
  const baseline = await runRobustScenario({ ...scenario, attack: 'none', defence: FEDAVG });
  const rows: RobustScenarioRow[] = [];
  for (const attack of attacks) {
    for (const defence of defences) {
      const result = attack === 'none' && defence === FEDAVG ? baseline : await runRobustScenario({ ...scenario, attack, defence });
      process.stderr.write(`  ${attack} / ${defence.label}: ${percent(result.accuracy)}% in ${result.seconds.toFixed(1)} s\n`);
      rows.push({ attack, defence: defence.label, accuracy: result.accuracy, deltaPoints: 100 * (result.accuracy - baseline.accuracy), rejected: result.rejected, seconds: result.seconds });
    }
  }

  const members = scenario.members ?? 7;
  const malicious = scenario.malicious ?? 2;
  const split = scenario.partition === 'dirichlet' ? `Dirichlet α=${scenario.alpha ?? 1}` : 'IID';
  const title =
    `Robust aggregation under attack: MNIST ${split}, ${members} members of which ${malicious} malicious, MLP [${(scenario.hidden ?? []).join(', ')}], ` +
    `${scenario.rounds} rounds; test accuracy % (points vs honest-only ${percent(baseline.accuracy)}%); attack scale ${scenario.attackScale}`;
  printTable(
    title,
    ['attack', ...defences.map((d) => d.label)],
    attacks.map((attack) => [
      attack === 'none' ? 'none (honest only)' : attack,
      ...defences.map((d) => {
        const row = rows.find((r) => r.attack === attack && r.defence === d.label)!;
        const refused = row.rejected > 0 ? ` r${row.rejected}` : '';
        return `${percent(row.accuracy)} (${signed(row.deltaPoints)})${refused}`;
      }),
    ]),
  );
  console.log('rN: N updates refused by update validation over the run.');
  return rows;
}

function isMain(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
}

if (isMain()) {
  const args = process.argv.slice(2);
  await benchRobustScenario({ quick: args.includes('--quick'), ...(args.includes('--dirichlet') ? { scenario: { partition: 'dirichlet', alpha: 1 } } : {}) });
}
