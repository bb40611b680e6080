// Decides, by index, which examples of a source form the global test set, which member
// owns which of the rest, and how each member splits its share into train and holdout.
// Every process computes the same plan from the same options, so members can load their
// own share independently and the coordinator's test set never overlaps any of them.

import { dirichlet, iid, shards, splitHoldout, stratifiedSample } from './partition.js';

export type PartitionName = 'iid' | 'dirichlet' | 'shards' | 'source';

export interface SplitOptions {
  /** Examples held out from every member as the global test set. Default 0. */
  test?: number;
  /** Number of members sharing the rest. Default 1 (one member owns it all). */
  members?: number;
  /** How the rest is spread over members. Default 'iid'. */
  partition?: PartitionName;
  /** Dirichlet concentration (partition 'dirichlet'). Default 0.5. */
  alpha?: number;
  /** Shards per member (partition 'shards'). Default 2. */
  shardsPerMember?: number;
  /** Minimum examples per member (partition 'dirichlet'). Default 10. */
  minSize?: number;
  /** Seed of the partition and the holdout splits. Default 0. */
  seed?: number;
  /** Fraction of each member's share kept as its holdout. Default 0.2. */
  holdout?: number;
}

export interface SplitPlan {
  test: number[];
  members: { train: number[]; holdout: number[] }[];
}

/**
 * The test set uses a fixed seed on purpose: it must be the same for the coordinator and for
 * members whatever partition seed they were started with, or a test digit could be trained on.
 */
export const TEST_SET_SEED = 0;

/** `groups` (source ids per example) are needed by partition 'source' only: member m owns the groups g with g mod members = m. */
export function planSplits(labels: ArrayLike<number>, options: SplitOptions = {}, groups?: ArrayLike<number>): SplitPlan {
  const members = options.members ?? 1;
  const seed = options.seed ?? 0;
  const { selected: test, rest } = stratifiedSample(labels, options.test ?? 0, TEST_SET_SEED);
  const restLabels = rest.map((i) => labels[i]!);
  let parts: number[][];
  switch (options.partition ?? 'iid') {
    case 'iid':
      parts = iid(rest.length, members, seed);
      break;
    case 'dirichlet':
      parts = dirichlet(restLabels, members, options.alpha ?? 0.5, seed, { minSize: options.minSize ?? 10 });
      break;
    case 'shards':
      parts = shards(restLabels, members, options.shardsPerMember ?? 2, seed);
      break;
    case 'source': {
      if (!groups) throw new Error('partition source needs the source of every example');
      parts = Array.from({ length: members }, () => [] as number[]);
      rest.forEach((index, i) => parts[groups[index]! % members]!.push(i));
      break;
    }
  }
  return {
    test,
    members: parts.map((part, m) => splitHoldout(part.map((i) => rest[i]!), options.holdout ?? 0.2, seed, m)),
  };
}

/** The centralized baseline's training set: exactly the union of the members' training splits, ascending. */
export function pooledTrainIndices(plan: SplitPlan): number[] {
  return plan.members.flatMap((m) => m.train).sort((a, b) => a - b);
}
