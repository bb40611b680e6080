import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConcordError, ErrorCode } from '../../protocol/errors.js';
import { defaultNeighbourCount, defaultThreshold, neighbourGraph } from './graph.js';
import { nodePrimitives as node } from './primitives-node.js';
import { noblePrimitives as noble } from './primitives-noble.js';

const seed = (b: number) => new Uint8Array(32).fill(b);

function assertRegular(graph: number[][], k: number): void {
  graph.forEach((list, u) => {
    assert.equal(list.length, k, `member ${u} has ${list.length} neighbours`);
    assert.ok(!list.includes(u), `member ${u} is its own neighbour`);
    for (const v of list) assert.ok(graph[v]!.includes(u), `${u}→${v} is not symmetric`);
  });
  // Connected: a breadth-first search from 0 reaches everyone.
  const seen = new Set([0]);
  const queue = [0];
  while (queue.length) {
    for (const v of graph[queue.shift()!]!) {
      if (seen.has(v)) continue;
      seen.add(v);
      queue.push(v);
    }
  }
  assert.equal(seen.size, graph.length);
}

test('defaults: k = min(N − 1, ⌈2·log2 N⌉ up to even), t = ⌊(k + 1)/2⌋ + 1', () => {
  // N = 10: 2·log2 10 = 6.64 → 7 → 8; N = 50: 11.29 → 12; N = 200: 15.29 → 16; N = 3, 5: complete.
  assert.deepEqual([2, 3, 5, 10, 50, 200, 1000].map(defaultNeighbourCount), [1, 2, 4, 8, 12, 16, 20]);
  assert.deepEqual([1, 2, 4, 8, 12, 16].map(defaultThreshold), [2, 2, 3, 5, 7, 9]);
});

test('neighbourGraph: k-regular, symmetric, connected, for even and odd k', () => {
  for (const [n, k] of [[10, 8], [50, 12], [200, 16], [12, 3], [6, 5], [7, 6], [2, 1]] as const) assertRegular(neighbourGraph(node, n, k, seed(n)), k);
});

test('neighbourGraph: the same for everyone with the same seed, different for another', () => {
  assert.deepEqual(neighbourGraph(node, 50, 12, seed(1)), neighbourGraph(node, 50, 12, seed(1)));
  assert.notDeepEqual(neighbourGraph(node, 50, 12, seed(1)), neighbourGraph(node, 50, 12, seed(2)));
  // A browser member (noble) computes the very graph the coordinator (node) does.
  for (const [n, k] of [[50, 12], [200, 16], [7, 6]] as const) assert.deepEqual(neighbourGraph(noble, n, k, seed(n)), neighbourGraph(node, n, k, seed(n)));
  // The relabelling is not the identity: member 0 is not always next to 1 and 49.
  const rings = [1, 2, 3, 4, 5].map((b) => neighbourGraph(node, 50, 2, seed(b))[0]);
  assert.ok(rings.some((r) => r!.join() !== '1,49'));
});

test('neighbourGraph: impossible sizes are refused', () => {
  assert.throws(() => neighbourGraph(node, 7, 3, seed(0)), (e: ConcordError) => e.code === ErrorCode.INVALID_ARGUMENT && e.details.field === 'neighbours' && /even/.test(e.message));
  assert.throws(() => neighbourGraph(node, 5, 5, seed(0)), (e: ConcordError) => e.details.field === 'neighbours');
  assert.throws(() => neighbourGraph(node, 1, 1, seed(0)), (e: ConcordError) => e.details.field === 'members');
});
