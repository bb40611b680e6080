// The valuation table: every contribution method on a small consortium of the demo's data
// (test/support/valuation-consortium.ts: the demo's Dirichlet-skewed MNIST members, one of
// them with random labels), each value with its 95 % interval (bootstrap over the
// validation digits plus Monte Carlo error) and the pairs that cannot be told apart.
//   node --import tsx bench/valuation.ts [--quick]     (or npm run bench -- valuation)

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/model/backend.js';
import { compareMethods } from '../src/valuation/compare.js';
import { valuationConsortium } from '../test/support/valuation-consortium.js';
import { printTable } from './table.js';

export async function benchValuation(options: { quick?: boolean } = {}): Promise<string[][]> {
  await initBackend('wasm');
  const consortium = await valuationConsortium(options.quick ? { rounds: 3 } : { rounds: 8, perMember: 400 });
  const names = consortium.simulation.members.map((m) => m.name);
  const points = (x: number) => (x * 100).toFixed(2);
  const rows: string[][] = [];
  const notes: string[] = [];
  await compareMethods(consortium.simulation, consortium.validation, {
    onMethod: (method, r) => {
      rows.push([method, ...names.map((n) => `${points(r.values[n]!)} [${points(r.uncertainty[n]!.low)}, ${points(r.uncertainty[n]!.high)}]`), r.seconds.toFixed(1)]);
      notes.push(`${method}: not distinguishable: ${r.indistinguishable.map(([a, b]) => `${a}~${b}`).join(', ') || 'none'}`);
    },
  });
  printTable(
    `Contributions in accuracy points, value [95 % interval], ${consortium.simulation.rounds} rounds, ${consortium.validation.y.length} validation digits, 200 bootstrap resamples`,
    ['method', ...names, 's'],
    rows,
  );
  console.log(notes.join('\n'));
  console.log(`label-skewed member: ${consortium.skewed}; share of its top class per member: ${Object.entries(consortium.topClassShare).map(([m, s]) => `${m} ${(s * 100).toFixed(0)} %`).join(', ')}`);
  return rows;
}

function isMain(): boolean {
  const entry = process.argv[1];
  return entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
}

if (isMain()) await benchValuation({ quick: process.argv.includes('--quick') });
