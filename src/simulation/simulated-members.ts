// The task handlers of simulated members: the Node member's own stack (TF.js training with
// FedProx and DP-SGD, client-level DP noise, SecAgg+), built on demand from the population
// and kept for the members recently asked — secure aggregation's stages of one round must
// reach the same member state — up to a bound, so memory follows the members active in a
// round, not the population. Handlers in one thread share one TF.js model per model spec.

import type { LocalModel } from '../model/local-model.js';
import type { TaskHandler } from '../node/member.js';
import { withSecureAggregation } from '../node/secagg-handler.js';
import { createTfjsHandler } from '../node/tfjs-handler.js';
import { nodePrimitives } from '../privacy/secagg/primitives-node.js';
import { DEFAULT_KEPT_MEMBERS } from './options.js';
import type { Population } from './population.js';


/**
 * `maxKept` members' handlers (and data) are kept between tasks: secure aggregation's stages
 * must reach the same member state, so at least a round's members. Without it nothing needs
 * keeping (0: a handler is built for each task and dropped).
 */
export class SimulatedMembers {
  private readonly kept = new Map<number, TaskHandler>();
  private readonly models = new Map<string, LocalModel>();
  /** Handlers built so far (a member rebuilt after eviction counts again). */
  built = 0;

  constructor(
    private readonly population: Population,
    private readonly maxKept = DEFAULT_KEPT_MEMBERS,
  ) {}

  /** The handler of member `index`, enrolled as `memberId`. */
  handler(index: number, memberId: string): TaskHandler {
    const hit = this.kept.get(index);
    if (hit) {
      // Most recently used last: a Map keeps insertion order.
      this.kept.delete(index);
      this.kept.set(index, hit);
      return hit;
    }
    const data = this.population.data(index);
    const trainer = createTfjsHandler(data, { memberSeed: index, models: this.models });
    const handler = withSecureAggregation(trainer, { memberId: () => memberId, primitives: nodePrimitives });
    this.built++;
    if (this.maxKept === 0) return handler;
    this.kept.set(index, handler);
    while (this.kept.size > this.maxKept) this.kept.delete(this.kept.keys().next().value!);
    return handler;
  }

  get keptCount(): number {
    return this.kept.size;
  }
}
