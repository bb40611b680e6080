// Demo ratings for recommendation: no user–item rating data ships in an npm package this
// project can use (MovieLens and similar are downloads), so the demo generates one, by a
// stated, seeded construction, the way such benchmarks are usually simulated:
//   - `items` items with latent tastes q_i ~ N(0, I_k/k) and popularity ~ Zipf(1.1);
//   - `users` users in `regions` regions (a member is a country's service: it holds the
//     users of its regions); a user's taste p_u = r_region + N(0, I_k/k)·0.7, so regions differ;
//   - biases b_u ~ N(0, 0.3²), b_i ~ N(0, 0.5²); each user rates 20–60 items drawn by popularity;
//   - rating = clip(round(3.5 + b_u + b_i + 2·p_u·q_i + N(0, 0.5²)), 1, 5) stars.
// Examples are (user, item) pairs as two float32 values; y is the rating in stars.
//
// A member's own ratings come as a CSV file with the columns user, item and rating (one row
// per rating; other columns, such as a timestamp, are ignored): readRatingsCsv reads it for
// Node members (`ratings:file=…`, data/sources/ratings.ts) and for the browser member
// (web/src/join/local-data.ts) alike, so this module imports nothing Node-only.

import { gaussian, seededRandom } from '../core/random.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { csvError, parseCsv } from './csv-text.js';
import type { Dataset } from './dataset.js';

export interface RatingsOptions {
  users: number;
  items: number;
  regions: number;
  factors: number;
  seed: number;
}

export const RATINGS_DEFAULTS: RatingsOptions = { users: 2000, items: 400, regions: 5, factors: 6, seed: 7 };

export function generateRatings(options: RatingsOptions = RATINGS_DEFAULTS): Dataset & { groups: Int32Array } {
  const random = seededRandom(options.seed, 0x7a7);
  const k = options.factors;
  const normal = (scale: number) => Float64Array.from({ length: k }, () => gaussian(random) * scale);
  const itemTaste = Array.from({ length: options.items }, () => normal(1 / Math.sqrt(k)));
  const itemBias = Float64Array.from({ length: options.items }, () => gaussian(random) * 0.5);
  const popularity = Float64Array.from({ length: options.items }, (_, i) => 1 / (i + 1) ** 1.1);
  const cumulative = popularity.map((sum => (p) => (sum += p))(0));
  const totalPopularity = cumulative[cumulative.length - 1]!;
  const regionTaste = Array.from({ length: options.regions }, () => normal(1 / Math.sqrt(k)));
  const x: number[] = [];
  const y: number[] = [];
  const groups: number[] = [];
  for (let u = 0; u < options.users; u++) {
    const region = u % options.regions;
    const taste = regionTaste[region]!.map((t) => t + gaussian(random) * (0.7 / Math.sqrt(k)));
    const bias = gaussian(random) * 0.3;
    const count = 20 + Math.floor(random() * 41);
    const rated = new Set<number>();
    while (rated.size < Math.min(count, options.items)) {
      const draw = random() * totalPopularity;
      let lo = 0;
      let hi = options.items - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! < draw) lo = mid + 1;
        else hi = mid;
      }
      rated.add(lo);
    }
    for (const i of [...rated].sort((a, b) => a - b)) {
      const affinity = taste.reduce((s, t, f) => s + t * itemTaste[i]![f]!, 0);
      const stars = Math.round(3.5 + bias + itemBias[i]! + 2 * affinity + gaussian(random) * 0.5);
      x.push(u, i);
      y.push(Math.min(5, Math.max(1, stars)));
      groups.push(region);
    }
  }
  return { x: Float32Array.from(x), y: Int32Array.from(y), groups: Int32Array.from(groups), inputShape: [2], classes: 6 };
}

/** The columns of a ratings file, in the order formatRatingsCsv writes them. */
export const RATINGS_COLUMNS = ['user', 'item', 'rating'] as const;

/** Ids travel as float32, which holds every integer below 2²⁴ exactly. */
const MAX_ID = 2 ** 24;

/** A ratings file read: (user, item) pairs with their stars, and what enrollment may say of them. */
export interface RatingsFile extends Dataset {
  /** Item ids lie below it: `items` when given, else the largest item id + 1 (the descriptor's vocabulary). */
  vocabulary: number;
  /** Distinct users and distinct items rated. */
  users: number;
  items: number;
}

/**
 * Reads a ratings CSV (data/csv-text.ts splits it): user and item ids are integers ≥ 0 (item
 * ids below `items` when given), ratings whole stars ≥ 0. Errors name the line and column.
 */
export function readRatingsCsv(text: string, options: { file?: string; items?: number } = {}): RatingsFile {
  const file = options.file ?? 'ratings';
  const records = parseCsv(text, file);
  const header = records.shift();
  if (!header) throw csvError(file, 1, undefined, 'a header row', 'an empty file', `the file is empty; a ratings file starts with the header ${RATINGS_COLUMNS.join(',')}`);
  const names = header.fields.map((f) => f.trim());
  const [userColumn, itemColumn, ratingColumn] = RATINGS_COLUMNS.map((column) => {
    const index = names.indexOf(column);
    if (index < 0) {
      throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `${file} has no column "${column}": a ratings file has the columns ${RATINGS_COLUMNS.join(', ')} (one row per rating); its columns are ${names.map((n) => `"${n}"`).join(', ')}`, {
        details: { field: column, expected: RATINGS_COLUMNS.join(','), received: names.join(',') },
      });
    }
    return index;
  }) as [number, number, number];
  if (records.length === 0) throw csvError(file, header.line + 1, undefined, 'at least one rating', 'no rows', 'the file has a header but no ratings');
  const itemLimit = options.items ?? MAX_ID;
  const x = new Float32Array(records.length * 2);
  const y = new Int32Array(records.length);
  const integer = (record: (typeof records)[number], column: number, below: number, expected: string): number => {
    const raw = record.fields[column]!.trim();
    const value = raw === '' ? NaN : Number(raw);
    if (!Number.isInteger(value) || value < 0 || value >= below) throw csvError(file, record.line, names[column], expected, raw, `expected ${expected}, found ${JSON.stringify(raw)}`);
    return value;
  };
  records.forEach((record, row) => {
    if (record.fields.length !== names.length) {
      throw csvError(file, record.line, undefined, `${names.length} fields`, record.fields.length, `expected ${names.length} fields as in the header, found ${record.fields.length}`);
    }
    x[2 * row] = integer(record, userColumn, MAX_ID, `a user id (an integer in [0, ${MAX_ID}))`);
    x[2 * row + 1] = integer(record, itemColumn, itemLimit, `an item id (an integer in [0, ${itemLimit}))`);
    y[row] = integer(record, ratingColumn, MAX_ID, 'a rating in whole stars (an integer >= 0)');
  });
  const users = new Set<number>();
  const items = new Set<number>();
  let maxItem = 0;
  let maxRating = 0;
  for (let row = 0; row < y.length; row++) {
    users.add(x[2 * row]!);
    items.add(x[2 * row + 1]!);
    maxItem = Math.max(maxItem, x[2 * row + 1]!);
    maxRating = Math.max(maxRating, y[row]!);
  }
  return { x, y, inputShape: [2], classes: Math.max(2, maxRating + 1), vocabulary: options.items ?? maxItem + 1, users: users.size, items: items.size };
}

/** Ratings as the CSV readRatingsCsv reads: a header, then one `user,item,rating` line per example. */
export function formatRatingsCsv(data: Pick<Dataset, 'x' | 'y'>): string {
  const lines = [RATINGS_COLUMNS.join(',')];
  for (let row = 0; row < data.y.length; row++) lines.push(`${data.x[2 * row]},${data.x[2 * row + 1]},${data.y[row]}`);
  return `${lines.join('\n')}\n`;
}
