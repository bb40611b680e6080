// What `concord data images` does (registered in data-commands.ts).

import { writeImageFolder } from '../data/image-folder.js';
import { loadMemberData } from '../data/spec.js';

export async function dataImages(opts: { data: string; out: string; json?: boolean }): Promise<void> {
  const member = await loadMemberData(opts.data);
  const perClass = await writeImageFolder([member.train, member.holdout], opts.out);
  const files = perClass.reduce((a, b) => a + b, 0);
  const result = { out: opts.out, files, perClass, inputShape: member.descriptor.inputShape };
  process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `wrote ${files} images of ${member.descriptor.name} to ${opts.out}/<label>/ (per class: ${perClass.join(', ')})\n`);
}

