// The spam source: the SpamAssassin corpus (data/spamassassin.ts), tokenized by the
// consortium's hashing tokenizer; its source folders allow partition=source.

import { spamAssassinDataset } from '../spamassassin.js';
import type { DataSourceModule } from './source.js';

export const spamModule: DataSourceModule = {
  name: 'spam',
  usage: 'spam:…',
  takesPath: false,
  keys: ['vocab', 'length', 'cls'],
  defaultTest: 1000,
  grouped: true,
  options: (keys) => ({
    tokenizer: {
      vocabSize: keys.number('vocab', 20_000, 'an integer >= 3 (ids 0 and 1 are padding and [CLS])', (v) => Number.isInteger(v) && v >= 3 && v <= 1_048_576),
      length: keys.number('length', 200, 'an integer >= 1', (v) => Number.isInteger(v) && v >= 1 && v <= 4096),
      cls: keys.number('cls', 0, '0 or 1', (v) => v === 0 || v === 1) === 1,
    },
  }),
  load: (spec) => spamAssassinDataset(spec.tokenizer!),
  describe: () => 'spamassassin',
};
