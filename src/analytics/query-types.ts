// The names of the federated-analytics query types, on their own so that the agreement can
// allow or forbid them without importing the analytics engine.

export const QUERY_TYPES = ['count', 'sum', 'mean', 'variance', 'histogram', 'quantiles', 'minmax', 'covariance', 'correlation', 'contingency', 'groupby', 'survival', 'summary'] as const;
export type QueryType = (typeof QUERY_TYPES)[number];
