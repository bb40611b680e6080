// The ratings source: generated user–item ratings (data/ratings.ts), whose regions allow
// partition=source, as a country's service holds its country's users; or, with
// `file=PATH`, a member's own ratings file (user,item,rating), read by the same code as the
// browser member reads it with.

import { basename } from 'node:path';
import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import { RATINGS_DEFAULTS, generateRatings, readRatingsCsv } from '../ratings.js';
import type { DataSourceModule } from './source.js';
import { readFileBytes } from './table.js';

const atLeast = (min: number) => (v: number) => Number.isInteger(v) && v >= min;

export const ratingsModule: DataSourceModule = {
  name: 'ratings',
  usage: 'ratings:…',
  takesPath: false,
  keys: ['users', 'items', 'regions', 'file'],
  defaultTest: 0,
  grouped: true,
  options: (keys) => {
    const items = (fallback: number) => keys.number('items', fallback, 'an integer >= 2', atLeast(2));
    const file = keys.text('file');
    if (file === undefined) {
      return { ratings: { users: keys.number('users', RATINGS_DEFAULTS.users, 'an integer >= 1', atLeast(1)), items: items(RATINGS_DEFAULTS.items), regions: keys.number('regions', RATINGS_DEFAULTS.regions, 'an integer >= 1', atLeast(1)) } };
    }
    if (file === '') throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'ratings:file= needs the path of a ratings CSV (user,item,rating)', { details: { field: 'file', expected: 'a file path', received: '' } });
    for (const key of ['users', 'regions']) {
      if (keys.has(key)) throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${key}= shapes generated ratings; ratings:file=… reads them from the file`, { details: { field: key, expected: 'no such key with file=', received: keys.text(key) } });
    }
    if (keys.text('partition') === 'source') {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, 'partition=source gives members the regions of generated ratings; a ratings file has none: give each member its own file', { details: { field: 'partition', expected: 'iid | dirichlet | shards', received: 'source' } });
    }
    return { ratings: { file, ...(keys.has('items') ? { items: items(0) } : {}) } };
  },
  async load(spec) {
    const ratings = spec.ratings!;
    if ('file' in ratings) {
      const text = new TextDecoder().decode(await readFileBytes(ratings.file, 'ratings'));
      const { users: _users, items: _items, ...data } = readRatingsCsv(text, { file: ratings.file, ...(ratings.items !== undefined ? { items: ratings.items } : {}) });
      return data;
    }
    return { ...generateRatings({ ...RATINGS_DEFAULTS, ...ratings }), vocabulary: ratings.items };
  },
  describe: (spec) => (spec.ratings && 'file' in spec.ratings ? `ratings ${basename(spec.ratings.file)}` : 'demo ratings'),
};
