// Planning's objectives and the default grid intensity, apart from the schemas that use
// them so that the CLI can name them in --help without loading zod.

export const PLAN_OBJECTIVES = ['max-compute', 'min-cost', 'min-carbon', 'min-time'] as const;
export type PlanObjective = (typeof PLAN_OBJECTIVES)[number];

/** World-average grid intensity (gCO₂/kWh), used when a member does not state its own. */
export const DEFAULT_CARBON_INTENSITY = 475;
