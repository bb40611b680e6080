// The mnist source: the 10,000 real digits of the `mnist` package (data/mnist.ts).

import { loadMnist } from '../mnist.js';
import type { DataSourceModule } from './source.js';

export const mnistModule: DataSourceModule = {
  name: 'mnist',
  usage: 'mnist:…',
  takesPath: false,
  keys: [],
  defaultTest: 1000,
  grouped: false,
  options: () => ({}),
  load: async () => loadMnist(),
  describe: () => 'mnist',
};
