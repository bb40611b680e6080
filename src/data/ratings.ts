// Demo ratings for recommendation: no user–item rating data ships in an npm package this
// project can use (MovieLens and similar are downloads), so the demo generates one, by a
// stated, seeded construction, the way such benchmarks are usually simulated:
//   - `items` items with latent tastes q_i ~ N(0, I_k/k) and popularity ~ Zipf(1.1);
//   - `users` users in `regions` regions (a member is a country's service: it holds the
//     users of its regions); a user's taste p_u = r_region + N(0, I_k/k)·0.7, so regions differ;
//   - biases b_u ~ N(0, 0.3²), b_i ~ N(0, 0.5²); each user rates 20–60 items drawn by popularity;
//   - rating = clip(round(3.5 + b_u + b_i + 2·p_u·q_i + N(0, 0.5²)), 1, 5) stars.
// Examples are (user, item) pairs as two float32 values; y is the rating in stars.

import { gaussian, seededRandom } from '../core/random.js';
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
