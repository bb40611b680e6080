// The extensions a coordinator is composed with unless told otherwise: every protection and
// stage a run configuration can ask for. Order matters where they wrap the strategy: update
// validation screens updates inside differential privacy, which must be outermost.

import { type HarmonisationOptions, harmonisationExtension } from './harmonisation.js';
import { type HierarchicalAggregationOptions, hierarchicalAggregationExtension, openMaster } from './hierarchical-round.js';
import type { RunRecord } from '../storage/storage.js';
import { resourcePlanExtension } from './plan-policy.js';
import { differentialPrivacyExtension } from './privacy-policy.js';
import type { RunExtension } from './run-compiler.js';
import { secureAggregationExtension } from './secure-round.js';
import { updateValidationExtension } from './validation-policy.js';

export function standardRunExtensions(options: { secureAggregationLog?: (message: string) => void; harmonisation?: HarmonisationOptions; hierarchical?: HierarchicalAggregationOptions } = {}): RunExtension[] {
  return [
    updateValidationExtension,
    differentialPrivacyExtension,
    secureAggregationExtension({
      ...(options.secureAggregationLog ? { log: options.secureAggregationLog } : {}),
      ...(options.hierarchical ? { shards: (run: RunRecord) => openMaster(options.hierarchical!, run) } : {}),
    }),
    resourcePlanExtension,
    // Needs the coordinator's analytics service; without one, runs asking for it are refused.
    ...(options.harmonisation ? [harmonisationExtension(options.harmonisation)] : []),
    // Needs the NATS server the shard aggregators listen on (--nats).
    ...(options.hierarchical ? [hierarchicalAggregationExtension(options.hierarchical)] : []),
  ];
}
