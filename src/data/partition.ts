// Splits one labelled pool among simulated members, reproducibly from a seed, in the
// three ways the federated-learning literature uses to model how data is spread:
// - iid: uniform random shares (the easy case);
// - dirichlet: label skew, each class spread over members in Dir(α) proportions
//   (Hsu, Qi & Brown 2019, arXiv 1909.06335; per-class form as in Wang et al. 2020,
//   FedMA, arXiv 2002.06440); small α gives each member few dominant labels;
// - shards: the pathological non-IID split of McMahan et al. 2017 (arXiv 1602.05629):
//   sort by label, cut into members × shardsPerMember shards, deal shards out.
// Every function returns, per member, ascending indices into the input; members' index
// sets are disjoint and together cover every index.

import { dirichlet as sampleDirichlet, seededRandom, shuffle, type Random } from '../core/random.js';
import { ConcordError, ErrorCode } from '../protocol/errors.js';

function invalid(field: string, expected: string, received: unknown, message: string): ConcordError {
  return new ConcordError(ErrorCode.INVALID_ARGUMENT, message, { details: { field, expected, received } });
}

function assertMembers(members: number, n: number, perMember = 1): void {
  if (!Number.isInteger(members) || members < 1) throw invalid('members', 'an integer >= 1', members, `members must be an integer >= 1, received ${members}`);
  if (members * perMember > n) {
    throw invalid('members', `at most ${Math.floor(n / perMember)}`, members, `${n} examples cannot give ${members} members ${perMember} example(s) each`);
  }
}

const ascending = (a: number, b: number): number => a - b;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Indices of each class, ascending. */
function byClass(labels: ArrayLike<number>): Map<number, number[]> {
  const classes = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    let list = classes.get(label);
    if (!list) classes.set(label, (list = []));
    list.push(i);
  }
  return new Map([...classes.entries()].sort((a, b) => a[0] - b[0]));
}

/** Uniform random shares whose sizes differ by at most one. */
export function iid(n: number, members: number, seed: number): number[][] {
  assertMembers(members, n);
  const order = shuffle(range(n), seededRandom(seed, 0x11d));
  return range(members).map((m) => order.slice(Math.floor((m * n) / members), Math.floor(((m + 1) * n) / members)).sort(ascending));
}

export interface DirichletOptions {
  /** Every member must end up with at least this many examples; draws are repeated until so. Default 10. */
  minSize?: number;
  /** Give up (with an error) after this many draws. Default 1000. */
  maxAttempts?: number;
}

/** Label skew: for each class, proportions p ~ Dir(α, …, α) over members decide who gets how many of its examples. */
export function dirichlet(labels: ArrayLike<number>, members: number, alpha: number, seed: number, options: DirichletOptions = {}): number[][] {
  const minSize = options.minSize ?? 10;
  const maxAttempts = options.maxAttempts ?? 1000;
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw invalid('alpha', 'a finite number > 0', alpha, `alpha must be a finite number > 0, received ${alpha}`);
  if (!Number.isInteger(minSize) || minSize < 0) throw invalid('minSize', 'an integer >= 0', minSize, `minSize must be an integer >= 0, received ${minSize}`);
  assertMembers(members, labels.length, Math.max(1, minSize));
  const classes = byClass(labels);
  const random = seededRandom(seed, 0xd1c);
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const parts = dirichletDraw(classes, members, alpha, random);
    if (Math.min(...parts.map((p) => p.length)) >= minSize) return parts.map((p) => p.sort(ascending));
  }
  throw invalid(
    'alpha',
    `a larger alpha, fewer members or a smaller minSize`,
    alpha,
    `no Dirichlet(alpha=${alpha}) draw in ${maxAttempts} attempts gave each of ${members} members at least ${minSize} examples`,
  );
}

function dirichletDraw(classes: Map<number, number[]>, members: number, alpha: number, random: Random): number[][] {
  const parts: number[][] = range(members).map(() => []);
  const concentration = new Array<number>(members).fill(alpha);
  for (const indices of classes.values()) {
    const order = shuffle([...indices], random);
    const p = sampleDirichlet(concentration, random);
    let cumulative = 0;
    let start = 0;
    for (let m = 0; m < members; m++) {
      cumulative += p[m]!;
      const end = m === members - 1 ? order.length : Math.min(order.length, Math.round(cumulative * order.length));
      for (let i = start; i < end; i++) parts[m]!.push(order[i]!);
      start = Math.max(start, end);
    }
  }
  return parts;
}

/** McMahan et al.'s pathological split: each member gets `shardsPerMember` label-sorted shards. */
export function shards(labels: ArrayLike<number>, members: number, shardsPerMember = 2, seed = 0): number[][] {
  if (!Number.isInteger(shardsPerMember) || shardsPerMember < 1) {
    throw invalid('shards', 'an integer >= 1', shardsPerMember, `shards per member must be an integer >= 1, received ${shardsPerMember}`);
  }
  assertMembers(members, labels.length, shardsPerMember);
  // Stable sort by label keeps the result independent of the sort implementation.
  const sorted = range(labels.length).sort((a, b) => labels[a]! - labels[b]! || a - b);
  const count = members * shardsPerMember;
  const cut = (s: number): number => Math.floor((s * sorted.length) / count);
  const dealt = shuffle(range(count), seededRandom(seed, 0x5aa));
  return range(members).map((m) => dealt.slice(m * shardsPerMember, (m + 1) * shardsPerMember).flatMap((s) => sorted.slice(cut(s), cut(s + 1))).sort(ascending));
}

/**
 * A member's own split of its share into training and holdout examples; `fraction` of them
 * (rounded) are held out. `stream` gives members sharing one seed independent draws.
 */
export function splitHoldout(indices: readonly number[], fraction: number, seed: number, stream = 0): { train: number[]; holdout: number[] } {
  if (!(fraction >= 0 && fraction < 1)) throw invalid('holdout', 'a fraction in [0, 1)', fraction, `holdout must be a fraction in [0, 1), received ${fraction}`);
  const order = shuffle([...indices], seededRandom(seed, 0x401d, stream));
  const k = Math.round(fraction * order.length);
  return { holdout: order.slice(0, k).sort(ascending), train: order.slice(k).sort(ascending) };
}

/**
 * `count` indices drawn with each class represented in proportion to its size (largest
 * remainder rounding, so the total is exact), and the rest.
 */
export function stratifiedSample(labels: ArrayLike<number>, count: number, seed: number): { selected: number[]; rest: number[] } {
  const n = labels.length;
  if (!Number.isInteger(count) || count < 0 || count > n) throw invalid('test', `an integer in [0, ${n}]`, count, `cannot draw ${count} of ${n} examples`);
  const classes = [...byClass(labels).values()];
  const exact = classes.map((c) => (count * c.length) / n);
  const quota = exact.map(Math.floor);
  let missing = count - quota.reduce((s, q) => s + q, 0);
  const byRemainder = range(classes.length).sort((a, b) => exact[b]! - quota[b]! - (exact[a]! - quota[a]!) || a - b);
  for (const c of byRemainder) {
    if (missing-- <= 0) break;
    quota[c] = quota[c]! + 1;
  }
  const random = seededRandom(seed, 0x7e57);
  const selected: number[] = [];
  const rest: number[] = [];
  classes.forEach((indices, c) => {
    const order = shuffle([...indices], random);
    selected.push(...order.slice(0, quota[c]));
    rest.push(...order.slice(quota[c]));
  });
  return { selected: selected.sort(ascending), rest: rest.sort(ascending) };
}
