// `concord data images`: a member's data as a folder of labelled PNG images, for trying the
// browser member at /join with real examples (it reads exactly this layout).

import type { Command } from 'commander';
import { writeImageFolder } from '../data/image-folder.js';
import { loadMemberData } from '../data/spec.js';
import { fail } from './options.js';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('work with the data a member holds');
  data
    .command('images')
    .description("write a member's examples (training and holdout) as OUT/<label>/<n>.png, the folder layout the browser member at /join reads")
    .requiredOption('--data <spec>', 'data SPEC, e.g. mnist:member=0,members=5,partition=dirichlet,seed=7')
    .requiredOption('--out <dir>', 'output folder (one subfolder per class)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { data: string; out: string; json?: boolean }) => {
      try {
        const member = await loadMemberData(opts.data);
        const perClass = await writeImageFolder([member.train, member.holdout], opts.out);
        const files = perClass.reduce((a, b) => a + b, 0);
        const result = { out: opts.out, files, perClass, inputShape: member.descriptor.inputShape };
        process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `wrote ${files} images of ${member.descriptor.name} to ${opts.out}/<label>/ (per class: ${perClass.join(', ')})\n`);
      } catch (error) {
        fail(error, Boolean(opts.json));
      }
    });
}
