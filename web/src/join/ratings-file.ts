// A ratings file (user,item,rating) as the browser member's data, for matrix-factorisation
// runs: read by the Node members' own reader (src/data/ratings.ts, which `ratings:file=…`
// uses) and split as a Node member splits the same file. Apart from local-data.ts, which
// imports nothing of src/.

import { planSplits } from '../../../src/data/plan.js';
import { readRatingsCsv } from '../../../src/data/ratings.js';
import { HOLDOUT_SHARE, type LocalData } from './local-data.js';

/**
 * The page's data from a ratings file: a seeded HOLDOUT_SHARE of the ratings (src/data/plan.ts,
 * seed 0, a Node member's default split) is the holdout, listed after the training rows, so
 * the holdout's users are mostly users the page trains.
 */
export function parseRatings(text: string, name: string): LocalData {
  const file = readRatingsCsv(text, { file: name });
  const { train, holdout } = planSplits(file.y, { holdout: HOLDOUT_SHARE }).members[0]!;
  const order = [...train, ...holdout];
  const x = new Float32Array(order.length * 2);
  const y = new Int32Array(order.length);
  order.forEach((from, row) => {
    x[2 * row] = file.x[2 * from]!;
    x[2 * row + 1] = file.x[2 * from + 1]!;
    y[row] = file.y[from]!;
  });
  return { name, x, y, features: 2, inputShape: [2], classes: file.classes, train: train.length, ratings: { users: file.users, items: file.items, vocabulary: file.vocabulary } };
}
