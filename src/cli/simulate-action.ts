// What `concord simulate` does (registered in simulate-command.ts).

import { SIMULATE_DEFAULTS, type SimulateOptions } from '../simulation/options.js';
import { simulate } from '../simulation/simulate.js';
import { createProgress, silentProgress } from './progress.js';

export async function simulateAction(opts: SimulateOptions & { quiet?: boolean }): Promise<void> {
  const { quiet, ...rest } = opts;
  const summary = await simulate({ ...SIMULATE_DEFAULTS, ...rest, secure: Boolean(opts.secure), progress: quiet ? silentProgress : createProgress() });
  const { stop: _stop, url: _url, token: _token, ...line } = summary;
  process.stdout.write(JSON.stringify({ ...line, peakRssMiB: Math.round(summary.peakRssBytes / 2 ** 20) }) + '\n');
  process.exit(0);
}
