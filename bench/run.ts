// `npm run bench [-- --quick] [section ...]`: runs the benchmark sections in order and
// prints their tables. --quick uses smaller sizes; naming sections runs only those.

import { cpus, totalmem } from 'node:os';
import { benchAggregation } from './aggregation.js';
import { benchAnalytics } from './analytics.js';
import { benchCliStartup } from './cli-startup.js';
import { benchCodec } from './codec.js';
import { benchCoordinator } from './coordinator.js';
import { benchRobust } from './robust.js';
import { benchSecAgg } from './secagg.js';
import { benchScale } from './scale.js';
import { closestName } from '../src/protocol/problems.js';
import { benchTraining } from './training.js';
import { benchValuation } from './valuation.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));

const sections: { name: string; run: () => Promise<unknown> }[] = [
  { name: 'aggregation', run: () => benchAggregation({ quick }) },
  { name: 'codec', run: () => benchCodec({ quick }) },
  { name: 'robust', run: () => benchRobust({ quick }) },
  { name: 'secagg', run: () => benchSecAgg({ quick }) },
  { name: 'coordinator', run: () => benchCoordinator(quick ? { sizes: [10, 100], rounds: 2 } : {}) },
  { name: 'analytics', run: () => benchAnalytics(quick ? { sizes: [5, 50], repeats: 1 } : {}) },
  { name: 'cli-startup', run: () => benchCliStartup({ quick }) },
  { name: 'training', run: () => benchTraining({ quick }) },
  { name: 'valuation', run: () => benchValuation({ quick }) },
  { name: 'scale', run: () => benchScale({ quick }) },
];

// A mistyped section or flag is refused, naming the closest, rather than running nothing.
const names = sections.map((s) => s.name);
for (const arg of args) {
  const known = arg.startsWith('--') ? ['--quick'] : names;
  if (!known.includes(arg)) {
    const near = closestName(arg, known);
    console.error(`unknown benchmark ${arg.startsWith('--') ? 'option' : 'section'} "${arg}"${near ? `; did you mean \`${near}\`?` : ''} (sections: ${names.join(', ')}; option: --quick)`);
    process.exit(64);
  }
}

console.log(`Concord benchmarks${quick ? ' (quick)' : ''}: node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
for (const section of sections) {
  if (only.length > 0 && !only.includes(section.name)) continue;
  await section.run();
}
