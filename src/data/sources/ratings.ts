// The ratings source: generated user–item ratings (data/ratings.ts); its regions allow
// partition=source, as a country's service holds its country's users.

import { RATINGS_DEFAULTS, generateRatings } from '../ratings.js';
import type { DataSourceModule } from './source.js';

const atLeast = (min: number) => (v: number) => Number.isInteger(v) && v >= min;

export const ratingsModule: DataSourceModule = {
  name: 'ratings',
  usage: 'ratings:…',
  takesPath: false,
  keys: ['users', 'items', 'regions'],
  defaultTest: 0,
  grouped: true,
  options: (keys) => ({
    ratings: {
      users: keys.number('users', RATINGS_DEFAULTS.users, 'an integer >= 1', atLeast(1)),
      items: keys.number('items', RATINGS_DEFAULTS.items, 'an integer >= 2', atLeast(2)),
      regions: keys.number('regions', RATINGS_DEFAULTS.regions, 'an integer >= 1', atLeast(1)),
    },
  }),
  load: async (spec) => generateRatings({ ...RATINGS_DEFAULTS, ...spec.ratings! }),
  describe: () => 'demo ratings',
};
