// The communication graph of SecAgg+ (Bell et al. 2020, "Secure Single-Server Aggregation
// with (Poly)Logarithmic Overhead", arXiv 2005.05349): instead of every member sharing
// secrets and pairwise masks with all N − 1 others (Bonawitz et al. 2017), each shares with
// its k neighbours in a k-regular graph, so a member's cost grows with k = O(log N), not N.
// Bell et al. analyse a randomly chosen sparse graph; like Flower's SecAgg+ workflow we use
// a Harary graph H(k, N) — members on a ring, each joined to the k/2 nearest on either side —
// under a uniformly random relabelling, which has the same neighbourhood statistics for a
// fixed set of members and is exactly k-regular. The relabelling comes from the public round
// seed through AES-CTR (prg.ts), so every party computes the same graph from the setup message.
//
// Defaults, from the member count N:
//   k = min(N − 1, ⌈2·log2 N⌉ rounded up to even)   N = 10 → 8, 50 → 12, 200 → 16
//   t = ⌊(k + 1)/2⌋ + 1                              k = 8 → 5, 12 → 7, 16 → 9
// A member's secrets are shared among its k neighbours and itself (k + 1 holders), and any t
// of them reconstruct a secret, so each neighbourhood tolerates ⌊k/2⌋ holders dropping out
// (8 of 17 at N = 200), while t is a strict majority of the holders. With k = N − 1 the graph
// is complete and this is the original SecAgg. k = O(log N) follows Bell et al.'s analysis;
// their exact constant depends on the tolerated fraction of dropouts and of corrupt members
// and on the security parameter — ⌈2·log2 N⌉ is a practical default, not their bound, and
// deployments that assume many colluding members should raise k.

import { ConcordError, ErrorCode } from '../../protocol/errors.js';
import type { SecAggPrimitives } from './primitives.js';
import { seededIntegers } from './prg.js';

const GRAPH_INFO = 'concord-secagg-graph';

/** k = min(N − 1, ⌈2·log2 N⌉ rounded up to even). */
export function defaultNeighbourCount(members: number): number {
  if (members <= 1) return 0;
  const k = Math.ceil(2 * Math.log2(members));
  return Math.min(members - 1, k + (k % 2));
}

/** t = ⌊(k + 1)/2⌋ + 1: a strict majority of the k + 1 holders of each secret. */
export function defaultThreshold(neighbours: number): number {
  return Math.floor((neighbours + 1) / 2) + 1;
}

/**
 * Adjacency lists (member indices, ascending) of a k-regular graph on `members` vertices,
 * the same for everyone with the same round seed.
 */
export function neighbourGraph(primitives: SecAggPrimitives, members: number, neighbours: number, roundSeed: Uint8Array): number[][] {
  const n = members;
  const k = neighbours;
  if (!Number.isInteger(n) || n < 2) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `members is ${n}; a neighbour graph needs at least 2`, { details: { field: 'members', expected: '>= 2', received: n } });
  }
  if (!Number.isInteger(k) || k < 1 || k > n - 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `neighbours is ${k}; with ${n} members it must be an integer in [1, ${n - 1}]`, {
      details: { field: 'neighbours', expected: `[1, ${n - 1}]`, received: k },
    });
  }
  if (k % 2 === 1 && n % 2 === 1) {
    throw new ConcordError(ErrorCode.INVALID_ARGUMENT, `neighbours is ${k} and members ${n}: no graph gives each of an odd number of members an odd number of neighbours; use an even k`, {
      details: { field: 'neighbours', expected: 'even when members is odd', received: k },
    });
  }
  // ring[position] = member index; a uniformly random permutation by Fisher–Yates.
  const ring = Array.from({ length: n }, (_, i) => i);
  const draw = seededIntegers(primitives, roundSeed, new Uint8Array(0), GRAPH_INFO);
  for (let i = n - 1; i > 0; i--) {
    const j = draw(i + 1);
    [ring[i], ring[j]] = [ring[j]!, ring[i]!];
  }
  const adjacency = Array.from({ length: n }, () => new Set<number>());
  const join = (a: number, b: number) => {
    adjacency[a]!.add(b);
    adjacency[b]!.add(a);
  };
  for (let p = 0; p < n; p++) {
    for (let d = 1; d <= k >> 1; d++) join(ring[p]!, ring[(p + d) % n]!);
    // Odd k (then n is even): also the member diametrically opposite on the ring.
    if (k % 2 === 1) join(ring[p]!, ring[(p + n / 2) % n]!);
  }
  return adjacency.map((set) => [...set].sort((a, b) => a - b));
}
